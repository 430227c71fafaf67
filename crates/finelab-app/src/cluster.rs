//! Training beyond one machine: a project's training job exported for Hugging Face Accelerate
//! and `transformers`' Trainer ([`export_job`]), and the model it trains imported back as a run
//! ([`import_run`]) that Results compares with the runs trained here.
//!
//! The job folder holds the exact data snapshot (`data/{train,dev,test}.jsonl`, JSON Lines that
//! `datasets.load_dataset("json", ...)` reads), `finelab-job.json` (the recipe as Finelab would
//! train it, the label order, the snapshot hash), `train.py` (Trainer with Finelab's recipe),
//! `accelerate_config.yaml` and a README with the launch commands. The job writes
//! `output/model` (the best epoch's Hugging Face folder), `output/predictions-{dev,test}.jsonl`
//! and `output/trainer_report.json`.

use std::path::{Path, PathBuf};

use finelab_store::{NewRun, ProjectKind, RunUpdate};
use finelab_train::generator::ChatExample;
use finelab_train::{Example, Target, Task, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::runs::open;
use crate::train::{
    check_family, claim_run, generate_and_score, merge_scores, model_rel, snapshot, utc_stamp, RunData, TrainRequest,
};
use crate::{AppError, Result};

/// `format` of `finelab-job.json`.
pub const JOB_FORMAT: &str = "finelab-job";
/// `format_version` of `finelab-job.json`.
pub const JOB_FORMAT_VERSION: u32 = 1;
/// The job's manifest file.
pub const JOB_FILE: &str = "finelab-job.json";

const TRAIN_PY: &str = include_str!("../job/train.py");
const ACCELERATE_CONFIG: &str = include_str!("../job/accelerate_config.yaml");
const ACCELERATE_CPU: &str = include_str!("../job/accelerate_cpu.yaml");
const README: &str = include_str!("../job/README.md");

/// A request to write a project's training job for a cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportJobRequest {
    /// The recipe, as for training here (`model` is an encoder folder or hub name).
    pub train: TrainRequest,
    /// The job folder to write, new or empty (default: `jobs/<time>-<family>` in the project).
    #[ts(type = "string | null")]
    pub out: Option<PathBuf>,
}

/// What [`export_job`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportedJob {
    /// The job folder (absolute).
    pub path: String,
    /// Hash of the labeled data snapshot (a run imported from the job must match it).
    pub data_hash: String,
    /// Training records.
    pub n_train: u64,
    /// Development records.
    pub n_dev: u64,
    /// Test records.
    pub n_test: u64,
    /// The files written, relative to the job folder.
    pub files: Vec<String>,
    /// The command that runs the job on this machine's processes (see the job's README for
    /// several GPUs and several machines).
    pub launch: String,
}

/// A run imported by [`import_run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ImportedRun {
    /// The new run's id.
    pub run: String,
    /// Dev macro-F1 as Finelab computed it on the imported model.
    pub dev_macro_f1: Option<f64>,
    /// Test macro-F1 as Finelab computed it on the imported model.
    pub test_macro_f1: Option<f64>,
    /// A generator's test chrF, of the answers Finelab generated with the imported model.
    pub test_chrf: Option<f64>,
    /// Predictions stored (dev, test and every unlabeled record).
    pub n_predictions: u64,
}

/// `finelab-job.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobManifest {
    format: String,
    format_version: u32,
    /// The Finelab version that wrote it.
    finelab: String,
    /// The project it was exported from (absolute), for the README and messages.
    project: String,
    kind: ProjectKind,
    /// `single`, `spans` or `generate`.
    task: String,
    labels: Vec<String>,
    /// The model's outputs in order (the labels, or O, B-x, I-x... for spans): `id2label`.
    outputs: Vec<String>,
    data_hash: String,
    n_train: u64,
    n_dev: u64,
    n_test: u64,
    /// The trainer's config as Finelab would train it.
    config: TrainConfig,
    /// The config a run records (the trainer's config, `model`, `max_len`).
    run_config: Value,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AppError + '_ {
    move |e| AppError::Io { path: path.display().to_string(), source: e }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    std::fs::write(path, text).map_err(io_err(path))
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Single => "single",
        Task::Multi => "multi",
        Task::Spans => "spans",
    }
}

fn outputs_of(task: Task, labels: &[String]) -> Vec<String> {
    match task {
        Task::Spans => {
            let mut tags = vec!["O".to_string()];
            for l in labels {
                tags.push(format!("B-{l}"));
                tags.push(format!("I-{l}"));
            }
            tags
        }
        _ => labels.to_vec(),
    }
}

/// One JSON line of a job's data file.
fn data_line(example: &Example) -> Value {
    match &example.target {
        Target::Single(label) => json!({"id": example.id, "text": example.text, "label": label}),
        Target::Multi(labels) => json!({"id": example.id, "text": example.text, "labels": labels}),
        Target::Spans(spans) => json!({
            "id": example.id,
            "text": example.text,
            "spans": spans.iter().map(|s| json!({"start": s.start, "end": s.end, "label": s.label})).collect::<Vec<_>>(),
        }),
    }
}

/// Writes the project's training job for a cluster: the project's labeled data as a training
/// run here would take it (splits assigned first, the same snapshot and hash), the recipe, and
/// the files that run it with Accelerate: encoder fine-tuning of single-label and span projects,
/// generator fine-tuning (LoRA with peft, or every weight) of generate projects. The instant
/// family trains in seconds here, and multi-label jobs are not written yet (the error says so).
pub fn export_job(dir: &Path, req: &ExportJobRequest) -> Result<ExportedJob> {
    // The job runs on another machine: its device is asked for there (`auto` unless given), not
    // checked here.
    let requested_device = req.train.device.clone().unwrap_or_else(|| "auto".into());
    if !["auto", "cpu", "cuda"].contains(&requested_device.as_str()) {
        return Err(AppError::Invalid(format!("--device {requested_device}: a cluster job runs on auto, cpu or cuda")));
    }
    let mut plan = TrainRequest { device: None, ..req.train.clone() }.plan()?;
    plan.config.device = requested_device.clone();
    plan.config_json["device"] = json!(requested_device);
    let family = plan.config.family.clone();
    if family == crate::models::INSTANT {
        return Err(AppError::Unsupported(
            "the instant family trains in seconds on this machine; a cluster job fine-tunes an encoder: give --model a model folder or hub name".into(),
        ));
    }
    let mut store = open(dir)?;
    store.assign_splits()?;
    let kind = store.kind()?;
    check_family(kind, &family, req.train.model.trim())?;
    if kind == ProjectKind::Multi {
        return Err(AppError::Unsupported(
            "cluster jobs for multi-label projects are not written yet (their per-label thresholds are tuned by Finelab's training); train here".into(),
        ));
    }
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let records = store.labeled_records()?;
    let snap = snapshot(kind, labels.clone(), &store.agent_speakers()?, records)?;
    // Each split's JSON lines, and the task train.py runs.
    let (task, splits): (String, [Vec<Value>; 3]) = match &snap.data {
        RunData::Classify(data) => {
            data.validate()?;
            let lines = |split: &[Example]| split.iter().map(data_line).collect();
            (task_name(data.task).into(), [lines(&data.train), lines(&data.dev), lines(&data.test)])
        }
        RunData::Generate(gen) => {
            let lines = |split: &[ChatExample]| {
                split.iter().map(|e| json!({"id": e.id, "messages": e.messages, "target": e.target})).collect()
            };
            ("generate".into(), [lines(&gen.chat.train), lines(&gen.chat.dev), lines(&gen.chat.test)])
        }
    };
    if splits[0].is_empty() {
        return Err(AppError::Invalid(format!(
            "project {} has no labeled record in the train split: label some before exporting a job",
            dir.display()
        )));
    }

    let out = match &req.out {
        Some(out) => out.clone(),
        None => {
            // `jobs/20261204-013000-transformer`, then `-2`, `-3`... within the same second.
            let base = format!("{}-{family}", utc_stamp(finelab_store::now_ms()));
            let jobs = store.dir().join("jobs");
            (1u32..)
                .map(|n| jobs.join(if n == 1 { base.clone() } else { format!("{base}-{n}") }))
                .find(|p| !p.exists())
                .expect("some job folder name is free")
        }
    };
    if out.exists() {
        if !out.is_dir() {
            return Err(AppError::Invalid(format!("{} exists and is not a folder", out.display())));
        }
        if std::fs::read_dir(&out).map_err(io_err(&out))?.next().is_some() {
            return Err(AppError::Invalid(format!("{} is not empty; choose an empty or new folder", out.display())));
        }
    }
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    let out = std::fs::canonicalize(&out).unwrap_or(out);
    let mut files = Vec::new();
    for (name, split) in ["train", "dev", "test"].into_iter().zip(&splits) {
        let rel = format!("data/{name}.jsonl");
        let text: String = split.iter().map(|line| format!("{line}\n")).collect();
        write(&out.join(&rel), &text)?;
        files.push(rel);
    }
    let project = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let manifest = JobManifest {
        format: JOB_FORMAT.into(),
        format_version: JOB_FORMAT_VERSION,
        finelab: env!("CARGO_PKG_VERSION").into(),
        project: project.display().to_string(),
        kind,
        outputs: match &snap.data {
            RunData::Classify(data) => outputs_of(data.task, &labels),
            RunData::Generate(_) => Vec::new(),
        },
        task,
        labels,
        data_hash: snap.hash.clone(),
        n_train: splits[0].len() as u64,
        n_dev: splits[1].len() as u64,
        n_test: splits[2].len() as u64,
        config: plan.config.clone(),
        run_config: plan.config_json.clone(),
    };
    write(&out.join(JOB_FILE), &serde_json::to_string_pretty(&manifest).expect("a manifest serializes"))?;
    files.push(JOB_FILE.into());
    let scripts = [
        ("train.py", TRAIN_PY),
        ("accelerate_config.yaml", ACCELERATE_CONFIG),
        ("accelerate_cpu.yaml", ACCELERATE_CPU),
        ("README.md", README),
    ];
    for (name, text) in scripts {
        write(&out.join(name), text)?;
        files.push(name.into());
    }
    let launch = format!("cd {} && accelerate launch --config_file accelerate_config.yaml train.py", out.display());
    Ok(ExportedJob {
        path: out.display().to_string(),
        data_hash: snap.hash,
        n_train: manifest.n_train,
        n_dev: manifest.n_dev,
        n_test: manifest.n_test,
        files,
        launch,
    })
}

/// `output/trainer_report.json` as train.py writes it (what Finelab reads of it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct TrainerReport {
    best_epoch: usize,
    epochs: Vec<Value>,
    trainer: String,
    world_size: u64,
}

/// Imports the model a job trained elsewhere: `output` is the job's output folder (the job
/// folder, with `finelab-job.json`, is its parent, or `output` holds a copy). The project's data
/// snapshot must be the job's (same records, labels and splits), else nothing is imported. The
/// model is copied into a new run's folder, evaluated by Finelab on the same dev and test records
/// (the reports Results shows), and its predictions stored (suggestions for unlabeled records
/// too); the run records the job's recipe and `trained_elsewhere`.
pub fn import_run(dir: &Path, output: &Path) -> Result<ImportedRun> {
    let manifest_path = [output.join(JOB_FILE), output.parent().unwrap_or(output).join(JOB_FILE)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "{} is not the output folder of a Finelab job: no {JOB_FILE} in it or beside it",
                output.display()
            ))
        })?;
    let text = std::fs::read_to_string(&manifest_path).map_err(io_err(&manifest_path))?;
    let manifest: JobManifest = serde_json::from_str(&text)
        .map_err(|e| AppError::Invalid(format!("{}: not a Finelab job manifest: {e}", manifest_path.display())))?;
    if manifest.format != JOB_FORMAT || manifest.format_version != JOB_FORMAT_VERSION {
        return Err(AppError::Invalid(format!(
            "{}: format {} v{} is not {JOB_FORMAT} v{JOB_FORMAT_VERSION}",
            manifest_path.display(),
            manifest.format,
            manifest.format_version
        )));
    }
    let trained = output.join("model");
    if !trained.join("config.json").is_file() && !trained.join("adapter_config.json").is_file() {
        return Err(AppError::Invalid(format!(
            "{} has no trained model (model/config.json, or a generator's model/adapter_config.json): has the job finished?",
            output.display()
        )));
    }
    let report_path = output.join("trainer_report.json");
    let report: TrainerReport = match std::fs::read_to_string(&report_path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| AppError::Invalid(format!("{}: {e}", report_path.display())))?
        }
        Err(_) => TrainerReport::default(),
    };

    let store = open(dir)?;
    let kind = store.kind()?;
    if kind != manifest.kind {
        return Err(AppError::Invalid(format!(
            "the job was exported from a {} project; {} is a {} project",
            manifest.kind.as_str(),
            dir.display(),
            kind.as_str()
        )));
    }
    let labels: Vec<String> = store.labels()?.into_iter().map(|l| l.name).collect();
    let mut snap = snapshot(kind, labels, &store.agent_speakers()?, store.labeled_records()?)?;
    if snap.hash != manifest.data_hash {
        return Err(AppError::Invalid(format!(
            "the project's labeled data changed since the job was exported (data {} now, {} in the job): \
             the imported model could not be compared with runs trained here; export a new job",
            snap.hash, manifest.data_hash
        )));
    }
    if let RunData::Generate(gen) = &mut snap.data {
        gen.read_categories(&store)?;
    }
    let (n_train, n_dev, n_test) = (manifest.n_train, manifest.n_dev, manifest.n_test);

    let family = manifest.config.family.clone();
    let (run_id, run_dir) = claim_run(&store, &family)?;
    let _here = crate::runs::RunHere::start(dir, &run_id);
    let model_dir = run_dir.join("model");
    let adopted = copy_model(&trained, &model_dir).and_then(|()| {
        match &snap.data {
            RunData::Classify(_) => {
                let task: Task = serde_json::from_value(json!(manifest.task)).map_err(|e| {
                    AppError::Invalid(format!("{}: task {:?}: {e}", manifest_path.display(), manifest.task))
                })?;
                finelab_train::transformer::adopt_folder(
                    &model_dir,
                    task,
                    &manifest.labels,
                    &manifest.config,
                    report.best_epoch,
                )?;
            }
            RunData::Generate(_) => {
                finelab_train::generator::adopt_folder(&model_dir, &manifest.config, report.best_epoch)?;
                // Loads as a run's model does, or the import stops here.
                finelab_train::generator::GeneratorModel::load_on(&model_dir, "cpu")?;
                return Ok(());
            }
        }
        crate::train::load_model(&model_dir).map(|_| ())
    });
    if let Err(e) = adopted {
        let _ = std::fs::remove_dir_all(&run_dir);
        return Err(e);
    }
    let mut config = manifest.run_config.clone();
    config["trained_elsewhere"] = json!({
        "job": manifest_path.parent().map(|p| p.display().to_string()),
        "output": std::fs::canonicalize(output).unwrap_or_else(|_| output.to_path_buf()).display().to_string(),
        "trainer": report.trainer,
        "world_size": report.world_size,
    });
    config["device"] = json!("elsewhere");
    store.create_run(&NewRun {
        id: run_id.clone(),
        family,
        base_model: manifest.config.base_model.as_ref().map(|p| p.display().to_string()),
        device: "elsewhere".into(),
        config,
        data_hash: snap.hash.clone(),
        n_train,
        n_dev,
        n_test,
        pid: Some(std::process::id()),
    })?;
    let mut finish = || -> Result<ImportedRun> {
        for epoch in &report.epochs {
            store.update_run(&run_id, &RunUpdate::Epoch(epoch.clone()))?;
        }
        let (dev, test) = match &mut snap.data {
            RunData::Classify(data) => {
                let predictor = crate::train::load_model(&model_dir)?;
                let score = |split: &[Example]| -> Result<Option<Value>> {
                    if split.is_empty() {
                        return Ok(None);
                    }
                    Ok(Some(crate::runs::evaluate_examples(&predictor, split, &run_id)?.to_json()))
                };
                (score(&data.dev)?, score(&data.test)?)
            }
            RunData::Generate(gen) => {
                // The loss per answer token on each split, and the scores of the answers Finelab
                // generates with the imported model (greedy), as a run trained here reports them.
                let model = finelab_train::generator::GeneratorModel::load_on(&model_dir, "cpu")?;
                let max_len = manifest.config.max_len;
                let (mut dev, mut test) = (model.loss(&gen.chat.dev, max_len)?, model.loss(&gen.chat.test, max_len)?);
                drop(model);
                let max_new = manifest.run_config["max_new_tokens"]
                    .as_u64()
                    .unwrap_or(crate::train::DEFAULT_MAX_NEW_TOKENS as u64);
                let (dev_scores, test_scores) = generate_and_score(gen, &model_dir, "cpu", max_new as usize)?;
                merge_scores(&mut dev, dev_scores);
                merge_scores(&mut test, test_scores);
                (dev, test)
            }
        };
        let f1 = |r: &Option<Value>| r.as_ref().and_then(|r| r["macro avg"]["f1-score"].as_f64());
        let chrf = |r: &Option<Value>| r.as_ref().and_then(|r| r["chrf"].as_f64());
        let imported = ImportedRun {
            run: run_id.clone(),
            dev_macro_f1: f1(&dev),
            test_macro_f1: f1(&test),
            test_chrf: chrf(&test),
            n_predictions: 0,
        };
        store.update_run(
            &run_id,
            &RunUpdate::Trained {
                status: finelab_store::RunStatus::Completed,
                dev_report: dev,
                test_report: test,
                model_dir: Some(model_rel(&run_id)),
            },
        )?;
        let n = crate::training_jobs::store_predictions(dir, &run_id, &model_dir, &snap.data, true, &mut |_, _| true)?;
        Ok(ImportedRun { n_predictions: n, ..imported })
    };
    finish().inspect_err(|e| {
        let _ = store.update_run(&run_id, &RunUpdate::Failed(format!("importing the job's model: {e}")));
    })
}

/// Copies the files of a trained Hugging Face folder (not its checkpoints) into `to`.
fn copy_model(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let path = entry.path();
        if path.is_file() {
            let dest = to.join(entry.file_name());
            std::fs::copy(&path, &dest).map_err(io_err(&dest))?;
        }
    }
    Ok(())
}
