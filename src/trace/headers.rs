//! Which recorded headers a request may carry again. Connection-level headers belong to one
//! hop (RFC 9110 §7.6.1, plus host and content-length, which the client sets itself): the
//! proxy never forwards them, the recorder never writes them, a replay never sends them.

const CONNECTION_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

/// A header of one connection (case-insensitive).
pub fn is_connection_header(name: &str) -> bool {
    CONNECTION_HEADERS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// A recorded header a replay does not send: connection-level ones, and accept-encoding
/// (the client decodes only what it asks for itself).
pub fn is_not_replayed(name: &str) -> bool {
    is_connection_header(name) || name.eq_ignore_ascii_case("accept-encoding")
}
