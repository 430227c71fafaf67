//! Excel workbooks that would not fit: zip bombs refused fast in bounded memory, an oversized cell
//! rejecting only its row.

use super::*;

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
