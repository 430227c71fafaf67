//! Exports of the tools people come from (Label Studio, Prodigy): their labels, annotators and
//! answers mean what they meant there.

use super::*;

/// Imports `content` as `name` into a fresh project of `kind` with `labels`, and checks every
/// record's annotations (`id` -> `(annotator, value)`, sorted by annotator; an empty list for an
/// unlabeled record) and the rejected lines (with a piece of the reason).
fn check_peer_export(
    kind: ProjectKind,
    labels: &[&str],
    name: &str,
    content: &str,
    records: &[(&str, Vec<(&str, AnnotationValue)>)],
    rejected: &[(u64, &str)],
) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), kind, labels);
    let path = write(tmp.path(), name, content);
    let report = import(&mut store, &path, &ImportOptions::default());
    check_left_out(&report, rejected, name);
    assert_eq!(report.imported, records.len() as u64, "{name}");
    assert_eq!(report.labeled, records.iter().filter(|(_, a)| !a.is_empty()).count() as u64, "{name}");
    for (id, want) in records {
        let view = store.record(id).unwrap();
        let mut annotations: Vec<(String, AnnotationValue)> =
            view.annotations.into_iter().filter_map(|a| Some((a.annotator, a.value?))).collect();
        annotations.sort_by(|a, b| a.0.cmp(&b.0));
        let want: Vec<(String, AnnotationValue)> = want.iter().map(|(a, v)| (a.to_string(), v.clone())).collect();
        assert_eq!(annotations, want, "{name}: record {id}");
        assert!(
            view.record.meta.as_ref().is_none_or(|m| m.get("annotations").is_none()),
            "{name}: annotations are no meta"
        );
    }
}

fn label(l: &str) -> AnnotationValue {
    AnnotationValue::Label(l.into())
}

#[test]
fn label_studio_export_keeps_its_labels_and_annotators() {
    let choices = |c: &str| {
        format!(
            r#"{{"type": "choices", "from_name": "sentiment", "to_name": "text", "value": {{"choices": ["{c}"]}}}}"#
        )
    };
    let tasks = format!(
        r#"[
  {{"id": 1, "data": {{"text": "Great phone"}},
    "annotations": [
      {{"id": 11, "completed_by": 1, "was_cancelled": false, "result": [{pos}]}},
      {{"id": 12, "completed_by": {{"id": 2, "email": "bo@example.org"}}, "result": [{neg}]}}],
    "predictions": [{{"model_version": "v1", "result": [{neg}]}}]}},
  {{"id": 2, "data": {{"text": "Awful battery"}},
    "annotations": [
      {{"id": 21, "completed_by": 1, "was_cancelled": true, "result": [{pos}]}},
      {{"id": 22, "completed_by": 3, "result": [{neg}]}}]}},
  {{"id": 3, "data": {{"text": "Only a prediction"}}, "annotations": [],
    "predictions": [{{"result": [{pos}]}}]}},
  {{"id": 4, "data": {{"text": "Not in the label set"}},
    "annotations": [{{"completed_by": 1, "result": [{maybe}]}}]}}
]"#,
        pos = choices("Positive"),
        neg = choices("Negative"),
        maybe = choices("Maybe"),
    );
    check_peer_export(
        ProjectKind::Single,
        &["Positive", "Negative"],
        "project-1.json",
        &tasks,
        &[
            ("1", vec![("bo@example.org", label("Negative")), ("ls:1", label("Positive"))]),
            ("2", vec![("ls:3", label("Negative"))]),
            ("3", vec![]),
        ],
        &[(13, "\"Maybe\" not in the project's label set")],
    );

    // Spans: Label Studio offsets are code points (the emoji is one), checked against the text.
    let region = |start: usize, end: usize, text: &str, l: &str| {
        format!(
            r#"{{"type": "labels", "value": {{"start": {start}, "end": {end}, "text": "{text}", "labels": ["{l}"]}}}}"#
        )
    };
    let task = |id: u32, text: &str, regions: &[String]| {
        format!(
            r#"{{"id": {id}, "data": {{"text": "{text}"}}, "annotations": [{{"completed_by": 7, "result": [{}]}}]}}"#,
            regions.join(", ")
        )
    };
    let tasks = [
        task(1, "我在北京见到😀Alice和Bob", &[region(2, 4, "北京", "LOC"), region(7, 12, "Alice", "PER")]),
        // UTF-16 offsets (what JavaScript counts) do not match the text.
        task(2, "我在北京见到😀Alice和Bob", &[region(8, 13, "Alice", "PER")]),
        task(3, "short", &[region(3, 9, "rt", "PER")]),
        // An annotation with no regions says the text has no entities.
        task(4, "nothing here", &[]),
    ];
    check_peer_export(
        ProjectKind::Spans,
        &["PER", "LOC"],
        "spans.jsonl",
        &tasks.join("\n"),
        &[
            (
                "1",
                vec![(
                    "ls:7",
                    AnnotationValue::Spans(vec![
                        Span { start: 2, end: 4, label: "LOC".into() },
                        Span { start: 7, end: 12, label: "PER".into() },
                    ]),
                )],
            ),
            ("4", vec![("ls:7", AnnotationValue::Spans(vec![]))]),
        ],
        &[(2, "quotes \"Alice\" but the text there is \"lice和\""), (3, "outside the text")],
    );

    // Taxonomy paths in a multi-label project.
    let tasks = r#"[{"id": "t1", "data": {"text": "A cat and a dog"}, "annotations": [{"completed_by": 5,
        "result": [{"type": "taxonomy", "value": {"taxonomy": [["Animals", "Cats"], ["Animals", "Dogs"]]}}]}]}]"#;
    check_peer_export(
        ProjectKind::Multi,
        &["Animals/Cats", "Animals/Dogs"],
        "taxonomy.json",
        tasks,
        &[("t1", vec![("ls:5", AnnotationValue::Labels(vec!["Animals/Cats".into(), "Animals/Dogs".into()]))])],
        &[],
    );
}

#[test]
fn prodigy_answers_mean_what_the_annotator_said() {
    let lines = [
        r#"{"id": "p1", "text": "great", "label": "POSITIVE", "answer": "accept"}"#,
        r#"{"id": "p2", "text": "awful", "label": "POSITIVE", "answer": "reject"}"#,
        r#"{"id": "p3", "text": "meh", "label": "POSITIVE", "answer": "ignore"}"#,
        r#"{"id": "p4", "text": "no label", "answer": "accept"}"#,
        r#"{"id": "p5", "text": "odd", "label": "POSITIVE", "answer": "maybe"}"#,
        r#"{"id": "p6", "text": "by alice", "label": "NEGATIVE", "answer": "reject", "_annotator_id": "reviews-alice"}"#,
    ]
    .join("\n");
    check_peer_export(
        ProjectKind::Single,
        &["POSITIVE", "NEGATIVE"],
        "prodigy.jsonl",
        &lines,
        &[
            ("p1", vec![("import", label("POSITIVE"))]),
            ("p2", vec![("import", label("NEGATIVE"))]),
            ("p4", vec![]),
            ("p6", vec![("reviews-alice", label("POSITIVE"))]),
        ],
        &[(3, "Prodigy answer \"ignore\": skipped"), (5, "unknown Prodigy answer \"maybe\"")],
    );
    // Skipping is what the annotator asked for, not a bad row: --strict accepts it.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["POSITIVE", "NEGATIVE"]);
    let skips = write(
        tmp.path(),
        "skips.jsonl",
        [lines.split('\n').next().unwrap(), r#"{"text": "meh", "answer": "ignore"}"#].join("\n"),
    );
    let report = import(&mut store, &skips, &ImportOptions { strict: true, ..Default::default() });
    assert_eq!((report.imported, report.n_rejected, report.n_skipped), (1, 0, 1));
    assert_eq!(report.skipped[0].line, 2);
    // With three labels, "not POSITIVE" is no label: reported and skipped.
    check_peer_export(
        ProjectKind::Single,
        &["POSITIVE", "NEGATIVE", "NEUTRAL"],
        "prodigy3.jsonl",
        &lines,
        &[("p1", vec![("import", label("POSITIVE"))]), ("p4", vec![])],
        &[
            (2, "Prodigy answer \"reject\" of label \"POSITIVE\": skipped"),
            (3, "ignore"),
            (5, "unknown Prodigy answer"),
            (6, "reject"),
        ],
    );
    // A rejected span annotation names no label either.
    check_peer_export(
        ProjectKind::Spans,
        &["PER"],
        "ner.jsonl",
        r#"{"id": "n1", "text": "Alice here", "spans": [{"start": 0, "end": 5, "label": "PER"}], "answer": "reject"}"#,
        &[],
        &[(1, "Prodigy answer \"reject\": skipped")],
    );
}
