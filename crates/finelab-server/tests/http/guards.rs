//! What keeps the API to its owner: the token (by header or query, generated off loopback, needed
//! on loopback too), other sites' pages, upload names and sizes, paths outside the project, and
//! clients that stall or open too many connections.

use super::*;

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
