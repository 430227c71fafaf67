//! The annotation log, splits, search and migrations.

use crate::common;
use common::*;
use finelab_store::import::ImportOptions;
use finelab_store::search::{SearchQuery, Status};
use finelab_store::{Action, AnnotationValue, ProjectKind, Span, Split, Store};

fn label(l: &str) -> Action {
    Action::Label { value: AnnotationValue::Label(l.into()) }
}

fn lines_project(dir: &std::path::Path, kind: ProjectKind, labels: &[&str], lines: &[&str]) -> Store {
    lines_project_with(dir, kind, labels, lines, &ImportOptions::default())
}

fn lines_project_with(
    dir: &std::path::Path,
    kind: ProjectKind,
    labels: &[&str],
    lines: &[&str],
    options: &ImportOptions,
) -> Store {
    let mut store = new_project(&dir.join("p"), kind, labels);
    let path = write(dir, "in.txt", lines.join("\n"));
    let report = import(&mut store, &path, options);
    assert_eq!(report.imported as usize, lines.len());
    store
}

#[test]
fn label_undo_and_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = lines_project(tmp.path(), ProjectKind::Single, &["pos", "neg"], &["一", "二", "三", "四"]);
    let first = s.next_record("ann", None).unwrap().unwrap();
    assert_eq!(first.record.text, "一");
    s.annotate(first.record.seq, "ann", &label("pos")).unwrap();
    let second = s.next_record("ann", Some(first.record.seq)).unwrap().unwrap();
    assert_eq!(second.record.text, "二");
    s.annotate(second.record.seq, "ann", &label("neg")).unwrap();
    s.annotate(second.record.seq, "ann", &label("pos")).unwrap();
    assert_eq!(s.record_by_seq(second.record.seq).unwrap().value, Some(AnnotationValue::Label("pos".into())));
    // Undo restores the previous value; a second undo removes the first label of that record.
    let undone = s.undo("ann").unwrap().unwrap();
    assert_eq!(undone.record_seq, second.record.seq);
    assert_eq!(s.record_by_seq(second.record.seq).unwrap().value, Some(AnnotationValue::Label("neg".into())));
    s.undo("ann").unwrap().unwrap();
    assert_eq!(s.record_by_seq(second.record.seq).unwrap().value, None);
    assert_eq!(s.next_record("ann", Some(first.record.seq)).unwrap().unwrap().record.text, "二");
    // Skip moves on; the skipped record comes back only when nothing else is left.
    s.annotate(second.record.seq, "ann", &Action::Skip).unwrap();
    assert_eq!(s.next_record("ann", Some(first.record.seq)).unwrap().unwrap().record.text, "三");
    assert_eq!(s.next_record("other", Some(first.record.seq)).unwrap().unwrap().record.text, "二");
    let stats = s.stats().unwrap();
    assert_eq!((stats.labeled, stats.log_entries), (1, 6));
    // Several annotators: the latest label is the record's; both are kept.
    s.annotate(first.record.seq, "bob", &label("neg")).unwrap();
    let view = s.record_by_seq(first.record.seq).unwrap();
    assert_eq!(view.annotations.len(), 2);
    assert_eq!(view.annotator.as_deref(), Some("bob"));
    assert_eq!(s.stats().unwrap().annotators, vec!["ann", "bob",]);
    // Undo is per annotator.
    s.undo("bob").unwrap();
    assert_eq!(s.record_by_seq(first.record.seq).unwrap().value, Some(AnnotationValue::Label("pos".into())));
    // The log is append-only and the derived state can be rebuilt from it.
    let before: Vec<_> = (1..=4).map(|i| s.record_by_seq(i).unwrap().value).collect();
    s.rebuild_derived_state().unwrap();
    let after: Vec<_> = (1..=4).map(|i| s.record_by_seq(i).unwrap().value).collect();
    assert_eq!(before, after);
    assert_eq!(s.history(second.record.seq).unwrap().len(), 5);
}

#[test]
fn invalid_annotations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = lines_project(tmp.path(), ProjectKind::Spans, &["LOC"], &["我在北京😀"]);
    let spans = |v: Vec<(usize, usize, &str)>| Action::Label {
        value: AnnotationValue::Spans(
            v.into_iter().map(|(start, end, l)| Span { start, end, label: l.into() }).collect(),
        ),
    };
    assert!(s.annotate(1, "a", &spans(vec![(2, 4, "LOC")])).is_ok());
    assert!(s.annotate(1, "a", &spans(vec![(4, 5, "LOC")])).is_ok(), "the emoji is one code point");
    for (bad, why) in [
        (spans(vec![(2, 6, "LOC")]), "outside"),
        (spans(vec![(2, 4, "PER")]), "not in the project's label set"),
        (spans(vec![(0, 3, "LOC"), (2, 4, "LOC")]), "overlap"),
        (label("LOC"), "cannot take a single label"),
    ] {
        let err = s.annotate(1, "a", &bad).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
    assert!(s.annotate(1, " ", &spans(vec![])).is_err());
}

#[test]
fn splits_are_stratified_and_stable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = new_project(&tmp.path().join("p"), ProjectKind::Single, &["a", "b"]);
    let jsonl = |range: std::ops::Range<usize>| -> String {
        range
            .map(|i| {
                format!(
                    "{{\"id\": \"r{i}\", \"text\": \"text {i}\", \"label\": \"{}\"}}\n",
                    if i % 5 == 0 { "b" } else { "a" }
                )
            })
            .collect()
    };
    import(&mut s, &write(tmp.path(), "1.jsonl", jsonl(0..500)), &ImportOptions::default());
    // The import gave its labeled records their splits in its own transaction.
    let first = s.assign_splits().unwrap();
    assert_eq!((first.assigned, first.train, first.dev, first.test), (0, 400, 50, 50));
    let count = |s: &Store, label: &str, split: Split| {
        s.search(&SearchQuery {
            label: Some(label.into()),
            split: Some(split),
            limit: Some(10_000),
            ..Default::default()
        })
        .unwrap()
        .hits
        .len()
    };
    assert_eq!((count(&s, "b", Split::Train), count(&s, "b", Split::Dev), count(&s, "b", Split::Test)), (80, 10, 10));
    let before: Vec<_> = s.labeled_records().unwrap().into_iter().map(|r| (r.id, r.split)).collect();
    import(&mut s, &write(tmp.path(), "2.jsonl", jsonl(500..1000)), &ImportOptions::default());
    let second = s.assign_splits().unwrap();
    assert_eq!((second.assigned, second.train, second.dev, second.test), (0, 800, 100, 100));
    let after: Vec<_> = s.labeled_records().unwrap().into_iter().map(|r| (r.id, r.split)).take(500).collect();
    assert_eq!(before, after, "existing records keep their split");
    assert_eq!(s.assign_splits().unwrap().assigned, 0);
}

#[test]
fn search_chinese_and_english_before_and_after_indexing() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = [
        "物流很快，包装完好",
        "快递太慢了",
        "Shipping was FAST",
        "The shipment was lost",
        "质量一般，物流还行",
        "好",
        "iPhone15很好用😀",
    ];
    let no_index = ImportOptions { skip_search_index: true, ..Default::default() };
    let mut s = lines_project_with(tmp.path(), ProjectKind::Single, &["pos"], &lines, &no_index);
    let find = |s: &Store, q: &str| -> Vec<String> {
        s.search(&SearchQuery { text: Some(q.into()), ..Default::default() })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.record.text)
            .collect()
    };
    let cases: &[(&str, &[usize])] = &[
        ("物流", &[0, 4]),
        ("快", &[0, 1]),
        ("很快", &[0]),
        ("好", &[0, 5, 6]),
        ("ship", &[2, 3]),
        ("fast", &[2]),
        ("WAS", &[2, 3]),
        ("hipp", &[2]),
        ("iphone15", &[6]),
        ("😀", &[6]),
        ("包装完好", &[0]),
        ("物流 快", &[]),
        ("ping was", &[2]),
        ("was lost", &[3]),
        ("was fast!", &[]),
        ("shipment was", &[3]),
        ("不存在", &[]),
    ];
    for indexed in [false, true] {
        if indexed {
            assert_eq!(s.search_pending().unwrap(), lines.len() as u64);
            s.index_pending(3, &mut |_, _| true).unwrap();
            assert_eq!(s.search_pending().unwrap(), 0);
        }
        for (q, want) in cases {
            let want: Vec<String> = want.iter().map(|&i| lines[i].to_string()).collect();
            assert_eq!(find(&s, q), want, "query {q:?}, indexed {indexed}");
        }
    }
    // A second import is indexed as it goes (on another thread), and searchable at once.
    let more = write(tmp.path(), "more.txt", "物流第二批\nsecond shipment");
    import(&mut s, &more, &ImportOptions::default());
    assert_eq!(s.search_pending().unwrap(), 0);
    assert_eq!(find(&s, "物流").len(), 3);
    assert_eq!(find(&s, "shipment"), vec!["The shipment was lost", "second shipment"]);
    s.annotate(1, "a", &label("pos")).unwrap();
    let labeled = s.search(&SearchQuery { status: Some(Status::Labeled), ..Default::default() }).unwrap();
    assert_eq!(labeled.hits.len(), 1);
    let page =
        s.search(&SearchQuery { status: Some(Status::Unlabeled), limit: Some(4), ..Default::default() }).unwrap();
    assert_eq!(page.hits.len(), 4);
    let rest = s
        .search(&SearchQuery { status: Some(Status::Unlabeled), after_seq: page.next_after, ..Default::default() })
        .unwrap();
    assert_eq!(rest.hits.len(), 4);
    assert_eq!(rest.next_after, None);
    // Offsets, with and without filters, and counts.
    let all: Vec<i64> = s
        .search(&SearchQuery { limit: Some(100), ..Default::default() })
        .unwrap()
        .hits
        .iter()
        .map(|h| h.record.seq)
        .collect();
    let at = |offset: u64, status: Option<Status>| -> Vec<i64> {
        s.search(&SearchQuery { offset: Some(offset), limit: Some(2), status, ..Default::default() })
            .unwrap()
            .hits
            .iter()
            .map(|h| h.record.seq)
            .collect()
    };
    assert_eq!(at(3, None), all[3..5].to_vec());
    assert_eq!(at(8, None), all[8..9].to_vec());
    assert_eq!(at(20, None), Vec::<i64>::new());
    let unlabeled: Vec<i64> = all.iter().copied().filter(|&q| q != 1).collect();
    assert_eq!(at(2, Some(Status::Unlabeled)), unlabeled[2..4].to_vec());
    assert_eq!(s.count_matches(&SearchQuery { text: Some("物流".into()), ..Default::default() }, 100).unwrap(), 3);
    assert_eq!(
        s.count_matches(&SearchQuery { status: Some(Status::Unlabeled), ..Default::default() }, 100).unwrap(),
        8
    );
    assert_eq!(s.count_matches(&SearchQuery { status: Some(Status::Unlabeled), ..Default::default() }, 5).unwrap(), 5);
    assert_eq!(s.count_matches(&SearchQuery::default(), 5).unwrap(), 9);
}

#[test]
fn newer_database_is_refused_and_log_is_append_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    drop(lines_project(tmp.path(), ProjectKind::Single, &["pos"], &["a"]));
    let db = dir.join(finelab_store::DB_FILE);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        assert_eq!(
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).unwrap(),
            finelab_store::latest_version() as i64
        );
        conn.execute("INSERT INTO annotations (record_id, annotator, action, value, created_at) VALUES (1, 'x', 'label', '{\"label\":\"pos\"}', 0)", []).unwrap();
        let err = conn.execute("DELETE FROM annotations", []).unwrap_err().to_string();
        assert!(err.contains("append-only"), "{err}");
        assert!(conn.execute("UPDATE annotations SET annotator = 'y'", []).is_err());
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&dir).err().expect("a newer schema must be refused").to_string();
    assert!(err.contains("schema version 99") && err.contains("newer Finelab"), "{err}");
    let err = Store::open(&tmp.path().join("nowhere")).err().unwrap().to_string();
    assert!(err.contains("not a Finelab project"), "{err}");
}

/// `n` labeled JSONL rows `{prefix}{i}` (every fifth labeled "b").
fn labeled_jsonl(prefix: &str, range: std::ops::Range<usize>) -> String {
    range
        .map(|i| format!("{{\"text\": \"{prefix} {i}\", \"label\": \"{}\"}}\n", if i % 5 == 0 { "b" } else { "a" }))
        .collect()
}

#[test]
fn labeling_waits_for_an_import_instead_of_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let mut s = new_project(&dir, ProjectKind::Single, &["a", "b"]);
    let first = write(tmp.path(), "first.txt", (0..200).map(|i| format!("unlabeled {i}\n")).collect::<String>());
    import(&mut s, &first, &ImportOptions::default());
    let big = write(tmp.path(), "big.jsonl", labeled_jsonl("imported", 0..60_000));
    let importing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let labeler = {
        let dir = dir.clone();
        let importing = importing.clone();
        std::thread::spawn(move || {
            // A second connection, as the server's label path has: every annotation must land,
            // from before the import starts writing until after it committed.
            let mut s = Store::open(&dir).unwrap();
            let mut last = std::collections::BTreeMap::new();
            let mut n = 0u64;
            while importing.load(std::sync::atomic::Ordering::SeqCst) || n < 400 {
                let seq = (n % 200) as i64 + 1;
                let value = if (n / 200).is_multiple_of(2) { "a" } else { "b" };
                s.annotate(seq, "ann", &label(value)).expect("an annotation while an import runs");
                last.insert(seq, value);
                n += 1;
            }
            (n, last)
        })
    };
    let report = s.import(&big, &ImportOptions::default(), &mut |_| true).expect("the import while labeling goes on");
    importing.store(false, std::sync::atomic::Ordering::SeqCst);
    let (n, last) = labeler.join().unwrap();
    assert_eq!(report.imported, 60_000);
    assert!(n >= 400);
    for (seq, expected) in last {
        let view = s.record_by_seq(seq).unwrap();
        assert_eq!(view.value, Some(AnnotationValue::Label(expected.into())), "record {seq}");
        assert!(view.record.split.is_some(), "record {seq} got its split when it was labeled");
    }
    let without_split = s.labeled_records().unwrap().into_iter().filter(|r| r.split.is_none()).count();
    assert_eq!(without_split, 0);
}

#[test]
fn two_imports_at_once_both_succeed_and_share_no_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    drop(new_project(&dir, ProjectKind::Single, &["a", "b"]));
    // The files overlap in 5,000 texts: whichever import writes second skips them as duplicates.
    let one = write(tmp.path(), "one.jsonl", labeled_jsonl("row", 0..30_000));
    let two = write(tmp.path(), "two.jsonl", labeled_jsonl("row", 25_000..55_000));
    let handles: Vec<_> = [one, two]
        .into_iter()
        .map(|file| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                Store::open(&dir).unwrap().import(&file, &ImportOptions::default(), &mut |_| true)
            })
        })
        .collect();
    let reports: Vec<_> = handles.into_iter().map(|h| h.join().unwrap().expect("both imports succeed")).collect();
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.n_records().unwrap(), 55_000);
    assert_eq!(reports.iter().map(|r| r.imported).sum::<u64>(), 55_000);
    assert_eq!(reports.iter().map(|r| r.duplicates).sum::<u64>(), 5_000);
    let records = s.labeled_records().unwrap();
    assert_eq!(records.len(), 55_000);
    assert_eq!(records.iter().filter(|r| r.split.is_none()).count(), 0, "every labeled record has its split");
    // Stratified as one import would have been: 80/10/10 within each label, give or take one.
    let n = |label: &str, split: Split| {
        records.iter().filter(|r| r.split == Some(split) && r.value == AnnotationValue::Label(label.into())).count()
            as i64
    };
    for (label, total) in [("a", 44_000i64), ("b", 11_000)] {
        assert!((n(label, Split::Train) - total * 8 / 10).abs() <= 2, "{label} train {}", n(label, Split::Train));
        assert!((n(label, Split::Dev) - total / 10).abs() <= 2, "{label} dev {}", n(label, Split::Dev));
    }
}

#[test]
fn annotator_names_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = lines_project(tmp.path(), ProjectKind::Single, &["a"], &["one"]);
    assert!(s.annotate(1, &"x".repeat(100), &label("a")).is_ok());
    let err = s.annotate(1, &"x".repeat(101), &label("a")).unwrap_err().to_string();
    assert!(err.contains("at most 100"), "{err}");
    let err = s.annotate(1, "a\u{1b}[31mb", &label("a")).unwrap_err().to_string();
    assert!(err.contains("control character"), "{err}");
}

fn output(text: &str) -> Action {
    Action::Label { value: AnnotationValue::Output(text.into()) }
}

/// A generate project's output is a label: written, corrected and undone through the log, it
/// makes a record labeled and gives it its split in the same transaction.
#[test]
fn outputs_are_written_corrected_and_undone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = lines_project(tmp.path(), ProjectKind::Generate, &[], &["把这句话翻译成英文：你好", "写一句广告语"]);
    let first = s.next_record("ann", None).unwrap().unwrap();
    assert_eq!((first.record.seq, first.value.clone()), (1, None));
    let receipt = s.annotate(1, "ann", &output("Hello")).unwrap();
    assert_eq!(receipt.labeled_delta, 1);
    let view = s.record_by_seq(1).unwrap();
    assert_eq!(view.value.as_ref().and_then(|v| v.as_output()), Some("Hello"));
    let split = view.record.split.expect("a record gets its split when it is labeled");
    assert_eq!(s.next_record("ann", Some(1)).unwrap().unwrap().record.seq, 2);
    // A correction replaces the output (spaces and newlines kept); undo takes it back.
    let receipt = s.annotate(1, "ann", &output("Hello!\n  (greeting)")).unwrap();
    assert_eq!(receipt.labeled_delta, 0);
    assert_eq!(s.record_by_seq(1).unwrap().value, Some(AnnotationValue::Output("Hello!\n  (greeting)".into())));
    s.undo("ann").unwrap().unwrap();
    assert_eq!(s.record_by_seq(1).unwrap().value, Some(AnnotationValue::Output("Hello".into())));
    let stats = s.stats().unwrap();
    assert_eq!((stats.labeled, stats.labels.len(), stats.splits[split.as_str()]), (1, 0, 1));
    assert_eq!(s.undo("ann").unwrap().unwrap().labeled_delta, -1);
    assert_eq!(s.record_by_seq(1).unwrap().value, None);
    assert_eq!(s.stats().unwrap().labeled, 0);
    // The split, once given, stays.
    assert_eq!(s.record_by_seq(1).unwrap().record.split, Some(split));
    // The log is the truth: the derived state rebuilds to the same.
    s.annotate(2, "bob", &output("好用不贵")).unwrap();
    s.rebuild_derived_state().unwrap();
    assert_eq!(s.record_by_seq(2).unwrap().value, Some(AnnotationValue::Output("好用不贵".into())));
    let trained = s.labeled_records().unwrap();
    assert_eq!(trained.len(), 1);
    assert_eq!((trained[0].text.as_str(), trained[0].value.as_output()), ("写一句广告语", Some("好用不贵")));

    for (bad, why) in [
        (output(" \n "), "the output is empty"),
        (label("好"), "a generate project cannot take a single label"),
        (
            Action::Label { value: AnnotationValue::Spans(vec![Span { start: 0, end: 1, label: "X".into() }]) },
            "cannot take spans",
        ),
    ] {
        let err = s.annotate(1, "ann", &bad).unwrap_err().to_string();
        assert!(err.contains(why), "{err}");
    }
    let mut single = lines_project(&tmp.path().join("single"), ProjectKind::Single, &["pos"], &["fine"]);
    let err = single.annotate(1, "ann", &output("x")).unwrap_err().to_string();
    assert!(err.contains("a single project cannot take an output"), "{err}");
}

#[test]
fn generate_kind_formats_and_refusals() {
    use finelab_store::export::{ExportFormat, ExportOptions};
    assert_eq!("generate".parse::<ProjectKind>().unwrap(), ProjectKind::Generate);
    assert_eq!(ProjectKind::Generate.as_str(), "generate");
    assert_eq!("openai".parse::<ExportFormat>().unwrap(), ExportFormat::OpenAi);
    assert_eq!(serde_json::to_string(&ExportFormat::OpenAi).unwrap(), "\"openai\"");
    assert_eq!(serde_json::to_string(&AnnotationValue::Output("答".into())).unwrap(), r#"{"output":"答"}"#);
    assert_eq!(
        "each".parse::<finelab_store::import::DialogTargets>().unwrap(),
        finelab_store::import::DialogTargets::EachAgentTurn
    );

    let tmp = tempfile::tempdir().unwrap();
    let single = lines_project(&tmp.path().join("single"), ProjectKind::Single, &["pos"], &["fine"]);
    let generate = lines_project(&tmp.path().join("gen"), ProjectKind::Generate, &[], &["写一首诗"]);
    let export = |s: &Store, format| {
        s.export(
            &ExportOptions { format, split: None, labeled_only: false, annotations: false },
            &mut Vec::new(),
            &mut |_, _| true,
        )
    };
    let err = export(&single, ExportFormat::OpenAi).unwrap_err().to_string();
    assert!(err.contains("OpenAI chat export is for generate projects"), "{err}");
    let err = export(&generate, ExportFormat::Conll).unwrap_err().to_string();
    assert!(err.contains("CoNLL export is for span projects"), "{err}");
    // OpenAI's format is for training: only labeled records go into it.
    assert_eq!(export(&generate, ExportFormat::OpenAi).unwrap().records, 0);
    // A fixed label means nothing to a generate project.
    let mut generate = generate;
    let path = common::write(tmp.path(), "more.txt", "再写一首");
    let options = ImportOptions { fixed_label: Some("pos".into()), ..Default::default() };
    let err = generate.import(&path, &options, &mut |_| true).unwrap_err().to_string();
    assert!(err.contains("a generate project takes outputs"), "{err}");
}

#[test]
fn the_trainer_gets_a_dialog_with_its_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = new_project(&tmp.path().join("p"), ProjectKind::Generate, &[]);
    let path = write(
        tmp.path(),
        "chat.jsonl",
        r#"{"messages": [{"role": "system", "content": "简短"}, {"role": "user", "content": "几点了"}, {"role": "assistant", "content": "三点"}]}"#,
    );
    let report = import(&mut s, &path, &ImportOptions::default());
    assert_eq!((report.imported, report.labeled, report.splits_assigned), (1, 1, 1));
    let records = s.labeled_records().unwrap();
    let turns = records[0].turns.as_ref().unwrap();
    assert_eq!(
        turns.iter().map(|t| (t.speaker.as_str(), t.text.as_str())).collect::<Vec<_>>(),
        [("system", "简短"), ("user", "几点了")]
    );
    assert_eq!(records[0].value.as_output(), Some("三点"));
    assert_eq!(records[0].text, "system: 简短\nuser: 几点了");
    assert_eq!(finelab_store::chat_role("客服", &[]), finelab_store::ChatRole::Assistant);
    assert_eq!(finelab_store::chat_role("客服", &["小王".to_string()]), finelab_store::ChatRole::User);
    assert_eq!(finelab_store::chat_role("GPT", &["小王".to_string()]), finelab_store::ChatRole::Assistant);
    assert_eq!(finelab_store::chat_role("System", &[]), finelab_store::ChatRole::System);
}

/// Several annotators on one record: the label it trains on, overlap in the queue, decisions
/// and their undo, the disagreements, and that a decision cannot be rewritten.
#[test]
fn several_annotators_overlap_decisions_and_the_label_trained_on() {
    use finelab_store::{LabelRule, TieRule};
    let tmp = tempfile::tempdir().unwrap();
    let mut s = lines_project(tmp.path(), ProjectKind::Single, &["pos", "neg"], &["一", "二", "三"]);
    let rule_of = |s: &Store, seq: i64| {
        s.labeled_records().unwrap().into_iter().find(|r| r.seq == seq).map(|r| (r.value, r.rule))
    };
    let pos = || AnnotationValue::Label("pos".into());
    let neg = || AnnotationValue::Label("neg".into());

    // Overlap 2: a record one person labeled is still served to another, not to them again.
    s.set_overlap(2).unwrap();
    s.annotate(1, "a", &label("pos")).unwrap();
    assert_eq!(s.next_record("a", None).unwrap().unwrap().record.seq, 2);
    assert_eq!(s.next_record("b", None).unwrap().unwrap().record.seq, 1);
    assert_eq!(s.open_for("b", 0, 10).unwrap().len(), 3);
    assert_eq!(rule_of(&s, 1), Some((pos(), LabelRule::Single)));

    // Two disagree: a tie, the latest label (or nothing, as the project says); a disagreement.
    s.annotate(1, "b", &label("neg")).unwrap();
    assert_eq!(rule_of(&s, 1), Some((neg(), LabelRule::TieLatest)));
    assert_eq!(s.open_for("c", 0, 10).unwrap().iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3], "1 has its two");
    s.set_tie_rule(TieRule::Skip).unwrap();
    assert_eq!(rule_of(&s, 1), None);
    assert_eq!(s.disagreements(0, 10).unwrap(), [1]);
    // A third breaks the tie.
    s.annotate(1, "c", &label("pos")).unwrap();
    assert_eq!(rule_of(&s, 1), Some((pos(), LabelRule::Majority)));
    // A reviewer decides: the decision wins over the majority and ends the disagreement; it is
    // not a rating.
    let decision = s.adjudicate(1, "lead", &neg()).unwrap();
    assert_eq!(rule_of(&s, 1), Some((neg(), LabelRule::Adjudicated)));
    assert!(s.disagreements(0, 10).unwrap().is_empty());
    assert_eq!(s.ratings().unwrap().iter().filter(|r| r.seq == 1).count(), 3);
    assert_eq!(s.decisions().unwrap(), [(1, neg())]);
    // Undo takes the decision back like any label; the majority stands again.
    let undone = s.undo("lead").unwrap().unwrap();
    assert_eq!(undone.record_seq, 1);
    assert_eq!(rule_of(&s, 1), Some((pos(), LabelRule::Majority)));
    assert_eq!(s.disagreements(0, 10).unwrap(), [1]);
    // The log keeps the decision and its undo; the mark cannot be rewritten.
    let history = s.history(1).unwrap();
    assert!(history.iter().any(|e| e.id == decision.annotation_id && e.annotator == "lead"));
    assert!(s.rebuild_derived_state().is_ok());
    assert_eq!(rule_of(&s, 1), Some((pos(), LabelRule::Majority)), "the same after a rebuild");
    // Two annotators agreeing unanimously is a majority of both.
    s.annotate(2, "a", &label("neg")).unwrap();
    s.annotate(2, "b", &label("neg")).unwrap();
    assert_eq!(rule_of(&s, 2), Some((neg(), LabelRule::Majority)));
    assert_eq!(s.pair_disagreements("a", "b", 10).unwrap(), [1]);
    assert_eq!(
        s.label_times().unwrap().iter().map(|(w, t)| (w.as_str(), t.len())).collect::<Vec<_>>(),
        [("a", 2), ("b", 2), ("c", 1)]
    );
}

/// Users: names are checked, taken once, and only hashes are kept.
#[test]
fn users_are_added_listed_reset_and_removed() {
    use finelab_store::Role;
    let tmp = tempfile::tempdir().unwrap();
    let s = new_project(&tmp.path().join("p"), ProjectKind::Single, &["a"]);
    assert!(!s.has_users().unwrap());
    let u = s.add_user("王芳", Role::Reviewer, "$argon2id$hash").unwrap();
    assert_eq!((u.name.as_str(), u.role), ("王芳", Role::Reviewer));
    assert!(s.has_users().unwrap());
    assert!(s.add_user("王芳", Role::Admin, "x").is_err());
    for bad in ["", " lead", "a\tb", &"x".repeat(65)] {
        assert!(s.add_user(bad, Role::Annotator, "x").is_err(), "{bad:?}");
    }
    let before = s.user("王芳").unwrap().unwrap().password_changed_at;
    let after = s.set_password("王芳", "$argon2id$other").unwrap().password_changed_at;
    assert!(after > before, "a new password ends older sessions");
    assert_eq!(s.user_with_hash("王芳").unwrap().unwrap().1, "$argon2id$other");
    s.remove_user("王芳").unwrap();
    assert!(s.user("王芳").unwrap().is_none());
    assert!(s.remove_user("王芳").is_err());
}
