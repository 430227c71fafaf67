//! What the Train screen offers: the model families with their defaults, the devices this build
//! can use, and the base models found on this machine ([`train_setup`], [`inspect_model`]).
//!
//! Base models are Hugging Face-layout folders (`config.json`, `tokenizer.json` or `vocab.txt`,
//! `model.safetensors` or `pytorch_model.bin`). They are looked for in `$FINELAB_MODELS_DIR`,
//! the project's `models/` folder and the Hugging Face cache (`$HF_HUB_CACHE`, else
//! `$HF_HOME/hub`, else `~/.cache/huggingface/hub`, as `models--org--name/snapshots/*/`).
//! A model named `org/name` is found when it is in the cache; [`crate::hub`] downloads it there
//! (respecting `HF_ENDPOINT` mirrors), as `huggingface-cli download` would; or the user picks a
//! folder.

use crate::{AppError, Result};

/// The `instant` family's name (the transformer family's is [`finelab_train::transformer::FAMILY`]).
pub const INSTANT: &str = "instant";
use finelab_train::TrainConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Default hyper-parameters of a family, as the Train screen shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainDefaults {
    /// Maximum epochs.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Longest input in tokens (transformer; the instant family reads whole texts).
    pub max_len: usize,
    /// Seed.
    pub seed: u64,
    /// Epochs without dev improvement before early stopping.
    pub patience: usize,
}

impl From<&TrainConfig> for TrainDefaults {
    fn from(c: &TrainConfig) -> Self {
        TrainDefaults {
            epochs: c.epochs,
            batch_size: c.batch_size,
            lr: c.lr,
            max_len: c.max_len,
            seed: c.seed,
            patience: c.patience,
        }
    }
}

/// A model family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct FamilyInfo {
    /// `instant`, `transformer` or `generator`.
    pub name: String,
    /// One sentence for the UI.
    pub description: String,
    /// Whether it needs a base model folder (`TrainRequest.model` is then the folder).
    pub needs_model: bool,
    /// The devices it can train on (`cpu`, and `cuda` / `metal` where available).
    pub devices: Vec<String>,
    /// Its defaults.
    pub defaults: TrainDefaults,
}

/// A device and whether this build on this machine can use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DeviceInfo {
    /// `cpu`, `cuda` or `metal`.
    pub name: String,
    /// Usable now.
    pub available: bool,
    /// Why not, when it is not.
    pub reason: Option<String>,
}

/// A base-model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelEntry {
    /// `org/name` for a Hugging Face cache entry, else the folder's name.
    pub name: String,
    /// The folder (absolute): pass it as `TrainRequest.model`.
    pub path: String,
    /// Where it was found: `env` (`$FINELAB_MODELS_DIR`), `project` (`<project>/models`),
    /// `hf_cache`, or `picked` (a folder the user chose).
    pub source: String,
    /// `model_type` of its `config.json` (`bert`, `xlm-roberta`, `distilbert`...).
    pub model_type: Option<String>,
    /// The first of `architectures` in its `config.json`.
    pub architecture: Option<String>,
    /// Hidden width.
    pub hidden_size: Option<u64>,
    /// Encoder layers.
    pub layers: Option<u64>,
    /// Vocabulary size.
    pub vocab_size: Option<u64>,
    /// Whether it has every file fine-tuning needs and an architecture Finelab fine-tunes.
    pub complete: bool,
    /// What is missing or wrong (empty when complete).
    pub problems: Vec<String>,
    /// Bytes of its files.
    pub size_bytes: u64,
}

/// What the Train screen needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainSetup {
    /// The families, `instant` first.
    pub families: Vec<FamilyInfo>,
    /// CPU, CUDA and Metal with their availability.
    pub devices: Vec<DeviceInfo>,
    /// The device `auto` picks for the transformer family.
    pub auto_device: String,
    /// Base models found on this machine.
    pub models: Vec<ModelEntry>,
    /// The folders searched, in order.
    pub searched: Vec<String>,
    /// Whether this build downloads models from the Hugging Face hub by name (`download_model`;
    /// the model then appears in `models`).
    pub hub_download: bool,
    /// The hub or mirror downloads come from (`HF_ENDPOINT`, else `https://huggingface.co`).
    pub hub_endpoint: String,
}

fn devices() -> (Vec<DeviceInfo>, String) {
    use finelab_train::transformer::{device_name, select_device};
    let mut out = vec![DeviceInfo { name: "cpu".into(), available: true, reason: None }];
    for name in ["cuda", "metal"] {
        match select_device(name) {
            Ok(_) => out.push(DeviceInfo { name: name.into(), available: true, reason: None }),
            Err(e) => out.push(DeviceInfo { name: name.into(), available: false, reason: Some(e.to_string()) }),
        }
    }
    let auto = select_device("auto").map(|d| device_name(&d)).unwrap_or_else(|_| "cpu".into());
    (out, auto)
}

/// The Hugging Face cache's `hub` folder.
pub fn hf_hub_cache() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| var("XDG_CACHE_HOME").map(|c| c.join("huggingface").join("hub")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("huggingface").join("hub")))
}

/// The folders searched for base models, with their source names.
fn search_roots(project: Option<&Path>) -> Vec<(PathBuf, &'static str)> {
    let mut roots = Vec::new();
    if let Some(dir) = std::env::var_os("FINELAB_MODELS_DIR").filter(|v| !v.is_empty()) {
        roots.extend(std::env::split_paths(&dir).map(|p| (p, "env")));
    }
    if let Some(project) = project {
        roots.push((project.join("models"), "project"));
    }
    if let Some(cache) = hf_hub_cache() {
        roots.push((cache, "hf_cache"));
    }
    roots
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::metadata(e.path()).ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Describes a folder as a base model (`None` when it has no `config.json`).
fn describe(dir: &Path, name: String, source: &str) -> Option<ModelEntry> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return None;
    }
    let mut problems = Vec::new();
    let config: Value = match std::fs::read_to_string(&config_path).map(|t| serde_json::from_str::<Value>(&t)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            problems.push(format!("config.json is not valid JSON: {e}"));
            Value::Null
        }
        Err(e) => {
            problems.push(format!("config.json cannot be read: {e}"));
            Value::Null
        }
    };
    let num = |keys: &[&str]| keys.iter().find_map(|k| config.get(*k).and_then(Value::as_u64));
    if !dir.join("tokenizer.json").is_file() && !dir.join("vocab.txt").is_file() {
        problems.push("tokenizer.json (or vocab.txt) is missing".into());
    }
    if !dir.join("model.safetensors").is_file() && !dir.join("pytorch_model.bin").is_file() {
        problems.push("model.safetensors (or pytorch_model.bin) is missing".into());
    }
    if problems.is_empty() {
        let model_type = config.get("model_type").and_then(Value::as_str).unwrap_or_default();
        let opened = if model_type.parse::<finelab_train::generator::model::Arch>().is_ok() {
            finelab_train::generator::model::BaseModel::open(dir).map(|_| ())
        } else {
            finelab_train::transformer::model::BaseModel::open(dir).map(|_| ())
        };
        if let Err(e) = opened {
            problems.push(e.to_string());
        }
    }
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Some(ModelEntry {
        name,
        path: abs.display().to_string(),
        source: source.into(),
        model_type: config.get("model_type").and_then(Value::as_str).map(str::to_string),
        architecture: config.get("architectures").and_then(|a| a.get(0)).and_then(Value::as_str).map(str::to_string),
        hidden_size: num(&["hidden_size", "dim"]),
        layers: num(&["num_hidden_layers", "n_layers"]),
        vocab_size: num(&["vocab_size"]),
        complete: problems.is_empty(),
        problems,
        size_bytes: dir_size(dir),
    })
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string())
}

/// Model folders under one search root: the root's sub-folders (and the root itself), or for
/// the Hugging Face cache each `models--org--name`'s newest snapshot.
fn scan(root: &Path, source: &str, out: &mut Vec<ModelEntry>) {
    if source == "hf_cache" {
        let Ok(entries) = std::fs::read_dir(root) else { return };
        let mut repos: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        repos.sort();
        for repo in repos {
            let Some(name) = repo.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("models--")) else {
                continue;
            };
            let name = name.replacen("--", "/", 1);
            if let Some(snapshot) = newest_snapshot(&repo) {
                if let Some(entry) = describe(&snapshot, name, source) {
                    out.push(entry);
                }
            }
        }
        return;
    }
    if let Some(entry) = describe(root, folder_name(root), source) {
        out.push(entry);
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        if let Some(entry) = describe(&dir, folder_name(&dir), source) {
            out.push(entry);
        }
    }
}

/// The snapshot `refs/main` names, else the most recently modified one.
fn newest_snapshot(repo: &Path) -> Option<PathBuf> {
    let snapshots = repo.join("snapshots");
    if let Ok(main) = std::fs::read_to_string(repo.join("refs").join("main")) {
        let dir = snapshots.join(main.trim());
        if dir.is_dir() {
            return Some(dir);
        }
    }
    std::fs::read_dir(&snapshots)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

/// Base models found on this machine for the project in `project` (if any).
pub fn local_models(project: Option<&Path>) -> Vec<ModelEntry> {
    let mut out = Vec::new();
    for (root, source) in search_roots(project) {
        scan(&root, source, &mut out);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|m| seen.insert(m.path.clone()));
    out
}

/// The Train screen's choices for the project in `dir`.
pub fn train_setup(dir: Option<&Path>) -> TrainSetup {
    let (devices, auto_device) = devices();
    let available: Vec<String> = devices.iter().filter(|d| d.available).map(|d| d.name.clone()).collect();
    let instant = TrainConfig::default();
    let transformer = TrainConfig::transformer_defaults();
    let generator = TrainConfig::generator_defaults();
    TrainSetup {
        families: vec![
            FamilyInfo {
                name: INSTANT.into(),
                description: "Hashed character n-grams and a linear classifier: trains in seconds on the CPU, no base model needed.".into(),
                needs_model: false,
                devices: vec!["cpu".into()],
                defaults: (&instant).into(),
            },
            FamilyInfo {
                name: finelab_train::transformer::FAMILY.into(),
                description: "Fine-tunes a pretrained BERT-family encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT) from a local folder or the Hugging Face hub.".into(),
                needs_model: true,
                devices: available.clone(),
                defaults: (&transformer).into(),
            },
            FamilyInfo {
                name: finelab_train::generator::FAMILY.into(),
                description: "Fine-tunes a causal language model (Qwen2, Qwen3, Llama) with LoRA adapters, or fully, to write a generate project's outputs.".into(),
                needs_model: true,
                devices: available,
                defaults: (&generator).into(),
            },
        ],
        devices,
        auto_device,
        models: local_models(dir),
        searched: search_roots(dir).into_iter().map(|(p, _)| p.display().to_string()).collect(),
        hub_download: true,
        hub_endpoint: hub_endpoint_from_env(),
    }
}

/// Describes a folder the user picked. Errors name what is missing: the folder, its
/// `config.json`, the tokenizer or the weights, or say why its architecture cannot be fine-tuned.
pub fn inspect_model(path: &Path) -> Result<ModelEntry> {
    if !path.is_dir() {
        return Err(AppError::Invalid(format!("{}: no such folder", path.display())));
    }
    let Some(entry) = describe(path, folder_name(path), "picked") else {
        return Err(AppError::Invalid(format!(
            "{}: config.json is missing; a Hugging Face model folder has config.json, tokenizer.json (or vocab.txt) and model.safetensors (or pytorch_model.bin)",
            path.join("config.json").display()
        )));
    };
    if !entry.complete {
        return Err(AppError::Invalid(format!("{}: {}", path.display(), entry.problems.join("; "))));
    }
    Ok(entry)
}

/// Describes a snapshot folder of the Hugging Face cache as the cache scan lists it.
/// The hub Finelab downloads from when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The hub endpoint the environment names (`HF_ENDPOINT`, without a trailing slash), else the
/// default, as the Train screen shows it.
pub fn hub_endpoint_from_env() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
}

/// The snapshot folder of a hub repository's revision in the cache (`main`: the newest one).
pub(crate) fn cached_snapshot(repo: &str, revision: &str) -> Option<PathBuf> {
    let repo = hf_hub_cache()?.join(format!("models--{}", repo.replace('/', "--")));
    let snapshot = if revision == "main" {
        newest_snapshot(&repo)
    } else {
        let by_ref = std::fs::read_to_string(repo.join("refs").join(revision)).ok().map(|c| c.trim().to_string());
        let commit = by_ref.unwrap_or(revision.to_string());
        Some(repo.join("snapshots").join(commit)).filter(|d| d.is_dir())
    };
    snapshot.filter(|d| d.join("config.json").is_file())
}

pub(crate) fn describe_hub_snapshot(snapshot: &Path, repo: &str) -> Option<ModelEntry> {
    describe(snapshot, repo.to_string(), "hf_cache")
}

/// Writes a tiny random BERT (`hidden` wide, `layers` deep) into `out` with a WordPiece
/// vocabulary built from `corpus`: a project folder (its records' texts) or a file of lines
/// (a JSONL line's `"text"`, else the line). For tests and demos: it trains in seconds and needs
/// no download, but knows nothing of language.
pub fn make_tiny_model(out: &Path, corpus: &Path, hidden: usize, layers: usize, seed: u64) -> Result<ModelEntry> {
    use finelab_train::transformer::tiny::{write_tiny_bert, TinySpec};
    let texts: Vec<String> = if corpus.join(finelab_store::DB_FILE).is_file() {
        let store = finelab_store::Store::open(corpus)?;
        let mut texts: Vec<String> = store.labeled_records()?.into_iter().map(|r| r.text).collect();
        texts.extend(store.unlabeled_texts(0, usize::MAX >> 1)?.into_iter().map(|(_, t)| t));
        texts
    } else {
        let text = std::fs::read_to_string(corpus)
            .map_err(|e| AppError::Io { path: corpus.display().to_string(), source: e })?;
        text.lines()
            .map(|line| match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(obj)) => obj.get("text").and_then(Value::as_str).unwrap_or_default().to_string(),
                _ => line.to_string(),
            })
            .collect()
    };
    if texts.iter().all(|t| t.trim().is_empty()) {
        return Err(AppError::Invalid(format!("{} has no text to build a vocabulary from", corpus.display())));
    }
    if hidden == 0 || !hidden.is_multiple_of(2) || layers == 0 {
        return Err(AppError::Invalid("--hidden must be a positive even number and --layers at least 1".into()));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let spec = TinySpec { hidden, layers, heads: 2, intermediate: hidden * 2, seed, ..TinySpec::default() };
    write_tiny_bert(out, &refs, &spec)?;
    inspect_model(out)
}

/// Size overrides of a tiny generator; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct TinyShape {
    /// Hidden width, a multiple of 32.
    pub hidden: Option<usize>,
    /// Decoder layers.
    pub layers: Option<usize>,
    /// BPE vocabulary size.
    pub vocab: Option<usize>,
}

/// Writes a tiny random decoder (`arch`: qwen2, qwen3 or llama) in Hugging Face's layout, with a
/// byte-level BPE vocabulary trained on a corpus and a chat template: for tests and demos of the
/// generator family without a download. The corpus is a project folder (its inputs and outputs)
/// or a text / JSONL file (every string of a JSON line, else the line). `shape` overrides the
/// default width (64), layers (2) and vocabulary size (400).
pub fn make_tiny_generator(out: &Path, arch: &str, corpus: &Path, shape: TinyShape, seed: u64) -> Result<ModelEntry> {
    use finelab_train::generator::tiny::{check_spec, TinyGenSpec};
    let arch: finelab_train::generator::model::Arch = arch.parse().map_err(AppError::Invalid)?;
    let default = TinyGenSpec::new(arch, seed);
    let spec = TinyGenSpec::sized(
        arch,
        shape.hidden.unwrap_or(default.hidden),
        shape.layers.unwrap_or(default.layers),
        shape.vocab.unwrap_or(default.vocab_size),
        seed,
    );
    check_spec(&spec)?;
    let mut texts: Vec<String> = Vec::new();
    if corpus.join(finelab_store::DB_FILE).is_file() {
        let store = finelab_store::Store::open(corpus)?;
        for r in store.labeled_records()? {
            texts.push(r.text);
            texts.extend(r.value.as_output().map(str::to_string));
        }
        texts.extend(store.unlabeled_texts(0, usize::MAX >> 1)?.into_iter().map(|(_, t)| t));
    } else {
        let text = std::fs::read_to_string(corpus)
            .map_err(|e| AppError::Io { path: corpus.display().to_string(), source: e })?;
        for line in text.lines() {
            match serde_json::from_str::<Value>(line) {
                Ok(v @ (Value::Object(_) | Value::Array(_))) => collect_strings(&v, &mut texts),
                _ => texts.push(line.to_string()),
            }
        }
    }
    texts.retain(|t| !t.trim().is_empty());
    if texts.is_empty() {
        return Err(AppError::Invalid(format!("{} has no text to build a vocabulary from", corpus.display())));
    }
    std::fs::create_dir_all(out).map_err(|e| AppError::Io { path: out.display().to_string(), source: e })?;
    let lines = out.join("corpus.txt");
    let joined: String = texts.iter().flat_map(|t| t.lines()).map(|l| format!("{l}\n")).collect();
    std::fs::write(&lines, joined).map_err(|e| AppError::Io { path: lines.display().to_string(), source: e })?;
    let made = finelab_train::generator::tiny::write_tiny_generator(out, &lines, &spec);
    let _ = std::fs::remove_file(&lines);
    made?;
    inspect_model(out)
}

/// Every string inside a JSON value, in order.
fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
