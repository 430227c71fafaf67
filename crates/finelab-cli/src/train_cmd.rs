//! `finelab train`, `runs`, `eval`, `predict` and `metrics`: terminal wiring over
//! `finelab_app::train` (progress bar, JSON events, Ctrl+C, text reports).

use anyhow::{Context, Result};
use finelab_app::train::{self as app, Control, TrainEvent, TrainRequest};
use finelab_app::AppError;
use finelab_store::{ProjectKind, Split};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Ctrl+C presses seen during `finelab train`.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// The flags of `finelab train`.
pub struct TrainArgs {
    pub dir: PathBuf,
    pub request: TrainRequest,
    pub json_progress: bool,
}

fn f1(v: Option<f64>) -> String {
    v.map(|f| format!("{f:.4}")).unwrap_or_else(|| "-".into())
}

/// Trains and prints the run id, the model folder and the dev/test macro-F1 (or, with
/// `--json-progress`, one JSON event a line ending with `{"event": "done", ...}`). The first
/// Ctrl+C stops training cleanly: the run is recorded as cancelled with its best model, and the
/// process exits with status 130. A second Ctrl+C quits at once (the run then reads as
/// interrupted).
pub fn train(args: TrainArgs) -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("\nstopping: the run keeps its best model so far (press Ctrl+C again to quit at once)");
        } else {
            eprintln!("\nquitting now; the run will read as interrupted");
            std::process::exit(130);
        }
    })
    .context("installing the Ctrl+C handler")?;

    let json = args.json_progress;
    download_if_needed(&args.request.model, json)?;
    if !json {
        // A generator says what it will hold in memory before it starts (as the Train screen does).
        if let Ok(Some(m)) = finelab_app::memory::train_memory(&args.request) {
            let gb = |b: u64| b as f64 / (1u64 << 30) as f64;
            eprintln!(
                "memory: about {:.2} GiB (weights {:.2}, gradients and optimizer {:.2}, activations {:.2}; {} of {} parameters trained){}",
                gb(m.total_bytes),
                gb(m.weights_bytes),
                gb(m.optimizer_bytes),
                gb(m.activations_bytes),
                m.trainable_params,
                m.params,
                m.available_bytes.map(|a| format!("; {:.2} GiB available", gb(a))).unwrap_or_default()
            );
        }
    }
    let pb = if json { ProgressBar::hidden() } else { ProgressBar::new(0) };
    pb.set_style(
        ProgressStyle::with_template("{msg:28} [{bar:30}] {percent:>3}% {elapsed} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut stdout = std::io::stdout();
    // A generator's criterion is its dev loss (the events carry minus it where a classifier's
    // carry dev macro-F1).
    let mut generator = false;
    let (done, stored) = finelab_app::training_jobs::train_and_predict(&args.dir, &args.request, &mut |event| {
        if json {
            let _ = writeln!(stdout, "{}", serde_json::to_string(event).expect("events serialize"));
            let _ = stdout.flush();
        }
        match event {
            TrainEvent::Started { run, family, device, data_hash, n_train, n_dev, n_test, .. } if !json => {
                generator = family.as_str() == finelab_train::generator::FAMILY;
                eprintln!("run {run}: {family} on {device}, {n_train} train / {n_dev} dev / {n_test} test records (data {data_hash})");
            }
            TrainEvent::Step { epoch, epochs, step, total_steps, loss, .. } => {
                pb.set_length(*total_steps as u64);
                pb.set_position(*step as u64);
                pb.set_message(format!("epoch {epoch}/{epochs} loss {loss:.4}"));
            }
            TrainEvent::Epoch { epoch, train_loss, dev_macro_f1, best, seconds, .. } if !json => {
                let dev = if generator {
                    format!("dev loss {:.4}", -dev_macro_f1)
                } else {
                    format!("dev macro-F1 {dev_macro_f1:.4}")
                };
                let best = if *best { " *" } else { "" };
                pb.suspend(|| eprintln!("epoch {epoch:>3}  train loss {train_loss:.4}  {dev}{best}  {seconds:.1} s"));
            }
            _ => {}
        }
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }, &mut |n, total| {
        // The run's predictions (dev and test for the drill-down, unlabeled records for
        // suggestions), as the window stores them; Ctrl+C stops this part too.
        pb.set_length(total);
        pb.set_position(n);
        pb.set_message("predicting");
        INTERRUPTS.load(Ordering::SeqCst) == 0
    })
    .with_context(|| format!("training a model on {}", args.dir.display()))?;
    pb.finish_and_clear();
    if let Err(e) = &stored {
        anyhow::bail!(
            "run {} trained, but storing its predictions failed: {e}\n  the run stays unfinished; \
             `finelab resume {} {}` stores them",
            done.run,
            args.dir.display(),
            done.run
        );
    }

    if json {
        let mut v = serde_json::to_value(&done)?;
        v["event"] = "done".into();
        println!("{v}");
    } else {
        println!(
            "run {} {}: best epoch {} of {}, {:.1} s",
            done.run,
            done.status,
            done.best_epoch,
            done.epochs.len(),
            done.seconds
        );
        println!("model folder: {}", done.model_dir.display());
        if generator {
            for (split, report, n) in [("dev ", &done.dev, done.n_dev), ("test", &done.test, done.n_test)] {
                let num = |key: &str| {
                    report
                        .as_ref()
                        .and_then(|r| r.get(key))
                        .and_then(serde_json::Value::as_f64)
                        .map(|x| format!("{x:.4}"))
                };
                let [loss, chrf] = ["loss", "chrf"].map(|k| num(k).unwrap_or_else(|| "-".into()));
                println!("{split} loss {loss}  chrF {chrf} ({n} records)");
            }
        } else {
            println!("dev  macro-F1 {} ({} records)", f1(done.dev_macro_f1), done.n_dev);
            println!("test macro-F1 {} ({} records)", f1(done.test_macro_f1), done.n_test);
        }
    }
    if done.status == finelab_store::RunStatus::Cancelled {
        std::process::exit(130);
    }
    Ok(())
}

/// Downloads a model by name into the Hugging Face cache with a progress bar on stderr (hidden
/// with `quiet`), and returns it.
pub fn download(name: &str, revision: Option<&str>, quiet: bool) -> Result<finelab_app::models::ModelEntry> {
    use finelab_app::hub::{download_model, HubConfig, HubName};
    let name = HubName::parse(name, revision)?;
    let config = HubConfig::from_env()?;
    if !quiet {
        eprintln!("downloading {} from {} into {}", name.repo, config.endpoint, config.cache_dir.display());
    }
    let pb = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    pb.set_style(
        ProgressStyle::with_template("{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let entry = download_model(&config, &name, &mut |p| {
        pb.set_length(p.total);
        pb.set_position(p.done);
        pb.set_message(format!("{}/{} {}", p.file_index, p.n_files, p.file));
        true
    });
    pb.finish_and_clear();
    Ok(entry?)
}

/// Before `finelab train --model org/name`: downloads the model when the name is neither a folder
/// nor in the Hugging Face cache. Other values are left to the request's own validation.
fn download_if_needed(model: &str, json: bool) -> Result<()> {
    let model = model.trim();
    if model == app::INSTANT
        || Path::new(model).exists()
        || !finelab_app::hub::HubName::looks_like(model)
        || finelab_app::hub::cached_hub_model(model).is_some()
    {
        return Ok(());
    }
    download(model, None, json).with_context(|| {
        format!("--model {model:?} is neither `instant`, a model folder, nor in the Hugging Face cache, and downloading it failed")
    })?;
    Ok(())
}

/// `finelab runs`: the project's runs, newest first.
pub fn runs(dir: &Path, json: bool) -> Result<()> {
    let runs = app::runs(dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    if runs.is_empty() {
        println!("no runs yet; train one with `finelab train {} --model instant`", dir.display());
        return Ok(());
    }
    println!(
        "{:<28} {:<11} {:>6} {:>17} {:>8} {:>8}",
        "run", "status", "epochs", "train/dev/test", "dev F1", "test F1"
    );
    for r in &runs {
        println!(
            "{:<28} {:<11} {:>6} {:>17} {:>8} {:>8}",
            r.id,
            r.status,
            r.n_epochs,
            format!("{}/{}/{}", r.n_train, r.n_dev, r.n_test),
            f1(r.dev_macro_f1),
            f1(r.test_macro_f1)
        );
    }
    Ok(())
}

/// `finelab eval`: a run's report on a split; `--json` prints the same dictionary as
/// `finelab metrics --json`.
pub fn eval(dir: &Path, run: Option<&str>, split: &str, json: bool) -> Result<()> {
    let split: Split = split.parse()?;
    let ev = app::eval(dir, run, split).with_context(|| format!("evaluating a run of {}", dir.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ev.report)?);
        return Ok(());
    }
    let source = match ev.source {
        app::ReportSource::Stored => "report stored with the run",
        app::ReportSource::Recomputed => "recomputed now on the split's current records",
    };
    println!("run {} ({}), {} split, {} records, {source}\n", ev.run, ev.status, split.as_str(), ev.n_records);
    print!("{}", app::evaluation_text(&ev)?);
    Ok(())
}

/// `finelab predict`: JSONL in (FILE or stdin), JSONL out on stdout.
pub fn predict(model_dir: &Path, file: Option<&Path>) -> Result<()> {
    let stdout = std::io::stdout();
    let result = match file {
        Some(path) => {
            let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let mut input = std::io::BufReader::new(f);
            let mut out = std::io::BufWriter::new(stdout.lock());
            app::predict(model_dir, &mut input, &path.display().to_string(), &mut out)
        }
        None => {
            let stdin = std::io::stdin();
            let mut input: Box<dyn BufRead> = Box::new(stdin.lock());
            // Line-buffered: each prediction shows as soon as its line is read.
            let mut out = stdout.lock();
            app::predict(model_dir, &mut input, "<stdin>", &mut out)
        }
    };
    match result {
        Ok(_) => Ok(()),
        // `finelab predict ... | head`: the reader left, which is not an error.
        Err(AppError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("predicting with {}", model_dir.display()))),
    }
}

/// `finelab metrics`: scores a prediction file against a gold file.
pub fn metrics(kind: &str, gold: PathBuf, pred: PathBuf, labels: Option<&str>, json: bool) -> Result<()> {
    let kind: ProjectKind = kind.parse()?;
    let labels = labels.map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect());
    let report = app::metrics(&app::MetricsRequest { kind, gold, pred, labels })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", app::report_text(&report));
    }
    Ok(())
}
