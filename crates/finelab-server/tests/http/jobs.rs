//! Long work over HTTP: training with its progress as server-sent events, a generator imported,
//! trained, evaluated and exported, and the background retraining, suspects and curves run as jobs.

use super::*;

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
