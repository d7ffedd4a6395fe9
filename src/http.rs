//! HTTP helpers every client of the tool shares (the load, the scraper, the recording
//! proxy): what went wrong in words, a body read with a ceiling, the TLS provider.

/// The innermost cause of an error, which says what happened ("connection refused"),
/// instead of reqwest's outer "error sending request for url (...)".
pub fn describe(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(inner) = source.source() {
        source = inner;
    }
    let root = source.to_string();
    if e.is_timeout() {
        format!("timed out ({root})")
    } else {
        root
    }
}

/// A response body read up to `limit` bytes; a longer one is an error that says so, and is
/// never read further (nothing a server sends can grow memory past the limit).
pub async fn body_up_to(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("body over the {limit} byte limit, cut there"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest is built without a default TLS provider (no C build): ring is installed once per
/// process before any client is built; later calls are no-ops.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
