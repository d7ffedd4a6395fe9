//! The one redaction policy, for every place the tool writes what a user gave it: run.json,
//! the Parquet metadata, traces `record` writes, reports (through the metadata), and the
//! terminal. What is secret: the headers `Authorization`, `Proxy-Authorization`, `Cookie`,
//! `Set-Cookie` and any whose name holds `key`, `token`, `secret`, `auth`, `password` or
//! `session`; the password of a URL's userinfo; query parameters named like those headers.

/// What a secret is written as. A replayed header with this value is not sent.
pub const REDACTED: &str = "<redacted>";

/// Whether a header or query parameter of this name carries a secret.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "key", "token", "secret", "auth", "password", "passwd", "session",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A header's value as it may be written.
pub fn header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) { REDACTED } else { value }
}

/// A URL (or a path with a query) as it may be written: the userinfo's password and the
/// values of secret query parameters replaced, everything else as given.
pub fn url(text: &str) -> String {
    let (before_query, query) = match text.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (text, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let authority = match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or("");
                    if userinfo.contains(':') {
                        format!("{user}:{REDACTED}@{host}")
                    } else {
                        // A lone userinfo is usually a token: redact it whole.
                        format!("{REDACTED}@{host}")
                    }
                }
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret(k) => format!("{k}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// A command line as it may be written (the report's run header): header values of secret
/// headers, URL passwords and secret query values redacted, each word quoted for a POSIX
/// shell where it needs it, so the line can be pasted back.
pub fn command_line(args: &[String]) -> String {
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut header_next = false;
    for arg in args {
        let shown = if header_next {
            header(arg)
        } else if let Some(h) = arg.strip_prefix("--header=") {
            format!("--header={}", header(h))
        } else if arg.starts_with("-H") && arg.len() > 2 && !arg.starts_with("--") {
            format!("-H{}", header(&arg[2..]))
        } else if arg.contains("://") || arg.contains('?') {
            url(arg)
        } else {
            arg.clone()
        };
        header_next = arg == "-H" || arg == "--header";
        out.push(shell_word(&shown));
    }
    out.join(" ")
}

/// `Name: value` with the value redacted when the name is secret.
fn header(text: &str) -> String {
    match text.split_once(':') {
        Some((name, _)) if is_secret(name.trim()) => format!("{}: {REDACTED}", name.trim()),
        _ => text.to_string(),
    }
}

/// A word as a POSIX shell reads it back: bare when it is safe, else in single quotes.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers_by_name() {
        for name in [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "Set-Cookie",
            "X-API-Key",
            "x-auth-token",
            "X-Client-Secret",
        ] {
            assert!(is_secret(name), "{name}");
            assert_eq!(header_value(name, "s3cret"), REDACTED);
        }
        assert_eq!(header_value("X-Tenant", "t1"), "t1");
        assert_eq!(
            header_value("Accept", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn urls_lose_their_passwords_and_secret_parameters() {
        assert_eq!(
            url("http://user:PASSWORD@host:8000/x"),
            "http://user:<redacted>@host:8000/x"
        );
        assert_eq!(url("https://TOKEN@host"), "https://<redacted>@host");
        assert_eq!(
            url("http://h/metrics?api_key=K&x=1&token=T"),
            "http://h/metrics?api_key=<redacted>&x=1&token=<redacted>"
        );
        assert_eq!(url("/generate?x=1"), "/generate?x=1");
        assert_eq!(url("http://localhost:8000"), "http://localhost:8000");
    }

    #[test]
    fn command_lines_lose_their_secrets_and_paste_back() {
        let args: Vec<String> = [
            "aurax-tool",
            "run",
            "--host",
            "http://u:pw@aurax:8000",
            "-H",
            "Authorization: Bearer abc",
            "--header=X-Tenant: t1",
            "-HX-Api-Key: k",
            "--rate-stages",
            "20/s:5s,180/s:100s",
            "--scrape",
            "http://h/metrics?token=T",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            command_line(&args),
            "aurax-tool run --host 'http://u:<redacted>@aurax:8000' -H 'Authorization: <redacted>' '--header=X-Tenant: t1' '-HX-Api-Key: <redacted>' --rate-stages 20/s:5s,180/s:100s --scrape 'http://h/metrics?token=<redacted>'"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
