//! Fine-tunes tiny random BERT, XLM-RoBERTa and DistilBERT models (made on the spot, no download) on small synthetic
//! single-label, multi-label and span datasets, and writes the three exported model folders:
//!
//!     cargo run --release -p finelab-train --example transformer_tiny OUT_DIR
//!
//! OUT_DIR/{single,multi,spans}/ (BERT), xlmr-{single,spans}/ (XLM-RoBERTa) and
//! distil-{single,spans}/ (DistilBERT) are Hugging Face folders that
//! scripts/reference/check_hf_export.py loads with `transformers` and compares.

use std::path::PathBuf;

use finelab_train::transformer::tiny::{write_tiny_bert, TinyFamily, TinySpec};
use finelab_train::{train, Control, Dataset, Example, Span, Target, Task, TrainConfig, TrainOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: transformer_tiny OUT_DIR")?);
    let texts = [
        ("这个手机很好，推荐购买", "正面", vec!["质量"], vec![(0, 4, "PRODUCT")]),
        ("物流太慢了，要退货😡", "负面", vec!["物流"], vec![]),
        ("the phone is great 👍", "正面", vec!["质量"], vec![(4, 9, "PRODUCT")]),
        ("I hate this shop, delivery late", "负面", vec!["物流"], vec![]),
        ("价格便宜 quality ok", "正面", vec!["价格", "质量"], vec![]),
        ("太贵了，张伟说不值", "负面", vec!["价格"], vec![(4, 6, "PER")]),
    ];
    let examples = |task: Task| -> Vec<Example> {
        (0..48)
            .map(|i| {
                let (text, single, multi, spans) = &texts[i % texts.len()];
                let target = match task {
                    Task::Single => Target::Single(single.to_string()),
                    Task::Multi => Target::Multi(multi.iter().map(|s| s.to_string()).collect()),
                    Task::Spans => Target::Spans(spans.iter().map(|(s, e, l)| Span::new(*s, *e, *l)).collect()),
                };
                Example { id: i.to_string(), text: text.to_string(), target }
            })
            .collect()
    };
    let corpus: Vec<&str> = texts.iter().map(|t| t.0).collect();
    let runs = [
        ("single", TinyFamily::Bert, Task::Single),
        ("multi", TinyFamily::Bert, Task::Multi),
        ("spans", TinyFamily::Bert, Task::Spans),
        ("xlmr-single", TinyFamily::XlmRoberta, Task::Single),
        ("xlmr-spans", TinyFamily::XlmRoberta, Task::Spans),
        ("distil-single", TinyFamily::DistilBert, Task::Single),
        ("distil-spans", TinyFamily::DistilBert, Task::Spans),
    ];
    for (name, family, task) in runs {
        let base = out.join(format!("base-{family:?}"));
        if !base.join("model.safetensors").is_file() {
            write_tiny_bert(&base, &corpus, &TinySpec { family, ..TinySpec::default() })?;
        }
        let labels = match task {
            Task::Single => vec!["正面", "负面"],
            Task::Multi => vec!["物流", "质量", "价格"],
            Task::Spans => vec!["PRODUCT", "PER"],
        };
        let all = examples(task);
        let dataset = Dataset {
            task,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            train: all[..36].to_vec(),
            dev: all[36..].to_vec(),
            test: Vec::new(),
        };
        let config = TrainConfig::from_options(&TrainOptions {
            family: Some("transformer".into()),
            base_model: Some(base.clone()),
            epochs: Some(3),
            lr: Some(1e-3),
            batch_size: Some(8),
            device: Some("cpu".into()),
            ..TrainOptions::default()
        })?;
        let outcome = train(&dataset, &config, &out.join(name), &mut |_| Control::Continue)?;
        println!(
            "{name}: dev macro-F1 {:.3}, folder {}",
            outcome.epochs.last().map_or(0.0, |e| e.dev_macro_f1),
            outcome.model_dir.display()
        );
    }
    Ok(())
}
