//! The model's own chat template (`chat_template` of `tokenizer_config.json`), rendered with
//! minijinja as `transformers`' `apply_chat_template` renders it with Jinja2 (`trim_blocks`,
//! `lstrip_blocks`, `raise_exception`, Python's string methods), and the tokenization of a dialog
//! and its target into ids with the loss on the target tokens only.
//!
//! Truncation keeps the latest turns: the oldest non-system turns are dropped until the dialog and
//! its target fit; a target that cannot fit even then is cut at its end.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::error::{Error, Result};

/// One turn of a dialog, as chat templates see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl Message {
    /// A turn of `role` saying `content`.
    pub fn new(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }
}

/// A special token as `tokenizer_config.json` writes it: a string or `{"content": ...}`.
fn token_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(String::from),
        _ => None,
    }
}

/// A chat template ready to render.
#[derive(Debug)]
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    source: String,
    bos: String,
    eos: String,
}

fn raise_exception(message: String) -> std::result::Result<String, minijinja::Error> {
    Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message))
}

/// Python's `json.dumps(value, ensure_ascii=False, indent=indent)`, the `tojson` of
/// `transformers`' chat templates: `", "` and `": "` between items, non-ASCII text as is, nothing
/// HTML-escaped (minijinja's own `tojson` writes compact, HTML-safe JSON).
fn py_json(value: &Value, indent: Option<usize>, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let (item_sep, open_close): (&str, bool) = if indent.is_some() { (",", true) } else { (", ", false) };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                py_json(item, indent, depth + 1, out);
            }
            if open_close {
                newline(out, depth);
            }
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, depth + 1);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                py_json(v, indent, depth + 1, out);
            }
            if open_close {
                newline(out, depth);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn tojson(value: minijinja::Value, kwargs: minijinja::value::Kwargs) -> std::result::Result<String, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))?;
    let mut out = String::new();
    py_json(&json, indent, 0, &mut out);
    Ok(out)
}

impl ChatTemplate {
    /// A template from its Jinja source, with the tokens it may name as `bos_token` and
    /// `eos_token`.
    pub fn new(source: &str, bos: &str, eos: &str) -> std::result::Result<ChatTemplate, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned("chat", source.to_string())?;
        Ok(ChatTemplate { env, source: source.into(), bos: bos.into(), eos: eos.into() })
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The text of the bos token (empty when the model has none).
    pub fn bos(&self) -> &str {
        &self.bos
    }

    /// The text of the eos token.
    pub fn eos(&self) -> &str {
        &self.eos
    }

    /// Renders `messages`; with `add_generation_prompt`, the opening of the assistant's turn
    /// follows.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> std::result::Result<String, minijinja::Error> {
        self.render_value(&serde_json::to_value(messages).expect("messages serialize"), add_generation_prompt)
    }

    /// Renders messages given as JSON (turns with more than a role and a content, such as
    /// `tool_calls`); see [`ChatTemplate::render`].
    pub fn render_value(
        &self,
        messages: &Value,
        add_generation_prompt: bool,
    ) -> std::result::Result<String, minijinja::Error> {
        let template = self.env.get_template("chat")?;
        template.render(minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos.as_str(),
            eos_token => self.eos.as_str(),
        })
    }
}

/// A dialog and its target as token ids: the loss applies to `ids[target_start..]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Prompt then target ids.
    pub ids: Vec<u32>,
    /// Where the target begins.
    pub target_start: usize,
}

/// A model folder's tokenizer and chat template.
#[derive(Debug)]
pub struct ChatTokenizer {
    /// The `tokenizers` tokenizer (`tokenizer.json`).
    pub tokenizer: Tokenizer,
    /// The chat template.
    pub template: ChatTemplate,
    /// Ids that end a generation (the eos token, and those `generation_config.json` names).
    pub eos_ids: Vec<u32>,
    /// The id padding uses (never seen by the loss or attention).
    pub pad_id: u32,
    /// `tokenizer.json`.
    pub source: PathBuf,
}

fn ids_of(value: Option<&Value>) -> Vec<u32> {
    match value {
        Some(Value::Number(n)) => n.as_u64().map(|v| vec![v as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_u64).map(|v| v as u32).collect(),
        _ => Vec::new(),
    }
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::ModelFolder { path: path.to_path_buf(), message: format!("not valid JSON: {e}") })
}

impl ChatTokenizer {
    /// Reads `tokenizer.json`, `tokenizer_config.json` (the chat template and special tokens)
    /// and, when present, `generation_config.json` (more eos ids) from `dir`.
    pub fn load(dir: &Path) -> Result<ChatTokenizer> {
        let source = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::from_file(&source).map_err(|e| Error::ModelFolder {
            path: source.clone(),
            message: format!("cannot load the tokenizer: {e}"),
        })?;
        let config_path = dir.join("tokenizer_config.json");
        let config = read_json(&config_path)?.ok_or_else(|| Error::ModelFolder {
            path: config_path.clone(),
            message: "missing; the generator family needs the chat template it holds".into(),
        })?;
        let template_source = match config.get("chat_template") {
            Some(Value::String(s)) => s.clone(),
            // The list form: `[{"name": "default", "template": ...}, ...]`.
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t["name"] == "default")
                .or(list.first())
                .and_then(|t| t["template"].as_str())
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        let template_source = if template_source.is_empty() {
            // Newer folders keep the template in its own file.
            let jinja = dir.join("chat_template.jinja");
            std::fs::read_to_string(&jinja).map_err(|_| Error::ModelFolder {
                path: config_path.clone(),
                message: "no chat_template: fine-tuning a generator needs an instruct model with a chat template"
                    .into(),
            })?
        } else {
            template_source
        };
        let bos = config.get("bos_token").and_then(token_text).unwrap_or_default();
        let eos = config.get("eos_token").and_then(token_text).unwrap_or_default();
        let template = ChatTemplate::new(&template_source, &bos, &eos).map_err(|e| Error::ModelFolder {
            path: config_path.clone(),
            message: format!("the chat template does not parse: {e}"),
        })?;
        let mut eos_ids: Vec<u32> = tokenizer.token_to_id(&eos).into_iter().collect();
        if let Some(generation) = read_json(&dir.join("generation_config.json"))? {
            eos_ids.extend(ids_of(generation.get("eos_token_id")));
        }
        eos_ids.sort_unstable();
        eos_ids.dedup();
        if eos_ids.is_empty() {
            return Err(Error::ModelFolder {
                path: config_path,
                message: format!("the eos token {eos:?} is not in the tokenizer's vocabulary"),
            });
        }
        let pad_id =
            config.get("pad_token").and_then(token_text).and_then(|p| tokenizer.token_to_id(&p)).unwrap_or(eos_ids[0]);
        Ok(ChatTokenizer { tokenizer, template, eos_ids, pad_id, source })
    }

    fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.template
            .render(messages, add_generation_prompt)
            .map_err(|e| Error::Tokenizer(format!("the chat template failed: {e}")))
    }

    /// Token ids of `text`, special tokens as they are written in it.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The prompt ids of `messages`: the dialog rendered with the generation prompt.
    pub fn prompt_ids(&self, messages: &[Message]) -> Result<Vec<u32>> {
        self.tokenize(&self.render(messages, true)?)
    }

    /// Prompt and target ids of `messages` answered by `target`. The target's ids are what the
    /// template renders after the generation prompt for an assistant turn saying `target` (its
    /// closing eos token included); a template that does not render that way gets the target's
    /// own ids and the eos token.
    fn encode_full(&self, messages: &[Message], target: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let prompt = self.render(messages, true)?;
        let mut all = messages.to_vec();
        all.push(Message::new("assistant", target));
        let full = self.render(&all, false)?;
        let prompt_ids = self.tokenize(&prompt)?;
        let target_ids = match full.strip_prefix(&prompt) {
            Some(rest) if rest.contains(target) => self.tokenize(rest)?,
            _ => {
                let mut ids = self.tokenize(target)?;
                ids.push(self.eos_ids[0]);
                ids
            }
        };
        Ok((prompt_ids, target_ids))
    }

    /// Encodes `messages` answered by `target` in at most `max_len` tokens, dropping the oldest
    /// non-system turns (never the last one) while too long, then cutting the target's end.
    pub fn encode(&self, messages: &[Message], target: &str, max_len: usize) -> Result<Encoded> {
        let mut kept = messages.to_vec();
        let (mut prompt, mut target_ids) = self.encode_full(&kept, target)?;
        while prompt.len() + target_ids.len() > max_len {
            let oldest = kept[..kept.len().saturating_sub(1)].iter().position(|m| m.role != "system");
            let Some(i) = oldest else { break };
            kept.remove(i);
            (prompt, target_ids) = self.encode_full(&kept, target)?;
        }
        if prompt.len() + target_ids.len() > max_len {
            // Still too long: the prompt keeps its end (the generation prompt), leaving at least
            // half of the room to the target, which loses its end.
            let room_for_prompt = max_len.saturating_sub(target_ids.len().min(max_len / 2));
            if prompt.len() > room_for_prompt {
                prompt.drain(..prompt.len() - room_for_prompt);
            }
            target_ids.truncate(max_len - prompt.len());
        }
        let target_start = prompt.len();
        prompt.extend(target_ids);
        Ok(Encoded { ids: prompt, target_start })
    }
}
