//! Makes tiny Qwen2, Qwen3 and Llama generators (random weights, a BPE trained on the sentences below, a
//! ChatML template), fine-tunes a LoRA adapter on each, and writes what
//! scripts/reference/check_generator_export.py compares with `transformers` and `peft`:
//!
//!     cargo run --release -p finelab-train --example generator_export OUT_DIR
//!
//! For each architecture, OUT_DIR/<arch>/ holds `base/` (the Hugging Face folder), `run/` (the
//! training run's folder: the PEFT adapter, `adapter_config.json` and
//! `adapter_model.safetensors`), `merged/` (the adapter folded in, a plain Hugging Face folder) and
//! `reference.json`: for each dialog, the prompt ids Finelab's chat template gives, Finelab's
//! logits of every prompt position with the adapter, and its greedy continuation.

use std::path::PathBuf;

use finelab_train::generator::generate::GenerateOptions;
use finelab_train::generator::model::Arch;
use finelab_train::generator::template::Message;
use finelab_train::generator::tiny::make_tiny_model;
use finelab_train::generator::{export, train, ChatDataset, ChatExample, GeneratorModel};
use finelab_train::{Control, TrainConfig, TrainOptions};
use serde_json::json;

const SENTENCES: &[&str] = &[
    "the early bird catches the worm",
    "actions speak louder than words",
    "practice makes perfect",
    "今天 天气 很好",
    "我们 明天 见",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: generator_export OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    let reverse = |s: &str| format!("reversed: {}", s.split(' ').rev().collect::<Vec<_>>().join(" "));
    let corpus = out.join("corpus.txt");
    let text: String =
        SENTENCES.iter().map(|s| format!("{s}\n{}\nYou are a helpful assistant.\n", reverse(s))).collect();
    std::fs::write(&corpus, text.repeat(3))?;
    let examples: Vec<ChatExample> = SENTENCES
        .iter()
        .enumerate()
        .map(|(i, s)| ChatExample { id: i.to_string(), messages: vec![Message::new("user", s)], target: reverse(s) })
        .collect();
    for (name, arch) in [("qwen2", Arch::Qwen2), ("qwen3", Arch::Qwen3), ("llama", Arch::Llama)] {
        let dir = out.join(name);
        let base = dir.join("base");
        make_tiny_model(&base, arch, &corpus, 7)?;
        let options: TrainOptions = serde_json::from_value(json!({
            "family": "generator", "base_model": base, "device": "cpu", "epochs": 20, "lr": 0.01,
            "batch_size": 5, "warmup_ratio": 0, "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.05,
        }))?;
        let config = TrainConfig::from_options(&options)?;
        let dataset = ChatDataset { train: examples.clone(), dev: examples.clone(), test: Vec::new() };
        let run = dir.join("run");
        train(&dataset, &config, &run, &mut |_| Control::Continue)?;
        let model = GeneratorModel::load(&run)?;
        export::write_merged(&dir.join("merged"), &model.model, &model.base, &run)?;
        let options = GenerateOptions { max_new_tokens: 24, ..Default::default() };
        let mut cases = Vec::new();
        // The trained sentences, and dialogs of several turns the model has not seen.
        let mut dialogs: Vec<Vec<Message>> = examples.iter().map(|e| e.messages.clone()).collect();
        dialogs.push(vec![
            Message::new("system", "You answer briefly."),
            Message::new("user", "practice makes perfect"),
            Message::new("assistant", "reversed: perfect makes practice"),
            Message::new("user", "knowledge is power 😀"),
        ]);
        for messages in &dialogs {
            let prompt = model.prompt_ids(std::slice::from_ref(messages))?.remove(0);
            let logits = model.logits(&prompt)?;
            let generated = model.generate_ids(std::slice::from_ref(&prompt), &options)?.remove(0);
            cases.push(json!({
                "messages": messages,
                "prompt_ids": prompt,
                "logits": logits,
                "greedy_ids": generated.ids,
                "max_new_tokens": options.max_new_tokens,
            }));
        }
        std::fs::write(dir.join("reference.json"), serde_json::to_string(&json!({ "cases": cases }))?)?;
        println!("{}", dir.display());
    }
    Ok(())
}
