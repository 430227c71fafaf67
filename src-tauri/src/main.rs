//! The Finelab desktop window: `finelab-app [PROJECT_DIR]`.
//!
//! A thin shell. The window talks to Finelab through two commands, both wrappers over
//! `finelab_app::api` — the same entry point `finelab serve` exposes over HTTP:
//! - `api(request)`: one typed [`Request`] in, its JSON response or an [`ErrorBody`] out;
//! - `watch_job(id, onEvent)`: a long job's [`JobState`]s streamed over a typed channel.
//!
//! Nothing else lives here: no use case, no SQL, no file format. The project to open at start
//! comes from the first argument or `FINELAB_PROJECT`. With `FINELAB_TRACE=1` the shell prints
//! when the page loads and when each request is answered, in ms since launch (stderr): how the
//! launch-to-interactive time is measured without a WebDriver in the way.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use finelab_app::api::{AppContext, JobState, Request};
use finelab_app::ErrorBody;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tauri::ipc::Channel;
use tauri::State;

/// Training runs in this process: the same allocator as the `finelab` binary (see the workspace
/// Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The shell's one piece of state, shared with the blocking threads that serve requests.
type Context = Arc<AppContext>;

/// Handles one request off the async runtime (SQLite and imports block).
#[tauri::command]
async fn api(ctx: State<'_, Context>, request: Request) -> Result<serde_json::Value, ErrorBody> {
    let ctx = Context::clone(&ctx);
    let traced = trace_start().map(|_| (Instant::now(), command_name(&request)));
    let result = tauri::async_runtime::spawn_blocking(move || ctx.handle(request)).await.map_err(shell_error)?;
    if let Some((t0, cmd)) = traced {
        let outcome = if result.is_ok() { "ok" } else { "error" };
        trace(&format!("api {cmd} {outcome} in {} ms", t0.elapsed().as_millis()));
    }
    result
}

/// Streams a job's states to the window until the job is over or the window stops listening.
#[tauri::command]
async fn watch_job(ctx: State<'_, Context>, id: u64, on_event: Channel<JobState>) -> Result<(), ErrorBody> {
    let ctx = Context::clone(&ctx);
    tauri::async_runtime::spawn_blocking(move || {
        // A failed send means the page went away (reload, closed window): stop watching.
        ctx.watch_job(id, &mut |state| on_event.send(state.clone()).is_ok()).map_err(|e| e.body())
    })
    .await
    .map_err(shell_error)?
}

/// A request whose worker thread panicked: a bug, reported in the same shape as every error.
fn shell_error(err: tauri::Error) -> ErrorBody {
    ErrorBody {
        code: finelab_app::ErrorCode::Internal,
        message: format!("the request failed inside the app: {err}"),
        details: None,
    }
}

/// The project to open at start: the first argument that is not a flag (WebDriver and desktop
/// launchers add flags of their own), else `FINELAB_PROJECT`.
fn start_project(args: impl IntoIterator<Item = String>) -> Option<PathBuf> {
    args.into_iter()
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("FINELAB_PROJECT").filter(|v| !v.is_empty()).map(PathBuf::from))
}

/// When `main` began, if `FINELAB_TRACE` asks for timings.
fn trace_start() -> Option<Instant> {
    static START: OnceLock<Option<Instant>> = OnceLock::new();
    *START
        .get_or_init(|| std::env::var_os("FINELAB_TRACE").filter(|v| !v.is_empty() && v != "0").map(|_| Instant::now()))
}

fn trace(event: &str) {
    if let Some(t0) = trace_start() {
        eprintln!("finelab-app trace +{} ms: {event}", t0.elapsed().as_millis());
    }
}

/// The `cmd` tag of a request, for the trace.
fn command_name(request: &Request) -> String {
    serde_json::to_value(request).ok().and_then(|v| v["cmd"].as_str().map(str::to_owned)).unwrap_or_default()
}

fn main() {
    trace("main");
    let project = start_project(std::env::args().skip(1));
    let ctx: Context = Arc::new(AppContext::new(AppContext::default_config_dir(), project));
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(ctx)
        .on_page_load(|_, page| trace(&format!("page {:?} {}", page.event(), page.url())))
        .invoke_handler(tauri::generate_handler![api, watch_job])
        .run(tauri::generate_context!())
        .expect("the Finelab window failed to start");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], expected: Option<&str>) {
        let got = start_project(args.iter().map(|a| a.to_string()));
        assert_eq!(got, expected.map(PathBuf::from), "args {args:?}");
    }

    #[test]
    fn start_project_from_arguments() {
        check(&["/tmp/p"], Some("/tmp/p"));
        check(&["--automation", "/tmp/p"], Some("/tmp/p"));
        check(&["proj", "other"], Some("proj"));
    }

    /// The window may call Finelab's two commands and open a file dialog; nothing else. A new
    /// permission is a decision: change this list with it.
    #[test]
    fn capability_allows_only_finelab() {
        let cap: serde_json::Value = serde_json::from_str(include_str!("../capabilities/default.json")).unwrap();
        assert_eq!(cap["windows"], serde_json::json!(["main"]));
        assert_eq!(cap["permissions"], serde_json::json!(["allow-api", "allow-watch-job", "dialog:allow-open"]));
        assert!(cap.get("remote").is_none(), "no remote origin may reach the commands");
    }

    /// The page may load only its own files and talk only to the IPC.
    #[test]
    fn content_security_policy_is_strict() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let csp = &conf["app"]["security"]["csp"];
        assert_eq!(csp["default-src"], "'self'");
        assert_eq!(csp["connect-src"], "ipc: http://ipc.localhost");
        let all = csp.as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect::<Vec<_>>().join(" ");
        for banned in ["unsafe-", "http://localhost", "https:", "*"] {
            assert!(!all.contains(banned), "the CSP allows {banned:?}: {all}");
        }
        assert!(conf["app"]["security"].get("dangerousDisableAssetCspModification").is_none());
        assert_eq!(conf["app"]["withGlobalTauri"], false);
    }
}
