//! The `finelab` binary's integration tests, one binary (`cargo test -p finelab-cli --test it`): real
//! processes on real project folders.
//!
//! One test binary per crate: each links the whole dependency tree once, and the tests of every
//! module share the runner's threads.

mod common;

mod cli;
mod hub_download;
mod serve;
mod train_cli;
