//! The request path to a plain-http target: HTTP/1.1 keep-alive connections of our own
//! (`h1.rs`), kept in a pool of idle ones per lane, with none of reqwest's layers (its
//! redirect layer re-parsed every request's URL; its pool, proxy and connector layers cloned
//! and locked per request) and none of hyper's client dispatch. An https target, and any
//! redirect, go through reqwest (`request.rs`).

use std::sync::Mutex;
use std::time::Duration;

use tokio::net::TcpStream;

use super::h1::{self, Connection, Head};
use super::lanes;

/// Idle-connection slots: one off the lanes and one per lane, lanes beyond wrapping around
/// (sharing a slot is correct, only slower).
const SLOTS: usize = 65;

/// Why an exchange got no response.
pub enum SendError {
    /// The connection could not be made (refused, unreachable, timed out).
    Connect(String),
    /// The request or the response head failed on an open connection.
    Exchange(String),
}

/// The idle connections to one `host:port`, kept per lane (`lanes.rs`): a connection's I/O
/// runs on the lane that opened it, so only that lane's requests use it.
pub struct Pool {
    address: String,
    /// Slot 0 off the lanes (the preflight); slot 1 + i for lane i.
    idle: Vec<Mutex<Vec<Connection>>>,
    max_idle: usize,
    connect_timeout: Duration,
}

impl Pool {
    pub fn new(address: String, max_idle: usize, connect_timeout: Duration) -> Pool {
        Pool {
            address,
            idle: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            max_idle: max_idle.max(1),
            connect_timeout,
        }
    }

    /// Sends `request` on an idle connection, or a new one, and reads the answer's head.
    /// A reused connection the server had closed (nothing of an answer came back) is retried
    /// once on a new connection; any other failure is the request's.
    pub async fn send(
        &self,
        request: &[u8],
        head_only: bool,
    ) -> Result<(Connection, Head), SendError> {
        if let Some(mut conn) = self.checkout() {
            match conn.exchange(request, head_only).await {
                Ok(head) => return Ok((conn, head)),
                Err(h1::Error::Stale) => {}
                Err(e) => return Err(SendError::Exchange(e.to_string())),
            }
        }
        let mut conn = self.connect().await?;
        match conn.exchange(request, head_only).await {
            Ok(head) => Ok((conn, head)),
            Err(e) => Err(SendError::Exchange(e.to_string())),
        }
    }

    /// Drops every idle connection: their I/O belongs to the lanes that opened them, and a
    /// load's lanes end with it (a capacity search starts new ones for each step).
    pub fn forget_idle(&self) {
        for slot in &self.idle {
            if let Ok(mut idle) = slot.lock() {
                idle.clear();
            }
        }
    }

    /// Gives back a connection whose answer was read to its end and that can carry another.
    pub fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.slot().lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }

    fn checkout(&self) -> Option<Connection> {
        self.slot().lock().ok()?.pop()
    }

    /// The calling lane's idle connections.
    fn slot(&self) -> &Mutex<Vec<Connection>> {
        let index = lanes::current().map_or(0, |lane| 1 + lane % (SLOTS - 1));
        &self.idle[index]
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let connecting = TcpStream::connect(&self.address);
        let stream = match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(SendError::Connect(format!(
                    "connecting to {}: {e}",
                    self.address
                )));
            }
            Err(_) => {
                return Err(SendError::Connect(format!(
                    "connecting to {}: timed out after {:?}",
                    self.address, self.connect_timeout
                )));
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(Connection::new(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A server that answers one request a connection and then closes it without saying so
    /// (uvicorn's keep-alive timeout, 5 s by default, does this to an idle connection).
    async fn one_answer_a_connection() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                if !h1::tests::read_request_head(&mut socket).await {
                    continue;
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            }
        });
        address
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_tried_again_on_a_new_one() {
        let pool = Pool::new(one_answer_a_connection().await, 4, Duration::from_secs(2));
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        for round in 0..3 {
            let (mut conn, head) = match pool.send(request, false).await {
                Ok(sent) => sent,
                Err(SendError::Connect(e) | SendError::Exchange(e)) => {
                    panic!("request {round} failed: {e}")
                }
            };
            assert_eq!(head.status, 200);
            let mut body = Vec::new();
            let reusable = conn
                .read_body(&head, |chunk| {
                    body.extend_from_slice(chunk);
                    Ok(())
                })
                .await
                .expect("the body");
            assert_eq!((body.as_slice(), reusable), (&b"ok"[..], true));
            // Back in the pool as the server closes it: the next request finds it stale.
            pool.give_back(conn);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
