//! The model folders a server serves: which argument names which folder under which name, what
//! kind of model each is, and loading them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use finelab_train::generator::model::Arch;
use finelab_train::generator::GeneratorModel;
use finelab_train::{Predictor, Task};
use serde::Serialize;
use serde_json::Value;

use crate::error::DeployError;

/// The file of a model folder that says which family wrote it.
const MODEL_FILE: &str = finelab_train::instant::MODEL_FILE;

/// A model to serve: its name in requests and its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name requests give as `"model"`.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
}

impl ModelSpec {
    /// `NAME=DIR`, or `DIR`, named by its folder: a run's `runs/<id>/model` (and the run folder
    /// `runs/<id>`, which stands for its `model/`) by the run id.
    pub fn parse(arg: &str) -> Result<ModelSpec, DeployError> {
        let (name, dir) = match arg.split_once('=') {
            Some((name, dir)) if !name.is_empty() && !name.contains(['/', '\\']) => (Some(name), dir),
            _ => (None, arg),
        };
        let dir = model_folder(Path::new(dir));
        let name = match name {
            Some(name) => name.to_string(),
            None => default_name(&dir)
                .ok_or_else(|| DeployError::Invalid(format!("{arg}: cannot name this model; give NAME={arg}")))?,
        };
        if name.chars().any(|c| c.is_control()) || name.trim() != name {
            return Err(DeployError::Invalid(format!(
                "{name:?}: a model name has no control characters or edge spaces"
            )));
        }
        Ok(ModelSpec { name, dir })
    }
}

/// A run folder (`runs/<id>`) stands for its `model/`, as for `finelab predict`.
fn model_folder(dir: &Path) -> PathBuf {
    if !dir.join(MODEL_FILE).is_file() && dir.join("model").join(MODEL_FILE).is_file() {
        dir.join("model")
    } else {
        dir.to_path_buf()
    }
}

/// The folder's name; `model` (the folder of a run) is named by its run.
fn default_name(dir: &Path) -> Option<String> {
    let absolute = std::path::absolute(dir).ok()?;
    let mut components = absolute.components().rev().filter_map(|c| match c {
        std::path::Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
        _ => None,
    });
    let last = components.next()?;
    if last == "model" {
        components.next().or(Some(last))
    } else {
        Some(last)
    }
}

/// What a served model does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// One label a text (`POST /v1/classify`).
    Single,
    /// Several labels a text (`POST /v1/classify`).
    Multi,
    /// Labeled spans (`POST /v1/tag`).
    Spans,
    /// Text (`POST /v1/chat/completions`, `POST /v1/completions`).
    Generate,
}

impl ModelKind {
    /// The route that serves this kind.
    pub fn route(self) -> &'static str {
        match self {
            ModelKind::Single | ModelKind::Multi => "/v1/classify",
            ModelKind::Spans => "/v1/tag",
            ModelKind::Generate => "/v1/chat/completions",
        }
    }
}

/// What `GET /health` says of a model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// Its name in requests.
    pub name: String,
    /// What it does.
    pub kind: ModelKind,
    /// The family that trained it (`instant`, `transformer`, `generator`).
    pub family: String,
    /// Its labels (entity types for spans; none for generators).
    pub labels: Vec<String>,
    /// Its folder.
    pub dir: PathBuf,
}

/// A loaded model.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// A classifier or tagger.
    Predictor(Arc<Predictor>),
    /// A generator.
    Generator(Arc<GeneratorModel>),
}

/// Whether `dir` holds a generator: Finelab's (`finelab-model.json` says so) or a Hugging Face
/// causal LM of an architecture the generator family runs.
pub fn is_generator_folder(dir: &Path) -> bool {
    let read = |name: &str| -> Option<Value> { serde_json::from_slice(&std::fs::read(dir.join(name)).ok()?).ok() };
    if let Some(meta) = read(MODEL_FILE) {
        return meta.get("family").and_then(Value::as_str) == Some(finelab_train::generator::FAMILY);
    }
    read("config.json")
        .and_then(|c| c.get("model_type").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|t| t.parse::<Arch>().is_ok())
}

/// Loads `spec`'s folder; generators on `device` (`auto`, `cpu`, `cuda`, `metal`).
pub fn load(spec: &ModelSpec, device: &str) -> Result<(ModelInfo, Loaded), DeployError> {
    let failed = |source| DeployError::Load { path: spec.dir.clone(), source };
    if !spec.dir.is_dir() {
        return Err(DeployError::Invalid(format!("{}: no such model folder", spec.dir.display())));
    }
    if is_generator_folder(&spec.dir) {
        let model = GeneratorModel::load_on(&spec.dir, device).map_err(failed)?;
        let info = ModelInfo {
            name: spec.name.clone(),
            kind: ModelKind::Generate,
            family: finelab_train::generator::FAMILY.into(),
            labels: Vec::new(),
            dir: spec.dir.clone(),
        };
        return Ok((info, Loaded::Generator(Arc::new(model))));
    }
    if !spec.dir.join(MODEL_FILE).is_file() {
        return Err(DeployError::Invalid(format!(
            "{}: no {MODEL_FILE}; serve a model folder written by `finelab train` (a run's `runs/<id>/model`) or a \
             Hugging Face causal LM (qwen2, qwen3, llama)",
            spec.dir.display()
        )));
    }
    let predictor = Predictor::load(&spec.dir).map_err(failed)?;
    let kind = match predictor.task() {
        Task::Single => ModelKind::Single,
        Task::Multi => ModelKind::Multi,
        Task::Spans => ModelKind::Spans,
    };
    let info = ModelInfo {
        name: spec.name.clone(),
        kind,
        family: predictor.family().into(),
        labels: predictor.labels().to_vec(),
        dir: spec.dir.clone(),
    };
    Ok((info, Loaded::Predictor(Arc::new(predictor))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let check = |arg: &str, name: &str, dir: &str| {
            let spec = ModelSpec::parse(arg).unwrap();
            assert_eq!((spec.name.as_str(), spec.dir.as_path()), (name, Path::new(dir)), "{arg}");
        };
        check("sentiment=runs/abc/model", "sentiment", "runs/abc/model");
        check("runs/abc/model", "abc", "runs/abc/model");
        check("/models/qwen-tiny", "qwen-tiny", "/models/qwen-tiny");
        check("/models/qwen-tiny/", "qwen-tiny", "/models/qwen-tiny/");
        check("./a=b/model", "a=b", "./a=b/model");
        assert!(ModelSpec::parse(" x=dir").is_err());
    }
}
