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
        code: ErrorCode,
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

/// Every stable error code a shell sends the UI (`ErrorBody.code`). The UI has an English and a
/// Chinese message for each (checked by `ui/src/lib/i18n.test.ts` against this enum's TypeScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The folder holds no Finelab project.
    NotAProject,
    /// A project (or a folder to write) already exists there.
    AlreadyExists,
    /// The project was written by a newer Finelab.
    NewerSchema,
    /// Reading or writing a file failed.
    Io,
    /// A file cannot be read as the format it claims.
    BadFile,
    /// A strict import refused a file with bad rows (`details` says which first).
    RowsRejected,
    /// A request or a value in it is not valid.
    Invalid,
    /// No record has that id.
    NoSuchRecord,
    /// No run has that id.
    NoSuchRun,
    /// No job has that id.
    NoSuchJob,
    /// Work stopped because the user asked.
    Cancelled,
    /// The project database failed.
    Database,
    /// Updating the project's schema failed.
    Migration,
    /// Stored JSON cannot be read.
    Json,
    /// Training, inference or scoring failed.
    Train,
    /// This build cannot do it (a model, a GPU back end).
    Unsupported,
    /// A line of an input file is wrong (`details` names the file and line).
    BadInput,
    /// The Hugging Face hub (or its mirror) cannot be reached.
    HubOffline,
    /// No such model or file on the hub.
    HubNotFound,
    /// The model needs a Hugging Face token.
    HubUnauthorized,
    /// The model downloaded is not one Finelab fine-tunes.
    HubUnsupported,
    /// Downloading from the hub failed otherwise.
    Hub,
    /// The HTTP request is malformed.
    BadRequest,
    /// The server's access token is missing or wrong.
    Unauthorized,
    /// The request came from another site's page or under another host name.
    Forbidden,
    /// The request names a path outside the folders the server may use.
    ForbiddenPath,
    /// The client stopped sending.
    Timeout,
    /// The request is larger than the server takes.
    TooLarge,
    /// No such address on the server.
    NoSuchRoute,
    /// No such file of the UI.
    NoSuchFile,
    /// The request failed inside the server.
    Internal,
    /// The name or password given to sign in is wrong.
    SignInFailed,
    /// The session ended (it expired, the password was reset, the user was removed): sign in again.
    SessionExpired,
    /// The signed-in user's role may not make this request.
    WrongRole,
    /// Too many failed sign-ins from this name or address: wait, then try again.
    TooManyAttempts,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotAProject,
        ErrorCode::AlreadyExists,
        ErrorCode::NewerSchema,
        ErrorCode::Io,
        ErrorCode::BadFile,
        ErrorCode::RowsRejected,
        ErrorCode::Invalid,
        ErrorCode::NoSuchRecord,
        ErrorCode::NoSuchRun,
        ErrorCode::NoSuchJob,
        ErrorCode::Cancelled,
        ErrorCode::Database,
        ErrorCode::Migration,
        ErrorCode::Json,
        ErrorCode::Train,
        ErrorCode::Unsupported,
        ErrorCode::BadInput,
        ErrorCode::HubOffline,
        ErrorCode::HubNotFound,
        ErrorCode::HubUnauthorized,
        ErrorCode::HubUnsupported,
        ErrorCode::Hub,
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::ForbiddenPath,
        ErrorCode::Timeout,
        ErrorCode::TooLarge,
        ErrorCode::NoSuchRoute,
        ErrorCode::NoSuchFile,
        ErrorCode::Internal,
        ErrorCode::SignInFailed,
        ErrorCode::SessionExpired,
        ErrorCode::WrongRole,
        ErrorCode::TooManyAttempts,
    ];

    /// The code as it travels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotAProject => "not_a_project",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NewerSchema => "newer_schema",
            ErrorCode::Io => "io",
            ErrorCode::BadFile => "bad_file",
            ErrorCode::RowsRejected => "rows_rejected",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NoSuchRecord => "no_such_record",
            ErrorCode::NoSuchRun => "no_such_run",
            ErrorCode::NoSuchJob => "no_such_job",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Database => "database",
            ErrorCode::Migration => "migration",
            ErrorCode::Json => "json",
            ErrorCode::Train => "train",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::BadInput => "bad_input",
            ErrorCode::HubOffline => "hub_offline",
            ErrorCode::HubNotFound => "hub_not_found",
            ErrorCode::HubUnauthorized => "hub_unauthorized",
            ErrorCode::HubUnsupported => "hub_unsupported",
            ErrorCode::Hub => "hub",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ForbiddenPath => "forbidden_path",
            ErrorCode::Timeout => "timeout",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::NoSuchRoute => "no_such_route",
            ErrorCode::NoSuchFile => "no_such_file",
            ErrorCode::Internal => "internal",
            ErrorCode::SignInFailed => "sign_in_failed",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::WrongRole => "wrong_role",
            ErrorCode::TooManyAttempts => "too_many_attempts",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets a code be compared with its name, as tests read it.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The result type of the use cases.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// What the UI receives for an error: a stable code, a message, and details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human message (the whole chain).
    pub message: String,
    /// Structured details, when there are any.
    pub details: Option<serde_json::Value>,
}

impl AppError {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        use finelab_store::Error as S;
        match self {
            AppError::Store(e) => match e {
                S::NotAProject(_) => ErrorCode::NotAProject,
                S::AlreadyExists(_) => ErrorCode::AlreadyExists,
                S::NewerSchema { .. } => ErrorCode::NewerSchema,
                S::Io { .. } => ErrorCode::Io,
                S::BadFile { .. } => ErrorCode::BadFile,
                S::StrictRejected { .. } => ErrorCode::RowsRejected,
                S::Invalid(_) => ErrorCode::Invalid,
                S::NoSuchRecord(_) => ErrorCode::NoSuchRecord,
                S::NoSuchRun(_) => ErrorCode::NoSuchRun,
                S::Cancelled => ErrorCode::Cancelled,
                S::Sqlite(_) => ErrorCode::Database,
                S::Migration(_) => ErrorCode::Migration,
                S::Json(_) => ErrorCode::Json,
            },
            AppError::Invalid(_) => ErrorCode::Invalid,
            AppError::NoSuchJob(_) => ErrorCode::NoSuchJob,
            AppError::Train(_) => ErrorCode::Train,
            AppError::Unsupported(_) => ErrorCode::Unsupported,
            AppError::BadInput { .. } => ErrorCode::BadInput,
            AppError::Io { .. } => ErrorCode::Io,
            AppError::Hub { code, .. } => *code,
            AppError::Cancelled(_) => ErrorCode::Cancelled,
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
        ErrorBody { code: self.code(), message: self.to_string(), details }
    }
}
