//! Reading the first sheet of a workbook (xlsx, xlsm, xlsb, ods, xls) with calamine, within
//! bounds: a zip-based workbook is checked before calamine decompresses it (the sizes its parts
//! declare and hold), an xlsx sheet is read cell by cell, and cells and rows are bounded, so a small
//! file cannot exhaust memory.

use super::{encoding, ReadContext};
use crate::{Error, Result};
use std::io::Read;

/// The most one XML part of a workbook (a sheet, the shared strings) may decompress to: a sheet of
/// Excel's full million rows and a few columns stays well below it.
const MAX_PART_BYTES: u64 = 512 << 20;
/// The most all the parts of a workbook that are read may decompress to together.
const MAX_WORKBOOK_BYTES: u64 = 1 << 30;
/// The most text one cell may hold; a row with a larger cell is rejected.
const MAX_CELL_BYTES: usize = 1 << 20;
/// Excel's own limit on the rows of a sheet; a sheet that goes on past it is not from Excel.
const MAX_SHEET_ROWS: u32 = 1_048_576;

fn megabytes(n: u64) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

/// Whether a part of a workbook is one that calamine reads (XML, relationships, binary sheets),
/// as opposed to pictures and other media it never opens.
fn is_read_part(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".xml")
        || name.ends_with(".rels")
        || (name.ends_with(".bin") && !name.contains("media/") && !name.ends_with("vbaproject.bin"))
}

/// Refuses a zip-based workbook (xlsx, xlsm, xlsb, ods) whose parts would decompress to more than
/// Finelab reads, before calamine decompresses anything: first by the sizes the archive declares,
/// then by decompressing each part once into nothing, stopping just past its declared size, since
/// a hostile archive can declare less than it holds. Memory stays at one buffer.
fn check_workbook_sizes(path: &std::path::Path) -> Result<()> {
    let bad = |reason: String| Error::BadFile { path: path.to_path_buf(), reason };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| bad(format!("cannot open the workbook: {e}")))?;
    let mut parts: Vec<(usize, String, u64)> = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad(format!("cannot open the workbook: {e}")))?;
        let name = entry.name().to_string();
        if !is_read_part(&name) {
            continue;
        }
        let size = entry.size();
        if size > MAX_PART_BYTES {
            return Err(bad(format!(
                "the workbook part {} ({}) would decompress to {}, more than the {} Finelab reads from one part; \
                 split the sheet or save it as CSV",
                encoding::snippet(&name),
                part_kind(&name),
                megabytes(size),
                megabytes(MAX_PART_BYTES)
            )));
        }
        total += size;
        if total > MAX_WORKBOOK_BYTES {
            return Err(bad(format!(
                "the workbook would decompress to more than {}, the most Finelab reads; split it or save it as CSV",
                megabytes(MAX_WORKBOOK_BYTES)
            )));
        }
        parts.push((i, name, size));
    }
    for (i, name, declared) in parts {
        let entry = zip.by_index(i).map_err(|e| bad(format!("cannot read {}: {e}", encoding::snippet(&name))))?;
        let actual = std::io::copy(&mut entry.take(declared + 1), &mut std::io::sink())
            .map_err(|e| bad(format!("cannot read {}: {e}", encoding::snippet(&name))))?;
        if actual > declared {
            return Err(bad(format!(
                "the workbook part {} holds more than the {declared} bytes it declares: the file is damaged or made to exhaust memory",
                encoding::snippet(&name)
            )));
        }
    }
    Ok(())
}

/// What a workbook part is, for an error message.
fn part_kind(name: &str) -> &'static str {
    if name.contains("worksheets/") || name == "content.xml" {
        "a sheet"
    } else if name.contains("sharedStrings") {
        "the text of the cells"
    } else {
        "workbook data"
    }
}

/// A cell as text (whole numbers without ".0"), or its size when it is over [`MAX_CELL_BYTES`].
fn cell_text(c: calamine::DataRef<'_>) -> std::result::Result<String, usize> {
    use calamine::{Data, DataRef};
    let text = match c {
        DataRef::SharedString(s) if s.len() > MAX_CELL_BYTES => return Err(s.len()),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) if s.len() > MAX_CELL_BYTES => {
            return Err(s.len())
        }
        DataRef::Empty => String::new(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        other => Data::from(other).to_string(),
    };
    Ok(text)
}

/// A 0-based column number as Excel names it (0 -> A, 26 -> AA).
fn column_name(mut col: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap()
}

/// One row of a sheet: its 1-based number and its cells, or why it is rejected.
pub(super) type SheetRow = (u64, std::result::Result<Vec<String>, String>);

/// The header and the non-blank rows (up to `limit` of them) of the first sheet of a workbook.
///
/// An xlsx sheet is read cell by cell (calamine's cell reader), so memory follows the cells
/// kept, never the sheet's declared dimensions; a cell over [`MAX_CELL_BYTES`] rejects its row,
/// and a sheet past [`MAX_SHEET_ROWS`] is refused at that row. Other workbook formats are read as
/// a range.
pub(super) fn read_sheet(ctx: &ReadContext<'_>, limit: Option<usize>) -> Result<(Vec<String>, Vec<SheetRow>)> {
    let path = ctx.path;
    let bad = |reason: String| Error::BadFile { path: path.to_path_buf(), reason };
    let mut magic = [0u8; 4];
    let is_zip =
        std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"PK\x03\x04";
    if is_zip {
        check_workbook_sizes(path)?;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut rows: Vec<(u32, std::result::Result<Vec<String>, String>)> = Vec::new();
    let wanted = limit.map(|n| n + 1).unwrap_or(usize::MAX);
    if is_zip && !matches!(ext.as_str(), "xlsb" | "ods") {
        use calamine::Reader;
        let mut workbook: calamine::Xlsx<_> =
            calamine::open_workbook(path).map_err(|e| bad(format!("cannot open the workbook: {e}")))?;
        let sheet = workbook.sheet_names().first().cloned().ok_or_else(|| bad("the workbook has no sheet".into()))?;
        let mut cells =
            workbook.worksheet_cells_reader(&sheet).map_err(|e| bad(format!("cannot read sheet {sheet:?}: {e}")))?;
        let mut current: Option<(u32, std::result::Result<Vec<String>, String>)> = None;
        let flush = |current: &mut Option<(u32, std::result::Result<Vec<String>, String>)>, rows: &mut Vec<_>| {
            if let Some((r, cells)) = current.take() {
                if !matches!(&cells, Ok(c) if c.iter().all(|f| f.trim().is_empty())) {
                    rows.push((r, cells));
                }
            }
        };
        loop {
            let cell = match cells.next_cell() {
                Ok(Some(cell)) => cell,
                Ok(None) => break,
                Err(e) => {
                    let after = current.as_ref().map(|(r, _)| format!(" after row {}", r + 1)).unwrap_or_default();
                    return Err(bad(format!("cannot read sheet {sheet:?}{after}: {e}")));
                }
            };
            let (r, c) = cell.get_position();
            if r >= MAX_SHEET_ROWS {
                return Err(bad(format!(
                    "sheet {sheet:?} goes on to row {}, past the {MAX_SHEET_ROWS} rows an Excel sheet can have; refused",
                    r as u64 + 1
                )));
            }
            if current.as_ref().is_some_and(|(row, _)| *row != r) {
                flush(&mut current, &mut rows);
                if rows.len() >= wanted {
                    break;
                }
            }
            let (_, row) = current.get_or_insert_with(|| (r, Ok(Vec::new())));
            let Ok(row_cells) = row else { continue };
            match cell_text(cell.get_value().clone()) {
                Err(size) => {
                    *row = Err(format!(
                        "sheet {sheet:?}, cell {}{}: {} of text, more than the {} a cell may hold",
                        column_name(c),
                        r as u64 + 1,
                        megabytes(size as u64),
                        megabytes(MAX_CELL_BYTES as u64)
                    ));
                }
                Ok(text) if text.is_empty() => {}
                Ok(text) => {
                    let c = c as usize;
                    if row_cells.len() <= c {
                        row_cells.resize(c + 1, String::new());
                    }
                    row_cells[c] = text;
                }
            }
        }
        flush(&mut current, &mut rows);
        rows.truncate(wanted);
        let mut it = rows.into_iter();
        let header = match it.next() {
            Some((_, Ok(h))) => h.into_iter().map(|c| c.trim().to_string()).collect::<Vec<_>>(),
            Some((r, Err(reason))) => return Err(bad(format!("row {} (header): {reason}", r as u64 + 1))),
            None => return Err(bad(format!("sheet {sheet:?} is empty"))),
        };
        let width = header.len();
        let rows = it
            .map(|(r, cells)| {
                let cells = cells.map(|mut c| {
                    if c.len() < width {
                        c.resize(width, String::new());
                    }
                    c
                });
                (r as u64 + 1, cells)
            })
            .collect();
        return Ok((header, rows));
    }
    use calamine::{open_workbook_auto, Data, Reader};
    let mut workbook = open_workbook_auto(path).map_err(|e| bad(format!("cannot open the workbook: {e}")))?;
    let sheet = workbook.sheet_names().first().cloned().ok_or_else(|| bad("the workbook has no sheet".into()))?;
    let range = workbook.worksheet_range(&sheet).map_err(|e| bad(format!("cannot read sheet {sheet:?}: {e}")))?;
    if range.height() > MAX_SHEET_ROWS as usize {
        return Err(bad(format!(
            "sheet {sheet:?} has {} rows, more than the {MAX_SHEET_ROWS} an Excel sheet can have; refused",
            range.height()
        )));
    }
    let first_row = range.start().map(|(r, _)| r as u64).unwrap_or(0);
    let text = |c: &Data| -> String {
        match c {
            Data::Empty => String::new(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            other => other.to_string(),
        }
    };
    let mut it = range.rows();
    let header: Vec<String> = match it.next() {
        Some(r) => r.iter().map(|c| text(c).trim().to_string()).collect(),
        None => return Err(bad(format!("sheet {sheet:?} is empty"))),
    };
    let rows = it
        .enumerate()
        .map(|(i, r)| {
            let line = first_row + i as u64 + 2;
            let cells: Vec<String> = r.iter().map(text).collect();
            match cells.iter().enumerate().find(|(_, c)| c.len() > MAX_CELL_BYTES) {
                Some((c, big)) => (
                    line,
                    Err(format!(
                        "sheet {sheet:?}, cell {}{line}: {} of text, more than the {} a cell may hold",
                        column_name(c as u32),
                        megabytes(big.len() as u64),
                        megabytes(MAX_CELL_BYTES as u64)
                    )),
                ),
                None => (line, Ok(cells)),
            }
        })
        .filter(|(_, c)| !matches!(c, Ok(c) if c.iter().all(|f| f.trim().is_empty())))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok((header, rows))
}
