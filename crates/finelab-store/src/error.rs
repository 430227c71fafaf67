use std::path::PathBuf;

/// What can go wrong in the store. Each case is something a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The folder holds no Finelab project.
    #[error("{} is not a Finelab project (no {} in it); create one with `finelab new`", .0.display(), crate::DB_FILE)]
    NotAProject(PathBuf),
    /// A project already exists where a new one was asked for.
    #[error("{} already holds a Finelab project", .0.display())]
    AlreadyExists(PathBuf),
    /// The database was written by a newer Finelab.
    #[error("{} has schema version {found}, but this Finelab knows versions up to {supported}: it was written by a newer Finelab; upgrade Finelab to open it", .path.display())]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: usize,
        /// The newest version this program knows.
        supported: usize,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be parsed as a whole (a bad row is an [`crate::import::RowError`] instead).
    #[error("{}: {reason}", .path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--strict` import found bad rows, so nothing was imported.
    #[error("{}: {n_rejected} row(s) rejected, nothing imported (strict mode); first: line {first_line}: {first_reason}", .path.display())]
    StrictRejected {
        /// The file.
        path: PathBuf,
        /// How many rows were bad.
        n_rejected: usize,
        /// Line of the first bad row.
        first_line: u64,
        /// Why the first bad row was rejected.
        first_reason: String,
    },
    /// A request was invalid (unknown label, bad option...).
    #[error("{0}")]
    Invalid(String),
    /// No record with this id.
    #[error("no record with id {0}")]
    NoSuchRecord(String),
    /// No run with this id.
    #[error("no run with id {0}")]
    NoSuchRun(String),
    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Applying migrations failed.
    #[error("schema migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// JSON (de)serialization of a stored value failed.
    #[error("bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A stable machine-readable code for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotAProject(_) => "not_a_project",
            Error::AlreadyExists(_) => "already_exists",
            Error::NewerSchema { .. } => "newer_schema",
            Error::Io { .. } => "io",
            Error::BadFile { .. } => "bad_file",
            Error::StrictRejected { .. } => "rows_rejected",
            Error::Invalid(_) => "invalid",
            Error::NoSuchRecord(_) => "no_such_record",
            Error::NoSuchRun(_) => "no_such_run",
            Error::Cancelled => "cancelled",
            Error::Sqlite(_) => "database",
            Error::Migration(_) => "migration",
            Error::Json(_) => "json",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }
}
