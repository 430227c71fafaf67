use serde::{Deserialize, Serialize};

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] finelab_store::Error),
    /// A request was invalid.
    #[error("{0}")]
    Invalid(String),
    /// No job with this id (finished jobs are kept while the shell runs).
    #[error("no job with id {0}")]
    NoSuchJob(u64),
    /// Training, inference or metrics failed in the trainer.
    #[error(transparent)]
    Train(#[from] finelab_train::Error),
    /// Something this build cannot do yet (a transformer model, a GPU device).
    #[error("{0}")]
    Unsupported(String),
    /// A line of an input file is wrong; the message names the file and the line.
    #[error("{path}:{line}: {message}")]
    BadInput {
        /// The file (or `<stdin>`).
        path: String,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// Downloading a model from the Hugging Face hub failed or was cancelled. `code` says how:
    /// `hub_offline` (the endpoint cannot be reached), `hub_not_found` (no such model or file),
    /// `hub_unauthorized` (a token is needed), `hub_unsupported` (not a model Finelab
    /// fine-tunes), `cancelled`, or `hub`.
    #[error("{message}")]
    Hub {
        /// The stable code.
        code: &'static str,
        /// What happened and what to do.
        message: String,
    },
    /// Work stopped because the user asked (a cancelled job): the message says what was kept.
    #[error("{0}")]
    Cancelled(String),
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The result type of the use cases.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// What the UI receives for an error: a stable code, a message, and details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human message (the whole chain).
    pub message: String,
    /// Structured details, when there are any.
    pub details: Option<serde_json::Value>,
}

impl AppError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Store(e) => e.code(),
            AppError::Invalid(_) => "invalid",
            AppError::NoSuchJob(_) => "no_such_job",
            AppError::Train(_) => "train",
            AppError::Unsupported(_) => "unsupported",
            AppError::BadInput { .. } => "bad_input",
            AppError::Io { .. } => "io",
            AppError::Hub { code, .. } => code,
            AppError::Cancelled(_) => "cancelled",
        }
    }

    /// Whether this is the user's cancellation rather than a failure: the one test every job
    /// runner's final status goes through.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, AppError::Cancelled(_) | AppError::Store(finelab_store::Error::Cancelled))
    }

    /// This error as the UI receives it.
    pub fn body(&self) -> ErrorBody {
        let details = match self {
            AppError::Store(finelab_store::Error::StrictRejected { n_rejected, first_line, first_reason, .. }) => Some(
                serde_json::json!({"n_rejected": n_rejected, "first_line": first_line, "first_reason": first_reason}),
            ),
            AppError::BadInput { path, line, .. } => Some(serde_json::json!({"path": path, "line": line})),
            _ => None,
        };
        ErrorBody { code: self.code().to_string(), message: self.to_string(), details }
    }
}
