//! Who may call the server: on a loopback address anyone of this machine unless a token was
//! given; on any other address only the token's holder (`Authorization: Bearer <token>`, as
//! OpenAI's clients send their API key). Also refused, as by `finelab serve`: a loopback server
//! named by a non-loopback host (DNS rebinding) and requests a page of another site sent (CSRF).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Who may call.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    /// The token every request must carry (`None`: none needed).
    pub(crate) token: Option<String>,
    /// Refuse requests whose `Host` is not a loopback name (the server listens on loopback).
    pub(crate) loopback_hosts_only: bool,
}

/// Middleware before every route.
pub(crate) async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    if let Err(refusal) = check(&access, request.headers()) {
        return refusal.into_response();
    }
    next.run(request).await
}

fn check(shared: &Access, headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if shared.loopback_hosts_only && !is_loopback_host(host) {
        return Err(ApiError::Forbidden(format!(
            "this server answers only as localhost or 127.0.0.1, not as {host:?}"
        )));
    }
    // Browsers name the page that sent a request in `Origin`; API clients send none. No page is
    // served here, so any page's request comes from another site.
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !same_origin(origin, host) {
            return Err(ApiError::Forbidden(format!("requests from the web page {origin:?} are refused")));
        }
    }
    if let Some(token) = &shared.token {
        if !bearer_token(headers).is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(())
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn same_origin(origin: &HeaderValue, host: &str) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    origin.strip_prefix("http://").is_some_and(|o| o.eq_ignore_ascii_case(host))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without stopping at the first difference, so response times say nothing about how
/// much of a guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        let check = |host: &str, expected: bool| assert_eq!(is_loopback_host(host), expected, "{host}");
        check("localhost:8000", true);
        check("127.0.0.1:8000", true);
        check("[::1]:8000", true);
        check("evil.example:8000", false);
        check("localhost.evil.example", false);
        check("0.0.0.0:8000", false);
        check("", false);
    }

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc")
        );
    }
}
