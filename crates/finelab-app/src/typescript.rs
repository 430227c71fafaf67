//! The TypeScript declarations of the types the UI exchanges with the shells, generated from the
//! Rust types ([`typescript_files`]) and committed under `ui/src/lib/`; `tests/it/ts_types.rs` fails
//! when they are stale.

use crate::api::*;
use crate::autotrain::Annotated;
use crate::models::ModelEntry;
use crate::models::TrainSetup;
use crate::project::{self, CreateProject};
use crate::results::{ExportedModel, RunDetail};
use crate::train::{self, TrainRequest};
use crate::training_jobs::TrainProgress;
use crate::{active, cluster, curve, models, suspects, ErrorBody};
use ts_rs::TS;

/// `Responses`: what each request kind answers with, from [`response_types`].
fn responses_decl() -> String {
    let fields: Vec<String> = response_types().into_iter().map(|(cmd, ty)| format!("{cmd}: {ty}")).collect();
    format!("type Responses = {{ {}, }};", fields.join(", "))
}

/// The TypeScript declarations of every type the UI exchanges with the shells, generated from the
/// Rust types and committed under `ui/src/lib/` (a test fails when they are stale): one file per
/// area (`types/api.ts` requests and jobs, `types/store.ts` projects and records, `types/train.ts`
/// training and results), each importing the types it uses from the others, and `api-types.ts`
/// re-exporting them all. Returns (path under `ui/src/lib/`, text) pairs.
pub fn typescript_files() -> Vec<(&'static str, String)> {
    use finelab_store as s;
    const HEADER: &str = "// Generated from the Rust types by `finelab_app::typescript::typescript_files()`.\n\
                          // Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types` to refresh.\n\n";
    let groups: [(&str, Vec<String>); 3] = [
        (
            "api",
            vec![
                serde_json::Value::decl(),
                Request::decl(),
                ImportRequest::decl(),
                AppInfo::decl(),
                ProjectView::decl(),
                RecentProject::decl(),
                JobKind::decl(),
                JobStatus::decl(),
                JobState::decl(),
                crate::ErrorCode::decl(),
                ErrorBody::decl(),
                CreateProject::decl(),
                project::ImportOutcome::decl(),
                Annotated::decl(),
                responses_decl(),
            ],
        ),
        (
            "store",
            vec![
                s::ProjectKind::decl(),
                s::RunStatus::decl(),
                s::LabelDef::decl(),
                s::SplitRatios::decl(),
                s::ProjectSettings::decl(),
                s::Span::decl(),
                s::Turn::decl(),
                s::AnnotationValue::decl(),
                s::Record::decl(),
                s::RecordView::decl(),
                s::CurrentAnnotation::decl(),
                s::Split::decl(),
                s::Stats::decl(),
                s::Action::decl(),
                s::Receipt::decl(),
                s::LogEntry::decl(),
                s::SplitSummary::decl(),
                s::search::Status::decl(),
                s::search::SearchQuery::decl(),
                s::search::SearchPage::decl(),
                s::import::Format::decl(),
                s::import::ColumnMap::decl(),
                s::import::DialogTargets::decl(),
                s::import::RowError::decl(),
                s::import::Duplicate::decl(),
                s::import::ImportReport::decl(),
                s::import::ImportProgress::decl(),
                s::import::ImportPreview::decl(),
                s::search::SearchSort::decl(),
                s::Role::decl(),
                s::User::decl(),
                s::LabelRule::decl(),
                s::TieRule::decl(),
                s::Assignment::decl(),
                crate::project::SettingsChange::decl(),
            ],
        ),
        (
            "train",
            vec![
                s::RunRow::decl(),
                s::Suggestion::decl(),
                s::RunRecordsQuery::decl(),
                s::RunRecord::decl(),
                s::RunRecordsPage::decl(),
                TrainSetup::decl(),
                models::FamilyInfo::decl(),
                models::TrainDefaults::decl(),
                models::DeviceInfo::decl(),
                ModelEntry::decl(),
                TrainRequest::decl(),
                TrainProgress::decl(),
                crate::training_jobs::TrainPhase::decl(),
                crate::training_jobs::LossPoint::decl(),
                crate::training_jobs::EpochPoint::decl(),
                crate::training_jobs::EpochSummaryView::decl(),
                train::TrainDone::decl(),
                train::RunSummary::decl(),
                RunDetail::decl(),
                train::Evaluation::decl(),
                train::ReportSource::decl(),
                ExportedModel::decl(),
                cluster::ExportedJob::decl(),
                cluster::ImportedRun::decl(),
                curve::CurveRequest::decl(),
                curve::LabelCurve::decl(),
                curve::TrainCurve::decl(),
                active::Strategy::decl(),
                active::NextBatch::decl(),
                active::NextRecord::decl(),
                suspects::SuspectsRequest::decl(),
                suspects::Suspect::decl(),
                suspects::LabelNoise::decl(),
                suspects::AnnotatorNoise::decl(),
                suspects::SuspectsReport::decl(),
                crate::teams::PairAgreement::decl(),
                crate::teams::LabelAgreement::decl(),
                crate::teams::AgreementReport::decl(),
                crate::teams::AnnotatorLabel::decl(),
                crate::teams::Disagreement::decl(),
                crate::teams::Disagreements::decl(),
                crate::teams::Person::decl(),
                crate::users::NewPassword::decl(),
                crate::production::DayMix::decl(),
                crate::production::ProductionMix::decl(),
                crate::progress::EpochSample::decl(),
                crate::memory::TrainMemory::decl(),
                s::Comparison::decl(),
                s::ComparisonItem::decl(),
                s::Preferred::decl(),
                s::PreferenceReceipt::decl(),
                s::DraftEdits::decl(),
                crate::generation::Draft::decl(),
                crate::generation::DraftUsed::decl(),
                crate::generation::ComparisonRequest::decl(),
                crate::generation::JudgeTally::decl(),
                crate::generation::ComparisonReport::decl(),
                crate::generation::GenOrder::decl(),
                crate::generation::GenRecordsQuery::decl(),
                crate::generation::DiffPart::decl(),
                crate::generation::GenRecord::decl(),
                crate::generation::GenRecordsPage::decl(),
                crate::deploy::Deployment::decl(),
                crate::deploy::DeployRequest::decl(),
                train::OptimizedFrom::decl(),
                crate::optimize::OptimizeMethod::decl(),
                crate::optimize::OptimizeRequest::decl(),
                crate::optimize::RunCost::decl(),
            ],
        ),
    ];
    // 64-bit integers travel as JSON numbers (every count and id Finelab sends is far below 2^53),
    // so the UI sees `number`, not ts-rs's `bigint`.
    let groups: Vec<(&str, Vec<String>)> = groups
        .into_iter()
        .map(|(g, decls)| (g, decls.into_iter().map(|d| d.replace("bigint", "number")).collect()))
        .collect();
    let home: std::collections::BTreeMap<String, &str> = groups
        .iter()
        .flat_map(|(g, decls)| decls.iter().filter_map(|d| ts_type_name(d)).map(move |n| (n, *g)))
        .collect();
    let mut files = vec![];
    let mut index = String::from(HEADER);
    for (group, decls) in &groups {
        let mut imports: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = Default::default();
        for decl in decls {
            for name in ts_identifiers(decl) {
                if let Some(other) = home.get(&name).filter(|g| **g != *group) {
                    imports.entry(other).or_default().insert(name);
                }
            }
        }
        let mut text = String::from(HEADER);
        for (other, names) in &imports {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            text.push_str(&format!("import type {{ {} }} from './{other}';\n", names.join(", ")));
        }
        if !imports.is_empty() {
            text.push('\n');
        }
        for decl in decls {
            text.push_str("export ");
            text.push_str(decl);
            text.push_str("\n\n");
        }
        files.push((ts_path(group), text));
        index.push_str(&format!("export type * from './types/{group}';\n"));
    }
    files.push(("api-types.ts", index));
    files
}

fn ts_path(group: &str) -> &'static str {
    match group {
        "api" => "types/api.ts",
        "store" => "types/store.ts",
        _ => "types/train.ts",
    }
}

/// The text of a declaration without its comments and string literals (doc comments name types in
/// prose; string literals are tags like `"cmd": "train"`).
fn ts_code(decl: &str) -> String {
    let mut code = String::with_capacity(decl.len());
    let mut rest = decl;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if let Some(after) = rest.strip_prefix('"') {
            rest = after.find('"').map_or("", |end| &after[end + 1..]);
            code.push(' ');
        } else {
            code.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    code
}

/// The identifiers a declaration's code uses.
fn ts_identifiers(decl: &str) -> std::collections::BTreeSet<String> {
    ts_code(decl)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// The name a declaration `type Name = …` declares.
fn ts_type_name(decl: &str) -> Option<String> {
    let code = ts_code(decl);
    let after = code.trim_start().strip_prefix("type ")?;
    Some(after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
}
