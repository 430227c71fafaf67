//! JSON Lines and JSON arrays: plain `{"text"}` records, with `id`, `meta`, existing labels in the
//! shapes other tools write (Finelab/Prodigy `spans`, doccano `label: [[s, e, "TAG"]]` and
//! `entities`, spaCy `cats`, Prodigy `accept`), and dialogs as `turns` or chat `messages`.
//!
//! Two peers' exports are read as their tools mean them. A Label Studio task (`data.text` and
//! `annotations[].result[]`) gives one annotation per annotator (`completed_by`): `choices`,
//! `taxonomy` paths (joined with `/`) and `labels` spans, whose code-point offsets must match the
//! text they quote; cancelled annotations and `predictions` are no labels. A Prodigy record's
//! `answer` decides what its label means: `accept` is the label, `ignore` skips the row, and
//! `reject` ("not this label") is the other label in a single-label project of exactly two
//! labels and skips the row otherwise. Skipped rows are reported with the reason.

use super::{encoding, generate, Opened, RawValue, ReadContext, RowError, RowResult, SourceRow};
use crate::{Error, ProjectKind, Result, Span, Turn};
use serde_json::Value;
use std::io::Read;

const TEXT_KEYS: &[&str] =
    &["text", "content", "sentence", "review", "comment", "body", "message", "utterance", "document"];
const KNOWN: &[&str] = &[
    "id",
    "text",
    "turns",
    "dialog",
    "messages",
    "meta",
    "label",
    "labels",
    "spans",
    "entities",
    "cats",
    "accept",
    "split",
    "annotator",
    "data",
    "annotations",
    "answer",
];

fn as_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn span_from_triplet(v: &Value) -> std::result::Result<Span, String> {
    let arr =
        v.as_array().filter(|a| a.len() == 3).ok_or_else(|| format!("span {v} is not [start, end, \"LABEL\"]"))?;
    let start = arr[0].as_u64().ok_or_else(|| format!("span {v}: start is not a non-negative integer"))?;
    let end = arr[1].as_u64().ok_or_else(|| format!("span {v}: end is not a non-negative integer"))?;
    let label = arr[2].as_str().ok_or_else(|| format!("span {v}: label is not a string"))?;
    Ok(Span { start: start as usize, end: end as usize, label: label.to_string() })
}

fn span_from_object(v: &Value) -> std::result::Result<Span, String> {
    let obj = v.as_object().ok_or_else(|| format!("span {v} is not an object"))?;
    let int = |keys: &[&str]| keys.iter().find_map(|k| obj.get(*k)).and_then(Value::as_u64);
    let start = int(&["start", "start_offset"]).ok_or_else(|| format!("span {v} has no integer \"start\""))?;
    let end = int(&["end", "end_offset"]).ok_or_else(|| format!("span {v} has no integer \"end\""))?;
    let label = obj.get("label").and_then(Value::as_str).ok_or_else(|| format!("span {v} has no string \"label\""))?;
    Ok(Span { start: start as usize, end: end as usize, label: label.to_string() })
}

/// Reads a label-ish value: a string, a list of strings, or a list of spans (triplets or objects).
fn value_of(v: &Value) -> std::result::Result<Option<RawValue>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(RawValue::Label(s.clone()))),
        Value::Array(items) => {
            if items.iter().all(Value::is_string) {
                return Ok(Some(RawValue::Labels(items.iter().map(|s| s.as_str().unwrap().to_string()).collect())));
            }
            if items.iter().all(Value::is_array) {
                return Ok(Some(RawValue::Spans(
                    items.iter().map(span_from_triplet).collect::<std::result::Result<_, _>>()?,
                )));
            }
            if items.iter().all(Value::is_object) {
                return Ok(Some(RawValue::Spans(
                    items.iter().map(span_from_object).collect::<std::result::Result<_, _>>()?,
                )));
            }
            Err(format!("cannot read labels from {v}"))
        }
        other => Err(format!("cannot read a label from {other}")),
    }
}

fn turns_of(v: &Value) -> std::result::Result<Vec<Turn>, String> {
    let items = v.as_array().ok_or("turns must be a list")?;
    items
        .iter()
        .map(|t| {
            let obj = t.as_object().ok_or_else(|| format!("turn {t} is not an object"))?;
            let text = ["text", "content", "utterance"]
                .iter()
                .find_map(|k| obj.get(*k).and_then(Value::as_str))
                .ok_or_else(|| format!("turn {t} has no \"text\""))?;
            let speaker =
                ["speaker", "role", "name"].iter().find_map(|k| obj.get(*k).and_then(Value::as_str)).unwrap_or("");
            Ok(Turn { speaker: speaker.to_string(), text: text.to_string() })
        })
        .collect()
}

/// Turns one JSON object into a row.
pub(super) fn row_from_value(ctx: &ReadContext<'_>, line: u64, value: Value) -> RowResult {
    let err = |reason: String| RowError { line, reason };
    let Value::Object(mut obj) = value else {
        return Err(err(format!("expected a JSON object, found {}", kind_name(&value))));
    };
    // Label Studio tasks keep the text under "data".
    if let Some(Value::Object(data)) = obj.remove("data") {
        for (k, v) in data {
            obj.entry(k).or_insert(v);
        }
    }
    let cols = &ctx.options.columns;
    let mut row = SourceRow { line, ..Default::default() };
    let text_key = match &cols.text {
        Some(k) => Some(k.as_str()),
        None => TEXT_KEYS.iter().copied().find(|k| obj.get(*k).is_some_and(Value::is_string)),
    };
    for key in ["turns", "dialog", "messages"] {
        if let Some(v) = obj.get(key) {
            row.turns = Some(turns_of(v).map_err(err)?);
            break;
        }
    }
    if row.turns.is_none() {
        match text_key.and_then(|k| obj.get(k)) {
            Some(Value::String(s)) => {
                super::encoding::check_text(s).map_err(err)?;
                row.text = Some(s.clone());
            }
            Some(other) => {
                return Err(err(format!("\"{}\" is not a string but {}", text_key.unwrap(), kind_name(other))))
            }
            None => {
                return Err(err(match &cols.text {
                    Some(k) => format!("no \"{k}\" key"),
                    None => "no \"text\" (or \"turns\") key".to_string(),
                }))
            }
        }
    }
    let id_key = cols.id.as_deref().unwrap_or("id");
    if let Some(v) = obj.get(id_key) {
        row.id = Some(as_id(v).ok_or_else(|| err(format!("\"{id_key}\" is not a string or number")))?);
    }
    let label_keys: Vec<&str> = match &cols.label {
        Some(k) => vec![k.as_str()],
        None => vec!["spans", "entities", "labels", "label", "accept"],
    };
    for key in label_keys {
        if let Some(v) = obj.get(key) {
            if let Some(value) = value_of(v).map_err(|r| err(format!("\"{key}\": {r}")))? {
                row.value = Some(value);
                break;
            }
        }
    }
    if cols.label.is_none() && obj.get("annotations").is_some_and(Value::is_array) {
        let Some(Value::Array(annotations)) = obj.remove("annotations") else { unreachable!() };
        let mut found = label_studio_annotations(ctx.kind, row.text.as_deref(), &annotations).map_err(err)?.into_iter();
        if let Some((annotator, value)) = found.next() {
            row.annotator = annotator;
            row.value = Some(value);
        }
        // Every annotation after the first needs a name to be logged under.
        let default = ctx.options.annotator.clone().unwrap_or_else(|| "import".to_string());
        row.extra_annotations =
            found.map(|(annotator, value)| (annotator.unwrap_or_else(|| default.clone()), value)).collect();
    }
    if let Some(answer) = obj.get("answer") {
        prodigy_answer(ctx, &mut row, answer).map_err(err)?;
    }
    if row.value.is_none() {
        if let Some(Value::Object(cats)) = obj.get("cats") {
            let on: Vec<String> =
                cats.iter().filter(|(_, v)| v.as_f64().unwrap_or(0.0) >= 0.5).map(|(k, _)| k.clone()).collect();
            row.value = Some(RawValue::Labels(on));
        }
    }
    if let Some(v) = obj.get("split").filter(|v| !v.is_null()) {
        let s = v.as_str().ok_or_else(|| err("\"split\" is not a string".into()))?;
        row.split = Some(s.parse().map_err(|e: Error| err(e.to_string()))?);
    }
    // Prodigy names the annotator in `_annotator_id` (the dataset and the session).
    if let Some(v) = obj.get("annotator").or_else(|| obj.get("_annotator_id")).and_then(Value::as_str) {
        if !v.trim().is_empty() {
            row.annotator = Some(v.to_string());
        }
    }
    match obj.remove("meta") {
        Some(Value::Object(m)) => row.meta = m,
        Some(Value::Null) | None => {}
        Some(other) => {
            row.meta.insert("meta".into(), other);
        }
    }
    let used: Vec<&str> = [text_key, Some(id_key), cols.label.as_deref()].into_iter().flatten().collect();
    for (k, v) in obj {
        if !KNOWN.contains(&k.as_str()) && !used.contains(&k.as_str()) {
            row.meta.entry(k).or_insert(v);
        }
    }
    Ok(row)
}

/// The name a Label Studio annotation is logged under: the annotator's email where the export
/// has it, else `ls:<user id>`; `None` when the export does not say who.
fn label_studio_annotator(annotation: &serde_json::Map<String, Value>) -> Option<String> {
    match annotation.get("completed_by")? {
        Value::Object(user) => {
            let email = user.get("email").and_then(Value::as_str).filter(|e| !e.trim().is_empty());
            email.map(str::to_string).or_else(|| user.get("id").and_then(as_id).map(|id| format!("ls:{id}")))
        }
        other => as_id(other).map(|id| format!("ls:{id}")),
    }
}

/// One Label Studio `labels` region as spans (one per label), its offsets checked against the
/// text: they are code points, and the quoted `text`, when given, must be what lies there.
fn label_studio_spans(
    value: &serde_json::Map<String, Value>,
    chars: &[char],
    spans: &mut Vec<Span>,
) -> std::result::Result<(), String> {
    let offset = |key: &str| value.get(key).and_then(Value::as_u64).map(|n| n as usize);
    let (Some(start), Some(end)) = (offset("start"), offset("end")) else {
        return Err(format!(
            "Label Studio region {} has no integer start and end",
            super::encoding::snippet(&Value::Object(value.clone()).to_string())
        ));
    };
    if start >= end || end > chars.len() {
        return Err(format!("Label Studio region {start}..{end} lies outside the text ({} characters)", chars.len()));
    }
    let there: String = chars[start..end].iter().collect();
    if let Some(quoted) = value.get("text").and_then(Value::as_str) {
        if quoted != there {
            return Err(format!(
                "Label Studio region {start}..{end} quotes {} but the text there is {} (offsets must be code points)",
                super::encoding::snippet(quoted),
                super::encoding::snippet(&there)
            ));
        }
    }
    let labels = value
        .get("labels")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("Label Studio region {start}..{end} has no \"labels\" list"))?;
    for label in labels {
        let label =
            label.as_str().ok_or_else(|| format!("Label Studio region {start}..{end}: a label is not a string"))?;
        spans.push(Span { start, end, label: label.to_string() });
    }
    Ok(())
}

/// The annotations of a Label Studio task, first to last, each with its annotator: `choices`
/// and `taxonomy` results as labels, `labels` results as spans. Cancelled annotations are left
/// out, and so is an annotation with nothing for this kind of project.
fn label_studio_annotations(
    kind: ProjectKind,
    text: Option<&str>,
    annotations: &[Value],
) -> std::result::Result<Vec<(Option<String>, RawValue)>, String> {
    let chars: Vec<char> = text.unwrap_or("").chars().collect();
    let mut out = Vec::new();
    for (n, annotation) in annotations.iter().enumerate() {
        let annotation = annotation.as_object().ok_or_else(|| format!("annotation {} is not an object", n + 1))?;
        if annotation.get("was_cancelled").and_then(Value::as_bool).unwrap_or(false) {
            continue;
        }
        let annotator = label_studio_annotator(annotation);
        let results = match annotation.get("result") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(items)) => &items[..],
            Some(other) => return Err(format!("annotation {}: \"result\" is {}, not a list", n + 1, kind_name(other))),
        };
        let mut labels: Vec<String> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for item in results {
            let Some(value) = item.get("value").and_then(Value::as_object) else { continue };
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            match item.get("type").and_then(Value::as_str) {
                Some("choices") => labels.extend(value.get("choices").map(strings).unwrap_or_default()),
                Some("taxonomy") => {
                    for path in value.get("taxonomy").and_then(Value::as_array).into_iter().flatten() {
                        labels.push(strings(path).join("/"));
                    }
                }
                Some("labels") => {
                    if text.is_none() {
                        return Err("Label Studio spans need a text, not turns".into());
                    }
                    label_studio_spans(value, &chars, &mut spans)?;
                }
                _ => {}
            }
        }
        let value = match kind {
            ProjectKind::Spans => RawValue::Spans(spans),
            _ if labels.is_empty() => continue,
            ProjectKind::Single if labels.len() == 1 => RawValue::Label(labels.remove(0)),
            _ => RawValue::Labels(labels),
        };
        out.push((annotator, value));
    }
    Ok(out)
}

/// Applies a Prodigy `answer` to the label read from the row, or says why the row is skipped.
fn prodigy_answer(ctx: &ReadContext<'_>, row: &mut SourceRow, answer: &Value) -> std::result::Result<(), String> {
    match answer.as_str() {
        Some("accept") => Ok(()),
        Some("ignore") => {
            row.skip = Some("Prodigy answer \"ignore\": skipped".into());
            Ok(())
        }
        Some("reject") => {
            let two = ctx.kind == ProjectKind::Single && ctx.labels.len() == 2;
            match &row.value {
                Some(RawValue::Label(label)) if two && ctx.labels.contains(label) => {
                    let other = ctx.labels.iter().find(|l| *l != label).cloned().unwrap_or_default();
                    row.value = Some(RawValue::Label(other));
                    Ok(())
                }
                Some(RawValue::Label(label)) => {
                    row.skip = Some(format!(
                        "Prodigy answer \"reject\" of label {}: skipped (rejecting a label names the other one only in a single-label project with exactly two labels)",
                        super::encoding::snippet(label)
                    ));
                    Ok(())
                }
                _ => {
                    row.skip = Some("Prodigy answer \"reject\": skipped (what was rejected is no single label)".into());
                    Ok(())
                }
            }
        }
        _ => {
            let shown = answer
                .as_str()
                .map(super::encoding::snippet)
                .unwrap_or_else(|| super::encoding::snippet(&answer.to_string()));
            Err(format!("unknown Prodigy answer {shown} (expected accept, reject or ignore)"))
        }
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) fn open_jsonl<'a>(ctx: &ReadContext<'a>) -> Result<Opened<'a>> {
    let (enc, lines) = encoding::text_lines(ctx)?;
    let ctx2 = ReadContext {
        path: ctx.path,
        options: ctx.options,
        kind: ctx.kind,
        labels: ctx.labels.clone(),
        agents: ctx.agents.clone(),
        counter: ctx.counter.clone(),
    };
    if ctx.kind == ProjectKind::Generate {
        let mut file = generate::ShapeOfFile::default();
        let rows = lines.flat_map(move |line| {
            let (line_no, text) = match line {
                Ok(line) => line,
                Err(e) => return vec![Err(e)],
            };
            match serde_json::from_str::<Value>(text.trim()) {
                Ok(v) => generate::rows_from_value(&ctx2, &mut file, line_no, v),
                Err(e) => vec![Err(RowError { line: line_no, reason: format!("invalid JSON: {e}") })],
            }
        });
        return Ok(Opened { rows: Box::new(rows), encoding: enc.name().to_string(), delimiter: None });
    }
    let rows = lines.map(move |line| {
        let (line_no, text) = line?;
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(v) => row_from_value(&ctx2, line_no, v),
            Err(e) => Err(RowError { line: line_no, reason: format!("invalid JSON: {e}") }),
        }
    });
    Ok(Opened { rows: Box::new(rows), encoding: enc.name().to_string(), delimiter: None })
}

/// A JSON array is parsed whole (JSON arrays are exports of modest size; JSONL streams). Each
/// element keeps the line it starts on.
pub(super) fn open_json_array<'a>(ctx: &ReadContext<'a>) -> Result<Opened<'a>> {
    let (enc, bom_len) = encoding::detect(ctx.path, &ctx.options.encoding)?;
    let mut bytes = Vec::new();
    encoding::utf8_reader(ctx.path, enc, bom_len, ctx.counter.clone())?
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(ctx.path, e))?;
    // A JSON array is one value: a line that cannot be decoded fails the file, and says where.
    let undecodable = |bytes: &[u8], at: usize| {
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let end = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| at + i);
        let reason = encoding::row_text(&bytes[start..end], enc).err().unwrap_or_default();
        Error::BadFile {
            path: ctx.path.to_path_buf(),
            reason: format!("line {line}: {reason}; a JSON array is read whole, so nothing was imported"),
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            return Err(undecodable(e.as_bytes(), at));
        }
    };
    if enc != encoding_rs::UTF_8 {
        if let Some(at) = text.find('\u{FFFD}') {
            return Err(undecodable(text.as_bytes(), at));
        }
    }
    let first = text.trim_start().chars().next();
    if first == Some('{') {
        // Many ".json" files are JSON Lines, or one object: read them line by line.
        if serde_json::from_str::<Value>(&text).is_err() {
            return open_jsonl(ctx);
        }
    }
    let items: Vec<&serde_json::value::RawValue> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(_)) => {
            let one: &serde_json::value::RawValue = serde_json::from_str(&text)?;
            vec![one]
        }
        Ok(_) => serde_json::from_str(&text).map_err(|e| Error::BadFile {
            path: ctx.path.to_path_buf(),
            reason: format!("expected a JSON array of objects: {e}"),
        })?,
        Err(e) => {
            return Err(Error::BadFile {
                path: ctx.path.to_path_buf(),
                reason: format!("invalid JSON at line {}, column {}: {e}", e.line(), e.column()),
            })
        }
    };
    let base = text.as_ptr() as usize;
    let mut out = Vec::with_capacity(items.len());
    let mut line = 1u64;
    let mut scanned = 0usize;
    let mut file = generate::ShapeOfFile::default();
    for item in items {
        let offset = item.get().as_ptr() as usize - base;
        line += text.as_bytes()[scanned..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        scanned = offset;
        match serde_json::from_str::<Value>(item.get()) {
            Ok(v) if ctx.kind == ProjectKind::Generate => {
                out.extend(generate::rows_from_value(ctx, &mut file, line, v))
            }
            Ok(v) => out.push(row_from_value(ctx, line, v)),
            Err(e) => out.push(Err(RowError { line, reason: format!("invalid JSON: {e}") })),
        }
    }
    Ok(Opened { rows: Box::new(out.into_iter()), encoding: enc.name().to_string(), delimiter: None })
}
