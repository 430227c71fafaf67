//! The store's integration tests, one binary (`cargo test -p finelab-store --test it`): real SQLite
//! files, real files as tools write them.
//!
//! One test binary per crate: each links the whole dependency tree once, and the tests of every
//! module share the runner's threads.

mod common;

mod behaviour;
mod real_files;
mod roundtrip;
