//! The application layer's integration tests, one binary (`cargo test -p finelab-app --test it`):
//! the entry point the shells call, training through it, and the generated TypeScript types.
//!
//! One test binary per crate: each links the whole dependency tree once, and the tests of every
//! module share the runner's threads.

mod common;

mod api;
mod train;
mod training_jobs;
mod transformer_train;
mod ts_types;
