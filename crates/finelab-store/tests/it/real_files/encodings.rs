//! Encodings and broken bytes: UTF-8 with a few bad bytes, unbalanced CSV quotes, control
//! characters and binary files; each bad line rejected by number and reason, the rest imported.

use super::*;

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
