//! `finelab serve`: the application API ([`finelab_app::api`]) and the web UI over HTTP.
//!
//! This crate only wires finelab-app to HTTP, the way `src-tauri` wires it to a window:
//!
//! - `POST /api` takes a [`Request`](finelab_app::api::Request) as JSON and answers with the JSON
//!   that [`AppContext::handle`] returns, or a non-2xx status and an [`ErrorBody`].
//! - `GET /api/jobs/{id}/events` streams a job's [`JobState`](finelab_app::api::JobState)s as
//!   Server-Sent Events until the job is over.
//! - `POST /api/upload?name=FILE` saves the raw body under the project's `uploads/` folder, so a
//!   browser can import a file it cannot name by path.
//! - Every other `GET` serves the built UI (`ui/dist`, embedded in release builds).
//!
//! Every call into [`AppContext`] blocks (SQLite), so it runs on tokio's blocking pool.
//!
//! Security: the API reads and writes files as the user who started the server, so every `/api`
//! request must carry the server's access token (generated when none is given, printed in the URL
//! `finelab serve` shows), also on 127.0.0.1, where other accounts of the same machine can
//! connect. The page opened with `?token=` sets it as a cookie, so reloads and new tabs keep
//! working. Requests from a page of another origin (CSRF) and, on a loopback address, requests that
//! name the server by a non-loopback host (DNS rebinding) are refused, and paths in requests must
//! lie inside the project folder or a folder given with `--allow-dir`.
//!
//! Limits: a client has a while to send its headers, a request body that stalls fails, and
//! connections beyond a maximum wait; responses (job event streams) may take as long as they take.
#![deny(missing_docs)]

mod guard;
mod handlers;
mod limits;
mod paths;
mod roles;
mod sessions;
mod signin;
mod ui;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use finelab_app::api::AppContext;
use finelab_app::ErrorBody;
use finelab_app::ErrorCode;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use limits::{DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
pub use upload::sanitize_file_name;

/// The address `finelab serve` binds when given none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// How long a sign-in lasts by default: a working day.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The largest upload accepted by default (2 GiB).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 2 << 30;

/// The largest `POST /api` body (a request, not a file: files travel by upload).
const API_BODY_LIMIT: usize = 16 << 20;

/// How long a stopping server waits for open connections (event streams) before it closes them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The project the server is started on (it need not exist yet: the UI can create it).
    /// Uploads are saved in its `uploads/` folder; without one, in a temporary folder.
    pub project_dir: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The access token every API request must carry; one is generated when this is `None`.
    pub token: Option<String>,
    /// Folders besides the project folder in which requests may name paths (files to import,
    /// projects to open or create, folders to export to).
    pub allowed_dirs: Vec<PathBuf>,
    /// Where the recent-projects list is kept (`None`: not kept).
    pub config_dir: Option<PathBuf>,
    /// Serve the UI from this folder instead of the one built into the program.
    pub ui_dir: Option<PathBuf>,
    /// The largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// How long a client may take to send a request's headers before its connection is closed.
    pub header_read_timeout: Duration,
    /// How long a request body (an upload) may send nothing before the request fails.
    pub body_idle_timeout: Duration,
    /// Connections served at once; more wait until one closes.
    pub max_connections: usize,
    /// How long a sign-in lasts (people added with `finelab user add`).
    pub session_ttl: Duration,
}

impl ServerConfig {
    /// The defaults: 127.0.0.1:7878, a generated token, only the project folder, the platform's
    /// config folder, the built-in UI, the default limits.
    pub fn new(project_dir: Option<PathBuf>) -> ServerConfig {
        ServerConfig {
            project_dir,
            addr: DEFAULT_ADDR.parse().expect("the default address parses"),
            token: None,
            allowed_dirs: Vec::new(),
            config_dir: AppContext::default_config_dir(),
            ui_dir: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            session_ttl: DEFAULT_SESSION_TTL,
        }
    }
}

/// Errors of starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound (in use, not an address of this machine, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The given token cannot be used.
    #[error("{0}")]
    BadToken(String),
    /// The system's random source failed while making a token.
    #[error("cannot make an access token: {0}")]
    Random(String),
    /// Serving failed, or the async runtime could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// State shared by the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) ctx: Arc<AppContext>,
    pub(crate) token: Arc<str>,
    /// The cookie that carries the token for pages of this server (named by its port: browsers
    /// share cookies between the ports of one host).
    pub(crate) cookie_name: Arc<str>,
    /// Refuse requests whose `Host` is not a loopback name (a loopback server named by another
    /// name is reached through DNS rebinding).
    pub(crate) loopback_hosts_only: bool,
    pub(crate) allowed_roots: Arc<paths::AllowedRoots>,
    pub(crate) uploads_dir: PathBuf,
    pub(crate) max_upload_bytes: u64,
    pub(crate) ui: Arc<ui::UiSource>,
    /// The project the server was started on (people sign in to it).
    pub(crate) project_dir: Option<PathBuf>,
    /// Who is signed in.
    pub(crate) sessions: Arc<sessions::Sessions>,
    /// The cookie that carries a session (named by the port, as the token's).
    pub(crate) session_cookie: Arc<str>,
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    local_addr: SocketAddr,
    token: String,
    project_dir: Option<PathBuf>,
    limits: limits::Limits,
}

impl Server {
    /// Validates `config`, binds its address and builds the routes.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServeError> {
        let token = match config.token {
            Some(t) => validate_token(t)?,
            None => generate_token()?,
        };
        let project_dir = config.project_dir.as_deref().map(absolute);
        let uploads_dir = match &project_dir {
            Some(dir) => dir.join("uploads"),
            None => std::env::temp_dir().join("finelab-uploads"),
        };
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind { addr: config.addr, source })?;
        let local_addr = listener.local_addr()?;
        let roots = project_dir.iter().cloned().chain([uploads_dir.clone()]).chain(config.allowed_dirs);
        let state = AppState {
            ctx: Arc::new(AppContext::new(config.config_dir, project_dir.clone())),
            token: Arc::from(token.as_str()),
            cookie_name: Arc::from(format!("finelab_token_{}", local_addr.port())),
            loopback_hosts_only: local_addr.ip().is_loopback(),
            allowed_roots: Arc::new(paths::AllowedRoots::new(roots)),
            uploads_dir,
            max_upload_bytes: config.max_upload_bytes,
            ui: Arc::new(ui::UiSource::new(config.ui_dir)),
            project_dir: project_dir.clone(),
            sessions: Arc::new(sessions::Sessions::new(config.session_ttl)),
            session_cookie: Arc::from(format!("finelab_session_{}", local_addr.port())),
        };
        let limits = limits::Limits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            shutdown_grace: SHUTDOWN_GRACE,
        };
        let router = router(state, config.body_idle_timeout);
        Ok(Server { listener, router, local_addr, token, project_dir, limits })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The access token every API request must carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The address to open in a browser, with its `?token=`.
    pub fn url(&self) -> String {
        format!("http://{}/?token={}", self.local_addr, self.token)
    }

    /// The one line `finelab serve` prints when it is ready.
    pub fn banner(&self) -> String {
        match &self.project_dir {
            Some(dir) => format!("Finelab serving {} at {}", dir.display(), self.url()),
            None => format!("Finelab serving at {}", self.url()),
        }
    }

    /// Serves until `shutdown` completes, then gives open connections (event streams) a few
    /// seconds to end before it closes them.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        Ok(limits::serve(self.listener, self.router, self.limits, shutdown).await?)
    }
}

/// Binds, calls `ready` (to print the banner), and serves until Ctrl+C, on a runtime of its own:
/// what `finelab serve` runs.
pub fn serve_blocking(config: ServerConfig, ready: impl FnOnce(&Server)) -> Result<(), ServeError> {
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
    // Blocking calls still running (an annotation being committed) get a moment to finish.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

fn router(state: AppState, body_idle_timeout: Duration) -> Router {
    let api = Router::new()
        .route("/api", post(handlers::api).layer(DefaultBodyLimit::max(API_BODY_LIMIT)))
        .route("/api/jobs/{id}/events", get(handlers::job_events))
        .route("/api/upload", post(upload::upload).layer(DefaultBodyLimit::disable()))
        .route("/api/session", get(signin::whoami))
        .route("/api/{*rest}", any(handlers::no_such_route))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard::api_guard));
    api.route("/signin", get(signin::page).post(signin::sign_in).layer(DefaultBodyLimit::max(64 << 10)))
        .route("/signout", post(signin::sign_out))
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(body_idle_timeout, limits::body_idle_timeout))
        .with_state(state)
}

fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).or_else(|_| std::path::absolute(dir)).unwrap_or_else(|_| dir.to_path_buf())
}

/// A token goes into URLs and headers as it is: URL-safe characters only, and long enough.
fn validate_token(token: String) -> Result<String, ServeError> {
    let ok_chars = token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    if !ok_chars {
        return Err(ServeError::BadToken("the token may hold only letters, digits, '-', '_', '.' and '~'".into()));
    }
    if !(8..=256).contains(&token.len()) {
        return Err(ServeError::BadToken(format!("the token must be 8 to 256 characters long, got {}", token.len())));
    }
    Ok(token)
}

/// 128 random bits as 32 hex characters.
fn generate_token() -> Result<String, ServeError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ServeError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The HTTP status for an error code: 404 for `no_such_*`, 409 for a state conflict, 500 for a
/// failure of the machine (database, disk), 400 for everything the request got wrong.
pub fn status_for_code(code: &str) -> u16 {
    match code {
        c if c.starts_with("no_such_") => 404,
        "unauthorized" | "session_expired" | "sign_in_failed" => 401,
        "wrong_role" => 403,
        "too_many_attempts" => 429,
        "forbidden" | "forbidden_path" => 403,
        "timeout" => 408,
        "too_large" => 413,
        "already_exists" | "newer_schema" => 409,
        "database" | "io" | "migration" | "json" | "train" | "internal" => 500,
        _ => 400,
    }
}

pub(crate) fn error_response(code: ErrorCode, message: impl Into<String>) -> axum::response::Response {
    error_body_response(ErrorBody { code, message: message.into(), details: None })
}

pub(crate) fn error_body_response(body: ErrorBody) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = axum::http::StatusCode::from_u16(status_for_code(body.code.as_str()))
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        let check = |code: &str, status: u16| assert_eq!(status_for_code(code), status, "{code}");
        check("invalid", 400);
        check("bad_file", 400);
        check("rows_rejected", 400);
        check("not_a_project", 400);
        check("bad_request", 400);
        check("bad_input", 400);
        check("no_such_record", 404);
        check("no_such_run", 404);
        check("no_such_job", 404);
        check("already_exists", 409);
        check("database", 500);
        check("io", 500);
        check("unauthorized", 401);
        check("forbidden_path", 403);
        check("timeout", 408);
    }

    #[test]
    fn tokens() {
        let token = generate_token().unwrap();
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(token, generate_token().unwrap());
        assert!(validate_token("abc123-_.~xyz".into()).is_ok());
        assert!(validate_token("short".into()).is_err());
        assert!(validate_token("has space in it".into()).is_err());
        assert!(validate_token("ampersand&token=x".into()).is_err());
    }
}
