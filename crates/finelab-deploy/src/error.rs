//! Errors of starting the server ([`DeployError`]) and of answering a request ([`ApiError`],
//! answered as OpenAI's error JSON, so that its clients show the message).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Errors of starting or running the model server.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The address could not be bound (in use, not an address of this machine, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The given token cannot be used.
    #[error("{0}")]
    BadToken(String),
    /// The system's random source failed while making a token.
    #[error("cannot make an access token: {0}")]
    Random(String),
    /// A setting is out of range or a model argument is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A model folder could not be loaded.
    #[error("{}: {source}", path.display())]
    Load {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: finelab_train::Error,
    },
    /// Serving failed, or the async runtime could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a request was not answered; each case has its HTTP status and OpenAI's `type` and `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or asks for something this server does not do (400).
    #[error("{0}")]
    BadRequest(String),
    /// The prompt and the tokens asked for do not fit the model's context (400).
    #[error("{0}")]
    ContextLength(String),
    /// No model of that name is served (404).
    #[error("{0}")]
    ModelNotFound(String),
    /// No such route (404).
    #[error("no such route: {0}")]
    NoRoute(String),
    /// The token is missing or wrong (401).
    #[error("this server needs its access token: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// A request from a page of another site, or a loopback server named by another host (403).
    #[error("{0}")]
    Forbidden(String),
    /// The body is larger than the server accepts, or holds too many texts (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body did not arrive in time (408).
    #[error("{0}")]
    Timeout(String),
    /// The model's queue is full: try again later (429).
    #[error("the queue of model {0:?} is full; try again shortly")]
    QueueFull(String),
    /// The server is stopping (503).
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The model failed (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::ContextLength(_) => StatusCode::BAD_REQUEST,
            ApiError::ModelNotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::QueueFull(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI's error `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::QueueFull(_) => "rate_limit_error",
            ApiError::Unauthorized => "authentication_error",
            ApiError::Forbidden(_) => "permission_error",
            ApiError::ShuttingDown | ApiError::Internal(_) => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// A stable code a client can act on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid_request",
            ApiError::ContextLength(_) => "context_length_exceeded",
            ApiError::ModelNotFound(_) => "model_not_found",
            ApiError::NoRoute(_) => "no_such_route",
            ApiError::Unauthorized => "invalid_api_key",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TooLarge(_) => "request_too_large",
            ApiError::Timeout(_) => "timeout",
            ApiError::QueueFull(_) => "queue_full",
            ApiError::ShuttingDown => "shutting_down",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// `{"error": {"message", "type", "param", "code"}}`, as OpenAI answers.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"message": self.to_string(), "type": self.kind(), "param": null, "code": self.code()}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if self == ApiError::Unauthorized {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::QueueFull(_) | ApiError::ShuttingDown) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<finelab_train::Error> for ApiError {
    fn from(e: finelab_train::Error) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}
