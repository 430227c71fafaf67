//! Finding labels that are likely wrong: confident learning (Northcutt, Jiang & Chuang,
//! "Confident Learning: Estimating Uncertainty in Dataset Labels", JAIR 2021) over out-of-fold
//! predicted probabilities, and the stratified folds that produce them.
//!
//! The rules are cleanlab's `find_label_issues(filter_by="confident_learning")`, written from the
//! paper and that function's documented behaviour:
//! - the per-class threshold `t_j` is the mean predicted probability of class `j` over the
//!   examples labeled `j` (the model's average self-confidence for that class);
//! - an example's probable true class is the class whose probability reaches its threshold (with
//!   a 1e-6 tolerance); when several do, the most probable class overall; when none does, the
//!   example is not counted;
//! - an example is a suspect when that class is not its given label, and the model's most
//!   probable class is not its given label either;
//! - suspects are ranked by self-confidence (the probability of the given label), lowest first,
//!   or by the normalized margin, `(p_given − max other p + 1) / 2`, as cleanlab's
//!   `get_normalized_margin_for_each_label` defines it.

use serde::{Deserialize, Serialize};

use crate::decode::ScoredSpan;
use crate::metrics::Span;
use crate::rng::SplitMix64;

/// How suspects are ranked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// The probability of the given label (cleanlab's default).
    #[default]
    SelfConfidence,
    /// `(p_given − max other p + 1) / 2`, in 0..1.
    NormalizedMargin,
}

/// A likely wrong label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    /// The example's index.
    pub index: usize,
    /// Its given class.
    pub given: usize,
    /// The class confident learning thinks it is.
    pub suggested: usize,
    /// The label-quality score it is ranked by (lower: more likely wrong).
    pub score: f64,
}

/// Assigns each example one of `k` folds, each class dealt round-robin over the folds in a seeded
/// random order (continuing where the previous class stopped), so every fold holds about `1/k` of
/// each class and of the whole.
pub fn stratified_folds(classes: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(1);
    let n_classes = classes.iter().max().map_or(0, |m| m + 1);
    let mut rng = SplitMix64::new(seed);
    let mut fold = vec![0; classes.len()];
    let mut next = 0;
    for class in 0..n_classes {
        let mut members: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == class).collect();
        rng.shuffle(&mut members);
        for i in members {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// The per-class thresholds: the mean probability of class `j` over the examples labeled `j`
/// (infinite for a class no example has, so it is never confident).
pub fn class_thresholds(probs: &[Vec<f64>], given: &[usize], n_classes: usize) -> Vec<f64> {
    let mut sum = vec![0.0; n_classes];
    let mut n = vec![0usize; n_classes];
    for (p, &g) in probs.iter().zip(given) {
        sum[g] += p[g];
        n[g] += 1;
    }
    sum.iter().zip(&n).map(|(s, &c)| if c == 0 { f64::INFINITY } else { s / c as f64 }).collect()
}

fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (j, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = j;
        }
    }
    best
}

/// The suspects among examples with out-of-fold probabilities `probs` (one row per example, one
/// column per class) and given classes `given`, most likely wrong first.
pub fn find_label_issues(probs: &[Vec<f64>], given: &[usize], n_classes: usize, rank_by: RankBy) -> Vec<Suspect> {
    let thresholds = class_thresholds(probs, given, n_classes);
    let mut out = Vec::new();
    for (index, (p, &g)) in probs.iter().zip(given).enumerate() {
        let confident: Vec<usize> = (0..n_classes).filter(|&j| p[j] >= thresholds[j] - 1e-6).collect();
        let top = argmax(p);
        let suggested = match confident.as_slice() {
            [] => continue,
            [only] => *only,
            _ => top,
        };
        if suggested == g || top == g {
            continue;
        }
        let score = match rank_by {
            RankBy::SelfConfidence => p[g],
            RankBy::NormalizedMargin => {
                let other = (0..n_classes).filter(|&j| j != g).map(|j| p[j]).fold(f64::NEG_INFINITY, f64::max);
                (p[g] - other + 1.0) / 2.0
            }
        };
        out.push(Suspect { index, given: g, suggested, score });
    }
    out.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.index.cmp(&b.index)));
    out
}

/// A record whose spans are likely wrong: what the out-of-fold tagger confidently says instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanSuspect {
    /// The record's index.
    pub index: usize,
    /// Its gold spans the model confidently contradicts (an overlapping prediction with other
    /// boundaries or another type).
    pub contradicted: Vec<Span>,
    /// The confident predictions that contradict them, and those that overlap no gold span (a
    /// span the annotator missed).
    pub proposed: Vec<ScoredSpan>,
    /// The gold spans with the contradicted ones replaced and the missed ones added, by start.
    pub suggested: Vec<Span>,
    /// Label quality: 1 − how far the most convincing proposal rises above its type's threshold,
    /// on 0..1 (lower: more likely wrong).
    pub score: f64,
}

/// Per entity type, the tagger's average self-confidence over the gold spans of that type:
/// confident learning's per-class threshold (the mean predicted probability of the given class
/// over the examples given it) with a gold span as the example and, as its probability, the
/// confidence of the out-of-fold predicted span that matches it exactly (boundaries and type), or
/// 0 when none does. A type without gold spans gets 1.0 (none of its predictions is confident).
pub fn span_thresholds(gold: &[Vec<Span>], predicted: &[Vec<ScoredSpan>]) -> std::collections::BTreeMap<String, f64> {
    let mut sums: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for (g, p) in gold.iter().zip(predicted) {
        for x in g {
            let hit = p.iter().find(|s| x.start == s.start && x.end == s.end && x.label == s.label);
            let e = sums.entry(x.label.clone()).or_insert((0.0, 0));
            e.0 += hit.map_or(0.0, |s| f64::from(s.score));
            e.1 += 1;
        }
    }
    sums.into_iter().map(|(l, (sum, n))| (l, sum / n as f64)).collect()
}

/// The records whose gold spans the out-of-fold tagger confidently contradicts, or where it
/// confidently finds a span the annotator missed; a prediction is confident when its score
/// reaches its type's threshold `t` ([`span_thresholds`], with a 1e-6 tolerance). A record's
/// label quality is 1 − `(score − t) / (1 − t)` of its most convincing proposal (how far above
/// its own type's bar it rises, so that types with low and high bars rank together); lowest
/// first, ties by index.
pub fn find_span_issues(gold: &[Vec<Span>], predicted: &[Vec<ScoredSpan>]) -> Vec<SpanSuspect> {
    let thresholds = span_thresholds(gold, predicted);
    let confident = |s: &ScoredSpan| f64::from(s.score) + 1e-6 >= thresholds.get(&s.label).copied().unwrap_or(1.0);
    let overlaps = |a: (usize, usize), b: (usize, usize)| a.0 < b.1 && b.0 < a.1;
    let mut out = Vec::new();
    for (index, (g, p)) in gold.iter().zip(predicted).enumerate() {
        let mut contradicted: Vec<Span> = Vec::new();
        let mut proposed: Vec<ScoredSpan> = Vec::new();
        for s in p.iter().filter(|s| confident(s)) {
            if g.iter().any(|x| x.start == s.start && x.end == s.end && x.label == s.label) {
                continue;
            }
            let hit: Vec<&Span> = g.iter().filter(|x| overlaps((x.start, x.end), (s.start, s.end))).collect();
            for x in hit {
                if !contradicted.contains(x) {
                    contradicted.push(x.clone());
                }
            }
            proposed.push(s.clone());
        }
        if proposed.is_empty() {
            continue;
        }
        let mut suggested: Vec<Span> = g.iter().filter(|x| !contradicted.contains(x)).cloned().collect();
        // Proposals that overlap each other: the more confident wins.
        let mut by_score = proposed.clone();
        by_score.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.start.cmp(&b.start)));
        let mut taken: Vec<Span> = Vec::new();
        for s in by_score {
            let clash = |x: &Span| overlaps((x.start, x.end), (s.start, s.end));
            if !taken.iter().any(clash) && !suggested.iter().any(clash) {
                taken.push(s.into_span());
            }
        }
        suggested.extend(taken);
        suggested.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
        // How far the most convincing proposal rises above its type's threshold, on 0..1.
        let above = |s: &ScoredSpan| {
            let t = thresholds.get(&s.label).copied().unwrap_or(1.0).min(1.0 - 1e-9);
            ((f64::from(s.score) - t) / (1.0 - t)).clamp(0.0, 1.0)
        };
        let best = proposed.iter().map(above).fold(0.0, f64::max);
        out.push(SpanSuspect { index, contradicted, proposed, suggested, score: 1.0 - best });
    }
    out.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.index.cmp(&b.index)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: classes a (0), b (1), c (2).
    ///   t_a = mean(0.9, 0.6, 0.3) = 0.6; t_b = mean(0.8, 0.2, 0.55) = 0.51667; t_c = mean(0.7, 0.45) = 0.575.
    ///   #0 a [0.9, 0.05, 0.05]: confident {a} = given: kept.
    ///   #1 a [0.6, 0.3, 0.1]: confident {a} (0.6 reaches 0.6): kept.
    ///   #2 a [0.3, 0.7, 0.0]: confident {b}, most probable b: suspect, suggests b, self-confidence 0.3.
    ///   #3 b [0.1, 0.8, 0.1]: confident {b}: kept.
    ///   #4 b [0.65, 0.2, 0.15]: confident {a}, most probable a: suspect, suggests a, 0.2.
    ///   #5 c [0.2, 0.1, 0.7]: confident {c}: kept.
    ///   #6 b [0.62, 0.55, 0.0]: confident {a, b}, most probable a: suspect, suggests a, 0.55.
    ///   #7 c [0.1, 0.45, 0.45]: nothing reaches its threshold: not counted.
    #[test]
    fn thresholds_and_suspects_match_a_hand_computed_case() {
        let probs = vec![
            vec![0.9, 0.05, 0.05],
            vec![0.6, 0.3, 0.1],
            vec![0.3, 0.7, 0.0],
            vec![0.1, 0.8, 0.1],
            vec![0.65, 0.2, 0.15],
            vec![0.2, 0.1, 0.7],
            vec![0.62, 0.55, 0.0],
            vec![0.1, 0.45, 0.45],
        ];
        let given = vec![0, 0, 0, 1, 1, 2, 1, 2];
        let t = class_thresholds(&probs, &given, 3);
        let near = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // #6 and #7 join their classes' means: t_b = mean(0.8, 0.2, 0.55), t_c = mean(0.7, 0.45).
        assert!(near(t[0], 0.6) && near(t[1], 0.5166666666666667) && near(t[2], 0.575), "{t:?}");
        let found = find_label_issues(&probs, &given, 3, RankBy::SelfConfidence);
        let got: Vec<(usize, usize, f64)> = found.iter().map(|s| (s.index, s.suggested, s.score)).collect();
        // By self-confidence: #4 (0.2), #2 (0.3), #6 (0.55). #7: 0.45 < t_b and 0.45 < t_c: none.
        assert_eq!(got, vec![(4, 0, 0.2), (2, 1, 0.3), (6, 0, 0.55)]);
        let by_margin = find_label_issues(&probs, &given, 3, RankBy::NormalizedMargin);
        let order: Vec<usize> = by_margin.iter().map(|s| s.index).collect();
        // Margins (p - max other + 1) / 2: #2 (0.3 - 0.7 + 1) / 2 = 0.3, #4 (0.2 - 0.65 + 1) / 2 =
        // 0.275, #6 (0.55 - 0.62 + 1) / 2 = 0.465.
        assert_eq!(order, vec![4, 2, 6]);
        assert!(near(by_margin[0].score, 0.275) && near(by_margin[2].score, 0.465), "{by_margin:?}");
    }

    #[test]
    fn a_class_nobody_has_is_never_confident() {
        let t = class_thresholds(&[vec![0.5, 0.5]], &[0], 2);
        assert_eq!(t[1], f64::INFINITY);
        assert!(find_label_issues(&[vec![0.1, 0.9]], &[0], 2, RankBy::SelfConfidence).is_empty());
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        // 60 of class 0, 30 of class 1, 10 of class 2, interleaved.
        let classes: Vec<usize> = (0..100)
            .map(|i| {
                if i % 10 < 6 {
                    0
                } else if i % 10 < 9 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let folds = stratified_folds(&classes, 5, 7);
        for f in 0..5 {
            let members: Vec<usize> = (0..100).filter(|&i| folds[i] == f).collect();
            assert_eq!(members.len(), 20, "fold {f}");
            let count = |c: usize| members.iter().filter(|&&i| classes[i] == c).count();
            assert_eq!((count(0), count(1), count(2)), (12, 6, 2), "fold {f}");
        }
        assert_eq!(folds, stratified_folds(&classes, 5, 7));
        assert_ne!(folds, stratified_folds(&classes, 5, 8));
    }

    #[test]
    fn span_issues_match_a_hand_computed_case() {
        let sp = |s: usize, e: usize, l: &str| Span { start: s, end: e, label: l.into() };
        let sc = |s: usize, e: usize, l: &str, score: f32| ScoredSpan { start: s, end: e, label: l.into(), score };
        let gold = vec![
            vec![sp(0, 2, "PER"), sp(5, 7, "LOC")], // 0: both right
            vec![sp(0, 2, "PER")],                  // 1: right, plus a LOC it missed (0.85)
            vec![sp(0, 3, "LOC")],                  // 2: the tagger says PER at 0..2 (0.95)
            vec![sp(4, 6, "LOC")],                  // 3: the tagger says ORG at 4..6, unsure (0.5)
            vec![],                                 // 4: a PER below the threshold (0.7)
        ];
        let predicted = vec![
            vec![sc(0, 2, "PER", 0.9), sc(5, 7, "LOC", 0.8)],
            vec![sc(0, 2, "PER", 0.8), sc(3, 5, "LOC", 0.85)],
            vec![sc(0, 2, "PER", 0.95)],
            vec![sc(4, 6, "ORG", 0.5)],
            vec![sc(1, 3, "PER", 0.7)],
        ];
        // PER: two gold spans, found at 0.9 and 0.8 → 0.85; LOC: three gold spans, one found at
        // 0.8, two not (0) → 0.8 / 3; ORG has no gold span → 1.0 (absent).
        let t = span_thresholds(&gold, &predicted);
        assert!((t["PER"] - 0.85).abs() < 1e-6 && (t["LOC"] - 0.8 / 3.0).abs() < 1e-6 && t.len() == 2, "{t:?}");
        let found = find_span_issues(&gold, &predicted);
        // Ranked by how far the proposal rises above its type's threshold: the missed LOC
        // ((0.85 − 0.267) / 0.733 = 0.795) before the PER that contradicts a LOC
        // ((0.95 − 0.85) / 0.15 = 0.667).
        assert_eq!(found.iter().map(|s| s.index).collect::<Vec<_>>(), vec![1, 2]);
        assert!((found[0].score - (1.0 - (0.85 - 0.8 / 3.0) / (1.0 - 0.8 / 3.0))).abs() < 1e-6, "{}", found[0].score);
        assert!((found[1].score - (1.0 - 0.1 / 0.15)).abs() < 1e-5, "{}", found[1].score);
        assert!(found[0].contradicted.is_empty(), "a missed span contradicts nothing");
        assert_eq!(found[0].suggested, vec![sp(0, 2, "PER"), sp(3, 5, "LOC")]);
        assert_eq!(found[1].contradicted, vec![sp(0, 3, "LOC")]);
        assert_eq!(found[1].suggested, vec![sp(0, 2, "PER")]);
    }
}
