//! `finelab serve-model`: Finelab model folders served over HTTP.
//!
//! - Classifiers and taggers (`instant`, `transformer`): `POST /v1/classify` and `POST /v1/tag`
//!   take `{"model"?, "texts": [...]}` and answer `{"model", "results": [...]}`, one
//!   [`Prediction`](finelab_train::Prediction) a text as `finelab predict` writes it (labels and
//!   scores; spans in code points).
//! - Generators: OpenAI's `POST /v1/chat/completions` and `POST /v1/completions` (streamed as
//!   Server-Sent Events, token by token, or not) and `GET /v1/models`, so OpenAI's clients work
//!   unchanged.
//! - `GET /health` and Prometheus' `GET /metrics`.
//!
//! Each model has a bounded queue and one worker that batches what waits (dynamic batching,
//! [`queue`]); a full queue answers 429 and a stopping server 503, with OpenAI's error JSON.
//! Bodies and texts a request are limited. The server listens on loopback by default; on any other
//! address every request needs the token (one is generated when none is given), on loopback only
//! when one was given.
#![deny(missing_docs)]

mod conn;
pub mod error;
mod generation;
mod guard;
mod metrics;
pub mod models;
mod openai;
pub mod queue;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use error::{ApiError, DeployError};
pub use models::{ModelInfo, ModelKind, ModelSpec};

use crate::models::Loaded;
use crate::queue::BatchSettings;
use crate::routes::{Backend, RequestLimits, Served, Shared};

/// The address `finelab serve-model` binds when given none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";

/// How to run the model server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The models, each under its name.
    pub models: Vec<ModelSpec>,
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The token requests must carry (`Authorization: Bearer`). `None`: none on loopback, a
    /// generated one on any other address.
    pub token: Option<String>,
    /// Most texts (classifiers, taggers) or sequences (generators) a batch.
    pub max_batch: usize,
    /// Longest a batch waits for requests on their way (while fewer came than to the last one).
    pub batch_wait: Duration,
    /// Requests that may wait for each model before more are refused with 429.
    pub queue: usize,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most texts (or prompts) a request.
    pub max_texts: usize,
    /// Where generators run: `auto`, `cpu`, `cuda`, `metal`.
    pub device: String,
    /// How long a client may take to send a request's headers, and a body.
    pub read_timeout: Duration,
    /// Connections served at once; more wait until one closes.
    pub max_connections: usize,
    /// Sleeps this long before each batch: a test hook that lets a test fill a queue.
    #[doc(hidden)]
    pub pause_each_batch: Option<Duration>,
    /// Called with every batch a classifier or tagger answered (`finelab serve-model --log-to`
    /// keeps them in a project); it runs on the batch's thread, so it should only hand them on.
    pub on_served: Option<ServedHook>,
}

/// What [`ServeConfig::on_served`] calls: the model's name, the texts and their predictions.
#[derive(Clone)]
pub struct ServedHook(pub std::sync::Arc<ServedFn>);

/// The function of a [`ServedHook`].
pub type ServedFn = dyn Fn(&str, &[String], &[finelab_train::Prediction]) + Send + Sync;

impl std::fmt::Debug for ServedHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServedHook")
    }
}

impl ServeConfig {
    /// The defaults for `models`: 127.0.0.1:8000, batches of 32 waiting at most 5 ms, 256
    /// requests queued a model, bodies up to 8 MiB with 1024 texts.
    pub fn new(models: Vec<ModelSpec>) -> ServeConfig {
        ServeConfig {
            models,
            addr: DEFAULT_ADDR.parse().expect("the default address parses"),
            token: None,
            max_batch: 32,
            batch_wait: Duration::from_millis(5),
            queue: 256,
            max_body_bytes: 8 << 20,
            max_texts: 1024,
            device: "auto".into(),
            read_timeout: Duration::from_secs(20),
            max_connections: 1024,
            pause_each_batch: None,
            on_served: None,
        }
    }
}

/// How long a stopping server waits for open connections (streams being generated).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A server bound to its address with its models loaded, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    access: Arc<guard::Access>,
    local_addr: SocketAddr,
    limits: conn::ConnLimits,
}

impl Server {
    /// Checks `config`, loads its models (on tokio's blocking pool), starts their workers and
    /// binds the address. Must run inside a tokio runtime.
    pub async fn bind(config: ServeConfig) -> Result<Server, DeployError> {
        check(&config)?;
        let token = match (config.token.clone(), config.addr.ip().is_loopback()) {
            (Some(t), _) => Some(validate_token(t)?),
            (None, true) => None,
            (None, false) => Some(generate_token()?),
        };
        let specs = config.models.clone();
        let device = config.device.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            specs.iter().map(|spec| models::load(spec, &device)).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| DeployError::Invalid(format!("loading the models failed: {e}")))??;
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| DeployError::Bind { addr: config.addr, source })?;
        let local_addr = listener.local_addr()?;
        let metrics = Arc::new(metrics::Metrics::default());
        let settings =
            BatchSettings { max_batch: config.max_batch, wait: config.batch_wait, pause: config.pause_each_batch };
        let served = loaded
            .into_iter()
            .map(|(info, model)| {
                let backend = match model {
                    Loaded::Predictor(p) => Backend::Predict(queue::spawn_predictor(
                        &info.name,
                        p,
                        settings,
                        config.queue,
                        metrics.clone(),
                        config.on_served.clone(),
                    )),
                    Loaded::Generator(g) => Backend::Generate {
                        queue: generation::spawn_generator(
                            &info.name,
                            g.clone(),
                            settings,
                            config.queue,
                            metrics.clone(),
                        ),
                        model: g,
                    },
                };
                Served { info, backend }
            })
            .collect();
        let access = Arc::new(guard::Access { token, loopback_hosts_only: local_addr.ip().is_loopback() });
        let shared = Arc::new(Shared {
            models: served,
            limits: RequestLimits {
                max_body_bytes: config.max_body_bytes,
                max_texts: config.max_texts,
                body_timeout: config.read_timeout,
            },
            metrics,
            shutting_down: AtomicBool::new(false),
            started: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        });
        let limits = conn::ConnLimits {
            header_read_timeout: config.read_timeout,
            max_connections: config.max_connections,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        Ok(Server { listener, shared, access, local_addr, limits })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The token requests must carry, when one is needed.
    pub fn token(&self) -> Option<&str> {
        self.access.token.as_deref()
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The models served.
    pub fn models(&self) -> Vec<ModelInfo> {
        self.shared.models.iter().map(|m| m.info.clone()).collect()
    }

    /// Serves until `shutdown` completes; then new requests get 503 and open connections a few
    /// seconds to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), DeployError> {
        let shared = self.shared.clone();
        let stopping = async move {
            shutdown.await;
            shared.shutting_down.store(true, Ordering::SeqCst);
        };
        let router = routes::router(self.shared.clone())
            .layer(axum::middleware::from_fn_with_state(self.access.clone(), guard::guard))
            .layer(axum::middleware::from_fn_with_state(self.shared.metrics.clone(), metrics::count));
        Ok(conn::serve(self.listener, router, self.limits, stopping).await?)
    }
}

/// A model server running on a thread of its own ([`spawn`]): its address, and the handle that
/// stops it.
pub struct Running {
    /// `http://ADDR`.
    pub base_url: String,
    /// The token requests must carry, when one is needed.
    pub token: Option<String>,
    /// The models served.
    pub models: Vec<ModelInfo>,
    metrics: Arc<metrics::Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), DeployError>>>,
}

impl Running {
    /// Requests to the model routes so far: all of them, and those answered with success.
    pub fn requests(&self) -> (u64, u64) {
        self.metrics.model_requests()
    }

    /// Stops serving (open streams get a few seconds) and waits for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Loads the models and binds on a thread with a runtime of its own, and returns once the server
/// serves (or why it could not start): a model server a long-lived program (the window, `finelab
/// serve`) starts and stops.
pub fn spawn(config: ServeConfig) -> Result<Running, DeployError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("finelab-model-server".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let result = runtime.block_on(async {
            let server = match Server::bind(config).await {
                Ok(server) => server,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return Ok(());
                }
            };
            let _ = ready_tx.send(Ok((
                server.base_url(),
                server.token().map(str::to_string),
                server.models(),
                server.shared.metrics.clone(),
            )));
            server
                .run(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
        result
    })?;
    match ready_rx.recv() {
        Ok(Ok((base_url, token, models, metrics))) => {
            Ok(Running { base_url, token, models, metrics, stop: Some(stop_tx), thread: Some(thread) })
        }
        Ok(Err(message)) => {
            let _ = thread.join();
            Err(DeployError::Invalid(message))
        }
        Err(_) => match thread.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(DeployError::Invalid("the model server's thread ended before it served".into())),
        },
    }
}

/// Binds, calls `ready` (to print the address), and serves until Ctrl+C, on a runtime of its
/// own: what `finelab serve-model` runs.
pub fn serve_blocking(config: ServeConfig, ready: impl FnOnce(&Server)) -> Result<(), DeployError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let server = Server::bind(config).await?;
        ready(&server);
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

fn check(config: &ServeConfig) -> Result<(), DeployError> {
    let bad = |m: String| Err(DeployError::Invalid(m));
    if config.models.is_empty() {
        return bad("no model to serve: give at least one model folder".into());
    }
    let mut names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return bad(format!("two models are named {:?}; name them apart with NAME=DIR", pair[0]));
    }
    if !(1..=4096).contains(&config.max_batch) {
        return bad(format!("--max-batch {}: 1 to 4096", config.max_batch));
    }
    if config.batch_wait > Duration::from_secs(10) {
        return bad("--batch-wait-ms: at most 10000".into());
    }
    if !(1..=1_000_000).contains(&config.queue) {
        return bad(format!("--queue {}: 1 to 1000000", config.queue));
    }
    if config.max_body_bytes < 1024 || config.max_texts == 0 {
        return bad("--max-body-bytes: at least 1024; --max-texts: at least 1".into());
    }
    Ok(())
}

/// A token goes into headers as it is: URL-safe characters only, and long enough.
fn validate_token(token: String) -> Result<String, DeployError> {
    let ok_chars = token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if !ok_chars {
        return Err(DeployError::BadToken("the token may hold only letters, digits, '-', '_', '.' and '~'".into()));
    }
    if !(8..=256).contains(&token.len()) {
        return Err(DeployError::BadToken(format!("the token must be 8 to 256 characters long, got {}", token.len())));
    }
    Ok(token)
}

/// 128 random bits as 32 hex characters.
fn generate_token() -> Result<String, DeployError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| DeployError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let token = generate_token().unwrap();
        assert_eq!(token.len(), 32);
        assert_ne!(token, generate_token().unwrap());
        assert!(validate_token("abc123-_.~xyz".into()).is_ok());
        assert!(validate_token("short".into()).is_err());
        assert!(validate_token("has space in it".into()).is_err());
    }
}
