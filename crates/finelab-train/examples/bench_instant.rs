//! Times the `instant` family on 5,000 short synthetic Chinese + English records (single-label,
//! 4 classes), the size the product promises to train "in seconds" on a CPU.
//!
//! `cargo run --release -p finelab-train --example bench_instant [N_RECORDS]`

use std::time::Instant;

use finelab_train::{train, Control, Dataset, Example, Target, Task, TrainConfig, TrainOptions};

fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().expect("N_RECORDS is a number")).unwrap_or(5000);
    let labels = ["物流", "质量", "价格", "服务"];
    let words: [&[&str]; 4] = [
        &["快递", "发货", "物流", "shipping", "delivery", "到货", "包裹"],
        &["质量", "做工", "屏幕", "quality", "broken", "材料", "耐用"],
        &["价格", "便宜", "太贵", "price", "cheap", "优惠", "性价比"],
        &["客服", "态度", "回复", "service", "support", "售后", "退款"],
    ];
    let common = ["这个", "真的", "非常", "很", "不错", "a bit", "really", "还可以", "一般", "😀"];
    let mut state = 1u64;
    let mut next = move |m: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % m
    };
    let mut make = |count: usize| -> Vec<Example> {
        (0..count)
            .map(|i| {
                let class = next(4);
                let mut text = String::new();
                for _ in 0..(4 + next(6)) {
                    // Mostly class words, some noise from other classes and common words.
                    let piece = match next(10) {
                        0..=3 => words[class][next(words[class].len())],
                        4 => words[next(4)][next(7)],
                        _ => common[next(common.len())],
                    };
                    text.push_str(piece);
                }
                Example { id: i.to_string(), text, target: Target::Single(labels[class].into()) }
            })
            .collect()
    };
    let dataset = Dataset {
        task: Task::Single,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        train: make(n),
        dev: make(n / 10),
        test: make(n / 10),
    };
    let config = TrainConfig::from_options(&TrainOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("finelab-bench-instant-{}", std::process::id()));
    let started = Instant::now();
    let outcome = train(&dataset, &config, &dir, &mut |_| Control::Continue).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "instant: {} train records, {} epochs (best {}), {:.3} s total (training + dev evaluation + save), test macro-F1 {:.4}",
        outcome.n_train,
        outcome.epochs.len(),
        outcome.best_epoch,
        seconds,
        outcome.test.as_ref().unwrap()["macro avg"]["f1-score"].as_f64().unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
