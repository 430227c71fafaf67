//! `finelab serve-model`: model folders served over HTTP (finelab-deploy).

use anyhow::{Context, Result};
use finelab_deploy::{ModelSpec, ServeConfig};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// The flags of `finelab serve-model`.
#[derive(clap::Args)]
pub struct ServeModelArgs {
    /// Model folders (a run's `runs/<id>/model`, or the run folder; a Hugging Face causal LM),
    /// each named by its folder (a run's by its id), or `NAME=DIR`.
    #[arg(required = true, value_name = "MODEL_DIR")]
    models: Vec<String>,
    /// Where to listen (127.0.0.1 unless told otherwise).
    #[arg(long, default_value = finelab_deploy::DEFAULT_ADDR)]
    addr: String,
    /// The token requests must send as `Authorization: Bearer <token>` [default: none on
    /// loopback; on any other address, a new random one, printed].
    #[arg(long, env = "FINELAB_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Most texts (classifiers, taggers) or sequences (generators) run in one batch.
    #[arg(long, default_value_t = 32)]
    max_batch: usize,
    /// Longest a batch waits for requests on their way, in milliseconds (only while fewer came
    /// than to the previous batch: a lone client never waits).
    #[arg(long, default_value_t = 5)]
    batch_wait_ms: u64,
    /// Requests that may wait for each model; more are answered 429.
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    max_body_bytes: usize,
    /// Most texts (or prompts) a request.
    #[arg(long, default_value_t = 1024)]
    max_texts: usize,
    /// Where generators run.
    #[arg(long, default_value = "auto", value_parser = ["auto", "cpu", "cuda", "metal"])]
    device: String,
    /// Keep the texts classifiers and taggers answer in this project, as unlabeled records
    /// marked as production traffic with the served prediction (`finelab next --strategy
    /// uncertain` serves the least sure first; `finelab production` shows the label mix).
    #[arg(long, value_name = "PROJECT_DIR")]
    log_to: Option<std::path::PathBuf>,
    /// At most this many production records wait unlabeled in the project; more are not kept.
    #[arg(long, default_value_t = 10_000, requires = "log_to")]
    log_keep: u64,
}

pub fn run(args: ServeModelArgs) -> Result<()> {
    let addr = parse_addr(&args.addr)?;
    let models = args.models.iter().map(|m| ModelSpec::parse(m)).collect::<Result<Vec<_>, _>>()?;
    let logger = args
        .log_to
        .as_ref()
        .map(|dir| {
            finelab_app::deploy::ProductionLogger::start(dir, args.log_keep, |m| eprintln!("{m}"))
                .with_context(|| format!("--log-to {}", dir.display()))
        })
        .transpose()?;
    let config = ServeConfig {
        on_served: logger.as_ref().map(|l| l.hook.clone()),
        addr,
        token: args.token,
        max_batch: args.max_batch,
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        queue: args.queue,
        max_body_bytes: args.max_body_bytes,
        max_texts: args.max_texts,
        device: args.device,
        ..ServeConfig::new(models)
    };
    let served = finelab_deploy::serve_blocking(config, |server| {
        let base = server.base_url();
        // Scripts and tests wait for this line: print it alone, and flush it now.
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "Finelab serving models at {base}");
        let _ = stdout.flush();
        for model in server.models() {
            eprintln!("  {:<20} {:<9} {}  ({})", model.name, model.family, model.kind.route(), model.dir.display());
        }
        let auth = match server.token() {
            Some(token) => {
                eprintln!("Token: {token}  (send it as `Authorization: Bearer {token}`)");
                format!(" -H 'Authorization: Bearer {token}'")
            }
            None => String::new(),
        };
        if let Some(model) = server.models().first() {
            let body = if model.kind.route() == "/v1/chat/completions" {
                format!(r#"{{"model": "{}", "messages": [{{"role": "user", "content": "Hello"}}]}}"#, model.name)
            } else {
                format!(r#"{{"model": "{}", "texts": ["some text"]}}"#, model.name)
            };
            eprintln!("Try: curl {base}{}{auth} -H 'Content-Type: application/json' -d '{body}'", model.kind.route());
        }
        if !server.local_addr().ip().is_loopback() {
            eprintln!("Listening beyond this machine: requests need the token. Stop with Ctrl+C.");
        }
    })
    .with_context(|| format!("finelab serve-model on {addr}"));
    // What was served last is kept before the process ends.
    if let Some(logger) = logger {
        logger.finish();
    }
    served?;
    Ok(())
}

/// `127.0.0.1:8000`, `[::1]:0`, or a name such as `localhost:8000`.
fn parse_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .with_context(|| format!("--addr {text:?}: expected HOST:PORT, such as 127.0.0.1:8000"))?
        .next()
        .with_context(|| format!("--addr {text:?} names no address"))
}
