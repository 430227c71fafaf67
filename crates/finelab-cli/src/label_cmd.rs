//! `finelab next`, `annotate`, `undo`, `skip`, `flag`, `guidelines`, `export-model` and `resume`:
//! the label screen's and the Results screen's actions at a terminal, over the same
//! finelab-app functions the window calls.

use anyhow::{Context, Result};
use finelab_app::api::{AppContext, JobState, JobStatus, Request};
use finelab_app::project;
use finelab_store::search::describe_value;
use finelab_store::{Action, Receipt};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The annotator a command acts for when `--annotator` is not given: the login name, as the
/// window's default is the user's.
pub fn default_annotator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

fn one_line(text: &str, n: usize) -> String {
    text.chars().take(n).collect::<String>().replace('\n', " ⏎ ")
}

/// `finelab next`: the records the label screen would show next, in that order.
pub fn next(
    dir: &Path,
    annotator: &str,
    n: usize,
    strategy: finelab_app::active::Strategy,
    seed: u64,
    label: Option<&str>,
    json: bool,
) -> Result<()> {
    // Slices a lead gave to other people are not served to this annotator.
    let reserved = finelab_app::assign::reserved_for_others(&finelab_store::Store::open(dir)?, annotator)?;
    let keep = |view: &finelab_store::RecordView| !reserved.contains(&view.record.seq);
    let batch = finelab_app::active::next_batch(dir, annotator, n, strategy, seed, label, &keep)?;
    if batch.used != batch.strategy {
        eprintln!("no trained model yet: serving the random order until a run is trained");
    } else if let Some(run) = &batch.run {
        eprintln!("ranked by run {run}");
    }
    for next in &batch.records {
        let view = &next.view;
        if json {
            let mut line = serde_json::to_value(view)?;
            if let Some(u) = next.uncertainty {
                line["uncertainty"] = serde_json::json!(u);
            }
            println!("{line}");
        } else {
            let suggestion = view
                .prediction
                .as_ref()
                .map(|p| format!("suggested {}", describe_value(&p.value)))
                .unwrap_or_else(|| "-".into());
            let uncertainty = next.uncertainty.map(|u| format!("{u:.3}")).unwrap_or_else(|| "-".into());
            println!(
                "{}\t#{}\t{uncertainty}\t{}\t{}",
                view.record.id,
                view.record.seq,
                suggestion,
                one_line(&view.record.text, 80)
            );
        }
    }
    if batch.records.is_empty() && !json {
        eprintln!("nothing left to label for {annotator}");
    }
    Ok(())
}

/// `finelab annotate`: labels from a JSON Lines file applied as log entries of `annotator`.
pub fn annotate_file(dir: &Path, file: &Path, annotator: &str, decisions: bool, json: bool) -> Result<()> {
    let report = project::annotate_file(dir, file, annotator, decisions)
        .with_context(|| format!("applying the labels of {} to {}", file.display(), dir.display()))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{}: applied {} of {} line(s) as {annotator} ({} record(s) newly labeled)",
        report.path, report.applied, report.lines, report.newly_labeled
    );
    crate::print_line_errors(&report.path, "line(s) not applied", &report.rejected, report.n_rejected);
    Ok(())
}

fn print_receipt(what: &str, receipt: &Receipt, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(receipt)?);
    } else {
        println!("{what} {} (#{}, log entry {})", receipt.record_id, receipt.record_seq, receipt.annotation_id);
    }
    Ok(())
}

/// `finelab undo`: the annotator's last action, undone by a new log entry.
pub fn undo(dir: &Path, annotator: &str, json: bool) -> Result<()> {
    match project::undo(dir, annotator)? {
        Some(receipt) => print_receipt("undid the last action on", &receipt, json),
        None if json => {
            println!("null");
            Ok(())
        }
        None => {
            println!("{annotator} has nothing to undo");
            Ok(())
        }
    }
}

/// `finelab skip` / `finelab flag`: an action on one record by its id.
pub fn mark(dir: &Path, record_id: &str, annotator: &str, action: Action, json: bool) -> Result<()> {
    let what = match action {
        Action::Skip => "skipped",
        Action::Flag => "flagged",
        Action::Unflag => "unflagged",
        Action::Label { .. } => "labeled",
    };
    let receipt = project::annotate(
        dir,
        &project::Annotate { record_id: record_id.to_string(), annotator: annotator.to_string(), action },
    )?;
    print_receipt(what, &receipt, json)
}

/// `finelab guidelines`: prints them, or replaces them with a Markdown file.
pub fn guidelines(dir: &Path, set: Option<&Path>) -> Result<()> {
    match set {
        Some(file) => {
            let markdown = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            project::set_guidelines(dir, &markdown)?;
            eprintln!(
                "guidelines of {} set from {} ({} characters)",
                dir.display(),
                file.display(),
                markdown.chars().count()
            );
        }
        None => print!("{}", project::guidelines(dir)?),
    }
    Ok(())
}

/// `finelab settings`: the project's settings, after changing the ones given.
pub fn settings(dir: &Path, change: &project::SettingsChange, json: bool) -> Result<()> {
    let settings = project::settings(dir, change)?;
    if json {
        println!("{}", serde_json::to_string(&settings)?);
    } else {
        println!("name\t{}", settings.name);
        println!("kind\t{}", settings.kind.as_str());
        println!("split seed\t{}", settings.split_seed);
        let r = &settings.split_ratios;
        println!("split ratios\ttrain {} dev {} test {}", r.train, r.dev, r.test);
        let every = match settings.retrain_every {
            0 => "off".to_string(),
            n => format!("every {n} labels (the window and finelab serve)"),
        };
        println!("background retrain\t{every}");
        println!("annotators per record\t{}", settings.overlap);
        let see = if settings.annotators_see_others { "yes" } else { "no: only their own" };
        println!("annotators see others' labels\t{see}");
        let tie = match settings.tie_rule {
            finelab_store::TieRule::Latest => "the latest of the tied labels",
            finelab_store::TieRule::Skip => "nothing until a reviewer decides",
        };
        println!("a tie trains on\t{tie}");
    }
    Ok(())
}

/// `finelab export-model`: a run's model folder copied out (a Hugging Face folder for a
/// transformer).
pub fn export_model(dir: &Path, run: &str, dest: &Path, adapter: bool, json: bool) -> Result<()> {
    use finelab_app::results::ModelExport;
    let what = if adapter { ModelExport::Adapter } else { ModelExport::Model };
    let exported = finelab_app::results::export_model_as(dir, run, dest, what)?;
    if json {
        println!("{}", serde_json::to_string(&exported)?);
    } else {
        println!(
            "{} ({} model, {} files, {} bytes)",
            exported.path,
            exported.family,
            exported.files.len(),
            exported.bytes
        );
    }
    Ok(())
}

/// `finelab resume`: a run that did not finish, through the same job the window starts (a new
/// run with its settings; or, for a run trained but interrupted while its predictions were
/// stored, those predictions), watched with a progress bar. Ctrl+C cancels the job.
pub fn resume(dir: &Path, run: &str, json: bool) -> Result<()> {
    let ctx = AppContext::new(None, None);
    let dir_text = dir.display().to_string();
    let call = |request: Request| -> Result<serde_json::Value> {
        ctx.handle(request).map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))
    };
    let job: JobState = serde_json::from_value(call(Request::ResumeRun { dir: dir_text, run: run.to_string() })?)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let interrupted = interrupted.clone();
        ctrlc::set_handler(move || {
            if interrupted.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping (press Ctrl+C again to quit at once)");
        })
        .context("installing the Ctrl+C handler")?;
    }
    let pb = if json { ProgressBar::hidden() } else { ProgressBar::new(1000) };
    pb.set_style(
        ProgressStyle::with_template("{msg:40} [{bar:30}] {percent:>3}% {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut cancelled = false;
    let last = loop {
        let state: JobState = serde_json::from_value(call(Request::Job { id: job.id })?)?;
        if let Some(train) = &state.train {
            pb.set_position((train.fraction.clamp(0.0, 1.0) * 1000.0) as u64);
        }
        pb.set_message(state.message.clone());
        if state.status != JobStatus::Running {
            break state;
        }
        if interrupted.load(Ordering::SeqCst) && !cancelled {
            call(Request::CancelJob { id: job.id })?;
            cancelled = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    pb.finish_and_clear();
    if let Some(error) = &last.error {
        anyhow::bail!("resuming run {run}: {} ({})", error.message, error.code);
    }
    if json {
        println!("{}", serde_json::to_string(&last.result)?);
    } else {
        println!("{}", last.message);
    }
    if last.status == JobStatus::Cancelled {
        std::process::exit(130);
    }
    Ok(())
}
