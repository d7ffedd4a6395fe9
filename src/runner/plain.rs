//! The request path to a plain-http target: HTTP/1.1 keep-alive connections of hyper's own,
//! kept in a pool of idle ones, with none of reqwest's layers (its redirect layer re-parsed
//! every request's URL; its pool, proxy and connector layers cloned and locked per request).
//! An https target, and any redirect, go through reqwest (`request.rs`).

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::lanes;

/// Idle-connection slots: one off the lanes and one per lane, lanes beyond wrapping around
/// (sharing a slot is correct, only slower).
const SLOTS: usize = 65;

/// A connection of the pool.
type Connection = SendRequest<Full<Bytes>>;

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

    /// Sends the request `make` builds on an idle connection, or a new one (`make` is called
    /// again only for that retry). A reused
    /// connection the server had closed before the request went out is retried once on a new
    /// connection (the request never reached the server); any other failure is the request's.
    pub async fn send(
        &self,
        mut make: impl FnMut() -> Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Connection), SendError> {
        if let Some(mut conn) = self.checkout().await {
            match conn.send_request(make()).await {
                Ok(response) => return Ok((response, conn)),
                Err(e) if e.is_canceled() => {}
                Err(e) => return Err(SendError::Exchange(root_cause(&e))),
            }
        }
        let mut conn = self.connect().await?;
        match conn.send_request(make()).await {
            Ok(response) => Ok((response, conn)),
            Err(e) => Err(SendError::Exchange(root_cause(&e))),
        }
    }

    /// Gives a connection whose response was read to the end back to the pool.
    pub fn give_back(&self, conn: Connection) {
        if conn.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.slot().lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
    }

    async fn checkout(&self) -> Option<Connection> {
        loop {
            let mut conn = self.slot().lock().ok()?.pop()?;
            if !conn.is_closed() && conn.ready().await.is_ok() {
                return Some(conn);
            }
        }
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
        let (conn, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SendError::Connect(root_cause(&e)))?;
        // The connection's I/O runs as its own task; it ends when the connection closes or
        // its last handle is dropped.
        tokio::spawn(driver);
        Ok(conn)
    }
}

/// The innermost cause of an error: what actually went wrong ("connection reset by peer").
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source = e;
    while let Some(inner) = source.source() {
        source = inner;
    }
    source.to_string()
}
