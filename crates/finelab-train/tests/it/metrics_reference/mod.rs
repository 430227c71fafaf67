//! Cross-checks every metric against the references that define it (scikit-learn, seqeval):
//! several hundred seeded random cases, corner cases included, are written to a JSON file, run
//! through `scripts/reference/metrics_reference.py`, and every number must agree to 1e-9.
//!
//! The interpreter is `$FINELAB_PYTHON`, else `.venv/bin/python` at the workspace root when it
//! exists, else `python3`. Without scikit-learn / seqeval the test fails (it never skips).
//!
//! The generation scores (`gen_metrics`) are checked the same way against sacrebleu and
//! rouge-score, through `scripts/reference/gen_metrics_reference.py`, and confident learning
//! (`noise`) against cleanlab, through `scripts/reference/noise_reference.py`, and inter-annotator
//! agreement (`agreement`) against scikit-learn, statsmodels and krippendorff, through
//! `scripts/reference/agreement_reference.py`.

use std::path::{Path, PathBuf};
use std::process::Command;

use finelab_train::gen_metrics::generation_report;
use finelab_train::metrics::{multi_label_report, single_label_report, single_label_report_with_labels, span_report};
use finelab_train::Span;
use serde_json::{json, Value};

use crate::common;
use common::Rng;

mod agreement;
mod generation;

// Labels chosen so that string order is not the obvious one ("10" < "9", CJK and emoji last).
const CLASS_POOL: &[&str] = &["A", "B", "c", "10", "9", "dog", "猫", "😀"];
const TYPE_POOL: &[&str] = &["PER", "LOC", "ORG", "地名", "X-Y"];

fn single_case(rng: &mut Rng, n: usize, k: usize, explicit: bool) -> Value {
    let labels = rng.subset(CLASS_POOL, k);
    // Gold often draws from fewer labels, so some labels are only ever predicted.
    let gold_k = if k > 1 && rng.chance(0.4) { k - 1 } else { k };
    let accuracy = rng.below(100) as f64 / 100.0;
    let gold: Vec<String> = (0..n).map(|_| rng.pick(&labels[..gold_k]).clone()).collect();
    // Predictions sometimes avoid a label, so some labels are never predicted.
    let pred_pool = if k > 1 && rng.chance(0.3) { &labels[1..] } else { &labels[..] };
    let pred: Vec<String> =
        gold.iter().map(|g| if rng.chance(accuracy) { g.clone() } else { rng.pick(pred_pool).clone() }).collect();
    let explicit_labels = explicit.then(|| {
        let mut listed: Vec<String> = labels.clone();
        match rng.below(3) {
            // Drop some labels, but keep one that occurs in gold (sklearn's confusion_matrix
            // refuses a list with no gold label at all).
            0 if listed.len() > 1 => {
                let keep = gold[0].clone();
                listed.retain(|l| *l == keep || rng.chance(0.5));
            }
            // Add a label that never occurs.
            1 => listed.push("unseen".into()),
            _ => {}
        }
        for i in (1..listed.len()).rev() {
            let j = rng.below(i + 1);
            listed.swap(i, j);
        }
        listed
    });
    json!({"kind": "single", "gold": gold, "pred": pred, "labels": explicit_labels})
}

fn multi_case(rng: &mut Rng, n: usize, k: usize) -> Value {
    // One label would be a binary vector to scikit-learn, not an indicator matrix: k >= 2.
    let labels = rng.subset(CLASS_POOL, k.max(2));
    let density = rng.range(5, 70) as f64 / 100.0;
    let noise = rng.range(0, 50) as f64 / 100.0;
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    for _ in 0..n {
        let g: Vec<String> = labels.iter().filter(|_| rng.chance(density)).cloned().collect();
        let p: Vec<String> = labels.iter().filter(|l| g.contains(l) != rng.chance(noise)).cloned().collect();
        gold.push(g);
        pred.push(p);
    }
    json!({"kind": "multi", "gold": gold, "pred": pred, "labels": labels})
}

/// Non-overlapping spans (IOB2 cannot express overlaps), left to right.
fn random_spans(rng: &mut Rng, len: usize, types: &[String], density: f64) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < len {
        if rng.chance(density) {
            let end = (i + rng.range(1, 4)).min(len);
            spans.push(Span::new(i, end, rng.pick(types).clone()));
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

fn perturb(rng: &mut Rng, len: usize, gold: &[Span], types: &[String]) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for span in gold {
        let mut s = span.clone();
        match rng.below(6) {
            0 => continue,                            // missed
            1 => s.label = rng.pick(types).clone(),   // maybe wrong type
            2 if s.end < len => s.end += 1,           // boundary too long
            3 if s.end - s.start > 1 => s.start += 1, // boundary too short
            _ => {}
        }
        out.push(s);
    }
    out.extend(random_spans(rng, len, types, 0.05)); // spurious
    out.sort_by_key(|s| (s.start, s.end));
    let mut kept: Vec<Span> = Vec::new();
    for s in out {
        if kept.last().is_none_or(|k| k.end <= s.start) {
            kept.push(s);
        }
    }
    kept
}

fn spans_case(rng: &mut Rng, n: usize, k: usize) -> Value {
    let types = rng.subset(TYPE_POOL, k.min(TYPE_POOL.len()));
    let density = rng.range(0, 30) as f64 / 100.0;
    let mut lengths = Vec::new();
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    for _ in 0..n {
        let len = rng.range(0, 30);
        let g = random_spans(rng, len, &types, density);
        let p = perturb(rng, len, &g, &types);
        lengths.push(len);
        gold.push(g);
        pred.push(p);
    }
    json!({"kind": "spans", "gold": gold, "pred": pred, "lengths": lengths})
}

fn corner_cases() -> Vec<Value> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let span = |a, b, l: &str| json!({"start": a, "end": b, "label": l});
    vec![
        json!({"kind": "single", "gold": s(&["a"]), "pred": s(&["a"]), "labels": null}),
        json!({"kind": "single", "gold": s(&["a"]), "pred": s(&["b"]), "labels": null}),
        json!({"kind": "single", "gold": s(&["a", "a"]), "pred": s(&["b", "b"]), "labels": null}),
        json!({"kind": "single", "gold": s(&["a", "b", "c"]), "pred": s(&["a", "b", "c"]), "labels": null}),
        json!({"kind": "single", "gold": s(&["a", "b"]), "pred": s(&["a", "z"]), "labels": s(&["a", "b"])}),
        json!({"kind": "single", "gold": s(&["a", "b"]), "pred": s(&["b", "a"]), "labels": s(&["b", "a", "q"])}),
        json!({"kind": "multi", "gold": [[], []], "pred": [[], []], "labels": s(&["x", "y"])}),
        json!({"kind": "multi", "gold": [["x"], []], "pred": [[], ["y"]], "labels": s(&["x", "y"])}),
        json!({"kind": "multi", "gold": [[]], "pred": [["x", "y"]], "labels": s(&["x", "y", "z"])}),
        json!({"kind": "spans", "gold": [[span(0, 2, "PER")]], "pred": [[span(0, 2, "PER")]], "lengths": [3]}),
        json!({"kind": "spans", "gold": [[span(0, 2, "PER")]], "pred": [[]], "lengths": [3]}),
        json!({"kind": "spans", "gold": [[]], "pred": [[span(1, 3, "LOC")]], "lengths": [3]}),
        json!({"kind": "spans", "gold": [[], []], "pred": [[], []], "lengths": [0, 4]}),
        json!({"kind": "spans", "gold": [[span(0, 1, "A"), span(1, 2, "A")]], "pred": [[span(0, 2, "A")]], "lengths": [2]}),
    ]
}

fn generate() -> Vec<Value> {
    let mut rng = Rng::new(20240611);
    let mut cases = corner_cases();
    for i in 0..600 {
        let n = rng.range(1, 60);
        let k = rng.range(1, 6);
        cases.push(match i % 4 {
            0 => single_case(&mut rng, n, k, false),
            1 => single_case(&mut rng, n, k, true),
            2 => multi_case(&mut rng, n, k),
            _ => spans_case(&mut rng, n, k),
        });
    }
    cases
}

fn strings(v: &Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Our report for a case, as JSON.
fn ours(case: &Value) -> Value {
    let report = match case["kind"].as_str().unwrap() {
        "single" => {
            let (gold, pred) = (strings(&case["gold"]), strings(&case["pred"]));
            match case["labels"].as_array() {
                Some(_) => single_label_report_with_labels(&gold, &pred, &strings(&case["labels"])),
                None => single_label_report(&gold, &pred),
            }
        }
        "multi" => {
            let gold: Vec<Vec<String>> = serde_json::from_value(case["gold"].clone()).unwrap();
            let pred: Vec<Vec<String>> = serde_json::from_value(case["pred"].clone()).unwrap();
            multi_label_report(&gold, &pred, &strings(&case["labels"]))
        }
        _ => {
            let gold: Vec<Vec<Span>> = serde_json::from_value(case["gold"].clone()).unwrap();
            let pred: Vec<Vec<Span>> = serde_json::from_value(case["pred"].clone()).unwrap();
            span_report(&gold, &pred)
        }
    };
    report.unwrap().to_json()
}

/// Compares one number; the reference's null (seqeval's NaN for a mean over no types) must be
/// our documented 0.
fn check_number(what: &str, got: &Value, want: &Value) -> Result<(), String> {
    let got = got.as_f64().ok_or_else(|| format!("{what}: we have {got}, not a number"))?;
    let want = if want.is_null() { 0.0 } else { want.as_f64().ok_or_else(|| format!("{what}: reference {want}"))? };
    if (got - want).abs() > 1e-9 {
        return Err(format!("{what}: we have {got}, reference has {want}"));
    }
    Ok(())
}

fn check_case(case: &Value, got: &Value, want: &Value) -> Result<(), String> {
    let (got, want) = (got.as_object().unwrap(), want.as_object().unwrap());
    let mut got_keys: Vec<&String> = got.keys().collect();
    let mut want_keys: Vec<&String> = want.keys().collect();
    got_keys.sort();
    want_keys.sort();
    if got_keys != want_keys {
        return Err(format!("keys differ: we have {got_keys:?}, reference has {want_keys:?}"));
    }
    for (key, want_value) in want {
        let got_value = &got[key];
        match key.as_str() {
            "accuracy" => check_number(key, got_value, want_value)?,
            "confusion" if case["kind"] == "single" => {
                if got_value != want_value {
                    return Err(format!("confusion: we have {got_value}, reference has {want_value}"));
                }
            }
            _ => {
                for field in ["precision", "recall", "f1-score", "support"] {
                    check_number(&format!("{key}.{field}"), &got_value[field], &want_value[field])?;
                }
            }
        }
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn python(root: &Path) -> String {
    if let Ok(python) = std::env::var("FINELAB_PYTHON") {
        return python;
    }
    let venv = root.join(".venv/bin/python");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".into()
}

/// Runs `scripts/reference/SCRIPT` on `cases` (written to a JSON file named on its command line)
/// and returns the JSON list it prints, one answer per case. `needs` names the Python packages
/// the script imports, for the message when it cannot run.
fn run_reference<C: serde::Serialize, A: serde::de::DeserializeOwned>(
    script: &str,
    cases: &[C],
    needs: &str,
) -> Vec<A> {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(cases).unwrap()).unwrap();
    let python = python(&root);
    let output = Command::new(&python)
        .arg(root.join("scripts/reference").join(script))
        .arg(&cases_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (set FINELAB_PYTHON to a Python with {needs}): {e}"));
    assert!(
        output.status.success(),
        "{script} failed under {python} (set FINELAB_PYTHON, or let ./scripts/setup.sh install {needs} in .venv):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<A> =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON list ({e})"));
    assert_eq!(answers.len(), cases.len(), "{script}: one answer per case");
    answers
}

#[test]
fn metrics_equal_sklearn_and_seqeval() {
    let cases = generate();
    assert!(cases.len() >= 500);
    let reference: Vec<Value> = run_reference("metrics_reference.py", &cases, "scikit-learn, seqeval and numpy");

    let mut failures = Vec::new();
    for (i, (case, want)) in cases.iter().zip(&reference).enumerate() {
        if let Err(message) = check_case(case, &ours(case), want) {
            failures.push(format!("case {i} {case}\n  {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

// ---- Generation scores against sacrebleu and rouge-score ----
// Seeded random outputs and references (`scripts/reference/gen_metrics_reference.py` scores them):
// English, Chinese and both mixed, numbers, punctuation ASCII and full-width, entities, repeated
// words, empty and whitespace-only outputs, and the whitespace Python sees but Rust's `trim`
// does not (U+001C), all under both conventions.

// ---- Confident learning against cleanlab ----
// Seeded random out-of-fold probabilities (peaked or flat, 2 to 6 classes, every class given at
// least once) and given labels that agree with the most probable class at a random rate;
// `scripts/reference/noise_reference.py` runs cleanlab's find_label_issues on the same numbers.

fn noise_cases() -> Vec<Value> {
    let mut rng = Rng::new(0x5EED_C1EA);
    (0..300)
        .map(|_| {
            let k = rng.range(2, 6);
            let n = rng.range(k.max(8), 250);
            let sharp = 1 + rng.below(6) as i32;
            let agree = rng.below(100) as f64 / 100.0;
            let mut probs = Vec::with_capacity(n);
            let mut labels = Vec::with_capacity(n);
            for i in 0..n {
                let raw: Vec<f64> = (0..k)
                    .map(|_| ((rng.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64).powi(sharp) + 1e-9)
                    .collect();
                let sum: f64 = raw.iter().sum();
                let p: Vec<f64> = raw.iter().map(|v| v / sum).collect();
                let top = (0..k).fold(0, |b, j| if p[j] > p[b] { j } else { b });
                labels.push(if i < k {
                    i
                } else if rng.chance(agree) {
                    top
                } else {
                    rng.below(k)
                });
                probs.push(p);
            }
            json!({"probs": probs, "labels": labels})
        })
        .collect()
}

#[test]
fn confident_learning_equals_cleanlab() {
    use finelab_train::noise::{class_thresholds, find_label_issues, RankBy};
    let cases = noise_cases();
    let reference: Vec<Value> = run_reference("noise_reference.py", &cases, "cleanlab");
    let mut failures = Vec::new();
    let mut n_found = 0;
    for (i, (case, want)) in cases.iter().zip(&reference).enumerate() {
        let probs: Vec<Vec<f64>> = serde_json::from_value(case["probs"].clone()).unwrap();
        let labels: Vec<usize> = serde_json::from_value(case["labels"].clone()).unwrap();
        let k = probs[0].len();
        let thresholds = class_thresholds(&probs, &labels, k);
        let want_t: Vec<f64> = serde_json::from_value(want["thresholds"].clone()).unwrap();
        if thresholds.iter().zip(&want_t).any(|(a, b)| (a - b).abs() > 1e-9) {
            failures.push(format!("case {i}: thresholds {thresholds:?} != cleanlab {want_t:?}"));
        }
        for (rank, by) in [("self_confidence", RankBy::SelfConfidence), ("normalized_margin", RankBy::NormalizedMargin)]
        {
            let got: Vec<usize> = find_label_issues(&probs, &labels, k, by).iter().map(|s| s.index).collect();
            let want: Vec<usize> = serde_json::from_value(want[rank].clone()).unwrap();
            n_found += got.len();
            if got != want {
                failures.push(format!("case {i} ({rank}): {got:?} != cleanlab {want:?}"));
            }
        }
    }
    assert!(n_found > 1000, "the cases should contain label issues ({n_found})");
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures[..failures.len().min(5)].join("\n"));
}

// ---- Inter-annotator agreement against scikit-learn, statsmodels and krippendorff ----
// Seeded random projects: 2 to 6 annotators (Chinese names among them) over 3 to 40 records with
// 2 to 6 labels (CJK and emoji among them), single-label, multi-label and spans; each annotator
// rates a share of the records, copies a hidden truth at a random rate (some almost always, some
// constant), and sometimes rates a record twice (the later rating counts). The label list given
// may miss a used label or name an unused one, and `only` may keep a subset of the annotators.
// `scripts/reference/agreement_reference.py` computes the whole report from the same ratings.

// The Wilson score interval of a blind A/B review's win rate against statsmodels'
// `proportion_confint(method="wilson")`, through `scripts/reference/wilson_reference.py`: every
// k of small n (the edges 0 and n included), and seeded larger ones.
#[test]
fn wilson_intervals_equal_statsmodels() {
    let mut cases: Vec<(u64, u64)> = (1..=30).flat_map(|n| (0..=n).map(move |k| (k, n))).collect();
    let mut rng = Rng::new(17);
    for _ in 0..200 {
        let n = rng.range(31, 5000) as u64;
        cases.push((rng.below(n as usize + 1) as u64, n));
    }
    let reference: Vec<(f64, f64)> = run_reference("wilson_reference.py", &cases, "statsmodels");
    for (&(k, n), &(low, high)) in cases.iter().zip(&reference) {
        let (l, h) = finelab_train::metrics::wilson_interval(k, n, finelab_train::metrics::Z_95).unwrap();
        assert!(
            (l - low).abs() < 1e-12 && (h - high).abs() < 1e-12,
            "k={k} n={n}: ({l}, {h}) vs statsmodels ({low}, {high})"
        );
    }
    assert_eq!(finelab_train::metrics::wilson_interval(0, 0, finelab_train::metrics::Z_95), None);
}
