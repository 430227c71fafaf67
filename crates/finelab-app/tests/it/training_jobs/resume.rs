//! Runs cancelled, interrupted or killed mid-write, resumed from the window: each comes back as a
//! completed run with the settings and the best model of the one it continues.

use super::*;

#[test]
fn a_tiny_transformer_run_cancelled_mid_training_keeps_its_best_model_and_resumes_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 60, 10).display().to_string();
    let model = tmp.path().join("tiny-bert");
    let entry = finelab_app::models::make_tiny_model(&model, Path::new(&dir), 32, 2, 7).unwrap();
    assert!(entry.complete && entry.model_type.as_deref() == Some("bert"), "{entry:?}");
    let inspected: finelab_app::models::ModelEntry =
        ok(&ctx, Request::InspectModel { path: model.display().to_string() });
    assert_eq!(inspected.hidden_size, Some(32));
    let e = err(&ctx, Request::InspectModel { path: tmp.path().display().to_string() });
    assert!(e.message.contains("config.json"), "{}", e.message);

    let request = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(200),
        batch_size: Some(4),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    let job = start(&ctx, &dir, request);
    let mut cancelled_at: Option<u64> = None;
    let states = follow(&ctx, job.id, |s| {
        let epochs_done = s.train.as_ref().map_or(0, |t| t.history.len());
        if cancelled_at.is_none() && epochs_done >= 1 && s.done > 0 {
            cancelled_at = Some(s.done);
            let _: JobState = ok(&ctx, Request::CancelJob { id: s.id });
        }
    });
    let last = states.last().unwrap();
    assert_eq!(last.status, JobStatus::Cancelled, "{last:?}");
    let done = done_of(last);
    assert_eq!(done.status, "cancelled");
    assert!(done.best_epoch >= 1);
    let progress = last.train.clone().unwrap();
    assert!(progress.step < progress.total_steps, "stopped long before 200 epochs: {progress:?}");
    assert!(!progress.loss.is_empty() && !progress.history.is_empty());
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.clone() });
    assert_eq!(runs[0].status, "cancelled");
    assert_eq!(
        runs[0].n_predictions,
        done.n_dev + done.n_test,
        "a cancelled run stores its dev and test predictions for drill-down"
    );
    // Suggestions come from completed runs only.
    let next: Option<RecordView> =
        ok(&ctx, Request::NextRecord { dir: dir.clone(), annotator: "bo".into(), after_seq: None });
    assert!(next.unwrap().prediction.is_none());

    // Its saved model is a Hugging Face folder that loads.
    let dest = tmp.path().join("export");
    let exported: ExportedModel = ok(
        &ctx,
        Request::ExportModel {
            dir: dir.clone(),
            run: done.run.clone(),
            dest: dest.display().to_string(),
            adapter: None,
        },
    );
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(exported.files.contains(&file.to_string()), "{file} in {:?}", exported.files);
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dest.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"]["0"], "pos");
    let predictor = train::load_model(&dest).unwrap();
    assert_eq!(predictor.predict_batch(&["很好"]).unwrap().len(), 1);

    // Resume: a new run from the saved weights, recording where it came from.
    let detail: RunDetail = ok(&ctx, Request::GetRun { dir: dir.clone(), run: done.run.clone() });
    assert!(detail.resumable);
    let resumed: JobState = ok(&ctx, Request::ResumeRun { dir: dir.clone(), run: done.run.clone() });
    let mut stopped = false;
    let states = follow(&ctx, resumed.id, |s| {
        if !stopped && s.done > 0 {
            stopped = true;
            let _: JobState = ok(&ctx, Request::CancelJob { id: s.id });
        }
    });
    let resumed_done = done_of(states.last().unwrap());
    assert_ne!(resumed_done.run, done.run);
    let detail: RunDetail = ok(&ctx, Request::GetRun { dir: dir.clone(), run: resumed_done.run.clone() });
    assert_eq!(detail.summary.resumed_from.as_deref(), Some(done.run.as_str()));
    let checkpoint = Path::new(&dir).join(format!("runs/{}/model", done.run));
    assert_eq!(detail.run.config["model"].as_str().map(PathBuf::from), Some(checkpoint.clone()));
    assert_eq!(detail.run.base_model.as_deref().map(PathBuf::from), Some(std::fs::canonicalize(&checkpoint).unwrap()));
}

#[test]
fn an_interrupted_run_resumes_as_a_new_run_with_the_same_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 100, 0).display().to_string();
    // A run left `running` by a process that is gone, as after kill -9.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let store = Store::open(Path::new(&dir)).unwrap();
    store
        .create_run(&NewRun {
            id: "20260101-000000-instant".into(),
            family: "instant".into(),
            base_model: None,
            device: "cpu".into(),
            config: serde_json::json!({"family": "instant", "model": "instant", "epochs": 3, "lr": 0.3, "seed": 7, "batch_size": 4, "device": "cpu"}),
            data_hash: String::new(),
            n_train: 0,
            n_dev: 0,
            n_test: 0,
            pid: Some(dead_pid),
        })
        .unwrap();
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.clone() });
    assert_eq!(runs[0].status, "interrupted");
    let job: JobState = ok(&ctx, Request::ResumeRun { dir: dir.clone(), run: runs[0].id.clone() });
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let done = done_of(&last);
    let detail: RunDetail = ok(&ctx, Request::GetRun { dir: dir.clone(), run: done.run.clone() });
    assert_eq!(detail.summary.resumed_from.as_deref(), Some("20260101-000000-instant"));
    for (key, want) in [
        ("epochs", serde_json::json!(3)),
        ("lr", serde_json::json!(0.3)),
        ("seed", serde_json::json!(7)),
        ("batch_size", serde_json::json!(4)),
    ] {
        assert_eq!(detail.run.config[key], want, "{key}");
    }
}

#[test]
fn a_run_killed_while_its_predictions_are_stored_is_not_completed_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 2000, 100);
    let request = TrainRequest { epochs: Some(2), seed: Some(3), ..TrainRequest::default() };
    // The process dies after the first batch of dev/test predictions is committed: a panic that
    // unwinds out of the job, taking the training's liveness with it, as a kill would.
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        finelab_app::training_jobs::train_and_predict(
            &dir,
            &request,
            &mut |_| train::Control::Continue,
            &mut |n, total| {
                assert!(!(n > 0 && n < total), "killed while storing predictions");
                true
            },
        )
    }));
    assert!(crashed.is_err());
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.display().to_string() });
    assert_eq!(runs.len(), 1);
    let id = runs[0].id.clone();
    assert_eq!(runs[0].status, "interrupted", "a run with part of its predictions is not completed");
    let store = Store::open(&dir).unwrap();
    let row = store.run(&id).unwrap();
    assert_eq!(row.trained_status, Some(finelab_store::RunStatus::Completed));
    let scored = row.n_dev + row.n_test;
    let stored = store.n_predictions(&id).unwrap();
    assert!(stored > 0 && stored < scored, "{stored} of {scored} stored before the kill");

    let job: JobState = ok(&ctx, Request::ResumeRun { dir: dir.display().to_string(), run: id.clone() });
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    assert_eq!(done_of(&last).run, id, "the same run is finished, not a new one trained");
    let row = store.run(&id).unwrap();
    assert_eq!(row.status, "completed");
    assert_eq!(store.n_predictions(&id).unwrap(), scored + store.n_unlabeled().unwrap());
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.display().to_string() });
    assert_eq!(runs.len(), 1);
}

#[test]
fn a_generator_run_killed_before_its_outputs_are_stored_is_finished_by_resuming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let (dir, base) = common::proverbs_project(tmp.path());
    let request = TrainRequest {
        model: base.display().to_string(),
        epochs: Some(2),
        batch_size: Some(4),
        device: Some("cpu".into()),
        lora_rank: Some(4),
        max_new_tokens: Some(8),
        ..TrainRequest::default()
    };
    // The process dies once the run trained, before any output is stored.
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        finelab_app::training_jobs::train_and_predict(&dir, &request, &mut |_| train::Control::Continue, &mut |_, _| {
            panic!("killed before storing the outputs")
        })
    }));
    assert!(crashed.is_err());
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.display().to_string() });
    let id = runs[0].id.clone();
    assert_eq!((runs.len(), runs[0].status), (1, finelab_store::RunStatus::Interrupted));
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.n_predictions(&id).unwrap(), 0);
    assert!(store.run(&id).unwrap().test_report.unwrap()["chrf"].is_number());

    let job: JobState = ok(&ctx, Request::ResumeRun { dir: dir.display().to_string(), run: id.clone() });
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    assert_eq!(done_of(&last).run, id, "the same run is finished, not a new one trained");
    assert_eq!(store.run(&id).unwrap().status, "completed");
    // Its dev and test outputs, generated again; no unlabeled record is predicted.
    let page =
        store.run_records(&id, &RunRecordsQuery { split: Some(Split::Test), ..RunRecordsQuery::default() }).unwrap();
    assert_eq!(page.total, 2);
    assert!(page.rows.iter().all(|r| matches!(r.predicted, AnnotationValue::Output(_))), "{:?}", page.rows);
    assert_eq!(store.n_predictions(&id).unwrap(), 4);
}
