//! Inter-annotator agreement (Cohen's and Fleiss' kappa, Krippendorff's alpha, per pair and per
//! label) against scikit-learn, statsmodels and krippendorff, on seeded random and corner cases.

use super::*;

const ANNOTATOR_POOL: &[&str] = &["alice", "Bob", "张伟", "李娜", "b", "Zoë", "ann-2"];

fn agreement_case(rng: &mut Rng, kind: &str) -> Value {
    let n_annotators = rng.range(2, 6);
    let annotators = rng.subset(ANNOTATOR_POOL, n_annotators);
    let n_records = rng.range(3, 40);
    let pool = if kind == "spans" { TYPE_POOL } else { CLASS_POOL };
    let n_labels = rng.range(2, 6).min(pool.len());
    let labels = rng.subset(pool, n_labels);
    // Records ids are not 0..n: spread out and some negative, to catch index-for-id mix-ups.
    let records: Vec<i64> = (0..n_records).map(|i| i as i64 * 7 - 50 + rng.below(5) as i64).collect();
    let lengths: Vec<usize> = records.iter().map(|_| rng.range(0, 25)).collect();
    let density = rng.range(5, 60) as f64 / 100.0;
    let truths: Vec<Value> = lengths
        .iter()
        .map(|&len| match kind {
            "single" => json!(rng.pick(&labels)),
            "multi" => json!(labels.iter().filter(|_| rng.chance(density)).collect::<Vec<_>>()),
            _ => json!(random_spans(rng, len, &labels, density * 0.5)),
        })
        .collect();

    let mut items = Vec::new();
    for annotator in &annotators {
        let coverage = [1.0, 0.9, 0.6, 0.3][rng.below(4)];
        let accuracy = [1.0, 0.99, 0.9, 0.7, 0.4, 0.0][rng.below(6)];
        let constant = (kind != "spans" && rng.percent(10)).then(|| rng.pick(&labels).clone());
        for (i, truth) in truths.iter().enumerate() {
            if !rng.chance(coverage) {
                continue;
            }
            let copy = rng.chance(accuracy);
            let value = match (kind, &constant) {
                ("single", Some(c)) => json!(c),
                ("multi", Some(c)) => json!([c]),
                _ if copy && kind != "spans" => truth.clone(),
                ("single", _) => json!(rng.pick(&labels)),
                ("multi", _) => {
                    let truth = strings(truth);
                    // Flip a label in or out; sometimes repeat one (a set: it counts once).
                    let mut set: Vec<String> =
                        labels.iter().filter(|l| truth.contains(l) != rng.percent(30)).cloned().collect();
                    if !set.is_empty() && rng.percent(10) {
                        set.push(set[0].clone());
                    }
                    json!(set)
                }
                _ => {
                    let truth: Vec<Span> = serde_json::from_value(truth.clone()).unwrap();
                    json!(if copy { truth } else { perturb(rng, lengths[i], &truth, &labels) })
                }
            };
            items.push(json!({"record": records[i], "annotator": annotator, "value": value}));
        }
    }
    // A few second ratings of a record already rated: the later one must win.
    for _ in 0..rng.below(3) {
        if let Some(first) = items.get(rng.below(items.len().max(1))).cloned() {
            let i = records.iter().position(|r| json!(r) == first["record"]).unwrap();
            let value = match kind {
                "single" => json!(rng.pick(&labels)),
                "multi" => json!([rng.pick(&labels)]),
                _ => json!(random_spans(rng, lengths[i], &labels, 0.2)),
            };
            items.push(json!({"record": first["record"], "annotator": first["annotator"], "value": value}));
        }
    }
    rng.0.shuffle(&mut items);

    let mut listed = labels.clone();
    match rng.below(4) {
        // Used labels not listed (one, several or all): they come after the listed ones, sorted.
        0 => {
            let drop = rng.range(1, listed.len());
            listed.drain(..drop);
        }
        1 => listed.push("unused".into()),
        _ => {}
    }
    rng.0.shuffle(&mut listed);
    let only = rng.percent(20).then(|| {
        let mut keep: Vec<String> = annotators.iter().filter(|_| rng.chance(0.7)).cloned().collect();
        keep.push("nobody".into());
        keep
    });
    let lengths: serde_json::Map<String, Value> =
        records.iter().zip(&lengths).map(|(r, l)| (r.to_string(), json!(l))).collect();
    json!({"kind": kind, "labels": listed, "only": only, "items": items, "lengths": lengths})
}

fn agreement_corner_cases() -> Vec<Value> {
    let item =
        |record: i64, annotator: &str, value: Value| json!({"record": record, "annotator": annotator, "value": value});
    let span = |a: usize, b: usize, l: &str| json!({"start": a, "end": b, "label": l});
    let case = |kind: &str, labels: &[&str], items: Vec<Value>| json!({"kind": kind, "labels": labels, "only": null, "items": items, "lengths": {"1": 6, "2": 6, "3": 6}});
    let all_same: Vec<Value> =
        ["x", "y", "z"].iter().flat_map(|a| (1..=3).map(move |r| item(r, a, json!("A")))).collect();
    vec![
        // No ratings; one annotator only; a record rated once.
        case("single", &["A", "B"], vec![]),
        case("single", &["A", "B"], vec![item(1, "x", json!("A")), item(2, "x", json!("B"))]),
        // All identical: every kappa and alpha undefined.
        case("single", &["A", "B"], all_same.clone()),
        case(
            "multi",
            &["A"],
            vec![
                item(1, "x", json!(["A"])),
                item(1, "y", json!(["A"])),
                item(2, "x", json!(["A"])),
                item(2, "y", json!(["A"])),
            ],
        ),
        // One pair only, agreeing perfectly, then disagreeing everywhere.
        case(
            "single",
            &["A", "B"],
            vec![
                item(1, "x", json!("A")),
                item(1, "y", json!("A")),
                item(2, "x", json!("B")),
                item(2, "y", json!("B")),
            ],
        ),
        case(
            "single",
            &["A", "B"],
            vec![
                item(1, "x", json!("A")),
                item(1, "y", json!("B")),
                item(2, "x", json!("B")),
                item(2, "y", json!("A")),
            ],
        ),
        // Two constant raters on different labels: kappa 0.
        case(
            "single",
            &[],
            vec![
                item(1, "x", json!("A")),
                item(1, "y", json!("B")),
                item(2, "x", json!("A")),
                item(2, "y", json!("B")),
            ],
        ),
        // Fleiss groups tie (one record with 2 raters, one with 3): the 3 raters win.
        case(
            "single",
            &["B", "A"],
            vec![
                item(1, "x", json!("A")),
                item(1, "y", json!("B")),
                item(2, "x", json!("A")),
                item(2, "y", json!("A")),
                item(2, "z", json!("B")),
            ],
        ),
        // Empty label sets, and a set against its reordering with a repeat.
        case(
            "multi",
            &["A", "B"],
            vec![
                item(1, "x", json!([])),
                item(1, "y", json!([])),
                item(2, "x", json!(["B", "A"])),
                item(2, "y", json!(["A", "B", "A"])),
                item(3, "x", json!(["A"])),
                item(3, "y", json!([])),
            ],
        ),
        // `only` keeps one annotator of two: nothing to compare.
        json!({"kind": "single", "labels": ["A"], "only": ["x"], "items": [item(1, "x", json!("A")), item(1, "y", json!("A"))], "lengths": {}}),
        // Spans: none at all (F1 0, as seqeval), identical, partly matching.
        case("spans", &["PER"], vec![item(1, "x", json!([])), item(1, "y", json!([]))]),
        case(
            "spans",
            &["PER"],
            vec![item(1, "x", json!([span(0, 2, "PER")])), item(1, "y", json!([span(0, 2, "PER")]))],
        ),
        case(
            "spans",
            &["LOC", "PER"],
            vec![
                item(1, "x", json!([span(0, 2, "PER"), span(3, 5, "LOC")])),
                item(1, "y", json!([span(0, 2, "PER"), span(3, 6, "LOC")])),
                item(2, "y", json!([span(1, 2, "地名")])),
                item(2, "x", json!([])),
                item(2, "z", json!([span(1, 2, "地名")])),
            ],
        ),
    ]
}

fn agreement_cases() -> Vec<Value> {
    let mut rng = Rng::new(0xA6EE_2024);
    let mut cases = agreement_corner_cases();
    for i in 0..360 {
        cases.push(agreement_case(&mut rng, ["single", "multi", "spans"][i % 3]));
    }
    cases
}

/// Our report for a case, through the public `agreement()`, as JSON.
fn agreement_ours(case: &Value) -> Value {
    use finelab_train::agreement::{agreement, Rated, Rating};
    let items: Vec<Rated> = case["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| Rated {
            record: item["record"].as_i64().unwrap(),
            annotator: item["annotator"].as_str().unwrap().to_string(),
            value: match case["kind"].as_str().unwrap() {
                "single" => Rating::Class(item["value"].as_str().unwrap().to_string()),
                "multi" => Rating::Labels(strings(&item["value"])),
                _ => Rating::Spans(serde_json::from_value(item["value"].clone()).unwrap()),
            },
        })
        .collect();
    let only: Option<Vec<String>> = case["only"].as_array().map(|_| strings(&case["only"]));
    serde_json::to_value(agreement(&items, &strings(&case["labels"]), only.as_deref())).unwrap()
}

/// Two numbers or two nulls; null (undefined) must match null.
fn check_optional(what: &str, got: &Value, want: &Value) -> Result<(), String> {
    match (got.is_null(), want.is_null()) {
        (true, true) => Ok(()),
        (false, false) => {
            let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
            if (g - w).abs() > 1e-9 {
                return Err(format!("{what}: we have {g}, reference has {w}"));
            }
            Ok(())
        }
        _ => Err(format!("{what}: we have {got}, reference has {want}")),
    }
}

fn keys(v: &Value) -> Vec<&String> {
    v.as_object().map(|o| o.keys().collect()).unwrap_or_default()
}

fn agreement_check(got: &Value, want: &Value) -> Result<(), String> {
    if keys(got) != keys(want) {
        return Err(format!("fields: we have {:?}, reference has {:?}", keys(got), keys(want)));
    }
    for key in ["n_records", "annotators", "fleiss_records", "fleiss_raters", "label_order"] {
        if got[key] != want[key] {
            return Err(format!("{key}: we have {}, reference has {}", got[key], want[key]));
        }
    }
    for key in ["fleiss_kappa", "krippendorff_alpha"] {
        check_optional(key, &got[key], &want[key])?;
    }
    let (got_pairs, want_pairs) = (got["pairs"].as_array().unwrap(), want["pairs"].as_array().unwrap());
    let names = |pairs: &[Value]| pairs.iter().map(|p| format!("{}/{}:{}", p["a"], p["b"], p["n"])).collect::<Vec<_>>();
    if names(got_pairs) != names(want_pairs) {
        return Err(format!("pairs: we have {:?}, reference has {:?}", names(got_pairs), names(want_pairs)));
    }
    for (g, w) in got_pairs.iter().zip(want_pairs) {
        let what = format!("pair {}/{}", g["a"], g["b"]);
        // An absent field is an undefined number: the key sets must agree too.
        if keys(g) != keys(w) {
            return Err(format!("{what} fields: we have {:?}, reference has {:?}", keys(g), keys(w)));
        }
        for key in ["percent_agreement", "cohen_kappa", "f1"] {
            check_optional(&format!("{what} {key}"), &g[key], &w[key])?;
        }
        if keys(&g["per_label"]) != keys(&w["per_label"]) {
            return Err(format!("{what} per_label: we have {}, reference has {}", g["per_label"], w["per_label"]));
        }
        for label in keys(&w["per_label"]) {
            check_optional(&format!("{what} per_label {label}"), &g["per_label"][label], &w["per_label"][label])?;
        }
    }
    if keys(&got["per_label"]) != keys(&want["per_label"]) {
        return Err(format!(
            "per_label: we have {:?}, reference has {:?}",
            keys(&got["per_label"]),
            keys(&want["per_label"])
        ));
    }
    for label in keys(&want["per_label"]) {
        for key in ["cohen_kappa_mean", "krippendorff_alpha"] {
            check_optional(
                &format!("per_label {label} {key}"),
                &got["per_label"][label][key],
                &want["per_label"][label][key],
            )?;
        }
    }
    Ok(())
}

#[test]
fn agreement_equals_sklearn_statsmodels_and_krippendorff() {
    let cases = agreement_cases();
    let reference: Vec<Value> = run_reference("agreement_reference.py", &cases, "statsmodels and krippendorff");

    let mut failures = Vec::new();
    let mut defined = [0usize; 4]; // pair kappas, Fleiss, alphas, span F1s > 0: the cases must reach them
    for (i, (case, want)) in cases.iter().zip(&reference).enumerate() {
        let got = agreement_ours(case);
        if let Err(message) = agreement_check(&got, want) {
            failures.push(format!("case {i} {case}\n  {message}"));
        }
        let pairs = got["pairs"].as_array().unwrap();
        defined[0] += pairs.iter().filter(|p| p["cohen_kappa"].is_number()).count();
        defined[1] += got["fleiss_kappa"].is_number() as usize;
        defined[2] += got["krippendorff_alpha"].is_number() as usize;
        defined[3] += pairs.iter().filter(|p| p["f1"].as_f64().is_some_and(|f| f > 0.0)).count();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(5)].join("\n")
    );
    assert!(defined.iter().all(|&n| n >= 50), "too few defined numbers to compare: {defined:?}");
}
