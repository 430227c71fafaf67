//! `finelab serve` as a user starts it: the real binary, its one ready line, the API over HTTP with
//! the token the line prints (on every address), paths limited to the folders it was given, and
//! Ctrl+C.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use common::post_api;

struct Serving {
    child: Child,
    line: String,
}

impl Serving {
    /// Stops the server; what it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        stderr
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `finelab serve ARGS` and waits for its ready line.
fn serve(args: &[&str], config_dir: &std::path::Path) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_finelab"))
        .arg("serve")
        .args(args)
        .env("FINELAB_CONFIG_DIR", config_dir)
        .env_remove("FINELAB_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    Serving { child, line: line.trim_end().to_string() }
}

/// The `host:port` and the token of the ready line's URL.
fn address(line: &str) -> (String, Option<String>) {
    let url = line.rsplit(" at ").next().unwrap();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, query) = rest.split_once('/').unwrap();
    (host.to_string(), query.strip_prefix("?token=").map(str::to_string))
}

#[test]
fn serve_prints_one_ready_line_and_answers_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj");
    let mut serving = serve(&[project.to_str().unwrap(), "--addr", "127.0.0.1:0"], &tmp.path().join("config"));
    let expected_start = format!("Finelab serving {} at http://127.0.0.1:", project.display());
    assert!(serving.line.starts_with(&expected_start), "{}", serving.line);
    // Other accounts of the machine reach 127.0.0.1 too: the address carries a token.
    let (addr, token) = address(&serving.line);
    let token = token.unwrap_or_else(|| panic!("no token in {:?}", serving.line));
    assert_eq!(token.len(), 32, "{token}");
    assert_ne!(addr, "127.0.0.1:0");
    let bearer = format!("Bearer {token}");
    let auth = Some(bearer.as_str());

    let (status, body) = post_api(&addr, r#"{"cmd":"app_info"}"#, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");
    let (status, body) = post_api(&addr, r#"{"cmd":"app_info"}"#, auth);
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["project"], serde_json::json!(project.display().to_string()));
    let create = serde_json::json!({
        "cmd": "create_project", "dir": project, "project": {"kind": "spans", "labels": ["PER", "LOC"]},
    });
    let (status, body) = post_api(&addr, &create.to_string(), auth);
    assert_eq!(status, 200, "{body}");
    assert!(project.join("project.sqlite").is_file());
    // A file outside the project folder is refused.
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "secret\n").unwrap();
    let preview = serde_json::json!({"cmd": "preview_import", "dir": project, "path": secret, "options": {}});
    let (status, body) = post_api(&addr, &preview.to_string(), auth);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""code":"forbidden_path""#) && !body.contains("secret\\n"), "{body}");

    // Ctrl+C stops it cleanly.
    #[cfg(unix)]
    {
        let pid = serving.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = serving.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "finelab serve did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "{status:?}");
        // The token is printed in the address only, never logged.
        let stderr = serving.stop();
        assert!(!stderr.contains(&token), "{stderr}");
    }
}

#[test]
fn serve_reads_files_in_the_folders_given_with_allow_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.csv"), "text\nallowed\n").unwrap();
    std::fs::write(tmp.path().join("b.csv"), "text\nnot allowed\n").unwrap();
    let serving = serve(
        &[project.to_str().unwrap(), "--addr", "127.0.0.1:0", "--allow-dir", data.to_str().unwrap()],
        &tmp.path().join("config"),
    );
    let (addr, token) = address(&serving.line);
    let bearer = format!("Bearer {}", token.unwrap());
    let create = serde_json::json!({"cmd": "create_project", "dir": project, "project": {"kind": "single", "labels": ["a", "b"]}});
    assert_eq!(post_api(&addr, &create.to_string(), Some(&bearer)).0, 200);
    let preview = |path: std::path::PathBuf| {
        let request = serde_json::json!({"cmd": "preview_import", "dir": project, "path": path, "options": {}});
        post_api(&addr, &request.to_string(), Some(&bearer))
    };
    let (status, body) = preview(data.join("a.csv"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("allowed"), "{body}");
    let (status, body) = preview(tmp.path().join("b.csv"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#""code":"forbidden_path""#), "{body}");
}

#[test]
fn serve_on_a_non_loopback_address_prints_a_token_and_requires_it() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("proj");
    let serving = serve(&[project.to_str().unwrap(), "--addr", "0.0.0.0:0"], &tmp.path().join("config"));
    let (addr, token) = address(&serving.line);
    let token = token.unwrap_or_else(|| panic!("no token in {:?}", serving.line));
    assert_eq!(token.len(), 32, "{token}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // Talk to it on the loopback address only.
    let port = addr.rsplit(':').next().unwrap();
    let loopback = format!("127.0.0.1:{port}");
    let (status, body) = post_api(&loopback, r#"{"cmd":"app_info"}"#, None);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains(r#""code":"unauthorized""#), "{body}");
    let (status, body) = post_api(&loopback, r#"{"cmd":"app_info"}"#, Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn serve_refuses_a_token_that_cannot_go_in_a_url() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_finelab"))
        .args(["serve", tmp.path().to_str().unwrap(), "--addr", "127.0.0.1:0", "--token", "a b"])
        .env("FINELAB_CONFIG_DIR", tmp.path().join("config"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token"), "{stderr}");
    assert!(output.stdout.is_empty(), "no ready line: {}", String::from_utf8_lossy(&output.stdout));
}
