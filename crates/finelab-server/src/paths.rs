//! Which server paths a request may name: the API reads and writes files by path (a project
//! folder, a file to import, a folder to export to), so a caller could otherwise read any file the
//! user can (`preview_import` of `~/.ssh/id_rsa` returns its lines). Paths are limited to the
//! folders the user gave `finelab serve`: the project folder (with its `uploads/`, where browser
//! uploads land) and each `--allow-dir`.

use finelab_app::api::Request;
use finelab_app::ErrorBody;
use finelab_app::ErrorCode;
use std::path::{Component, Path, PathBuf};

/// The folders requests may name paths in, resolved (symbolic links followed) once at start.
#[derive(Debug, Clone)]
pub(crate) struct AllowedRoots {
    roots: Vec<PathBuf>,
}

impl AllowedRoots {
    /// Folders that do not exist yet (a project the UI will create) are kept by their resolved
    /// parent, so they are allowed once created.
    pub(crate) fn new(dirs: impl IntoIterator<Item = PathBuf>) -> AllowedRoots {
        let resolved: Vec<PathBuf> = dirs.into_iter().filter_map(|dir| resolve(&dir)).collect();
        // A folder inside another (the project's `uploads/`) adds nothing.
        let mut roots: Vec<PathBuf> = Vec::new();
        for (i, root) in resolved.iter().enumerate() {
            let covered =
                resolved.iter().enumerate().any(|(j, other)| root.starts_with(other) && (root != other || j < i));
            if !covered {
                roots.push(root.clone());
            }
        }
        AllowedRoots { roots }
    }

    /// Refuses `request` with `forbidden_path` when a path it names lies outside every root, after
    /// `..` and symbolic links are resolved. Blocks (it reads the file system).
    pub(crate) fn check(&self, request: &Request) -> Result<(), ErrorBody> {
        for path in request_paths(request) {
            let inside = resolve(Path::new(path)).is_some_and(|p| self.roots.iter().any(|root| p.starts_with(root)));
            if !inside {
                return Err(self.refusal(path));
            }
        }
        Ok(())
    }

    fn refusal(&self, path: &str) -> ErrorBody {
        let allowed: Vec<String> = self.roots.iter().map(|r| r.display().to_string()).collect();
        let message = if allowed.is_empty() {
            format!(
                "{path:?} is outside the folders this server may use, and it was given none: start it as \
                 `finelab serve DIR`, or add folders with `--allow-dir DIR`"
            )
        } else {
            format!(
                "{path:?} is outside the folders this server may use ({}): work inside them, or restart \
                 `finelab serve` with `--allow-dir DIR` for another folder",
                allowed.join(", ")
            )
        };
        ErrorBody {
            code: ErrorCode::ForbiddenPath,
            message,
            details: Some(serde_json::json!({ "path": path, "allowed": allowed })),
        }
    }
}

/// Every server path `request` names. The match lists every request kind, so a new kind that
/// takes a path cannot be added without deciding here whether its path is checked.
pub(crate) fn request_paths(request: &Request) -> Vec<&str> {
    match request {
        Request::CreateProject { dir, .. }
        | Request::OpenProject { dir }
        | Request::SetGuidelines { dir, .. }
        | Request::SetRetrainEvery { dir, .. }
        | Request::UpdateSettings { dir, .. }
        | Request::Agreement { dir, .. }
        | Request::Disagreements { dir, .. }
        | Request::Adjudicate { dir, .. }
        | Request::People { dir, .. }
        | Request::ListUsers { dir }
        | Request::ProductionMix { dir }
        | Request::AssignSlice { dir, .. }
        | Request::ListAssignments { dir }
        | Request::RemoveAssignment { dir, .. }
        | Request::AddUser { dir, .. }
        | Request::ResetUser { dir, .. }
        | Request::RemoveUser { dir, .. }
        | Request::NextRecord { dir, .. }
        | Request::GetRecord { dir, .. }
        | Request::Annotate { dir, .. }
        | Request::Undo { dir, .. }
        | Request::Search { dir, .. }
        | Request::CountRecords { dir, .. }
        | Request::Stats { dir }
        | Request::TrainSetup { dir }
        | Request::StartTrain { dir, .. }
        | Request::EstimateTrainMemory { dir, .. }
        | Request::ListRuns { dir }
        | Request::GetRun { dir, .. }
        | Request::Evaluate { dir, .. }
        | Request::RunRecords { dir, .. }
        | Request::ResumeRun { dir, .. }
        | Request::Suspects { dir, .. }
        | Request::StartSuspects { dir, .. }
        | Request::StartTrainCurve { dir, .. }
        | Request::NextBatch { dir, .. }
        | Request::TrainCurve { dir, .. }
        | Request::Draft { dir, .. }
        | Request::StartComparison { dir, .. }
        | Request::ListComparisons { dir }
        | Request::NextComparisonItem { dir, .. }
        | Request::Prefer { dir, .. }
        | Request::UndoPreference { dir, .. }
        | Request::ComparisonReport { dir, .. }
        | Request::GenerationRecords { dir, .. }
        | Request::Deploy { dir, .. }
        | Request::StartOptimize { dir, .. }
        | Request::RunCosts { dir, .. } => vec![dir],
        Request::ExportPreferences { dir, dest } => vec![dir, dest],
        Request::PreviewImport { dir, path, .. } | Request::StartImport { dir, path, .. } => vec![dir, path],
        Request::ExportModel { dir, dest, .. } => vec![dir, dest],
        Request::ExportJob { dir, out, .. } => std::iter::once(dir.as_str()).chain(out.as_deref()).collect(),
        Request::ImportRun { dir, output } => vec![dir, output],
        // A base model's folder is read only for its fixed files (config.json, the tokenizer, the
        // weights), and only a description comes back; base models live in the Hugging Face cache
        // and the folders `train_setup` lists, outside the project.
        Request::InspectModel { .. } => vec![],
        // `dir` only filters the jobs (and the deployments) of this process; nothing is read.
        Request::ListJobs { .. } | Request::ListDeployments { .. } => vec![],
        Request::StopDeployment { .. } => vec![],
        Request::AppInfo {}
        | Request::RecentProjects {}
        | Request::Job { .. }
        | Request::CancelJob { .. }
        | Request::DownloadModel { .. } => vec![],
    }
}

/// `path` made absolute (against the working folder, as the app does) with `..` and symbolic
/// links resolved. A path that does not exist yet resolves through its deepest existing folder;
/// `None` when the missing part climbs (`..`) or a dangling symbolic link is on the way, since the
/// file it would create could lie anywhere.
fn resolve(path: &Path) -> Option<PathBuf> {
    let path = std::path::absolute(path).ok()?;
    let mut existing = path.as_path();
    let mut missing = Vec::new();
    loop {
        match std::fs::canonicalize(existing) {
            Ok(real) => {
                let mut resolved = real;
                for name in missing.iter().rev() {
                    resolved.push(name);
                }
                return Some(resolved);
            }
            Err(_) => {
                if existing.symlink_metadata().is_ok() {
                    return None;
                }
                match existing.components().next_back()? {
                    Component::Normal(name) => missing.push(name.to_os_string()),
                    _ => return None,
                }
                existing = existing.parent()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_inside_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir(root.join("p")).unwrap();
        let check = |path: PathBuf, expected: Option<PathBuf>| assert_eq!(resolve(&path), expected, "{path:?}");
        check(root.join("p"), Some(root.join("p")));
        check(root.join("p/new/deeper.csv"), Some(root.join("p/new/deeper.csv")));
        check(root.join("p/../p/x"), Some(root.join("p/x")));
        check(root.join("p/new/../x"), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/nonexistent-target", root.join("p/dangling")).unwrap();
            check(root.join("p/dangling"), None);
            check(root.join("p/dangling/x"), None);
            std::os::unix::fs::symlink("/etc", root.join("p/etc")).unwrap();
            check(root.join("p/etc/passwd"), Some(std::fs::canonicalize("/etc/passwd").unwrap()));
        }
    }
}
