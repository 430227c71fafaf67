//! Tabular sources: CSV / TSV (any delimiter, quoted fields with newlines) and Excel sheets.
//! Rows sharing a conversation id become one dialog record.
//!
//! A quoted field may run across lines only where the row stays sane; an unbalanced quote costs
//! its own row, never the rows after it. A workbook is checked before calamine decompresses it
//! (the sizes its parts declare and hold), read cell by cell, and its cells and rows are bounded,
//! so a small file cannot exhaust memory.

use super::delimited::{Record, RecordReader};
use super::generate::{dialog_rows, DialogTargets};
use super::workbook::{read_sheet, SheetRow};
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
/// The input column of a generate project's table (its text column), most telling first:
/// `source` (of a `source`/`target` pair) comes after `text`, which a source column may sit beside.
const INPUT_NAMES: &[&str] = &[
    "input",
    "prompt",
    "question",
    "query",
    "instruction",
    "text",
    "content",
    "source",
    "原文",
    "问题",
    "输入",
    "提问",
    "文本",
    "内容",
];
/// The output column of a generate project's table.
const OUTPUT_NAMES: &[&str] =
    &["output", "completion", "answer", "target", "response", "reply", "回答", "答案", "输出", "回复", "译文", "目标"];
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
    /// The label column, or a generate project's output column.
    label: Option<usize>,
    /// Alpaca's instruction column beside an `input` column (generate projects): the record's
    /// input is the instruction, a blank line and the input, as in Alpaca's JSON.
    instruction: Option<usize>,
    id: Option<usize>,
    group: Option<usize>,
    speaker: Option<usize>,
    split: Option<usize>,
}

fn layout(ctx: &ReadContext<'_>, header: Vec<String>) -> Result<Layout> {
    let cols = &ctx.options.columns;
    let path = ctx.path;
    let generate = ctx.kind == ProjectKind::Generate;
    let group =
        resolve(&header, cols.group.as_deref(), if cols.group.is_some() { &[] } else { GROUP_NAMES }, "group", path)?;
    // A generate project's table has an input column, unless its rows are dialog turns.
    let text_names = if generate && group.is_none() { INPUT_NAMES } else { TEXT_NAMES };
    let text = resolve(&header, cols.text.as_deref(), text_names, "text", path)?;
    let text = match text {
        Some(i) => i,
        None if header.len() == 1 => 0,
        None => {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!(
                    "no {} column found; name it with --text-col (the columns are: {})",
                    if generate && group.is_none() { "input" } else { "text" },
                    columns_list(&header)
                ),
            })
        }
    };
    // Only look for a speaker column when rows are grouped into dialogs.
    let speaker =
        if group.is_some() { resolve(&header, cols.speaker.as_deref(), SPEAKER_NAMES, "speaker", path)? } else { None };
    let label = if !generate {
        resolve(&header, cols.label.as_deref(), LABEL_NAMES, "label", path)?
    } else if group.is_some() {
        // A dialog's outputs are its agent's turns, found by speaker.
        if speaker.is_none() {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: format!(
                    "dialog rows need a speaker column to tell the agent's turns, which become outputs; name it with \
                     --speaker-col (the columns are: {})",
                    columns_list(&header)
                ),
            });
        }
        None
    } else {
        let named = cols.output.as_deref().or(cols.label.as_deref());
        match resolve(&header, named, OUTPUT_NAMES, "output", path)? {
            Some(i) => Some(i),
            // A table of one column is inputs waiting for their outputs.
            None if header.len() == 1 => None,
            None => {
                return Err(Error::BadFile {
                    path: path.to_path_buf(),
                    reason: format!(
                        "no output column found; name it with --output-col (an empty output cell imports its \
                         input unlabeled; the columns are: {})",
                        columns_list(&header)
                    ),
                })
            }
        }
    };
    let instruction = if generate && group.is_none() && cols.text.is_none() && header[text].trim() == "input" {
        resolve(&header, None, &["instruction"], "instruction", path)?
    } else {
        None
    };
    Ok(Layout {
        label,
        instruction,
        id: resolve(&header, cols.id.as_deref(), ID_NAMES, "id", path)?,
        split: resolve(&header, None, SPLIT_NAMES, "split", path)?,
        text,
        group,
        speaker,
        header,
    })
}

fn cell_value(kind: ProjectKind, cell: &str) -> std::result::Result<Option<RawValue>, String> {
    let trimmed = cell.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    Ok(Some(match kind {
        ProjectKind::Single => RawValue::Label(trimmed.to_string()),
        ProjectKind::Multi => RawValue::Labels(split_labels(trimmed)),
        ProjectKind::Spans => {
            let spans: Vec<Span> = serde_json::from_str(trimmed).map_err(|e| {
                format!("the label cell is not a JSON list of {{\"start\",\"end\",\"label\"}} spans: {e}")
            })?;
            RawValue::Spans(spans)
        }
        // An output is kept as written, its spaces and newlines included.
        ProjectKind::Generate => {
            encoding::check_text(cell)?;
            RawValue::Output(cell.to_string())
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
    if let Some(instruction) = layout.instruction.and_then(|i| cells.get(i)).filter(|c| !c.trim().is_empty()) {
        encoding::check_text(instruction).map_err(|reason| RowError { line, reason })?;
        let input = &cells[layout.text];
        if input.is_empty() {
            row.text = Some(instruction.clone());
        } else {
            row.text = Some(format!("{instruction}\n\n{input}"));
            row.meta.insert("instruction".into(), serde_json::Value::String(instruction.clone()));
        }
    }
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
        let used = [
            Some(layout.text),
            layout.label,
            layout.id,
            layout.group,
            layout.speaker,
            layout.split,
            layout.instruction,
        ];
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
/// In a generate project (`agents` given) the agent's turns become outputs, as
/// [`DialogTargets`] says, and a record made for a turn is reported at that turn's line.
fn group_dialogs(
    kind: ProjectKind,
    layout: Layout,
    rows: impl Iterator<Item = (u64, std::result::Result<Vec<String>, String>)>,
    agents: Option<(&[String], DialogTargets)>,
) -> Vec<RowResult> {
    struct Dialog {
        line: u64,
        id: String,
        turns: Vec<Turn>,
        lines: Vec<u64>,
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
                lines: Vec::new(),
                value: None,
                conflict: None,
                meta: Default::default(),
            });
            order.len() - 1
        });
        let dialog = &mut order[i];
        dialog.turns.push(Turn { speaker: get(layout.speaker), text: cells[layout.text].clone() });
        dialog.lines.push(line);
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
        let row =
            SourceRow { line: d.line, id: Some(d.id), turns: Some(d.turns), value, meta: d.meta, ..Default::default() };
        match agents {
            Some((agents, targets)) => out.extend(dialog_rows(row, agents, targets, Some(&d.lines), false)),
            None => out.push(Ok(row)),
        }
    }
    out.sort_by_key(|r| match r {
        Ok(row) => row.line,
        Err(e) => e.line,
    });
    out
}

/// How a generate project's dialogs give outputs; `None` for the other kinds.
fn generate_dialogs<'c>(ctx: &'c ReadContext<'_>) -> Option<(&'c [String], DialogTargets)> {
    (ctx.kind == ProjectKind::Generate).then_some((&ctx.agents[..], ctx.options.dialog_targets))
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
            let generate = ctx.kind == ProjectKind::Generate;
            super::ColumnMap {
                text: Some(l.header[l.text].clone()),
                label: if generate { None } else { name(l.label) },
                id: name(l.id),
                group: name(l.group),
                speaker: name(l.speaker),
                output: if generate { name(l.label) } else { None },
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
        Box::new(group_dialogs(kind, layout, cells, generate_dialogs(ctx)).into_iter())
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
        Box::new(group_dialogs(kind, layout, cells.into_iter(), generate_dialogs(ctx)).into_iter())
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

    #[test]
    fn delimiters() {
        check("id,text,label\n1,hello,pos\n2,bye,neg\n", b',');
        check("id\ttext\tlabel\n1\thello, world\tpos\n2\tbye\tneg\n", b'\t');
        check("id;text;label\n1;hello, world;pos\n2;a;b\n", b';');
        check("text,label\n\"a, b\nc\",pos\nd,neg\n", b',');
    }
}
