//! Signing in to a shared server: `GET /signin` (the page), `POST /signin` (a form or JSON with
//! `name` and `password`; sets the session cookie), `POST /signout`, and `GET /api/session` (who
//! the caller is). A session is an HttpOnly, SameSite=Strict cookie that expires; failed sign-ins
//! lock the name (and the address they came from) out for a while.

use crate::guard::{self, PeerAddr};
use crate::sessions::{failure_keys, Identity};
use crate::{error_response, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use finelab_app::ErrorCode;
use serde::Deserialize;

/// What a sign-in sends.
#[derive(Deserialize)]
struct Credentials {
    name: String,
    password: String,
}

/// `GET /signin`: the sign-in page.
pub(crate) async fn page() -> Response {
    html(StatusCode::OK, &sign_in_page(None))
}

/// `POST /signin`: a form (`application/x-www-form-urlencoded`, from the page: answered with a
/// redirect to the UI or the page again with the error) or JSON (answered with JSON).
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = guard::check_origin(&state, &headers) {
        return *refusal;
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed: Result<Credentials, String> = if json {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    } else {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    };
    let fail = |code: ErrorCode, message: String| -> Response {
        if json {
            error_response(code, message)
        } else {
            let status = StatusCode::from_u16(crate::status_for_code(code.as_str())).unwrap_or(StatusCode::BAD_REQUEST);
            html(status, &sign_in_page(Some(&message)))
        }
    };
    let credentials = match parsed {
        Ok(c) => c,
        Err(e) => return fail(ErrorCode::BadRequest, format!("a sign-in sends a name and a password: {e}")),
    };
    let Some(project) = state.project_dir.clone() else {
        return fail(
            ErrorCode::Invalid,
            "this server was started without a project: signing in needs `finelab serve DIR`".into(),
        );
    };
    let keys = failure_keys(&credentials.name, peer.map(|Extension(PeerAddr(a))| a.ip()));
    if let Some(wait) = state.sessions.locked_out(&keys) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut response = fail(
            ErrorCode::TooManyAttempts,
            format!("too many failed sign-ins as {:?}: try again in {minutes} minute(s)", credentials.name),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let ctx = state.ctx.clone();
    let dir = project.display().to_string();
    let name = credentials.name.clone();
    let checked =
        tokio::task::spawn_blocking(move || ctx.check_sign_in(&dir, &credentials.name, &credentials.password)).await;
    let user = match checked {
        Ok(Ok(Some(user))) => user,
        Ok(Ok(None)) => {
            state.sessions.failed(&keys);
            return fail(ErrorCode::SignInFailed, "wrong name or password".into());
        }
        Ok(Err(e)) => return fail(e.code(), e.to_string()),
        Err(e) => return fail(ErrorCode::Internal, format!("signing in failed inside the server: {e}")),
    };
    let id = match state.sessions.start(&user) {
        Ok(id) => id,
        Err(e) => return fail(ErrorCode::Internal, format!("cannot make a session: {e}")),
    };
    let cookie = format!(
        "{}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        state.session_cookie,
        state.sessions.ttl().as_secs()
    );
    let mut response = if json {
        Json(serde_json::json!({ "name": name, "role": user.role })).into_response()
    } else {
        (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /signout`: ends the caller's session and clears its cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(refusal) = guard::check_origin(&state, &headers) {
        return *refusal;
    }
    if let Some(id) = guard::cookie_value(&headers, &state.session_cookie) {
        state.sessions.end(id);
    }
    let clear = format!("{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0", state.session_cookie);
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/signin")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `GET /api/session`: who the caller is: `{"name", "role", "operator"}` (the token's holder is
/// the operator, an admin without a name).
pub(crate) async fn whoami(Extension(identity): Extension<Identity>) -> Response {
    match identity {
        Identity::Operator => Json(serde_json::json!({ "name": null, "role": "admin", "operator": true })),
        Identity::User { name, role, .. } => Json(serde_json::json!({ "name": name, "role": role, "operator": false })),
    }
    .into_response()
}

fn html(status: StatusCode, page: &str) -> Response {
    let mut response = (status, page.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The sign-in page (English and Chinese), with `error` shown above the form.
pub(crate) fn sign_in_page(error: Option<&str>) -> String {
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>Finelab · Sign in</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1d2330}}\
form{{background:#fff;padding:2em 2.2em;border-radius:10px;box-shadow:0 2px 12px #0002;min-width:18em}}\
h1{{margin:0 0 .8em;font-size:1.4em}}label{{display:block;margin:.7em 0 .2em;font-size:.9em}}\
input{{width:100%;box-sizing:border-box;padding:.5em;font-size:1em;border:1px solid #bbb;border-radius:6px}}\
button{{margin-top:1.2em;width:100%;padding:.6em;font-size:1em;border:0;border-radius:6px;background:#2f6feb;color:#fff}}\
.error{{color:#b00020}}.note{{font-size:.8em;color:#666;max-width:20em}}</style></head>\n<body>\n\
<form method=\"post\" action=\"/signin\">\n<h1>Finelab</h1>\n{error}\
<label for=\"name\">Name · 用户名</label><input id=\"name\" name=\"name\" autocomplete=\"username\" required autofocus>\n\
<label for=\"password\">Password · 密码</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
<button type=\"submit\">Sign in · 登录</button>\n\
<p class=\"note\">The person who started <code>finelab serve</code> opens the address it printed (ending in \
<code>?token=</code>) instead. · 启动服务的人请打开 <code>finelab serve</code> 打印的地址。</p>\n\
</form>\n</body></html>\n"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
