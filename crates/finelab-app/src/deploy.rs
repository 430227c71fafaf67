//! Deploy a run from the window: its model served over HTTP by `finelab-deploy` on a thread of
//! this process (loopback only, a free port unless one is asked for), listed with its address,
//! a curl example and live request counts until it is stopped or the program ends. A classifier's
//! or tagger's served texts can come back into the project as production records (the same
//! logger `finelab serve-model --log-to` uses).

use crate::production::{self, Served};
use crate::{AppError, Result};
use finelab_deploy::{ModelSpec, Running, ServeConfig, ServedHook};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use ts_rs::TS;

/// A deployed run as the window shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Deployment {
    /// Its id in this program.
    pub id: u64,
    /// The project folder.
    pub dir: String,
    /// The run.
    pub run: String,
    /// The model's name in requests (the run id).
    pub model: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The route that answers it: `/v1/classify`, `/v1/tag` or `/v1/chat/completions`.
    pub route: String,
    /// A request to try at a terminal.
    pub curl: String,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// Requests to the model routes so far.
    pub requests: u64,
    /// Of those, answered with success.
    pub ok: u64,
    /// Whether served texts come back into the project as production records.
    pub logging: bool,
}

/// Hands served batches to a thread that adds them to a project about once a second (one import
/// each: a label being written waits for none of them); [`ProductionLogger::finish`] keeps what
/// is left.
pub struct ProductionLogger {
    /// The hook the model server calls with each answered batch.
    pub hook: ServedHook,
    sender: Sender<Vec<Served>>,
    thread: std::thread::JoinHandle<()>,
}

impl ProductionLogger {
    /// A logger into the project in `dir`, keeping at most `keep` production records waiting
    /// unlabeled; `report` hears what could not be kept.
    pub fn start(dir: &Path, keep: u64, report: fn(&str)) -> Result<ProductionLogger> {
        finelab_store::Store::open(dir)?;
        let dir = dir.to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Served>>();
        let thread = std::thread::spawn(move || {
            let mut waiting: Vec<Served> = Vec::new();
            loop {
                let open = match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(batch) => {
                        waiting.extend(batch);
                        if waiting.len() < 1000 {
                            continue;
                        }
                        true
                    }
                    Err(RecvTimeoutError::Timeout) => true,
                    Err(RecvTimeoutError::Disconnected) => false,
                };
                if !waiting.is_empty() {
                    match production::log(&dir, &waiting, keep) {
                        Ok(l) if l.dropped > 0 => report(&format!(
                            "production log: {} kept, {} not kept ({keep} wait unlabeled in {})",
                            l.added,
                            l.dropped,
                            dir.display()
                        )),
                        Ok(_) => {}
                        Err(e) => report(&format!(
                            "production log: {} request(s) not kept in {}: {e}",
                            waiting.len(),
                            dir.display()
                        )),
                    }
                    waiting.clear();
                }
                if !open {
                    return;
                }
            }
        });
        let sender = tx.clone();
        let hook =
            ServedHook(Arc::new(move |model: &str, texts: &[String], predictions: &[finelab_train::Prediction]| {
                let at = finelab_store::now_ms();
                let batch = texts
                    .iter()
                    .zip(predictions)
                    .map(|(text, p)| Served { text: text.clone(), model: model.to_string(), at, prediction: p.clone() })
                    .collect();
                let _ = sender.send(batch);
            }));
        Ok(ProductionLogger { hook, sender: tx, thread })
    }

    /// Stops taking batches and waits until the ones handed over are in the project. Call it
    /// once the server that holds the hook has stopped.
    pub fn finish(self) {
        let ProductionLogger { hook, sender, thread } = self;
        drop((hook, sender));
        let _ = thread.join();
    }
}

struct Live {
    view: Deployment,
    server: Option<Running>,
    logger: Option<ProductionLogger>,
}

impl Live {
    fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        if let Some(logger) = self.logger.take() {
            logger.finish();
        }
    }
}

/// The runs this program serves.
#[derive(Default)]
pub(crate) struct Deployments {
    live: Mutex<Vec<Live>>,
    next_id: Mutex<u64>,
}

/// What to deploy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct DeployRequest {
    /// The port on 127.0.0.1 (default: a free one).
    #[serde(default)]
    #[ts(optional)]
    pub port: Option<u16>,
    /// Classifiers and taggers: keep the served texts in the project as production records
    /// (default true).
    #[serde(default)]
    #[ts(optional)]
    pub log_production: Option<bool>,
    /// At most this many production records wait unlabeled (default 10,000).
    #[serde(default)]
    #[ts(optional)]
    pub keep: Option<u64>,
}

fn curl(url: &str, route: &str, model: &str) -> String {
    let body = if route == "/v1/chat/completions" {
        format!(r#"{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}"#)
    } else {
        format!(r#"{{"model": "{model}", "texts": ["some text"]}}"#)
    };
    format!("curl {url}{route} -H 'Content-Type: application/json' -d '{body}'")
}

impl Deployments {
    /// Serves run `run` of the project in `dir` on 127.0.0.1.
    pub(crate) fn deploy(&self, dir: &Path, run: &str, request: &DeployRequest) -> Result<Deployment> {
        let row = crate::train::run(dir, run)?;
        let Some(model_dir) = row.model_dir.as_deref().map(|m| dir.join(m)) else {
            return Err(AppError::Invalid(format!("run {run} has no model folder to serve")));
        };
        if self.live.lock().unwrap().iter().any(|l| l.view.run == row.id && Path::new(&l.view.dir) == dir) {
            return Err(AppError::Invalid(format!("run {run} is served already: stop it first")));
        }
        let generator = row.family == finelab_train::generator::FAMILY;
        let logging = !generator && request.log_production.unwrap_or(true);
        let logger = if logging {
            Some(ProductionLogger::start(dir, request.keep.unwrap_or(10_000), |m| eprintln!("{m}"))?)
        } else {
            None
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], request.port.unwrap_or(0)));
        let config = ServeConfig {
            addr,
            device: row.device.clone(),
            on_served: logger.as_ref().map(|l| l.hook.clone()),
            ..ServeConfig::new(vec![ModelSpec { name: row.id.clone(), dir: model_dir }])
        };
        let server = match finelab_deploy::spawn(config) {
            Ok(server) => server,
            Err(e) => {
                if let Some(logger) = logger {
                    logger.finish();
                }
                return Err(AppError::Invalid(format!("serving run {run}: {e}")));
            }
        };
        let route = server.models.first().map(|m| m.kind.route().to_string()).unwrap_or_default();
        let id = {
            let mut next = self.next_id.lock().unwrap();
            *next += 1;
            *next
        };
        let view = Deployment {
            id,
            dir: dir.display().to_string(),
            run: row.id.clone(),
            model: row.id.clone(),
            curl: curl(&server.base_url, &route, &row.id),
            url: server.base_url.clone(),
            route,
            started_at: finelab_store::now_ms(),
            requests: 0,
            ok: 0,
            logging,
        };
        self.live.lock().unwrap().push(Live { view: view.clone(), server: Some(server), logger });
        Ok(view)
    }

    /// The runs served now (of the project in `dir`, if given), with their request counts.
    pub(crate) fn list(&self, dir: Option<&Path>) -> Vec<Deployment> {
        self.live
            .lock()
            .unwrap()
            .iter()
            .filter(|l| dir.is_none_or(|d| Path::new(&l.view.dir) == d))
            .map(|l| {
                let mut view = l.view.clone();
                if let Some(server) = &l.server {
                    (view.requests, view.ok) = server.requests();
                }
                view
            })
            .collect()
    }

    /// Stops serving deployment `id` (the production records it served are kept first).
    pub(crate) fn stop(&self, id: u64) -> Result<()> {
        let live = {
            let mut all = self.live.lock().unwrap();
            let Some(i) = all.iter().position(|l| l.view.id == id) else {
                return Err(AppError::Invalid(format!("no deployment {id} is running")));
            };
            all.remove(i)
        };
        live.stop();
        Ok(())
    }
}

impl Drop for Deployments {
    fn drop(&mut self) {
        let all: Vec<Live> = std::mem::take(&mut *self.live.lock().unwrap_or_else(|e| e.into_inner()));
        for live in all {
            live.stop();
        }
    }
}
