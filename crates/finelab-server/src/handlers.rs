//! `POST /api` and the job event stream.

use crate::limits::is_body_timeout;
use crate::roles;
use crate::sessions::Identity;
use crate::{error_body_response, error_response, AppState};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use finelab_app::api::{JobState, JobStatus, Request};
use finelab_app::{ErrorBody, ErrorCode};
use finelab_store::{Role, User};
use std::convert::Infallible;

/// `POST /api`: one [`Request`] in, its JSON result out. Paths in the request must lie in the
/// folders the server was given.
pub(crate) async fn api(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if is_body_timeout(&rejection) => {
            return error_response(ErrorCode::Timeout, rejection.body_text())
        }
        Err(rejection) => return rejection_response(rejection.status(), rejection.body_text()),
    };
    let request: Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error_response(ErrorCode::BadRequest, e.to_string()),
    };
    let ctx = state.ctx.clone();
    let allowed_roots = state.allowed_roots.clone();
    let handled = tokio::task::spawn_blocking(move || {
        let mut request = request;
        let signed_in = signed_in_user(&state, &identity)?;
        if let Some(user) = &signed_in {
            let paths: Vec<String> = crate::paths::request_paths(&request).into_iter().map(String::from).collect();
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            roles::authorize(&mut request, &user.name, user.role, state.project_dir.as_deref(), &paths)?;
        }
        allowed_roots.check(&request)?;
        let mut value = ctx.handle(request)?;
        if let Some(user) = signed_in.filter(|u| u.role == Role::Annotator) {
            let dir = state.project_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
            if !ctx.settings(&dir).is_ok_and(|s| s.annotators_see_others) {
                roles::only_own_labels(&mut value, &user.name);
            }
        }
        Ok::<_, ErrorBody>(value)
    });
    match handled.await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(error)) => error_body_response(error),
        Err(join_error) => internal(join_error),
    }
}

/// The signed-in user as the project has them now (`None` for the token's holder): a session
/// whose user was removed, or whose password was reset since, has ended.
pub(crate) fn signed_in_user(state: &AppState, identity: &Identity) -> Result<Option<User>, ErrorBody> {
    let Identity::User { name, password_changed_at, .. } = identity else { return Ok(None) };
    let ended = || ErrorBody {
        code: ErrorCode::SessionExpired,
        message: format!(
            "the session of {name} has ended (the user was removed or given a new password): sign in again"
        ),
        details: None,
    };
    let dir = state.project_dir.as_ref().ok_or_else(ended)?.display().to_string();
    match state.ctx.user(&dir, name).map_err(|e| e.body())? {
        Some(user) if user.password_changed_at == *password_changed_at => Ok(Some(user)),
        _ => Err(ended()),
    }
}

/// `GET /api/jobs/{id}/events`: the job's state as Server-Sent Events (`data:` is a `JobState`),
/// first the current state, then each change, until the job is over.
///
/// A browser's `EventSource` reconnects when a stream ends; the reconnection carries the last
/// event id, and for a job that is over it gets 204, which tells `EventSource` to stop.
pub(crate) async fn job_events(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let id = match id {
        Ok(Path(id)) => id,
        Err(rejection) => return error_response(ErrorCode::BadRequest, rejection.body_text()),
    };
    let ctx = state.ctx.clone();
    let current = match tokio::task::spawn_blocking(move || ctx.job_state(id)).await {
        Ok(Ok(current)) => current,
        Ok(Err(_)) => return error_response(ErrorCode::NoSuchJob, format!("no job {id}")),
        Err(join_error) => return internal(join_error),
    };
    if headers.contains_key("last-event-id") && current.status != JobStatus::Running {
        return StatusCode::NO_CONTENT.into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<JobState>(16);
    let ctx = state.ctx.clone();
    tokio::task::spawn_blocking(move || {
        // Sending fails once the client is gone (the stream and its receiver dropped); returning
        // false then ends the watch.
        let _ = ctx.watch_job(id, &mut |s| tx.blocking_send(s.clone()).is_ok());
    });
    let events = futures_util::stream::unfold((rx, 0u64), |(mut rx, n)| async move {
        let job = rx.recv().await?;
        let event = Event::default()
            .id((n + 1).to_string())
            .json_data(&job)
            .unwrap_or_else(|e| Event::default().comment(format!("unserializable job state: {e}")));
        Some((Ok::<Event, Infallible>(event), (rx, n + 1)))
    });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

/// Any other path under `/api`.
pub(crate) async fn no_such_route(uri: axum::http::Uri) -> Response {
    error_response(ErrorCode::NoSuchRoute, format!("no API route {}", uri.path()))
}

fn rejection_response(status: StatusCode, message: String) -> Response {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE { ErrorCode::TooLarge } else { ErrorCode::BadRequest };
    error_response(code, message)
}

fn internal(join_error: tokio::task::JoinError) -> Response {
    eprintln!("finelab serve: a request handler failed: {join_error}");
    error_response(ErrorCode::Internal, format!("the request failed inside the server: {join_error}"))
}
