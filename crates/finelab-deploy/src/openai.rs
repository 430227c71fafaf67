//! The request and response shapes of OpenAI's API that the generator routes speak: chat
//! completions, completions, their streamed chunks and the model list. Fields a client may send
//! and this server does not use (penalties, `user`, `logit_bias`...) are accepted and ignored;
//! those whose meaning it cannot honour (`n` above 1, `echo`, tools) are refused.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::generation::FinishReason;

/// `stop`: one string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct StreamOptions {
    /// Send a last chunk with the token counts.
    #[serde(default)]
    pub(crate) include_usage: bool,
}

/// The options both routes share.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SamplingParams {
    pub(crate) max_tokens: Option<i64>,
    pub(crate) max_completion_tokens: Option<i64>,
    pub(crate) temperature: Option<f64>,
    pub(crate) top_p: Option<f64>,
    pub(crate) stop: Option<Stop>,
    pub(crate) seed: Option<i64>,
    pub(crate) n: Option<i64>,
    pub(crate) stream: Option<bool>,
    pub(crate) stream_options: Option<StreamOptions>,
}

/// A message's `content`: text, or a list of parts of which only text ones are taken.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One part of a message's content.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

/// One message of `messages`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatMessage {
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) content: Option<Content>,
}

impl ChatMessage {
    /// The text of the message: its content, or its text parts joined.
    pub(crate) fn text(&self) -> Result<String, ApiError> {
        match &self.content {
            None => Ok(String::new()),
            Some(Content::Text(text)) => Ok(text.clone()),
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(ApiError::BadRequest(format!(
                                "content parts of type {kind:?} are not supported: this model reads text"
                            )))
                        }
                    }
                }
                Ok(text)
            }
        }
    }
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatRequest {
    pub(crate) model: Option<String>,
    pub(crate) messages: Vec<ChatMessage>,
    #[serde(flatten)]
    pub(crate) params: SamplingParams,
    pub(crate) tools: Option<Value>,
}

/// `prompt`: one text or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Prompt {
    One(String),
    Many(Vec<String>),
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CompletionRequest {
    pub(crate) model: Option<String>,
    pub(crate) prompt: Prompt,
    #[serde(flatten)]
    pub(crate) params: SamplingParams,
    pub(crate) echo: Option<bool>,
}

/// The token counts of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: usize,
    pub(crate) completion_tokens: usize,
}

impl Usage {
    pub(crate) fn json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        })
    }
}

/// A finished choice.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub(crate) text: String,
    pub(crate) finish: FinishReason,
}

/// Which route a response is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Chat,
    Completion,
}

/// What every response and chunk of one request carries.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) route: Route,
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
}

impl Header {
    fn object(&self, chunk: bool) -> &'static str {
        match (self.route, chunk) {
            (Route::Chat, false) => "chat.completion",
            (Route::Chat, true) => "chat.completion.chunk",
            (Route::Completion, _) => "text_completion",
        }
    }

    fn wrap(&self, chunk: bool, choices: Vec<Value>) -> Value {
        json!({
            "id": self.id,
            "object": self.object(chunk),
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        })
    }

    /// The whole response.
    pub(crate) fn response(&self, choices: &[Choice], usage: Usage) -> Value {
        let choices = choices
            .iter()
            .enumerate()
            .map(|(index, c)| match self.route {
                Route::Chat => json!({
                    "index": index,
                    "message": {"role": "assistant", "content": c.text},
                    "logprobs": null,
                    "finish_reason": c.finish.as_str(),
                }),
                Route::Completion => json!({
                    "index": index,
                    "text": c.text,
                    "logprobs": null,
                    "finish_reason": c.finish.as_str(),
                }),
            })
            .collect();
        let mut value = self.wrap(false, choices);
        value["usage"] = usage.json();
        value
    }

    /// The first chunk of a chat stream: the assistant's role.
    pub(crate) fn role_chunk(&self, index: usize) -> Value {
        self.wrap(
            true,
            vec![json!({"index": index, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null})],
        )
    }

    /// A chunk of more text of choice `index`.
    pub(crate) fn text_chunk(&self, index: usize, text: &str) -> Value {
        let choice = match self.route {
            Route::Chat => json!({"index": index, "delta": {"content": text}, "logprobs": null, "finish_reason": null}),
            Route::Completion => json!({"index": index, "text": text, "logprobs": null, "finish_reason": null}),
        };
        self.wrap(true, vec![choice])
    }

    /// The chunk that ends choice `index`.
    pub(crate) fn finish_chunk(&self, index: usize, finish: FinishReason) -> Value {
        let choice = match self.route {
            Route::Chat => json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": finish.as_str()}),
            Route::Completion => {
                json!({"index": index, "text": "", "logprobs": null, "finish_reason": finish.as_str()})
            }
        };
        self.wrap(true, vec![choice])
    }

    /// The last chunk when `stream_options.include_usage` is set: no choices, the token counts.
    pub(crate) fn usage_chunk(&self, usage: Usage) -> Value {
        let mut value = self.wrap(true, Vec::new());
        value["usage"] = usage.json();
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_as_clients_send_them() {
        let chat: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": null}
            ],
            "max_tokens": 5, "temperature": 0, "stop": "\n", "stream": true, "frequency_penalty": 0, "user": "x"
        }))
        .unwrap();
        assert_eq!(chat.messages[1].text().unwrap(), "hi there");
        assert_eq!(chat.messages[2].text().unwrap(), "");
        assert_eq!(chat.params.stop.unwrap().into_vec(), ["\n"]);
        assert_eq!(chat.params.stream, Some(true));
        let completion: CompletionRequest =
            serde_json::from_value(json!({"model": "m", "prompt": ["a", "b"], "stop": ["x", "y"]})).unwrap();
        assert!(matches!(completion.prompt, Prompt::Many(ref p) if p.len() == 2));
        let image: ChatMessage =
            serde_json::from_value(json!({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}))
                .unwrap();
        assert!(image.text().is_err());
    }
}
