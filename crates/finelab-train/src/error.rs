//! The crate's error type.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in metrics, training or inference, as cases a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Metrics or training were asked to work on nothing.
    #[error("empty input: {0}")]
    EmptyInput(String),
    /// Gold and predicted sequences have different lengths.
    #[error("gold has {gold} records but predictions have {pred}; they must match one to one")]
    LengthMismatch {
        /// Number of gold records.
        gold: usize,
        /// Number of predicted records.
        pred: usize,
    },
    /// A label that is not in the declared label set.
    #[error("unknown label {label:?} ({context})")]
    UnknownLabel {
        /// The offending label.
        label: String,
        /// Where it was found.
        context: String,
    },
    /// The same label is declared twice.
    #[error("label {0:?} is declared more than once")]
    DuplicateLabel(String),
    /// A span that is empty, reversed or outside its text.
    #[error("invalid span {start}..{end} ({reason})")]
    InvalidSpan {
        /// Start offset in code points.
        start: usize,
        /// End offset in code points (exclusive).
        end: usize,
        /// Why it is invalid.
        reason: String,
    },
    /// A dataset that cannot be trained on (wrong target kind, no labels...).
    #[error("invalid dataset: {0}")]
    InvalidDataset(String),
    /// A training option out of range.
    #[error("invalid training option `{field}`: {message}")]
    InvalidConfig {
        /// The option's name.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A model family this build does not know.
    #[error("unknown model family {0:?} (available: \"instant\", \"transformer\")")]
    UnsupportedFamily(String),
    /// A base-model folder that cannot be used: a missing file, an unsupported architecture, a
    /// tokenizer that does not match the model. `path` names the file at fault.
    #[error("{path}: {message}")]
    ModelFolder {
        /// The file (or folder) at fault.
        path: PathBuf,
        /// What is wrong and what would work.
        message: String,
    },
    /// A device that this build or this machine does not have.
    #[error("device {requested:?} is not available: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        requested: String,
        /// Why it cannot be used, and what to do.
        reason: String,
    },
    /// The tokenizer failed on an input.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed (out of memory, a shape bug).
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model folder whose files are missing pieces or inconsistent.
    #[error("corrupt model file {path}: {message}")]
    CorruptModel {
        /// The file that is wrong.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
