//! `POST /api` and the job event stream.

use crate::limits::is_body_timeout;
use crate::{error_body_response, error_response, AppState};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use finelab_app::api::{JobState, JobStatus, Request};
use finelab_app::ErrorCode;
use std::convert::Infallible;

/// `POST /api`: one [`Request`] in, its JSON result out. Paths in the request must lie in the
/// folders the server was given.
pub(crate) async fn api(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
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
        allowed_roots.check(&request)?;
        ctx.handle(request)
    });
    match handled.await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(error)) => error_body_response(error),
        Err(join_error) => internal(join_error),
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
