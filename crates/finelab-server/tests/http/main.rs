//! The HTTP shell end to end: a real server on a free loopback port, a real project (SQLite) in a
//! temporary folder, real HTTP requests.

use finelab_server::{Server, ServerConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod guards;
mod jobs;
mod teams;

/// A server running on its own runtime for the length of a test.
struct TestServer {
    /// `http://127.0.0.1:PORT`
    base: String,
    token: String,
    /// The cookie a page loaded with `?token=` sets: `finelab_token_PORT=TOKEN`.
    cookie: String,
    url: String,
    agent: ureq::Agent,
    _runtime: tokio::runtime::Runtime,
}

fn start(config: ServerConfig) -> TestServer {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server: Server = runtime.block_on(Server::bind(config)).unwrap();
    let port = server.local_addr().port();
    let token = server.token().to_string();
    let cookie = format!("finelab_token_{port}={token}");
    let url = server.url();
    runtime.spawn(server.run(std::future::pending()));
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    TestServer { base: format!("http://127.0.0.1:{port}"), token, cookie, url, agent, _runtime: runtime }
}

/// A loopback server on a free port, started on `project` with its recent list in `config`.
fn config(project: &Path, config_dir: &Path) -> ServerConfig {
    ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        config_dir: Some(config_dir.to_path_buf()),
        ..ServerConfig::new(Some(project.to_path_buf()))
    }
}

impl TestServer {
    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `POST /api` with `request` and the token; the status and the JSON body.
    fn api(&self, request: Value) -> (u16, Value) {
        let mut response = self
            .agent
            .post(format!("{}/api", self.base))
            .header("Authorization", &self.bearer())
            .send_json(&request)
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_json().unwrap())
    }

    /// `POST /api`, expecting success.
    fn ok(&self, request: Value) -> Value {
        let (status, body) = self.api(request.clone());
        assert_eq!(status, 200, "{request} -> {body}");
        body
    }

    /// `POST /api`, expecting an error: its status and `ErrorBody`.
    fn err(&self, request: Value) -> (u16, Value) {
        let (status, body) = self.api(request.clone());
        assert!(status >= 400, "{request} should fail, got {status} {body}");
        assert_error_body(&body);
        (status, body)
    }

    fn upload(&self, name: &str, bytes: &[u8]) -> (u16, Value) {
        let mut response = self
            .agent
            .post(format!("{}/api/upload", self.base))
            .header("Authorization", &self.bearer())
            .query("name", name)
            .send(bytes)
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_json().unwrap())
    }

    /// `GET path` as a browser that opened the printed address before (with its cookie).
    fn get(&self, path: &str) -> (u16, String, String) {
        let mut response =
            self.agent.get(format!("{}{path}", self.base)).header("Cookie", &self.cookie).call().unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, content_type, response.body_mut().read_to_string().unwrap())
    }

    /// Follows `GET /api/jobs/{id}/events` to its end; every event's data.
    fn follow_job(&self, id: u64) -> Vec<Value> {
        let response = self
            .agent
            .get(format!("{}/api/jobs/{id}/events", self.base))
            .header("Authorization", &self.bearer())
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        let reader = BufReader::new(response.into_body().into_reader());
        let mut events = Vec::new();
        for line in reader.lines() {
            let line = line.unwrap();
            if let Some(data) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                events.push(serde_json::from_str::<Value>(data).unwrap());
            }
        }
        events
    }
}

fn assert_error_body(body: &Value) {
    assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "no code in {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {body}");
    assert!(body.get("details").is_some(), "no details in {body}");
}

/// A Chinese review file as Excel-using teams export it: a BOM, a header, a duplicate row and a row
/// with a label outside the label set.
fn reviews_csv() -> Vec<u8> {
    let rows = [
        ("r1", "物流很快，包装完好，非常满意", "pos"),
        ("r2", "质量太差了，用了两天就坏了", "neg"),
        ("r3", "客服态度很好，耐心解答问题", "pos"),
        ("r4", "发货太慢，等了一个星期", "neg"),
        ("r5", "性价比高，推荐购买", "pos"),
        ("r6", "物流很快，包装完好，非常满意", "pos"),
        ("r7", "颜色和图片不一样", "maybe"),
        ("r8", "屏幕清晰，电池耐用 👍", ""),
        ("r9", "\"Works great, fast shipping\"", ""),
        ("r10", "退货流程太麻烦了", ""),
    ];
    let mut csv = String::from("\u{feff}id,text,label\n");
    for (id, text, label) in rows {
        csv.push_str(&format!("{id},{text},{label}\n"));
    }
    csv.into_bytes()
}

#[test]
fn a_project_is_created_imported_and_labeled_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("评论项目");
    let server = start(config(&project, &tmp.path().join("config")));

    let info = server.ok(json!({"cmd": "app_info"}));
    assert_eq!(info["project"], json!(project.display().to_string()));

    let created = server.ok(json!({
        "cmd": "create_project",
        "dir": project.display().to_string(),
        "project": {"kind": "single", "labels": ["pos", "neg"], "guidelines": "# 指南"},
    }));
    assert_eq!(created["labels"].as_array().unwrap().len(), 2);
    assert_eq!(created["stats"]["records"], json!(0));
    let dir = created["dir"].as_str().unwrap().to_string();
    let recent = server.ok(json!({"cmd": "recent_projects"}));
    assert_eq!(recent[0]["dir"], json!(dir));

    // Upload: the file lands in the project's uploads folder, byte for byte.
    let csv = reviews_csv();
    let (status, uploaded) = server.upload("评论 数据.csv", &csv);
    assert_eq!(status, 200, "{uploaded}");
    let path = PathBuf::from(uploaded["path"].as_str().unwrap());
    assert_eq!(path, Path::new(&dir).join("uploads").join("评论 数据.csv"));
    assert_eq!(std::fs::read(&path).unwrap(), csv);
    assert_eq!(uploaded["bytes"], json!(csv.len()));

    let preview = server.ok(json!({
        "cmd": "preview_import", "dir": dir, "path": path, "options": {},
    }));
    assert_eq!(preview["format"], json!("csv"));
    assert_eq!(preview["columns"], json!(["id", "text", "label"]));
    assert_eq!(preview["rows"][0], json!(["r1", "物流很快，包装完好，非常满意", "pos"]));
    assert_eq!(preview["detected"]["text"], json!("text"));

    let job = server.ok(json!({
        "cmd": "start_import", "dir": dir, "path": path,
        "options": {"columns": {"text": "text", "label": "label", "id": "id"}},
    }));
    assert_eq!(job["status"], json!("running"));
    let events = server.follow_job(job["id"].as_u64().unwrap());
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["id"] == job["id"] && e["kind"] == json!("import")), "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["status"], json!("done"), "{last}");
    let report = &last["result"]["report"];
    assert_eq!(report["rows"], json!(10));
    assert_eq!(report["imported"], json!(8), "{report}");
    assert_eq!(report["labeled"], json!(5));
    assert_eq!(report["duplicates"], json!(1));
    assert_eq!(report["duplicate_examples"][0]["line"], json!(7));
    assert_eq!(report["n_rejected"], json!(1));
    assert_eq!(report["rejected"][0]["line"], json!(8));
    // Polling gives the same final state as the stream's last event.
    assert_eq!(&server.ok(json!({"cmd": "job", "id": job["id"]})), last);

    // Label: the queue starts at the first unlabeled record, in import order.
    let next = server.ok(json!({"cmd": "next_record", "dir": dir, "annotator": "小王", "after_seq": null}));
    assert_eq!(next["record"]["text"], json!("屏幕清晰，电池耐用 👍"));
    let first_seq = next["record"]["seq"].as_i64().unwrap();
    let receipt = server.ok(json!({
        "cmd": "annotate", "dir": dir, "seq": first_seq, "annotator": "小王",
        "action": {"action": "label", "value": {"label": "pos"}},
    }));
    assert_eq!(receipt["record_seq"], json!(first_seq));
    assert_eq!(receipt["labeled_delta"], json!(1));
    let next = server.ok(json!({"cmd": "next_record", "dir": dir, "annotator": "小王", "after_seq": first_seq}));
    assert_eq!(next["record"]["text"], json!("Works great, fast shipping"));
    let second_seq = next["record"]["seq"].as_i64().unwrap();
    server.ok(json!({
        "cmd": "annotate", "dir": dir, "seq": second_seq, "annotator": "小王",
        "action": {"action": "label", "value": {"label": "neg"}},
    }));
    let record = server.ok(json!({"cmd": "get_record", "dir": dir, "seq": second_seq}));
    assert_eq!(record["value"], json!({"label": "neg"}));
    assert_eq!(record["annotator"], json!("小王"));

    // Undo takes back the last label only.
    let undone = server.ok(json!({"cmd": "undo", "dir": dir, "annotator": "小王"}));
    assert_eq!(undone["record_seq"], json!(second_seq));
    assert_eq!(undone["labeled_delta"], json!(-1));
    let record = server.ok(json!({"cmd": "get_record", "dir": dir, "seq": second_seq}));
    assert_eq!(record["value"], Value::Null);
    let next = server.ok(json!({"cmd": "next_record", "dir": dir, "annotator": "小王", "after_seq": first_seq}));
    assert_eq!(next["record"]["seq"], json!(second_seq));

    // Search, Chinese and English, and counts.
    let page = server.ok(json!({"cmd": "search", "dir": dir, "query": {"text": "物流"}}));
    let texts: Vec<&str> =
        page["hits"].as_array().unwrap().iter().map(|h| h["record"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["物流很快，包装完好，非常满意"]);
    let page = server.ok(json!({"cmd": "search", "dir": dir, "query": {"text": "SHIPPING"}}));
    assert_eq!(page["hits"].as_array().unwrap().len(), 1);
    let page = server.ok(json!({"cmd": "search", "dir": dir, "query": {"label": "pos"}}));
    assert_eq!(page["hits"].as_array().unwrap().len(), 4);
    assert_eq!(server.ok(json!({"cmd": "count_records", "dir": dir, "query": {"label": "neg"}})), json!(2));
    assert_eq!(server.ok(json!({"cmd": "count_records", "dir": dir, "query": {"label": "pos"}, "cap": 3})), json!(3));
    assert_eq!(server.ok(json!({"cmd": "count_records", "dir": dir, "query": {}})), json!(8));

    let stats = server.ok(json!({"cmd": "stats", "dir": dir}));
    assert_eq!(stats["records"], json!(8));
    assert_eq!(stats["labeled"], json!(6));
    assert_eq!(stats["labels"], json!({"pos": 4, "neg": 2}));
    assert!(stats["annotators"].as_array().unwrap().contains(&json!("小王")));

    // A browser's EventSource reconnects after a stream ends; for a finished job it is told to stop.
    let response = server
        .agent
        .get(format!("{}/api/jobs/{}/events?token={}", server.base, job["id"], server.token))
        .header("Last-Event-ID", "2")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}

#[test]
fn bad_requests_get_an_error_status_and_an_error_body() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let server = start(config(&project, &tmp.path().join("config")));
    let dir = project.display().to_string();

    let check = |request: Value, status: u16, code: &str| {
        let (got_status, body) = server.err(request.clone());
        assert_eq!((got_status, body["code"].as_str().unwrap()), (status, code), "{request} -> {body}");
        body
    };
    let body = check(json!({"cmd": "no_such_command"}), 400, "bad_request");
    assert!(body["message"].as_str().unwrap().contains("unknown variant"), "{body}");
    let body = check(json!({"cmd": "open_project"}), 400, "bad_request");
    assert!(body["message"].as_str().unwrap().contains("missing field `dir`"), "{body}");
    check(json!({"no_cmd": 1}), 400, "bad_request");
    check(json!({"cmd": "open_project", "dir": dir}), 400, "not_a_project");
    check(json!({"cmd": "stats", "dir": dir}), 400, "not_a_project");
    server.ok(json!({"cmd": "create_project", "dir": dir, "project": {"kind": "multi", "labels": ["a", "b"]}}));
    check(
        json!({"cmd": "create_project", "dir": dir, "project": {"kind": "multi", "labels": ["a"]}}),
        409,
        "already_exists",
    );
    check(
        json!({"cmd": "create_project", "dir": project.join("q"), "project": {"kind": "single", "labels": ["a", "a"]}}),
        400,
        "invalid",
    );
    check(json!({"cmd": "get_record", "dir": dir, "seq": 999}), 404, "no_such_record");
    check(
        json!({"cmd": "annotate", "dir": dir, "seq": 1, "annotator": "x", "action": {"action": "label", "value": {"labels": ["a"]}}}),
        404,
        "no_such_record",
    );
    check(json!({"cmd": "start_import", "dir": dir, "path": project.join("missing.csv"), "options": {}}), 500, "io");
    check(
        json!({"cmd": "preview_import", "dir": dir, "path": project.join("missing.csv"), "options": {"delimiter": ";;"}}),
        400,
        "invalid",
    );

    // Bodies that are not JSON at all, and paths that are not routes.
    let mut response = server
        .agent
        .post(format!("{}/api", server.base))
        .header("Authorization", &server.bearer())
        .send("not json")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.body_mut().read_json().unwrap();
    assert_eq!(body["code"], json!("bad_request"));
    assert_error_body(&body);
    for path in ["/api/jobs/12345/events", "/api/nothing/here"] {
        let mut response = server
            .agent
            .get(format!("{}{path}", server.base))
            .header("Authorization", &server.bearer())
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_error_body(&response.body_mut().read_json().unwrap());
    }
    let mut response = server
        .agent
        .get(format!("{}/api/jobs/abc/events", server.base))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_error_body(&response.body_mut().read_json().unwrap());
}

#[test]
fn the_ui_is_served_from_a_folder_with_its_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let ui = tmp.path().join("dist");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><title>Finelab UI</title>").unwrap();
    std::fs::write(ui.join("assets/app-1234.js"), "console.log('finelab')").unwrap();
    std::fs::write(ui.join("favicon.svg"), "<svg/>").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
    let server =
        start(ServerConfig { ui_dir: Some(ui.clone()), ..config(&tmp.path().join("p"), &tmp.path().join("config")) });

    let (status, content_type, body) = server.get("/");
    assert_eq!((status, body.as_str()), (200, "<!doctype html><title>Finelab UI</title>"));
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let (status, content_type, body) = server.get("/assets/app-1234.js");
    assert_eq!((status, body.as_str()), (200, "console.log('finelab')"));
    assert!(content_type.contains("javascript"), "{content_type}");
    let response = server.agent.get(format!("{}/assets/app-1234.js", server.base)).call().unwrap();
    assert!(response.headers().get("cache-control").unwrap().to_str().unwrap().contains("immutable"));
    let (status, content_type, _) = server.get("/favicon.svg");
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    // The UI's own routes (a reload on /label) get index.html; missing files get 404.
    let (status, _, body) = server.get("/label/42");
    assert_eq!((status, body.as_str()), (200, "<!doctype html><title>Finelab UI</title>"));
    assert_eq!(server.get("/assets/missing-99.js").0, 404);
    // No way out of the folder.
    let host = server.base.trim_start_matches("http://").to_string();
    for target in ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"] {
        let (_, response) = raw_request(&server.base, &format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n"), "");
        assert!(!response.contains("secret\r\n") && !response.ends_with("secret"), "{target}: {response}");
    }
}

#[test]
fn without_a_built_ui_the_page_says_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty-ui");
    std::fs::create_dir_all(&empty).unwrap();
    let server =
        start(ServerConfig { ui_dir: Some(empty), ..config(&tmp.path().join("p"), &tmp.path().join("config")) });
    let (status, content_type, body) = server.get("/");
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(body.contains("UI not built: run <code>npm run build</code>"), "{body}");
}

/// Sends one raw HTTP/1.1 request (headers as given, no others) and returns the status.
fn raw_request(base: &str, request_head: &str, body: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{request_head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response)
}
