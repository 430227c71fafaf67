//! Training runs and what comes after them: [`train`] records a run in the project and trains a
//! model on an exact snapshot of its labeled data; [`eval`] reads a run's report and [`runs`]
//! lists them (both in `runs.rs`); [`predict`] streams a model's predictions; [`metrics`] scores
//! a prediction file against a gold file.
//!
//! A run lives in the project twice: as a row in the store (config, device, data hash, per-epoch
//! summaries, final reports, status) and as a folder `runs/<run-id>/` holding `model/` (loadable
//! with [`Predictor::load`]) and `run.json` (what [`train`] returned). Its status is `running`
//! while its process lives; `completed`, or `cancelled` when the caller stopped it (the best model
//! so far is kept and evaluated); `failed` with its error; `interrupted` when its process died
//! without a word (kill -9, a crash, a power cut). Nothing can write that last status at the time,
//! so every use case here that opens a project first marks the `running` runs whose process is
//! gone ([`process_alive`]).

use crate::{AppError, Result};
use finelab_store::{AnnotationValue, LabeledRecord, NewRun, ProjectKind, RunStatus, RunUpdate, Split, Store};
use finelab_train::generator::generate::GenerateOptions;
use finelab_train::generator::gguf::GgufQuant;
use finelab_train::generator::template::Message;
use finelab_train::generator::{ChatDataset, ChatExample, GeneratorModel};
use finelab_train::{Dataset, EpochSummary, Example, Progress, Target, Task, TrainConfig, TrainOptions};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::predict::chat_messages;
pub use crate::predict::{is_generator_folder, load_model, predict, PredictSummary, DEFAULT_MAX_NEW_TOKENS};
pub use crate::runs::{eval, process_alive, run, runs, Evaluation, ReportSource, RunSummary};
use crate::runs::{open, RunHere};
pub use crate::scoring::{
    evaluation_text, generation_report_text, metrics, report_from_json, report_text, MetricsRequest,
};
pub use finelab_train::Control;

/// The name of the one model family that needs no model folder.
pub use crate::models::INSTANT;

/// A request to train a model on a project, as raw as it comes from a form or flags; [`train`]
/// validates it before touching the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields = nullable)]
pub struct TrainRequest {
    /// `instant`, or a Hugging Face-layout model folder (BERT, RoBERTa / XLM-RoBERTa or
    /// DistilBERT) to fine-tune: the transformer family.
    pub model: String,
    /// Maximum number of epochs (early stopping on dev macro-F1 may stop sooner).
    pub epochs: Option<usize>,
    /// Examples per gradient step.
    pub batch_size: Option<usize>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Longest input in tokens. Recorded in the run's config; the instant family reads whole
    /// texts, the transformer family truncates to it (dialogs keep their latest turns).
    pub max_len: Option<usize>,
    /// Seed: the same data, options and seed give the same model.
    pub seed: Option<u64>,
    /// `auto`, `cpu`, `cuda` or `metal` (default `auto`).
    pub device: Option<String>,
    /// Epochs without a better dev score before training stops early (default: 2 for the neural
    /// families).
    pub patience: Option<usize>,
    /// Generator family: the rank of the LoRA adapters (default 16).
    pub lora_rank: Option<usize>,
    /// Generator family: LoRA's alpha (default 32).
    pub lora_alpha: Option<f64>,
    /// Generator family: dropout on the adapters' input (default 0.05).
    pub lora_dropout: Option<f64>,
    /// Generator family: the projections that get adapters (default every attention and MLP
    /// projection).
    pub lora_targets: Option<Vec<String>>,
    /// Generator family: train every weight instead of LoRA adapters (small models only).
    pub full_finetune: Option<bool>,
    /// Generator family: the most tokens generated per dev and test record after training
    /// (default 256).
    pub max_new_tokens: Option<usize>,
    /// Started by the background retrain while people label ([`crate::autotrain`]); recorded
    /// in the run's config. Only the newest few such runs are kept.
    #[serde(default)]
    #[ts(optional)]
    pub background: Option<bool>,
    /// Made from another run (`finelab optimize`): the parent and how; recorded in the run's
    /// config.
    #[serde(default)]
    #[ts(optional)]
    pub optimized_from: Option<OptimizedFrom>,
}

/// [`OptimizedFrom::method`] of a run whose model is its parent's quantized to int8: it is
/// scored, not trained.
pub const INT8: &str = finelab_train::transformer::quantize::INT8;

/// [`OptimizedFrom::method`] of a run trained on its parent's soft predictions.
pub const DISTILL: &str = "distill";

/// The run a run was made from by optimising it, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct OptimizedFrom {
    /// The parent run.
    pub run: String,
    /// `prune`, `int8` or `distill`; `q8_0` or `q4_k_m` (a generator's GGUF export).
    pub method: String,
    /// Encoder layers kept (prune, distill).
    #[serde(default)]
    pub layers: Option<usize>,
}

impl TrainRequest {
    /// The request a run was trained with, read back from its stored config (for resuming it):
    /// the config a run records is a superset of the request, so it deserializes as one.
    pub fn from_run_config(run: &str, config: &Value) -> Result<TrainRequest> {
        serde_json::from_value(config.clone())
            .map_err(|e| AppError::Invalid(format!("the stored settings of run {run} cannot be read back: {e}")))
    }
}

impl Default for TrainRequest {
    fn default() -> Self {
        TrainRequest {
            model: INSTANT.into(),
            epochs: None,
            batch_size: None,
            lr: None,
            max_len: None,
            seed: None,
            device: None,
            patience: None,
            lora_rank: None,
            lora_alpha: None,
            lora_dropout: None,
            lora_targets: None,
            full_finetune: None,
            max_new_tokens: None,
            background: None,
            optimized_from: None,
        }
    }
}

/// A validated [`TrainRequest`].
pub(crate) struct TrainPlan {
    pub(crate) config: TrainConfig,
    /// The config as the run records it: the trainer's config plus `model` and `max_len`.
    pub(crate) config_json: Value,
}

impl TrainRequest {
    /// Checks the request as [`train`] does before it touches a project.
    pub fn validate(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    pub(crate) fn plan(&self) -> Result<TrainPlan> {
        let model = self.model.trim();
        let device = self.device.as_deref().unwrap_or("auto");
        if let Some(n) = self.max_len {
            if !(1..=1_000_000).contains(&n) {
                return Err(AppError::Invalid(format!("--max-len {n}: must be between 1 and 1000000")));
            }
        }
        let options = if model == INSTANT {
            match device {
                "auto" | "cpu" => {}
                "cuda" | "metal" => {
                    return Err(AppError::Unsupported(format!(
                        "--device {device}: the instant family trains on the CPU (use --device auto or cpu, or a transformer --model folder for the GPU)"
                    )))
                }
                other => return Err(AppError::Invalid(format!("unknown device {other:?}; expected auto, cpu, cuda or metal"))),
            }
            TrainOptions {
                family: Some(INSTANT.into()),
                epochs: self.epochs,
                lr: self.lr,
                seed: self.seed,
                batch_size: self.batch_size,
                patience: self.patience,
                device: Some("cpu".into()),
                ..TrainOptions::default()
            }
        } else {
            // A hub name (`org/name`) is found in the Hugging Face cache; `finelab download` (or
            // the `download_model` request) puts it there.
            let cached = if Path::new(model).is_dir() { None } else { crate::hub::cached_hub_model(model) };
            let path = cached.as_deref().unwrap_or(Path::new(model));
            if !path.is_dir() {
                return Err(AppError::Invalid(format!(
                    "--model {model:?} is neither `instant` nor an existing model folder (a Hugging Face folder with \
                     config.json, tokenizer.json or vocab.txt, and model.safetensors or pytorch_model.bin){}",
                    if model.contains('/') && !model.starts_with(['/', '.']) {
                        " nor a model in the Hugging Face cache: download it with `finelab download NAME` \
                         (HF_ENDPOINT selects a mirror) or pick a folder"
                    } else {
                        ""
                    }
                )));
            }
            // An absolute path, so the run's config still names the folder when read from elsewhere.
            let base = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            let family = if is_generator_folder(&base) {
                finelab_train::generator::FAMILY
            } else {
                finelab_train::transformer::FAMILY
            };
            TrainOptions {
                family: Some(family.into()),
                patience: self.patience,
                lora_rank: self.lora_rank,
                lora_alpha: self.lora_alpha,
                lora_dropout: self.lora_dropout,
                lora_targets: self.lora_targets.clone(),
                full_finetune: self.full_finetune,
                base_model: Some(base),
                epochs: self.epochs,
                lr: self.lr,
                seed: self.seed,
                batch_size: self.batch_size,
                max_len: self.max_len,
                device: Some(device.to_string()),
                ..TrainOptions::default()
            }
        };
        let unsupported = |e: finelab_train::Error| match e {
            finelab_train::Error::DeviceUnavailable { .. } => AppError::Unsupported(format!("--device {device}: {e}")),
            e => e.into(),
        };
        let mut config = TrainConfig::from_options(&options).map_err(unsupported)?;
        if config.family != INSTANT {
            // The run records the device it gets (`auto` becomes cuda, metal or cpu).
            let picked = finelab_train::transformer::select_device(&config.device).map_err(unsupported)?;
            config.device = finelab_train::transformer::device_name(&picked);
        }
        let mut config_json = serde_json::to_value(&config).expect("a train config serializes");
        config_json["model"] = json!(model);
        config_json["max_len"] = json!(self.max_len.unwrap_or(config.max_len));
        if self.background == Some(true) {
            config_json["background"] = json!(true);
        }
        if let Some(from) = &self.optimized_from {
            config_json["optimized_from"] = json!(from);
        }
        if config.family == finelab_train::generator::FAMILY {
            let n = self.max_new_tokens.unwrap_or(DEFAULT_MAX_NEW_TOKENS);
            if !(1..=100_000).contains(&n) {
                return Err(AppError::Invalid(format!("--max-new-tokens {n}: must be between 1 and 100000")));
            }
            config_json["max_new_tokens"] = json!(n);
        }
        Ok(TrainPlan { config, config_json })
    }
}

/// What [`train`] tells its caller while it works. Serialized with an `"event"` tag, so a shell can
/// stream the events as JSON lines as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TrainEvent {
    /// The run is recorded and training begins.
    Started {
        /// The run id.
        run: String,
        /// Where the model will be saved.
        model_dir: PathBuf,
        /// Model family.
        family: String,
        /// Device.
        device: String,
        /// Hash of the labeled data snapshot.
        data_hash: String,
        /// Training records.
        n_train: u64,
        /// Development records (0: early stopping watches the train split instead).
        n_dev: u64,
        /// Test records.
        n_test: u64,
        /// The config the run records.
        config: Value,
    },
    /// Some gradient steps were taken.
    Step {
        /// Current epoch, from 1.
        epoch: usize,
        /// Maximum number of epochs.
        epochs: usize,
        /// Steps taken so far, from 1.
        step: usize,
        /// Steps the run takes if every epoch runs.
        total_steps: usize,
        /// Mean training loss over the current epoch so far.
        loss: f64,
        /// Training examples per second.
        samples_per_sec: f64,
        /// Estimated seconds left if every epoch runs (early stopping can only shorten it).
        eta_secs: f64,
        /// Training tokens per second (generators).
        #[serde(default)]
        tokens_per_sec: Option<f64>,
    },
    /// An epoch ended and was evaluated on dev.
    Epoch {
        /// The epoch, from 1.
        epoch: usize,
        /// Mean training loss over the epoch.
        train_loss: f64,
        /// Macro-F1 on dev (on train when there is no dev split).
        dev_macro_f1: f64,
        /// Whether this epoch is the best so far (its model is the one kept).
        best: bool,
        /// Seconds the epoch took, evaluation included.
        seconds: f64,
        /// The dev report (scikit-learn's dictionary shape).
        dev_report: Value,
    },
}

/// What a finished (completed or cancelled) run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct TrainDone {
    /// The run id.
    pub run: String,
    /// `completed`, or `cancelled` when the caller stopped it.
    pub status: RunStatus,
    /// The saved model folder.
    pub model_dir: PathBuf,
    /// The epoch whose model was kept (0: stopped before the first epoch ended).
    pub best_epoch: usize,
    /// Every evaluated epoch.
    #[ts(as = "Vec<crate::progress::EpochSummaryView>")]
    pub epochs: Vec<EpochSummary>,
    /// Report of the kept model on dev; absent when the project has no dev records.
    pub dev: Option<Value>,
    /// Report of the kept model on test; absent when the project has no test records.
    pub test: Option<Value>,
    /// Macro-F1 on dev.
    pub dev_macro_f1: Option<f64>,
    /// Macro-F1 on test.
    pub test_macro_f1: Option<f64>,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// Hash of the labeled data snapshot.
    pub data_hash: String,
    /// The device it trained on.
    pub device: String,
    /// Wall-clock seconds of training, evaluation and saving.
    pub seconds: f64,
}

/// The labeled data a run trains on, and its hash.
pub(crate) struct Snapshot {
    pub(crate) data: RunData,
    pub(crate) hash: String,
}

/// What a run trains on: labeled texts (classification and spans), or dialogs and the answers
/// to learn (a generate project).
#[derive(Debug, Clone)]
pub(crate) enum RunData {
    /// Texts and their labels or spans.
    Classify(Dataset),
    /// Dialogs and their target outputs.
    Generate(GenData),
}

/// A generate project's data: the dialogs, and the outputs a trained run generated for its dev
/// and test records (by record id; empty until generated).
#[derive(Debug, Clone)]
pub(crate) struct GenData {
    pub(crate) chat: ChatDataset,
    pub(crate) outputs: HashMap<String, String>,
    /// The `meta.category` of the dev and test records that have one (their scores are also
    /// reported per category).
    pub(crate) categories: HashMap<String, String>,
}

impl GenData {
    /// Reads the `meta.category` of the dev and test records from `store`.
    pub(crate) fn read_categories(&mut self, store: &Store) -> Result<()> {
        for example in self.chat.dev.iter().chain(&self.chat.test) {
            let view = store.record(&example.id)?;
            let category = view.record.meta.as_ref().and_then(|m| m.get("category"));
            let name = match category {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => continue,
                Some(other) => other.to_string(),
            };
            self.categories.insert(example.id.clone(), name);
        }
        Ok(())
    }
}

impl RunData {
    fn split_sizes(&self) -> (u64, u64, u64) {
        match self {
            RunData::Classify(d) => (d.train.len() as u64, d.dev.len() as u64, d.test.len() as u64),
            RunData::Generate(g) => (g.chat.train.len() as u64, g.chat.dev.len() as u64, g.chat.test.len() as u64),
        }
    }
}

fn task_of(kind: ProjectKind) -> Task {
    match kind {
        ProjectKind::Single => Task::Single,
        ProjectKind::Multi => Task::Multi,
        // A generate project never builds a `Dataset` (see `RunData`).
        ProjectKind::Spans | ProjectKind::Generate => Task::Spans,
    }
}

fn target_of(value: &AnnotationValue, id: &str) -> Result<Target> {
    match value {
        AnnotationValue::Label(label) => Ok(Target::Single(label.clone())),
        AnnotationValue::Labels(labels) => Ok(Target::Multi(labels.clone())),
        AnnotationValue::Spans(spans) => {
            Ok(Target::Spans(spans.iter().map(|s| finelab_train::Span::new(s.start, s.end, s.label.clone())).collect()))
        }
        AnnotationValue::Output(_) => {
            Err(AppError::Invalid(format!("record {id} has an output, but the project is not of kind generate")))
        }
    }
}

/// The model family a project kind trains with `family`, or an error naming both.
pub(crate) fn check_family(kind: ProjectKind, family: &str, model: &str) -> Result<()> {
    let generator = family == finelab_train::generator::FAMILY;
    if (kind == ProjectKind::Generate) != generator {
        let wants = if kind == ProjectKind::Generate {
            "a generator (a Qwen2, Qwen3 or Llama causal language model folder)"
        } else {
            "`instant` or an encoder folder (BERT, RoBERTa, DistilBERT)"
        };
        return Err(AppError::Unsupported(format!(
            "--model {model}: the {family} family cannot train a {} project; it needs {wants}",
            kind.as_str()
        )));
    }
    Ok(())
}

/// Builds the dataset from the store's labeled records and hashes it. The hash covers the task,
/// the label set and, record by record in id order, the id, text, current value and split: two
/// runs with the same hash trained on the same data. Examples are sorted by id within each split
/// as well, so the same snapshot, options and seed give the same model whatever the import order.
pub(crate) fn snapshot(
    kind: ProjectKind,
    labels: Vec<String>,
    agents: &[String],
    mut records: Vec<LabeledRecord>,
) -> Result<Snapshot> {
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
    hasher.update(format!("finelab-data-v1\0{}\0{}\n", kind.as_str(), labels.join("\x1f")).as_bytes());
    let (mut train, mut dev, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let mut chat = ChatDataset::default();
    for record in records {
        let Some(split) = record.split else { continue };
        let value = serde_json::to_string(&record.value).expect("an annotation value serializes");
        for part in [record.id.as_str(), "\0", record.text.as_str(), "\0", value.as_str(), "\0", split.as_str(), "\n"] {
            hasher.update(part.as_bytes());
        }
        if kind == ProjectKind::Generate {
            let Some(target) = record.value.as_output() else {
                return Err(AppError::Invalid(format!("record {} has a label, not an output", record.id)));
            };
            let example = ChatExample {
                messages: chat_messages(&record.text, record.turns.as_deref(), agents),
                target: target.to_string(),
                id: record.id,
            };
            match split {
                Split::Train => chat.train.push(example),
                Split::Dev => chat.dev.push(example),
                Split::Test => chat.test.push(example),
            }
            continue;
        }
        let example = Example { target: target_of(&record.value, &record.id)?, id: record.id, text: record.text };
        match split {
            Split::Train => train.push(example),
            Split::Dev => dev.push(example),
            Split::Test => test.push(example),
        }
    }
    let data = if kind == ProjectKind::Generate {
        RunData::Generate(GenData { chat, outputs: HashMap::new(), categories: HashMap::new() })
    } else {
        RunData::Classify(Dataset { task: task_of(kind), labels, train, dev, test })
    };
    Ok(Snapshot { data, hash: format!("xxh3-128:{:032x}", hasher.digest128()) })
}

/// `YYYYMMDD-HHMMSS` in UTC for a time in ms since the epoch.
pub(crate) fn utc_stamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Picks a fresh run id (`20261129-213000-instant`, then `-2`, `-3`... within the same second)
/// and claims its folder under `runs/` by creating it.
pub(crate) fn claim_run(store: &Store, family: &str) -> Result<(String, PathBuf)> {
    let runs = store.dir().join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| AppError::Io { path: runs.display().to_string(), source: e })?;
    let base = format!("{}-{family}", utc_stamp(finelab_store::now_ms()));
    for n in 1u32.. {
        let id = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        match store.run(&id) {
            Ok(_) => continue,
            Err(finelab_store::Error::NoSuchRun(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let run_dir = runs.join(&id);
        match std::fs::create_dir(&run_dir) {
            Ok(()) => return Ok((id, run_dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(AppError::Io { path: run_dir.display().to_string(), source: e }),
        }
    }
    unreachable!("some run id is free")
}

/// The folder of a run's model relative to the project, as the run records it.
pub(crate) fn model_rel(run_id: &str) -> String {
    format!("runs/{run_id}/model")
}

/// The dataset a trained run was scored on, rebuilt from the project, to finish storing its
/// predictions. Refused when the labels changed since: the stored reports would then not match.
pub(crate) fn trained_dataset(dir: &Path, row: &finelab_store::RunRow) -> Result<RunData> {
    let store = open(dir)?;
    let kind = store.kind()?;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let mut snap = snapshot(kind, labels, &store.agent_speakers()?, store.labeled_records()?)?;
    if let RunData::Generate(gen) = &mut snap.data {
        gen.read_categories(&store)?;
    }
    if snap.hash != row.data_hash {
        return Err(AppError::Invalid(format!(
            "run {} cannot be finished: the project's labels changed since it trained (data {} now, {} then); \
             train a new run instead",
            row.id, snap.hash, row.data_hash
        )));
    }
    Ok(snap.data)
}

/// Trains a model on the project in `dir` and records the run.
///
/// It validates the request, opens the project (marking dead runs interrupted), gives new labeled
/// records their split, builds the dataset from the current labels and hashes it, records the run
/// as `running` with this process's id, and trains, storing each epoch's summary as it ends.
/// `progress` receives [`TrainEvent`]s and may answer [`Control::Stop`]: training then ends as
/// `cancelled`, keeping and evaluating its best model so far. A training error marks the run
/// `failed` and is returned. `resumed_from` is recorded in the run's config. Returns the dataset
/// the run trained on, to store its predictions on exactly the records it was scored on, and the
/// run's liveness in this process: the run stays `running`, and alive while that is held, until
/// they are stored (see [`crate::training_jobs::train_and_predict`]).
pub(crate) fn train_recorded(
    dir: &Path,
    req: &TrainRequest,
    resumed_from: Option<&str>,
    progress: &mut dyn FnMut(&TrainEvent) -> Control,
) -> Result<(TrainDone, RunData, RunHere)> {
    let mut plan = req.plan()?;
    if let Some(from) = resumed_from {
        plan.config_json["resumed_from"] = json!(from);
    }
    let mut store = open(dir)?;
    store.assign_splits()?;
    let kind = store.kind()?;
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let records = store.labeled_records()?;
    if records.is_empty() {
        let n = store.n_records()?;
        return Err(AppError::Invalid(if n == 0 {
            format!("project {} has no records yet: import a file with `finelab import` first", dir.display())
        } else {
            format!(
                "project {} has {n} record(s) but none is labeled: label some, or import a file with labels, before training",
                dir.display()
            )
        }));
    }
    check_family(kind, &plan.config.family, req.model.trim())?;
    let mut rules: std::collections::BTreeMap<finelab_store::LabelRule, u64> = Default::default();
    for r in records.iter().filter(|r| r.split.is_some()) {
        *rules.entry(r.rule).or_default() += 1;
    }
    plan.config_json["label_rules"] = json!(rules);
    let mut snap = snapshot(kind, labels, &store.agent_speakers()?, records)?;
    if let RunData::Generate(gen) = &mut snap.data {
        gen.read_categories(&store)?;
    }
    let (n_train, n_dev, n_test) = snap.data.split_sizes();
    if n_train == 0 {
        return Err(AppError::Invalid(format!(
            "none of the {} labeled record(s) of {} is in the train split (dev {n_dev}, test {n_test}); \
             create the project with a train share above 0 (`finelab new --split`) or import records with \"split\": \"train\"",
            n_dev + n_test,
            dir.display()
        )));
    }
    // The trainer checks the rest (labels declared, spans inside their text) before anything is
    // recorded, so a dataset that cannot be trained on leaves no run behind.
    if let RunData::Classify(data) = &snap.data {
        data.validate()?;
    }

    let family = plan.config.family.clone();
    let (run_id, run_dir) = claim_run(&store, &family)?;
    let here = RunHere::start(dir, &run_id);
    let model_dir = run_dir.join("model");
    store.create_run(&NewRun {
        id: run_id.clone(),
        family: family.clone(),
        base_model: plan.config.base_model.as_ref().map(|p| p.display().to_string()),
        device: plan.config.device.clone(),
        config: plan.config_json.clone(),
        data_hash: snap.hash.clone(),
        n_train,
        n_dev,
        n_test,
        pid: Some(std::process::id()),
    })?;

    let started = Instant::now();
    let mut stop = progress(&TrainEvent::Started {
        run: run_id.clone(),
        model_dir: model_dir.clone(),
        family: family.clone(),
        device: plan.config.device.clone(),
        data_hash: snap.hash.clone(),
        n_train,
        n_dev,
        n_test,
        config: plan.config_json.clone(),
    }) == Control::Stop;
    let epochs = plan.config.epochs;
    let mut db_error: Option<finelab_store::Error> = None;
    let mut on_progress = |p: &Progress| {
        if stop {
            return Control::Stop;
        }
        let event = match p {
            Progress::Step { epoch, step, total_steps, loss, samples_per_sec, eta_secs, tokens_per_sec } => {
                TrainEvent::Step {
                    epoch: *epoch,
                    epochs,
                    step: *step,
                    total_steps: *total_steps,
                    loss: *loss,
                    samples_per_sec: *samples_per_sec,
                    eta_secs: *eta_secs,
                    tokens_per_sec: *tokens_per_sec,
                }
            }
            Progress::Epoch { epoch, train_loss, dev_macro_f1, dev_report, best_epoch, seconds } => {
                // The trainer says which epoch it keeps and how long this one took.
                let best = best_epoch == epoch;
                let summary = json!({
                    "epoch": epoch, "train_loss": train_loss, "dev_macro_f1": dev_macro_f1,
                    "seconds": seconds, "dev_is_train": n_dev == 0, "dev_report": dev_report,
                });
                if let Err(e) = store.update_run(&run_id, &RunUpdate::Epoch(summary)) {
                    db_error = Some(e);
                    return Control::Stop;
                }
                TrainEvent::Epoch {
                    epoch: *epoch,
                    train_loss: *train_loss,
                    dev_macro_f1: *dev_macro_f1,
                    best,
                    seconds: *seconds,
                    dev_report: dev_report.clone(),
                }
            }
        };
        if progress(&event) == Control::Stop {
            stop = true;
        }
        if stop {
            Control::Stop
        } else {
            Control::Continue
        }
    };
    let result = match &snap.data {
        RunData::Classify(data) if req.optimized_from.as_ref().is_some_and(|f| f.method == INT8) => {
            finelab_train::quantize_int8(data, &plan.config, &model_dir)
        }
        RunData::Classify(data) if req.optimized_from.as_ref().is_some_and(|f| f.method == DISTILL) => {
            let teacher = req.optimized_from.as_ref().map(|f| f.run.as_str()).unwrap_or_default();
            let teacher_dir = crate::runs::run(dir, teacher)?.model_dir.map(|m| dir.join(m)).unwrap_or_default();
            let (data, soft) = crate::distill::training_set(dir, &teacher_dir, data)?;
            finelab_train::distill(&data, &soft, &plan.config, &model_dir, &mut on_progress)
        }
        RunData::Classify(data) => finelab_train::train(data, &plan.config, &model_dir, &mut on_progress),
        RunData::Generate(gen) => {
            let gguf = req.optimized_from.as_ref().and_then(|f| f.method.parse::<GgufQuant>().ok());
            match gguf {
                Some(quant) => finelab_train::generator::quantize_gguf(&gen.chat, &plan.config, &model_dir, quant),
                None => finelab_train::generator::train(&gen.chat, &plan.config, &model_dir, &mut on_progress),
            }
        }
    };
    let outcome = match (result, db_error) {
        (Ok(outcome), None) => outcome,
        (Ok(_), Some(e)) => {
            let _ = store.update_run(&run_id, &RunUpdate::Failed(format!("recording an epoch failed: {e}")));
            return Err(e.into());
        }
        (Err(e), _) => {
            let _ = store.update_run(&run_id, &RunUpdate::Failed(e.to_string()));
            return Err(e.into());
        }
    };

    let status = if outcome.stopped { RunStatus::Cancelled } else { RunStatus::Completed };
    let mut data = snap.data;
    let mut dev = (!outcome.dev_is_train).then(|| outcome.dev.clone());
    let mut test = outcome.test.clone();
    if let RunData::Generate(gen) = &mut data {
        // The dev and test answers, generated once: their scores join the reports, and the same
        // outputs become the run's stored predictions.
        let max_new_tokens = plan.config_json["max_new_tokens"].as_u64().unwrap_or(DEFAULT_MAX_NEW_TOKENS as u64);
        match generate_and_score(gen, &model_dir, &outcome.device, max_new_tokens as usize) {
            Ok((dev_scores, test_scores)) => {
                merge_scores(&mut dev, dev_scores);
                merge_scores(&mut test, test_scores);
            }
            Err(e) => {
                let _ = store.update_run(&run_id, &RunUpdate::Failed(format!("generating dev and test outputs: {e}")));
                return Err(e);
            }
        }
    }
    let macro_f1 = |report: &Value| report["macro avg"]["f1-score"].as_f64();
    let done = TrainDone {
        run: run_id.clone(),
        status,
        model_dir,
        best_epoch: outcome.best_epoch,
        epochs: outcome.epochs,
        dev_macro_f1: dev.as_ref().and_then(macro_f1),
        test_macro_f1: outcome.test.as_ref().and_then(macro_f1),
        dev,
        test,
        n_train,
        n_dev,
        n_test,
        data_hash: snap.hash,
        device: outcome.device,
        seconds: started.elapsed().as_secs_f64(),
    };
    let run_json = run_dir.join("run.json");
    std::fs::write(&run_json, serde_json::to_string_pretty(&done).expect("a run summary serializes"))
        .map_err(|e| AppError::Io { path: run_json.display().to_string(), source: e })?;
    store.update_run(
        &run_id,
        &RunUpdate::Trained {
            status,
            dev_report: done.dev.clone(),
            test_report: done.test.clone(),
            model_dir: Some(model_rel(&run_id)),
        },
    )?;
    Ok((done, data, here))
}

/// Generates the answers of `gen`'s dev and test dialogs with the model in `model_dir` (greedy,
/// at most `max_new_tokens` tokens each), keeps them in `gen.outputs`, and scores each split
/// against its targets (`None` for an empty split).
pub(crate) fn generate_and_score(
    gen: &mut GenData,
    model_dir: &Path,
    device: &str,
    max_new_tokens: usize,
) -> Result<(Option<Value>, Option<Value>)> {
    let model = GeneratorModel::load_on(model_dir, device)?;
    let options = GenerateOptions { max_new_tokens, ..GenerateOptions::default() };
    for split in [&gen.chat.dev, &gen.chat.test] {
        let missing: Vec<&ChatExample> = split.iter().filter(|e| !gen.outputs.contains_key(&e.id)).collect();
        for chunk in missing.chunks(GENERATE_BATCH) {
            let dialogs: Vec<Vec<Message>> = chunk.iter().map(|e| e.messages.clone()).collect();
            let outputs = model.generate(&dialogs, &options)?;
            for (example, output) in chunk.iter().zip(outputs) {
                gen.outputs.insert(example.id.clone(), output);
            }
        }
    }
    let score = |split: &[ChatExample]| -> Result<Option<Value>> {
        if split.is_empty() {
            return Ok(None);
        }
        let outputs: Vec<&str> = split.iter().map(|e| gen.outputs[&e.id].as_str()).collect();
        let references: Vec<&str> = split.iter().map(|e| e.target.as_str()).collect();
        let categories: Vec<Option<String>> = split.iter().map(|e| gen.categories.get(&e.id).cloned()).collect();
        let report = finelab_train::gen_metrics::generation_report(
            &outputs,
            &references,
            categories.iter().any(Option::is_some).then_some(categories.as_slice()),
            finelab_train::gen_metrics::Lang::Auto,
        )?;
        let mut value = serde_json::to_value(&report).expect("a generation report serializes");
        if let Some(obj) = value.as_object_mut() {
            // Each record's scores sit with its prediction, not in the run's report.
            obj.remove("records");
        }
        Ok(Some(value))
    };
    Ok((score(&gen.chat.dev)?, score(&gen.chat.test)?))
}

/// Dialogs generated per batch.
const GENERATE_BATCH: usize = 8;

/// Adds the generation scores `scores` to a split's loss report (or makes them the report).
pub(crate) fn merge_scores(report: &mut Option<Value>, scores: Option<Value>) {
    let Some(Value::Object(scores)) = scores else { return };
    match report {
        Some(Value::Object(obj)) => obj.extend(scores),
        _ => *report = Some(Value::Object(scores)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400_000), "20000229-000000");
        assert_eq!(utc_stamp(1_795_987_845_000), "20261129-213045");
        assert_eq!(utc_stamp(1_704_067_199_999), "20231231-235959");
    }

    #[test]
    fn a_run_with_this_process_pid_is_alive_only_while_this_process_trains() {
        let tmp = tempfile::tempdir().unwrap();
        let project = finelab_store::NewProject {
            name: "p".into(),
            kind: ProjectKind::Single,
            labels: vec![finelab_store::LabelDef::with_defaults("a", 0)],
            guidelines: String::new(),
            split_seed: 42,
            split_ratios: finelab_store::SplitRatios::default(),
        };
        let store = Store::create(tmp.path(), &project).unwrap();
        let run = |id: &str| NewRun {
            id: id.into(),
            family: INSTANT.into(),
            base_model: None,
            device: "cpu".into(),
            config: json!({}),
            data_hash: String::new(),
            n_train: 0,
            n_dev: 0,
            n_test: 0,
            pid: Some(std::process::id()),
        };
        store.create_run(&run("stale")).unwrap();
        assert_eq!(open(tmp.path()).unwrap().run("stale").unwrap().status, "interrupted");
        let training = RunHere::start(tmp.path(), "live");
        store.create_run(&run("live")).unwrap();
        let _other = RunHere::start(tmp.path(), "other");
        // The same id in another project does not keep this one alive.
        let elsewhere = tempfile::tempdir().unwrap();
        let _same_id_elsewhere = RunHere::start(elsewhere.path(), "live");
        assert_eq!(open(tmp.path()).unwrap().run("live").unwrap().status, "running");
        drop(training);
        assert_eq!(open(tmp.path()).unwrap().run("live").unwrap().status, "interrupted");
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }
}
