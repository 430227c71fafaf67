//! `finelab agreement`, `finelab disagreements` and `finelab people`: several annotators on one
//! project.

use anyhow::Result;
use finelab_app::teams;
use std::path::Path;

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
