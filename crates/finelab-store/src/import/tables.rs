//! Tabular sources: CSV / TSV (any delimiter, quoted fields with newlines) and Excel sheets.
//! Rows sharing a conversation id become one dialog record.
//!
//! A quoted field may run across lines only where the row stays sane; an unbalanced quote costs
//! its own row, never the rows after it. A workbook is checked before calamine decompresses it
//! (the sizes its parts declare and hold), read cell by cell, and its cells and rows are bounded,
//! so a small file cannot exhaust memory.

use super::{encoding, split_labels, Format, Opened, RawValue, ReadContext, RowError, RowResult, SourceRow};
use crate::{Error, ProjectKind, Result, Span, Turn};
use std::collections::HashMap;
use std::io::Read;

const TEXT_NAMES: &[&str] = &[
    "text",
    "content",
    "sentence",
    "review",
    "comment",
    "body",
    "message",
    "utterance",
    "document",
    "query",
    "question",
    "title",
    "文本",
    "内容",
    "评论",
    "句子",
    "正文",
    "消息",
    "留言",
    "评价",
    "review_text",
];
const LABEL_NAMES: &[&str] = &[
    "label",
    "labels",
    "category",
    "class",
    "tag",
    "tags",
    "intent",
    "sentiment",
    "标签",
    "类别",
    "分类",
    "意图",
    "情感",
];
const ID_NAMES: &[&str] = &["id", "uid", "record_id", "编号", "序号"];
const GROUP_NAMES: &[&str] = &[
    "conversation_id",
    "conversation",
    "dialog_id",
    "dialogue_id",
    "session_id",
    "thread_id",
    "chat_id",
    "会话id",
    "会话",
    "对话id",
];
const SPEAKER_NAMES: &[&str] = &["speaker", "role", "sender", "author", "说话人", "角色", "发言人"];
const SPLIT_NAMES: &[&str] = &["split"];

/// Finds a column: an explicit name (or 1-based number) must exist; otherwise the first common
/// name present, if any.
fn resolve(
    header: &[String],
    explicit: Option<&str>,
    names: &[&str],
    what: &str,
    path: &std::path::Path,
) -> Result<Option<usize>> {
    let norm = |s: &str| s.trim().trim_start_matches('\u{feff}').to_lowercase();
    if let Some(want) = explicit {
        if let Some(i) = header.iter().position(|h| norm(h) == norm(want)) {
            return Ok(Some(i));
        }
        if let Ok(n) = want.parse::<usize>() {
            if n >= 1 && n <= header.len() {
                return Ok(Some(n - 1));
            }
        }
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            reason: format!("no {what} column {want:?}; the columns are: {}", columns_list(header)),
        });
    }
    for name in names {
        if let Some(i) = header.iter().position(|h| norm(h) == *name) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// The column names for an error message, each short and printable (a binary file's "header"
/// must not flood the terminal).
fn columns_list(header: &[String]) -> String {
    const MAX: usize = 30;
    let mut list: Vec<String> = header.iter().take(MAX).map(|h| encoding::snippet(h)).collect();
    if header.len() > MAX {
        list.push(format!("and {} more", header.len() - MAX));
    }
    list.join(", ")
}

/// The column roles of a table.
struct Layout {
    header: Vec<String>,
    text: usize,
    label: Option<usize>,
    id: Option<usize>,
    group: Option<usize>,
    speaker: Option<usize>,
    split: Option<usize>,
}

fn layout(ctx: &ReadContext<'_>, header: Vec<String>) -> Result<Layout> {
    let cols = &ctx.options.columns;
    let path = ctx.path;
    let text = resolve(&header, cols.text.as_deref(), TEXT_NAMES, "text", path)?;
    let text = match text {
        Some(i) => i,
        None if header.len() == 1 => 0,
        None => {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!(
                    "no text column found; name it with --text-col (the columns are: {})",
                    columns_list(&header)
                ),
            })
        }
    };
    let group =
        resolve(&header, cols.group.as_deref(), if cols.group.is_some() { &[] } else { GROUP_NAMES }, "group", path)?;
    // Only look for a speaker column when rows are grouped into dialogs.
    let speaker =
        if group.is_some() { resolve(&header, cols.speaker.as_deref(), SPEAKER_NAMES, "speaker", path)? } else { None };
    Ok(Layout {
        label: resolve(&header, cols.label.as_deref(), LABEL_NAMES, "label", path)?,
        id: resolve(&header, cols.id.as_deref(), ID_NAMES, "id", path)?,
        split: resolve(&header, None, SPLIT_NAMES, "split", path)?,
        text,
        group,
        speaker,
        header,
    })
}

fn cell_value(kind: ProjectKind, cell: &str) -> std::result::Result<Option<RawValue>, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    Ok(Some(match kind {
        ProjectKind::Single => RawValue::Label(cell.to_string()),
        ProjectKind::Multi => RawValue::Labels(split_labels(cell)),
        ProjectKind::Spans => {
            let spans: Vec<Span> = serde_json::from_str(cell).map_err(|e| {
                format!("the label cell is not a JSON list of {{\"start\",\"end\",\"label\"}} spans: {e}")
            })?;
            RawValue::Spans(spans)
        }
    }))
}

/// Builds a record row from table cells.
fn row_from_cells(kind: ProjectKind, layout: &Layout, line: u64, cells: &[String]) -> RowResult {
    if cells.len() != layout.header.len() {
        // A short last field is common (trailing empty columns dropped by some tools); extra
        // fields mean the delimiter or quoting is off.
        if cells.len() > layout.header.len() || cells.len() <= layout.text {
            return Err(RowError {
                line,
                reason: format!("expected {} fields, found {}", layout.header.len(), cells.len()),
            });
        }
    }
    let get = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|s| s.as_str()).unwrap_or("");
    let mut row = SourceRow { line, ..Default::default() };
    encoding::check_text(&cells[layout.text]).map_err(|reason| RowError { line, reason })?;
    row.text = Some(cells[layout.text].clone());
    row.value = cell_value(kind, get(layout.label)).map_err(|reason| RowError { line, reason })?;
    let id = get(layout.id).trim();
    if layout.id.is_some() && !id.is_empty() {
        row.id = Some(id.to_string());
    }
    let split = get(layout.split).trim();
    if !split.is_empty() {
        row.split = Some(split.parse().map_err(|e: Error| RowError { line, reason: e.to_string() })?);
    }
    for (i, cell) in cells.iter().enumerate() {
        let used = [Some(layout.text), layout.label, layout.id, layout.group, layout.speaker, layout.split];
        if used.contains(&Some(i)) || cell.is_empty() {
            continue;
        }
        let key = layout.header.get(i).cloned().unwrap_or_else(|| format!("column{}", i + 1));
        row.meta.insert(key, serde_json::Value::String(cell.clone()));
    }
    Ok(row)
}

/// Groups rows into dialogs by the conversation-id column, in order of first appearance.
/// Dialog exports are small next to single-text corpora, so the groups are held in memory.
fn group_dialogs(
    kind: ProjectKind,
    layout: Layout,
    rows: impl Iterator<Item = (u64, std::result::Result<Vec<String>, String>)>,
) -> Vec<RowResult> {
    struct Dialog {
        line: u64,
        id: String,
        turns: Vec<Turn>,
        value: Option<(u64, String)>,
        conflict: Option<String>,
        meta: serde_json::Map<String, serde_json::Value>,
    }
    let group = layout.group.unwrap();
    let mut order: Vec<Dialog> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<RowResult> = Vec::new();
    for (line, cells) in rows {
        let cells = match cells {
            Ok(c) => c,
            Err(reason) => {
                out.push(Err(RowError { line, reason }));
                continue;
            }
        };
        if cells.len() > layout.header.len() || cells.len() <= layout.text.max(group) {
            out.push(Err(RowError {
                line,
                reason: format!("expected {} fields, found {}", layout.header.len(), cells.len()),
            }));
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|s| s.trim().to_string()).unwrap_or_default();
        let gid = get(Some(group));
        if gid.is_empty() {
            out.push(Err(RowError { line, reason: format!("the {} column is empty", layout.header[group]) }));
            continue;
        }
        let i = *index.entry(gid.clone()).or_insert_with(|| {
            order.push(Dialog {
                line,
                id: gid.clone(),
                turns: Vec::new(),
                value: None,
                conflict: None,
                meta: Default::default(),
            });
            order.len() - 1
        });
        let dialog = &mut order[i];
        dialog.turns.push(Turn { speaker: get(layout.speaker), text: cells[layout.text].clone() });
        let label = get(layout.label);
        if !label.is_empty() {
            match &dialog.value {
                None => dialog.value = Some((line, label)),
                Some((first, existing)) if *existing != label && dialog.conflict.is_none() => {
                    dialog.conflict = Some(format!(
                        "conversation {gid:?} has label {existing:?} on line {first} and {label:?} on line {line}"
                    ));
                }
                _ => {}
            }
        }
        for (j, cell) in cells.iter().enumerate() {
            let used = [Some(layout.text), layout.label, layout.id, layout.group, layout.speaker, layout.split];
            if used.contains(&Some(j)) || cell.is_empty() {
                continue;
            }
            let key = layout.header.get(j).cloned().unwrap_or_default();
            dialog.meta.entry(key).or_insert_with(|| serde_json::Value::String(cell.clone()));
        }
    }
    for d in order {
        if let Some(reason) = d.conflict {
            out.push(Err(RowError { line: d.line, reason }));
            continue;
        }
        let value = match d.value.map(|(_, v)| cell_value(kind, &v)).transpose() {
            Ok(v) => v.flatten(),
            Err(reason) => {
                out.push(Err(RowError { line: d.line, reason }));
                continue;
            }
        };
        out.push(Ok(SourceRow {
            line: d.line,
            id: Some(d.id),
            turns: Some(d.turns),
            value,
            meta: d.meta,
            ..Default::default()
        }));
    }
    out.sort_by_key(|r| match r {
        Ok(row) => row.line,
        Err(e) => e.line,
    });
    out
}

/// A quoted field may run across at most this many lines (a review with paragraphs has tens).
const MAX_SPAN_LINES: usize = 10_000;
/// ... and hold at most this many bytes, so an unbalanced quote cannot pull the file into memory.
const MAX_SPAN_BYTES: usize = 16 << 20;

/// One record of a delimited file, from [`RecordReader`].
enum Record {
    /// The cells of a record that starts on `line`.
    Cells(u64, Vec<String>),
    /// A record that cannot be read: undecodable bytes, or an unbalanced quote.
    Bad(u64, String),
}

/// Splits a delimited file into records, counting physical lines itself (so line numbers are
/// right for CRLF files and for quoted fields with newlines).
///
/// A quoted field may run across lines, but only where the result stays a sane row: the quote
/// closes before the end of the file, is followed by a delimiter or the end of a line, and the
/// row has as many fields as the header. Otherwise the quote is unbalanced: the row where it
/// opened is rejected, and reading goes on at the line after it, so one stray quote costs one
/// row rather than the rest of the file.
struct RecordReader<R> {
    input: R,
    /// Lines read ahead for a quoted field that turned out unbalanced, to be read again.
    replay: std::collections::VecDeque<(u64, Vec<u8>)>,
    line_no: u64,
    delimiter: u8,
    enc: &'static encoding_rs::Encoding,
    /// The header's field count, once the header is read.
    n_fields: Option<usize>,
}

/// Where the quote-aware field splitter is within a record.
#[derive(Clone, Copy, PartialEq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the closing quote, or the first of a doubled one.
    QuoteInQuoted,
    /// After a closing quote and a carriage return.
    AfterClose,
}

/// The fields of one record as they are split, line by line.
struct Splitter {
    delimiter: u8,
    state: Scan,
    fields: Vec<Vec<u8>>,
    field: Vec<u8>,
    /// Text followed a closing quote (read leniently, as the csv crate does, on a single line).
    malformed: bool,
}

impl Splitter {
    fn new(delimiter: u8) -> Splitter {
        Splitter { delimiter, state: Scan::FieldStart, fields: Vec::new(), field: Vec::new(), malformed: false }
    }

    /// Feeds one physical line (without its `\n`). Returns whether the record goes on to the
    /// next line (a quoted field is still open).
    fn feed(&mut self, line: &[u8]) -> bool {
        for &b in line {
            self.state = match (self.state, b) {
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (Scan::FieldStart | Scan::Unquoted | Scan::AfterClose, d) if d == self.delimiter => {
                    self.fields.push(std::mem::take(&mut self.field));
                    Scan::FieldStart
                }
                (Scan::QuoteInQuoted, d) if d == self.delimiter => {
                    self.fields.push(std::mem::take(&mut self.field));
                    Scan::FieldStart
                }
                (Scan::FieldStart | Scan::Unquoted, _) => {
                    self.field.push(b);
                    Scan::Unquoted
                }
                (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
                (Scan::Quoted, _) => {
                    self.field.push(b);
                    Scan::Quoted
                }
                (Scan::QuoteInQuoted, b'"') => {
                    self.field.push(b'"');
                    Scan::Quoted
                }
                (Scan::QuoteInQuoted | Scan::AfterClose, b'\r') => Scan::AfterClose,
                (Scan::QuoteInQuoted | Scan::AfterClose, _) => {
                    self.malformed = true;
                    self.field.push(b);
                    Scan::Unquoted
                }
            };
        }
        if self.state == Scan::Quoted {
            self.field.push(b'\n');
            return true;
        }
        if self.state == Scan::Unquoted && self.field.last() == Some(&b'\r') {
            self.field.pop();
        }
        self.fields.push(std::mem::take(&mut self.field));
        false
    }
}

impl<R: std::io::BufRead> RecordReader<R> {
    fn new(input: R, delimiter: u8, enc: &'static encoding_rs::Encoding) -> Self {
        RecordReader { input, replay: Default::default(), line_no: 0, delimiter, enc, n_fields: None }
    }

    /// The next physical line and its number, without its `\n`.
    fn next_line(&mut self) -> Option<std::io::Result<(u64, Vec<u8>)>> {
        if let Some(line) = self.replay.pop_front() {
            return Some(Ok(line));
        }
        let mut buf = Vec::new();
        match self.input.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                self.line_no += 1;
                Some(Ok((self.line_no, buf)))
            }
            Err(e) => Some(Err(e)),
        }
    }

    fn next_record(&mut self) -> Option<Record> {
        let (first, bytes) = loop {
            match self.next_line()? {
                Err(e) => return Some(Record::Bad(self.line_no + 1, format!("read error: {e}"))),
                // Blank lines are no records.
                Ok((_, b)) if b.iter().all(|&c| c == b'\r') => continue,
                Ok(line) => break line,
            }
        };
        let mut splitter = Splitter::new(self.delimiter);
        let mut open = splitter.feed(&bytes);
        let quote_field = splitter.fields.len() + 1;
        let mut lines = vec![(first, bytes)];
        let mut span_bytes = lines[0].1.len();
        let mut problem: Option<String> = None;
        while open {
            if lines.len() >= MAX_SPAN_LINES || span_bytes >= MAX_SPAN_BYTES {
                problem = Some(format!("is still open after {} lines", lines.len()));
                break;
            }
            match self.next_line() {
                None => {
                    problem = Some("is never closed".into());
                    break;
                }
                Some(Err(e)) => {
                    problem = Some(format!("cannot be read on ({e})"));
                    break;
                }
                Some(Ok((n, line))) => {
                    span_bytes += line.len();
                    open = splitter.feed(&line);
                    lines.push((n, line));
                    if splitter.malformed {
                        problem = Some(format!("closes on line {n} followed by more text, so it is no quoted field"));
                        break;
                    }
                }
            }
        }
        if problem.is_none() && lines.len() > 1 {
            if let Some(expected) = self.n_fields.filter(|&n| n != splitter.fields.len()) {
                problem = Some(format!(
                    "closes on line {}, which leaves {} fields where the header has {expected}",
                    lines.last().unwrap().0,
                    splitter.fields.len()
                ));
            }
        }
        if let Some(problem) = problem {
            // Read again everything after the line where the quote opened.
            for line in lines.drain(1..).rev() {
                self.replay.push_front(line);
            }
            return Some(Record::Bad(
                first,
                format!("unbalanced quote: the quoted field {quote_field} that opens on line {first} {problem}; the row is rejected and reading goes on at line {}", first + 1),
            ));
        }
        for (n, line) in &lines {
            let decoded =
                std::str::from_utf8(line).is_ok_and(|s| self.enc == encoding_rs::UTF_8 || !s.contains('\u{FFFD}'));
            if !decoded {
                let reason = encoding::row_text(line, self.enc).err().unwrap_or_default();
                let reason = if *n == first { reason } else { format!("line {n}: {reason}") };
                return Some(Record::Bad(first, reason));
            }
        }
        // Whole lines were valid, and fields split at ASCII bytes stay valid.
        let cells = splitter
            .fields
            .into_iter()
            .map(|f| String::from_utf8(f).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            .collect();
        Some(Record::Cells(first, cells))
    }
}

impl<R: std::io::BufRead> Iterator for RecordReader<R> {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}

/// Picks the delimiter whose sample rows have the most consistent field count above one.
fn detect_delimiter(sample: &[u8], format: Format) -> u8 {
    if format == Format::Tsv {
        return b'\t';
    }
    let mut best = (b',', 0usize, 0usize);
    for &d in b",\t;|" {
        let mut rdr = csv::ReaderBuilder::new().delimiter(d).has_headers(false).flexible(true).from_reader(sample);
        let counts: Vec<usize> = rdr.byte_records().take(50).filter_map(|r| r.ok()).map(|r| r.len()).collect();
        // The last sampled record may be cut off.
        let counts = if counts.len() > 2 { &counts[..counts.len() - 1] } else { &counts[..] };
        let Some(&first) = counts.first() else { continue };
        if first < 2 {
            continue;
        }
        let consistent = counts.iter().filter(|&&c| c == first).count();
        if (consistent, first) > (best.1, best.2) {
            best = (d, consistent, first);
        }
    }
    best.0
}

/// The encoding (with the length of its byte-order mark) and the delimiter of a delimited file:
/// the options' choices where given, else detected from the first 64 KiB.
fn sniff(ctx: &ReadContext<'_>, format: Format) -> Result<(&'static encoding_rs::Encoding, usize, u8)> {
    let (enc, bom_len) = encoding::detect(ctx.path, &ctx.options.encoding)?;
    let delimiter = match ctx.options.delimiter {
        Some(d) => d,
        None => {
            let mut sample = Vec::new();
            encoding::utf8_reader(ctx.path, enc, bom_len, Default::default())?
                .take(64 * 1024)
                .read_to_end(&mut sample)
                .map_err(|e| Error::io(ctx.path, e))?;
            detect_delimiter(&sample, format)
        }
    };
    Ok((enc, bom_len, delimiter))
}

/// The header and first rows of a table as they are in the file, with the columns the importer
/// would pick (for the column-mapping preview).
pub(super) fn preview(ctx: &ReadContext<'_>, format: Format, n: usize) -> Result<super::ImportPreview> {
    let (header, rows, encoding, delimiter) = if format == Format::Xlsx {
        let (header, rows) = read_sheet(ctx, Some(n))?;
        let rows = rows
            .into_iter()
            .map(|(line, cells)| cells.unwrap_or_else(|reason| vec![format!("<row {line} rejected: {reason}>")]))
            .collect();
        (header, rows, "xlsx".to_string(), None)
    } else {
        let (enc, bom_len, delimiter) = sniff(ctx, format)?;
        let reader = encoding::utf8_reader(ctx.path, enc, bom_len, Default::default())?;
        let mut records = RecordReader::new(std::io::BufReader::new(reader), delimiter, enc);
        let header: Vec<String> = match records.next() {
            Some(Record::Cells(_, h)) => h.into_iter().map(|s| s.trim().to_string()).collect(),
            Some(Record::Bad(_, reason)) => {
                return Err(Error::BadFile {
                    path: ctx.path.to_path_buf(),
                    reason: format!("cannot read the header: {reason}"),
                })
            }
            None => return Err(Error::BadFile { path: ctx.path.to_path_buf(), reason: "the file is empty".into() }),
        };
        records.n_fields = Some(header.len());
        let rows = records
            .take(n)
            .map(|r| match r {
                Record::Cells(_, cells) => cells,
                Record::Bad(line, reason) => vec![format!("<line {line} rejected: {reason}>")],
            })
            .collect();
        (header, rows, enc.name().to_string(), Some((delimiter as char).to_string()))
    };
    let detected = match layout(ctx, header.clone()) {
        Ok(l) => {
            let name = |i: Option<usize>| i.map(|i| l.header[i].clone());
            super::ColumnMap {
                text: Some(l.header[l.text].clone()),
                label: name(l.label),
                id: name(l.id),
                group: name(l.group),
                speaker: name(l.speaker),
            }
        }
        Err(_) => super::ColumnMap::default(),
    };
    Ok(super::ImportPreview { format, encoding, delimiter, columns: header, rows, detected })
}

pub(super) fn open<'a>(ctx: &ReadContext<'a>, format: Format) -> Result<Opened<'a>> {
    if format == Format::Xlsx {
        return open_xlsx(ctx);
    }
    let (enc, bom_len, delimiter) = sniff(ctx, format)?;
    let reader = encoding::utf8_reader(ctx.path, enc, bom_len, ctx.counter.clone())?;
    let mut records = RecordReader::new(std::io::BufReader::new(reader), delimiter, enc);
    let header: Vec<String> = match records.next() {
        None => return Err(Error::BadFile { path: ctx.path.to_path_buf(), reason: "the file is empty".into() }),
        Some(Record::Bad(_, reason)) => {
            return Err(Error::BadFile { path: ctx.path.to_path_buf(), reason: format!("line 1 (header): {reason}") })
        }
        Some(Record::Cells(_, h)) => h.into_iter().map(|s| s.trim().to_string()).collect(),
    };
    records.n_fields = Some(header.len());
    let layout = layout(ctx, header)?;
    let kind = ctx.kind;
    let cells = records.map(move |r| match r {
        Record::Bad(line, reason) => (line, Err(reason)),
        Record::Cells(line, cells) => (line, Ok(cells)),
    });
    let rows: Box<dyn Iterator<Item = RowResult>> = if layout.group.is_some() {
        Box::new(group_dialogs(kind, layout, cells).into_iter())
    } else {
        Box::new(cells.filter(|(_, c)| !matches!(c, Ok(c) if c.iter().all(|f| f.trim().is_empty()))).map(
            move |(line, cells)| match cells {
                Err(reason) => Err(RowError { line, reason }),
                Ok(cells) => row_from_cells(kind, &layout, line, &cells),
            },
        ))
    };
    Ok(Opened { rows, encoding: enc.name().to_string(), delimiter: Some(delimiter) })
}

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
type SheetRow = (u64, std::result::Result<Vec<String>, String>);

/// The header and the non-blank rows (up to `limit` of them) of the first sheet of a workbook.
///
/// An xlsx sheet is read cell by cell (calamine's cell reader), so memory follows the cells
/// kept, never the sheet's declared dimensions; a cell over [`MAX_CELL_BYTES`] rejects its row,
/// and a sheet past [`MAX_SHEET_ROWS`] is refused at that row. Other workbook formats are read as
/// a range.
fn read_sheet(ctx: &ReadContext<'_>, limit: Option<usize>) -> Result<(Vec<String>, Vec<SheetRow>)> {
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

fn open_xlsx<'a>(ctx: &ReadContext<'a>) -> Result<Opened<'a>> {
    let (header, cells) = read_sheet(ctx, None)?;
    ctx.counter.add(std::fs::metadata(ctx.path).map(|m| m.len()).unwrap_or(0));
    let layout = layout(ctx, header)?;
    let kind = ctx.kind;
    let cells: Vec<SheetRow> = cells
        .into_iter()
        .map(|(line, cells)| {
            let cells = cells.map(|mut cells| {
                while cells.len() > layout.header.len() && cells.last().is_some_and(|c| c.is_empty()) {
                    cells.pop();
                }
                cells
            });
            (line, cells)
        })
        .collect();
    let rows: Box<dyn Iterator<Item = RowResult>> = if layout.group.is_some() {
        Box::new(group_dialogs(kind, layout, cells.into_iter()).into_iter())
    } else {
        Box::new(cells.into_iter().map(move |(line, cells)| match cells {
            Err(reason) => Err(RowError { line, reason }),
            Ok(cells) => row_from_cells(kind, &layout, line, &cells),
        }))
    };
    Ok(Opened { rows, encoding: "xlsx".into(), delimiter: None })
}

#[cfg(test)]
mod tests {
    fn check(sample: &str, expected: u8) {
        assert_eq!(
            super::detect_delimiter(sample.as_bytes(), super::Format::Csv) as char,
            expected as char,
            "{sample:?}"
        );
    }

    /// Splits `lines` as one record and checks its fields and whether text followed a quote.
    fn check_split(lines: &[&str], fields: &[&str], malformed: bool) {
        let mut splitter = super::Splitter::new(b',');
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(splitter.feed(line.as_bytes()), i + 1 < lines.len(), "{lines:?}: line {i}");
        }
        let got: Vec<String> = splitter.fields.iter().map(|f| String::from_utf8(f.clone()).unwrap()).collect();
        assert_eq!(got, fields, "{lines:?}");
        assert_eq!(splitter.malformed, malformed, "{lines:?}");
    }

    #[test]
    fn quoted_fields() {
        check_split(&["a,b,c"], &["a", "b", "c"], false);
        check_split(&["a,b\r"], &["a", "b"], false);
        check_split(&["a,"], &["a", ""], false);
        check_split(&["a,\"b,c\",d"], &["a", "b,c", "d"], false);
        check_split(&["\"he said \"\"hi\"\"\",x\r"], &["he said \"hi\"", "x"], false);
        check_split(&["a,\"b\r", "", "c\",d"], &["a", "b\r\n\nc", "d"], false);
        check_split(&["a,b\"c,d"], &["a", "b\"c", "d"], false);
        // Text after a closing quote is kept, as the csv crate does, but noted.
        check_split(&["a,\"x\"y,z"], &["a", "xy", "z"], true);
    }

    #[test]
    fn delimiters() {
        check("id,text,label\n1,hello,pos\n2,bye,neg\n", b',');
        check("id\ttext\tlabel\n1\thello, world\tpos\n2\tbye\tneg\n", b'\t');
        check("id;text;label\n1;hello, world;pos\n2;a;b\n", b';');
        check("text,label\n\"a, b\nc\",pos\nd,neg\n", b',');
    }
}
