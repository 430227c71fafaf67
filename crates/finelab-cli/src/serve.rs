//! `finelab serve`: the web UI and the application API over HTTP (finelab-server).

use anyhow::{Context, Result};
use finelab_server::ServerConfig;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The flags of `finelab serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The project folder (it may not exist yet: the UI can create the project there).
    dir: Option<PathBuf>,
    /// Where to listen (127.0.0.1 unless told otherwise).
    #[arg(long, default_value = finelab_server::DEFAULT_ADDR)]
    addr: String,
    /// Access token for the API [default: a new random one]. It is printed only in the address
    /// to open.
    #[arg(long, env = "FINELAB_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A folder besides the project folder whose files the UI may import, or where it may open or
    /// create projects and export models (repeatable). Paths outside these folders are refused.
    #[arg(long = "allow-dir", value_name = "DIR")]
    allow_dirs: Vec<PathBuf>,
    /// How long a sign-in of the people added with `finelab user add` lasts, in hours.
    #[arg(long, default_value_t = 12.0)]
    session_hours: f64,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let addr = parse_addr(&args.addr)?;
    if !(args.session_hours > 0.0 && args.session_hours <= 24.0 * 366.0) {
        anyhow::bail!("--session-hours {}: more than 0, at most a year", args.session_hours);
    }
    let config = ServerConfig {
        addr,
        token: args.token,
        allowed_dirs: args.allow_dirs,
        session_ttl: std::time::Duration::from_secs_f64(args.session_hours * 3600.0),
        ui_dir: std::env::var_os("FINELAB_UI_DIR").map(PathBuf::from),
        ..ServerConfig::new(args.dir.clone())
    };
    if let Some(dir) = &args.dir {
        if !dir.join(finelab_store::DB_FILE).is_file() {
            eprintln!("note: {} holds no project yet; create it in the browser", dir.display());
        }
    }
    finelab_server::serve_blocking(config, |server| {
        // Scripts and tests wait for this line: print it alone, and flush it now.
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", server.banner());
        let _ = stdout.flush();
        eprintln!("Open the address above: the API needs its token, also from this machine.");
        let users = args.dir.as_deref().and_then(|d| finelab_app::users::list(d).ok()).unwrap_or_default();
        if !users.is_empty() {
            eprintln!(
                "{} user(s) of the project sign in at {}/signin (finelab user add adds more).",
                users.len(),
                server.url().split("/?").next().unwrap_or_default()
            );
        }
        if !server.local_addr().ip().is_loopback() {
            eprintln!(
                "Listening beyond this machine: anyone who has the token can read and change the projects and read \
                 files this user can. Keep the address with its token private; stop with Ctrl+C."
            );
        }
    })
    .with_context(|| format!("finelab serve on {addr}"))?;
    Ok(())
}

/// `127.0.0.1:7878`, `[::1]:0`, or a name such as `localhost:7878`.
fn parse_addr(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .with_context(|| format!("--addr {text:?}: expected HOST:PORT, such as 127.0.0.1:7878"))?
        .next()
        .with_context(|| format!("--addr {text:?} names no address"))
}
