//! Prints what a fine-tuned transformer model folder computes for each text, for comparison with
//! Python's `transformers` (scripts/reference/check_hf_export.py runs it):
//!
//!     cargo run --release -p finelab-train --example transformer_logits MODEL_DIR < texts.jsonl
//!
//! Input: JSON Lines with "text". Output: one JSON line per text with "ids" (token ids, special
//! tokens included) and "logits" (one row, or one row per token for span models).

use std::io::{BufRead, Write};
use std::path::PathBuf;

use finelab_train::Predictor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: transformer_logits MODEL_DIR < texts.jsonl")?);
    let predictor = Predictor::load(&dir)?;
    let model = predictor.as_transformer().ok_or("not a transformer model folder")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)?;
        let text = value["text"].as_str().ok_or("each line needs a \"text\"")?;
        let record = serde_json::json!({"text": text, "ids": model.token_ids(text)?, "logits": model.logits(text)?});
        writeln!(out, "{record}")?;
    }
    Ok(())
}
