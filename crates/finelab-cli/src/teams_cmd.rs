//! `finelab agreement`, `finelab disagreements` and `finelab people`: several annotators on one
//! project.

use anyhow::Result;
use finelab_app::teams;
use std::path::Path;

/// The team commands of `finelab` (flattened into its command list).
#[derive(clap::Subcommand)]
pub enum TeamCommand {
    /// How far the project's annotators agree, over the records at least two of them labeled:
    /// per pair percent agreement and Cohen's kappa, Fleiss' kappa, Krippendorff's alpha
    /// (nominal), and per label one against the rest; for spans, F1 of one against the other.
    Agreement {
        /// The project folder.
        dir: std::path::PathBuf,
        /// Only these annotators (comma-separated).
        #[arg(long, value_delimiter = ',')]
        annotators: Option<Vec<String>>,
        /// Print JSON: {"n_records", "annotators", "pairs": [{"a", "b", "n", "percent_agreement",
        /// "cohen_kappa"}] (spans: "f1", "per_label"), "fleiss_kappa", "fleiss_records",
        /// "fleiss_raters", "krippendorff_alpha", "per_label": {LABEL: {"cohen_kappa_mean",
        /// "krippendorff_alpha"}}, "label_order", "n_undecided"}
        #[arg(long)]
        json: bool,
    },
    /// The records annotators labeled differently and no reviewer decided (to adjudicate with
    /// `finelab annotate --decisions`), or with --pair where two annotators differ.
    Disagreements {
        /// The project folder.
        dir: std::path::PathBuf,
        /// Two annotators: where these two differ, decided or not.
        #[arg(long, value_delimiter = ',', num_args = 1, value_name = "A,B")]
        pair: Option<Vec<String>>,
        /// At most N records.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON: {"total", "records": [{"view", "labels": [{"annotator", "value"}]}]}.
        #[arg(long)]
        json: bool,
    },
    /// Give a slice of the project (what a search finds) to named people: its records are served
    /// only to them. Without --to, list the slices; --remove ID takes one back.
    Assign {
        /// The project folder.
        dir: std::path::PathBuf,
        /// The people (comma-separated).
        #[arg(long, value_delimiter = ',')]
        to: Option<Vec<String>>,
        /// Records containing this text.
        #[arg(long)]
        text: Option<String>,
        /// Records with this label (by anyone).
        #[arg(long)]
        label: Option<String>,
        /// Records of this split.
        #[arg(long)]
        split: Option<String>,
        /// Records the newest model predicts as this label.
        #[arg(long)]
        predicted: Option<String>,
        /// Take the slice with this id back.
        #[arg(long, conflicts_with = "to")]
        remove: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Production traffic logged into the project (`finelab serve-model --log-to DIR`): requests
    /// per day, the predicted label mix per day beside the train split's, how many were labeled
    /// since. `finelab next DIR --strategy uncertain` serves the least sure first.
    Production {
        /// The project folder.
        dir: std::path::PathBuf,
        /// Print JSON: {"n_production", "n_labeled", "days": [{"day", "n", "shares"}], "train"}.
        #[arg(long)]
        json: bool,
    },
    /// Each annotator's work: labels, labels per hour, agreement with the others and with the
    /// reviewers' decisions.
    People {
        /// The project folder.
        dir: std::path::PathBuf,
        /// Also each one's suspected-noise rate: the share of their labels that cross-validated
        /// confident learning doubts (as `finelab suspects`; takes longer).
        #[arg(long)]
        noise: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one team command.
pub fn run(command: TeamCommand) -> Result<()> {
    match command {
        TeamCommand::Agreement { dir, annotators, json } => agreement(&dir, annotators.as_deref(), json)?,
        TeamCommand::Disagreements { dir, pair, limit, json } => disagreements(&dir, pair.as_deref(), limit, json)?,
        TeamCommand::People { dir, noise, json } => people(&dir, noise, json)?,
        TeamCommand::Production { dir, json } => {
            let mix = finelab_app::production::mix(&dir)?;
            if json {
                println!("{}", serde_json::to_string(&mix)?);
            } else {
                println!("{} production record(s) logged, {} labeled since", mix.n_production, mix.n_labeled);
                let show = |m: &std::collections::BTreeMap<String, f64>| {
                    m.iter().map(|(k, v)| format!("{k} {:.1}%", v * 100.0)).collect::<Vec<_>>().join("  ")
                };
                println!("train split\t{}", show(&mix.train));
                for d in &mix.days {
                    println!("{} ({} requests)\t{}", d.day, d.n, show(&d.shares));
                }
            }
        }
        TeamCommand::Assign { dir, to, text, label, split, predicted, remove, json } => {
            let query = finelab_store::search::SearchQuery {
                text,
                label,
                split: split.map(|s| s.parse::<finelab_store::Split>()).transpose()?,
                predicted_label: predicted,
                ..Default::default()
            };
            assign(&dir, to.as_deref(), &query, remove, json)?
        }
    }
    Ok(())
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"))
}

/// `finelab agreement`.
pub fn agreement(dir: &Path, annotators: Option<&[String]>, json: bool) -> Result<()> {
    let report = teams::agreement(dir, annotators)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("{} record(s) labeled by at least two of {}", report.n_records, report.annotators.join(", "));
    if report.pairs.is_empty() {
        println!("no two annotators share a record yet: set `finelab settings --overlap 2` and label");
        return Ok(());
    }
    let spans = report.pairs.iter().any(|p| p.f1.is_some());
    if spans {
        println!("{:<16} {:<16} {:>6} {:>8}", "a", "b", "shared", "F1");
        for p in &report.pairs {
            println!("{:<16} {:<16} {:>6} {:>8}", p.a, p.b, p.n, num(p.f1));
        }
    } else {
        println!("{:<16} {:<16} {:>6} {:>9} {:>8}", "a", "b", "shared", "agreement", "kappa");
        for p in &report.pairs {
            println!("{:<16} {:<16} {:>6} {:>9} {:>8}", p.a, p.b, p.n, num(p.percent_agreement), num(p.cohen_kappa));
        }
        println!(
            "Fleiss' kappa {} ({} records with {} raters)   Krippendorff's alpha {}",
            num(report.fleiss_kappa),
            report.fleiss_records,
            report.fleiss_raters,
            num(report.krippendorff_alpha)
        );
        println!("{:<20} {:>11} {:>8}", "label", "mean kappa", "alpha");
        for label in &report.label_order {
            if let Some(a) = report.per_label.get(label) {
                println!("{:<20} {:>11} {:>8}", label, num(a.cohen_kappa_mean), num(a.krippendorff_alpha));
            }
        }
    }
    println!("{} record(s) with different labels wait for a reviewer (`finelab disagreements`)", report.n_undecided);
    Ok(())
}

/// `finelab disagreements`.
pub fn disagreements(dir: &Path, pair: Option<&[String]>, limit: usize, json: bool) -> Result<()> {
    let pair = match pair {
        None => None,
        Some([a, b]) => Some((a.as_str(), b.as_str())),
        Some(other) => anyhow::bail!("--pair takes two annotators, A,B; got {}", other.len()),
    };
    let page = teams::disagreements(dir, pair, None, limit)?;
    if json {
        println!("{}", serde_json::to_string(&page)?);
        return Ok(());
    }
    for d in &page.records {
        let labels: Vec<String> = d.labels.iter().map(|l| format!("{}={}", l.annotator, show(&l.value))).collect();
        println!("{}\t{}\t{}", d.view.record.id, labels.join("  "), d.view.record.text.replace('\n', " "));
    }
    println!("{} of {} shown", page.records.len(), page.total);
    Ok(())
}

/// `finelab people`.
pub fn people(dir: &Path, noise: bool, json: bool) -> Result<()> {
    let people = teams::people(dir, noise)?;
    if json {
        println!("{}", serde_json::to_string(&people)?);
        return Ok(());
    }
    println!(
        "{:<16} {:>8} {:>10} {:>10} {:>7} {:>10}",
        "annotator", "labeled", "per hour", "agreement", "kappa", "decisions"
    );
    for p in people {
        let pace = p.labels_per_hour.map_or_else(|| "–".into(), |x| format!("{x:.0}"));
        println!(
            "{:<16} {:>8} {:>10} {:>10} {:>7} {:>10} {:>7}",
            p.annotator,
            p.labeled,
            pace,
            num(p.agreement_with_others),
            num(p.kappa_with_others),
            num(p.agreement_with_decisions),
            num(p.suspected_noise)
        );
    }
    Ok(())
}

/// A label as one short piece of text: the label, the labels joined by `|`, or the spans as
/// `type[start,end)`.
fn show(value: &finelab_store::AnnotationValue) -> String {
    use finelab_store::AnnotationValue as V;
    match value {
        V::Label(l) => l.clone(),
        V::Labels(ls) => ls.join("|"),
        V::Spans(spans) => {
            spans.iter().map(|s| format!("{}[{},{})", s.label, s.start, s.end)).collect::<Vec<_>>().join(" ")
        }
        V::Output(o) => o.chars().take(40).collect(),
    }
}

/// `finelab assign`: give a slice to people, take one back, or list them.
pub fn assign(
    dir: &Path,
    to: Option<&[String]>,
    query: &finelab_store::search::SearchQuery,
    remove: Option<i64>,
    json: bool,
) -> Result<()> {
    let store = finelab_store::Store::open(dir)?;
    if let Some(people) = to {
        let made = store.add_assignment(query, people)?;
        let n = store.matching_seqs(&made.query)?.len();
        if json {
            println!("{}", serde_json::json!({"assignment": made, "records": n}));
        } else {
            println!("slice {}: {n} record(s) for {}", made.id, made.people.join(", "));
        }
        return Ok(());
    }
    if let Some(id) = remove {
        store.remove_assignment(id)?;
    }
    let list = store.assignments()?;
    if json {
        println!("{}", serde_json::to_string(&list)?);
    } else if list.is_empty() {
        println!("no slices: every record goes to anyone (give one with --to A,B and a filter)");
    } else {
        for a in list {
            let n = store.matching_seqs(&a.query)?.len();
            println!("{}\t{n} record(s)\t{}\t{}", a.id, a.people.join(","), serde_json::to_string(&a.query)?);
        }
    }
    Ok(())
}
