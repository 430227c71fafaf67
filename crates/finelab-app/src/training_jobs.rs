//! Training as a job ([`start_train`]) whose [`JobState`] carries typed live progress
//! ([`TrainProgress`]) for the charts, cancellation that stops within one step, predictions
//! stored when the run ends, and resuming a run that did not finish ([`resume_run`]). The job
//! machinery itself is [`crate::jobs`]'.

use crate::jobs::{Job, JobEnd, JobKind, JobStart, JobState, Jobs};
pub use crate::progress::{EpochPoint, EpochSummaryView, LossPoint, TrainPhase, TrainProgress, MAX_LOSS_POINTS};
use crate::runs::target_value;
use crate::train::{self, Control, GenData, RunData, TrainEvent, TrainRequest, INSTANT};
use crate::{AppError, Result};
use finelab_store::{AnnotationValue, NewPrediction, RunStatus, RunUpdate, Span, Split, Store};
use finelab_train::{Example, Prediction};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Predictions stored per transaction, so that labeling never waits long for the writer.
const PREDICTION_BATCH: usize = 256;

/// The least time between two updates of a train job's state: the window sees progress about
/// ten times a second, and the training loop pays for a lock and a copy only that often.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// How long the job's state may stand still while the job runs: past it, the heartbeat moves the
/// last published progress on by the time gone ([`TrainProgress::advanced`]). With the
/// heartbeat's tick and the watchers' 100 ms poll, a window waits at most about 0.4 s.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);

/// How often the heartbeat looks.
const HEARTBEAT_TICK: Duration = Duration::from_millis(100);

/// Keeps a train job's state moving between events. The job thread [`publish`]es through it; a
/// heartbeat thread rewrites the state from the last published progress when
/// [`HEARTBEAT_EVERY`] passes without one, until [`Heartbeat::stop`].
struct Heartbeat {
    last: Mutex<Beat>,
}

struct Beat {
    published: Option<(Instant, TrainProgress)>,
    stopped: bool,
}

impl Heartbeat {
    /// Starts the heartbeat thread for `job`; it ends when the returned sender is dropped.
    fn start(job: &Arc<Job>) -> (Arc<Heartbeat>, mpsc::Sender<()>) {
        let heart = Arc::new(Heartbeat { last: Mutex::new(Beat { published: None, stopped: false }) });
        let (alive, until) = mpsc::channel::<()>();
        let (job, beat) = (job.clone(), heart.clone());
        let spawned = std::thread::Builder::new().name("finelab-train-heartbeat".into()).spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = until.recv_timeout(HEARTBEAT_TICK) {
                beat.tick(&job);
            }
        });
        // Without the thread the job still runs; the window just sees fewer updates.
        drop(spawned);
        (heart, alive)
    }

    fn tick(&self, job: &Job) {
        let last = self.last.lock().unwrap();
        if last.stopped {
            return;
        }
        if let Some((at, progress)) = &last.published {
            let dt = at.elapsed();
            if dt >= HEARTBEAT_EVERY {
                job.update(|s| s.train = Some(progress.advanced(dt.as_secs_f64())));
            }
        }
    }

    /// Publishes `progress` as the job's state.
    fn publish(&self, job: &Job, progress: &TrainProgress, message: String) {
        let mut last = self.last.lock().unwrap();
        if !last.stopped {
            last.published = Some((Instant::now(), progress.clone()));
        }
        job.update(|s| {
            s.done = progress.step as u64;
            s.total = progress.total_steps as u64;
            s.message = message;
            s.train = Some(progress.clone());
        });
    }

    /// No heartbeat writes the state once this returns: the job's last state is its own.
    fn stop(&self) {
        let mut last = self.last.lock().unwrap();
        last.stopped = true;
        last.published = None;
    }
}

/// Applies one training event to the job's progress and decides whether to publish it now.
struct Tracker {
    progress: TrainProgress,
    started: Instant,
    last_publish: Option<Instant>,
    loss_gap: usize,
}

impl Tracker {
    /// Returns whether the job's state should be updated now.
    fn apply(&mut self, event: &TrainEvent) -> bool {
        let p = &mut self.progress;
        p.elapsed_secs = self.started.elapsed().as_secs_f64();
        match event {
            TrainEvent::Started { run, family, device, n_train, n_dev, n_test, config, .. } => {
                p.run = Some(run.clone());
                p.family = family.clone();
                p.device = device.clone();
                p.n_train = *n_train;
                p.n_dev = *n_dev;
                p.n_test = *n_test;
                p.epochs = config.get("epochs").and_then(serde_json::Value::as_u64).unwrap_or(0) as usize;
                p.phase = TrainPhase::Training;
                true
            }
            TrainEvent::Step { epoch, epochs, step, total_steps, loss, samples_per_sec, eta_secs, tokens_per_sec } => {
                p.tokens_per_sec = *tokens_per_sec;
                p.epoch = *epoch;
                p.epochs = *epochs;
                p.step = *step;
                p.total_steps = *total_steps;
                p.fraction = if *total_steps > 0 { *step as f64 / *total_steps as f64 } else { 0.0 };
                p.eta_secs = Some(*eta_secs);
                p.samples_per_sec = Some(*samples_per_sec);
                p.push_loss(*step, *loss, &mut self.loss_gap);
                self.last_publish.is_none_or(|t| t.elapsed() >= PUBLISH_EVERY)
            }
            TrainEvent::Epoch { epoch, train_loss, dev_macro_f1, best, seconds, dev_report } => {
                if let Some(samples) = dev_report.get("samples").and_then(|s| serde_json::from_value(s.clone()).ok()) {
                    p.samples = samples;
                }
                p.history.push(EpochPoint {
                    epoch: *epoch,
                    train_loss: *train_loss,
                    dev_macro_f1: *dev_macro_f1,
                    best: *best,
                    seconds: *seconds,
                });
                if *best {
                    p.best_epoch = Some(*epoch);
                }
                true
            }
        }
    }
}

fn step_message(p: &TrainProgress) -> String {
    match p.phase {
        TrainPhase::Preparing => "preparing the data".into(),
        TrainPhase::Training if p.step == 0 => format!("training {} on {}", p.family, p.device),
        TrainPhase::Training => format!("epoch {}/{}, step {}/{}", p.epoch, p.epochs, p.step, p.total_steps),
        TrainPhase::Predicting => format!("storing predictions: {}/{}", p.predicted, p.to_predict),
        TrainPhase::Finished => "finished".into(),
    }
}

/// A prediction as stored: the value in an annotation's shape, the top label and the score
/// (see [`finelab_store::Suggestion`]).
pub fn prediction_value(prediction: &Prediction) -> (AnnotationValue, Option<String>, Option<f64>) {
    let top = |scores: &std::collections::BTreeMap<String, f32>| {
        scores.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(l, s)| (l.clone(), f64::from(*s)))
    };
    match prediction {
        Prediction::Single { label, scores } => {
            (AnnotationValue::Label(label.clone()), Some(label.clone()), scores.get(label).map(|s| f64::from(*s)))
        }
        Prediction::Multi { labels, scores } => {
            let mut sorted = labels.clone();
            sorted.sort();
            let (label, score) = top(scores).unzip();
            (AnnotationValue::Labels(sorted), label, score)
        }
        Prediction::Spans { spans } => {
            let mut value: Vec<Span> =
                spans.iter().map(|s| Span { start: s.start, end: s.end, label: s.label.clone() }).collect();
            value.sort();
            let label = spans.iter().max_by(|a, b| a.score.total_cmp(&b.score)).map(|s| s.label.clone());
            let score =
                (!spans.is_empty()).then(|| spans.iter().map(|s| f64::from(s.score)).sum::<f64>() / spans.len() as f64);
            (AnnotationValue::Spans(value), label, score)
        }
    }
}

/// Stores a finished run's predictions: every dev and test record of its data snapshot (with
/// the gold value it was scored against), then, `with_unlabeled` (completed runs, the ones that
/// make suggestions), every unlabeled record, one transaction per batch. `keep_going` is asked between batches; it returns how many were stored.
///
/// Both families predict everything here, in the job, after the run is recorded as finished:
/// the Results screen can open at once, and the drill-down rows (dev, test) come first. A
/// transformer on a CPU predicts a large unlabeled pool slowly; cancelling the job then stops
/// predicting (what is stored stays) without touching the run.
pub(crate) fn store_predictions(
    dir: &Path,
    run: &str,
    model_dir: &Path,
    data: &RunData,
    with_unlabeled: bool,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<u64> {
    let dataset = match data {
        RunData::Classify(dataset) => dataset,
        RunData::Generate(gen) => return store_generated(dir, run, model_dir, gen, progress),
    };
    let predictor = crate::train::load_model(model_dir)?;
    let mut store = Store::open(dir)?;
    let batch_size = if predictor.family() == INSTANT { PREDICTION_BATCH } else { 32 };
    let scored: Vec<(Split, &Example)> =
        dataset.dev.iter().map(|e| (Split::Dev, e)).chain(dataset.test.iter().map(|e| (Split::Test, e))).collect();
    let n_unlabeled = if with_unlabeled { store.n_unlabeled()? } else { 0 };
    let total = scored.len() as u64 + n_unlabeled;
    let mut done = 0u64;
    // The dev and test rows are stored whatever `progress` answers: the run is not complete
    // without them (its confusion matrix counts them).
    progress(done, total);
    for chunk in scored.chunks(batch_size) {
        let uids: Vec<&str> = chunk.iter().map(|(_, e)| e.id.as_str()).collect();
        let seqs = store.seqs_by_uid(&uids)?;
        let texts: Vec<&str> = chunk.iter().map(|(_, e)| e.text.as_str()).collect();
        let predictions = predictor.predict_batch(&texts)?;
        let rows: Vec<NewPrediction> = chunk
            .iter()
            .zip(&predictions)
            .filter_map(|((split, example), p)| {
                let seq = *seqs.get(&example.id)?;
                let (value, label, score) = prediction_value(p);
                Some(NewPrediction {
                    seq,
                    split: Some(*split),
                    gold: Some(target_value(&example.target)),
                    value,
                    label,
                    score,
                })
            })
            .collect();
        store.write_predictions(run, &rows)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    // Every record the run's charts count has its prediction: the run takes the status its
    // training ended with. (Unlabeled records' predictions are suggestions; they follow.)
    store.update_run(run, &RunUpdate::PredictionsStored)?;
    if !with_unlabeled {
        return Ok(done);
    }
    let mut after = 0i64;
    loop {
        let batch = store.unlabeled_texts(after, batch_size)?;
        let Some(last) = batch.last() else { break };
        after = last.0;
        let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
        let predictions = predictor.predict_batch(&texts)?;
        let rows: Vec<NewPrediction> = batch
            .iter()
            .zip(&predictions)
            .map(|((seq, _), p)| {
                let (value, label, score) = prediction_value(p);
                NewPrediction { seq: *seq, split: None, gold: None, value, label, score }
            })
            .collect();
        store.write_predictions(run, &rows)?;
        done += batch.len() as u64;
        if !progress(done, total.max(done)) {
            break;
        }
    }
    Ok(done)
}

/// Stores a generator run's dev and test outputs beside their targets (generating the ones
/// `gen` does not hold yet, as when a run interrupted after training is finished), then gives the
/// run its final status. Unlabeled records get no generated output: generating for a whole pool
/// is slow, and a generate project has no suggestions to show yet.
fn store_generated(
    dir: &Path,
    run: &str,
    model_dir: &Path,
    gen: &GenData,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<u64> {
    let mut gen = gen.clone();
    let examples = gen.chat.dev.len() + gen.chat.test.len();
    if gen.outputs.len() < examples {
        let row = train::run(dir, run)?;
        let max_new_tokens =
            row.config["max_new_tokens"].as_u64().map(|n| n as usize).unwrap_or(train::DEFAULT_MAX_NEW_TOKENS);
        train::generate_and_score(&mut gen, model_dir, &row.device, max_new_tokens)?;
    }
    let mut store = Store::open(dir)?;
    let scored: Vec<(Split, &finelab_train::generator::ChatExample)> =
        gen.chat.dev.iter().map(|e| (Split::Dev, e)).chain(gen.chat.test.iter().map(|e| (Split::Test, e))).collect();
    let total = scored.len() as u64;
    let mut done = 0u64;
    progress(done, total);
    for chunk in scored.chunks(PREDICTION_BATCH) {
        let uids: Vec<&str> = chunk.iter().map(|(_, e)| e.id.as_str()).collect();
        let seqs = store.seqs_by_uid(&uids)?;
        let rows: Vec<NewPrediction> = chunk
            .iter()
            .filter_map(|(split, example)| {
                Some(NewPrediction {
                    seq: *seqs.get(&example.id)?,
                    split: Some(*split),
                    gold: Some(AnnotationValue::Output(example.target.clone())),
                    value: AnnotationValue::Output(gen.outputs.get(&example.id)?.clone()),
                    label: None,
                    score: None,
                })
            })
            .collect();
        store.write_predictions(run, &rows)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    store.update_run(run, &RunUpdate::PredictionsStored)?;
    Ok(done)
}

/// Trains on the project in `dir` and records the run (see [`train::train_recorded`]), then
/// stores its predictions as a train job does, so runs started from the command line get the
/// same drill-down, suggestions and Browse-by-prediction as runs started in the window. The run
/// is `completed` (or `cancelled`) only once the predictions of its dev and test records are
/// stored; a process killed before leaves it `interrupted`, and [`AppContext::resume_run`]
/// finishes it. `keep_predicting` is asked between batches of unlabeled records. Returns the run
/// and the number of predictions stored, or why storing them failed.
pub fn train_and_predict(
    dir: &Path,
    request: &TrainRequest,
    progress: &mut dyn FnMut(&TrainEvent) -> Control,
    keep_predicting: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<(train::TrainDone, Result<u64>)> {
    let (done, dataset, _run_here) = train::train_recorded(dir, request, None, progress)?;
    let with_unlabeled = done.status == RunStatus::Completed;
    let stored = store_predictions(dir, &done.run, &done.model_dir, &dataset, with_unlabeled, keep_predicting);
    Ok((done, stored))
}

/// [`train_and_predict`], predicting every unlabeled record too; an error storing the predictions
/// is an error of the whole (the run is then left to be finished by resuming it).
pub fn train(
    dir: &Path,
    request: &TrainRequest,
    progress: &mut dyn FnMut(&TrainEvent) -> Control,
) -> Result<train::TrainDone> {
    let (done, stored) = train_and_predict(dir, request, progress, &mut |_, _| true)?;
    stored?;
    Ok(done)
}

/// The progress a train job starts with.
fn starting_progress(request: &TrainRequest) -> TrainProgress {
    let model = request.model.trim();
    let family = if model == INSTANT {
        INSTANT
    } else if train::is_generator_folder(Path::new(model)) {
        finelab_train::generator::FAMILY
    } else {
        finelab_train::transformer::FAMILY
    };
    TrainProgress::starting(model, family, request.epochs.unwrap_or(0))
}

/// A train job's work: trains and records the run, then stores its predictions, publishing
/// progress all along. A cancelled run ends the job `cancelled` with the run as its result.
fn run_train_job(job: &Arc<Job>, dir: &Path, request: &TrainRequest, resumed_from: Option<&str>) -> Result<JobEnd> {
    let mut tracker =
        Tracker { progress: starting_progress(request), started: Instant::now(), last_publish: None, loss_gap: 1 };
    let (heart, _alive) = Heartbeat::start(job);
    heart.publish(job, &tracker.progress, job.state().message);
    let outcome = train::train_recorded(dir, request, resumed_from, &mut |event| {
        if tracker.apply(event) {
            heart.publish(job, &tracker.progress, step_message(&tracker.progress));
            tracker.last_publish = Some(Instant::now());
        }
        if job.is_cancelled() {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    let mut progress = tracker.progress;
    let finish = |progress: &mut TrainProgress| {
        heart.stop();
        progress.phase = TrainPhase::Finished;
        progress.elapsed_secs = tracker.started.elapsed().as_secs_f64();
        let last = progress.clone();
        job.update(|s| {
            s.done = last.step as u64;
            s.total = last.total_steps as u64;
            s.train = Some(last);
        });
    };
    // The run stays alive (and `running`) while `_run_here` is held: until its predictions are
    // stored.
    let (done, dataset, _run_here) = match outcome {
        Ok(v) => v,
        Err(e) => {
            finish(&mut progress);
            return Err(e);
        }
    };
    progress.phase = TrainPhase::Predicting;
    if done.status == RunStatus::Completed {
        progress.fraction = 1.0;
        progress.step = progress.total_steps;
    }
    progress.eta_secs = Some(0.0);
    heart.publish(job, &progress, step_message(&progress));
    let mut last = Instant::now();
    let with_unlabeled = done.status == RunStatus::Completed;
    let predicted = store_predictions(dir, &done.run, &done.model_dir, &dataset, with_unlabeled, &mut |n, total| {
        progress.predicted = n;
        progress.to_predict = total;
        if last.elapsed() >= PUBLISH_EVERY || n == total {
            last = Instant::now();
            heart.publish(job, &progress, step_message(&progress));
        }
        // Cancelling stops the predictions of unlabeled records (suggestions); the dev and test
        // rows are stored regardless (the run is not complete without them).
        !job.is_cancelled()
    });
    finish(&mut progress);
    if let Err(e) = predicted {
        return Err(AppError::Invalid(format!(
            "run {} trained, but storing its predictions failed: {e}; the run stays unfinished, and resuming it stores them",
            done.run
        )));
    }
    let f1 = |v: Option<f64>| v.map(|f| format!("{f:.3}")).unwrap_or_else(|| "-".into());
    let chrf = |report: &Option<serde_json::Value>| f1(report.as_ref().and_then(|r| r["chrf"].as_f64()));
    let message = if matches!(dataset, RunData::Generate(_)) {
        format!("run {} {}: dev chrF {}, test chrF {}", done.run, done.status, chrf(&done.dev), chrf(&done.test))
    } else {
        format!(
            "run {} {}: dev macro-F1 {}, test macro-F1 {}",
            done.run,
            done.status,
            f1(done.dev_macro_f1),
            f1(done.test_macro_f1)
        )
    };
    Ok(JobEnd {
        message,
        cancelled: done.status == RunStatus::Cancelled,
        result: serde_json::to_value(&done).expect("a run summary serializes"),
    })
}

/// Starts training on the project in `dir` as a job of kind `train`; its result is a
/// [`crate::train::TrainDone`]. The request is validated and the project checked before a job
/// exists.
pub fn start_train(jobs: &Jobs, dir: &Path, request: &TrainRequest) -> Result<JobState> {
    spawn_train(jobs, dir, request.clone(), None)
}

fn spawn_train(jobs: &Jobs, dir: &Path, request: TrainRequest, resumed_from: Option<String>) -> Result<JobState> {
    if !dir.join(finelab_store::DB_FILE).is_file() {
        return Err(finelab_store::Error::NotAProject(dir.to_path_buf()).into());
    }
    request.validate()?;
    let progress = starting_progress(&request);
    let start = JobStart {
        kind: JobKind::Train,
        dir: Some(dir.display().to_string()),
        message: match &resumed_from {
            Some(run) => format!("resuming run {run}"),
            None => step_message(&progress),
        },
        total: 0,
        train: Some(progress),
    };
    let dir = dir.to_path_buf();
    jobs.spawn("train", start, move |job| run_train_job(job, &dir, &request, resumed_from.as_deref()))
}

/// Finishes a run that was trained but interrupted while its predictions were stored: stores
/// them all again (on the same data, checked by its hash) and gives the run the status its
/// training ended with. A job of kind `train`, whose result is the run's [`train::TrainDone`].
fn spawn_finish(jobs: &Jobs, dir: &Path, row: finelab_store::RunRow) -> Result<JobState> {
    let dataset = train::trained_dataset(dir, &row)?;
    let model_dir = dir.join(row.model_dir.as_deref().unwrap_or_default());
    if !model_dir.join("finelab-model.json").is_file() {
        return Err(AppError::Invalid(format!(
            "run {} cannot be finished: its model folder {} is missing or incomplete; train a new run instead",
            row.id,
            model_dir.display()
        )));
    }
    let mut progress = starting_progress(&TrainRequest::from_run_config(&row.id, &row.config)?);
    progress.phase = TrainPhase::Predicting;
    progress.fraction = 1.0;
    let start = JobStart {
        kind: JobKind::Train,
        dir: Some(dir.display().to_string()),
        message: format!("finishing run {}: storing its predictions", row.id),
        total: 0,
        train: Some(progress.clone()),
    };
    let dir = dir.to_path_buf();
    jobs.spawn("finish", start, move |job| {
        let with_unlabeled = row.trained_status == Some(RunStatus::Completed);
        let mut last = Instant::now();
        let stored = store_predictions(&dir, &row.id, &model_dir, &dataset, with_unlabeled, &mut |n, total| {
            progress.predicted = n;
            progress.to_predict = total;
            if last.elapsed() >= PUBLISH_EVERY || n == total {
                last = Instant::now();
                let (message, p) = (step_message(&progress), progress.clone());
                job.update(|s| {
                    s.message = message;
                    s.train = Some(p);
                });
            }
            !job.is_cancelled()
        });
        progress.phase = TrainPhase::Finished;
        job.update(|s| s.train = Some(progress));
        stored?;
        let run = train::run(&dir, &row.id)?;
        // The summary training wrote beside the model, with the status it now has.
        let summary = std::fs::read(dir.join("runs").join(&run.id).join("run.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<train::TrainDone>(&bytes).ok());
        Ok(JobEnd {
            message: format!("run {} {}: its predictions are stored", run.id, run.status),
            result: summary
                .map(|done| serde_json::to_value(done).expect("a run summary serializes"))
                .unwrap_or_default(),
            cancelled: false,
        })
    })
}

/// Resumes a run that did not finish (see [`crate::api::Request::ResumeRun`]): a new run with
/// the same settings, recording `resumed_from`; a cancelled transformer run's saved model is the
/// new run's base model. A run interrupted after it trained is finished instead.
pub fn resume_run(jobs: &Jobs, dir: &Path, run: &str) -> Result<JobState> {
    let row = train::run(dir, run)?;
    if row.status == RunStatus::Interrupted && row.trained_status.is_some() {
        return spawn_finish(jobs, dir, row);
    }
    if !row.status.is_resumable() {
        return Err(AppError::Invalid(format!(
            "run {run} is {}; only a cancelled, interrupted or failed run can be resumed (train a new one instead)",
            row.status
        )));
    }
    let mut request = TrainRequest::from_run_config(&row.id, &row.config)?;
    if row.family == finelab_train::transformer::FAMILY && row.status == RunStatus::Cancelled {
        if let Some(model_dir) = &row.model_dir {
            let checkpoint = dir.join(model_dir);
            if checkpoint.join("config.json").is_file() {
                request.model = checkpoint.display().to_string();
            }
        }
    }
    spawn_train(jobs, dir, request, Some(row.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobStatus;

    fn training(step: usize, total_steps: usize, eta: f64) -> TrainProgress {
        TrainProgress {
            phase: TrainPhase::Training,
            step,
            total_steps,
            fraction: if total_steps > 0 { step as f64 / total_steps as f64 } else { 0.0 },
            eta_secs: Some(eta),
            elapsed_secs: 10.0,
            ..starting_progress(&TrainRequest::default())
        }
    }

    #[test]
    fn advanced_moves_into_the_step_under_way_and_never_past_it() {
        // 10 of 100 steps taken, 90 s left: a step takes 1 s.
        let p = training(10, 100, 90.0);
        let half = p.advanced(0.5);
        assert!((half.fraction - 10.5 / 100.0).abs() < 1e-12, "{}", half.fraction);
        assert!((half.eta_secs.unwrap() - 89.5).abs() < 1e-12);
        assert!((half.elapsed_secs - 10.5).abs() < 1e-12);
        // A step running long: the bar stops short of step 11 and the ETA stops counting down.
        let late = p.advanced(30.0);
        use crate::progress::MAX_STEP_ESTIMATE;
        assert!((late.fraction - (10.0 + MAX_STEP_ESTIMATE) / 100.0).abs() < 1e-12, "{}", late.fraction);
        assert!((late.eta_secs.unwrap() - (90.0 - MAX_STEP_ESTIMATE)).abs() < 1e-12);
        assert!((late.elapsed_secs - 40.0).abs() < 1e-12);
        assert_eq!((late.step, late.loss.len(), late.history.len()), (10, 0, 0));
    }

    #[test]
    fn advanced_only_moves_the_clock_outside_steps() {
        let mut preparing = training(0, 0, 0.0);
        preparing.phase = TrainPhase::Preparing;
        preparing.eta_secs = None;
        let later = preparing.advanced(2.0);
        assert_eq!((later.fraction, later.eta_secs), (0.0, None));
        assert!((later.elapsed_secs - 12.0).abs() < 1e-12);
        let mut predicting = training(100, 100, 0.0);
        predicting.phase = TrainPhase::Predicting;
        let later = predicting.advanced(1.0);
        assert_eq!((later.fraction, later.eta_secs), (1.0, Some(0.0)));
    }

    #[test]
    fn the_heartbeat_keeps_the_state_moving_until_stopped() {
        let job = Arc::new(Job::new(JobState {
            id: 1,
            kind: JobKind::Train,
            dir: None,
            status: JobStatus::Running,
            done: 0,
            total: 0,
            message: String::new(),
            result: None,
            error: None,
            train: None,
        }));
        let (heart, alive) = Heartbeat::start(&job);
        // One slow step: the trainer publishes once and then stays silent.
        heart.publish(&job, &training(10, 100, 900.0), "epoch 1/3, step 10/100".into());
        let elapsed = |job: &Job| job.state().train.as_ref().unwrap().elapsed_secs;
        let mut seen = vec![elapsed(&job)];
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.len() < 4 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            let now = elapsed(&job);
            if now != *seen.last().unwrap() {
                seen.push(now);
            }
        }
        assert!(seen.len() >= 4, "the state moved {} time(s) with no event", seen.len() - 1);
        assert!(seen.windows(2).all(|w| w[1] > w[0]), "{seen:?}");
        let state = job.state();
        let train = state.train.unwrap();
        assert!(train.fraction > 0.1 && train.fraction < 10.95 / 100.0, "{}", train.fraction);
        assert_eq!((state.message.as_str(), train.step), ("epoch 1/3, step 10/100", 10));

        // Once stopped, the job's final state is left alone.
        heart.stop();
        job.update(|s| s.train = None);
        std::thread::sleep(HEARTBEAT_EVERY * 3);
        assert!(job.state().train.is_none());
        drop(alive);
    }
}
