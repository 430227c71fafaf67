//! `AppContext::handle`, the one entry point of the window, the HTTP server and the UI, tested
//! once below them: typed requests in, JSON out, errors with stable codes; a real project on disk.

use finelab_app::api::{AppContext, ImportRequest, JobKind, JobState, JobStatus, Request};
use finelab_app::project::CreateProject;
use finelab_app::store::search::{SearchPage, SearchQuery};
use finelab_app::store::{Action, AnnotationValue, ProjectKind, Receipt, RecordView, Stats};
use std::path::Path;

use crate::common;
use common::{err, ok};

fn create_request(labels: &[&str]) -> CreateProject {
    CreateProject {
        name: Some("评论".into()),
        kind: ProjectKind::Single,
        labels: labels.iter().map(|l| l.to_string()).collect(),
        label_defs: None,
        guidelines: Some("# 指南\n按情感标注。".into()),
        split_seed: None,
        split_ratios: None,
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Runs an import job to its end through `watch_job`, returning every state it reported.
fn import(ctx: &AppContext, dir: &str, file: &Path, options: ImportRequest) -> Vec<JobState> {
    let started: JobState = ok(ctx, Request::StartImport { dir: dir.into(), path: s(file), options });
    assert_eq!((started.kind, started.status), (JobKind::Import, JobStatus::Running));
    let mut states = Vec::new();
    ctx.watch_job(started.id, &mut |state| {
        states.push(state.clone());
        true
    })
    .unwrap();
    states
}

fn label(value: &str) -> Action {
    Action::Label { value: AnnotationValue::Label(value.into()) }
}

#[test]
fn a_project_goes_from_creation_to_labels_through_handle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = s(&tmp.path().join("reviews"));
    let config = tmp.path().join("config");
    let ctx = AppContext::new(Some(config.clone()), Some(tmp.path().join("reviews")));

    let info = ctx.handle(Request::AppInfo {}).unwrap();
    assert_eq!(info["project"], serde_json::json!(dir));
    let created =
        ctx.handle(Request::CreateProject { dir: dir.clone(), project: create_request(&["pos", "neg"]) }).unwrap();
    assert_eq!(created["settings"]["name"], "评论");
    assert_eq!(created["labels"][1]["hotkey"], "2");
    assert!(config.join("recent.json").is_file());

    // A second context (the next start of the app) finds it in the recent list and opens it.
    let later = AppContext::new(Some(config.clone()), None);
    let recent = later.handle(Request::RecentProjects {}).unwrap();
    assert_eq!(recent[0]["dir"], serde_json::json!(dir));
    let opened = later.handle(Request::OpenProject { dir: dir.clone() }).unwrap();
    assert_eq!(opened["settings"]["guidelines"], "# 指南\n按情感标注。");
    let changed = later.handle(Request::SetGuidelines { dir: dir.clone(), markdown: "新的指南".into() }).unwrap();
    assert_eq!(changed["settings"]["guidelines"], "新的指南");

    // Import: UTF-8 with a BOM as Excel saves it, with a duplicate and a bad label.
    let csv = "\u{feff}编号,内容,标签\n1,物流很快，非常满意,pos\n2,质量太差了,neg\n3,物流很快，非常满意,pos\n4,还行吧,meh\n5,屏幕清晰 👍,\n6,退货太麻烦,\n";
    let file = tmp.path().join("评论.csv");
    std::fs::write(&file, csv).unwrap();
    let preview = ctx
        .handle(Request::PreviewImport { dir: dir.clone(), path: s(&file), options: ImportRequest::default() })
        .unwrap();
    assert_eq!(preview["encoding"], "UTF-8");
    assert_eq!(preview["columns"], serde_json::json!(["编号", "内容", "标签"]));
    let options = ImportRequest {
        columns: finelab_app::store::import::ColumnMap {
            text: Some("内容".into()),
            label: Some("标签".into()),
            id: Some("编号".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let states = import(&ctx, &dir, &file, options);
    let done = states.last().unwrap();
    assert_eq!(done.status, JobStatus::Done, "{done:?}");
    assert!(states[..states.len() - 1].iter().all(|s| s.status == JobStatus::Running));
    let report = &done.result.as_ref().unwrap()["report"];
    assert_eq!(
        (&report["imported"], &report["labeled"], &report["duplicates"], &report["n_rejected"]),
        (&serde_json::json!(4), &serde_json::json!(2), &serde_json::json!(1), &serde_json::json!(1)),
        "{report}"
    );
    assert_eq!(report["rejected"][0]["line"], 5);
    let polled: JobState = ok(&ctx, Request::Job { id: done.id });
    assert_eq!(&polled, done);

    // Label the queue in import order, undo, label again.
    let annotator = "标注员";
    let next: RecordView =
        ok(&ctx, Request::NextRecord { dir: dir.clone(), annotator: annotator.into(), after_seq: None });
    assert_eq!(next.record.text, "屏幕清晰 👍");
    assert_eq!(next.record.source_line, Some(6));
    let receipt: Receipt = ok(
        &ctx,
        Request::Annotate {
            dir: dir.clone(),
            seq: next.record.seq,
            annotator: annotator.into(),
            action: label("pos"),
            draft: None,
        },
    );
    assert_eq!((receipt.record_seq, receipt.labeled_delta), (next.record.seq, 1));
    let second: RecordView = ok(
        &ctx,
        Request::NextRecord { dir: dir.clone(), annotator: annotator.into(), after_seq: Some(next.record.seq) },
    );
    assert_eq!(second.record.text, "退货太麻烦");
    let _: Receipt = ok(
        &ctx,
        Request::Annotate {
            dir: dir.clone(),
            seq: second.record.seq,
            annotator: annotator.into(),
            action: label("pos"),
            draft: None,
        },
    );
    let all_done: Option<RecordView> = ok(
        &ctx,
        Request::NextRecord { dir: dir.clone(), annotator: annotator.into(), after_seq: Some(second.record.seq) },
    );
    assert!(all_done.is_none(), "{all_done:?}");

    let undone: Option<Receipt> = ok(&ctx, Request::Undo { dir: dir.clone(), annotator: annotator.into() });
    assert_eq!(undone.map(|r| (r.record_seq, r.labeled_delta)), Some((second.record.seq, -1)));
    let record: RecordView = ok(&ctx, Request::GetRecord { dir: dir.clone(), seq: second.record.seq });
    assert_eq!(record.value, None);
    let again: RecordView =
        ok(&ctx, Request::NextRecord { dir: dir.clone(), annotator: annotator.into(), after_seq: None });
    assert_eq!(again.record.seq, second.record.seq);
    let _: Receipt = ok(
        &ctx,
        Request::Annotate {
            dir: dir.clone(),
            seq: second.record.seq,
            annotator: annotator.into(),
            action: label("neg"),
            draft: None,
        },
    );
    let record: RecordView = ok(&ctx, Request::GetRecord { dir: dir.clone(), seq: second.record.seq });
    assert_eq!(record.value, Some(AnnotationValue::Label("neg".into())));
    assert_eq!(record.annotator.as_deref(), Some(annotator));

    // Search and count.
    let query = |text: Option<&str>, label: Option<&str>| SearchQuery {
        text: text.map(str::to_string),
        label: label.map(str::to_string),
        ..Default::default()
    };
    let page: SearchPage = ok(&ctx, Request::Search { dir: dir.clone(), query: query(Some("物流"), None) });
    assert_eq!(page.hits.iter().map(|h| h.record.text.as_str()).collect::<Vec<_>>(), ["物流很快，非常满意"]);
    let page: SearchPage = ok(&ctx, Request::Search { dir: dir.clone(), query: query(None, Some("neg")) });
    assert_eq!(page.hits.iter().map(|h| h.record.text.as_str()).collect::<Vec<_>>(), ["质量太差了", "退货太麻烦"]);
    let count = |q: SearchQuery, cap: Option<u32>| -> u64 {
        ok(&ctx, Request::CountRecords { dir: dir.clone(), query: q, cap })
    };
    assert_eq!(count(query(None, Some("neg")), None), 2);
    assert_eq!(count(query(None, Some("pos")), None), 2);
    assert_eq!(count(query(None, Some("neg")), Some(1)), 1);
    assert_eq!(count(query(Some("不存在的词"), None), None), 0);
    // limit and offset do not change a count.
    assert_eq!(count(SearchQuery { limit: Some(1), offset: Some(1), ..query(None, Some("neg")) }, None), 2);

    let stats: Stats = ok(&ctx, Request::Stats { dir: dir.clone() });
    assert_eq!((stats.records, stats.labeled), (4, 4));
    assert_eq!(stats.labels.get("pos"), Some(&2));
    assert_eq!(stats.labels.get("neg"), Some(&2));
    assert_eq!(stats.annotators.iter().filter(|a| a.as_str() == annotator).count(), 1);
    // The same project seen through another context (another shell) holds the same data.
    let other_stats: Stats = ok(&later, Request::Stats { dir });
    assert_eq!(other_stats, stats);
}

#[test]
fn errors_carry_stable_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = AppContext::new(None, None);
    let dir = s(&tmp.path().join("p"));
    let check = |request: Request, code: &str| {
        let body = err(&ctx, request);
        assert_eq!(body.code, code, "{body:?}");
        assert!(!body.message.is_empty());
        body
    };
    check(Request::OpenProject { dir: dir.clone() }, "not_a_project");
    check(
        Request::StartImport { dir: dir.clone(), path: "x.csv".into(), options: ImportRequest::default() },
        "not_a_project",
    );
    check(Request::CreateProject { dir: dir.clone(), project: create_request(&["a", "a"]) }, "invalid");
    let _ = ctx.handle(Request::CreateProject { dir: dir.clone(), project: create_request(&["a", "b"]) }).unwrap();
    check(Request::CreateProject { dir: dir.clone(), project: create_request(&["a", "b"]) }, "already_exists");
    check(Request::GetRecord { dir: dir.clone(), seq: 1 }, "no_such_record");
    check(
        Request::Annotate { dir: dir.clone(), seq: 1, annotator: "x".into(), action: label("a"), draft: None },
        "no_such_record",
    );
    check(Request::Job { id: 999 }, "no_such_job");
    check(Request::CancelJob { id: 999 }, "no_such_job");
    let missing = tmp.path().join("missing.csv");
    check(Request::StartImport { dir: dir.clone(), path: s(&missing), options: ImportRequest::default() }, "io");
    let bad_delimiter = ImportRequest { delimiter: Some(";;".into()), ..Default::default() };
    check(Request::PreviewImport { dir: dir.clone(), path: s(&missing), options: bad_delimiter }, "invalid");

    // A strict import with a bad row fails as a job, with the row in the error's details.
    let file = tmp.path().join("bad.csv");
    std::fs::write(&file, "text,label\nfine,a\nwrong,zzz\n").unwrap();
    let states = import(&ctx, &dir, &file, ImportRequest { strict: true, ..Default::default() });
    let failed = states.last().unwrap();
    assert_eq!(failed.status, JobStatus::Failed, "{failed:?}");
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.code, "rows_rejected");
    assert_eq!(error.details.as_ref().unwrap()["first_line"], 3);
    let stats: Stats = ok(&ctx, Request::Stats { dir: dir.clone() });
    assert_eq!(stats.records, 0, "a strict import that fails imports nothing");

    // Watching stops when the watcher says so.
    let mut calls = 0;
    ctx.watch_job(failed.id, &mut |_| {
        calls += 1;
        false
    })
    .unwrap();
    assert_eq!(calls, 1);
}
