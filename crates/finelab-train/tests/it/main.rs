//! The training crate's integration tests, one binary (`cargo test -p finelab-train --test it`):
//! every family end to end, and the numbers checked against the libraries that define them.
//! (`transformer_cuda` stays a binary of its own, built only with the `cuda` feature.)
//!
//! One test binary per crate: each links the whole dependency tree once, and the tests of every
//! module share the runner's threads.

mod common;

mod generator;
mod instant;
mod metrics_reference;
mod transformer;
mod transformer_align;
mod transformer_optim;
