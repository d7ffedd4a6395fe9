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
