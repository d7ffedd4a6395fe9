//! The request path to a plain-http target: HTTP/1.1 keep-alive connections of our own
//! (`h1.rs`), kept in a pool of idle ones per lane, with none of reqwest's layers (its
//! redirect layer re-parsed every request's URL; its pool, proxy and connector layers cloned
//! and locked per request) and none of hyper's client dispatch. An https target, and any
//! redirect, go through reqwest (`request.rs`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

use super::h1::{self, Connection, Head};
use super::lanes;

/// Idle-connection slots: one off the lanes and one per lane, lanes beyond wrapping around
/// (sharing a slot is correct, only slower).
const SLOTS: usize = 65;

/// A request written and its answer's head read.
pub struct Sent {
    /// The connection, to read the body from.
    pub conn: Connection,
    /// The answer's head.
    pub head: Head,
}

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
    /// Whether this target has closed a connection without saying so where the client had
    /// to find it (a check found it closed, or an exchange found it `Stale`). From then on
    /// every reuse is checked, however soon after its answer: a server that caps its
    /// keep-alive requests without a `connection: close` costs at most the one request that
    /// found it out (sent again if idempotent, failed otherwise), not one a connection.
    closes_unannounced: AtomicBool,
}

impl Pool {
    pub fn new(address: String, max_idle: usize, connect_timeout: Duration) -> Pool {
        Pool {
            address,
            idle: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            max_idle: max_idle.max(1),
            connect_timeout,
            closes_unannounced: AtomicBool::new(false),
        }
    }

    /// Sends `request` on an idle connection, or a new one, and reads the answer's head.
    /// Idle connections the server closed are dropped before anything is written on them.
    /// A reused connection that closes after the request was written, before any answer,
    /// leaves unknown whether the server read it: an `idempotent` request goes once more on
    /// a new connection (and `resent` says so), any other fails (RFC 9110 §9.2.2: a POST is never
    /// sent twice behind the user's back).
    /// `resent` is set before the second sending, so a request sent twice says so even when
    /// that second sending fails.
    pub async fn send(
        &self,
        request: &[u8],
        head_only: bool,
        idempotent: bool,
        resent: &mut bool,
    ) -> Result<Sent, SendError> {
        if let Some(mut conn) = self.checkout() {
            match conn.exchange(request, head_only).await {
                Ok(head) => {
                    return Ok(Sent { conn, head });
                }
                Err(h1::Error::Stale) if idempotent => {
                    self.closes_unannounced.store(true, Ordering::Relaxed);
                    *resent = true;
                }
                Err(h1::Error::Stale) => {
                    self.closes_unannounced.store(true, Ordering::Relaxed);
                    return Err(SendError::Exchange(
                        "the server closed the reused connection after the request was written and before any answer; it may have been applied, so it was not sent again".into(),
                    ));
                }
                Err(e) => return Err(SendError::Exchange(e.to_string())),
            }
        }
        let mut conn = self.connect().await?;
        match conn.exchange(request, head_only).await {
            Ok(head) => Ok(Sent { conn, head }),
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

    /// An idle connection still open; those the server closed while idle are dropped.
    fn checkout(&self) -> Option<Connection> {
        let mut idle = self.slot().lock().ok()?;
        while let Some(conn) = idle.pop() {
            if !self.worth_checking(&conn) || !conn.closed_by_peer() {
                return Some(conn);
            }
            self.closes_unannounced.store(true, Ordering::Relaxed);
        }
        None
    }

    /// Whether an idle connection is checked for a close before a request is written on it:
    /// when it may have been closed ([`Connection::may_be_closed`]), or always once this
    /// target has closed one without saying so.
    fn worth_checking(&self, conn: &Connection) -> bool {
        self.closes_unannounced.load(Ordering::Relaxed) || conn.may_be_closed()
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
    use super::super::h1::CHECK_AFTER_IDLE;
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// A server that answers one request a connection and then closes it without saying so
    /// (uvicorn's keep-alive timeout, 5 s by default, does this to an idle connection).
    async fn one_answer_a_connection() -> String {
        answers_a_connection(1).await
    }

    /// A server that answers `n` requests on each connection, then closes it without saying
    /// so (no `connection: close`), as a keep-alive limit or timeout does.
    async fn answers_a_connection(n: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    for _ in 0..n {
                        if !h1::tests::read_request_head(&mut socket).await {
                            return;
                        }
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_tried_again_on_a_new_one() {
        let pool = Pool::new(one_answer_a_connection().await, 4, Duration::from_secs(2));
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        for round in 0..3 {
            let Sent { mut conn, head, .. } =
                match pool.send(request, false, true, &mut false).await {
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

    /// A server that answers the first request of each connection, then reads the second
    /// and closes without answering (it may have applied it: the client cannot know), counting
    /// every request it read.
    async fn closes_after_reading_the_second()
    -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("address").to_string();
        let seen: std::sync::Arc<std::sync::atomic::AtomicUsize> = Default::default();
        let counted = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let counted = counted.clone();
                tokio::spawn(async move {
                    if !h1::tests::read_request_head(&mut socket).await {
                        return;
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                    if h1::tests::read_request_head(&mut socket).await {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        (address, seen)
    }

    /// One request on a fresh connection, its body read and the connection given back.
    async fn first(pool: &Pool, request: &[u8]) {
        let Ok(Sent { mut conn, head, .. }) = pool.send(request, false, true, &mut false).await
        else {
            panic!("the first request fails");
        };
        assert!(conn.read_body(&head, |_| Ok(())).await.expect("body"));
        pool.give_back(conn);
    }

    #[tokio::test]
    async fn a_post_is_never_sent_twice_and_a_get_is_sent_again_and_says_so() {
        use std::sync::atomic::Ordering;
        for (method, idempotent) in [("POST", false), ("GET", true)] {
            let (address, seen) = closes_after_reading_the_second().await;
            let pool = Pool::new(address, 4, Duration::from_secs(2));
            let request = format!("{method} / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n");
            first(&pool, request.as_bytes()).await;
            let mut resent = false;
            let second = pool
                .send(request.as_bytes(), false, idempotent, &mut resent)
                .await;
            match (idempotent, second) {
                (false, Err(SendError::Exchange(e))) => {
                    assert!(e.contains("not sent again"), "{e}");
                    // Read once by the server, never again by the client's choice.
                    assert_eq!(seen.load(Ordering::SeqCst), 2, "{method}");
                }
                (true, Ok(sent)) => {
                    assert!(resent, "the second sending is recorded");
                    assert_eq!(sent.head.status, 200);
                    // The server read it on the old connection and again on a new one.
                    assert_eq!(seen.load(Ordering::SeqCst), 3, "{method}");
                }
                (_, Ok(_)) => panic!("{method}: answered on a connection the server closed"),
                (_, Err(SendError::Connect(e) | SendError::Exchange(e))) => panic!("{method}: {e}"),
            }
        }
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_dropped_before_a_post_is_written() {
        let post = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
        // A server that answers and closes (a keep-alive timeout): wait for the close to
        // arrive, with a deadline, then the POST goes on a new connection, not the dead one
        // (written there, it would fail: a POST is not sent twice).
        let pool_closing = Pool::new(one_answer_a_connection().await, 4, Duration::from_secs(2));
        first(&pool_closing, post).await;
        until_the_server_closed(&pool_closing).await;
        a_post_goes_once_on_a_new_connection(&pool_closing, post).await;
    }

    /// Waits, with a deadline, until the pool's last idle connection is seen closed.
    async fn until_the_server_closed(pool: &Pool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let closed = pool.idle[0]
                .lock()
                .expect("lock")
                .last()
                .is_none_or(|c| c.closed_by_peer());
            if closed {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never closed"
            );
            tokio::task::yield_now().await;
        }
    }

    /// A POST sent on `pool` goes once, on a new connection (on the closed one it would fail).
    async fn a_post_goes_once_on_a_new_connection(pool: &Pool, post: &[u8]) {
        let mut resent = false;
        let sent = pool.send(post, false, false, &mut resent).await;
        assert!(
            sent.is_ok() && !resent,
            "the POST went once, on a new connection"
        );
    }

    /// A connection that carried two answers and then sat idle past the check's threshold is
    /// checked again: the server closed it after its second answer (a keep-alive limit), so
    /// the POST goes on a new connection, once, not onto the closed one (where it would fail).
    #[tokio::test]
    async fn a_connection_idle_past_the_threshold_is_checked_again() {
        let post = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
        let pool = Pool::new(answers_a_connection(2).await, 4, Duration::from_secs(2));
        first(&pool, post).await;
        first(&pool, post).await;
        until_the_server_closed(&pool).await;
        // Past the threshold, whatever the clock did while waiting for the close.
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(pool.idle[0].lock().expect("lock")[0].may_be_closed());
        a_post_goes_once_on_a_new_connection(&pool, post).await;
    }

    /// Reused at once after its second answer, a connection is not checked (the system call
    /// a request it would cost at zero wait); on its first reuse, and once idle, it is.
    #[tokio::test]
    async fn only_a_connection_that_may_have_closed_is_checked() {
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let pool = Pool::new(answers_a_connection(100).await, 4, Duration::from_secs(2));
        first(&pool, request).await;
        let checked = || pool.idle[0].lock().expect("lock")[0].may_be_closed();
        assert!(checked(), "its first reuse is checked");
        // Reused within the millisecond of its answer, it is not. Whether a round trip here
        // took less is up to the machine: some of 50 do, and every one of those is unchecked.
        let mut quick = 0;
        for _ in 0..50 {
            let before = std::time::Instant::now();
            first(&pool, request).await;
            let at_once = checked();
            if before.elapsed() < CHECK_AFTER_IDLE {
                quick += 1;
                assert!(
                    !at_once,
                    "reused at once after two answers or more: not checked"
                );
            }
        }
        assert!(quick > 0, "no round trip under a millisecond in 50");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(checked(), "idle past the threshold: checked");
    }

    /// A server that closes a connection after its second answer without saying so: the
    /// first time, reused at once, the connection is not checked and the GET finds the close
    /// (sent again, once); from then on the pool checks every reuse, however soon, so a POST
    /// on a connection closed the same way goes on a new one instead of failing (without the
    /// pool's memory it would be written on the closed connection and fail).
    #[tokio::test]
    async fn a_target_that_closed_one_connection_unannounced_has_every_reuse_checked() {
        let get = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        let post = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n";
        let pool = Pool::new(answers_a_connection(2).await, 4, Duration::from_secs(2));
        let reused_at_once = |pool: &Pool| {
            let mut idle = pool.idle[0].lock().expect("lock");
            idle.last_mut()
                .expect("the connection is kept")
                .answered_now();
        };
        first(&pool, get).await;
        first(&pool, get).await;
        until_the_server_closed(&pool).await;
        reused_at_once(&pool);
        let Ok(Sent { mut conn, head }) = pool.send(get, false, true, &mut false).await else {
            panic!("the GET is answered on a new connection");
        };
        // Not checked, the exchange found the close and sent the GET again (`resent`); on a
        // machine slow enough to let a millisecond pass, a check found it: either way the
        // pool has seen the target close a connection unannounced.
        assert!(conn.read_body(&head, |_| Ok(())).await.expect("body"));
        pool.give_back(conn);
        // The new connection's second answer, then its unannounced close.
        first(&pool, get).await;
        until_the_server_closed(&pool).await;
        reused_at_once(&pool);
        a_post_goes_once_on_a_new_connection(&pool, post).await;
    }
}
