//! The routes: `/v1/classify` and `/v1/tag` for classifiers and taggers, OpenAI's
//! `/v1/chat/completions`, `/v1/completions` and `/v1/models` for generators, `/health` and
//! `/metrics`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use finelab_train::generator::template::Message;
use finelab_train::generator::GeneratorModel;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::generation::{GenEvent, GenJob, Sampling};
use crate::metrics::Metrics;
use crate::models::{ModelInfo, ModelKind};
use crate::openai::{ChatRequest, Choice, CompletionRequest, Header, Prompt, Route, SamplingParams, Usage};
use crate::queue::{PredictJob, Queue};

/// How much of a body beyond the limit is read (and dropped) before the 413 is sent.
const DRAIN_LIMIT: usize = 64 << 20;

/// What a request may send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    /// The largest body, in bytes.
    pub(crate) max_body_bytes: usize,
    /// Most texts (or prompts) a request.
    pub(crate) max_texts: usize,
    /// How long the body may take to arrive.
    pub(crate) body_timeout: Duration,
}

/// How a served model is reached.
pub(crate) enum Backend {
    /// A classifier or tagger's queue.
    Predict(Queue<PredictJob>),
    /// A generator's queue, and the model for its chat template and tokenizer.
    Generate { queue: Queue<GenJob>, model: Arc<GeneratorModel> },
}

/// A served model.
pub(crate) struct Served {
    pub(crate) info: ModelInfo,
    pub(crate) backend: Backend,
}

/// What the handlers share.
pub(crate) struct Shared {
    pub(crate) models: Vec<Served>,
    pub(crate) limits: RequestLimits,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutting_down: AtomicBool,
    /// When the server started (`created` of the models in `/v1/models`).
    pub(crate) started: u64,
}

type AppState = State<Arc<Shared>>;

impl Shared {
    /// The model a request names, or the only one of the kinds the route serves.
    fn pick(&self, name: Option<&str>, kinds: &[ModelKind], what: &str) -> Result<&Served, ApiError> {
        if let Some(name) = name {
            let served = self.models.iter().find(|m| m.info.name == name).ok_or_else(|| {
                ApiError::ModelNotFound(format!("no model named {name:?} is served ({})", self.names()))
            })?;
            if !kinds.contains(&served.info.kind) {
                return Err(ApiError::BadRequest(format!(
                    "model {name:?} is not {what}; it answers at {}",
                    served.info.kind.route()
                )));
            }
            return Ok(served);
        }
        let mut fitting = self.models.iter().filter(|m| kinds.contains(&m.info.kind));
        match (fitting.next(), fitting.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(ApiError::ModelNotFound(format!("no {what} is served ({})", self.names()))),
            (Some(_), Some(_)) => Err(ApiError::BadRequest(format!(
                "several models are {what}s: name one with \"model\" ({})",
                self.names()
            ))),
        }
    }

    fn names(&self) -> String {
        let names: Vec<String> = self.models.iter().map(|m| format!("{:?}", m.info.name)).collect();
        format!("served: {}", names.join(", "))
    }

    fn check_open(&self) -> Result<(), ApiError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            Err(ApiError::ShuttingDown)
        } else {
            Ok(())
        }
    }
}

/// The routes over `shared` (the access check and the request counts are layered on by the
/// caller).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(list_models))
        .route("/v1/classify", post(classify))
        .route("/v1/tag", post(tag))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .fallback(|request: Request| async move {
            ApiError::NoRoute(format!("{} {}", request.method(), request.uri().path()))
        })
        .with_state(shared)
}

/// Reads the body, within the size and time limits, as JSON of `T`.
async fn read_json<T: DeserializeOwned>(shared: &Shared, body: Body) -> Result<T, ApiError> {
    let limit = shared.limits.max_body_bytes;
    let read = async {
        let mut bytes = Vec::new();
        let mut stream = body.into_data_stream();
        let mut too_large = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
            if too_large > 0 || bytes.len() + chunk.len() > limit {
                // The rest is read and dropped (up to a bound), so that a client still sending
                // gets to read the 413 instead of a reset connection.
                too_large += chunk.len();
                if too_large > DRAIN_LIMIT {
                    break;
                }
                continue;
            }
            bytes.extend_from_slice(&chunk);
        }
        if too_large > 0 {
            return Err(ApiError::TooLarge(format!("the body is larger than {limit} bytes (--max-body-bytes)")));
        }
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(shared.limits.body_timeout, read).await.map_err(|_| {
        ApiError::Timeout(format!("the body did not arrive within {} s", shared.limits.body_timeout.as_secs()))
    })??;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not the JSON this route takes: {e}")))
}

async fn health(State(shared): AppState) -> Response {
    let models: Vec<&ModelInfo> = shared.models.iter().map(|m| &m.info).collect();
    if shared.shutting_down.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "shutting_down", "models": models}))).into_response()
    } else {
        Json(json!({"status": "ok", "models": models})).into_response()
    }
}

async fn metrics(State(shared): AppState) -> Response {
    let queues: Vec<(String, usize, usize)> = shared
        .models
        .iter()
        .map(|m| {
            let (depth, capacity) = match &m.backend {
                Backend::Predict(q) => (q.depth(), q.capacity()),
                Backend::Generate { queue, .. } => (queue.depth(), queue.capacity()),
            };
            (m.info.name.clone(), depth, capacity)
        })
        .collect();
    let text = shared.metrics.render(&queues);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn list_models(State(shared): AppState) -> Json<Value> {
    let data: Vec<Value> = shared
        .models
        .iter()
        .map(|m| json!({"id": m.info.name, "object": "model", "created": shared.started, "owned_by": "finelab"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// `{"model"?, "texts": [...]}`.
#[derive(Debug, Deserialize)]
struct PredictRequest {
    model: Option<String>,
    texts: Vec<String>,
}

async fn classify(State(shared): AppState, body: Body) -> Result<Json<Value>, ApiError> {
    predict(&shared, body, &[ModelKind::Single, ModelKind::Multi], "a classifier").await
}

async fn tag(State(shared): AppState, body: Body) -> Result<Json<Value>, ApiError> {
    predict(&shared, body, &[ModelKind::Spans], "a span tagger").await
}

async fn predict(shared: &Shared, body: Body, kinds: &[ModelKind], what: &str) -> Result<Json<Value>, ApiError> {
    let request: PredictRequest = read_json(shared, body).await?;
    let served = shared.pick(request.model.as_deref(), kinds, what)?;
    let Backend::Predict(queue) = &served.backend else { unreachable!("kinds of predictors only") };
    if request.texts.is_empty() {
        return Err(ApiError::BadRequest("\"texts\" is empty: give at least one text".into()));
    }
    if request.texts.len() > shared.limits.max_texts {
        return Err(ApiError::TooLarge(format!(
            "{} texts in one request; at most {} (--max-texts)",
            request.texts.len(),
            shared.limits.max_texts
        )));
    }
    shared.check_open()?;
    let (reply, answer) = oneshot::channel();
    queue.submit(PredictJob { texts: request.texts, reply })?;
    let predictions = answer.await.map_err(|_| ApiError::ShuttingDown)??;
    Ok(Json(json!({"model": served.info.name, "results": predictions})))
}

/// A fresh id with `prefix` (`chatcmpl-`, `cmpl-`).
fn request_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    format!("{prefix}{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The generation a request asks for, checked.
struct Asked {
    max_tokens: usize,
    stop: Vec<String>,
    sampling: Option<Sampling>,
    stream: bool,
    include_usage: bool,
}

/// Checks the sampling parameters against `prompts` and the model's context. `default_max`:
/// tokens when the request names none (`None`: the rest of the context).
fn asked(
    params: SamplingParams,
    model: &GeneratorModel,
    prompts: &[Vec<u32>],
    default_max: Option<usize>,
) -> Result<Asked, ApiError> {
    if params.n.is_some_and(|n| n != 1) {
        return Err(ApiError::BadRequest("only n=1 is supported; send several requests (they are batched)".into()));
    }
    let temperature = params.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::BadRequest(format!("temperature {temperature} is not between 0 and 2")));
    }
    let top_p = params.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ApiError::BadRequest(format!("top_p {top_p} is not in (0, 1]")));
    }
    let stop = params.stop.map(|s| s.into_vec()).unwrap_or_default();
    if stop.len() > 4 || stop.iter().any(String::is_empty) {
        return Err(ApiError::BadRequest("stop: at most 4 strings, none empty".into()));
    }
    let context = model.model.max_positions();
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if longest == 0 {
        return Err(ApiError::BadRequest("the prompt is empty".into()));
    }
    if longest >= context {
        return Err(ApiError::ContextLength(format!(
            "the prompt has {longest} tokens; this model's context is {context}"
        )));
    }
    let room = context - longest;
    let max_tokens = match params.max_completion_tokens.or(params.max_tokens) {
        Some(n) if n < 1 => return Err(ApiError::BadRequest(format!("max_tokens {n}: at least 1"))),
        Some(n) if n as u64 > room as u64 => {
            return Err(ApiError::ContextLength(format!(
                "this model's context is {context} tokens; the prompt has {longest} and {n} more were asked for"
            )))
        }
        Some(n) => n as usize,
        None => default_max.unwrap_or(room).min(room),
    };
    let sampling = (temperature > 0.0).then(|| Sampling {
        temperature,
        top_p,
        seed: params.seed.map(|s| s as u64).unwrap_or_else(|| {
            let mut bytes = [0u8; 8];
            let _ = getrandom::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        }),
    });
    let stream = params.stream.unwrap_or(false);
    let include_usage = params.stream_options.is_some_and(|o| o.include_usage);
    Ok(Asked { max_tokens, stop, sampling, stream, include_usage })
}

async fn chat_completions(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let request: ChatRequest = read_json(&shared, body).await?;
    let served = shared.pick(request.model.as_deref(), &[ModelKind::Generate], "a generator")?;
    if request.tools.is_some() {
        return Err(ApiError::BadRequest("tools are not supported by this server".into()));
    }
    if request.messages.is_empty() {
        return Err(ApiError::BadRequest("\"messages\" is empty".into()));
    }
    let messages = request
        .messages
        .iter()
        .map(|m| {
            // OpenAI's newer name for the system prompt.
            let role = if m.role == "developer" { "system" } else { m.role.as_str() };
            Ok(Message::new(role, &m.text()?))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let Backend::Generate { model, .. } = &served.backend else { unreachable!("generators only") };
    let prompt = model.tokenizer.prompt_ids(&messages).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let header =
        Header { route: Route::Chat, id: request_id("chatcmpl-"), created: now(), model: served.info.name.clone() };
    generate(&shared, served, vec![prompt], request.params, None, header).await
}

async fn completions(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let request: CompletionRequest = read_json(&shared, body).await?;
    let served = shared.pick(request.model.as_deref(), &[ModelKind::Generate], "a generator")?;
    if request.echo == Some(true) {
        return Err(ApiError::BadRequest("echo is not supported by this server".into()));
    }
    let prompts = match request.prompt {
        Prompt::One(p) => vec![p],
        Prompt::Many(p) => p,
    };
    if prompts.is_empty() || prompts.len() > shared.limits.max_texts {
        return Err(ApiError::BadRequest(format!("1 to {} prompts a request (--max-texts)", shared.limits.max_texts)));
    }
    let Backend::Generate { model, .. } = &served.backend else { unreachable!("generators only") };
    let prompts = prompts
        .iter()
        .map(|p| model.tokenizer.tokenize(p).map_err(|e| ApiError::BadRequest(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let header =
        Header { route: Route::Completion, id: request_id("cmpl-"), created: now(), model: served.info.name.clone() };
    // OpenAI's completions default to 16 tokens.
    generate(&shared, served, prompts, request.params, Some(16), header).await
}

/// Queues the prompts and answers with the whole response, or with a stream of chunks.
async fn generate(
    shared: &Shared,
    served: &Served,
    prompts: Vec<Vec<u32>>,
    params: SamplingParams,
    default_max: Option<usize>,
    header: Header,
) -> Result<Response, ApiError> {
    let Backend::Generate { queue, model } = &served.backend else { unreachable!("generators only") };
    let asked = asked(params, model, &prompts, default_max)?;
    let n_choices = prompts.len();
    shared.check_open()?;
    let (events, mut received) = mpsc::unbounded_channel();
    let (stream, include_usage) = (asked.stream, asked.include_usage);
    queue.submit(GenJob {
        prompts,
        max_tokens: asked.max_tokens,
        stop: asked.stop,
        sampling: asked.sampling,
        stream,
        events,
        context: model.model.max_positions(),
    })?;
    if !stream {
        let mut choices: Vec<Option<Choice>> = vec![None; n_choices];
        let mut usage = Usage::default();
        while choices.iter().any(Option::is_none) {
            match received.recv().await {
                Some(GenEvent::Done { index, text, finish, prompt_tokens, completion_tokens }) => {
                    usage.prompt_tokens += prompt_tokens;
                    usage.completion_tokens += completion_tokens;
                    choices[index] = Some(Choice { text, finish });
                }
                Some(GenEvent::Delta { .. }) => {}
                Some(GenEvent::Failed(e)) => return Err(e),
                None => return Err(ApiError::ShuttingDown),
            }
        }
        let choices: Vec<Choice> = choices.into_iter().flatten().collect();
        return Ok(Json(header.response(&choices, usage)).into_response());
    }
    // The events become Server-Sent Events on a channel of their own: when the client goes
    // away, the body and its receiver drop, this task ends, and the worker sees the job's
    // channel closed and stops its rows.
    let (lines, body_lines) = mpsc::channel::<String>(64);
    tokio::spawn(async move {
        let data = |value: Value| format!("data: {value}\n\n");
        if header.route == Route::Chat {
            for index in 0..n_choices {
                if lines.send(data(header.role_chunk(index))).await.is_err() {
                    return;
                }
            }
        }
        let (mut open, mut usage) = (n_choices, Usage::default());
        while open > 0 {
            let line = match received.recv().await {
                Some(GenEvent::Delta { index, text }) => data(header.text_chunk(index, &text)),
                Some(GenEvent::Done { index, finish, prompt_tokens, completion_tokens, .. }) => {
                    open -= 1;
                    usage.prompt_tokens += prompt_tokens;
                    usage.completion_tokens += completion_tokens;
                    data(header.finish_chunk(index, finish))
                }
                Some(GenEvent::Failed(e)) => {
                    let _ = lines.send(data(e.body())).await;
                    break;
                }
                None => {
                    let _ = lines.send(data(ApiError::ShuttingDown.body())).await;
                    break;
                }
            };
            if lines.send(line).await.is_err() {
                return;
            }
        }
        if include_usage && open == 0 {
            let _ = lines.send(data(header.usage_chunk(usage))).await;
        }
        let _ = lines.send("data: [DONE]\n\n".to_string()).await;
    });
    let body = futures_util::stream::unfold(body_lines, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    Ok(([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(body))
        .into_response())
}
