//! The model in the loop from the command line: `finelab suspects` (labels likely wrong) and
//! `finelab train-curve` (which labels need more data). `finelab next --strategy` is in
//! `label_cmd.rs` with the other labeling commands.

use anyhow::Result;
use finelab_app::suspects::SuspectsRequest;
use std::path::Path;

/// Prints the suspects, most likely wrong first, with the per-label counts.
pub fn suspects(dir: &Path, request: &SuspectsRequest, json: bool) -> Result<()> {
    let report = finelab_app::suspects::suspects(dir, request)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{} suspect(s) among {} labeled records ({}-fold cross-validation of instant)",
        report.n_suspects, report.n_records, report.folds
    );
    for l in &report.per_label {
        println!("  {:<16} {:>5} of {:>6} suspect", l.label, l.n_suspects, l.n);
    }
    println!("by annotator (who gave the label):");
    for a in &report.per_annotator {
        println!("  {:<16} {:>5} of {:>6} suspect", a.annotator, a.n_suspects, a.n);
    }
    if !report.suspects.is_empty() {
        println!("\n{:>7}  {:<14} {:<24} text", "score", "id", "label -> suggested");
    }
    for s in &report.suspects {
        let text: String = s.text.chars().take(60).collect();
        let kept = if s.confirmed { " (kept on review)" } else { "" };
        let change = format!("{} -> {}{kept}", s.label, s.suggested);
        println!("{:>7.4}  {:<14} {:<24} {}", s.score, s.id, change, text.replace('\n', " "));
    }
    Ok(())
}

/// Prints dev F1 per label at each share of the train split, with a verdict per label.
pub fn train_curve(dir: &Path, model: String, fractions: Vec<f64>, seeds: usize, json: bool) -> Result<()> {
    let request = finelab_app::curve::CurveRequest {
        train: finelab_app::train::TrainRequest { model, ..Default::default() },
        fractions: Some(fractions),
        seeds: Some(seeds),
    };
    let curve = finelab_app::curve::train_curve(dir, &request)?;
    if json {
        println!("{}", serde_json::to_string(&curve)?);
        return Ok(());
    }
    let head: Vec<String> =
        curve.fractions.iter().zip(&curve.n_train).map(|(f, n)| format!("{:>5.0}% ({n})", f * 100.0)).collect();
    println!("dev F1 on {} records, mean of {} seed(s)\n", curve.n_dev, curve.seeds);
    println!("{:<16} {}  verdict", "label", head.join(" "));
    let cells = |v: &[f64]| v.iter().map(|x| format!("{x:>12.4}")).collect::<Vec<_>>().join(" ");
    for l in &curve.labels {
        let verdict = if l.verdict == "rising" {
            "still rising: more examples will help"
        } else {
            "flat: look at the guidelines or the label set"
        };
        println!("{:<16} {}  {verdict}", l.label, cells(&l.f1));
    }
    println!("{:<16} {}", "macro", cells(&curve.macro_f1));
    Ok(())
}
