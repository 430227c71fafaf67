//! Text-to-text data for generate projects: the JSON Lines shapes people already have, and the
//! dialogs whose agent turns become outputs.
//!
//! A record's input is its text, or its dialog turns; its output is a label
//! ([`crate::AnnotationValue::Output`]). The shapes, one per file (the first line that has one
//! decides, and a line in another shape is rejected with its line number):
//! - `input` (or `turns`) and `output`: Finelab's own export; `turns` are the input as they
//!   are, no turn of them is taken as the output.
//! - `prompt` and `completion`.
//! - `text` and `output`: a plain `{"text"}` file is inputs waiting for their outputs.
//! - Alpaca's `instruction`, `input` and `output`: the input is the instruction, then a blank
//!   line and the `input` when that is not empty; `meta.instruction` then keeps the
//!   instruction, so that the two parts can be told apart again. Finelab's export writes the
//!   joined input and that meta, and reads back the same record.
//! - OpenAI's `messages` (`role`, `content`) and ShareGPT's `conversations` (`from`, `value`):
//!   the turns keep their roles as speakers (`system`, `user`, `assistant`; `system`, `human`,
//!   `gpt`), so a system message stays the first turn. Which agent turns become outputs is
//!   [`DialogTargets`]'s choice.
//!
//! In every shape `id`, `meta`, `split` and `annotator` mean what they mean elsewhere, `group`
//! is the split group of records made from one dialog (Finelab's export writes it), other keys
//! go into the record's meta, and an absent or null output leaves the record unlabeled.

use super::{encoding, RawValue, ReadContext, RowError, RowResult, SourceRow};
use crate::{chat_role, ChatRole, Error, Turn};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which agent turns of a dialog become outputs in a generate project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum DialogTargets {
    /// One record per dialog: when the agent speaks last, that turn is the output of the
    /// turns before it; otherwise the dialog is an input still waiting for its output
    /// (unlabeled). The record keeps the dialog's id.
    #[default]
    Last,
    /// One record per agent turn, the output of the turns before it (a dialog of n agent
    /// replies teaches n replies), and, when the agent does not speak last, one more unlabeled
    /// record of the whole dialog. Record `d#k` is dialog `d` up to its turn `k` (1-based),
    /// which is the output.
    EachAgentTurn,
}

impl std::str::FromStr for DialogTargets {
    type Err = Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "last" => Ok(DialogTargets::Last),
            "each" | "each_agent_turn" => Ok(DialogTargets::EachAgentTurn),
            other => Err(Error::Invalid(format!("unknown dialog targets {other:?}; expected last or each"))),
        }
    }
}

/// The JSON Lines shapes of text-to-text data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    InputOutput,
    PromptCompletion,
    Text,
    Alpaca,
    Messages,
    ShareGpt,
    /// The input key named by the options (`--text-col`).
    Named,
}

impl Shape {
    fn describe(self) -> &'static str {
        match self {
            Shape::InputOutput => "input/output",
            Shape::PromptCompletion => "prompt/completion",
            Shape::Text => "text/output",
            Shape::Alpaca => "Alpaca instruction/input/output",
            Shape::Messages => "OpenAI messages",
            Shape::ShareGpt => "ShareGPT conversations",
            Shape::Named => "named input key",
        }
    }

    /// The shape a JSON object is in, by its keys.
    fn of(obj: &serde_json::Map<String, Value>, named_input: Option<&str>) -> Option<Shape> {
        if named_input.is_some() {
            return Some(Shape::Named);
        }
        [
            ("messages", Shape::Messages),
            ("conversations", Shape::ShareGpt),
            ("instruction", Shape::Alpaca),
            ("prompt", Shape::PromptCompletion),
            ("input", Shape::InputOutput),
            ("turns", Shape::InputOutput),
            ("text", Shape::Text),
        ]
        .into_iter()
        .find(|(key, _)| obj.contains_key(*key))
        .map(|(_, shape)| shape)
    }
}

/// The shape of a file: the first line's that has one.
#[derive(Default)]
pub(super) struct ShapeOfFile {
    first: Option<(Shape, u64)>,
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

/// A string field that must be there.
fn take_text(obj: &mut serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    match obj.remove(key) {
        Some(Value::String(s)) => {
            encoding::check_text(&s)?;
            Ok(s)
        }
        Some(other) => Err(format!("\"{key}\" is not a string but {}", kind_name(&other))),
        None => Err(format!("no \"{key}\" key")),
    }
}

/// The output, when there is one (absent and null are none).
fn take_output(obj: &mut serde_json::Map<String, Value>, key: &str) -> Result<Option<RawValue>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            encoding::check_text(&s)?;
            Ok(Some(RawValue::Output(s)))
        }
        Some(other) => Err(format!("\"{key}\" is not a string but {}", kind_name(&other))),
    }
}

/// Chat turns from a list of objects with a speaker key (which `turns` may leave out: no
/// speaker) and a text key.
fn take_turns(
    obj: &mut serde_json::Map<String, Value>,
    key: &str,
    speaker_key: &str,
    text_key: &str,
) -> Result<Vec<Turn>, String> {
    let speaker_optional = key == "turns";
    let Some(Value::Array(items)) = obj.remove(key) else {
        return Err(format!("\"{key}\" is not a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let n = i + 1;
            let turn = item.as_object().ok_or_else(|| format!("\"{key}\" item {n} is not an object"))?;
            let speaker = match turn.get(speaker_key) {
                Some(Value::String(s)) => s.clone(),
                None if speaker_optional => String::new(),
                _ => return Err(format!("\"{key}\" item {n} has no string \"{speaker_key}\"")),
            };
            let text = match turn.get(text_key) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(format!("\"{key}\" item {n}: \"{text_key}\" is {}, not text", kind_name(other)))
                }
                None => return Err(format!("\"{key}\" item {n} has no \"{text_key}\"")),
            };
            encoding::check_text(&text).map_err(|e| format!("\"{key}\" item {n}: {e}"))?;
            Ok(Turn { speaker, text })
        })
        .collect()
}

/// Turns one JSON object of a generate project's file into its records (a dialog can give
/// several, see [`DialogTargets`]).
pub(super) fn rows_from_value(
    ctx: &ReadContext<'_>,
    file: &mut ShapeOfFile,
    line: u64,
    value: Value,
) -> Vec<RowResult> {
    match row_from_value(ctx, file, line, value) {
        Ok((row, true)) => dialog_rows(row, &ctx.agents, ctx.options.dialog_targets, None, true),
        Ok((row, false)) => vec![Ok(row)],
        Err(reason) => vec![Err(RowError { line, reason })],
    }
}

/// The row of one JSON object, and whether its turns still hold the output.
fn row_from_value(
    ctx: &ReadContext<'_>,
    file: &mut ShapeOfFile,
    line: u64,
    value: Value,
) -> Result<(SourceRow, bool), String> {
    let Value::Object(mut obj) = value else {
        return Err(format!("expected a JSON object, found {}", kind_name(&value)));
    };
    let cols = &ctx.options.columns;
    let shape = Shape::of(&obj, cols.text.as_deref()).ok_or_else(|| {
        "no input: expected \"prompt\"/\"completion\", \"input\"/\"output\", \"instruction\"/\"input\"/\"output\", \
         \"messages\", \"conversations\" or \"text\""
            .to_string()
    })?;
    match file.first {
        None => file.first = Some((shape, line)),
        Some((first, first_line)) if first != shape => {
            return Err(format!(
                "this line is in the {} shape, but the file's first record (line {first_line}) is in the {} shape; \
                 one file holds one shape",
                shape.describe(),
                first.describe()
            ));
        }
        Some(_) => {}
    }
    let mut row = SourceRow { line, ..Default::default() };
    let output_key = |default: &'static str| cols.output.clone().unwrap_or_else(|| default.to_string());
    let mut dialog = false;
    match shape {
        Shape::Named => {
            let key = cols.text.as_deref().unwrap_or("input");
            row.text = Some(take_text(&mut obj, key)?);
            row.value = take_output(&mut obj, &output_key("output"))?;
        }
        Shape::InputOutput => {
            if obj.contains_key("turns") {
                row.turns = Some(take_turns(&mut obj, "turns", "speaker", "text")?);
            } else {
                row.text = Some(take_text(&mut obj, "input")?);
            }
            row.value = take_output(&mut obj, &output_key("output"))?;
        }
        Shape::PromptCompletion => {
            row.text = Some(take_text(&mut obj, "prompt")?);
            row.value = take_output(&mut obj, &output_key("completion"))?;
        }
        Shape::Text => {
            row.text = Some(take_text(&mut obj, "text")?);
            row.value = take_output(&mut obj, &output_key("output"))?;
        }
        Shape::Alpaca => {
            let instruction = take_text(&mut obj, "instruction")?;
            let input = match obj.remove("input") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => {
                    encoding::check_text(&s)?;
                    s
                }
                Some(other) => return Err(format!("\"input\" is not a string but {}", kind_name(&other))),
            };
            row.value = take_output(&mut obj, &output_key("output"))?;
            if input.is_empty() {
                row.text = Some(instruction);
            } else {
                row.text = Some(format!("{instruction}\n\n{input}"));
                row.meta.insert("instruction".into(), Value::String(instruction));
            }
        }
        Shape::Messages => {
            row.turns = Some(take_turns(&mut obj, "messages", "role", "content")?);
            dialog = true;
        }
        Shape::ShareGpt => {
            row.turns = Some(take_turns(&mut obj, "conversations", "from", "value")?);
            dialog = true;
        }
    }
    let id_key = cols.id.as_deref().unwrap_or("id");
    if let Some(v) = obj.remove(id_key) {
        row.id = Some(match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => return Err(format!("\"{id_key}\" is not a string or number")),
        });
    }
    if let Some(v) = obj.remove("split").filter(|v| !v.is_null()) {
        let s = v.as_str().ok_or("\"split\" is not a string")?;
        row.split = Some(s.parse().map_err(|e: Error| e.to_string())?);
    }
    if let Some(v) = obj.remove("group").filter(|v| !v.is_null()) {
        row.group = Some(v.as_str().ok_or("\"group\" is not a string")?.to_string());
    }
    if let Some(v) = obj.remove("annotator") {
        if let Some(name) = v.as_str().filter(|n| !n.trim().is_empty()) {
            row.annotator = Some(name.to_string());
        }
    }
    match obj.remove("meta") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                row.meta.insert(k, v);
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => {
            row.meta.insert("meta".into(), other);
        }
    }
    for (k, v) in obj {
        row.meta.entry(k).or_insert(v);
    }
    Ok((row, dialog))
}

/// The records of a dialog whose turns still hold its outputs (see [`DialogTargets`]).
/// `turn_lines`, when the turns came from rows of a table, gives each turn's line: a record
/// made for an agent turn is reported at that turn's line. With `one_user_turn_is_text` (chat
/// formats, whose speakers are only roles), an input of a single user turn is a plain text
/// input, as a prompt is: `[user: X, assistant: Y]` is the record `X` → `Y`, which OpenAI's
/// format writes back as the same two messages.
pub(super) fn dialog_rows(
    row: SourceRow,
    agents: &[String],
    targets: DialogTargets,
    turn_lines: Option<&[u64]>,
    one_user_turn_is_text: bool,
) -> Vec<RowResult> {
    let turns = row.turns.clone().unwrap_or_default();
    let n = turns.len();
    let is_agent = |t: &Turn| chat_role(&t.speaker, agents) == ChatRole::Assistant;
    // The records of one dialog share a split (see `splits.rs`); a dialog without an id is
    // known by its content.
    let group =
        match targets {
            DialogTargets::Last => None,
            DialogTargets::EachAgentTurn => Some(row.id.clone().unwrap_or_else(|| {
                format!("dialog:{:016x}", crate::content_hash(&crate::format_dialog(&turns)) as u64)
            })),
        };
    let line_of = |i: usize| turn_lines.and_then(|l| l.get(i).copied()).unwrap_or(row.line);
    let record = |end: usize, id_suffix: bool| -> RowResult {
        let mut out = row.clone();
        out.group = group.clone();
        match &turns[..end] {
            [only] if one_user_turn_is_text && chat_role(&only.speaker, agents) == ChatRole::User => {
                out.turns = None;
                out.text = Some(only.text.clone());
            }
            input => out.turns = Some(input.to_vec()),
        }
        out.value = turns.get(end).map(|t| RawValue::Output(t.text.clone()));
        if id_suffix {
            out.id = row.id.as_ref().map(|id| format!("{id}#{}", end + 1));
            out.line = line_of(end);
        }
        if end == 0 && n > 0 {
            return Err(RowError {
                line: out.line,
                reason: "the dialog opens with the agent's turn: there is no input for it to answer".into(),
            });
        }
        Ok(out)
    };
    let last_is_agent = turns.last().is_some_and(is_agent);
    match targets {
        DialogTargets::Last if last_is_agent => vec![record(n - 1, false)],
        DialogTargets::Last => vec![record(n, false)],
        DialogTargets::EachAgentTurn => {
            // An agent turn that opens the dialog (a greeting) answers nothing: it is input only.
            let mut out: Vec<RowResult> = (1..n).filter(|&i| is_agent(&turns[i])).map(|i| record(i, true)).collect();
            if !last_is_agent {
                out.push(record(n, true));
            }
            if out.is_empty() {
                // A dialog of one agent turn: nothing answered, nothing to wait for.
                out.push(record(0, false));
            }
            out
        }
    }
}
