//! Who may call the API: the token check (every address, loopback too: other accounts of the
//! machine reach 127.0.0.1), the cookie that carries it for the UI's pages, and the refusals that
//! keep a web page of another site from using a server on the user's machine.

use crate::sessions::{Identity, Lookup};
use crate::{error_response, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;
use finelab_app::ErrorCode;

/// The address a connection came from (for the sign-in lockout).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub(crate) std::net::SocketAddr);

/// Refuses a request that names the server by a non-loopback host on a loopback server (DNS
/// rebinding), or that a page of another site sent (CSRF).
pub(crate) fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    // A page of another site that re-points its own name at 127.0.0.1 (DNS rebinding) reaches a
    // loopback server under that name; the token stops it too, and this keeps it from even trying.
    if state.loopback_hosts_only && !is_loopback_host(host) {
        return Err(Box::new(error_response(
            ErrorCode::Forbidden,
            format!("this server answers only as localhost or 127.0.0.1, not as {host:?}"),
        )));
    }
    // A browser names the page that sent a request in `Origin`; the UI is served from this server,
    // so any other origin is a page of another site (CSRF). Clients that are not browsers send none.
    if let Some(origin) = headers.get(header::ORIGIN) {
        if !same_origin(origin, host) {
            return Err(Box::new(error_response(
                ErrorCode::Forbidden,
                format!("requests from {origin:?} are refused: the API serves pages of http://{host} only"),
            )));
        }
    }
    Ok(())
}

/// Runs before every `/api` route: the caller is the token's holder or someone signed in, and
/// the request carries who ([`Identity`]) to the handlers.
pub(crate) async fn api_guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    if let Err(refusal) = check_origin(&state, headers) {
        return *refusal;
    }
    let given = bearer_token(headers)
        .or_else(|| query_token(request.uri().query()))
        .or_else(|| cookie_value(headers, &state.cookie_name));
    let identity = if given.is_some_and(|g| is_token(&state, g)) {
        Identity::Operator
    } else {
        match cookie_value(headers, &state.session_cookie).map(|id| state.sessions.lookup(id)) {
            Some(Lookup::Live(identity)) => identity,
            Some(Lookup::Ended) => {
                return error_response(
                    ErrorCode::SessionExpired,
                    "your session has ended (it expired, or your password was reset): sign in again at /signin",
                )
            }
            _ => {
                let mut response = error_response(
                    ErrorCode::Unauthorized,
                    "this server needs its access token or a signed-in session: sign in at /signin, open the \
                     address `finelab serve` printed (it ends in `?token=...`), or send `Authorization: Bearer <token>`",
                );
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return response;
            }
        }
    };
    request.extensions_mut().insert(identity);
    next.run(request).await
}

/// How a request for a page of the UI stands with the token.
pub(crate) enum PageAccess {
    /// The page's address carries the token: it is also set as a cookie, so that a reload or a new
    /// tab without `?token=` works.
    TokenInUrl,
    /// The cookie carries it.
    TokenInCookie,
    /// Someone signed in.
    Session,
    /// No token, or a wrong one (a cookie of an earlier run of the server).
    Refused,
}

/// Checks the token of a request for a page (not the API: its files hold no data).
pub(crate) fn page_access(state: &AppState, uri: &Uri, headers: &HeaderMap) -> PageAccess {
    if query_token(uri.query()).is_some_and(|t| is_token(state, t)) {
        PageAccess::TokenInUrl
    } else if cookie_value(headers, &state.cookie_name).is_some_and(|t| is_token(state, t)) {
        PageAccess::TokenInCookie
    } else if cookie_value(headers, &state.session_cookie)
        .is_some_and(|id| matches!(state.sessions.lookup(id), Lookup::Live(_)))
    {
        PageAccess::Session
    } else {
        PageAccess::Refused
    }
}

/// The `Set-Cookie` value that stores the token for this server's pages: not readable by scripts,
/// never sent with requests that other sites start, for every path of the server.
pub(crate) fn token_cookie(state: &AppState) -> HeaderValue {
    HeaderValue::from_str(&format!("{}={}; HttpOnly; SameSite=Strict; Path=/", state.cookie_name, state.token))
        .expect("tokens and cookie names are URL-safe")
}

fn is_token(state: &AppState, given: &str) -> bool {
    constant_time_eq(given.as_bytes(), state.token.as_bytes())
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

/// The `token` query parameter. Tokens are URL-safe (checked at start), so no decoding is needed.
fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|pair| pair.strip_prefix("token="))
}

/// The value of the cookie `name` (from any `Cookie` header).
pub(crate) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
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
        check("localhost", true);
        check("localhost:7878", true);
        check("LOCALHOST:7878", true);
        check("127.0.0.1:7878", true);
        check("127.3.4.5", true);
        check("[::1]:7878", true);
        check("[::1]", true);
        check("evil.example:7878", false);
        check("localhost.evil.example:7878", false);
        check("192.168.1.5:7878", false);
        check("0.0.0.0:7878", false);
        check("", false);
    }

    #[test]
    fn origins() {
        let check = |origin: &str, host: &str, expected: bool| {
            assert_eq!(same_origin(&HeaderValue::from_str(origin).unwrap(), host), expected, "{origin} {host}")
        };
        check("http://127.0.0.1:7878", "127.0.0.1:7878", true);
        check("http://localhost:7878", "localhost:7878", true);
        check("http://evil.example", "127.0.0.1:7878", false);
        check("http://127.0.0.1:9999", "127.0.0.1:7878", false);
        check("null", "127.0.0.1:7878", false);
    }

    #[test]
    fn tokens_from_requests() {
        assert_eq!(query_token(Some("token=abc&x=1")), Some("abc"));
        assert_eq!(query_token(Some("x=1&token=abc")), Some("abc"));
        assert_eq!(query_token(Some("xtoken=abc")), None);
        assert_eq!(query_token(None), None);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; finelab_token_7878=abc; b=2"));
        assert_eq!(cookie_value(&headers, "finelab_token_7878"), Some("abc"));
        assert_eq!(cookie_value(&headers, "finelab_token_78"), None);
        assert_eq!(cookie_value(&headers, "finelab_token_7879"), None);
    }
}
