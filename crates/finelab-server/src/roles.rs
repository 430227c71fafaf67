//! What each role may ask of a shared server, for people signed in with a name and password (the
//! holder of the server's token may do everything, as before accounts existed).
//!
//! - annotators label: the project, its records and their own queue, their own labels (others'
//!   only where the project's `annotators_see_others` says so), and the state of jobs;
//! - reviewers also read runs and results, find suspects, run training curves and review;
//! - admins do everything else: import, train, export, settings, other projects, and every
//!   request that names a file or folder of the server besides the project itself.
//!
//! Every refusal is a `wrong_role` error that says which role the request needs.

use finelab_app::api::Request;
use finelab_app::{ErrorBody, ErrorCode};
use finelab_store::Role;
use serde_json::Value;
use std::path::Path;

/// The least role that may make `request`. The match lists every request kind, so a new kind
/// cannot be added without deciding who may use it.
pub(crate) fn required_role(request: &Request) -> Role {
    match request {
        Request::AppInfo {}
        | Request::OpenProject { .. }
        | Request::Stats { .. }
        | Request::NextRecord { .. }
        | Request::NextBatch { .. }
        | Request::GetRecord { .. }
        | Request::Annotate { .. }
        | Request::Undo { .. }
        | Request::Search { .. }
        | Request::CountRecords { .. }
        | Request::Job { .. }
        | Request::ListJobs { .. }
        | Request::Draft { .. }
        | Request::ListComparisons { .. }
        | Request::NextComparisonItem { .. }
        | Request::Prefer { .. }
        | Request::UndoPreference { .. } => Role::Annotator,
        Request::ListRuns { .. }
        | Request::GetRun { .. }
        | Request::Evaluate { .. }
        | Request::RunRecords { .. }
        | Request::Suspects { .. }
        | Request::StartSuspects { .. }
        | Request::TrainCurve { .. }
        | Request::StartTrainCurve { .. }
        | Request::CancelJob { .. }
        | Request::Agreement { .. }
        | Request::Disagreements { .. }
        | Request::Adjudicate { .. }
        | Request::People { .. }
        | Request::AssignSlice { .. }
        | Request::ListAssignments { .. }
        | Request::RemoveAssignment { .. }
        | Request::ProductionMix { .. }
        | Request::StartComparison { .. }
        | Request::ComparisonReport { .. }
        | Request::GenerationRecords { .. }
        | Request::ListDeployments { .. }
        | Request::RunCosts { .. } => Role::Reviewer,
        Request::CreateProject { .. }
        | Request::RecentProjects {}
        | Request::SetGuidelines { .. }
        | Request::SetRetrainEvery { .. }
        | Request::UpdateSettings { .. }
        | Request::PreviewImport { .. }
        | Request::StartImport { .. }
        | Request::TrainSetup { .. }
        | Request::InspectModel { .. }
        | Request::DownloadModel { .. }
        | Request::StartTrain { .. }
        | Request::EstimateTrainMemory { .. }
        | Request::ResumeRun { .. }
        | Request::ExportModel { .. }
        | Request::ExportJob { .. }
        | Request::ExportPreferences { .. }
        | Request::Deploy { .. }
        | Request::StartOptimize { .. }
        | Request::StopDeployment { .. }
        | Request::ImportRun { .. }
        | Request::ListUsers { .. }
        | Request::AddUser { .. }
        | Request::ResetUser { .. }
        | Request::RemoveUser { .. } => Role::Admin,
    }
}

/// Refuses what `role` may not ask, and makes the request speak for `name`: a signed-in person
/// labels, undoes and is served under their own name, whatever name the request carried.
pub(crate) fn authorize(
    request: &mut Request,
    name: &str,
    role: Role,
    project: Option<&Path>,
    named_paths: &[&str],
) -> Result<(), ErrorBody> {
    let needed = required_role(request);
    if role < needed {
        return Err(refusal(
            format!("{name} is {} and this request needs {}", article(role), article(needed)),
            role,
            needed,
        ));
    }
    // Only admins name folders of the server; everyone else works in the project it serves.
    if role < Role::Admin {
        let outside = named_paths.iter().find(|p| !project.is_some_and(|dir| same_folder(Path::new(p), dir)));
        if let Some(path) = outside {
            return Err(refusal(
                format!("{path:?} is not the project this server serves: only admins name other folders"),
                role,
                Role::Admin,
            ));
        }
    }
    match request {
        Request::NextRecord { annotator, .. }
        | Request::NextBatch { annotator, .. }
        | Request::Annotate { annotator, .. }
        | Request::Undo { annotator, .. }
        | Request::Adjudicate { reviewer: annotator, .. }
        | Request::NextComparisonItem { annotator, .. }
        | Request::Prefer { annotator, .. }
        | Request::UndoPreference { annotator, .. }
        | Request::StartComparison { by: annotator, .. } => *annotator = name.to_string(),
        _ => {}
    }
    Ok(())
}

fn article(role: Role) -> String {
    match role {
        Role::Annotator | Role::Admin => format!("an {}", role.as_str()),
        Role::Reviewer => format!("a {}", role.as_str()),
    }
}

fn refusal(message: String, role: Role, needed: Role) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::WrongRole,
        message,
        details: Some(serde_json::json!({ "role": role.as_str(), "needed": needed.as_str() })),
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| std::fs::canonicalize(p).or_else(|_| std::path::absolute(p));
    matches!((resolve(a), resolve(b)), (Ok(a), Ok(b)) if a == b)
}

/// Leaves in a response only `name`'s own labels: every record view (an object with
/// `annotations`) keeps their entry alone, and its current `value` and `annotator` become theirs.
pub(crate) fn only_own_labels(value: &mut Value, name: &str) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(annotations)) = map.get_mut("annotations") {
                annotations.retain(|a| a.get("annotator").and_then(Value::as_str) == Some(name));
                let own = annotations.first().and_then(|a| a.get("value")).cloned().unwrap_or(Value::Null);
                if map.contains_key("value") && map.contains_key("annotator") {
                    let mine = !own.is_null();
                    map.insert("value".into(), own);
                    map.insert("annotator".into(), if mine { Value::from(name) } else { Value::Null });
                }
            }
            for v in map.values_mut() {
                only_own_labels(v, name);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| only_own_labels(v, name)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_are_ordered_and_checked() {
        let mut train: Request = serde_json::from_value(json!({"cmd": "stats", "dir": "/p"})).unwrap();
        assert!(authorize(&mut train, "a", Role::Annotator, Some(Path::new("/p")), &["/p"]).is_ok());
        let mut other = train.clone();
        let e = authorize(&mut other, "a", Role::Annotator, Some(Path::new("/p")), &["/q"]).unwrap_err();
        assert_eq!(e.code, ErrorCode::WrongRole);
        let mut runs: Request = serde_json::from_value(json!({"cmd": "list_runs", "dir": "/p"})).unwrap();
        assert_eq!(authorize(&mut runs, "a", Role::Annotator, None, &[]).unwrap_err().code, ErrorCode::WrongRole);
        assert!(authorize(&mut runs, "r", Role::Reviewer, Some(Path::new("/p")), &["/p"]).is_ok());
        let mut labeled: Request = serde_json::from_value(
            json!({"cmd": "annotate", "dir": "/p", "seq": 1, "annotator": "someone else", "action": {"action": "skip"}}),
        )
        .unwrap();
        authorize(&mut labeled, "a", Role::Annotator, Some(Path::new("/p")), &["/p"]).unwrap();
        assert!(matches!(labeled, Request::Annotate { annotator, .. } if annotator == "a"));
    }

    #[test]
    fn only_own_labels_hides_the_others() {
        let mut v = json!({"hits": [{"record": {"seq": 1}, "value": {"label": "x"}, "annotator": "b",
            "annotations": [{"annotator": "a", "value": {"label": "y"}}, {"annotator": "b", "value": {"label": "x"}}]},
            {"record": {"seq": 2}, "value": {"label": "x"}, "annotator": "b",
            "annotations": [{"annotator": "b", "value": {"label": "x"}}]}]});
        only_own_labels(&mut v, "a");
        assert_eq!(v["hits"][0]["annotations"].as_array().unwrap().len(), 1);
        assert_eq!((&v["hits"][0]["value"], &v["hits"][0]["annotator"]), (&json!({"label": "y"}), &json!("a")));
        assert_eq!((&v["hits"][1]["value"], &v["hits"][1]["annotator"]), (&Value::Null, &Value::Null));
        assert!(v["hits"][1]["annotations"].as_array().unwrap().is_empty());
    }
}
