//! Synthetic data the finelab-train tests share, drawn from the crate's own seeded SplitMix64 so
//! that every run sees the same cases.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use finelab_train::rng::SplitMix64;
use finelab_train::{Dataset, Example, Span, Target, Task};

/// A seeded generator with the draws the tests need.
pub struct Rng(pub SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::new(seed))
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// `k` of `items` in a random order.
    pub fn subset(&mut self, items: &[&str], k: usize) -> Vec<String> {
        let mut pool: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        self.0.shuffle(&mut pool);
        pool.truncate(k);
        pool
    }
    /// One of `items`, uniformly.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    /// True with probability `p` (53 random bits against `p`).
    pub fn chance(&mut self, p: f64) -> bool {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

pub const PEOPLE: &[&str] = &["张伟", "李娜", "王小明", "Alice", "陈静"];
pub const PLACES: &[&str] = &["北京", "上海", "广州", "Paris", "深圳"];

/// "filler PER 在 LOC 工作" with its code-point spans (PER, LOC): Chinese, Latin and emoji mixed,
/// so that offsets are checked where UTF-8 bytes, UTF-16 units and code points differ.
pub fn entity_sentence(rng: &mut Rng, fillers: &[&str]) -> (String, Vec<Span>) {
    let mut text = String::new();
    let mut spans = vec![];
    let mut push = |text: &mut String, piece: &str, label: Option<&str>| {
        let start = text.chars().count();
        text.push_str(piece);
        if let Some(label) = label {
            spans.push(Span::new(start, text.chars().count(), label));
        }
    };
    push(&mut text, rng.pick::<&str>(fillers), None);
    push(&mut text, rng.pick::<&str>(PEOPLE), Some("PER"));
    push(&mut text, rng.pick::<&str>(&["在", "去了", "住在"]), None);
    push(&mut text, rng.pick::<&str>(PLACES), Some("LOC"));
    push(&mut text, rng.pick::<&str>(&["工作", "旅游。", "🎉"]), None);
    (text, spans)
}

/// A spans data set of [`entity_sentence`]s: `sizes` train / dev / test sentences from `seed`.
pub fn entities(seed: u64, fillers: &[&str], sizes: [usize; 3]) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut split = |n: usize, prefix: &str| -> Vec<Example> {
        (0..n)
            .map(|i| {
                let (text, spans) = entity_sentence(&mut rng, fillers);
                Example { id: format!("{prefix}{i}"), text, target: Target::Spans(spans) }
            })
            .collect()
    };
    Dataset {
        task: Task::Spans,
        labels: vec!["PER".into(), "LOC".into()],
        train: split(sizes[0], "tr"),
        dev: split(sizes[1], "dv"),
        test: split(sizes[2], "te"),
    }
}
