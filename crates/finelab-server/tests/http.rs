//! The HTTP shell end to end: a real server on a free loopback port, a real project (SQLite) in a
//! temporary folder, real HTTP requests.

use finelab_server::{Server, ServerConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
fn a_token_guards_the_api_by_header_or_query() {
    let tmp = tempfile::tempdir().unwrap();
    let token = "test-token-0123456789";
    let server =
        start(ServerConfig { token: Some(token.into()), ..config(&tmp.path().join("p"), &tmp.path().join("config")) });
    assert_eq!(server.token, token);
    assert!(server.url.ends_with(&format!("/?token={token}")), "{}", server.url);

    let post = |query: &str, authorization: Option<&str>| {
        let mut request = server.agent.post(format!("{}/api{query}", server.base));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let mut response = request.send_json(json!({"cmd": "app_info"})).unwrap();
        let status = response.status().as_u16();
        let www_authenticate = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        (status, response.body_mut().read_json::<Value>().unwrap(), www_authenticate)
    };
    let (status, body, challenge) = post("", None);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{body}");
    assert_error_body(&body);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(post("?token=wrong-token-0123456789", None).0, 401);
    assert_eq!(post("", Some("Bearer wrong-token-0123456789")).0, 401);
    assert_eq!(post("", Some(&format!("Basic {token}"))).0, 401);
    assert_eq!(post(&format!("?token={token}x"), None).0, 401);

    let (status, body, _) = post("", Some(&format!("Bearer {token}")));
    assert_eq!(status, 200, "{body}");
    assert!(body["version"].is_string());
    assert_eq!(post(&format!("?token={token}"), None).0, 200);

    // Uploads and event streams need it too; EventSource can only send it in the query.
    let upload = |query: &str| {
        server
            .agent
            .post(format!("{}/api/upload?name=a.csv{query}", server.base))
            .send("text\nx\n")
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(upload(""), 401);
    assert_eq!(upload(&format!("&token={token}")), 200);
    let events = |query: &str| {
        server.agent.get(format!("{}/api/jobs/7/events{query}", server.base)).call().unwrap().status().as_u16()
    };
    assert_eq!(events(""), 401);
    assert_eq!(events(&format!("?token={token}")), 404);

    // The page loads with it in its address (the UI reads it from there).
    assert_eq!(server.agent.get(format!("{}/?token={token}", server.base)).call().unwrap().status().as_u16(), 200);
}

#[test]
fn a_non_loopback_address_gets_a_generated_token() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..config(&tmp.path().join("p"), &tmp.path().join("config"))
    });
    let token = server.token.clone();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert!(
        server.url.starts_with("http://0.0.0.0:") && server.url.ends_with(&format!("/?token={token}")),
        "{}",
        server.url
    );
    // Requests below go to the loopback address only.
    let mut response = server.agent.post(format!("{}/api", server.base)).send_json(json!({"cmd": "app_info"})).unwrap();
    let body: Value = response.body_mut().read_json().unwrap();
    assert_eq!((response.status().as_u16(), body["code"].as_str()), (401, Some("unauthorized")));
    let mut response = server
        .agent
        .post(format!("{}/api", server.base))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"cmd": "app_info"}))
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.body_mut().read_json::<Value>().unwrap()["version"].is_string());

    // Two servers get different tokens.
    let other = start(ServerConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..config(&tmp.path().join("p"), &tmp.path().join("config"))
    });
    assert_ne!(other.token, token);

    // A token given on the command line must be usable in a URL.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for bad in ["short", "has spaces in it", "a&token=b-and-more"] {
        let with_bad_token =
            ServerConfig { token: Some(bad.into()), ..config(&tmp.path().join("p"), &tmp.path().join("config")) };
        assert!(runtime.block_on(Server::bind(with_bad_token)).is_err(), "{bad:?}");
    }
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

#[test]
fn pages_of_other_sites_cannot_use_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(config(&tmp.path().join("p"), &tmp.path().join("config")));
    let host = server.base.trim_start_matches("http://").to_string();
    let body = r#"{"cmd":"app_info"}"#;
    let check = |head: String, expected: u16| {
        let head = format!("{head}Authorization: Bearer {}\r\n", server.token);
        let (status, response) = raw_request(&server.base, &head, body);
        assert_eq!(status, expected, "{head}\n{response}");
        if expected == 403 {
            assert!(response.contains(r#""code":"forbidden""#), "{response}");
        }
    };
    check(format!("POST /api HTTP/1.1\r\nHost: {host}\r\n"), 200);
    check(format!("POST /api HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\n"), 200);
    check(format!("POST /api HTTP/1.1\r\nHost: localhost:{}\r\n", host.rsplit(':').next().unwrap()), 200);
    // A cross-site form or fetch (CSRF).
    check(format!("POST /api HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\n"), 403);
    check(format!("POST /api HTTP/1.1\r\nHost: {host}\r\nOrigin: null\r\n"), 403);
    // A name of another site re-pointed at 127.0.0.1 (DNS rebinding).
    check("POST /api HTTP/1.1\r\nHost: evil.example:7878\r\n".to_string(), 403);
    check("POST /api/upload?name=x.csv HTTP/1.1\r\nHost: evil.example\r\n".to_string(), 403);
}

#[test]
fn upload_names_are_sanitized_and_sizes_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let server = start(ServerConfig { max_upload_bytes: 3 << 20, ..config(&project, &tmp.path().join("config")) });
    let uploads = project.join("uploads");

    let check = |name: &str, expected_file: &str| {
        let (status, body) = server.upload(name, b"text\nhello\n");
        assert_eq!(status, 200, "{name}: {body}");
        let path = PathBuf::from(body["path"].as_str().unwrap());
        assert_eq!(path, uploads.join(expected_file), "{name}");
        assert_eq!(std::fs::read(&path).unwrap(), b"text\nhello\n");
    };
    check("../../escape.csv", "escape.csv");
    check("..\\..\\escape.csv", "escape (2).csv");
    check("/etc/passwd", "passwd");
    check(".bashrc", "bashrc");
    check("数据:表?.csv", "数据_表_.csv");
    assert!(!tmp.path().join("escape.csv").exists());
    assert!(!project.join("escape.csv").exists());

    for name in ["..", "/", "...", ""] {
        let (status, body) = server.upload(name, b"x");
        assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")), "{name:?}: {body}");
    }
    let mut response = server
        .agent
        .post(format!("{}/api/upload", server.base))
        .header("Authorization", &server.bearer())
        .send("x")
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_error_body(&response.body_mut().read_json().unwrap());

    // Larger than axum's default body limit (2 MB) but within this server's: streamed to disk whole.
    let big: Vec<u8> = (0..2_500_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let (status, body) = server.upload("big.txt", &big);
    assert_eq!(status, 200, "{body}");
    assert_eq!(std::fs::read(body["path"].as_str().unwrap()).unwrap(), big);

    // Over the limit: refused, and nothing left behind.
    let too_big = vec![b'x'; 3 << 20 | 1];
    let (status, body) = server.upload("too-big.txt", &too_big);
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")), "{body}");
    let mut left: Vec<String> =
        std::fs::read_dir(&uploads).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["bashrc", "big.txt", "escape (2).csv", "escape.csv", "passwd", "数据_表_.csv"]);
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

#[test]
fn training_streams_its_progress_over_server_sent_events_and_results_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("reviews");
    let server = start(config(&project, &tmp.path().join("config")));
    let created = server
        .ok(json!({"cmd": "create_project", "dir": project, "project": {"kind": "single", "labels": ["pos", "neg"]}}));
    let dir = created["dir"].as_str().unwrap().to_string();
    let mut csv = String::from("text,label\n");
    for i in 0..150 {
        csv.push_str(&format!("物流很快，质量很好，第{i}次购买，满意,pos\n差评，质量太差，第{i}次退货，失望,neg\n"));
    }
    let (_, uploaded) = server.upload("reviews.csv", csv.as_bytes());
    let job = server.ok(json!({"cmd": "start_import", "dir": dir, "path": uploaded["path"], "options": {}}));
    assert_eq!(server.follow_job(job["id"].as_u64().unwrap()).last().unwrap()["status"], json!("done"));

    // Optional fields of the request may be left out.
    let job = server.ok(json!({"cmd": "start_train", "dir": dir, "request": {"model": "instant", "epochs": 4}}));
    assert_eq!(job["kind"], json!("train"));
    let events = server.follow_job(job["id"].as_u64().unwrap());
    assert!(events.iter().all(|e| e["train"].is_object()), "every state of a train job carries its progress");
    let last = events.last().unwrap();
    assert_eq!(last["status"], json!("done"), "{last}");
    assert_eq!(last["train"]["phase"], json!("finished"));
    assert!(!last["train"]["loss"].as_array().unwrap().is_empty());
    assert_eq!(last["train"]["history"].as_array().unwrap().len(), last["result"]["epochs"].as_array().unwrap().len());
    let run = last["result"]["run"].as_str().unwrap();

    let evaluation = server.ok(json!({"cmd": "evaluate", "dir": dir, "run": run, "split": "test"}));
    assert_eq!(evaluation["report"], last["result"]["test"]);
    let page = server
        .ok(json!({"cmd": "run_records", "dir": dir, "run": run, "split": "test", "gold": "pos", "predicted": "pos",
        "label": null, "only_errors": null, "limit": 500, "offset": null}));
    let cell = evaluation["report"]["confusion"]["matrix"][0][0].clone();
    assert_eq!(page["total"], cell);
    let runs = server.ok(json!({"cmd": "list_runs", "dir": dir}));
    assert_eq!(runs[0]["id"], json!(run));
    let (status, body) = server.err(json!({"cmd": "get_run", "dir": dir, "run": "missing"}));
    assert_eq!((status, body["code"].clone()), (404, json!("no_such_run")));

    // The model in the loop over HTTP: the labeling order it ranks, suspects, the training curve.
    let batch =
        server.ok(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 5, "strategy": "uncertain"}));
    assert_eq!((batch["used"].as_str(), batch["run"].as_str()), (Some("uncertain"), Some(run)), "{batch}");
    assert_eq!(batch["records"], json!([]), "every record is labeled");
    let suspects = server.ok(json!({"cmd": "suspects", "dir": dir, "request": {"folds": 3}}));
    assert_eq!((suspects["n_records"].as_u64(), suspects["folds"].as_u64()), (Some(300), Some(3)), "{suspects}");
    assert_eq!(suspects["per_label"].as_array().unwrap().len(), 2);
    let curve = server.ok(json!({"cmd": "train_curve", "dir": dir, "request": {"fractions": [0.5, 1.0], "seeds": 1}}));
    assert_eq!(curve["labels"].as_array().unwrap().len(), 2, "{curve}");
    let (status, body) =
        server.err(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 5, "strategy": "loud"}));
    assert!((400..500).contains(&status), "{body}");
}

#[test]
fn a_loopback_server_needs_its_token_too() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(config(&tmp.path().join("p"), &tmp.path().join("config")));
    // Other accounts of this machine reach 127.0.0.1 as well: a token is made when none is given.
    assert_eq!(server.token.len(), 32);
    assert!(server.token.chars().all(|c| c.is_ascii_hexdigit()), "{}", server.token);
    assert_eq!(server.url, format!("{}/?token={}", server.base, server.token));

    let post = |query: &str, header: Option<(&str, &str)>| {
        let mut request = server.agent.post(format!("{}/api{query}", server.base));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let mut response = request.send_json(json!({"cmd": "app_info"})).unwrap();
        (response.status().as_u16(), response.body_mut().read_json::<Value>().unwrap())
    };
    let (status, body) = post("", None);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("finelab serve"), "{body}");
    assert_eq!(post("", Some(("Authorization", &server.bearer()))).0, 200);
    assert_eq!(post(&format!("?token={}", server.token), None).0, 200);
    assert_eq!(post("", Some(("Cookie", &server.cookie))).0, 200);
    assert_eq!(post("", Some(("Cookie", &format!("x=1; {}; y=2", server.cookie)))).0, 200);
    // A cookie of another server on this host (another port), or of an earlier run.
    let other_port = format!("finelab_token_1={}", server.token);
    assert_eq!(post("", Some(("Cookie", &other_port))).0, 401);
    let port = server.base.rsplit(':').next().unwrap();
    assert_eq!(post("", Some(("Cookie", &format!("finelab_token_{port}=0123456789abcdef")))).0, 401);

    // The page: without the token, a page that says to open the printed address.
    let page = |path: &str, cookie: Option<&str>| {
        let mut request = server.agent.get(format!("{}{path}", server.base));
        if let Some(cookie) = cookie {
            request = request.header("Cookie", cookie);
        }
        let mut response = request.call().unwrap();
        let set_cookie = response.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), set_cookie, response.body_mut().read_to_string().unwrap())
    };
    for path in ["/", "/label/3"] {
        let (status, set_cookie, body) = page(path, None);
        assert_eq!(status, 401, "{path}");
        assert_eq!(set_cookie, None);
        assert!(body.contains("printed") && body.contains("?token="), "{body}");
        assert!(!body.contains(&server.token));
    }
    // With it in the address, the page sets it as a cookie that scripts cannot read and other
    // sites cannot send; reloads and new tabs then work without `?token=`.
    let (status, set_cookie, _) = page(&format!("/?token={}", server.token), None);
    assert_eq!(status, 200);
    assert_eq!(set_cookie.as_deref(), Some(format!("{}; HttpOnly; SameSite=Strict; Path=/", server.cookie).as_str()));
    let (status, set_cookie, _) = page("/label/3", Some(&server.cookie));
    assert_eq!((status, set_cookie), (200, None));
    assert_eq!(page("/?token=0123456789abcdef0123", None).0, 401);
    assert_eq!(page("/", Some(&other_port)).0, 401);
}

#[test]
fn paths_outside_the_project_and_allowed_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("shared.csv"), "text\nfrom an allowed folder\n").unwrap();
    let outside = tmp.path().join("outside.csv");
    std::fs::write(&outside, "text\nsecret line\n").unwrap();
    let server =
        start(ServerConfig { allowed_dirs: vec![data.clone()], ..config(&project, &tmp.path().join("config")) });
    let dir = project.display().to_string();
    server.ok(json!({"cmd": "create_project", "dir": dir, "project": {"kind": "single", "labels": ["a", "b"]}}));
    std::fs::write(project.join("inside.csv"), "text\ninside line\n").unwrap();

    let preview = |path: &Path| json!({"cmd": "preview_import", "dir": dir, "path": path, "options": {}});
    assert_eq!(server.ok(preview(&project.join("inside.csv")))["rows"][0], json!(["inside line"]));
    assert_eq!(server.ok(preview(&data.join("shared.csv")))["rows"][0], json!(["from an allowed folder"]));
    let (_, uploaded) = server.upload("up.csv", b"text\nuploaded line\n");
    assert_eq!(server.ok(preview(Path::new(uploaded["path"].as_str().unwrap())))["rows"][0], json!(["uploaded line"]));

    let refused = |request: Value, path: &str| {
        let (status, body) = server.err(request.clone());
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden_path")), "{request} -> {body}");
        assert_eq!(body["details"]["path"], json!(path), "{body}");
        assert!(!body.to_string().contains("secret line"), "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(path) && message.contains("--allow-dir"), "{message}");
        let allowed = body["details"]["allowed"].as_array().unwrap();
        assert!(allowed.contains(&json!(std::fs::canonicalize(&data).unwrap().display().to_string())), "{body}");
    };
    let check = |path: &Path| refused(preview(path), path.to_str().unwrap());
    check(&outside);
    check(Path::new("/etc/passwd"));
    check(Path::new("/proc/self/environ"));
    check(&project.join("../outside.csv"));
    check(&project.join("uploads/../../outside.csv"));
    check(&data.join("../p/../outside.csv"));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, project.join("link.csv")).unwrap();
        check(&project.join("link.csv"));
        std::os::unix::fs::symlink(tmp.path(), project.join("up")).unwrap();
        check(&project.join("up/outside.csv"));
        std::os::unix::fs::symlink("/nonexistent-finelab-target", project.join("dangling")).unwrap();
        refused(
            json!({"cmd": "export_model", "dir": dir, "run": "r1", "dest": project.join("dangling")}),
            project.join("dangling").to_str().unwrap(),
        );
    }
    let outside_str = outside.to_str().unwrap();
    refused(json!({"cmd": "start_import", "dir": dir, "path": outside, "options": {}}), outside_str);
    // Projects and exports by path, too.
    let elsewhere = tmp.path().join("elsewhere");
    let elsewhere_str = elsewhere.to_str().unwrap();
    refused(json!({"cmd": "open_project", "dir": elsewhere}), elsewhere_str);
    refused(
        json!({"cmd": "create_project", "dir": elsewhere, "project": {"kind": "single", "labels": ["a", "b"]}}),
        elsewhere_str,
    );
    assert!(!elsewhere.exists());
    refused(json!({"cmd": "stats", "dir": "/etc"}), "/etc");
    refused(json!({"cmd": "export_model", "dir": dir, "run": "r1", "dest": elsewhere}), elsewhere_str);
    // Inside an allowed folder, a new project is fine.
    server.ok(json!({"cmd": "create_project", "dir": data.join("second"), "project": {"kind": "single", "labels": ["a", "b"]}}));
}

/// Connects and sends `bytes`, then waits (at most 20 s) for the server to close the connection;
/// what it answered, and how long it took.
fn stall_after(base: &str, bytes: &[u8]) -> (String, Duration) {
    let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = std::time::Instant::now();
    stream.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection is still open after {:?}: {e}", started.elapsed()),
        }
    }
    (String::from_utf8_lossy(&answer).into_owned(), started.elapsed())
}

#[test]
fn a_client_that_stalls_sending_headers_is_disconnected() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(ServerConfig {
        header_read_timeout: Duration::from_secs(1),
        ..config(&tmp.path().join("p"), &tmp.path().join("config"))
    });
    for sent in ["GET / HTTP/1.1\r\n", "POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", ""] {
        let (_, elapsed) = stall_after(&server.base, sent.as_bytes());
        assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "{sent:?}: {elapsed:?}");
    }
    // The server still answers.
    assert_eq!(server.api(json!({"cmd": "app_info"})).0, 200);
}

#[test]
fn a_stalled_request_body_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    let server = start(ServerConfig {
        body_idle_timeout: Duration::from_secs(1),
        ..config(&project, &tmp.path().join("config"))
    });
    let host = server.base.trim_start_matches("http://").to_string();
    for target in [format!("/api/upload?name=slow.csv&token={}", server.token), format!("/api?token={}", server.token)]
    {
        let head = format!("POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1000\r\n\r\ntext\nfirst");
        let (answer, elapsed) = stall_after(&server.base, head.as_bytes());
        assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "{target}: {elapsed:?}");
        assert!(answer.starts_with("HTTP/1.1 408"), "{target}: {answer}");
        assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    }
    // Nothing half-written is left in the uploads folder.
    let left: Vec<_> = std::fs::read_dir(project.join("uploads")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // A body that keeps moving, however slowly, is not cut.
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = "text\na\nb\nc\n";
    write!(
        stream,
        "POST /api/upload?name=moving.csv&token={} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.token,
        body.len()
    )
    .unwrap();
    for chunk in body.as_bytes().chunks(3) {
        std::thread::sleep(Duration::from_millis(600));
        stream.write_all(chunk).unwrap();
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(std::fs::read_to_string(project.join("uploads/moving.csv")).unwrap(), body);
}

#[test]
fn connections_beyond_the_limit_wait_for_one_to_close() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        start(ServerConfig { max_connections: 2, ..config(&tmp.path().join("p"), &tmp.path().join("config")) });
    let addr = server.base.trim_start_matches("http://").to_string();
    let first = std::net::TcpStream::connect(&addr).unwrap();
    let second = std::net::TcpStream::connect(&addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        third,
        "GET /api/jobs/1/events?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        server.token
    )
    .unwrap();
    third.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut buf = [0u8; 64];
    assert!(third.read(&mut buf).is_err(), "the third connection was served while two were open");
    drop(first);
    third.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    third.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    drop(second);
}

/// Generation over HTTP, the calls the window makes: a generate project, a dialog table imported
/// with each agent turn as a target, a LoRA generator trained as a job, its report and stored
/// outputs, and both model exports.
#[test]
fn a_generator_is_imported_trained_evaluated_and_exported_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("support");
    let server = start(config(&project, &tmp.path().join("config")));
    let created =
        server.ok(json!({"cmd": "create_project", "dir": project, "project": {"kind": "generate", "labels": []}}));
    let dir = created["dir"].as_str().unwrap().to_string();
    let mut csv = String::from("conv,who,text\n");
    for i in 0..20 {
        csv.push_str(&format!(
            "c{i},顾客,订单{i}还没发货\nc{i},值班员,请提供订单号\nc{i},顾客,编号{i}\nc{i},值班员,订单{i}已加急处理\n"
        ));
    }
    let (_, uploaded) = server.upload("dialogs.csv", csv.as_bytes());
    let options = json!({
        "columns": {"group": "conv", "speaker": "who", "text": "text"},
        "dialog_targets": "each_agent_turn",
        "agents": ["值班员"],
    });
    let job = server.ok(json!({"cmd": "start_import", "dir": dir, "path": uploaded["path"], "options": options}));
    let last = server.follow_job(job["id"].as_u64().unwrap()).pop().unwrap();
    assert_eq!(last["status"], json!("done"), "{last}");
    // Two agent turns a dialog, each the output of the turns before it: 40 records, all labeled.
    let stats = server.ok(json!({"cmd": "stats", "dir": dir}));
    assert_eq!((stats["records"].as_u64(), stats["labeled"].as_u64()), (Some(40), Some(40)), "{stats}");
    // An unknown target mode is refused before anything is read.
    let (status, _) = server.err(json!({"cmd": "start_import", "dir": dir, "path": uploaded["path"],
        "options": {"dialog_targets": "every_other"}}));
    assert!((400..500).contains(&status));

    let base = tmp.path().join("tiny-qwen2");
    finelab_app::models::make_tiny_generator(&base, "qwen2", &project, Default::default(), 5).unwrap();
    let request = json!({"model": base, "epochs": 2, "batch_size": 4, "lr": 0.005, "seed": 3, "device": "cpu",
        "lora_rank": 4, "lora_alpha": 8.0, "lora_dropout": 0.0, "max_new_tokens": 12});
    let job = server.ok(json!({"cmd": "start_train", "dir": dir, "request": request}));
    let events = server.follow_job(job["id"].as_u64().unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["status"], json!("done"), "{last}");
    let run = last["result"]["run"].as_str().unwrap();
    let detail = server.ok(json!({"cmd": "get_run", "dir": dir, "run": run}));
    assert_eq!(detail["run"]["family"], json!("generator"), "{detail}");
    assert_eq!(detail["run"]["config"]["lora_rank"], json!(4), "{detail}");

    let evaluation = server.ok(json!({"cmd": "evaluate", "dir": dir, "run": run, "split": "test"}));
    let report = &evaluation["report"];
    assert_eq!((report["lang"].as_str(), report["n"].as_u64()), (Some("zh"), evaluation["n_records"].as_u64()));
    for key in ["chrf", "bleu", "rouge_l", "exact_match", "loss", "perplexity"] {
        assert!(report[key].as_f64().is_some(), "{key}: {report}");
    }
    // The stored outputs sit beside their targets.
    let page = server.ok(json!({"cmd": "run_records", "dir": dir, "run": run, "split": "test", "gold": null,
        "predicted": null, "label": null, "only_errors": null, "limit": 100, "offset": null}));
    assert_eq!(page["total"], report["n"], "{page}");
    for row in page["rows"].as_array().unwrap() {
        assert!(row["gold"]["output"].is_string() && row["predicted"]["output"].is_string(), "{row}");
    }

    for (adapter, must) in [(false, "model.safetensors"), (true, "adapter_model.safetensors")] {
        let dest = project.join(if adapter { "adapter" } else { "merged" });
        let exported =
            server.ok(json!({"cmd": "export_model", "dir": dir, "run": run, "dest": dest, "adapter": adapter}));
        assert!(exported["files"].as_array().unwrap().contains(&json!(must)), "{exported}");
        assert!(dest.join(must).is_file());
    }

    // The same recipe as a cluster job: written into the project's jobs/ folder, the data and
    // recipe the run had; an output folder elsewhere is refused, and an unfinished job says so.
    let job = server.ok(json!({"cmd": "export_job", "dir": dir, "request": request}));
    let job_dir = Path::new(job["path"].as_str().unwrap()).to_path_buf();
    assert!(job_dir.starts_with(std::fs::canonicalize(&project).unwrap().join("jobs")), "{job}");
    assert_eq!(job["n_train"], detail["run"]["n_train"], "{job} / {detail}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(job_dir.join("finelab-job.json")).unwrap()).unwrap();
    assert_eq!((manifest["task"].as_str(), manifest["config"]["lora_rank"].as_u64()), (Some("generate"), Some(4)));
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(job_dir.join("data/train.jsonl")).unwrap().lines().next().unwrap(),
    )
    .unwrap();
    assert!(line["messages"].is_array() && line["target"].is_string(), "{line}");
    let outside = tmp.path().join("elsewhere");
    let (status, body) = server.err(json!({"cmd": "export_job", "dir": dir, "request": request, "out": outside}));
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden_path")), "{body}");
    let (status, body) = server.err(json!({"cmd": "import_run", "dir": dir, "output": job_dir.join("output")}));
    assert!(
        (400..500).contains(&status) && body["message"].as_str().unwrap().contains("has the job finished"),
        "{body}"
    );
}

#[test]
fn labels_retrain_the_instant_model_in_the_background_and_suspects_and_curves_run_as_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("loop");
    let server = start(config(&project, &tmp.path().join("config")));
    let created = server
        .ok(json!({"cmd": "create_project", "dir": project, "project": {"kind": "single", "labels": ["pos", "neg"]}}));
    let dir = created["dir"].as_str().unwrap().to_string();
    assert_eq!(created["settings"]["retrain_every"], json!(50), "the default");
    let mut csv = String::from("text,label\n");
    for i in 0..100 {
        csv.push_str(&format!("物流很快，质量很好，第{i}次购买，满意,pos\n差评，质量太差，第{i}次退货，失望,neg\n"));
    }
    // Five labels wrong on purpose: the suspects to find.
    for i in 0..5 {
        csv.push_str(&format!("物流很快，质量很好，第{}次购买，满意,neg\n", 500 + i));
    }
    for i in 0..40 {
        csv.push_str(&format!("第{i}条评论，{},\n", if i % 2 == 0 { "很好很满意" } else { "太差了失望" }));
    }
    let (_, uploaded) = server.upload("loop.csv", csv.as_bytes());
    let job = server.ok(json!({"cmd": "start_import", "dir": dir, "path": uploaded["path"], "options": {}}));
    assert_eq!(server.follow_job(job["id"].as_u64().unwrap()).last().unwrap()["status"], json!("done"));
    let view = server.ok(json!({"cmd": "set_retrain_every", "dir": dir, "every": 5}));
    assert_eq!(view["settings"]["retrain_every"], json!(5));

    // Cold start: no model, the random order.
    let batch =
        server.ok(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 10, "strategy": "uncertain"}));
    assert_eq!((batch["used"].as_str(), batch["run"].as_str()), (Some("random"), None), "{batch}");
    let seqs: Vec<i64> =
        batch["records"].as_array().unwrap().iter().map(|r| r["view"]["record"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs.len(), 10);
    let label = |seq: i64, label: &str| {
        server.ok(json!({"cmd": "annotate", "dir": dir, "seq": seq, "annotator": "web",
            "action": {"action": "label", "value": {"label": label}}}))
    };
    // The fifth label starts the retrain; the ones before it do not.
    for &seq in &seqs[..4] {
        let receipt = label(seq, "pos");
        assert_eq!(receipt["retrain_job"], json!(null), "{receipt}");
        assert_eq!(receipt["record_seq"], json!(seq), "the receipt's fields are kept");
    }
    let receipt = label(seqs[4], "neg");
    let job = receipt["retrain_job"].as_u64().unwrap_or_else(|| panic!("the fifth label retrains: {receipt}"));
    let last = server.follow_job(job).last().unwrap().clone();
    assert_eq!((last["kind"].as_str(), last["status"].as_str()), (Some("train"), Some("done")), "{last}");
    let run = last["result"]["run"].as_str().unwrap().to_string();

    // The order follows the new model, which says when it was trained and how well.
    let batch =
        server.ok(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 10, "strategy": "uncertain"}));
    assert_eq!((batch["used"].as_str(), batch["run"].as_str()), (Some("uncertain"), Some(run.as_str())), "{batch}");
    assert!(batch["trained_at"].as_i64().unwrap() > 0);
    assert!(batch["dev_macro_f1"].as_f64().unwrap() > 0.5, "{batch}");
    let u: Vec<f64> = batch["records"].as_array().unwrap().iter().map(|r| r["uncertainty"].as_f64().unwrap()).collect();
    assert!(u.windows(2).all(|w| w[0] >= w[1]), "least sure first: {u:?}");
    // Records the model predicts as one label, for the curve's "more of this label" button.
    let neg = server.ok(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 100,
        "strategy": "sequential", "label": "neg"}));
    let records = neg["records"].as_array().unwrap();
    assert!(!records.is_empty() && records.len() < 35, "{}", records.len());
    for r in records {
        assert_eq!(r["view"]["prediction"]["label"], json!("neg"), "{r}");
    }
    let (status, body) = server.err(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 5,
        "strategy": "sequential", "label": "maybe"}));
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid")), "{body}");

    // Off: no retrain, however many labels.
    server.ok(json!({"cmd": "set_retrain_every", "dir": dir, "every": 0}));
    for &seq in &seqs[5..10] {
        assert_eq!(label(seq, "pos")["retrain_job"], json!(null));
    }
    assert_eq!(server.ok(json!({"cmd": "list_runs", "dir": dir})).as_array().unwrap().len(), 1);

    // Every label retrains: only the newest background runs are kept (with their folders).
    server.ok(json!({"cmd": "set_retrain_every", "dir": dir, "every": 1}));
    let more = server.ok(json!({"cmd": "next_batch", "dir": dir, "annotator": "web", "n": 4, "strategy": "uncertain"}));
    for r in more["records"].as_array().unwrap() {
        let receipt = label(r["view"]["record"]["seq"].as_i64().unwrap(), "pos");
        let job = receipt["retrain_job"].as_u64().unwrap_or_else(|| panic!("{receipt}"));
        assert_eq!(server.follow_job(job).last().unwrap()["status"], json!("done"));
    }
    let runs = server.ok(json!({"cmd": "list_runs", "dir": dir}));
    assert_eq!(runs.as_array().unwrap().len(), finelab_app::autotrain::KEEP_BACKGROUND_RUNS + 1, "{runs}");
    assert!(runs.as_array().unwrap().iter().all(|r| r["id"] != json!(run)), "the oldest is gone");
    let (status, _) = server.err(json!({"cmd": "get_run", "dir": dir, "run": run}));
    assert_eq!(status, 404);
    let folders = std::fs::read_dir(project.join("runs"))
        .unwrap()
        .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(folders, finelab_app::autotrain::KEEP_BACKGROUND_RUNS + 1);
    server.ok(json!({"cmd": "set_retrain_every", "dir": dir, "every": 0}));

    // Suspects as a job: progress in folds, the result per label and per annotator.
    let job = server.ok(json!({"cmd": "start_suspects", "dir": dir, "request": {"folds": 3}}));
    assert_eq!(job["kind"], json!("suspects"));
    let events = server.follow_job(job["id"].as_u64().unwrap());
    let last = events.last().unwrap();
    assert_eq!(
        (last["status"].as_str(), last["done"].as_u64(), last["total"].as_u64()),
        (Some("done"), Some(3), Some(3))
    );
    let report = &last["result"];
    let who: Vec<&str> =
        report["per_annotator"].as_array().unwrap().iter().map(|a| a["annotator"].as_str().unwrap()).collect();
    assert!(who.contains(&"web") && who.len() == 2, "{who:?}");
    let suspect = report["suspects"].as_array().unwrap().iter().find(|s| s["text"].as_str().unwrap().contains("第50"));
    let suspect = suspect.unwrap_or_else(|| panic!("a planted mislabel is suspected: {report}")).clone();
    assert_eq!(
        (suspect["label"].as_str(), suspect["suggested"].as_str(), suspect["confirmed"].as_bool()),
        (Some("neg"), Some("pos"), Some(false))
    );
    // Kept on review: the same label given again by the reviewer marks it confirmed.
    server.ok(json!({"cmd": "annotate", "dir": dir, "seq": suspect["seq"], "annotator": "lead",
        "action": {"action": "label", "value": {"label": "neg"}}}));
    let job = server.ok(json!({"cmd": "start_suspects", "dir": dir, "request": {"folds": 3}}));
    let again = server.follow_job(job["id"].as_u64().unwrap()).last().unwrap()["result"].clone();
    let kept = again["suspects"].as_array().unwrap().iter().find(|s| s["seq"] == suspect["seq"]).unwrap().clone();
    assert_eq!((kept["confirmed"].as_bool(), kept["annotator"].as_str()), (Some(true), Some("lead")), "{kept}");

    // The training curve as a job.
    let job =
        server.ok(json!({"cmd": "start_train_curve", "dir": dir, "request": {"fractions": [0.5, 1.0], "seeds": 1}}));
    let last = server.follow_job(job["id"].as_u64().unwrap()).last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["status"].as_str(), last["total"].as_u64()),
        (Some("curve"), Some("done"), Some(2))
    );
    assert_eq!(last["result"]["labels"].as_array().unwrap().len(), 2, "{last}");

    // Cold start: a project without a model tries its first retrain every ten labels, long
    // before the 50 of its setting.
    let cold = project.join("cold");
    let created = server
        .ok(json!({"cmd": "create_project", "dir": cold, "project": {"kind": "single", "labels": ["pos", "neg"]}}));
    let cold_dir = created["dir"].as_str().unwrap().to_string();
    let mut csv = String::from("text,label\n");
    for i in 0..30 {
        csv.push_str(&format!("第{i}次购买，质量很好，满意,pos\n第{i}次退货，质量太差，失望,neg\n第{i}条评论,\n"));
    }
    let (_, uploaded) = server.upload("cold.csv", csv.as_bytes());
    let job = server.ok(json!({"cmd": "start_import", "dir": cold_dir, "path": uploaded["path"], "options": {}}));
    assert_eq!(server.follow_job(job["id"].as_u64().unwrap()).last().unwrap()["status"], json!("done"));
    let batch =
        server.ok(json!({"cmd": "next_batch", "dir": cold_dir, "annotator": "web", "n": 10, "strategy": "uncertain"}));
    let jobs: Vec<Value> = batch["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            server.ok(json!({"cmd": "annotate", "dir": cold_dir, "seq": r["view"]["record"]["seq"], "annotator": "web",
                "action": {"action": "label", "value": {"label": "pos"}}}))["retrain_job"]
                .clone()
        })
        .collect();
    assert!(jobs[..9].iter().all(Value::is_null) && jobs[9].is_u64(), "{jobs:?}");
    assert_eq!(server.follow_job(jobs[9].as_u64().unwrap()).last().unwrap()["status"], json!("done"));
}

// ---------------------------------------------------------------------------------------------
// Teams: people signed in with a name and password, their roles, overlap, and a load test.

impl TestServer {
    /// `POST /signin` with JSON; the status, the body and the session cookie it set.
    fn sign_in(&self, name: &str, password: &str) -> (u16, Value, Option<String>) {
        let mut response = self
            .agent
            .post(format!("{}/signin", self.base))
            .send_json(json!({"name": name, "password": password}))
            .unwrap();
        let status = response.status().as_u16();
        let cookie =
            response.headers().get("set-cookie").map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        (status, response.body_mut().read_json().unwrap(), cookie)
    }

    /// `POST /api` with a session cookie (no token).
    fn api_as(&self, cookie: &str, request: Value) -> (u16, Value) {
        let mut response =
            self.agent.post(format!("{}/api", self.base)).header("Cookie", cookie).send_json(&request).unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_json().unwrap())
    }

    fn ok_as(&self, cookie: &str, request: Value) -> Value {
        let (status, body) = self.api_as(cookie, request.clone());
        assert_eq!(status, 200, "{request} -> {body}");
        body
    }

    /// A refusal for `cookie`: the status and the error code.
    fn refused_as(&self, cookie: &str, request: Value) -> (u16, String) {
        let (status, body) = self.api_as(cookie, request.clone());
        assert!(status >= 400, "{request} should be refused, got {status} {body}");
        assert_error_body(&body);
        (status, body["code"].as_str().unwrap().to_string())
    }
}

/// A single-label project (pos, neg) of `n` unlabeled review lines, created and imported over
/// HTTP with the token; its folder.
fn team_project(server: &TestServer, project: &Path, n: usize) -> String {
    let created = server.ok(json!({
        "cmd": "create_project", "dir": project.display().to_string(),
        "project": {"kind": "single", "labels": ["pos", "neg"]},
    }));
    let dir = created["dir"].as_str().unwrap().to_string();
    let lines: String =
        (0..n).map(|i| format!("第{i}条评论：物流{}\n", if i % 2 == 0 { "很快" } else { "太慢" })).collect();
    let (status, uploaded) = server.upload("reviews.txt", lines.as_bytes());
    assert_eq!(status, 200, "{uploaded}");
    let job = server.ok(json!({"cmd": "start_import", "dir": dir, "path": uploaded["path"], "options": {}}));
    let events = server.follow_job(job["id"].as_u64().unwrap());
    assert_eq!(events.last().unwrap()["status"], json!("done"), "{:?}", events.last());
    dir
}

#[test]
fn people_sign_in_with_roles_and_every_refusal_has_its_code() {
    use finelab_store::Role;
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("team");
    let server = start(config(&project, &tmp.path().join("config")));
    let dir = team_project(&server, &project, 12);
    let add = |name: &str, role: Role| finelab_app::users::add(Path::new(&dir), name, role).unwrap().password;
    let (admin_pw, lead_pw, ann_pw, ann2_pw) = (
        add("admin", Role::Admin),
        add("lead", Role::Reviewer),
        add("王芳", Role::Annotator),
        add("li", Role::Annotator),
    );
    assert!(finelab_app::users::add(Path::new(&dir), "lead", Role::Annotator).is_err(), "a name is taken once");

    // Signing in: a wrong password, an unknown name, a missing field, then the right one.
    let (status, body, cookie) = server.sign_in("王芳", "wrong");
    assert_eq!((status, body["code"].as_str(), cookie), (401, Some("sign_in_failed"), None));
    assert_eq!(server.sign_in("nobody", &ann_pw).1["code"], json!("sign_in_failed"));
    let (status, body, _) = server.sign_in("王芳", &ann_pw);
    assert_eq!((status, &body["role"]), (200, &json!("annotator")), "{body}");
    let ann = server.sign_in("王芳", &ann_pw).2.unwrap();
    let lead = server.sign_in("lead", &lead_pw).2.unwrap();
    let admin = server.sign_in("admin", &admin_pw).2.unwrap();
    let ann2 = server.sign_in("li", &ann2_pw).2.unwrap();
    assert!(ann.starts_with("finelab_session_"), "{ann}");
    let whoami = |cookie: &str| {
        let mut r = server.agent.get(format!("{}/api/session", server.base)).header("Cookie", cookie).call().unwrap();
        r.body_mut().read_json::<Value>().unwrap()
    };
    assert_eq!(whoami(&ann), json!({"name": "王芳", "role": "annotator", "operator": false}));
    // The cookie is HttpOnly, SameSite=Strict and expires.
    let response = server
        .agent
        .post(format!("{}/signin", server.base))
        .send_json(json!({"name": "lead", "password": lead_pw}))
        .unwrap();
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // A page with a session is the UI; without one, the sign-in page (401).
    let page = |cookie: Option<&str>| {
        let mut request = server.agent.get(format!("{}/label", server.base));
        if let Some(c) = cookie {
            request = request.header("Cookie", c);
        }
        let mut r = request.call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    assert_eq!(page(Some(&ann)).0, 200);
    let (status, html) = page(None);
    assert_eq!(status, 401);
    assert!(html.contains("action=\"/signin\"") && html.contains("type=\"password\""), "{html}");

    // An annotator labels under their own name whatever the request says.
    let batch = server.ok_as(
        &ann,
        json!({"cmd": "next_batch", "dir": dir, "annotator": "someone else", "n": 3, "strategy": "sequential"}),
    );
    let seqs: Vec<i64> =
        batch["records"].as_array().unwrap().iter().map(|r| r["view"]["record"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs.len(), 3);
    let label = |cookie: &str, seq: i64, value: &str| {
        server.ok_as(
            cookie,
            json!({"cmd": "annotate", "dir": dir, "seq": seq, "annotator": "forged",
                                    "action": {"action": "label", "value": {"label": value}}}),
        )
    };
    label(&ann, seqs[0], "pos");
    let record = server.ok(json!({"cmd": "get_record", "dir": dir, "seq": seqs[0]}));
    assert_eq!(record["annotations"][0]["annotator"], json!("王芳"), "{record}");
    // Overlap 1: the records served to 王芳 are not served to li while held.
    let other = server
        .ok_as(&ann2, json!({"cmd": "next_batch", "dir": dir, "annotator": "li", "n": 20, "strategy": "sequential"}));
    let other_seqs: Vec<i64> =
        other["records"].as_array().unwrap().iter().map(|r| r["view"]["record"]["seq"].as_i64().unwrap()).collect();
    assert!(other_seqs.iter().all(|s| !seqs.contains(s)), "{seqs:?} were served to both: {other_seqs:?}");
    assert_eq!(other_seqs.len(), 12 - 3, "everything else");

    // Annotators see only their own labels (unless the project says otherwise).
    label(&ann2, other_seqs[0], "neg");
    let own = server.ok_as(&ann, json!({"cmd": "get_record", "dir": dir, "seq": other_seqs[0]}));
    assert_eq!((own["annotations"].as_array().unwrap().len(), &own["value"]), (0, &Value::Null), "{own}");
    let seen = server.ok_as(&lead, json!({"cmd": "get_record", "dir": dir, "seq": other_seqs[0]}));
    assert_eq!(seen["annotations"][0]["annotator"], json!("li"));
    server.ok_as(&admin, json!({"cmd": "update_settings", "dir": dir, "change": {"annotators_see_others": true}}));
    let own = server.ok_as(&ann, json!({"cmd": "get_record", "dir": dir, "seq": other_seqs[0]}));
    assert_eq!(own["annotations"][0]["annotator"], json!("li"), "{own}");

    // Every refusal, request by request, with its code.
    let wrong_role = (403, "wrong_role".to_string());
    let train = json!({"cmd": "start_train", "dir": dir, "request": {"model": "instant"}});
    assert_eq!(server.refused_as(&ann, json!({"cmd": "list_runs", "dir": dir})), wrong_role);
    assert_eq!(server.refused_as(&ann, json!({"cmd": "agreement", "dir": dir})), wrong_role);
    assert_eq!(
        server.refused_as(
            &ann,
            json!({"cmd": "adjudicate", "dir": dir, "seq": seqs[0], "reviewer": "x", "value": {"label": "neg"}})
        ),
        wrong_role
    );
    assert_eq!(server.refused_as(&ann, train.clone()), wrong_role);
    assert_eq!(server.refused_as(&lead, train.clone()), wrong_role);
    assert_eq!(
        server.refused_as(&lead, json!({"cmd": "update_settings", "dir": dir, "change": {"overlap": 2}})),
        wrong_role
    );
    assert_eq!(server.refused_as(&lead, json!({"cmd": "recent_projects"})), wrong_role);
    // Requests that name server paths are for admins; others work in the served project only.
    let elsewhere = tmp.path().join("elsewhere").display().to_string();
    assert_eq!(server.refused_as(&lead, json!({"cmd": "open_project", "dir": elsewhere})), wrong_role);
    assert_eq!(server.refused_as(&ann, json!({"cmd": "stats", "dir": elsewhere})), wrong_role);
    assert_eq!(
        server.refused_as(
            &lead,
            json!({"cmd": "preview_import", "dir": dir, "path": format!("{dir}/uploads/reviews.txt"), "options": {}})
        ),
        wrong_role
    );
    assert_eq!(
        server.refused_as(&ann, json!({"cmd": "export_model", "dir": dir, "run": "x", "dest": format!("{dir}/out")})),
        wrong_role
    );
    let upload = server
        .agent
        .post(format!("{}/api/upload", server.base))
        .header("Cookie", &lead)
        .query("name", "x.txt")
        .send(&b"x"[..])
        .unwrap();
    assert_eq!(upload.status().as_u16(), 403);
    // Reviewers read runs and agreement; admins train.
    server.ok_as(&lead, json!({"cmd": "list_runs", "dir": dir}));
    server.ok_as(&lead, json!({"cmd": "agreement", "dir": dir}));
    let job = server.ok_as(&admin, train);
    assert_eq!(job["status"], json!("running"));
    // No session, a made-up one, a foreign page.
    assert_eq!(
        server.refused_as("finelab_session_0=nothing", json!({"cmd": "stats", "dir": dir})),
        (401, "unauthorized".into())
    );
    assert_eq!(server.refused_as("", json!({"cmd": "stats", "dir": dir})), (401, "unauthorized".into()));
    let host = server.base.trim_start_matches("http://").to_string();
    let (status, response) = raw_request(
        &server.base,
        &format!("POST /api HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nCookie: {ann}\r\n"),
        &json!({"cmd": "stats", "dir": dir}).to_string(),
    );
    assert_eq!(status, 403, "{response}");
    assert!(response.contains(r#""code":"forbidden""#), "{response}");
    let (status, _) = raw_request(
        &server.base,
        &format!("POST /signin HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\n"),
        &json!({"name": "lead", "password": lead_pw}).to_string(),
    );
    assert_eq!(status, 403, "a sign-in from another site's page");

    // A new password or a removed user ends their sessions.
    finelab_app::users::reset(Path::new(&dir), "li").unwrap();
    assert_eq!(server.refused_as(&ann2, json!({"cmd": "stats", "dir": dir})), (401, "session_expired".into()));
    finelab_app::users::remove(Path::new(&dir), "lead").unwrap();
    assert_eq!(server.refused_as(&lead, json!({"cmd": "stats", "dir": dir})), (401, "session_expired".into()));
    assert_eq!(server.sign_in("lead", &lead_pw).0, 401);
    // Signing out ends the session too.
    let out = server
        .agent
        .post(format!("{}/signout", server.base))
        .header("Cookie", &ann)
        .config()
        .max_redirects(0)
        .build()
        .send_empty()
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(out.headers().get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(server.refused_as(&ann, json!({"cmd": "stats", "dir": dir})), (401, "session_expired".into()));

    // Too many failed sign-ins lock the name out, the right password included; others are not.
    for _ in 0..5 {
        assert_eq!(server.sign_in("admin", "guess").0, 401);
    }
    let (status, body, cookie) = server.sign_in("admin", &admin_pw);
    assert_eq!((status, body["code"].as_str(), cookie), (429, Some("too_many_attempts"), None), "{body}");
    assert_eq!(server.sign_in("王芳", &ann_pw).0, 200);
    // The token still works as before accounts existed.
    server.ok(json!({"cmd": "stats", "dir": dir}));
}

#[test]
fn sessions_expire() {
    use finelab_store::Role;
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("team");
    let server =
        start(ServerConfig { session_ttl: Duration::from_millis(700), ..config(&project, &tmp.path().join("c")) });
    let dir = team_project(&server, &project, 2);
    let password = finelab_app::users::add(Path::new(&dir), "ann", Role::Annotator).unwrap().password;
    let cookie = server.sign_in("ann", &password).2.unwrap();
    server.ok_as(&cookie, json!({"cmd": "stats", "dir": dir}));
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(server.refused_as(&cookie, json!({"cmd": "stats", "dir": dir})), (401, "session_expired".into()));
}

/// The load test: 20 annotators signed in over HTTP label at once, each a fixed number of
/// records, with overlap 2. Every acknowledged annotation is in the database, none twice, no
/// error (no "database is locked") reaches a client, and no record gets more than 2 labels.
#[test]
fn twenty_signed_in_annotators_label_at_once_with_overlap_two() {
    use finelab_store::Role;
    const PEOPLE: usize = 20;
    const EACH: usize = 12;
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("team");
    let server = std::sync::Arc::new(start(config(&project, &tmp.path().join("c"))));
    let dir = team_project(&server, &project, PEOPLE * EACH / 2 + 10);
    server.ok(json!({"cmd": "update_settings", "dir": dir, "change": {"overlap": 2, "retrain_every": 0}}));
    let people: Vec<(String, String)> = (0..PEOPLE)
        .map(|i| {
            let name = format!("标注员{i}");
            let password = finelab_app::users::add(Path::new(&dir), &name, Role::Annotator).unwrap().password;
            (name, password)
        })
        .collect();
    let threads: Vec<_> = people
        .into_iter()
        .map(|(name, password)| {
            let (server, dir) = (server.clone(), dir.clone());
            std::thread::spawn(move || {
                let (status, body, cookie) = server.sign_in(&name, &password);
                assert_eq!(status, 200, "{name}: {body}");
                let cookie = cookie.unwrap();
                let mut acknowledged: Vec<(i64, String)> = Vec::new();
                while acknowledged.len() < EACH {
                    let batch = server.ok_as(
                        &cookie,
                        json!({"cmd": "next_batch", "dir": dir, "annotator": name, "n": 4, "strategy": "sequential"}),
                    );
                    let records = batch["records"].as_array().unwrap().clone();
                    assert!(!records.is_empty(), "{name} ran out of records after {}", acknowledged.len());
                    for r in records.iter().take(EACH - acknowledged.len()) {
                        let seq = r["view"]["record"]["seq"].as_i64().unwrap();
                        let value = if (seq + acknowledged.len() as i64) % 3 == 0 { "neg" } else { "pos" };
                        let (status, body) = server.api_as(
                            &cookie,
                            json!({"cmd": "annotate", "dir": dir, "seq": seq, "annotator": name,
                                   "action": {"action": "label", "value": {"label": value}}}),
                        );
                        assert_eq!(status, 200, "{name} labeling #{seq}: {body}");
                        acknowledged.push((seq, value.to_string()));
                    }
                }
                (name, acknowledged)
            })
        })
        .collect();
    let results: Vec<(String, Vec<(i64, String)>)> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let store = finelab_store::Store::open(Path::new(&dir)).unwrap();
    let ratings = store.ratings().unwrap();
    let mut per_record: std::collections::HashMap<i64, usize> = Default::default();
    for r in &ratings {
        *per_record.entry(r.seq).or_default() += 1;
    }
    assert!(per_record.values().all(|&n| n <= 2), "overlap 2 exceeded: {per_record:?}");
    let mut total = 0;
    for (name, acknowledged) in &results {
        let mut seen = std::collections::HashSet::new();
        for (seq, value) in acknowledged {
            assert!(seen.insert(*seq), "{name} was served #{seq} twice");
            let stored = ratings.iter().find(|r| r.seq == *seq && r.annotator == *name);
            assert_eq!(
                stored.map(|r| r.value.clone()),
                Some(finelab_store::AnnotationValue::Label(value.clone())),
                "{name} #{seq}"
            );
        }
        total += acknowledged.len();
    }
    assert_eq!(ratings.len(), total, "every acknowledged label once, nothing else");
    assert_eq!(total, PEOPLE * EACH);
}

/// Every request kind, as an annotator and as a reviewer: refused with `wrong_role` exactly
/// where the policy says the role may not (the kinds come from the generated TypeScript, so a
/// new kind is checked too; the policy is written out here, apart from the server's).
#[test]
fn every_request_kind_is_allowed_or_refused_by_role() {
    use finelab_store::Role;
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("team");
    let server = start(config(&project, &tmp.path().join("c")));
    let dir = team_project(&server, &project, 4);
    let password = |name: &str, role| finelab_app::users::add(Path::new(&dir), name, role).unwrap().password;
    let ann = server.sign_in("ann", &password("ann", Role::Annotator)).2.unwrap();
    let lead = server.sign_in("lead", &password("lead", Role::Reviewer)).2.unwrap();
    let annotator_may = [
        "app_info",
        "open_project",
        "stats",
        "next_record",
        "next_batch",
        "get_record",
        "annotate",
        "undo",
        "search",
        "count_records",
        "job",
        "list_jobs",
        "draft",
        "list_comparisons",
        "next_comparison_item",
        "prefer",
        "undo_preference",
    ];
    let reviewer_may = [
        "list_runs",
        "get_run",
        "evaluate",
        "run_records",
        "suspects",
        "start_suspects",
        "train_curve",
        "start_train_curve",
        "cancel_job",
        "agreement",
        "disagreements",
        "adjudicate",
        "people",
        "assign_slice",
        "list_assignments",
        "remove_assignment",
        "production_mix",
        "start_comparison",
        "comparison_report",
        "generation_records",
        "list_deployments",
        "run_costs",
    ];
    let ts =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/types/api.ts")).unwrap();
    let kinds: Vec<&str> = ts.split("\"cmd\": \"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert!(kinds.len() > 40, "{kinds:?}");
    let elsewhere = format!("{dir}/uploads/x.txt");
    for kind in kinds {
        // One body with every field any kind takes (unknown fields are ignored).
        let request = json!({
            "cmd": kind, "dir": dir, "seq": 1, "annotator": "x", "reviewer": "x", "action": {"action": "skip"},
            "value": {"label": "pos"}, "id": 999, "name": "someone", "role": "annotator", "path": elsewhere,
            "dest": elsewhere, "output": elsewhere, "run": "nope", "query": {"text": "zzz"}, "people": ["x"],
            "n": 1, "strategy": "sequential", "limit": 1, "change": {}, "markdown": "", "every": 0,
            "project": {"kind": "single", "labels": ["pos", "neg"]}, "options": {},
            "request": {"model": "instant", "a": "reference", "b": "reference", "run": "nope", "method": "prune"}, "split": "dev",
            "comparison": 999, "position": 0, "pick": "tie", "by": "x",
        });
        for (cookie, who, allowed) in [
            (&ann, "annotator", annotator_may.contains(&kind)),
            (&lead, "reviewer", annotator_may.contains(&kind) || reviewer_may.contains(&kind)),
        ] {
            let (status, body) = server.api_as(cookie, request.clone());
            let refused = status == 403 && body["code"] == "wrong_role";
            assert_eq!(refused, !allowed, "{kind} as {who}: {status} {body}");
        }
    }
}
