//! Export: JSON Lines (re-importing it reproduces the records, labels, spans, outputs, splits
//! and meta), CSV, CoNLL/BIO for span projects, and OpenAI's chat fine-tuning format for
//! generate projects. Streams record by record.
//!
//! A generate project's JSON Lines are `{"id", "input"` (or `"turns"`), `"output", "meta",
//! "split", "group", "annotator"}`, the output absent while a record has none and the split
//! group (records made from one dialog) while there is none. Its `openai` export is
//! `{"messages": [{"role", "content"}, ...]}`: the record's text as one `user` message, or its
//! turns with their roles ([`crate::chat_role`] over the project's agent speakers), then the
//! output as the last `assistant` message. It is OpenAI's format and nothing more, so only
//! labeled records go into it, and ids, meta, splits and speaker names stay behind (the JSON
//! Lines keep them).

use crate::search::is_cjk;
use crate::{chat_role, AnnotationValue, ChatRole, Error, ProjectKind, Result, Span, Split, Store, Turn};
use serde::{Deserialize, Serialize};
use std::io::Write;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One JSON object a line.
    Jsonl,
    /// CSV with id, text, label(s) or spans, split, annotator, meta.
    Csv,
    /// One token and its BIO tag a line, a blank line between records (span projects).
    Conll,
    /// OpenAI's chat fine-tuning JSON Lines, `{"messages": [...]}` (generate projects; labeled
    /// records only).
    #[serde(rename = "openai")]
    OpenAi,
}

impl std::str::FromStr for ExportFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            "conll" | "bio" => Ok(ExportFormat::Conll),
            "openai" => Ok(ExportFormat::OpenAi),
            other => {
                Err(Error::Invalid(format!("unknown export format {other:?}; expected jsonl, csv, conll or openai")))
            }
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportOptions {
    /// The format.
    pub format: ExportFormat,
    /// Only records of this split.
    pub split: Option<Split>,
    /// Only labeled records (always so for CoNLL and OpenAI).
    pub labeled_only: bool,
    /// Also every annotator's own label (JSON Lines: `"annotations": {name: value}`; CSV: an
    /// `annotations` column of that JSON), beside the final label.
    pub annotations: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct ExportSummary {
    /// Records written.
    pub records: u64,
    /// Of those, labeled ones.
    pub labeled: u64,
}

#[derive(Serialize)]
struct JsonRecord<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    turns: Option<&'a [Turn]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    spans: Option<&'a [Span]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a std::collections::BTreeMap<String, AnnotationValue>>,
}

/// A generate project's record in JSON Lines.
#[derive(Serialize)]
struct GenerateRecord<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    turns: Option<&'a [Turn]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    split: Option<&'a str>,
    /// The split group of records made from one dialog.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a std::collections::BTreeMap<String, AnnotationValue>>,
}

/// A record in OpenAI's chat format.
#[derive(Serialize)]
struct Chat<'a> {
    messages: Vec<Message<'a>>,
}

/// One message of OpenAI's chat format (`role` first, as OpenAI writes it).
#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

/// One record as the exporter sees it.
struct Row {
    uid: String,
    text: String,
    turns: Option<Vec<Turn>>,
    meta: Option<serde_json::Map<String, serde_json::Value>>,
    split: Option<String>,
    group: Option<String>,
    value: Option<AnnotationValue>,
    annotator: Option<String>,
    /// Every annotator's own label, when asked for.
    annotations: Option<std::collections::BTreeMap<String, AnnotationValue>>,
}

/// Tokens for CoNLL: each CJK character alone, other text split at whitespace and at span edges.
/// Returns (token, start, end) in code points.
pub fn conll_tokens(text: &str, spans: &[Span]) -> Vec<(String, usize, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut cuts = vec![false; chars.len() + 1];
    for s in spans {
        cuts[s.start.min(chars.len())] = true;
        cuts[s.end.min(chars.len())] = true;
    }
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &c) in chars.iter().enumerate() {
        if let Some(s) = start {
            if c.is_whitespace() || is_cjk(c) || cuts[i] || is_cjk(chars[i - 1]) {
                out.push((chars[s..i].iter().collect(), s, i));
                start = None;
            }
        }
        if !c.is_whitespace() && start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((chars[s..].iter().collect(), s, chars.len()));
    }
    out
}

impl Store {
    /// Writes the project's records to `out`. `progress(done, total)` may return false to stop.
    pub fn export(
        &self,
        options: &ExportOptions,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64, u64) -> bool,
    ) -> Result<ExportSummary> {
        let kind = self.kind()?;
        if options.format == ExportFormat::Conll && kind != ProjectKind::Spans {
            return Err(Error::Invalid(format!(
                "CoNLL export is for span projects; this one is {}: use jsonl or csv",
                kind.as_str()
            )));
        }
        if options.format == ExportFormat::OpenAi && kind != ProjectKind::Generate {
            return Err(Error::Invalid(format!(
                "OpenAI chat export is for generate projects; this one is {}: use jsonl or csv",
                kind.as_str()
            )));
        }
        let agents = if kind == ProjectKind::Generate { self.agent_speakers()? } else { Vec::new() };
        let labeled_only = options.labeled_only || matches!(options.format, ExportFormat::Conll | ExportFormat::OpenAi);
        let total = self.n_records()?;
        let mut summary = ExportSummary { records: 0, labeled: 0 };
        let mut sink = if options.format == ExportFormat::Csv {
            let mut w = csv::WriterBuilder::new().from_writer(out);
            let label_col = match kind {
                ProjectKind::Single => "label",
                ProjectKind::Multi => "labels",
                ProjectKind::Spans => "spans",
                ProjectKind::Generate => "output",
            };
            let text_col = if kind == ProjectKind::Generate { "input" } else { "text" };
            let mut header = vec!["id", text_col, label_col, "split", "annotator", "meta"];
            if options.annotations {
                header.push("annotations");
            }
            w.write_record(header).map_err(csv_err)?;
            Sink::Csv(Box::new(w))
        } else {
            Sink::Plain(options.format, out)
        };
        let shape = Shape { kind, agents: &agents };
        let split_filter = options.split.map(|s| s.as_str());
        // Each record's rows come together, its labels newest first; the label written is the one
        // it trains on (a reviewer's decision, else the majority, else as the tie rule says).
        let tie = self.tie_rule()?;
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.uid, r.text, r.turns, r.meta, r.split, c.value, c.annotator, r.split_group,
                EXISTS (SELECT 1 FROM adjudications j WHERE j.annotation_id = c.annotation_id)
             FROM records r LEFT JOIN current_annotations c ON c.record_id = r.id AND c.value IS NOT NULL
             WHERE (?1 IS NULL OR r.split = ?1) AND (?2 = 0 OR r.n_labeled > 0)
             ORDER BY r.id, c.updated_at DESC, c.annotation_id DESC",
        )?;
        let mut rows = stmt.query(rusqlite::params![split_filter, labeled_only])?;
        let mut pending: Option<(i64, Row, Vec<crate::teams::Candidate>)> = None;
        let mut seen = 0u64;
        let annotations = options.annotations;
        let emit = |(_, mut row, candidates): (i64, Row, Vec<crate::teams::Candidate>),
                    summary: &mut ExportSummary,
                    sink: &mut Sink<'_>|
         -> Result<()> {
            if let Some((i, _)) = crate::teams::resolve(&candidates, tie) {
                row.value = Some(serde_json::from_str(&candidates[i].json)?);
                row.annotator = Some(candidates[i].annotator.clone());
            }
            if annotations {
                let mut all = std::collections::BTreeMap::new();
                for c in candidates.iter().filter(|c| !c.adjudicated) {
                    all.insert(c.annotator.clone(), serde_json::from_str(&c.json)?);
                }
                row.annotations = Some(all);
            }
            if labeled_only && row.value.is_none() {
                return Ok(()); // annotators tie, and the project waits for a reviewer
            }
            summary.records += 1;
            if row.value.is_some() {
                summary.labeled += 1;
            }
            write_row(&row, &shape, sink)
        };
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            if pending.as_ref().is_some_and(|p| p.0 != seq) {
                emit(pending.take().expect("checked"), &mut summary, &mut sink)?;
                seen += 1;
                if seen.is_multiple_of(8192) && !progress(seen, total) {
                    return Err(Error::Cancelled);
                }
            }
            if pending.is_none() {
                let turns: Option<String> = r.get(3)?;
                let meta: Option<String> = r.get(4)?;
                let row = Row {
                    uid: r.get(1)?,
                    text: r.get(2)?,
                    turns: turns.map(|t| serde_json::from_str(&t)).transpose()?,
                    meta: meta.map(|m| serde_json::from_str(&m)).transpose()?,
                    split: r.get(5)?,
                    group: r.get(8)?,
                    value: None,
                    annotator: None,
                    annotations: None,
                };
                pending = Some((seq, row, Vec::new()));
            }
            let value: Option<String> = r.get(6)?;
            if let (Some(json), Some((_, _, candidates))) = (value, pending.as_mut()) {
                candidates.push(crate::teams::Candidate {
                    annotator: r.get(7)?,
                    json,
                    adjudicated: r.get::<_, Option<bool>>(9)?.unwrap_or(false),
                });
            }
        }
        if let Some(last) = pending.take() {
            emit(last, &mut summary, &mut sink)?;
        }
        match &mut sink {
            Sink::Csv(w) => w.flush(),
            Sink::Plain(_, out) => out.flush(),
        }
        .map_err(|e| Error::io("<export>", e))?;
        progress(total, total);
        Ok(summary)
    }
}

fn csv_err(e: csv::Error) -> Error {
    Error::Invalid(format!("CSV: {e}"))
}

enum Sink<'a> {
    Csv(Box<csv::Writer<&'a mut dyn Write>>),
    Plain(ExportFormat, &'a mut dyn Write),
}

/// What decides the shape of an exported row besides its format.
struct Shape<'a> {
    kind: ProjectKind,
    /// The project's agent speakers (generate projects), for the roles of turns.
    agents: &'a [String],
}

fn write_row(row: &Row, shape: &Shape<'_>, sink: &mut Sink<'_>) -> Result<()> {
    let io = |e| Error::io("<export>", e);
    match sink {
        Sink::Plain(ExportFormat::Jsonl, out) if shape.kind == ProjectKind::Generate => {
            let rec = GenerateRecord {
                id: &row.uid,
                input: if row.turns.is_some() { None } else { Some(&row.text) },
                turns: row.turns.as_deref(),
                output: row.value.as_ref().and_then(AnnotationValue::as_output),
                meta: row.meta.as_ref(),
                split: row.split.as_deref(),
                group: row.group.as_deref(),
                annotator: row.value.as_ref().and(row.annotator.as_deref()),
                annotations: row.annotations.as_ref(),
            };
            serde_json::to_writer(&mut *out, &rec)?;
            out.write_all(b"\n").map_err(io)?;
        }
        Sink::Plain(ExportFormat::OpenAi, out) => {
            let mut messages: Vec<Message<'_>> = match &row.turns {
                Some(turns) => turns
                    .iter()
                    .map(|t| Message { role: chat_role(&t.speaker, shape.agents).as_str(), content: &t.text })
                    .collect(),
                None => vec![Message { role: ChatRole::User.as_str(), content: &row.text }],
            };
            if let Some(output) = row.value.as_ref().and_then(AnnotationValue::as_output) {
                messages.push(Message { role: ChatRole::Assistant.as_str(), content: output });
            }
            serde_json::to_writer(&mut *out, &Chat { messages })?;
            out.write_all(b"\n").map_err(io)?;
        }
        Sink::Plain(ExportFormat::Jsonl, out) => {
            let (label, labels, spans) = match &row.value {
                Some(AnnotationValue::Label(l)) => (Some(l.as_str()), None, None),
                Some(AnnotationValue::Labels(ls)) => (None, Some(ls.as_slice()), None),
                Some(AnnotationValue::Spans(s)) => (None, None, Some(s.as_slice())),
                Some(AnnotationValue::Output(_)) | None => (None, None, None),
            };
            let rec = JsonRecord {
                id: &row.uid,
                text: if row.turns.is_some() { None } else { Some(&row.text) },
                turns: row.turns.as_deref(),
                label,
                labels,
                spans,
                meta: row.meta.as_ref(),
                split: row.split.as_deref(),
                annotator: row.value.as_ref().and(row.annotator.as_deref()),
                annotations: row.annotations.as_ref(),
            };
            serde_json::to_writer(&mut *out, &rec)?;
            out.write_all(b"\n").map_err(io)?;
        }
        Sink::Csv(w) => {
            let value = match &row.value {
                Some(AnnotationValue::Label(l)) => l.clone(),
                Some(AnnotationValue::Labels(ls)) => ls.join("|"),
                Some(AnnotationValue::Spans(s)) => serde_json::to_string(s)?,
                Some(AnnotationValue::Output(output)) => output.clone(),
                None => String::new(),
            };
            let meta = row.meta.as_ref().map(serde_json::to_string).transpose()?.unwrap_or_default();
            let mut fields = vec![
                row.uid.clone(),
                row.text.clone(),
                value,
                row.split.clone().unwrap_or_default(),
                row.value.as_ref().and(row.annotator.clone()).unwrap_or_default(),
                meta,
            ];
            if let Some(all) = &row.annotations {
                fields.push(serde_json::to_string(all)?);
            }
            w.write_record(&fields).map_err(csv_err)?;
        }
        Sink::Plain(_, out) => {
            let spans = match &row.value {
                Some(AnnotationValue::Spans(s)) => s.as_slice(),
                _ => &[],
            };
            for (token, start, end) in conll_tokens(&row.text, spans) {
                let tag = match spans.iter().find(|s| s.start <= start && end <= s.end) {
                    Some(s) if s.start == start => format!("B-{}", s.label),
                    Some(s) => format!("I-{}", s.label),
                    None => "O".to_string(),
                };
                writeln!(out, "{token}\t{tag}").map_err(io)?;
            }
            out.write_all(b"\n").map_err(io)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, spans: &[(usize, usize)], expected: &[&str]) {
        let spans: Vec<Span> = spans.iter().map(|&(start, end)| Span { start, end, label: "X".into() }).collect();
        let tokens: Vec<String> = conll_tokens(text, &spans).into_iter().map(|t| t.0).collect();
        assert_eq!(tokens, expected);
    }

    #[test]
    fn tokens() {
        check("我在北京", &[], &["我", "在", "北", "京"]);
        check("I love Paris.", &[(7, 12)], &["I", "love", "Paris", "."]);
        check("iPhone15很好", &[], &["iPhone15", "很", "好"]);
        check("  a  b ", &[], &["a", "b"]);
        check("😀好", &[], &["😀", "好"]);
    }
}
