//! After a run: the run in full ([`run_detail`]), the records behind its charts
//! ([`run_records`]), and its model exported as a folder ([`export_model`]).

use crate::runs::{self, RunSummary};
use crate::{AppError, Result};
use finelab_store::{ProjectKind, RunRecordsPage, RunRecordsQuery, RunRow, Store};
use serde::{Deserialize, Serialize};
use std::path::Path;
use ts_rs::TS;

/// A run in full, for the Results screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunDetail {
    /// The run as stored: config (with `model`, and `resumed_from` for a resumed run), base
    /// model, device, data hash, per-epoch history, dev and test reports.
    pub run: RunRow,
    /// Its line of the run list.
    pub summary: RunSummary,
    /// The project's kind.
    pub kind: ProjectKind,
    /// The project's label set, in order.
    pub labels: Vec<String>,
    /// Whether [`crate::api::Request::ResumeRun`] accepts it (cancelled, interrupted, failed).
    pub resumable: bool,
    /// Files of its model folder (relative to it), empty without one.
    pub model_files: Vec<String>,
}

/// What [`export_model`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExportedModel {
    /// The folder written (absolute).
    pub path: String,
    /// Its files, relative to it, sorted.
    pub files: Vec<String>,
    /// Bytes written.
    pub bytes: u64,
    /// The run's family.
    pub family: String,
}

/// Files under `dir`, relative to it, sorted.
fn list_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The run `id` in full.
pub fn run_detail(dir: &Path, id: &str) -> Result<RunDetail> {
    let run = runs::run(dir, id)?;
    let store = Store::open(dir)?;
    let mut summary = RunSummary::from(&run);
    summary.n_predictions = store.n_predictions(id)?;
    let model_files = run.model_dir.as_ref().map(|m| list_files(&dir.join(m))).unwrap_or_default();
    Ok(RunDetail {
        resumable: run.status.is_resumable(),
        kind: store.kind()?,
        labels: store.labels()?.into_iter().map(|l| l.name).collect(),
        summary,
        run,
        model_files,
    })
}

/// The records behind a chart element of `run` (see [`RunRecordsQuery`]). A run without stored
/// predictions (still running, failed, interrupted) is an error that says so.
pub fn run_records(dir: &Path, run: &str, query: &RunRecordsQuery) -> Result<RunRecordsPage> {
    let store = Store::open(dir)?;
    store.run(run)?;
    store.require_predictions(run)?;
    Ok(store.run_records(run, query)?)
}

/// Copies the model folder of `run` to `dest`, which must not exist or be an empty folder (a
/// non-empty one is refused, so nothing is overwritten). For a transformer run the folder is in
/// Hugging Face's layout (`config.json` with `id2label` / `label2id`, `tokenizer.json`,
/// `model.safetensors`) plus Finelab's `finelab-model.json`; for an instant run it is Finelab's
/// own format, which `finelab predict` reads.
pub fn export_model(dir: &Path, run: &str, dest: &Path) -> Result<ExportedModel> {
    export_model_as(dir, run, dest, ModelExport::Model)
}

/// What [`export_model_as`] writes for a generator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModelExport {
    /// The model: for a generator, a Hugging Face folder with the adapters merged into the
    /// weights, which `transformers` loads unchanged; for the other families, the run's folder.
    #[default]
    Model,
    /// A generator's PEFT LoRA adapter (`adapter_config.json`, `adapter_model.safetensors`, the
    /// tokenizer files), which `peft` loads over the base model it names.
    Adapter,
}

/// [`export_model`], choosing what a generator run writes (`what`).
pub fn export_model_as(dir: &Path, run: &str, dest: &Path, what: ModelExport) -> Result<ExportedModel> {
    let row = runs::run(dir, run)?;
    let Some(model_dir) = row.model_dir.as_ref().map(|m| dir.join(m)).filter(|m| m.is_dir()) else {
        return Err(AppError::Invalid(format!("run {run} is {} and has no saved model to export", row.status)));
    };
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| AppError::Io { path, source: e }
    };
    if dest.as_os_str().is_empty() {
        return Err(AppError::Invalid("no destination folder given".into()));
    }
    if dest.exists() {
        if !dest.is_dir() {
            return Err(AppError::Invalid(format!("{} exists and is not a folder", dest.display())));
        }
        if std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
            return Err(AppError::Invalid(format!("{} is not empty; choose an empty or new folder", dest.display())));
        }
    }
    if row.family == finelab_train::generator::FAMILY {
        return export_generator(&model_dir, dest, what, row.family);
    }
    if what == ModelExport::Adapter {
        return Err(AppError::Invalid(format!(
            "run {run} is a {} run; only a generator run has a LoRA adapter to export",
            row.family
        )));
    }
    let files = list_files(&model_dir);
    let mut bytes = 0u64;
    for file in &files {
        let (from, to) = (model_dir.join(file), dest.join(file));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        bytes += std::fs::copy(&from, &to).map_err(io(&to))?;
    }
    let path = std::fs::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
    Ok(ExportedModel { path: path.display().to_string(), files, bytes, family: row.family })
}

/// Writes a generator run's model as `what` says into `dest` (checked empty).
fn export_generator(model_dir: &Path, dest: &Path, what: ModelExport, family: String) -> Result<ExportedModel> {
    use finelab_train::generator::{export, GeneratorModel};
    let model = GeneratorModel::load(model_dir)?;
    match (what, &model.lora) {
        (ModelExport::Model, _) => export::write_merged(dest, &model.model, &model.base, model_dir)?,
        (ModelExport::Adapter, Some(spec)) => {
            export::write_adapter(dest, &model.model, spec, &model.base.dir)?;
            export::copy_side_files(model_dir, dest)?;
        }
        (ModelExport::Adapter, None) => {
            return Err(AppError::Invalid(format!(
                "{} was fully fine-tuned and has no LoRA adapter; export the model instead",
                model_dir.display()
            )))
        }
    }
    let files = list_files(dest);
    let bytes = files.iter().filter_map(|f| std::fs::metadata(dest.join(f)).ok()).map(|m| m.len()).sum();
    let path = std::fs::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
    Ok(ExportedModel { path: path.display().to_string(), files, bytes, family })
}
