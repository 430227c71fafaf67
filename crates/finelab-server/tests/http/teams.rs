//! Teams: people signed in with a name and password, their roles, overlap, and a load test.

use super::*;

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
