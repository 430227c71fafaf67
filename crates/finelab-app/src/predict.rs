//! Predicting with a trained model folder: [`load_model`] loads a classifier written by
//! `finelab train` (instant or transformer) and [`predict`] streams JSON Lines in and predictions
//! out (`finelab predict`); a generator folder (one `finelab train` wrote, or a Hugging Face causal
//! LM) answers each line with its generated output.

use crate::models::INSTANT;
use crate::{AppError, Result};
use finelab_store::Turn;
use finelab_train::generator::generate::GenerateOptions;
use finelab_train::generator::template::Message;
use finelab_train::generator::GeneratorModel;
use finelab_train::{Prediction, Predictor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The most tokens generated per dev and test record when a request does not say.
pub const DEFAULT_MAX_NEW_TOKENS: usize = 256;

/// Whether `dir` holds a decoder the generator family fine-tunes: a model folder it wrote
/// (`finelab-model.json` of family `generator`) or a Hugging Face folder whose `config.json`
/// names a Qwen2, Qwen3 or Llama `model_type`.
pub fn is_generator_folder(dir: &Path) -> bool {
    let read = |name: &str| -> Option<Value> { serde_json::from_slice(&std::fs::read(dir.join(name)).ok()?).ok() };
    if let Some(meta) = read(finelab_train::instant::MODEL_FILE) {
        return meta.get("family").and_then(Value::as_str) == Some(finelab_train::generator::FAMILY);
    }
    read("config.json")
        .and_then(|c| c.get("model_type").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|t| t.parse::<finelab_train::generator::model::Arch>().is_ok())
}

/// The dialog of a generate record as chat messages: plain text is one user message; dialog
/// turns take their role from their speaker (the project's agent speakers answer as the
/// assistant; a `system` turn stays the system prompt).
pub(crate) fn chat_messages(text: &str, turns: Option<&[finelab_store::Turn]>, agents: &[String]) -> Vec<Message> {
    match turns {
        Some(turns) if !turns.is_empty() => {
            turns.iter().map(|t| Message::new(finelab_store::chat_role(&t.speaker, agents).as_str(), &t.text)).collect()
        }
        _ => vec![Message::new("user", text)],
    }
}

/// Loads a model folder for prediction: one written by `finelab train` (of any family). A run
/// folder (`runs/<id>`) stands for its `model/`.
pub fn load_model(model_dir: &Path) -> Result<Predictor> {
    let file = finelab_train::instant::MODEL_FILE;
    let dir = model_folder(model_dir);
    if is_generator_folder(&dir) {
        return Err(AppError::Unsupported(format!(
            "{}: a generator (it writes text, it has no labels to predict); `finelab predict` answers each line with its output",
            model_dir.display()
        )));
    }
    if !dir.join(file).is_file() && dir.join("config.json").is_file() {
        return Err(AppError::Unsupported(format!(
            "{}: a Hugging Face model folder without Finelab's {file}; predict with a folder written by `finelab train` \
             (fine-tune this one first: `finelab train PROJECT --model {}`)",
            model_dir.display(),
            model_dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(AppError::Invalid(format!("{}: no such model folder", model_dir.display())));
    }
    Ok(Predictor::load(&dir)?)
}

/// The model folder `model_dir` stands for: a run folder (`runs/<id>`) stands for its `model/`.
fn model_folder(model_dir: &Path) -> PathBuf {
    let file = finelab_train::instant::MODEL_FILE;
    if !model_dir.join(file).is_file() && model_dir.join("model").join(file).is_file() {
        model_dir.join("model")
    } else {
        model_dir.to_path_buf()
    }
}

/// What [`predict`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictSummary {
    /// Records predicted.
    pub n_records: u64,
}

#[derive(Serialize)]
struct PredictionLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    text: &'a str,
    #[serde(flatten)]
    prediction: &'a Prediction,
}

/// Lines a transformer's `predict` reads before predicting them (sorted by length within).
const PREDICT_WINDOW: usize = 512;

/// Streams predictions: reads JSON Lines from `input` — one object a line with `"text"` (or dialog
/// `"turns"`, as `finelab export` writes them) and an optional `"id"`; blank lines are skipped —
/// and writes one line per record to `out`: `{"id"?, "text", "label", "scores"}` (single-label),
/// `{"id"?, "text", "labels", "scores"}` (multi-label) or `{"id"?, "text", "spans"}` (spans, each
/// with its `score`; offsets in code points of `text`, which is the dialog as shown for turns).
/// A line that is not such an object stops it with an error naming `input_name` and the line.
///
/// A generator folder reads lines `{"id"?, "input"}`, `{"id"?, "text"}`, `{"id"?, "messages":
/// [{"role", "content"}...]}` or `{"id"?, "turns"}` and writes `{"id"?, "input", "output"}`
/// (greedy, at most 256 new tokens), `input` as the line gave it.
pub fn predict(
    model_dir: &Path,
    input: &mut dyn BufRead,
    input_name: &str,
    out: &mut dyn Write,
) -> Result<PredictSummary> {
    let dir = model_folder(model_dir);
    if is_generator_folder(&dir) {
        return predict_generated(&dir, input, input_name, out);
    }
    let predictor = load_model(model_dir)?;
    // A transformer predicts a batch of texts far faster than the same texts one by one, and
    // faster still when a batch holds texts of about one length (less padding): it reads 512
    // lines, which `predict_batch` sorts by length and runs 32 at a time; the output keeps the
    // input's order. The instant family gains nothing from waiting, so it streams line by line.
    let batch_size = if predictor.family() == INSTANT { 1 } else { PREDICT_WINDOW };
    let mut pending: Vec<(Option<Value>, String)> = Vec::with_capacity(batch_size);
    let mut line = String::new();
    let mut line_no = 0u64;
    let mut n_records = 0u64;
    let out_err = |e: std::io::Error| AppError::Io { path: "<output>".into(), source: e };
    let flush = |pending: &mut Vec<(Option<Value>, String)>, out: &mut dyn Write| -> Result<u64> {
        let texts: Vec<&str> = pending.iter().map(|(_, t)| t.as_str()).collect();
        let predictions = predictor.predict_batch(&texts)?;
        for ((id, text), prediction) in pending.iter().zip(&predictions) {
            let record = PredictionLine { id: id.as_ref(), text, prediction };
            serde_json::to_writer(&mut *out, &record).map_err(|e| out_err(e.into()))?;
            out.write_all(b"\n").map_err(out_err)?;
        }
        let n = pending.len() as u64;
        pending.clear();
        Ok(n)
    };
    loop {
        line.clear();
        let n = input.read_line(&mut line).map_err(|e| AppError::Io { path: input_name.to_string(), source: e })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw = line.trim_start_matches('\u{feff}').trim();
        if raw.is_empty() {
            continue;
        }
        match parse_predict_line(raw, input_name, line_no) {
            Ok(record) => pending.push(record),
            Err(e) => {
                // The lines before the bad one are answered before the error, as when streaming.
                flush(&mut pending, out)?;
                out.flush().map_err(out_err)?;
                return Err(e);
            }
        }
        if pending.len() >= batch_size {
            n_records += flush(&mut pending, out)?;
        }
    }
    n_records += flush(&mut pending, out)?;
    out.flush().map_err(out_err)?;
    Ok(PredictSummary { n_records })
}

/// One line of `predict`'s input: its id (when it has one) and its text (dialog turns as shown).
fn parse_predict_line(raw: &str, input_name: &str, line_no: u64) -> Result<(Option<Value>, String)> {
    let bad = |message: String| AppError::BadInput { path: input_name.to_string(), line: line_no, message };
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "not a JSON object ({e}); predict reads JSON Lines such as {{\"id\": \"1\", \"text\": \"...\"}} \
             (turn a plain text file into them with: jq -cR '{{text: .}}' FILE)"
        ))
    })?;
    let Value::Object(obj) = value else {
        return Err(bad("not a JSON object; expected {\"text\": \"...\"} (and an optional \"id\")".into()));
    };
    let text: String = match (obj.get("text"), obj.get("turns")) {
        (Some(Value::String(t)), _) => t.clone(),
        (Some(other), _) => return Err(bad(format!("\"text\" must be a string, found {other}"))),
        (None, Some(turns)) => {
            let turns: Vec<Turn> = serde_json::from_value(turns.clone())
                .map_err(|e| bad(format!("\"turns\" must be a list of {{\"speaker\", \"text\"}} objects: {e}")))?;
            finelab_store::format_dialog(&turns)
        }
        (None, None) => return Err(bad("no \"text\" (or \"turns\") in this record".into())),
    };
    Ok((obj.get("id").cloned(), text))
}

/// One line of a generator's input: its id, the input as given, and the dialog to answer.
type GenLine = (Option<Value>, Value, Vec<Message>);

#[derive(Serialize)]
struct GeneratedLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    input: &'a Value,
    output: &'a str,
}

/// [`predict`] with a generator folder.
fn predict_generated(
    dir: &Path,
    input: &mut dyn BufRead,
    input_name: &str,
    out: &mut dyn Write,
) -> Result<PredictSummary> {
    const BATCH: usize = 8;
    let model = GeneratorModel::load_on(dir, "auto")?;
    let options = GenerateOptions { max_new_tokens: DEFAULT_MAX_NEW_TOKENS, ..GenerateOptions::default() };
    let out_err = |e: std::io::Error| AppError::Io { path: "<output>".into(), source: e };
    let flush = |pending: &mut Vec<GenLine>, out: &mut dyn Write| -> Result<u64> {
        if pending.is_empty() {
            return Ok(0);
        }
        let dialogs: Vec<Vec<Message>> = pending.iter().map(|(_, _, m)| m.clone()).collect();
        let outputs = model.generate(&dialogs, &options)?;
        for ((id, input, _), output) in pending.iter().zip(&outputs) {
            let line = GeneratedLine { id: id.as_ref(), input, output };
            serde_json::to_writer(&mut *out, &line).map_err(|e| out_err(e.into()))?;
            out.write_all(b"\n").map_err(out_err)?;
        }
        let n = pending.len() as u64;
        pending.clear();
        Ok(n)
    };
    let (mut pending, mut line, mut line_no, mut n_records) = (Vec::with_capacity(BATCH), String::new(), 0u64, 0u64);
    loop {
        line.clear();
        let n = input.read_line(&mut line).map_err(|e| AppError::Io { path: input_name.to_string(), source: e })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw = line.trim_start_matches('\u{feff}').trim();
        if raw.is_empty() {
            continue;
        }
        match parse_generate_line(raw, input_name, line_no) {
            Ok(record) => pending.push(record),
            Err(e) => {
                flush(&mut pending, out)?;
                out.flush().map_err(out_err)?;
                return Err(e);
            }
        }
        if pending.len() >= BATCH {
            n_records += flush(&mut pending, out)?;
        }
    }
    n_records += flush(&mut pending, out)?;
    out.flush().map_err(out_err)?;
    Ok(PredictSummary { n_records })
}

/// One line of a generator's input (see [`predict`]).
fn parse_generate_line(raw: &str, input_name: &str, line_no: u64) -> Result<GenLine> {
    let bad = |message: String| AppError::BadInput { path: input_name.to_string(), line: line_no, message };
    let expected = "expected {\"input\": \"...\"}, {\"text\": \"...\"}, {\"messages\": [...]} or {\"turns\": [...]} (and an optional \"id\")";
    let value: Value = serde_json::from_str(raw).map_err(|e| bad(format!("not a JSON object ({e}); {expected}")))?;
    let Value::Object(obj) = value else {
        return Err(bad(format!("not a JSON object; {expected}")));
    };
    let id = obj.get("id").cloned();
    for key in ["input", "text"] {
        match obj.get(key) {
            Some(Value::String(t)) => return Ok((id, Value::String(t.clone()), chat_messages(t, None, &[]))),
            Some(other) => return Err(bad(format!("\"{key}\" must be a string, found {other}"))),
            None => {}
        }
    }
    if let Some(messages) = obj.get("messages") {
        let parsed: Vec<Message> = serde_json::from_value(messages.clone())
            .map_err(|e| bad(format!("\"messages\" must be a list of {{\"role\", \"content\"}} objects: {e}")))?;
        if parsed.is_empty() {
            return Err(bad("\"messages\" is empty".into()));
        }
        return Ok((id, messages.clone(), parsed));
    }
    if let Some(turns) = obj.get("turns") {
        let parsed: Vec<Turn> = serde_json::from_value(turns.clone())
            .map_err(|e| bad(format!("\"turns\" must be a list of {{\"speaker\", \"text\"}} objects: {e}")))?;
        let text = finelab_store::format_dialog(&parsed);
        return Ok((id, turns.clone(), chat_messages(&text, Some(&parsed), &[])));
    }
    Err(bad(format!("no input in this record; {expected}")))
}
