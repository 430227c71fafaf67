//! Finelab's use cases as plain functions over typed requests and responses.
//!
//! The window (Tauri), the command line and the HTTP server all call these functions with the same
//! types; a feature that exists in one shell exists in all three and is tested here, below them.
#![deny(missing_docs)]

pub mod active;
pub mod api;
pub mod assign;
pub mod autotrain;
pub mod cluster;
pub mod curve;
pub mod deploy;
pub mod distill;
mod error;
pub mod generation;
pub mod hub;
pub mod jobs;
pub mod memory;
pub mod models;
pub mod optimize;
pub mod predict;
pub mod production;
pub mod progress;
pub mod project;
pub mod results;
pub mod runs;
pub mod scoring;
mod shared;
pub mod suspects;
pub mod teams;
pub mod train;
pub mod training_jobs;
pub mod typescript;
pub mod users;

pub use error::{AppError, ErrorBody, ErrorCode, Result};
pub use finelab_store as store;
