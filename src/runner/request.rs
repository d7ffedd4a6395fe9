//! One HTTP exchange with the target, judged by the endpoint's success checks. Every way a
//! request can go wrong ends here as an outcome: nothing a server does may crash or hang a
//! run (the body read is bounded and the whole exchange has a timeout).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aurax_schema::Outcome;
use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Client, Method, Url};

use super::h1;
use super::plain::{self, SendError};
pub use super::response::Exchange;
use super::response::{Reading, Received, failed, judged};
use crate::http::describe;
use crate::outcome::intern;
use crate::scenario::Endpoint;
use crate::trace::{ENDPOINT_HEADER, PROBE_HEADER, is_not_replayed};

/// One request to send: an endpoint's, or one a trace recorded for that endpoint.
pub struct Outgoing<'a> {
    pub endpoint: &'a Endpoint,
    pub method: &'a str,
    /// Relative to the scenario's base path (a recorded path that includes it is kept whole).
    pub path: &'a str,
    /// The endpoint's headers, or the trace's (values `<redacted>` are not sent).
    pub headers: &'a [(String, String)],
    pub body: Option<Bytes>,
    /// The endpoint's name as an `x-aurax-endpoint` value, built once per run (None when the
    /// name is no valid header value).
    pub marker: Option<HeaderValue>,
    /// The path's URL parsed before the run (an endpoint's own path); None: looked up, or
    /// parsed on first sight (a recorded path).
    pub url: Option<&'a ParsedUrl>,
}

impl<'a> Outgoing<'a> {
    pub fn of(
        endpoint: &'a Endpoint,
        body: Option<Bytes>,
        marker: Option<HeaderValue>,
        url: Option<&'a ParsedUrl>,
    ) -> Outgoing<'a> {
        Outgoing {
            endpoint,
            method: &endpoint.method,
            path: &endpoint.path,
            headers: &endpoint.headers,
            body,
            marker,
            url,
        }
    }
}

/// The target and how to talk to it.
pub struct Target {
    /// Carries the run's `--header`s as its default headers: built once, not per request.
    client: Client,
    /// The same without the run's secret headers: for a redirect to another origin.
    foreign: Client,
    host: String,
    base_path: String,
    base_url: String,
    timeout: Duration,
    max_body_bytes: usize,
    /// URLs parsed once per path (a URL parse, with its IDNA host check, was 3% of the
    /// runner's CPU when done per request); a recorded path seen for the first time is
    /// parsed then.
    urls: std::sync::RwLock<std::collections::HashMap<String, Arc<ParsedUrl>>>,
    /// A plain-http target's own connection pool (`plain.rs`); None for https.
    plain: Option<PlainTarget>,
    /// The run's `--header`s: they win over an endpoint's or a trace's own of the same name.
    run_headers: HeaderMap,
}

/// A path's URL, parsed once.
pub struct ParsedUrl {
    url: Url,
    /// Path and query, for a plain-http request line; None for https.
    origin: Option<String>,
}

/// How a plain-http target is reached: its pool, and the headers every request carries (the
/// run's `--header`s, `Host`, `User-Agent`).
struct PlainTarget {
    pool: plain::Pool,
    /// Those headers as they go on the wire, written once: copied into every request.
    head_block: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("header `{0}`: not a valid HTTP header (use --header 'Name: value')")]
    BadHeader(String),
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Target {
    /// Forgets the idle plain-http connections: the lanes whose runtimes drive them have
    /// ended (`drive` calls this as its lanes stop).
    pub fn forget_idle(&self) {
        if let Some(plain) = &self.plain {
            plain.pool.forget_idle();
        }
    }

    pub fn new(
        host: &str,
        base_path: &str,
        headers: &[(String, String)],
        timeout: Duration,
        max_body_bytes: usize,
        max_connections: usize,
    ) -> Result<Target, TargetError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| TargetError::BadHeader(k.clone()))?;
            let value = HeaderValue::from_str(v).map_err(|_| TargetError::BadHeader(k.clone()))?;
            map.insert(name, value);
        }
        let run_headers = map.clone();
        let plain = plain_target(host, &map, timeout, max_connections);
        let builder = |defaults: HeaderMap| {
            Client::builder()
                .default_headers(defaults)
                .user_agent(USER_AGENT_VALUE)
                .tcp_nodelay(true)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .pool_max_idle_per_host(max_connections)
                .build()
        };
        // A redirect to another origin goes through a client without the run's credentials
        // (`Authorization`, cookies, keys): reqwest strips them on the hops it follows, but
        // the first hop after a plain-path redirect is a request of its own to it.
        let public: HeaderMap = map
            .iter()
            .filter(|(name, _)| !crate::redact::is_secret(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let foreign = builder(public)?;
        let client = builder(map)?;
        Ok(Target {
            client,
            foreign,
            host: host.trim_end_matches('/').to_string(),
            base_path: base_path.to_string(),
            base_url: format!("{}{}", host.trim_end_matches('/'), base_path),
            timeout,
            max_body_bytes,
            urls: Default::default(),
            plain,
            run_headers,
        })
    }

    pub fn url(&self, path: &str) -> String {
        if !self.base_path.is_empty() && path.starts_with(&self.base_path) {
            format!("{}{}", self.host, path)
        } else {
            format!("{}{}", self.base_url, path)
        }
    }

    /// The parsed URL of `path`, from the cache when it was seen before.
    pub fn parsed_url(&self, path: &str) -> Result<Arc<ParsedUrl>, String> {
        if let Ok(urls) = self.urls.read()
            && let Some(parsed) = urls.get(path)
        {
            return Ok(parsed.clone());
        }
        let url = Url::parse(&self.url(path)).map_err(|e| format!("bad URL for {path}: {e}"))?;
        // The request line of a plain-http request: path and query (origin form).
        let origin = (url.scheme() == "http").then(|| {
            let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{}{query}", url.path())
        });
        let parsed = Arc::new(ParsedUrl { url, origin });
        if let Ok(mut urls) = self.urls.write() {
            // Bounded: a replay of many distinct paths parses the rest each time.
            if urls.len() < 4096 {
                urls.insert(path.to_string(), parsed.clone());
            }
        }
        Ok(parsed)
    }

    /// Sends the request and reads the response, measuring time to first byte and total
    /// from `start`, the request's actual send time.
    pub async fn exchange(&self, out: Outgoing<'_>, start: Instant) -> Exchange {
        // Methods are checked where they are read (scenario, trace); one that still is no
        // method fails here, never going out as another.
        let Ok(method) = Method::from_bytes(out.method.as_bytes()) else {
            let msg = format!("method {:?} is not an HTTP method", out.method);
            return failed(0, None, None, Outcome::Other, msg, 0);
        };
        let looked_up;
        let parsed: &ParsedUrl = match out.url {
            Some(parsed) => parsed,
            None => match self.parsed_url(out.path) {
                Ok(parsed) => {
                    looked_up = parsed;
                    &looked_up
                }
                Err(msg) => return failed(0, None, None, Outcome::Other, msg, 0),
            },
        };
        if let (Some(plain), Some(origin)) = (&self.plain, &parsed.origin) {
            return match self
                .exchange_plain(plain, &method, origin, &out, start)
                .await
            {
                Plain::Done(done) => done,
                Plain::Redirect {
                    status,
                    location,
                    resent,
                } => {
                    let next = self
                        .follow(out, method, &parsed.url, status, &location, start)
                        .await;
                    Exchange {
                        resent: resent || next.resent,
                        ..next
                    }
                }
            };
        }
        self.exchange_general(out, method, parsed.url.clone(), start)
            .await
    }

    /// The hops after a redirect the plain path received: the next one goes where `location`
    /// says (reqwest follows any further ones, its policy), so the first hop is sent once.
    /// As reqwest does: 303, and 301 or 302 to a POST, go on as a GET without the body (Go
    /// also turns other methods into a GET on 301 and 302); 307 and 308 keep the method and
    /// the body. The time counts from the first hop, within one --timeout.
    async fn follow(
        &self,
        out: Outgoing<'_>,
        method: Method,
        url: &Url,
        status: u16,
        location: &str,
        start: Instant,
    ) -> Exchange {
        let elapsed = start.elapsed().as_micros() as i64;
        let Ok(next) = url.join(location) else {
            let msg = format!("redirect {status} to {location:?}, which is no URL");
            return failed(elapsed, Some(elapsed), Some(status), Outcome::Other, msg, 0);
        };
        let as_get = status == 303 && method != Method::HEAD
            || matches!(status, 301 | 302) && method == Method::POST;
        let (method, body) = if as_get {
            (Method::GET, None)
        } else {
            (method, out.body.clone())
        };
        // Credentials go to the origin they were given for, never to another (as reqwest).
        let same_origin = next.origin() == url.origin();
        let next_out = Outgoing { body, ..out };
        self.send_general(next_out, method, next, same_origin, start)
            .await
    }

    /// The request on a connection of the plain-http pool: its exchange, or the redirect it
    /// was answered with (its body read, the connection kept).
    async fn exchange_plain(
        &self,
        plain: &PlainTarget,
        method: &Method,
        origin: &str,
        out: &Outgoing<'_>,
        start: Instant,
    ) -> Plain {
        let elapsed = || start.elapsed().as_micros() as i64;
        let body = out.body.as_deref().unwrap_or_default();
        let mut request = Vec::with_capacity(256 + plain.head_block.len() + body.len());
        h1::start_request(&mut request, method.as_str(), origin);
        request.extend_from_slice(&plain.head_block);
        let written = self.each_header(out, |name, value| {
            h1::header(&mut request, name.as_str(), value.as_bytes())
        });
        if let Err(msg) = written {
            return Plain::Done(failed(0, None, None, Outcome::Other, msg, 0));
        }
        h1::finish_request(&mut request, method.as_str(), body);
        let mut ttfb = None;
        let mut status = None;
        let mut resent = false;
        let mut received = Reading::Whole(Received::default());
        let limit = self.max_body_bytes;
        let exchange = async {
            let head_only = *method == Method::HEAD;
            let sent = plain
                .pool
                .send(&request, head_only, method.is_idempotent(), &mut resent)
                .await
                .map_err(|e| match e {
                    SendError::Connect(msg) => (Outcome::ConnectError, msg),
                    SendError::Exchange(msg) => (Outcome::Other, msg),
                })?;
            let (mut conn, head) = (sent.conn, sent.head);
            ttfb = Some(elapsed());
            status = Some(head.status);
            if let Some(location) = &head.redirect {
                // A connection that carries more has the redirect's own body read to its
                // end and goes back; one that does not is dropped (a body that ends at the
                // close would hold the request until the timeout).
                if head.reusable()
                    && conn
                        .read_body(&head, |_| Ok(()))
                        .await
                        .map_err(|msg| (Outcome::Other, msg))?
                {
                    plain.pool.give_back(conn);
                }
                return Ok(Some(location.clone()));
            }
            received = Reading::of(out.endpoint, head.status, start);
            let reusable = conn
                .read_body(&head, |chunk| received.append(chunk, limit))
                .await
                .map_err(|msg| (Outcome::Other, msg))?;
            if reusable {
                plain.pool.give_back(conn);
            }
            Ok(None)
        };
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err((
                Outcome::Timeout,
                format!("timed out after {:?} (--timeout)", self.timeout),
            )),
        };
        match result {
            Ok(None) => Plain::Done(Exchange {
                resent,
                ..judged(
                    out.endpoint,
                    ttfb,
                    start,
                    status.unwrap_or_default(),
                    received,
                )
            }),
            Ok(Some(location)) => Plain::Redirect {
                status: status.unwrap_or_default(),
                location,
                resent,
            },
            Err((outcome, msg)) => Plain::Done(Exchange {
                resent,
                ..failed(elapsed(), ttfb, status, outcome, msg, received.bytes())
            }),
        }
    }

    /// Each header a request carries beyond the run's own (its `--header`s, `Host`,
    /// `User-Agent`), handed to `put`: the endpoint marker, the endpoint's or the trace's
    /// headers (not a redacted value, not one a replay must not repeat, not one a run
    /// `--header` replaces), and a JSON content type for a body when none is named (a run
    /// `--header` names one too). The one definition both request paths use. A header that
    /// is no valid HTTP header fails the request, saying which.
    fn each_header(
        &self,
        out: &Outgoing<'_>,
        mut put: impl FnMut(&HeaderName, &HeaderValue),
    ) -> Result<(), String> {
        // The marker is the tool's own: it replaces a run `--header` of its name.
        const MARKER: HeaderName = HeaderName::from_static(ENDPOINT_HEADER);
        let marker = out.marker.as_ref();
        if let Some(value) = marker.or_else(|| self.run_headers.get(&MARKER)) {
            put(&MARKER, value);
        }
        let mut typed = self.run_headers.contains_key(CONTENT_TYPE);
        for (k, v) in out.headers {
            if v == "<redacted>" || is_not_replayed(k) || self.run_headers.contains_key(k.as_str())
            {
                continue;
            }
            match (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                (Ok(name), Ok(value)) => {
                    typed |= name == CONTENT_TYPE;
                    put(&name, &value);
                }
                _ => return Err(format!("header `{k}` is not a valid HTTP header")),
            }
        }
        // A recorded request keeps its own content type; AURAX bodies are JSON otherwise.
        if out.body.is_some() && !typed {
            put(&CONTENT_TYPE, &HeaderValue::from_static("application/json"));
        }
        Ok(())
    }

    /// The request through reqwest: https targets.
    async fn exchange_general(
        &self,
        out: Outgoing<'_>,
        method: Method,
        url: Url,
        start: Instant,
    ) -> Exchange {
        self.send_general(out, method, url, true, start).await
    }

    /// What is left of `--timeout` for a request that began at `start`.
    fn time_left(&self, start: Instant) -> Duration {
        self.timeout.saturating_sub(start.elapsed())
    }

    /// A request through reqwest (which follows redirects, its policy). `start` is when the
    /// exchange began (before a first hop, for a redirect); `same_origin`: the headers that
    /// carry credentials go too.
    async fn send_general(
        &self,
        out: Outgoing<'_>,
        method: Method,
        url: Url,
        same_origin: bool,
        start: Instant,
    ) -> Exchange {
        let endpoint = out.endpoint;
        let mut headers = HeaderMap::new();
        let listed = self.each_header(&out, |name, value| {
            if same_origin || !crate::redact::is_secret(name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        });
        if let Err(msg) = listed {
            return failed(0, None, None, Outcome::Other, msg, 0);
        }
        // One --timeout for the whole request, the hops before this one included.
        let left = self.time_left(start);
        if left.is_zero() {
            let msg = format!("timed out after {:?} (--timeout)", self.timeout);
            let elapsed = start.elapsed().as_micros() as i64;
            return failed(elapsed, None, None, Outcome::Timeout, msg, 0);
        }
        let client = if same_origin {
            &self.client
        } else {
            &self.foreign
        };
        let mut request = client.request(method, url).timeout(left).headers(headers);
        if let Some(body) = out.body {
            request = request.body(body);
        }
        let elapsed = |t: Instant| t.duration_since(start).as_micros() as i64;
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return failed(
                    elapsed(Instant::now()),
                    None,
                    None,
                    classify(&e),
                    describe(&e),
                    0,
                );
            }
        };
        let ttfb = Some(elapsed(Instant::now()));
        let status = response.status().as_u16();
        let mut received = Reading::of(endpoint, status, start);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(msg) = received.append(&chunk, self.max_body_bytes) {
                        let (outcome, n) = (Outcome::Other, received.bytes());
                        return failed(
                            elapsed(Instant::now()),
                            ttfb,
                            Some(status),
                            outcome,
                            msg,
                            n,
                        );
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let outcome = if e.is_timeout() {
                        Outcome::Timeout
                    } else {
                        Outcome::Other
                    };
                    let msg = format!("reading the response body: {}", describe(&e));
                    return failed(
                        elapsed(Instant::now()),
                        ttfb,
                        Some(status),
                        outcome,
                        msg,
                        received.bytes(),
                    );
                }
            }
        }
        judged(endpoint, ttfb, start, status, received)
    }

    /// A quick reachability check before any load: any HTTP answer counts.
    pub async fn preflight(&self, path: &str) -> Result<u16, String> {
        let request = self.client.get(self.url(path)).header(PROBE_HEADER, "1");
        match request.timeout(Duration::from_secs(5)).send().await {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(describe(&e)),
        }
    }
}

/// `text` as a header value whose bytes live for the process's life (`outcome::intern`):
/// cloning it copies a pointer. None when it is no valid header value.
pub fn static_header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()?;
    HeaderValue::from_maybe_shared(Bytes::from_static(intern(text).as_bytes())).ok()
}

/// The user agent of every request.
const USER_AGENT_VALUE: &str = concat!("aurax-tool/", env!("CARGO_PKG_VERSION"));

/// A plain-http host's pool and headers; None for https (reqwest's TLS) or a host without a
/// usable authority.
fn plain_target(
    host: &str,
    run_headers: &HeaderMap,
    timeout: Duration,
    max_connections: usize,
) -> Option<PlainTarget> {
    let url = Url::parse(host).ok()?;
    if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let name = url.host_str()?;
    let port = url.port_or_known_default()?;
    let authority = match url.port() {
        Some(p) => format!("{name}:{p}"),
        None => name.to_string(),
    };
    // The run's headers as written once: `Host` is the target's, a `User-Agent` ours unless
    // the run names one; the marker is `each_header`'s.
    let mut headers = run_headers.clone();
    headers.insert(HOST, HeaderValue::from_str(&authority).ok()?);
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(USER_AGENT_VALUE));
    // (`--header` refuses framing headers: the length is each request's own.)
    headers.remove(ENDPOINT_HEADER);
    let mut head_block = Vec::new();
    for (name, value) in &headers {
        h1::header(&mut head_block, name.as_str(), value.as_bytes());
    }
    // An IPv6 literal keeps its brackets in host_str, as connecting needs them.
    let address = format!("{name}:{port}");
    Some(PlainTarget {
        pool: plain::Pool::new(
            address,
            max_connections,
            timeout.min(Duration::from_secs(10)),
        ),
        head_block,
    })
}

fn classify(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Timeout
    } else if e.is_connect() {
        Outcome::ConnectError
    } else {
        Outcome::Other
    }
}

/// What the plain-http path got: an exchange, or a redirect whose next hop goes elsewhere.
enum Plain {
    Done(Exchange),
    /// `resent`: the first hop went twice (an idempotent request on a closed connection).
    Redirect {
        status: u16,
        location: String,
        resent: bool,
    },
}
