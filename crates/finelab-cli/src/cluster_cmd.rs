//! `finelab export-job` and `finelab import-run`: a training job for a cluster and its model
//! back as a run (`finelab_app::cluster`).

use anyhow::Result;
use finelab_app::train::TrainRequest;
use std::path::{Path, PathBuf};

/// Writes the job folder and says what to run next.
pub fn export_job(dir: &Path, train: TrainRequest, out: Option<PathBuf>, json: bool) -> Result<()> {
    let job = finelab_app::cluster::export_job(dir, &finelab_app::cluster::ExportJobRequest { train, out })?;
    if json {
        println!("{}", serde_json::to_string(&job)?);
        return Ok(());
    }
    println!(
        "job written to {} ({} train / {} dev / {} test records, data {})",
        job.path, job.n_train, job.n_dev, job.n_test, job.data_hash
    );
    println!("next: {}", job.launch);
    println!("then: finelab import-run {} {}/output", dir.display(), job.path);
    Ok(())
}

/// Imports a finished job's model as a run and prints its scores.
pub fn import_run(dir: &Path, output: &Path, json: bool) -> Result<()> {
    let run = finelab_app::cluster::import_run(dir, output)?;
    if json {
        println!("{}", serde_json::to_string(&run)?);
        return Ok(());
    }
    let f = |v: Option<f64>, digits: usize| v.map_or("-".into(), |f| format!("{f:.digits$}"));
    let scores = match run.test_chrf {
        Some(chrf) => format!("test chrF {chrf:.2}"),
        None => format!("dev macro-F1 {}, test macro-F1 {}", f(run.dev_macro_f1, 4), f(run.test_macro_f1, 4)),
    };
    println!("run {} imported: {scores} ({} predictions stored)", run.run, run.n_predictions);
    Ok(())
}
