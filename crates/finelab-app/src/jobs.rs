//! Background work with one owner: the registry of jobs, spawning, progress, cancellation and the
//! final status. A job kind is a plain function handed to [`Jobs::spawn`]; what it returns (or
//! the error it fails with) decides the job's last state here, in one place, and nothing here
//! knows what an import, a training or a download does.

use crate::progress::TrainProgress;
use crate::{AppError, ErrorBody, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use ts_rs::TS;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Importing a file into a project.
    Import,
    /// Training a run (or finishing one) and storing its predictions.
    Train,
    /// Downloading a base model from the Hugging Face hub.
    Download,
    /// Cross-validating the project to find labels that are likely wrong (`done`/`total` in
    /// folds); the result is a `SuspectsReport`.
    Suspects,
    /// Training on growing shares of the train split (`done`/`total` in trainings); the result
    /// is a `TrainCurve`.
    Curve,
}

/// A job's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Working.
    Running,
    /// Finished; `result` holds the outcome.
    Done,
    /// Failed; `error` says why.
    Failed,
    /// Stopped on request.
    Cancelled,
}

/// A snapshot of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct JobState {
    /// The job id.
    pub id: u64,
    /// What it does.
    pub kind: JobKind,
    /// The project folder it works on (absolute; none for a download).
    #[serde(default)]
    pub dir: Option<String>,
    /// Lifecycle.
    pub status: JobStatus,
    /// Units done (bytes for imports and downloads, steps for training).
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// A short line for the UI.
    pub message: String,
    /// The outcome when done (or cancelled with a result, as a cancelled run keeps its model).
    pub result: Option<serde_json::Value>,
    /// The error when failed.
    pub error: Option<ErrorBody>,
    /// A train job's live progress (the detail of kind `train`).
    #[serde(default)]
    pub train: Option<TrainProgress>,
}

/// One job: its state, which its worker updates, and the cancel flag, which anyone may raise.
pub struct Job {
    state: Mutex<JobState>,
    cancel: AtomicBool,
}

impl Job {
    /// A job outside any registry, in `state` (its worker's tests use one).
    #[cfg(test)]
    pub(crate) fn new(state: JobState) -> Job {
        Job { state: Mutex::new(state), cancel: AtomicBool::new(false) }
    }

    /// Whether cancelling was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Changes the state (progress, message, detail) under its lock.
    pub fn update(&self, change: impl FnOnce(&mut JobState)) {
        change(&mut self.state.lock().unwrap());
    }

    /// The current state.
    pub fn state(&self) -> JobState {
        self.state.lock().unwrap().clone()
    }
}

/// What a job looks like when it starts.
pub struct JobStart {
    /// What it does.
    pub kind: JobKind,
    /// The project folder (absolute), if it works on one.
    pub dir: Option<String>,
    /// The first message.
    pub message: String,
    /// Units in all, when known.
    pub total: u64,
    /// A train job's first progress.
    pub train: Option<TrainProgress>,
}

/// How a job's work ended well: its result, its last message, and whether it stopped on request
/// with a result all the same (a cancelled run keeps its best model and is recorded).
pub struct JobEnd {
    /// The outcome.
    pub result: serde_json::Value,
    /// The last message.
    pub message: String,
    /// Whether the work stopped because it was cancelled.
    pub cancelled: bool,
}

/// The jobs of a running shell (the window, `finelab serve`, one CLI command), finished ones
/// kept for as long as it runs.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<u64, Arc<Job>>>,
    next_id: AtomicU64,
}

impl Jobs {
    /// No jobs yet.
    pub fn new() -> Jobs {
        Jobs { jobs: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }
    }

    /// Registers a job and runs `work` on a thread of its own (named `name`). The job's final
    /// status is decided here: `Done` (or `Cancelled`) with the result `work` returns,
    /// `Cancelled` when it fails with a cancellation ([`AppError::is_cancelled`]), else `Failed`
    /// with the error.
    pub fn spawn(
        &self,
        name: &str,
        start: JobStart,
        work: impl FnOnce(&Arc<Job>) -> Result<JobEnd> + Send + 'static,
    ) -> Result<JobState> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst).max(1);
        let state = JobState {
            id,
            kind: start.kind,
            dir: start.dir,
            status: JobStatus::Running,
            done: 0,
            total: start.total,
            message: start.message,
            result: None,
            error: None,
            train: start.train,
        };
        let job = Arc::new(Job { state: Mutex::new(state.clone()), cancel: AtomicBool::new(false) });
        self.jobs.lock().unwrap().insert(id, job.clone());
        std::thread::Builder::new()
            .name(format!("finelab-{name}"))
            .spawn(move || {
                let outcome = work(&job);
                job.update(|s| match outcome {
                    Ok(end) => {
                        s.status = if end.cancelled { JobStatus::Cancelled } else { JobStatus::Done };
                        s.message = end.message;
                        s.result = Some(end.result);
                    }
                    Err(e) => {
                        s.status = if e.is_cancelled() { JobStatus::Cancelled } else { JobStatus::Failed };
                        s.message = e.to_string();
                        s.error = Some(e.body());
                    }
                });
            })
            .map_err(|e| AppError::Io { path: format!("<{name} thread>"), source: e })?;
        Ok(state)
    }

    fn job(&self, id: u64) -> Result<Arc<Job>> {
        self.jobs.lock().unwrap().get(&id).cloned().ok_or(AppError::NoSuchJob(id))
    }

    /// A job's current state.
    pub fn state(&self, id: u64) -> Result<JobState> {
        Ok(self.job(id)?.state())
    }

    /// Asks a job to stop; returns its state now (it stops at its next check).
    pub fn cancel(&self, id: u64) -> Result<JobState> {
        let job = self.job(id)?;
        job.cancel.store(true, Ordering::SeqCst);
        Ok(job.state())
    }

    /// The jobs, newest first; with `dir`, only that project's.
    pub fn list(&self, dir: Option<&Path>) -> Vec<JobState> {
        let dir = dir.map(|d| d.display().to_string());
        let jobs: Vec<Arc<Job>> = self.jobs.lock().unwrap().values().cloned().collect();
        let mut states: Vec<JobState> =
            jobs.iter().map(|j| j.state()).filter(|s| dir.is_none() || s.dir == dir).collect();
        states.sort_by_key(|s| std::cmp::Reverse(s.id));
        states
    }

    /// Calls `send` with the job's state whenever it changes (looking every 100 ms) until the job
    /// is over or `send` returns false. Blocking.
    pub fn watch(&self, id: u64, send: &mut dyn FnMut(&JobState) -> bool) -> Result<()> {
        let job = self.job(id)?;
        let mut last: Option<JobState> = None;
        loop {
            let state = job.state();
            if last.as_ref() != Some(&state) {
                if !send(&state) || state.status != JobStatus::Running {
                    return Ok(());
                }
                last = Some(state);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// An analysis (suspects, a training curve) as a job: `work` gets a progress callback (units
/// done, units in all) that returns false once cancelling was asked for.
pub(crate) fn spawn_analysis<T: Serialize + Send + 'static>(
    jobs: &Jobs,
    kind: JobKind,
    dir: &Path,
    message: &str,
    work: impl FnOnce(&Path, &mut dyn FnMut(usize, usize) -> bool) -> Result<T> + Send + 'static,
) -> Result<JobState> {
    if !dir.join(finelab_store::DB_FILE).is_file() {
        return Err(finelab_store::Error::NotAProject(dir.to_path_buf()).into());
    }
    let start = JobStart { kind, dir: Some(dir.display().to_string()), message: message.into(), total: 0, train: None };
    let (dir, message) = (dir.to_path_buf(), message.to_string());
    jobs.spawn("analysis", start, move |job| {
        let result = work(&dir, &mut |done, total| {
            job.update(|s| {
                s.done = done as u64;
                s.total = total as u64;
                s.message = format!("{message}: {done}/{total}");
            });
            !job.is_cancelled()
        })?;
        Ok(JobEnd {
            result: serde_json::to_value(&result).expect("results serialize"),
            message: "finished".into(),
            cancelled: false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> JobStart {
        JobStart { kind: JobKind::Import, dir: None, message: "starting".into(), total: 10, train: None }
    }

    fn last(jobs: &Jobs, id: u64) -> JobState {
        let mut end = None;
        jobs.watch(id, &mut |s| {
            end = Some(s.clone());
            true
        })
        .unwrap();
        end.unwrap()
    }

    #[test]
    fn the_final_status_comes_from_what_the_work_returns() {
        let jobs = Jobs::new();
        let ok = jobs
            .spawn("t", start(), |_| {
                Ok(JobEnd { result: serde_json::json!(1), message: "done".into(), cancelled: false })
            })
            .unwrap();
        let failed = jobs.spawn("t", start(), |_| Err(AppError::Invalid("bad".into()))).unwrap();
        let stopped = jobs
            .spawn("t", start(), |job| {
                while !job.is_cancelled() {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(AppError::Cancelled("stopped on request".into()))
            })
            .unwrap();
        jobs.cancel(stopped.id).unwrap();
        let kept = jobs
            .spawn("t", start(), |_| {
                Ok(JobEnd { result: serde_json::json!("model"), message: "kept".into(), cancelled: true })
            })
            .unwrap();
        let check = |id: u64, status: JobStatus, code: Option<&str>| {
            let s = last(&jobs, id);
            assert_eq!(s.status, status, "{s:?}");
            assert_eq!(s.error.as_ref().map(|e| e.code.as_str()), code, "{s:?}");
        };
        check(ok.id, JobStatus::Done, None);
        check(failed.id, JobStatus::Failed, Some("invalid"));
        check(stopped.id, JobStatus::Cancelled, Some("cancelled"));
        check(kept.id, JobStatus::Cancelled, None);
        assert_eq!(jobs.list(None).iter().map(|s| s.id).collect::<Vec<_>>(), [kept.id, stopped.id, failed.id, ok.id]);
        assert!(matches!(jobs.state(999), Err(AppError::NoSuchJob(999))));
    }

    #[test]
    fn an_analysis_reports_its_units_and_stops_when_cancelled() {
        let jobs = Jobs::new();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(finelab_store::DB_FILE), b"").unwrap();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let state = spawn_analysis(&jobs, JobKind::Suspects, dir.path(), "folds", move |_, progress| {
            assert!(progress(1, 4));
            wait.recv().unwrap();
            if !progress(2, 4) {
                return Err(AppError::Cancelled("stopped".into()));
            }
            Ok(2)
        })
        .unwrap();
        while jobs.state(state.id).unwrap().done < 1 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let running = jobs.state(state.id).unwrap();
        assert_eq!((running.done, running.total, running.message.as_str()), (1, 4, "folds: 1/4"));
        jobs.cancel(state.id).unwrap();
        go.send(()).unwrap();
        let end = last(&jobs, state.id);
        assert_eq!((end.status, end.done), (JobStatus::Cancelled, 2), "{end:?}");
        let missing = spawn_analysis(&jobs, JobKind::Curve, &dir.path().join("nope"), "x", |_, _| Ok(0));
        assert!(missing.is_err(), "not a project");
    }
}
