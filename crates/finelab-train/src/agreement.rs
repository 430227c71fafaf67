//! Inter-annotator agreement: how far the people who label the same records agree, in the numbers
//! the literature defines and the references compute:
//!
//! - Cohen's kappa for each pair of annotators, as scikit-learn's `cohen_kappa_score` (unweighted);
//! - Fleiss' kappa over records rated by the same number of annotators, as statsmodels'
//!   `inter_rater.fleiss_kappa(table, method="fleiss")`;
//! - Krippendorff's alpha (nominal) over every annotator and record, missing ratings allowed, as
//!   the `krippendorff` package's `alpha(..., level_of_measurement="nominal")`;
//! - for spans, entity-level F1 between two annotators, as seqeval (through
//!   [`span_report`](crate::metrics::span_report)).
//!
//! A number that the reference leaves undefined (NaN, infinity or an exception) is `None` here.
//! `tests/it/metrics_reference/agreement.rs` checks every field of [`agreement`] against
//! `scripts/reference/agreement_reference.py`. Pure functions: no database, no I/O; every output
//! is sorted, so the same ratings always give the same report.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::metrics::span_report;
use crate::Span;

/// What one annotator said about one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rating {
    /// Single-label classification: one class.
    Class(String),
    /// Multi-label classification: a set of labels (order and repeats do not matter).
    Labels(Vec<String>),
    /// Span labeling: the spans of the record.
    Spans(Vec<Span>),
}

/// One rating: who rated which record, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    /// The record's id.
    pub record: i64,
    /// The annotator's name.
    pub annotator: String,
    /// The rating.
    pub value: Rating,
}

/// Agreement among the annotators of a project.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementReport {
    /// Records rated by at least two of the kept annotators.
    pub n_records: usize,
    /// The kept annotators who rated at least one of those records, sorted.
    pub annotators: Vec<String>,
    /// Every pair of annotators (`a < b`) that rated at least one record in common, sorted.
    pub pairs: Vec<PairAgreement>,
    /// Fleiss' kappa over the records of [`fleiss_records`](Self::fleiss_records) (classes and
    /// labels; `None` for spans and where statsmodels gives NaN or infinity).
    pub fleiss_kappa: Option<f64>,
    /// Records used for Fleiss' kappa: the largest group of records that share one rater count
    /// of at least two (on a tie, the group with more raters).
    pub fleiss_records: usize,
    /// The rater count of that group (0 when there is none).
    pub fleiss_raters: usize,
    /// Krippendorff's alpha (nominal) over the annotators × the records, a record's missing
    /// ratings left out (classes and labels; `None` for spans and where undefined).
    pub krippendorff_alpha: Option<f64>,
    /// Agreement on each label, one label against the rest (classes and labels; empty for spans).
    pub per_label: BTreeMap<String, LabelAgreement>,
    /// The labels in the order to show them: the project's labels as given, then the labels the
    /// kept annotators used that are not among them, sorted. For spans, the order of the types.
    pub label_order: Vec<String>,
}

/// Agreement between two annotators over the records both rated.
#[derive(Debug, Clone, Serialize)]
pub struct PairAgreement {
    /// The first annotator (the smaller name).
    pub a: String,
    /// The second annotator.
    pub b: String,
    /// Records both rated.
    pub n: usize,
    /// Classes and labels: the share of those records given the same value (the same set, for
    /// labels).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_agreement: Option<f64>,
    /// Classes and labels: Cohen's kappa ([`cohen_kappa`]); `None` where it is undefined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohen_kappa: Option<f64>,
    /// Spans only: micro entity-level F1 of `b` against `a` (symmetric). As seqeval and
    /// [`span_report`](crate::metrics::span_report): 0.0 when neither has a span on the shared
    /// records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// Spans only: F1 per type, for each type either annotator used on the shared records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_label: Option<BTreeMap<String, f64>>,
}

/// Agreement on one label, read as "has this label" against "has not".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelAgreement {
    /// The mean over pairs of the binary Cohen's kappa, over the pairs where it is defined
    /// (`None` if it is defined for none).
    pub cohen_kappa_mean: Option<f64>,
    /// Krippendorff's alpha (nominal) on the binary ratings.
    pub krippendorff_alpha: Option<f64>,
}

/// The agreement among the annotators of `items`.
///
/// `labels`: the project's label set (per-label results are given for each of them, in this
/// order, plus any label that occurs in the ratings but is not listed, after them).
/// `only`: keep only these annotators (`None`: all who rated).
///
/// The kind of the first item decides the kind of the report; ratings of another kind are left
/// out. When an annotator rated a record twice, the later rating counts. For labels, a record's
/// set of labels is one nominal value in the pairwise, Fleiss and Krippendorff numbers. For spans,
/// a span that covers nothing (`start >= end`) is left out, and a duplicate span counts once.
pub fn agreement(items: &[Rated], labels: &[String], only: Option<&[String]>) -> AgreementReport {
    let spans = matches!(items.first(), Some(Rated { value: Rating::Spans(_), .. }));
    let kind = items.first().map(|item| std::mem::discriminant(&item.value));
    let kept = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));

    // record -> annotator -> rating; a later rating replaces an earlier one.
    let mut by_record: BTreeMap<i64, BTreeMap<&str, &Rating>> = BTreeMap::new();
    for item in items {
        if Some(std::mem::discriminant(&item.value)) == kind && kept(&item.annotator) {
            by_record.entry(item.record).or_default().insert(&item.annotator, &item.value);
        }
    }
    let label_order = label_order(labels, by_record.values().flat_map(|r| r.values().copied()));
    by_record.retain(|_, raters| raters.len() >= 2);
    let annotators: Vec<&str> =
        by_record.values().flat_map(|r| r.keys().copied()).collect::<BTreeSet<_>>().into_iter().collect();

    let table = Table { by_record: &by_record, annotators: &annotators };
    let mut report = AgreementReport {
        n_records: by_record.len(),
        annotators: annotators.iter().map(|a| a.to_string()).collect(),
        pairs: Vec::new(),
        fleiss_kappa: None,
        fleiss_records: 0,
        fleiss_raters: 0,
        krippendorff_alpha: None,
        per_label: BTreeMap::new(),
        label_order,
    };
    if spans {
        report.pairs = table.pairs().map(|(a, b, shared)| span_pair(a, b, &shared)).collect();
    } else {
        nominal_agreement(&table, &mut report);
    }
    report
}

/// Cohen's kappa of two raters, unweighted, as scikit-learn's `cohen_kappa_score(a, b)`:
/// `1 - Σ off-diagonal observed / Σ off-diagonal expected`, the expected counts from the two
/// raters' marginals. `None` where scikit-learn gives NaN (both raters gave one and the same
/// value to every item, so chance agreement is 1) or raises (no items, lengths differ).
pub fn cohen_kappa(a: &[&str], b: &[&str]) -> Option<f64> {
    let codes: BTreeMap<&str, usize> =
        a.iter().chain(b).copied().collect::<BTreeSet<_>>().into_iter().enumerate().map(|(i, v)| (v, i)).collect();
    let a: Vec<usize> = a.iter().map(|v| codes[v]).collect();
    let b: Vec<usize> = b.iter().map(|v| codes[v]).collect();
    cohen_kappa_codes(&a, &b, codes.len())
}

/// Fleiss' kappa as statsmodels' `fleiss_kappa(table, method="fleiss")`: rows are records,
/// columns categories, cells how many raters put the record in the category; every row must
/// count the same number of raters. `None` where statsmodels gives NaN or infinity (fewer than
/// two raters, one category only) or refuses the table (empty, ragged, rows with different
/// rater counts).
pub fn fleiss_kappa(table: &[Vec<usize>]) -> Option<f64> {
    let n_cat = table.first()?.len();
    if table.iter().any(|row| row.len() != n_cat) {
        return None;
    }
    let n_rat = table[0].iter().sum::<usize>();
    if n_rat < 2 || table.iter().any(|row| row.iter().sum::<usize>() != n_rat) {
        return None;
    }
    let n_sub = table.len() as f64;
    let n_total = n_sub * n_rat as f64;
    let n_rat = n_rat as f64;
    let p_mean = table
        .iter()
        .map(|row| (row.iter().map(|&c| (c * c) as f64).sum::<f64>() - n_rat) / (n_rat * (n_rat - 1.0)))
        .sum::<f64>()
        / n_sub;
    let p_mean_exp: f64 = (0..n_cat)
        .map(|j| {
            let p = table.iter().map(|row| row[j]).sum::<usize>() as f64 / n_total;
            p * p
        })
        .sum();
    let kappa = (p_mean - p_mean_exp) / (1.0 - p_mean_exp);
    kappa.is_finite().then_some(kappa)
}

/// Krippendorff's alpha for nominal data, as the `krippendorff` package's
/// `alpha(reliability_data, level_of_measurement="nominal")`: rows are annotators, columns units,
/// `None` a missing rating (NaN there). Only units with two or more ratings count (the pairable
/// values). `None` where the package gives NaN (one pairable value only) or raises (fewer than two
/// distinct values overall, no unit rated twice, rows of different lengths).
pub fn krippendorff_alpha_nominal(units: &[Vec<Option<usize>>]) -> Option<f64> {
    let n_units = units.first().map_or(0, Vec::len);
    if units.iter().any(|row| row.len() != n_units) {
        return None;
    }
    let distinct: BTreeSet<usize> = units.iter().flatten().flatten().copied().collect();
    if distinct.len() < 2 {
        return None;
    }
    // Per value, how many pairable ratings it has (n_v), and the observed disagreement: per unit
    // with m ratings, Σ_{c≠k} n_uc·n_uk / (m − 1) = (m² − Σ_c n_uc²) / (m − 1).
    let mut n_v: BTreeMap<usize, usize> = BTreeMap::new();
    let mut observed = 0.0;
    let mut any_pairable = false;
    for unit in 0..n_units {
        let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
        for value in units.iter().filter_map(|row| row[unit]) {
            *counts.entry(value).or_default() += 1;
        }
        let m: usize = counts.values().sum();
        if m < 2 {
            continue;
        }
        any_pairable = true;
        let same: usize = counts.values().map(|c| c * c).sum();
        observed += (m * m - same) as f64 / (m - 1) as f64;
        for (value, c) in counts {
            *n_v.entry(value).or_default() += c;
        }
    }
    if !any_pairable {
        return None;
    }
    // Expected disagreement: Σ_{c≠k} n_c·n_k / (n − 1).
    let n: usize = n_v.values().sum();
    let same: usize = n_v.values().map(|c| c * c).sum();
    let expected = (n * n - same) as f64 / (n - 1) as f64;
    let alpha = 1.0 - observed / expected;
    alpha.is_finite().then_some(alpha)
}

/// Cohen's kappa on values already coded `0..n_values`.
fn cohen_kappa_codes(a: &[usize], b: &[usize], n_values: usize) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut sum_a, mut sum_b) = (vec![0u64; n_values], vec![0u64; n_values]);
    let mut disagree = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        sum_a[x] += 1;
        sum_b[y] += 1;
        disagree += (x != y) as u64;
    }
    // Σ_{i≠j} sum_a[i]·sum_b[j] / N, in integers until the division: exactly zero when
    // scikit-learn's float sum is.
    let n = a.len() as u64;
    let same: u64 = sum_a.iter().zip(&sum_b).map(|(x, y)| x * y).sum();
    let expected_off = n * n - same;
    if expected_off == 0 {
        return None;
    }
    Some(1.0 - disagree as f64 / (expected_off as f64 / n as f64))
}

/// The labels as given (first occurrence of each), then the others the ratings use, sorted.
fn label_order<'a>(labels: &[String], ratings: impl Iterator<Item = &'a Rating>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for label in labels {
        if !order.contains(label) {
            order.push(label.clone());
        }
    }
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for rating in ratings {
        match rating {
            Rating::Class(class) => {
                used.insert(class);
            }
            Rating::Labels(set) => used.extend(set.iter().map(String::as_str)),
            Rating::Spans(spans) => used.extend(spans.iter().filter(|s| s.start < s.end).map(|s| s.label.as_str())),
        }
    }
    order.extend(used.into_iter().filter(|l| !labels.iter().any(|x| x == l)).map(String::from));
    order
}

/// The ratings of the records rated at least twice.
struct Table<'a> {
    by_record: &'a BTreeMap<i64, BTreeMap<&'a str, &'a Rating>>,
    annotators: &'a [&'a str],
}

impl<'a> Table<'a> {
    /// Every pair `a < b` with the records both rated, as `(rating of a, rating of b)` in record
    /// order; pairs with no shared record are left out.
    fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str, Vec<(&'a Rating, &'a Rating)>)> + '_ {
        let annotators = self.annotators;
        (0..annotators.len())
            .flat_map(move |i| (i + 1..annotators.len()).map(move |j| (annotators[i], annotators[j])))
            .filter_map(move |(a, b)| {
                let shared: Vec<(&Rating, &Rating)> =
                    self.by_record.values().filter_map(|r| Some((*r.get(a)?, *r.get(b)?))).collect();
                (!shared.is_empty()).then_some((a, b, shared))
            })
    }

    /// The annotators × records matrix of `code(rating)`, `None` where not rated.
    fn matrix(&self, code: impl Fn(&Rating) -> usize) -> Vec<Vec<Option<usize>>> {
        self.annotators.iter().map(|a| self.by_record.values().map(|r| r.get(a).map(|v| code(v))).collect()).collect()
    }
}

/// A rating as one nominal value: the class, or the sorted set of labels.
fn nominal_key(rating: &Rating) -> Vec<&str> {
    match rating {
        Rating::Class(class) => vec![class.as_str()],
        Rating::Labels(set) => {
            let set: BTreeSet<&str> = set.iter().map(String::as_str).collect();
            set.into_iter().collect()
        }
        Rating::Spans(_) => Vec::new(),
    }
}

/// Whether a rating has `label` (the class is it, or the set contains it).
fn has_label(rating: &Rating, label: &str) -> bool {
    match rating {
        Rating::Class(class) => class == label,
        Rating::Labels(set) => set.iter().any(|l| l == label),
        Rating::Spans(_) => false,
    }
}

/// Pairs, Fleiss, Krippendorff and per-label numbers for classes and labels.
fn nominal_agreement(table: &Table, report: &mut AgreementReport) {
    let values: BTreeMap<Vec<&str>, usize> = table
        .by_record
        .values()
        .flat_map(|r| r.values().map(|v| nominal_key(v)))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (v, i))
        .collect();
    let code = |rating: &Rating| values[&nominal_key(rating)];

    report.pairs = table
        .pairs()
        .map(|(a, b, shared)| {
            let (ca, cb): (Vec<usize>, Vec<usize>) = shared.iter().map(|(x, y)| (code(x), code(y))).unzip();
            let same = ca.iter().zip(&cb).filter(|(x, y)| x == y).count();
            PairAgreement {
                a: a.to_string(),
                b: b.to_string(),
                n: shared.len(),
                percent_agreement: Some(same as f64 / shared.len() as f64),
                cohen_kappa: cohen_kappa_codes(&ca, &cb, values.len()),
                f1: None,
                per_label: None,
            }
        })
        .collect();

    // Fleiss: the largest group of records with one rater count (on a tie, more raters).
    let mut groups: BTreeMap<usize, usize> = BTreeMap::new();
    for raters in table.by_record.values() {
        *groups.entry(raters.len()).or_default() += 1;
    }
    if let Some((&raters, &records)) = groups.iter().max_by_key(|(&raters, &records)| (records, raters)) {
        let rows: Vec<Vec<usize>> = table
            .by_record
            .values()
            .filter(|r| r.len() == raters)
            .map(|r| {
                let mut row = vec![0; values.len()];
                for v in r.values() {
                    row[code(v)] += 1;
                }
                row
            })
            .collect();
        report.fleiss_kappa = fleiss_kappa(&rows);
        report.fleiss_records = records;
        report.fleiss_raters = raters;
    }
    report.krippendorff_alpha = krippendorff_alpha_nominal(&table.matrix(code));

    for label in &report.label_order {
        let binary = |rating: &Rating| has_label(rating, label) as usize;
        let kappas: Vec<f64> = table
            .pairs()
            .filter_map(|(_, _, shared)| {
                let (ca, cb): (Vec<usize>, Vec<usize>) = shared.iter().map(|(x, y)| (binary(x), binary(y))).unzip();
                cohen_kappa_codes(&ca, &cb, 2)
            })
            .collect();
        let mean = (!kappas.is_empty()).then(|| kappas.iter().sum::<f64>() / kappas.len() as f64);
        let alpha = krippendorff_alpha_nominal(&table.matrix(binary));
        report.per_label.insert(label.clone(), LabelAgreement { cohen_kappa_mean: mean, krippendorff_alpha: alpha });
    }
}

/// Entity-level F1 of `b`'s spans against `a`'s over the records both rated.
fn span_pair(a: &str, b: &str, shared: &[(&Rating, &Rating)]) -> PairAgreement {
    let valid = |rating: &Rating| -> Vec<Span> {
        match rating {
            Rating::Spans(spans) => spans.iter().filter(|s| s.start < s.end).cloned().collect(),
            _ => Vec::new(),
        }
    };
    let (gold, pred): (Vec<Vec<Span>>, Vec<Vec<Span>>) = shared.iter().map(|(x, y)| (valid(x), valid(y))).unzip();
    // span_report refuses only empty or unequal lists and empty spans, none of which reach it.
    let report = span_report(&gold, &pred).ok();
    PairAgreement {
        a: a.to_string(),
        b: b.to_string(),
        n: shared.len(),
        percent_agreement: None,
        cohen_kappa: None,
        f1: report.as_ref().and_then(|r| r.micro_avg).map(|s| s.f1),
        per_label: report.map(|r| r.per_label.into_iter().map(|(label, s)| (label, s.f1)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Option<f64>, want: f64) {
        let got = got.expect("a number");
        assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
    }

    /// Wikipedia's Cohen's kappa example: 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes,
    /// 15 no/no: p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, kappa = 0.4.
    #[test]
    fn cohen_kappa_textbook() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (x, y, n) in [("yes", "yes", 20), ("yes", "no", 5), ("no", "yes", 10), ("no", "no", 15)] {
            a.extend(std::iter::repeat_n(x, n));
            b.extend(std::iter::repeat_n(y, n));
        }
        close(cohen_kappa(&a, &b), 0.4);
        // scikit-learn's docstring example.
        let y1 = ["negative", "positive", "negative", "neutral", "positive"];
        let y2 = ["negative", "positive", "negative", "neutral", "negative"];
        close(cohen_kappa(&y1, &y2), 0.6875);
        // Chance agreement 1: undefined (scikit-learn's NaN); two different constants: 0.
        assert_eq!(cohen_kappa(&["a", "a"], &["a", "a"]), None);
        close(cohen_kappa(&["a", "a"], &["b", "b"]), 0.0);
        assert_eq!(cohen_kappa(&[], &[]), None);
    }

    /// Fleiss (1971) as Wikipedia works it: 10 subjects, 14 raters, 5 categories; P̄ = 0.378,
    /// P̄e = 0.213, kappa = 0.210.
    #[test]
    fn fleiss_kappa_wikipedia() {
        let table = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        // Σ_ij n_ij² = 828, so P̄ = (828 − 10·14) / (10·14·13) = 688/1820; the column totals
        // 20, 28, 39, 21, 32 of 140 give P̄e = (20² + 28² + 39² + 21² + 32²) / 140² = 4170/19600.
        let p_mean = 688.0 / 1820.0;
        let p_exp = 4170.0 / 19600.0;
        close(fleiss_kappa(&table), (p_mean - p_exp) / (1.0 - p_exp));
        assert!((fleiss_kappa(&table).unwrap() - 0.210).abs() < 5e-4);
        // One rater per record, one category only, rows with different rater counts: undefined.
        assert_eq!(fleiss_kappa(&[vec![1, 0], vec![0, 1]]), None);
        assert_eq!(fleiss_kappa(&[vec![2], vec![2]]), None);
        assert_eq!(fleiss_kappa(&[vec![2, 0], vec![1, 2]]), None);
        assert_eq!(fleiss_kappa(&[]), None);
    }

    /// Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders × 12 units
    /// example with missing values: nominal alpha = 0.743.
    #[test]
    fn krippendorff_alpha_textbook() {
        let rows: [[u8; 12]; 4] = [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3],
            [0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0],
        ];
        let units: Vec<Vec<Option<usize>>> =
            rows.iter().map(|r| r.iter().map(|&v| (v > 0).then_some(v as usize)).collect()).collect();
        let alpha = krippendorff_alpha_nominal(&units).unwrap();
        assert!((alpha - 0.743).abs() < 5e-4, "{alpha}");
        // One value overall, or no unit rated twice: undefined.
        assert_eq!(krippendorff_alpha_nominal(&[vec![Some(1), Some(1)], vec![Some(1), None]]), None);
        assert_eq!(krippendorff_alpha_nominal(&[vec![Some(1), None], vec![None, Some(2)]]), None);
        // Two values, but the second only in a unit rated once: NaN in the package.
        assert_eq!(krippendorff_alpha_nominal(&[vec![Some(1), Some(2)], vec![Some(1), None]]), None);
    }

    fn rated(record: i64, annotator: &str, class: &str) -> Rated {
        Rated { record, annotator: annotator.into(), value: Rating::Class(class.into()) }
    }

    #[test]
    fn report_of_classes() {
        let items = vec![
            rated(1, "ann", "pos"),
            rated(1, "bob", "pos"),
            rated(2, "ann", "neg"),
            rated(2, "bob", "pos"),
            rated(3, "ann", "neg"),
            rated(3, "bob", "neg"),
            rated(3, "cy", "neg"),
            rated(4, "cy", "neu"), // rated once: not counted, but its label is listed
        ];
        let labels = vec!["neg".to_string(), "pos".into()];
        let report = agreement(&items, &labels, None);
        assert_eq!(report.n_records, 3);
        assert_eq!(report.annotators, ["ann", "bob", "cy"]);
        assert_eq!(report.label_order, ["neg", "pos", "neu"]);
        let pairs: Vec<(&str, &str, usize)> = report.pairs.iter().map(|p| (&*p.a, &*p.b, p.n)).collect();
        assert_eq!(pairs, [("ann", "bob", 3), ("ann", "cy", 1), ("bob", "cy", 1)]);
        // ann: pos neg neg, bob: pos pos neg; p_o = 2/3, p_e = (1·2 + 2·1)/9 = 4/9, kappa = 0.4.
        close(report.pairs[0].cohen_kappa, 0.4);
        close(report.pairs[0].percent_agreement, 2.0 / 3.0);
        assert_eq!(report.pairs[1].cohen_kappa, None);
        assert_eq!((report.fleiss_records, report.fleiss_raters), (2, 2));
        assert_eq!(report.per_label["neu"], LabelAgreement { cohen_kappa_mean: None, krippendorff_alpha: None });
        // Keeping one annotator leaves nothing to compare.
        let only = agreement(&items, &labels, Some(&["ann".to_string()]));
        assert_eq!((only.n_records, only.pairs.len(), only.fleiss_raters), (0, 0, 0));
        assert_eq!(only.krippendorff_alpha, None);
    }
}
