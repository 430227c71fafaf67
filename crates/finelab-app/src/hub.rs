//! Base models downloaded by name from the Hugging Face hub ([`download_model`]).
//!
//! A name is `org/name`, optionally `org/name@revision`. The files go into the standard Hugging
//! Face cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`) as
//! `models--org--name/blobs/…` with `snapshots/<commit>/<file>` links and `refs/<revision>`, the
//! layout `transformers` and `huggingface-cli` read and write, so a model downloaded here is found
//! by them and by [`crate::models::local_models`], and one they downloaded is not fetched again.
//! `HF_ENDPOINT` selects a mirror (e.g. `https://hf-mirror.com`, common in China); `HF_TOKEN`
//! (else the token file `huggingface-cli login` writes) authorizes gated and private models.
//!
//! Only what fine-tuning needs is downloaded: `config.json`; `tokenizer.json` and/or `vocab.txt`
//! with `tokenizer_config.json` and `special_tokens_map.json` when the repository has them; and
//! `model.safetensors`, else `pytorch_model.bin`. The HTTP work is Hugging Face's own Rust client
//! (`hf-hub`, blocking, rustls), which resumes a partial file on the next attempt.

use crate::jobs::{JobEnd, JobKind, JobStart, JobState, Jobs};
use crate::models::{self, ModelEntry};
use crate::{AppError, ErrorCode, Result};
use hf_hub::api::sync::{ApiBuilder, ApiError};
use hf_hub::api::Progress;
use hf_hub::{Cache, Repo, RepoType};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub use crate::models::DEFAULT_ENDPOINT;

/// Where and how to download: the endpoint, the cache folder and the token.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// The hub or a mirror, without a trailing slash.
    pub endpoint: String,
    /// The cache's `hub` folder (absolute).
    pub cache_dir: PathBuf,
    /// A Hugging Face access token.
    pub token: Option<String>,
}

impl HubConfig {
    /// The configuration the environment gives, as `huggingface_hub` reads it: `HF_ENDPOINT`,
    /// `HF_HUB_CACHE` / `HF_HOME`, `HF_TOKEN` (else `$HF_HOME/token`).
    pub fn from_env() -> Result<HubConfig> {
        let var = |k: &str| std::env::var(k).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let endpoint = var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into()).trim_end_matches('/').to_string();
        let cache_dir = models::hf_hub_cache().ok_or_else(|| {
            AppError::Invalid(
                "no Hugging Face cache folder: set HF_HOME (or HF_HUB_CACHE) to a folder to download models into"
                    .into(),
            )
        })?;
        // hf-hub links snapshot files to blobs by relative paths computed from absolute ones.
        let cache_dir = if cache_dir.is_absolute() {
            cache_dir
        } else {
            std::env::current_dir().map(|c| c.join(&cache_dir)).unwrap_or(cache_dir)
        };
        let token = var("HF_TOKEN").or_else(|| {
            let file = var("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| {
                var("HF_HOME")
                    .map(PathBuf::from)
                    .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache").join("huggingface")))
                    .map(|home| home.join("token"))
            })?;
            std::fs::read_to_string(file).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
        });
        Ok(HubConfig { endpoint, cache_dir, token })
    }

    /// The endpoint as the Train screen shows it, from the environment.
    pub fn endpoint_from_env() -> String {
        models::hub_endpoint_from_env()
    }
}

/// A validated model name: the repository (`org/name`) and the revision (`main` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubName {
    /// `org/name`.
    pub repo: String,
    /// A branch, tag or commit.
    pub revision: String,
}

impl HubName {
    /// Parses `org/name` or `org/name@revision`; `revision` (a flag) wins over the name's.
    pub fn parse(name: &str, revision: Option<&str>) -> Result<HubName> {
        let name = name.trim();
        let (repo, at) = match name.split_once('@') {
            Some((repo, rev)) => (repo, Some(rev)),
            None => (name, None),
        };
        let valid_part = |p: &str| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) && !p.starts_with('.')
        };
        let ok = match repo.split_once('/') {
            Some((org, model)) => valid_part(org) && valid_part(model) && !model.contains('/'),
            None => false,
        };
        if !ok {
            return Err(AppError::Invalid(format!(
                "{name:?} is not a model name of the Hugging Face hub: expected org/name (e.g. bert-base-chinese's google-bert/bert-base-chinese), optionally @revision"
            )));
        }
        let revision =
            revision.map(str::trim).filter(|r| !r.is_empty()).or(at.filter(|r| !r.is_empty())).unwrap_or("main");
        Ok(HubName { repo: repo.to_string(), revision: revision.to_string() })
    }

    /// Whether `model` (a `--model` value) looks like a hub name rather than a folder.
    pub fn looks_like(model: &str) -> bool {
        !model.starts_with(['/', '.', '~']) && !model.contains('\\') && HubName::parse(model, None).is_ok()
    }
}

/// A model named like a hub repository (`org/name`, or `org/name@revision`) found in the
/// Hugging Face cache: the snapshot its revision's ref names (for `main`, else the newest one).
pub fn cached_hub_model(name: &str) -> Option<PathBuf> {
    let name = HubName::parse(name, None).ok()?;
    models::cached_snapshot(&name.repo, &name.revision)
}

/// Download progress, in bytes over every file of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadProgress {
    /// The file being downloaded.
    pub file: String,
    /// Its number, from 1.
    pub file_index: usize,
    /// Files to download.
    pub n_files: usize,
    /// Bytes done (files already in the cache count as done).
    pub done: u64,
    /// Bytes in all (0 when the hub did not say).
    pub total: u64,
}

#[derive(Deserialize)]
struct RepoInfo {
    sha: Option<String>,
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
    size: Option<u64>,
}

/// The files fine-tuning needs out of a repository's file list, in download order.
fn pick_files(repo: &str, files: &[String]) -> Result<Vec<String>> {
    let has = |f: &str| files.iter().any(|x| x == f);
    let missing = |what: &str| {
        AppError::Hub {
            code: ErrorCode::HubUnsupported,
            message: format!("{repo} has no {what}; Finelab fine-tunes models in Hugging Face's layout (config.json, tokenizer.json or vocab.txt, model.safetensors or pytorch_model.bin): BERT-family encoders, and Qwen2, Qwen3 and Llama generators"),
        }
    };
    if !has("config.json") {
        return Err(missing("config.json"));
    }
    let mut out = vec!["config.json".to_string()];
    if !has("tokenizer.json") && !has("vocab.txt") {
        return Err(missing("tokenizer.json or vocab.txt"));
    }
    // A generator's chat template lives in tokenizer_config.json, more end-of-text ids in
    // generation_config.json.
    for f in
        ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]
    {
        if has(f) {
            out.push(f.into());
        }
    }
    if has("model.safetensors") {
        out.push("model.safetensors".into());
    } else if has("pytorch_model.bin") {
        out.push("pytorch_model.bin".into());
    } else if has("model.safetensors.index.json") {
        // Larger generators keep their weights in safetensors shards, which the generator family
        // reads through the index (the download is then checked like any other folder).
        out.push("model.safetensors.index.json".into());
        let mut shards: Vec<&String> = files
            .iter()
            .filter(|f| !f.contains('/') && f.starts_with("model-") && f.ends_with(".safetensors"))
            .collect();
        shards.sort();
        out.extend(shards.into_iter().cloned());
    } else if has("pytorch_model.bin.index.json") {
        return Err(AppError::Hub {
            code: ErrorCode::HubUnsupported,
            message: format!("{repo} stores its weights in pytorch_model.bin shards; Finelab reads one pytorch_model.bin, or safetensors (one model.safetensors, or shards with model.safetensors.index.json)"),
        });
    } else {
        return Err(missing("model.safetensors or pytorch_model.bin"));
    }
    Ok(out)
}

/// Turns hf-hub's error into one that says what to do; `what` names the repository or file.
fn hub_error(e: ApiError, config: &HubConfig, what: &str) -> AppError {
    let endpoint = &config.endpoint;
    match e {
        ApiError::RequestError(e) => match *e {
            ureq::Error::Status(404, _) => AppError::Hub {
                code: ErrorCode::HubNotFound,
                message: format!("{what} was not found on {endpoint} (404): check the name (org/name, as on the model's page){}", if config.token.is_none() { "; a private or gated model needs HF_TOKEN" } else { "" }),
            },
            ureq::Error::Status(code @ (401 | 403), _) => AppError::Hub {
                code: ErrorCode::HubUnauthorized,
                message: format!("{endpoint} refused {what} ({code}): {}", if config.token.is_some() { "the token in HF_TOKEN has no access to it (a gated model must be accepted on its page first)" } else { "it is private or gated; set HF_TOKEN to an access token" }),
            },
            ureq::Error::Status(code, _) => AppError::Hub { code: ErrorCode::Hub, message: format!("{endpoint} answered {code} for {what}") },
            ureq::Error::Transport(t) => AppError::Hub {
                code: ErrorCode::HubOffline,
                message: format!("cannot reach {endpoint} to download {what} ({t}); check the network, or set HF_ENDPOINT to a mirror (e.g. https://hf-mirror.com), or pick a model folder"),
            },
        },
        e => AppError::Hub { code: ErrorCode::Hub, message: format!("downloading {what} from {endpoint}: {e}") },
    }
}

/// Feeds hf-hub's per-file progress into the caller's whole-model progress.
struct FileProgress<'a> {
    base: u64,
    file_total: u64,
    file_done: u64,
    progress: &'a mut DownloadProgress,
    report: &'a mut dyn FnMut(&DownloadProgress) -> bool,
    last: std::time::Instant,
}

impl Progress for FileProgress<'_> {
    fn init(&mut self, size: usize, _filename: &str) {
        self.file_total = size as u64;
        self.file_done = 0;
    }
    fn update(&mut self, size: usize) {
        self.file_done += size as u64;
        self.progress.done = self.base + self.file_done;
        // When the hub's file list had no sizes, the file's own size still bounds the total.
        self.progress.total = self.progress.total.max(self.base + self.file_total).max(self.progress.done);
        if self.last.elapsed() >= std::time::Duration::from_millis(100) {
            self.last = std::time::Instant::now();
            if !(self.report)(self.progress) {
                // hf-hub's progress callback cannot return an error: unwind out of the download
                // (no panic message: `resume_unwind` skips the hook), caught in `download_model`.
                std::panic::resume_unwind(Box::new(StopDownload));
            }
        }
    }
    fn finish(&mut self) {}
}

/// The unwind payload that stops a download midway. Unwinding closes the connection and the
/// file and releases hf-hub's lock; what came so far stays in the blob's `.part` file, which the
/// next download of that file resumes with a range request.
struct StopDownload;

/// Downloads the model `name` (`org/name[@revision]`) into the Hugging Face cache and describes
/// the snapshot folder. `progress` is called with the bytes done about ten times a second; when it
/// returns false the download stops, within the file under way, with [`AppError::Hub`] code
/// `cancelled`: finished files stay in the cache, and the next download resumes the unfinished one
/// where it stopped. Files already in the cache for the revision's
/// commit are not downloaded again. Errors say whether the hub could not be reached, the name or
/// a file does not exist, a token is needed, or the model is not one Finelab fine-tunes.
pub fn download_model(
    config: &HubConfig,
    name: &HubName,
    progress: &mut dyn FnMut(&DownloadProgress) -> bool,
) -> Result<ModelEntry> {
    let repo_name =
        if name.revision == "main" { name.repo.clone() } else { format!("{}@{}", name.repo, name.revision) };
    let api = ApiBuilder::from_cache(Cache::new(config.cache_dir.clone()))
        .with_endpoint(config.endpoint.clone())
        .with_token(config.token.clone())
        .with_progress(false)
        .build()
        .map_err(|e| hub_error(e, config, &repo_name))?;
    let repo = api.repo(Repo::with_revision(name.repo.clone(), RepoType::Model, name.revision.clone()));
    let info: RepoInfo = repo
        .info_request()
        .query("blobs", "true")
        .call()
        .map_err(|e| hub_error(ApiError::RequestError(Box::new(e)), config, &repo_name))?
        .into_json()
        .map_err(|e| AppError::Hub {
            code: ErrorCode::Hub,
            message: format!("{}: the answer about {repo_name} is not the hub's JSON: {e}", config.endpoint),
        })?;
    let listed: Vec<String> = info.siblings.iter().map(|s| s.rfilename.clone()).collect();
    let files = pick_files(&repo_name, &listed)?;
    let size_of = |f: &str| info.siblings.iter().find(|s| s.rfilename == f).and_then(|s| s.size).unwrap_or(0);
    let repo_dir = config.cache_dir.join(format!("models--{}", name.repo.replace('/', "--")));
    let cached_snapshot = info.sha.as_ref().map(|sha| repo_dir.join("snapshots").join(sha));
    let mut state = DownloadProgress {
        file: String::new(),
        file_index: 0,
        n_files: files.len(),
        done: 0,
        total: files.iter().map(|f| size_of(f)).sum(),
    };
    let mut snapshot: Option<PathBuf> = None;
    for (i, file) in files.iter().enumerate() {
        state.file = file.clone();
        state.file_index = i + 1;
        if let Some(cached) = cached_snapshot.as_ref().map(|s| s.join(file)).filter(|p| p.is_file()) {
            state.done += std::fs::metadata(&cached).map(|m| m.len()).unwrap_or_else(|_| size_of(file));
            snapshot.get_or_insert_with(|| cached.parent().expect("a file in a snapshot").to_path_buf());
            if !progress(&state) {
                return Err(cancelled(&repo_name));
            }
            continue;
        }
        if !progress(&state) {
            return Err(cancelled(&repo_name));
        }
        let base = state.done;
        let path = {
            let file_progress = FileProgress {
                base,
                file_total: size_of(file),
                file_done: 0,
                progress: &mut state,
                report: &mut *progress,
                last: std::time::Instant::now(),
            };
            let download = std::panic::AssertUnwindSafe(|| repo.download_with_progress(file, file_progress));
            match std::panic::catch_unwind(download) {
                Ok(downloaded) => downloaded.map_err(|e| hub_error(e, config, &format!("{repo_name}'s {file}")))?,
                Err(payload) if payload.is::<StopDownload>() => return Err(cancelled(&repo_name)),
                Err(payload) => std::panic::resume_unwind(payload),
            }
        };
        state.done = base + std::fs::metadata(&path).map(|m| m.len()).unwrap_or_else(|_| size_of(file));
        state.total = state.total.max(state.done);
        snapshot.get_or_insert_with(|| path.parent().expect("a file in a snapshot").to_path_buf());
    }
    if !progress(&state) {
        return Err(cancelled(&repo_name));
    }
    let snapshot = snapshot.expect("config.json is always downloaded");
    let entry = models::describe_hub_snapshot(&snapshot, &name.repo).ok_or_else(|| AppError::Hub {
        code: ErrorCode::Hub,
        message: format!("{}: config.json is missing after the download", snapshot.display()),
    })?;
    if !entry.complete {
        return Err(AppError::Hub {
            code: ErrorCode::HubUnsupported,
            message: format!(
                "{repo_name} was downloaded to {}, but Finelab cannot fine-tune it: {}",
                entry.path,
                entry.problems.join("; ")
            ),
        });
    }
    Ok(entry)
}

/// Starts downloading a model as a job of kind `download` (see
/// [`crate::api::Request::DownloadModel`]); the name is validated and the environment read before
/// a job exists. The job's result is the downloaded [`ModelEntry`].
pub fn start_download(jobs: &Jobs, name: &str, revision: Option<&str>) -> Result<JobState> {
    let name = HubName::parse(name, revision)?;
    let config = HubConfig::from_env()?;
    let start = JobStart {
        kind: JobKind::Download,
        dir: None,
        message: format!("downloading {} from {}", name.repo, config.endpoint),
        total: 0,
        train: None,
    };
    jobs.spawn("download", start, move |job| {
        let entry = download_model(&config, &name, &mut |p| {
            job.update(|s| {
                s.done = p.done;
                s.total = p.total;
                s.message = format!("{} {}/{}: {}", name.repo, p.file_index, p.n_files, p.file);
            });
            !job.is_cancelled()
        })?;
        job.update(|s| {
            s.done = s.total.max(entry.size_bytes).max(s.done);
            s.total = s.done;
        });
        Ok(JobEnd {
            message: format!("downloaded {} to {}", name.repo, entry.path),
            result: serde_json::to_value(&entry).expect("a model entry serializes"),
            cancelled: false,
        })
    })
}

fn cancelled(repo: &str) -> AppError {
    AppError::Cancelled(format!(
        "the download of {repo} was cancelled (what was downloaded stays in the cache; downloading it again resumes)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_name(input: &str, revision: Option<&str>, expected: Option<(&str, &str)>) {
        let got = HubName::parse(input, revision).ok().map(|n| (n.repo, n.revision));
        assert_eq!(got, expected.map(|(r, v)| (r.to_string(), v.to_string())), "{input:?}");
    }

    #[test]
    fn names() {
        check_name("google-bert/bert-base-chinese", None, Some(("google-bert/bert-base-chinese", "main")));
        check_name("org/name@v1.0", None, Some(("org/name", "v1.0")));
        check_name("org/name@v1.0", Some("abc123"), Some(("org/name", "abc123")));
        check_name(
            " sentence-transformers/all-MiniLM-L6-v2 ",
            None,
            Some(("sentence-transformers/all-MiniLM-L6-v2", "main")),
        );
        check_name("bert-base-chinese", None, None);
        check_name("/abs/path", None, None);
        check_name("./models/x", None, None);
        check_name("a/b/c", None, None);
        check_name("org/", None, None);
        check_name("org/na me", None, None);
        assert!(HubName::looks_like("org/name"));
        assert!(!HubName::looks_like("./org/name"));
        assert!(!HubName::looks_like("instant"));
    }

    fn check_pick(files: &[&str], expected: Result<&[&str], &str>) {
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        match (pick_files("org/m", &files), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e}"),
            (got, want) => panic!("{files:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn files_picked() {
        check_pick(
            &[
                "README.md",
                "config.json",
                "vocab.txt",
                "tokenizer.json",
                "model.safetensors",
                "pytorch_model.bin",
                "tf_model.h5",
                "onnx/model.onnx",
            ],
            Ok(&["config.json", "tokenizer.json", "vocab.txt", "model.safetensors"]),
        );
        check_pick(
            &["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin"],
            Ok(&["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "pytorch_model.bin"]),
        );
        check_pick(&["vocab.txt", "model.safetensors"], Err("org/m has no config.json"));
        check_pick(&["config.json", "model.safetensors"], Err("has no tokenizer.json or vocab.txt"));
        check_pick(&["config.json", "vocab.txt", "tf_model.h5"], Err("has no model.safetensors or pytorch_model.bin"));
        check_pick(
            &[
                "config.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "generation_config.json",
                "model-00002-of-00002.safetensors",
                "model.safetensors.index.json",
                "model-00001-of-00002.safetensors",
                "onnx/model-00001-of-00002.safetensors",
            ],
            Ok(&[
                "config.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "generation_config.json",
                "model.safetensors.index.json",
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors",
            ]),
        );
        check_pick(&["config.json", "vocab.txt", "pytorch_model.bin.index.json"], Err("pytorch_model.bin shards"));
    }
}
