//! Training jobs exported for another machine: run under Hugging Face accelerate on two processes
//! and imported back as a run.

use super::*;

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
