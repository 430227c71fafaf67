//! `finelab serve-model` end to end: real models trained or made in the test (an instant
//! classifier and span tagger, a tiny random generator), a real server on a free port, plain HTTP
//! for classify and tag, and the official `openai` Python client for the generator.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use finelab_deploy::{ModelSpec, ServeConfig, Server};
use finelab_train::generator::generate::GenerateOptions;
use finelab_train::generator::model::Arch;
use finelab_train::generator::template::Message;
use finelab_train::generator::tiny::{write_tiny_generator, TinyGenSpec};
use finelab_train::generator::GeneratorModel;
use finelab_train::{train, Control, Dataset, Example, Prediction, Predictor, Span, Target, Task, TrainConfig};
use serde_json::{json, Value};

/// A server running on its own runtime for the length of a test.
struct TestServer {
    /// `http://127.0.0.1:PORT`
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    _runtime: tokio::runtime::Runtime,
}

fn start(config: ServeConfig) -> TestServer {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server: Server = runtime.block_on(Server::bind(config)).unwrap();
    let port = server.local_addr().port();
    let token = server.token().map(String::from);
    runtime.spawn(server.run(std::future::pending()));
    TestServer { base: format!("http://127.0.0.1:{port}"), token, agent: agent(), _runtime: runtime }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn config(models: &[(&str, &Path)]) -> ServeConfig {
    let specs = models.iter().map(|(name, dir)| ModelSpec { name: name.to_string(), dir: dir.to_path_buf() }).collect();
    ServeConfig { addr: "127.0.0.1:0".parse().unwrap(), ..ServeConfig::new(specs) }
}

impl TestServer {
    /// `POST path` with `body` (and the token, when the server has one): status and JSON.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        post(&self.agent, &format!("{}{path}", self.base), self.token.as_deref(), body)
    }

    /// `GET path`: status and body text.
    fn get(&self, path: &str) -> (u16, String) {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let mut response = request.call().unwrap();
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
    }
}

fn post(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = agent.post(url);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send_json(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}")))
}

/// An error answer has OpenAI's shape: `{"error": {"message", "type", "code"}}`.
fn assert_error(body: &Value, code: &str) {
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["type"].as_str().is_some(), "{body}");
    assert_eq!(error["code"], code, "{body}");
}

const SUBJECTS: &[&str] = &["这个手机", "物流", "客服", "the phone", "this shop", "包装", "the screen 📱"];
const POSITIVE: &[&str] = &["很好", "非常满意", "is great", "I love it", "超级喜欢", "好评"];
const NEGATIVE: &[&str] = &["很差", "太失望了", "is terrible", "I hate it", "质量垃圾", "差评"];
const PEOPLE: &[&str] = &["张伟", "李娜", "Alice", "王小明"];
const PLACES: &[&str] = &["北京", "上海", "Paris", "深圳"];

/// Trains an instant sentiment classifier and an instant PER/LOC tagger in `dir`.
fn instant_models(dir: &Path) -> (PathBuf, PathBuf) {
    let sentiment = |range: std::ops::Range<usize>, prefix: &str| -> Vec<Example> {
        range
            .map(|i| {
                let (label, words) = if i % 2 == 0 { ("pos", POSITIVE) } else { ("neg", NEGATIVE) };
                let text = format!("{} {}", SUBJECTS[i % SUBJECTS.len()], words[(i / 2) % words.len()]);
                Example { id: format!("{prefix}{i}"), text, target: Target::Single(label.into()) }
            })
            .collect()
    };
    let dataset = Dataset {
        task: Task::Single,
        labels: vec!["pos".into(), "neg".into()],
        train: sentiment(0..80, "tr"),
        dev: sentiment(80..100, "dv"),
        test: Vec::new(),
    };
    let classifier = dir.join("sentiment");
    train(&dataset, &TrainConfig::default(), &classifier, &mut |_| Control::Continue).unwrap();

    let entities = |range: std::ops::Range<usize>, prefix: &str| -> Vec<Example> {
        range
            .map(|i| {
                let (person, place) = (PEOPLE[i % PEOPLE.len()], PLACES[(i / 3) % PLACES.len()]);
                let lead = ["昨天", "今天 🙂 ", "Yesterday "][i % 3];
                let text = format!("{lead}{person}在{place}工作");
                let start = lead.chars().count();
                let person_end = start + person.chars().count();
                let place_start = person_end + 1;
                let spans = vec![
                    Span::new(start, person_end, "PER"),
                    Span::new(place_start, place_start + place.chars().count(), "LOC"),
                ];
                Example { id: format!("{prefix}{i}"), text, target: Target::Spans(spans) }
            })
            .collect()
    };
    let dataset = Dataset {
        task: Task::Spans,
        labels: vec!["PER".into(), "LOC".into()],
        train: entities(0..90, "tr"),
        dev: entities(90..110, "dv"),
        test: Vec::new(),
    };
    let tagger = dir.join("entities");
    train(&dataset, &TrainConfig::default(), &tagger, &mut |_| Control::Continue).unwrap();
    (classifier, tagger)
}

/// Writes a tiny random qwen2 generator with a BPE vocabulary of the test's texts.
fn tiny_generator(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus.txt");
    let lines: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "{} {} {} the weather today is sunny 天气很好 you answer briefly",
                SUBJECTS[i % SUBJECTS.len()],
                POSITIVE[i % POSITIVE.len()],
                PEOPLE[i % PEOPLE.len()]
            )
        })
        .collect();
    std::fs::write(&corpus, lines.join("\n")).unwrap();
    let out = dir.join("tiny-qwen");
    write_tiny_generator(&out, &corpus, &TinyGenSpec::new(Arch::Qwen2, 5)).unwrap();
    out
}

/// The metrics of a Prometheus text page (format 0.0.4): every sample line is `name{labels}
/// value` of a family declared by `# TYPE`, every histogram's buckets grow to its `+Inf` bucket,
/// which equals its `_count`. Returns (sample with labels, value) pairs.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut types: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.push((name.to_string(), kind.to_string()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "{line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
                    assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line}");
                    assert!(!value.trim_end_matches('"').contains('\n'), "{line}");
                }
            }
        }
        let family = types
            .iter()
            .find(|(t, kind)| {
                name == t
                    || (kind == "histogram"
                        && [format!("{t}_bucket"), format!("{t}_sum"), format!("{t}_count")]
                            .contains(&name.to_string()))
            })
            .unwrap_or_else(|| panic!("a sample of no declared family: {line}"));
        assert!(!family.0.is_empty());
        samples.push((series.to_string(), value));
    }
    // Buckets are cumulative and end at the count.
    let mut last: Option<(String, f64)> = None;
    for (series, value) in &samples {
        if let Some((prefix, _)) = series.split_once(",le=\"") {
            if let Some((p, v)) = &last {
                if p == prefix {
                    assert!(value >= v, "{series} {value} < {v}");
                }
            }
            if series.contains("le=\"+Inf\"") {
                let count = series.replace("_bucket{", "_count{").replace(",le=\"+Inf\"", "");
                let n = samples.iter().find(|(s, _)| *s == count).unwrap_or_else(|| panic!("no {count}")).1;
                assert_eq!(*value, n, "{series}");
            }
            last = Some((prefix.to_string(), *value));
        }
    }
    samples
}

/// The `results` of a classify or tag answer, read back as predictions (scores as the f32 they
/// were written from).
fn predictions(body: &Value) -> Vec<Prediction> {
    serde_json::from_value(body["results"].clone()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
}

#[test]
fn classify_and_tag_over_http_equal_predict_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (classifier, tagger) = instant_models(dir.path());
    let server = start(config(&[("sentiment", &classifier), ("entities", &tagger)]));

    let texts: Vec<String> = vec![
        "这个手机 很好".into(),
        "the screen 📱 is terrible".into(),
        "物流 太失望了".into(),
        "I love it, 非常满意".into(),
        "".into(),
    ];
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let expected = Predictor::load(&classifier).unwrap().predict_batch(&refs).unwrap();
    let (status, body) = server.post("/v1/classify", &json!({"model": "sentiment", "texts": texts}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "sentiment");
    assert_eq!(predictions(&body), expected);
    assert!(body["results"][0]["label"].is_string() && body["results"][0]["scores"]["pos"].is_number(), "{body}");

    let sentences: Vec<String> =
        vec!["今天 🙂 李娜在Paris工作".into(), "Yesterday Alice在深圳工作".into(), "昨天张伟在北京工作".into()];
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let expected = Predictor::load(&tagger).unwrap().predict_batch(&refs).unwrap();
    // The only tagger is taken when none is named.
    let (status, body) = server.post("/v1/tag", &json!({"texts": sentences}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(predictions(&body), expected);
    let spans = body["results"][0]["spans"].as_array().unwrap();
    assert!(!spans.is_empty(), "{body}");
    // Code points: the emoji is one.
    let first = &spans[0];
    let text: Vec<char> = sentences[0].chars().collect();
    let span_text: String =
        text[first["start"].as_u64().unwrap() as usize..first["end"].as_u64().unwrap() as usize].iter().collect();
    assert_eq!(span_text, "李娜", "{body}");

    // Many clients at once: each gets the predictions of its own texts, and batches form.
    let predictor = Predictor::load(&classifier).unwrap();
    std::thread::scope(|scope| {
        for t in 0..16 {
            let (server, predictor) = (&server, &predictor);
            scope.spawn(move || {
                for i in 0..20 {
                    let text = format!("{} {}", SUBJECTS[(t + i) % SUBJECTS.len()], NEGATIVE[i % NEGATIVE.len()]);
                    let (status, body) = server.post("/v1/classify", &json!({"texts": [text]}));
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(predictions(&body), [predictor.predict(&text)]);
                }
            });
        }
    });

    // Refusals, each with OpenAI's error shape.
    let check = |path: &str, body: Value, status: u16, code: &str| {
        let (got, answer) = server.post(path, &body);
        assert_eq!(got, status, "{path} {body} -> {answer}");
        assert_error(&answer, code);
    };
    check("/v1/classify", json!({"model": "nope", "texts": ["a"]}), 404, "model_not_found");
    check("/v1/classify", json!({"model": "entities", "texts": ["a"]}), 400, "invalid_request");
    check("/v1/tag", json!({"model": "sentiment", "texts": ["a"]}), 400, "invalid_request");
    check("/v1/classify", json!({"texts": []}), 400, "invalid_request");
    check("/v1/classify", json!({"text": "a"}), 400, "invalid_request");
    check("/v1/classify", json!({"texts": vec!["a"; 1025]}), 413, "request_too_large");
    check("/v1/classify", json!({"texts": ["x".repeat(9 << 20)]}), 413, "request_too_large");
    check("/v1/chat/completions", json!({"messages": [{"role": "user", "content": "hi"}]}), 404, "model_not_found");
    check("/v1/nothing", json!({}), 404, "no_such_route");

    let (status, health) = server.get("/health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    let names: Vec<&str> = health["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sentiment", "entities"]);
    assert_eq!(health["models"][0]["kind"], "single");
    assert_eq!(health["models"][1]["kind"], "spans");

    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200);
    let samples = parse_prometheus(&text);
    assert_eq!(
        sample(&samples, r#"finelab_requests_total{route="/v1/classify",status="200"}"#),
        1.0 + 16.0 * 20.0,
        "{text}"
    );
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/tag",status="200"}"#), 1.0, "{text}");
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/classify",status="404"}"#), 1.0, "{text}");
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/classify",status="413"}"#), 2.0, "{text}");
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="unmatched",status="404"}"#), 1.0, "{text}");
    // One tagged, one refused.
    assert_eq!(sample(&samples, r#"finelab_request_duration_seconds_count{route="/v1/tag"}"#), 2.0, "{text}");
    // Every text was predicted once, in batches.
    let texts_predicted = sample(&samples, r#"finelab_batch_size_sum{model="sentiment"}"#);
    let batches = sample(&samples, r#"finelab_batch_size_count{model="sentiment"}"#);
    assert_eq!(texts_predicted, 5.0 + 16.0 * 20.0, "{text}");
    assert!(batches <= texts_predicted, "{text}");
    assert_eq!(sample(&samples, r#"finelab_queue_depth{model="sentiment"}"#), 0.0, "{text}");
    assert_eq!(sample(&samples, r#"finelab_queue_capacity{model="sentiment"}"#), 256.0, "{text}");
}

#[test]
fn a_full_queue_answers_429() {
    let dir = tempfile::tempdir().unwrap();
    let (classifier, _) = instant_models(dir.path());
    let server = start(ServeConfig {
        queue: 1,
        max_batch: 1,
        pause_each_batch: Some(Duration::from_millis(1500)),
        ..config(&[("sentiment", &classifier)])
    });
    let request = json!({"texts": ["这个手机 很好"]});
    std::thread::scope(|scope| {
        // The first is taken by the worker (and held by the pause), the second waits in the
        // queue, the third finds it full.
        let first = scope.spawn(|| server.post("/v1/classify", &request));
        std::thread::sleep(Duration::from_millis(400));
        let second = scope.spawn(|| server.post("/v1/classify", &request));
        std::thread::sleep(Duration::from_millis(400));
        let (status, body) = server.post("/v1/classify", &request);
        assert_eq!(status, 429, "{body}");
        assert_error(&body, "queue_full");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        let (_, text) = server.get("/metrics");
        let samples = parse_prometheus(&text);
        assert_eq!(sample(&samples, r#"finelab_queue_depth{model="sentiment"}"#), 1.0, "{text}");
        assert_eq!(first.join().unwrap().0, 200);
        assert_eq!(second.join().unwrap().0, 200);
    });
    let (_, text) = server.get("/metrics");
    let samples = parse_prometheus(&text);
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/classify",status="429"}"#), 1.0, "{text}");
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/classify",status="200"}"#), 2.0, "{text}");
}

/// Sends one raw HTTP/1.1 request (headers as given, no others): the status.
fn raw_status(base: &str, head: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "{head}Connection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_token_is_required_off_loopback_and_when_given() {
    let dir = tempfile::tempdir().unwrap();
    let (classifier, _) = instant_models(dir.path());
    let request = json!({"texts": ["物流 很好"]});

    // Any address beyond loopback: a token is generated and every route needs it.
    let open = start(ServeConfig { addr: "0.0.0.0:0".parse().unwrap(), ..config(&[("s", &classifier)]) });
    let token = open.token.clone().expect("a generated token");
    assert_eq!(token.len(), 32);
    let url = format!("{}/v1/classify", open.base);
    let (status, body) = post(&open.agent, &url, None, &request);
    assert_eq!(status, 401, "{body}");
    assert_error(&body, "invalid_api_key");
    assert_eq!(post(&open.agent, &url, Some("wrong-token-123"), &request).0, 401);
    assert_eq!(post(&open.agent, &url, Some(&token), &request).0, 200);
    for path in ["/health", "/metrics", "/v1/models"] {
        assert_eq!(open.agent.get(format!("{}{path}", open.base)).call().unwrap().status().as_u16(), 401, "{path}");
        assert_eq!(open.get(path).0, 200, "{path}");
    }
    // Reached by a non-loopback name: no DNS-rebinding refusal off loopback.
    let port = open.base.rsplit(':').next().unwrap();
    let head = format!("GET /health HTTP/1.1\r\nHost: 192.0.2.1:{port}\r\nAuthorization: Bearer {token}\r\n");
    assert_eq!(raw_status(&open.base, &head), 200);

    // Loopback: open without a token, closed with one.
    let local = start(config(&[("s", &classifier)]));
    assert!(local.token.is_none());
    assert_eq!(local.post("/v1/classify", &request).0, 200);
    // A page of another site, and a loopback server named by another host (DNS rebinding).
    let port = local.base.rsplit(':').next().unwrap();
    assert_eq!(raw_status(&local.base, &format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n")), 200);
    assert_eq!(raw_status(&local.base, &format!("GET /health HTTP/1.1\r\nHost: evil.example:{port}\r\n")), 403);
    let head = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n");
    assert_eq!(raw_status(&local.base, &head), 403);

    let guarded = start(ServeConfig { token: Some("a-given-token".into()), ..config(&[("s", &classifier)]) });
    let url = format!("{}/v1/classify", guarded.base);
    assert_eq!(post(&guarded.agent, &url, None, &request).0, 401);
    assert_eq!(post(&guarded.agent, &url, Some("a-given-token"), &request).0, 200);

    // A token that cannot travel in a header is refused at start.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bad = ServeConfig { token: Some("short".into()), ..config(&[("s", &classifier)]) };
    assert!(runtime.block_on(Server::bind(bad)).is_err());
}

/// The venv's Python (`$FINELAB_PYTHON`, else `.venv/bin/python` at the repository root).
fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var_os("FINELAB_PYTHON").map(PathBuf::from).unwrap_or_else(|| root.join(".venv/bin/python"));
    assert!(python.is_file(), "{}: no Python; run scripts/setup.sh (it installs the openai client)", python.display());
    python
}

/// The server's text of a streamed response: every `data:` chunk's content joined, checked to
/// end with `[DONE]`.
fn read_stream(server: &TestServer, path: &str, body: &Value) -> (String, Vec<Value>) {
    let mut response = server.agent.post(format!("{}{path}", server.base)).send_json(body).unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert_eq!(content_type, "text/event-stream");
    let text = response.body_mut().read_to_string().unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"), "{text}");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    let joined = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap().iter())
        .filter_map(|c| c["delta"]["content"].as_str().or(c["text"].as_str()))
        .collect();
    (joined, chunks)
}

#[test]
fn the_openai_client_talks_to_a_served_generator() {
    let dir = tempfile::tempdir().unwrap();
    let generator = tiny_generator(dir.path());
    let server = start(config(&[("tiny-qwen", &generator)]));
    let max_tokens = 24;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/reference/openai_client_check.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(format!("{}/v1", server.base))
        .arg("tiny-qwen")
        .args(["--max-tokens", &max_tokens.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();

    // The server's own greedy generation for the same messages and prompt.
    let model = GeneratorModel::load(&generator).unwrap();
    let messages: Vec<Message> = got["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    let options = GenerateOptions { max_new_tokens: max_tokens, temperature: 0.0, ..GenerateOptions::default() };
    let expected = model.generate(std::slice::from_ref(&messages), &options).unwrap().remove(0);
    assert!(!expected.is_empty());
    let chat = &got["chat"];
    assert_eq!(chat["object"], "chat.completion");
    assert_eq!(chat["model"], "tiny-qwen");
    assert_eq!(chat["role"], "assistant");
    assert_eq!(chat["content"].as_str().unwrap(), expected, "{got}");
    let prompt_tokens = model.prompt_ids(std::slice::from_ref(&messages)).unwrap()[0].len() as u64;
    assert_eq!(chat["usage"]["prompt_tokens"], prompt_tokens);
    let completion_tokens = chat["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(completion_tokens >= 1 && completion_tokens <= max_tokens as u64, "{got}");
    assert_eq!(chat["usage"]["total_tokens"], prompt_tokens + completion_tokens);
    let finish = if completion_tokens == max_tokens as u64 { "length" } else { "stop" };
    assert_eq!(chat["finish_reason"], finish);

    let stream = &got["stream"];
    let chunks: Vec<&str> = stream["chunks"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(chunks.concat(), expected, "{got}");
    assert!(chunks.len() > 1, "streamed token by token: {got}");
    assert_eq!(stream["roles"], json!(["assistant"]));
    assert_eq!(stream["finish_reason"], finish);

    let prompt = got["prompt"].as_str().unwrap();
    let ids = model.tokenizer.tokenize(prompt).unwrap();
    let generated = model.generate_ids(std::slice::from_ref(&ids), &options).unwrap().remove(0);
    let expected_completion = model.tokenizer.decode(&generated.ids).unwrap();
    assert_eq!(got["completion"]["object"], "text_completion");
    assert_eq!(got["completion"]["text"].as_str().unwrap(), expected_completion, "{got}");
    assert_eq!(got["completion"]["usage"]["prompt_tokens"], ids.len() as u64);

    assert_eq!(got["models"], json!([{"id": "tiny-qwen", "object": "model", "owned_by": "finelab"}]));

    // A stop string ends the answer before it, streamed or not, and the usage chunk comes last.
    let cut = expected.char_indices().nth(expected.chars().count() / 2).map_or(0, |(i, _)| i);
    let stop: String = expected[cut..].chars().take(2).collect();
    let until = &expected[..expected.find(&stop).unwrap()];
    let body = json!({"model": "tiny-qwen", "messages": got["messages"], "max_tokens": max_tokens, "temperature": 0, "stop": [stop]});
    let (status, answer) = server.post("/v1/chat/completions", &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["message"]["content"].as_str().unwrap(), until, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (joined, chunks) = read_stream(&server, "/v1/chat/completions", &streamed);
    assert_eq!(joined, until);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], prompt_tokens);
    assert_eq!(chunks[chunks.len() - 2]["choices"][0]["finish_reason"], "stop");

    // Several prompts in one completion request, and several requests at once: batched, each
    // the same as alone.
    let prompts = ["the weather", "这个手机", "Alice"];
    let alone: Vec<String> = prompts
        .iter()
        .map(|p| {
            let ids = model.tokenizer.tokenize(p).unwrap();
            let options = GenerateOptions { max_new_tokens: 8, ..options.clone() };
            model.tokenizer.decode(&model.generate_ids(&[ids], &options).unwrap()[0].ids).unwrap()
        })
        .collect();
    let (status, answer) =
        server.post("/v1/completions", &json!({"prompt": prompts, "max_tokens": 8, "temperature": 0}));
    assert_eq!(status, 200, "{answer}");
    let texts: Vec<&str> = answer["choices"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(texts, alone);
    std::thread::scope(|scope| {
        for (p, expected) in prompts.iter().zip(&alone) {
            let server = &server;
            scope.spawn(move || {
                for _ in 0..3 {
                    let body = json!({"model": "tiny-qwen", "prompt": p, "max_tokens": 8, "temperature": 0});
                    let (status, answer) = server.post("/v1/completions", &body);
                    assert_eq!(status, 200, "{answer}");
                    assert_eq!(answer["choices"][0]["text"].as_str().unwrap(), expected);
                }
            });
        }
    });

    // Refusals in OpenAI's shape.
    let check = |body: Value, status: u16, code: &str| {
        let (got, answer) = server.post("/v1/chat/completions", &body);
        assert_eq!(got, status, "{body} -> {answer}");
        assert_error(&answer, code);
    };
    let hi = json!([{"role": "user", "content": "hi"}]);
    check(json!({"model": "other", "messages": hi}), 404, "model_not_found");
    check(json!({"messages": hi, "n": 2}), 400, "invalid_request");
    check(json!({"messages": hi, "max_tokens": 100000}), 400, "context_length_exceeded");
    check(json!({"messages": hi, "temperature": 3}), 400, "invalid_request");
    check(json!({"messages": []}), 400, "invalid_request");
    check(json!({"model": "tiny-qwen", "texts": ["a"]}), 400, "invalid_request");
    let (status, answer) = server.post("/v1/classify", &json!({"model": "tiny-qwen", "texts": ["a"]}));
    assert_eq!(status, 400, "{answer}");

    let (_, text) = server.get("/metrics");
    let samples = parse_prometheus(&text);
    assert_eq!(sample(&samples, r#"finelab_requests_total{route="/v1/chat/completions",status="200"}"#), 4.0, "{text}");
    assert!(sample(&samples, r#"finelab_generated_tokens_total{model="tiny-qwen"}"#) > 0.0, "{text}");
}
