//! HTTP/1.1 on one connection, as the load needs it: a request written whole, the response
//! head parsed with httparse, its body read by its framing (a length, chunks, or to the close)
//! in the task that sent it. No connection task and no channels between tasks: hyper's client
//! dispatch (a task per connection, a channel, a oneshot and three task wake-ups a request)
//! was about 15% of the load threads' CPU on `/health` (perf, 2026-11-30).

use std::fmt;
use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head read (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// Headers a response head may carry.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size or trailer line.
const MAX_LINE: usize = 8 * 1024;
/// The read buffer: a head, or this much of a body at a time.
const READ_SIZE: usize = 16 * 1024;
/// An idle connection reused sooner than this after its answer is not checked for a close
/// (see [`Connection::may_be_closed`]).
pub(super) const CHECK_AFTER_IDLE: Duration = Duration::from_millis(1);

/// Why an exchange on a connection failed.
#[derive(Debug)]
pub enum Error {
    /// A reused keep-alive connection the server had closed: nothing of the answer came back.
    /// Whether the server read the request cannot be known, so only an idempotent request
    /// goes again on a new connection (RFC 9110 §9.2.2; `plain.rs`).
    Stale,
    Io(io::Error),
    /// The answer is no HTTP/1.1 this client reads.
    Protocol(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Stale => f.write_str("the server closed the connection"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Protocol(msg) => f.write_str(msg),
        }
    }
}

/// A response head, as far as the exchange needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// A 3xx's `Location`: a redirect, whose next hop goes elsewhere (`request.rs`).
    pub redirect: Option<String>,
    framing: Framing,
    keep_alive: bool,
}

impl Head {
    /// Whether the connection can carry another request once this answer's body is read.
    pub fn reusable(&self) -> bool {
        self.keep_alive
    }
}

/// Peeks at the socket with a system call now (`recv` with `MSG_PEEK` on the non-blocking
/// socket), not tokio's cached readiness, which has not seen a close the reactor has not
/// polled yet: a connection the server closed while idle is found before a request is
/// written on it.
#[cfg(unix)]
fn peek_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: the fd is `stream`'s, open for this call; `ManuallyDrop` keeps the borrowed
    // std stream from closing it. tokio keeps it non-blocking, so `peek` never waits.
    let std_stream = std::mem::ManuallyDrop::new(unsafe {
        std::net::TcpStream::from_raw_fd(stream.as_raw_fd())
    });
    std_stream.peek(buf)
}

#[cfg(not(unix))]
fn peek_now(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    stream.try_read(buf)
}

/// How the body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// A HEAD request's answer, 204, 304: no body.
    Empty,
    Length(u64),
    Chunked,
    /// Neither length nor chunks: the body ends when the server closes.
    UntilClose,
}

/// Begins a request in `out`: its request line. Headers follow ([`header`]), then
/// [`finish_request`].
pub fn start_request(out: &mut Vec<u8>, method: &str, target: &str) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
}

/// One header line (name and value already checked, as `http`'s types are).
pub fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Ends the head with a `content-length` for a body (or for a method that carries one),
/// then the body.
pub fn finish_request(out: &mut Vec<u8>, method: &str, body: &[u8]) {
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// One keep-alive connection and what was read from it but not yet taken.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Requests it carried before the one under way.
    used: u32,
    /// When its last answer was read to the end, the connection left reusable.
    answered_at: Option<Instant>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            used: 0,
            answered_at: None,
        }
    }

    /// As if its last answer had just been read (tests of the check's timing).
    #[cfg(test)]
    pub fn answered_now(&mut self) {
        self.answered_at = Some(Instant::now());
    }

    /// Whether the server may have closed this idle connection unseen, so that it is worth
    /// the system call of [`closed_by_peer`](Self::closed_by_peer) before a request is
    /// written on it: on its first reuse (a server that closes each connection after one
    /// answer without saying so is found there), and once it has been idle for
    /// [`CHECK_AFTER_IDLE`] (a keep-alive timeout, a restart). A connection that already
    /// carried two answers and is reused within that time of the last is not checked: at
    /// zero wait the check was one system call in four a request (`strace -c`), 0.34 µs each
    /// here. A server that closes such a connection without saying so (a cap on keep-alive
    /// requests) is found by the exchange (`Stale`: no POST sent twice), and from then on its
    /// pool checks every reuse (`plain::Pool`).
    pub fn may_be_closed(&self) -> bool {
        self.used <= 1
            || self
                .answered_at
                .is_none_or(|at| at.elapsed() >= CHECK_AFTER_IDLE)
    }

    /// Whether the server closed this idle connection (or sent something unasked, which
    /// leaves it unusable): checked before a request is written on it, as Go's client
    /// watches its idle connections, so that a request is never written to a closed one
    /// when that could be known.
    pub fn closed_by_peer(&self) -> bool {
        let mut probe = [0u8; 1];
        match peek_now(&self.stream, &mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Ok(_) | Err(_) => true,
        }
    }

    /// Writes `request` and reads the answer's head (interim 1xx answers skipped).
    /// `head_only`: the request was a HEAD, its answer has no body whatever it says.
    pub async fn exchange(&mut self, request: &[u8], head_only: bool) -> Result<Head, Error> {
        // Nothing is left in the buffer: a connection is reused only when its last answer
        // was read to the end and nothing followed (`read_body`).
        let reused = self.used > 0;
        self.used += 1;
        // A write to a connection the server has closed fails with a reset, or succeeds and
        // the read finds the close: either way no byte of an answer came back.
        let stale = |e: io::Error| match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
                if reused =>
            {
                Error::Stale
            }
            _ => Error::Io(e),
        };
        self.stream.write_all(request).await.map_err(stale)?;
        let mut received_any = false;
        loop {
            if self.end > self.start {
                received_any = true;
                if let Some(head) = self.parse_head(head_only)? {
                    return Ok(head);
                }
                if self.end - self.start > MAX_HEAD {
                    return Err(Error::Protocol(format!(
                        "response head over {} KiB",
                        MAX_HEAD / 1024
                    )));
                }
            }
            let read = self.fill().await;
            match read {
                Ok(0) if reused && !received_any => return Err(Error::Stale),
                Ok(0) => {
                    return Err(Error::Protocol(
                        "connection closed before the response head".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) if !received_any => return Err(stale(e)),
                Err(e) => return Err(Error::Io(e)),
            }
        }
    }

    /// The head at the front of the buffer, taken from it; None while incomplete. An
    /// interim answer (100 Continue, 103 Early Hints) is taken and skipped.
    fn parse_head(&mut self, head_only: bool) -> Result<Option<Head>, Error> {
        loop {
            // Uninitialised header slots: zeroing 128 of them was a memset a request.
            let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut response,
                &self.buf[self.start..self.end],
                &mut slots,
            );
            let len = match parsed {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(e) => return Err(Error::Protocol(format!("bad response head: {e}"))),
            };
            let status = response.code.unwrap_or(0);
            let http10 = response.version == Some(0);
            let head = read_head(status, http10, response.headers, head_only)?;
            self.start += len;
            match status {
                101 => {
                    return Err(Error::Protocol(
                        "101 Switching Protocols: no upgrade was asked for".into(),
                    ));
                }
                100..=199 => continue,
                _ => return Ok(Some(head)),
            }
        }
    }

    /// Reads the body of the answer `head` began, handing each piece to `take` as it comes;
    /// true when the connection can carry another request. `take`'s error ends the read.
    pub async fn read_body(
        &mut self,
        head: &Head,
        mut take: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<bool, String> {
        match head.framing {
            Framing::Empty => {}
            Framing::Length(n) => self.read_exactly(n, &mut take).await?,
            Framing::Chunked => loop {
                let len = self.line().await?;
                let size = chunk_size(&self.buf[self.start..self.start + len])?;
                self.start += len;
                if size == 0 {
                    // Trailers, to the blank line.
                    loop {
                        let len = self.line().await?;
                        let blank = is_blank(&self.buf[self.start..self.start + len]);
                        self.start += len;
                        if blank {
                            break;
                        }
                    }
                    break;
                }
                self.read_exactly(size, &mut take).await?;
                let len = self.line().await?;
                if !is_blank(&self.buf[self.start..self.start + len]) {
                    return Err(body_error("a chunk longer than its size"));
                }
                self.start += len;
            },
            Framing::UntilClose => loop {
                if self.end > self.start {
                    take(&self.buf[self.start..self.end])?;
                    self.start = self.end;
                }
                if self.fill().await.map_err(io_body_error)? == 0 {
                    return Ok(false);
                }
            },
        }
        // Bytes past the answer are none an HTTP/1.1 server sends unasked: not reused.
        let reusable = head.keep_alive && self.start == self.end;
        self.answered_at = reusable.then(Instant::now);
        Ok(reusable)
    }

    async fn read_exactly(
        &mut self,
        mut left: u64,
        take: &mut impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        while left > 0 {
            if self.start == self.end && self.fill().await.map_err(io_body_error)? == 0 {
                return Err(body_error(&format!(
                    "the connection closed {left} byte(s) before the end of the body"
                )));
            }
            let n = (self.end - self.start).min(usize::try_from(left).unwrap_or(usize::MAX));
            take(&self.buf[self.start..self.start + n])?;
            self.start += n;
            left -= n as u64;
        }
        Ok(())
    }

    /// The length of the line at the front of the buffer, its CRLF (or LF) included; read
    /// until there is one.
    async fn line(&mut self) -> Result<usize, String> {
        loop {
            if let Some(at) = self.buf[self.start..self.end]
                .iter()
                .position(|b| *b == b'\n')
            {
                return Ok(at + 1);
            }
            if self.end - self.start > MAX_LINE {
                return Err(body_error("a chunk line over 8 KiB"));
            }
            if self.fill().await.map_err(io_body_error)? == 0 {
                return Err(body_error("the connection closed inside a chunked body"));
            }
        }
    }

    /// Reads what the socket has into the buffer's free end; 0 at the close.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Only a head or a line longer than the buffer grows it (both are bounded).
            let grown = (self.buf.len() * 2).max(READ_SIZE);
            self.buf.resize(grown, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

/// The framing and reuse a head states.
fn read_head(
    status: u16,
    http10: bool,
    headers: &[httparse::Header<'_>],
    head_only: bool,
) -> Result<Head, Error> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut other_coding = false;
    let mut close = http10;
    let mut location = None;
    for h in headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            for part in value.split(',') {
                let part = part.trim();
                let n = (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| part.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| Error::Protocol(format!("bad content-length {value:?}")))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Error::Protocol("conflicting content-length values".into()));
                }
                length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked when it is the last coding applied.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = last.eq_ignore_ascii_case("chunked");
            other_coding = !chunked;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                    close = false;
                }
            }
        } else if h.name.eq_ignore_ascii_case("location") {
            location = Some(value.trim().to_string());
        }
    }
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if other_coding {
        Framing::UntilClose
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    Ok(Head {
        status,
        // The redirects reqwest follows, with a Location to go to (300, 304 and 305 are
        // answers of their own).
        redirect: location
            .filter(|l| !l.is_empty() && matches!(status, 301 | 302 | 303 | 307 | 308)),
        keep_alive: !close && framing != Framing::UntilClose,
        framing,
    })
}

/// The size a chunk line states (hex, before any `;extension`).
fn chunk_size(line: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(line).unwrap_or("");
    let digits = text.split(';').next().unwrap_or("").trim();
    // 1 to 15 hex digits: a size that fits in a u64.
    (1..=15)
        .contains(&digits.len())
        .then(|| u64::from_str_radix(digits, 16).ok())
        .flatten()
        .ok_or_else(|| body_error(&format!("bad chunk size line {:?}", text.trim_end())))
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

fn body_error(what: &str) -> String {
    format!("reading the response body: {what}")
}

fn io_body_error(e: io::Error) -> String {
    format!("reading the response body: {e}")
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Reads a request's head off a test server's socket; false when the client closed.
    pub(in crate::runner) async fn read_request_head(socket: &mut TcpStream) -> bool {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        true
    }

    /// A server on loopback that answers each request on one connection with the next of
    /// `answers`, each written in the pieces given (so heads, chunk lines and bodies arrive
    /// split), then closes.
    async fn serve(answers: Vec<Vec<&'static [u8]>>) -> Connection {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accepts");
            for pieces in answers {
                if !read_request_head(&mut socket).await {
                    return;
                }
                for piece in pieces {
                    let _ = socket.write_all(piece).await;
                    let _ = socket.flush().await;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
            }
        });
        Connection::new(TcpStream::connect(address).await.expect("connects"))
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";

    async fn body_of(conn: &mut Connection, head: &Head) -> (Vec<u8>, Result<bool, String>) {
        let mut body = Vec::new();
        let reusable = conn
            .read_body(head, |chunk| {
                body.extend_from_slice(chunk);
                Ok(())
            })
            .await;
        (body, reusable)
    }

    #[tokio::test]
    async fn a_length_body_in_pieces_then_the_connection_again() {
        let mut conn = serve(vec![
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Le",
                b"ngth: 11\r\n\r\nhello",
                b" world",
            ],
            vec![b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno"],
        ])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(head.status, 200);
        assert_eq!(
            body_of(&mut conn, &head).await,
            (b"hello world".to_vec(), Ok(true))
        );
        let head = conn.exchange(GET, false).await.expect("a second head");
        assert_eq!(head.status, 404);
        assert_eq!(body_of(&mut conn, &head).await, (b"no".to_vec(), Ok(true)));
        // The server has closed: the reused connection is stale, nothing came back.
        assert!(matches!(conn.exchange(GET, false).await, Err(Error::Stale)));
    }

    #[tokio::test]
    async fn chunks_with_extensions_and_trailers() {
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel",
            b"lo\r\n",
            b"6\r\n world\r",
            b"\n0\r\nx-trailer: 1\r\n",
            b"\r\n",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(
            body_of(&mut conn, &head).await,
            (b"hello world".to_vec(), Ok(true))
        );
    }

    #[tokio::test]
    async fn a_body_to_the_close_and_a_close_asked_for_end_the_connection() {
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\n\r\nall of it",
            b" until now",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(
            body_of(&mut conn, &head).await,
            (b"all of it until now".to_vec(), Ok(false))
        );
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(body_of(&mut conn, &head).await, (b"ok".to_vec(), Ok(false)));
        let mut conn = serve(vec![vec![
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(body_of(&mut conn, &head).await, (b"ok".to_vec(), Ok(false)));
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_some_answers_have_no_body() {
        let mut conn = serve(vec![
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
            ],
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"],
        ])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        assert_eq!(head.status, 204);
        assert_eq!(body_of(&mut conn, &head).await, (vec![], Ok(true)));
        // A HEAD request's answer states a length it does not send.
        let head = conn.exchange(GET, true).await.expect("a head");
        assert_eq!(body_of(&mut conn, &head).await, (vec![], Ok(true)));
    }

    #[tokio::test]
    async fn broken_answers_are_errors_that_say_what() {
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\nok",
        ]])
        .await;
        let e = conn.exchange(GET, false).await.expect_err("a bad length");
        assert!(e.to_string().contains("bad content-length"), "{e}");
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        let (_, result) = body_of(&mut conn, &head).await;
        let e = result.expect_err("a short body");
        assert!(e.contains("5 byte(s) before the end"), "{e}");
        let mut conn = serve(vec![vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        ]])
        .await;
        let head = conn.exchange(GET, false).await.expect("a head");
        let (_, result) = body_of(&mut conn, &head).await;
        assert!(result.expect_err("a bad chunk").contains("bad chunk size"));
        let mut conn = serve(vec![vec![b"garbage\r\n\r\n"]]).await;
        let e = conn.exchange(GET, false).await.expect_err("no HTTP");
        assert!(e.to_string().contains("bad response head"), "{e}");
        // A fresh connection closed before any answer is the request's failure, not stale.
        let mut conn = serve(vec![vec![]]).await;
        let e = conn.exchange(GET, false).await.expect_err("closed");
        assert!(
            e.to_string().contains("closed before the response head"),
            "{e}"
        );
    }

    #[test]
    fn a_request_carries_its_length() {
        let request = |method: &str, target: &str, body: &[u8]| {
            let mut out = Vec::new();
            start_request(&mut out, method, target);
            header(&mut out, "host", b"h:1");
            finish_request(&mut out, method, body);
            out
        };
        assert_eq!(
            request("POST", "/generate?a=1", b"{}"),
            b"POST /generate?a=1 HTTP/1.1\r\nhost: h:1\r\ncontent-length: 2\r\n\r\n{}"
        );
        assert_eq!(
            request("POST", "/empty", b""),
            b"POST /empty HTTP/1.1\r\nhost: h:1\r\ncontent-length: 0\r\n\r\n"
        );
        assert_eq!(
            request("GET", "/health", b""),
            b"GET /health HTTP/1.1\r\nhost: h:1\r\n\r\n"
        );
    }
}
