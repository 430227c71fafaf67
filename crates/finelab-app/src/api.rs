//! The one entry point the shells share: a typed [`Request`] in, JSON out, errors as
//! [`ErrorBody`]. The desktop window sends requests over Tauri IPC, the browser over HTTP; both
//! reach [`AppContext::handle`]. Long work (imports, training, downloads) runs as a job of
//! [`crate::jobs`] on its own thread, whose state the shells stream to the UI
//! ([`AppContext::watch_job`]).

use crate::active;
use crate::autotrain::{Annotated, AutoTrain};
use crate::cluster;
use crate::curve;
use crate::deploy;
use crate::generation;
use crate::jobs::Jobs;
pub use crate::jobs::{JobKind, JobState, JobStatus};
use crate::models::{self, ModelEntry, TrainSetup};
use crate::production;
pub use crate::project::ImportRequest;
use crate::project::{self, absolute, CreateProject};
use crate::results::{self, ExportedModel, RunDetail};
use crate::suspects;
use crate::teams;
use crate::train::{self, TrainRequest};
use crate::users;
use crate::{hub, training_jobs, AppError, ErrorBody, Result};
use finelab_store::import::ImportPreview;
use finelab_store::search::{SearchPage, SearchQuery};
use finelab_store::{
    Action, AnnotationValue, LabelDef, ProjectSettings, Receipt, RecordView, RunRecordsQuery, Split, Stats, Store,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use ts_rs::TS;

/// Every request a shell can send. Serialized as `{"cmd": "snake_case_name", ...fields}`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Version and the project the server was started with. Returns [`AppInfo`].
    AppInfo {},
    /// Recently opened projects, newest first. Returns `RecentProject[]`.
    RecentProjects {},
    /// Create a project. Returns [`ProjectView`].
    CreateProject {
        /// The folder.
        dir: String,
        /// What to create.
        project: CreateProject,
    },
    /// Open a project. Returns [`ProjectView`].
    OpenProject {
        /// The folder.
        dir: String,
    },
    /// Replace the guidelines. Returns [`ProjectView`].
    SetGuidelines {
        /// The folder.
        dir: String,
        /// Markdown.
        markdown: String,
    },
    /// How many labels the long-lived shells let pass before they retrain the instant model in
    /// the background (0: never). Returns [`ProjectView`].
    SetRetrainEvery {
        /// The project folder.
        dir: String,
        /// Labels between two retrains.
        every: u64,
    },
    /// Change project settings (overlap, what annotators see, background retrain). Returns
    /// [`ProjectView`].
    UpdateSettings {
        /// The project folder.
        dir: String,
        /// What to change.
        change: project::SettingsChange,
    },
    /// Show a file's first rows as the importer reads them. Returns `ImportPreview`.
    PreviewImport {
        /// The project folder.
        dir: String,
        /// The file.
        path: String,
        /// Options.
        options: ImportRequest,
    },
    /// Start importing a file. Returns [`JobState`]; its result is an `ImportOutcome`.
    StartImport {
        /// The project folder.
        dir: String,
        /// The file.
        path: String,
        /// Options.
        options: ImportRequest,
    },
    /// The state of a job. Returns [`JobState`].
    Job {
        /// The job id.
        id: u64,
    },
    /// Ask a job to stop. Returns [`JobState`].
    CancelJob {
        /// The job id.
        id: u64,
    },
    /// The next record to label. Returns `RecordView | null`.
    NextRecord {
        /// The project folder.
        dir: String,
        /// Who labels.
        annotator: String,
        /// The record just done (sequence number), to continue after it.
        after_seq: Option<i64>,
    },
    /// One record. Returns `RecordView`.
    GetRecord {
        /// The project folder.
        dir: String,
        /// Sequence number.
        seq: i64,
    },
    /// Label, skip, flag or unflag a record; returns once committed. Returns `Receipt`.
    Annotate {
        /// The project folder.
        dir: String,
        /// Sequence number.
        seq: i64,
        /// Who.
        annotator: String,
        /// What.
        action: Action,
        /// Generate projects: the model's draft the output was written from (the size of the
        /// edit is logged with the label).
        #[serde(default)]
        #[ts(optional)]
        draft: Option<generation::DraftUsed>,
    },
    /// Undo the annotator's last action. Returns `Receipt | null`.
    Undo {
        /// The project folder.
        dir: String,
        /// Who.
        annotator: String,
    },
    /// Search and filter records. Returns `SearchPage`.
    Search {
        /// The project folder.
        dir: String,
        /// The query.
        query: SearchQuery,
    },
    /// How many records a query matches, counted up to `cap` (default 1,000,000). Returns a number.
    CountRecords {
        /// The project folder.
        dir: String,
        /// The query (its `limit`, `offset` and `after_seq` are ignored).
        query: SearchQuery,
        /// Stop counting here.
        cap: Option<u32>,
    },
    /// Project statistics. Returns `Stats`.
    Stats {
        /// The project folder.
        dir: String,
    },
    /// What the Train screen offers: families with their defaults, devices, and the base models
    /// found on this machine. Returns [`TrainSetup`]. A model is a local Hugging Face-layout
    /// folder (`$FINELAB_MODELS_DIR`, `<project>/models/`, the Hugging Face cache), one the user
    /// picks, or one downloaded into the cache by name (`download_model`).
    TrainSetup {
        /// The project folder.
        dir: String,
    },
    /// Describes a base-model folder the user picked. Returns [`ModelEntry`]; an error names the
    /// missing file (`config.json`, the tokenizer, the weights) or the unsupported architecture.
    InspectModel {
        /// The folder.
        path: String,
    },
    /// Download a base model by name from the Hugging Face hub (or the mirror `HF_ENDPOINT`
    /// names) into the Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME`), only the files
    /// fine-tuning needs. Returns [`JobState`] (kind `download`, `done`/`total` in bytes) whose
    /// result is the downloaded [`ModelEntry`]; `cancel_job` stops it within the file under way (a later download resumes it).
    /// Errors carry the codes `hub_offline`, `hub_not_found`, `hub_unauthorized`,
    /// `hub_unsupported`.
    DownloadModel {
        /// `org/name`, optionally `org/name@revision`.
        name: String,
        /// A branch, tag or commit (default: the name's, else `main`).
        revision: Option<String>,
    },
    /// The jobs this shell knows (running and finished since it started), newest first: a window
    /// or browser tab that did not start a job finds it here and watches it. Returns `JobState[]`.
    ListJobs {
        /// Only the jobs of this project folder.
        dir: Option<String>,
    },
    /// Start training. Returns [`JobState`] (kind `train`, `done`/`total` in steps) whose
    /// `train` holds live [`TrainProgress`] and whose result is a `TrainDone`. `cancel_job`
    /// stops it within one step; the run keeps its best model and is marked `cancelled`.
    StartTrain {
        /// The project folder.
        dir: String,
        /// What to train.
        request: TrainRequest,
    },
    /// The memory training a generator will need, estimated before it starts, beside the
    /// machine's. Returns `TrainMemory | null` (null for the other families).
    EstimateTrainMemory {
        /// The project folder.
        dir: String,
        /// What to train.
        request: TrainRequest,
    },
    /// Optimise a run (int8: quantize a transformer's encoder; prune: drop encoder layers and
    /// fine-tune again) as a train job whose run records its parent. Returns [`JobState`] like `start_train`.
    StartOptimize {
        /// The project folder.
        dir: String,
        /// The run and how.
        request: crate::optimize::OptimizeRequest,
    },
    /// The project's completed classifier and tagger runs by size on disk, CPU speed (measured
    /// with `speed`), macro-F1 and agreement with the run they were optimised from. Returns
    /// `RunCost[]`.
    RunCosts {
        /// The project folder.
        dir: String,
        /// Measure each model's inference speed (on up to 256 texts of its scored split).
        #[serde(default)]
        speed: Option<bool>,
    },
    /// The project's runs, newest first. Returns `RunSummary[]`.
    ListRuns {
        /// The project folder.
        dir: String,
    },
    /// One run in full. Returns [`RunDetail`].
    GetRun {
        /// The project folder.
        dir: String,
        /// The run id.
        run: String,
    },
    /// A run's per-label report on a split, the same numbers as `finelab eval --json`. Returns
    /// `Evaluation`.
    Evaluate {
        /// The project folder.
        dir: String,
        /// The run (default: the newest completed run).
        run: Option<String>,
        /// `dev` or `test` (`train` is recomputed with the run's model).
        split: Split,
    },
    /// The records behind a chart element of a run: a confusion cell (`gold` and `predicted`),
    /// a label's bar (`label`), its errors (`only_errors`). Returns `RunRecordsPage`.
    RunRecords {
        /// The project folder.
        dir: String,
        /// The run id.
        run: String,
        /// The split the run scored (none: every record it predicted).
        split: Option<Split>,
        /// Records whose gold value has this label.
        gold: Option<String>,
        /// Records whose prediction has this label.
        predicted: Option<String>,
        /// Records where this label is gold or predicted.
        label: Option<String>,
        /// Only wrong predictions (for `label`: its false positives and negatives).
        only_errors: Option<bool>,
        /// At most this many rows (default 50, at most 1000).
        limit: Option<u32>,
        /// Skip this many rows first.
        offset: Option<u64>,
    },
    /// Copy a run's model folder to `dest` (which must not exist or be empty): for a
    /// transformer, a Hugging Face folder (`config.json` with `id2label`, `tokenizer.json`,
    /// `model.safetensors`) that `transformers` loads unchanged. Returns [`ExportedModel`].
    ExportModel {
        /// The project folder.
        dir: String,
        /// The run id.
        run: String,
        /// The folder to write.
        dest: String,
        /// A generator run: write its PEFT LoRA adapter (`adapter_config.json`,
        /// `adapter_model.safetensors`) instead of the merged Hugging Face folder.
        #[serde(default)]
        #[ts(optional)]
        adapter: Option<bool>,
    },
    /// Train again a run that did not finish (`cancelled`, `interrupted` or `failed`), as a new
    /// run with the same settings on the project's current labels, whose config records
    /// `resumed_from`. A cancelled transformer run saved its best model: the new run fine-tunes
    /// from those weights (its folder is the base model); otherwise training starts over (an
    /// interrupted run saved nothing). A run interrupted after it trained, while its predictions
    /// were being stored, is finished instead: its predictions are stored and it takes the status
    /// its training ended with (refused if the labels changed since). Returns [`JobState`] like
    /// `start_train`.
    ResumeRun {
        /// The project folder.
        dir: String,
        /// The run to resume.
        run: String,
    },
    /// Write the project's training job for a cluster (Hugging Face Accelerate + transformers'
    /// Trainer, Finelab's recipe) into `out`, or `jobs/<time>-<family>` in the project. Returns
    /// [`cluster::ExportedJob`].
    ExportJob {
        /// The project folder.
        dir: String,
        /// The recipe, as for `start_train` (the model is an encoder folder or hub name).
        request: TrainRequest,
        /// The job folder (new or empty).
        #[serde(default)]
        #[ts(optional)]
        out: Option<String>,
    },
    /// The next `n` records for `annotator` in the order of `strategy` (sequential, random,
    /// uncertain first, uncertain with diversity), the newest model's uncertainty with each.
    /// Returns [`active::NextBatch`].
    NextBatch {
        /// The project folder.
        dir: String,
        /// Who labels.
        annotator: String,
        /// How many.
        n: usize,
        /// The order.
        strategy: active::Strategy,
        /// Seed of the random order (default 42).
        #[serde(default)]
        #[ts(optional)]
        seed: Option<u64>,
        /// Only records the newest model predicts as this label.
        #[serde(default)]
        #[ts(optional)]
        label: Option<String>,
    },
    /// Dev F1 per label of models trained on growing shares of the train split, with a verdict
    /// per label (still rising, or flat). Returns [`curve::TrainCurve`].
    TrainCurve {
        /// The project folder.
        dir: String,
        /// The model, shares and seeds.
        #[serde(default)]
        request: curve::CurveRequest,
    },
    /// The labeled records whose label is likely wrong: K-fold cross-validation of the instant
    /// family, then confident learning. Returns [`suspects::SuspectsReport`].
    Suspects {
        /// The project folder.
        dir: String,
        /// Folds, seed, ranking, limit.
        #[serde(default)]
        request: suspects::SuspectsRequest,
    },
    /// [`Request::Suspects`] as a job with progress (folds) and cancel. Returns [`JobState`]
    /// (kind `suspects`) whose result is a [`suspects::SuspectsReport`].
    StartSuspects {
        /// The project folder.
        dir: String,
        /// Folds, seed, ranking, limit.
        #[serde(default)]
        request: suspects::SuspectsRequest,
    },
    /// [`Request::TrainCurve`] as a job with progress (trainings) and cancel. Returns
    /// [`JobState`] (kind `curve`) whose result is a [`curve::TrainCurve`].
    StartTrainCurve {
        /// The project folder.
        dir: String,
        /// The model, shares and seeds.
        #[serde(default)]
        request: curve::CurveRequest,
    },
    /// The agreement among the project's annotators (only `annotators` if given). Returns
    /// [`teams::AgreementReport`].
    Agreement {
        /// The project folder.
        dir: String,
        /// Only these annotators.
        #[serde(default)]
        annotators: Option<Vec<String>>,
    },
    /// Records annotators labeled differently: those no reviewer decided yet, or with `a` and
    /// `b` those two differ on. Returns [`teams::Disagreements`].
    Disagreements {
        /// The project folder.
        dir: String,
        /// One annotator of a pair.
        #[serde(default)]
        a: Option<String>,
        /// The other.
        #[serde(default)]
        b: Option<String>,
        /// Records after this sequence number.
        #[serde(default)]
        after_seq: Option<i64>,
        /// At most this many.
        limit: usize,
    },
    /// A reviewer's decision on a record annotators disagree on (a log entry; `undo` takes it
    /// back). Returns `Receipt`.
    Adjudicate {
        /// The project folder.
        dir: String,
        /// The record.
        seq: i64,
        /// The reviewer.
        reviewer: String,
        /// The label decided on.
        value: AnnotationValue,
    },
    /// Each annotator's work: labels, pace, agreement with the others and with decisions.
    /// Returns `Person[]`.
    People {
        /// The project folder.
        dir: String,
        /// Also each one's suspected-noise rate (runs the cross-validation of `suspects`).
        #[serde(default)]
        noise: Option<bool>,
    },
    /// Gives the records a search finds to named people: they are served only to them. Returns
    /// `Assignment`.
    AssignSlice {
        /// The project folder.
        dir: String,
        /// The records (text, label, split, predicted label...; paging ignored).
        query: SearchQuery,
        /// Who labels them.
        people: Vec<String>,
    },
    /// The slices given to people. Returns `Assignment[]`.
    ListAssignments {
        /// The project folder.
        dir: String,
    },
    /// Takes a slice back. Returns `Assignment[]`, those left.
    RemoveAssignment {
        /// The project folder.
        dir: String,
        /// The slice.
        id: i64,
    },
    /// Production traffic logged into the project (`finelab serve-model --log-to`): its
    /// predicted labels per day beside the train split's. Returns [`production::ProductionMix`].
    ProductionMix {
        /// The project folder.
        dir: String,
    },
    /// Generate projects: the newest generator run's output for a record, offered as a draft
    /// (its stored output for a dev or test record, else generated now). Returns
    /// `Draft | null` (null without a generator run).
    Draft {
        /// The project folder.
        dir: String,
        /// The record.
        seq: i64,
    },
    /// Starts a blind comparison of two output sources (generator runs, or the references) on a
    /// sample of records. Returns `Comparison`.
    StartComparison {
        /// The project folder.
        dir: String,
        /// The sources and the sample.
        request: generation::ComparisonRequest,
        /// Who starts it.
        by: String,
    },
    /// The project's comparisons, newest first. Returns `Comparison[]`.
    ListComparisons {
        /// The project folder.
        dir: String,
    },
    /// The next item of a comparison `annotator` has not judged, its sides in the order shown.
    /// Returns `ComparisonItem | null` (null once all are judged).
    NextComparisonItem {
        /// The project folder.
        dir: String,
        /// The comparison.
        comparison: i64,
        /// Who judges.
        annotator: String,
        /// The item just judged, to continue after it.
        #[serde(default)]
        #[ts(optional)]
        after: Option<u64>,
    },
    /// A judgement: the left output, the right one, or a tie. Returns `PreferenceReceipt`.
    Prefer {
        /// The project folder.
        dir: String,
        /// The comparison.
        comparison: i64,
        /// The item.
        position: u64,
        /// Who judges.
        annotator: String,
        /// What they prefer.
        pick: finelab_store::Preferred,
    },
    /// Takes back the judge's latest judgement in a comparison. Returns `PreferenceReceipt | null`.
    UndoPreference {
        /// The project folder.
        dir: String,
        /// The comparison.
        comparison: i64,
        /// Who.
        annotator: String,
    },
    /// A comparison's tally: wins, ties, the win rate with its 95 % interval. Returns
    /// [`generation::ComparisonReport`].
    ComparisonReport {
        /// The project folder.
        dir: String,
        /// The comparison.
        comparison: i64,
    },
    /// A generator run's outputs beside their references: chrF, the character diff, the worst
    /// first, another run's outputs beside. Returns [`generation::GenRecordsPage`].
    GenerationRecords {
        /// The project folder.
        dir: String,
        /// The run.
        run: String,
        /// Split, order, paging, the other run.
        #[serde(default)]
        query: generation::GenRecordsQuery,
    },
    /// Writes the preferences given in comparisons (ties left out) as `{"prompt", "chosen",
    /// "rejected"}` JSON lines to `dest`. Returns the number of pairs written.
    ExportPreferences {
        /// The project folder.
        dir: String,
        /// The file to write.
        dest: String,
    },
    /// Serves a run's model over HTTP on 127.0.0.1 from this program (classify, tag, or the
    /// OpenAI-compatible chat completions), its served texts kept in the project as production
    /// records unless asked not to. Returns [`deploy::Deployment`].
    Deploy {
        /// The project folder.
        dir: String,
        /// The run.
        run: String,
        /// Port and production logging.
        #[serde(default)]
        request: deploy::DeployRequest,
    },
    /// The runs this program serves, with live request counts. Returns `Deployment[]`.
    ListDeployments {
        /// Only those of this project folder.
        #[serde(default)]
        dir: Option<String>,
    },
    /// Stops serving a deployment. Returns `Deployment[]`, those left.
    StopDeployment {
        /// The deployment.
        id: u64,
    },
    /// The people who may sign in to a shared server of the project. Returns `User[]`.
    ListUsers {
        /// The project folder.
        dir: String,
    },
    /// Adds a person with a role and a generated password (shown once). Returns
    /// [`users::NewPassword`].
    AddUser {
        /// The project folder.
        dir: String,
        /// The name they sign in with.
        name: String,
        /// Their role.
        role: finelab_store::Role,
    },
    /// Gives a person a new generated password; their sessions end. Returns [`users::NewPassword`].
    ResetUser {
        /// The project folder.
        dir: String,
        /// Who.
        name: String,
    },
    /// Removes a person (their labels stay). Returns `User[]`, those left.
    RemoveUser {
        /// The project folder.
        dir: String,
        /// Who.
        name: String,
    },
    /// Import the model a job trained elsewhere (the job's output folder) as a run: the project's
    /// data must still be the job's snapshot. Returns [`cluster::ImportedRun`].
    ImportRun {
        /// The project folder.
        dir: String,
        /// The job's output folder.
        output: String,
    },
}

/// What [`Request::AppInfo`] returns.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct AppInfo {
    /// Finelab's version.
    pub version: String,
    /// The project the shell was started with, if any.
    pub project: Option<String>,
}

/// A project as the UI shows it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ProjectView {
    /// The folder (absolute).
    pub dir: String,
    /// Settings.
    pub settings: ProjectSettings,
    /// The label set.
    pub labels: Vec<LabelDef>,
    /// Counts.
    pub stats: Stats,
}

/// An entry of the recent-projects list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RecentProject {
    /// The folder.
    pub dir: String,
    /// Its name.
    pub name: String,
    /// Last opened (ms since the epoch).
    pub opened_at: i64,
}

/// Shared state of a running shell: open projects, jobs, the recent list.
pub struct AppContext {
    stores: Mutex<HashMap<PathBuf, Arc<Mutex<Store>>>>,
    jobs: Jobs,
    autotrain: AutoTrain,
    pub(crate) holds: crate::assign::Holds,
    drafts: generation::DraftModel,
    deployments: deploy::Deployments,
    config_dir: Option<PathBuf>,
    start_project: Option<PathBuf>,
}

impl AppContext {
    /// A context that keeps its recent-projects list in `config_dir` (none: not kept), started on
    /// `project` if given.
    pub fn new(config_dir: Option<PathBuf>, project: Option<PathBuf>) -> AppContext {
        AppContext {
            stores: Mutex::new(HashMap::new()),
            jobs: Jobs::new(),
            autotrain: AutoTrain::new(),
            holds: Default::default(),
            drafts: Default::default(),
            deployments: Default::default(),
            config_dir,
            start_project: project.map(|p| absolute(&p.to_string_lossy())),
        }
    }

    /// The platform's config folder for Finelab (`$XDG_CONFIG_HOME/finelab`, `~/.config/finelab`).
    pub fn default_config_dir() -> Option<PathBuf> {
        if let Some(x) = std::env::var_os("FINELAB_CONFIG_DIR") {
            return Some(PathBuf::from(x));
        }
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("finelab"))
    }

    pub(crate) fn store(&self, dir: &str) -> Result<Arc<Mutex<Store>>> {
        let key = absolute(dir);
        let mut stores = self.stores.lock().unwrap();
        if let Some(s) = stores.get(&key) {
            return Ok(s.clone());
        }
        let opened = Store::open(&key)?;
        if opened.search_pending()? > 0 {
            // Records not yet in the search index (an import run with --no-index, a killed one,
            // or a new index format) are indexed in the background; search scans them meanwhile.
            let dir = key.clone();
            std::thread::spawn(move || {
                if let Ok(mut store) = Store::open(&dir) {
                    let _ = store.index_pending(50_000, &mut |_, _| true);
                }
            });
        }
        let store = Arc::new(Mutex::new(opened));
        stores.insert(key, store.clone());
        Ok(store)
    }

    /// Writes an annotation (an output written from a model's draft logs the size of the edit)
    /// and counts a label towards the project's background retrain.
    fn annotate(
        &self,
        dir: &str,
        seq: i64,
        annotator: &str,
        action: &Action,
        draft: Option<&generation::DraftUsed>,
    ) -> Result<Annotated> {
        let store = self.store(dir)?;
        let (receipt, every) = {
            let mut store = store.lock().unwrap();
            let receipt = match (action, draft) {
                (Action::Label { value: AnnotationValue::Output(output) }, Some(draft)) => {
                    store.annotate_from_draft(seq, annotator, output, &draft.run, &draft.text)?
                }
                _ => store.annotate(seq, annotator, action)?,
            };
            (receipt, store.settings()?.retrain_every)
        };
        if matches!(action, Action::Label { .. } | Action::Skip) {
            self.holds.release(&absolute(dir), annotator, seq);
        }
        let retrain_job = match action {
            Action::Label { .. } => {
                self.autotrain.after_label(&self.jobs, &absolute(dir), every, || store.lock().unwrap().stats().ok())
            }
            _ => None,
        };
        Ok(Annotated { receipt, retrain_job })
    }

    fn project_view(&self, dir: &str) -> Result<ProjectView> {
        let store = self.store(dir)?;
        let store = store.lock().unwrap();
        Ok(ProjectView {
            dir: absolute(dir).display().to_string(),
            settings: store.settings()?,
            labels: store.labels()?,
            stats: store.stats()?,
        })
    }

    fn recent_path(&self) -> Option<PathBuf> {
        self.config_dir.as_ref().map(|d| d.join("recent.json"))
    }

    /// The recent-projects list (missing folders left out).
    pub fn recent(&self) -> Vec<RecentProject> {
        let Some(path) = self.recent_path() else { return Vec::new() };
        let list: Vec<RecentProject> =
            std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        list.into_iter().filter(|p| Path::new(&p.dir).join(finelab_store::DB_FILE).is_file()).collect()
    }

    fn remember(&self, view: &ProjectView) {
        let Some(path) = self.recent_path() else { return };
        let mut list = self.recent();
        list.retain(|p| p.dir != view.dir);
        list.insert(
            0,
            RecentProject {
                dir: view.dir.clone(),
                name: view.settings.name.clone(),
                opened_at: finelab_store::now_ms(),
            },
        );
        list.truncate(20);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // Write then rename, so a crash never leaves a torn list.
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, serde_json::to_vec_pretty(&list).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// Handles one request. Blocking: shells call it off their async runtime.
    pub fn handle(&self, request: Request) -> std::result::Result<serde_json::Value, ErrorBody> {
        self.handle_inner(request).map_err(|e| e.body())
    }

    fn handle_inner(&self, request: Request) -> Result<serde_json::Value> {
        dispatch(self, request)
    }

    /// A job's current state.
    pub fn job_state(&self, id: u64) -> Result<JobState> {
        self.jobs.state(id)
    }

    /// The jobs of this context, newest first; with `dir`, only that project's.
    pub fn list_jobs(&self, dir: Option<&str>) -> Vec<JobState> {
        self.jobs.list(dir.map(absolute).as_deref())
    }

    /// Calls `send` with the job's state whenever it changes (at most every 100 ms) until the job
    /// is over or `send` returns false. Blocking.
    pub fn watch_job(&self, id: u64, send: &mut dyn FnMut(&JobState) -> bool) -> Result<()> {
        self.jobs.watch(id, send)
    }
}

/// The dispatch and its response table from one list: each request kind, the pattern that takes
/// it apart, the type it answers with and the function call that makes the answer. The type is
/// checked against the value by the compiler and becomes `Responses` in the generated TypeScript,
/// so the UI's client is typed by the same list the shells dispatch by.
macro_rules! requests {
    ($ctx:ident, $request:ident; $( $cmd:literal : $pat:pat => $ty:ty = $body:expr ; )*) => {
        fn dispatch($ctx: &AppContext, $request: Request) -> Result<serde_json::Value> {
            Ok(match $request {
                $( $pat => {
                    let response: $ty = $body;
                    serde_json::to_value(&response).expect("response types serialize")
                } )*
            })
        }

        /// Every request kind (its `cmd`) with the TypeScript type of its response.
        pub fn response_types() -> Vec<(&'static str, String)> {
            vec![ $( ($cmd, <$ty as TS>::name()) ),* ]
        }
    };
}

requests! { ctx, request;
    "app_info": Request::AppInfo {} => AppInfo = AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        project: ctx.start_project.as_ref().map(|p| p.display().to_string()),
    };
    "recent_projects": Request::RecentProjects {} => Vec<RecentProject> = ctx.recent();
    "create_project": Request::CreateProject { dir, project } => ProjectView = {
        project::create(&absolute(&dir), &project)?;
        let view = ctx.project_view(&dir)?;
        ctx.remember(&view);
        view
    };
    "open_project": Request::OpenProject { dir } => ProjectView = {
        let view = ctx.project_view(&dir)?;
        ctx.remember(&view);
        view
    };
    "set_guidelines": Request::SetGuidelines { dir, markdown } => ProjectView = {
        ctx.store(&dir)?.lock().unwrap().set_guidelines(&markdown)?;
        ctx.project_view(&dir)?
    };
    "preview_import": Request::PreviewImport { dir, path, options } => ImportPreview = {
        let kind = ctx.store(&dir)?.lock().unwrap().kind()?;
        finelab_store::import::preview(Path::new(&path), kind, &options.to_options()?, 20)?
    };
    "start_import": Request::StartImport { dir, path, options } => JobState =
        project::start_import(&ctx.jobs, &absolute(&dir), Path::new(&path), options.to_options()?)?;
    "job": Request::Job { id } => JobState = ctx.jobs.state(id)?;
    "cancel_job": Request::CancelJob { id } => JobState = ctx.jobs.cancel(id)?;
    "next_record": Request::NextRecord { dir, annotator, after_seq } => Option<RecordView> =
        ctx.next_record(&dir, &annotator, after_seq)?;
    "get_record": Request::GetRecord { dir, seq } => RecordView = ctx.store(&dir)?.lock().unwrap().record_by_seq(seq)?;
    "annotate": Request::Annotate { dir, seq, annotator, action, draft } => Annotated =
        ctx.annotate(&dir, seq, &annotator, &action, draft.as_ref())?;
    "set_retrain_every": Request::SetRetrainEvery { dir, every } => ProjectView = {
        ctx.store(&dir)?.lock().unwrap().set_retrain_every(every)?;
        ctx.project_view(&dir)?
    };
    "update_settings": Request::UpdateSettings { dir, change } => ProjectView = {
        project::settings(&absolute(&dir), &change)?;
        ctx.project_view(&dir)?
    };
    "undo": Request::Undo { dir, annotator } => Option<Receipt> = ctx.store(&dir)?.lock().unwrap().undo(&annotator)?;
    "search": Request::Search { dir, query } => SearchPage = ctx.store(&dir)?.lock().unwrap().search(&query)?;
    "count_records": Request::CountRecords { dir, query, cap } => u64 = {
        let query = SearchQuery { after_seq: None, offset: None, limit: None, ..query };
        ctx.store(&dir)?.lock().unwrap().count_matches(&query, cap.unwrap_or(1_000_000))?
    };
    "stats": Request::Stats { dir } => Stats = ctx.store(&dir)?.lock().unwrap().stats()?;
    "train_setup": Request::TrainSetup { dir } => TrainSetup = models::train_setup(Some(&absolute(&dir)));
    "inspect_model": Request::InspectModel { path } => ModelEntry = models::inspect_model(Path::new(&path))?;
    "download_model": Request::DownloadModel { name, revision } => JobState =
        hub::start_download(&ctx.jobs, &name, revision.as_deref())?;
    "list_jobs": Request::ListJobs { dir } => Vec<JobState> = ctx.list_jobs(dir.as_deref());
    "start_train": Request::StartTrain { dir, request } => JobState =
        training_jobs::start_train(&ctx.jobs, &absolute(&dir), &request)?;
    "estimate_train_memory": Request::EstimateTrainMemory { dir: _, request } => Option<crate::memory::TrainMemory> =
        crate::memory::train_memory(&request)?;
    "start_optimize": Request::StartOptimize { dir, request } => JobState =
        crate::optimize::start_optimize(&ctx.jobs, &absolute(&dir), &request)?;
    "run_costs": Request::RunCosts { dir, speed } => Vec<crate::optimize::RunCost> =
        crate::optimize::run_costs(&absolute(&dir), speed == Some(true), 256)?;
    "list_runs": Request::ListRuns { dir } => Vec<train::RunSummary> = train::runs(&absolute(&dir))?;
    "get_run": Request::GetRun { dir, run } => RunDetail = results::run_detail(&absolute(&dir), &run)?;
    "evaluate": Request::Evaluate { dir, run, split } => train::Evaluation =
        train::eval(&absolute(&dir), run.as_deref(), split)?;
    "run_records": Request::RunRecords { dir, run, split, gold, predicted, label, only_errors, limit, offset } =>
        finelab_store::RunRecordsPage = {
        let query = RunRecordsQuery { split, gold, predicted, label, only_errors: only_errors.unwrap_or(false), limit, offset };
        results::run_records(&absolute(&dir), &run, &query)?
    };
    "export_model": Request::ExportModel { dir, run, dest, adapter } => ExportedModel =
        results::export_model_as(
            &absolute(&dir),
            &run,
            Path::new(&dest),
            if adapter == Some(true) { results::ModelExport::Adapter } else { results::ModelExport::Model },
        )?;
    "resume_run": Request::ResumeRun { dir, run } => JobState =
        training_jobs::resume_run(&ctx.jobs, &absolute(&dir), &run)?;
    "export_job": Request::ExportJob { dir, request, out } => cluster::ExportedJob = {
        let dir = absolute(&dir);
        let out = out.filter(|o| !o.trim().is_empty()).map(|o| absolute(&o));
        cluster::export_job(&dir, &cluster::ExportJobRequest { train: request, out })?
    };
    "import_run": Request::ImportRun { dir, output } => cluster::ImportedRun =
        cluster::import_run(&absolute(&dir), &absolute(&output))?;
    "next_batch": Request::NextBatch { dir, annotator, n, strategy, seed, label } => active::NextBatch =
        ctx.next_batch(&dir, &annotator, n, strategy, seed.unwrap_or(42), label.as_deref())?;
    "train_curve": Request::TrainCurve { dir, request } => curve::TrainCurve =
        curve::train_curve(&absolute(&dir), &request)?;
    "suspects": Request::Suspects { dir, request } => suspects::SuspectsReport =
        suspects::suspects(&absolute(&dir), &request)?;
    "start_suspects": Request::StartSuspects { dir, request } => JobState =
        suspects::start_suspects(&ctx.jobs, &absolute(&dir), request)?;
    "agreement": Request::Agreement { dir, annotators } => teams::AgreementReport =
        teams::agreement(&absolute(&dir), annotators.as_deref())?;
    "disagreements": Request::Disagreements { dir, a, b, after_seq, limit } => teams::Disagreements = {
        let pair = match (&a, &b) {
            (Some(a), Some(b)) => Some((a.as_str(), b.as_str())),
            (None, None) => None,
            _ => return Err(AppError::Invalid("name both annotators of a pair (a and b), or neither".into())),
        };
        teams::disagreements(&absolute(&dir), pair, after_seq, limit.min(1000))?
    };
    "adjudicate": Request::Adjudicate { dir, seq, reviewer, value } => Receipt =
        ctx.store(&dir)?.lock().unwrap().adjudicate(seq, &reviewer, &value)?;
    "people": Request::People { dir, noise } => Vec<teams::Person> =
        teams::people(&absolute(&dir), noise == Some(true))?;
    "assign_slice": Request::AssignSlice { dir, query, people } => finelab_store::Assignment =
        ctx.store(&dir)?.lock().unwrap().add_assignment(&query, &people)?;
    "list_assignments": Request::ListAssignments { dir } => Vec<finelab_store::Assignment> =
        ctx.store(&dir)?.lock().unwrap().assignments()?;
    "remove_assignment": Request::RemoveAssignment { dir, id } => Vec<finelab_store::Assignment> = {
        let store = ctx.store(&dir)?;
        let store = store.lock().unwrap();
        store.remove_assignment(id)?;
        store.assignments()?
    };
    "production_mix": Request::ProductionMix { dir } => production::ProductionMix = production::mix(&absolute(&dir))?;
    "list_users": Request::ListUsers { dir } => Vec<finelab_store::User> = users::list(&absolute(&dir))?;
    "add_user": Request::AddUser { dir, name, role } => users::NewPassword = users::add(&absolute(&dir), &name, role)?;
    "reset_user": Request::ResetUser { dir, name } => users::NewPassword = users::reset(&absolute(&dir), &name)?;
    "remove_user": Request::RemoveUser { dir, name } => Vec<finelab_store::User> = {
        users::remove(&absolute(&dir), &name)?;
        users::list(&absolute(&dir))?
    };
    "start_train_curve": Request::StartTrainCurve { dir, request } => JobState =
        curve::start_train_curve(&ctx.jobs, &absolute(&dir), request)?;
    "deploy": Request::Deploy { dir, run, request } => deploy::Deployment =
        ctx.deployments.deploy(&absolute(&dir), &run, &request)?;
    "list_deployments": Request::ListDeployments { dir } => Vec<deploy::Deployment> =
        ctx.deployments.list(dir.map(|d| absolute(&d)).as_deref());
    "stop_deployment": Request::StopDeployment { id } => Vec<deploy::Deployment> = {
        ctx.deployments.stop(id)?;
        ctx.deployments.list(None)
    };
    "draft": Request::Draft { dir, seq } => Option<generation::Draft> =
        ctx.drafts.draft(&absolute(&dir), &*ctx.store(&dir)?, seq)?;
    "start_comparison": Request::StartComparison { dir, request, by } => finelab_store::Comparison =
        generation::start_comparison(&mut ctx.store(&dir)?.lock().unwrap(), &request, &by)?;
    "list_comparisons": Request::ListComparisons { dir } => Vec<finelab_store::Comparison> =
        ctx.store(&dir)?.lock().unwrap().comparisons()?;
    "next_comparison_item": Request::NextComparisonItem { dir, comparison, annotator, after } =>
        Option<finelab_store::ComparisonItem> =
        ctx.store(&dir)?.lock().unwrap().next_comparison_item(comparison, &annotator, after)?;
    "prefer": Request::Prefer { dir, comparison, position, annotator, pick } => finelab_store::PreferenceReceipt =
        ctx.store(&dir)?.lock().unwrap().prefer(comparison, position, &annotator, pick)?;
    "undo_preference": Request::UndoPreference { dir, comparison, annotator } =>
        Option<finelab_store::PreferenceReceipt> =
        ctx.store(&dir)?.lock().unwrap().undo_preference(comparison, &annotator)?;
    "comparison_report": Request::ComparisonReport { dir, comparison } => generation::ComparisonReport =
        generation::comparison_report(&ctx.store(&dir)?.lock().unwrap(), comparison)?;
    "generation_records": Request::GenerationRecords { dir, run, query } => generation::GenRecordsPage =
        generation::generation_records(&ctx.store(&dir)?.lock().unwrap(), &run, &query)?;
    "export_preferences": Request::ExportPreferences { dir, dest } => u64 =
        generation::export_preferences(&ctx.store(&dir)?.lock().unwrap(), Path::new(&dest))?;
}
