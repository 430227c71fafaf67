//! Tiny BERT models made on the spot — random weights in Hugging Face's layout and a WordPiece
//! vocabulary built from a corpus — so that tests, examples and demos need no download.

use std::collections::BTreeSet;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::json;

use super::model::{BaseModel, Family};
use super::params::{Source, VarStore};
use super::tokenize::wordpiece_from_vocab;
use super::{bert, distilbert};
use crate::error::{Error, Result};

/// Which layout a tiny model is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinyFamily {
    /// BERT (`model_type: bert`).
    Bert,
    /// XLM-RoBERTa (`model_type: xlm-roberta`: `roberta.` names, positions after the padding id).
    XlmRoberta,
    /// DistilBERT (`model_type: distilbert`).
    DistilBert,
}

/// The shape of a tiny model.
#[derive(Debug, Clone, PartialEq)]
pub struct TinySpec {
    /// The layout.
    pub family: TinyFamily,
    /// Hidden width.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Feed-forward width.
    pub intermediate: usize,
    /// Position embedding rows.
    pub max_positions: usize,
    /// Write tensor names with the `bert.` prefix (as task checkpoints do) or without (as
    /// `BertModel` checkpoints such as MiniLM do).
    pub prefixed: bool,
    /// Also write `tokenizer.json` (else only `vocab.txt`).
    pub tokenizer_json: bool,
    /// Seed of the random weights.
    pub seed: u64,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            family: TinyFamily::Bert,
            hidden: 32,
            layers: 2,
            heads: 2,
            intermediate: 64,
            max_positions: 128,
            prefixed: false,
            tokenizer_json: true,
            seed: 1,
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

/// A WordPiece vocabulary for `texts`: the special tokens, every character (and its `##`
/// continuation for non-CJK characters, so any word can be spelled), and every lower-cased
/// Latin word.
pub fn vocab_from_corpus(texts: &[&str]) -> Vec<String> {
    let mut tokens = BTreeSet::new();
    for text in texts {
        let lower = text.to_lowercase();
        for c in lower.chars().filter(|c| !c.is_whitespace()) {
            tokens.insert(c.to_string());
            if !is_cjk(c) {
                tokens.insert(format!("##{c}"));
            }
        }
        for word in lower.split(|c: char| !c.is_alphanumeric() || is_cjk(c)).filter(|w| w.chars().count() > 1) {
            tokens.insert(word.to_string());
        }
    }
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].iter().map(|s| s.to_string()).collect();
    vocab.extend(tokens);
    vocab
}

/// Writes a random BERT model folder for `texts` into `dir`: `config.json`, `vocab.txt`,
/// `tokenizer.json` (when asked) and `model.safetensors`.
pub fn write_tiny_bert(dir: &Path, texts: &[&str], spec: &TinySpec) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vocab = vocab_from_corpus(texts);
    let vocab_path = dir.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n") + "\n").map_err(|e| Error::io(&vocab_path, e))?;
    let config = match spec.family {
        TinyFamily::Bert | TinyFamily::XlmRoberta => {
            let roberta = spec.family == TinyFamily::XlmRoberta;
            json!({
                "architectures": [if roberta { "XLMRobertaModel" } else { "BertModel" }],
                "model_type": if roberta { "xlm-roberta" } else { "bert" },
                "vocab_size": vocab.len(),
                "hidden_size": spec.hidden,
                "num_hidden_layers": spec.layers,
                "num_attention_heads": spec.heads,
                "intermediate_size": spec.intermediate,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1,
                // RoBERTa's positions start after the padding id (0 here), so it needs one more.
                "max_position_embeddings": spec.max_positions + if roberta { 1 } else { 0 },
                "type_vocab_size": if roberta { 1 } else { 2 },
                "initializer_range": 0.02,
                "layer_norm_eps": if roberta { 1e-5 } else { 1e-12 },
                "pad_token_id": 0,
                "position_embedding_type": "absolute",
            })
        }
        TinyFamily::DistilBert => json!({
            "architectures": ["DistilBertModel"],
            "model_type": "distilbert",
            "vocab_size": vocab.len(),
            "dim": spec.hidden,
            "n_layers": spec.layers,
            "n_heads": spec.heads,
            "hidden_dim": spec.intermediate,
            "activation": "gelu",
            "dropout": 0.1,
            "attention_dropout": 0.1,
            "max_position_embeddings": spec.max_positions,
            "initializer_range": 0.02,
            "seq_classif_dropout": 0.2,
            "pad_token_id": 0,
            "sinusoidal_pos_embds": false,
        }),
    };
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).expect("json"))
        .map_err(|e| Error::io(&config_path, e))?;
    // The tokenizer is a BERT WordPiece whatever the layout; say so for `transformers`.
    let tokenizer_config =
        json!({"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": spec.max_positions});
    let path = dir.join("tokenizer_config.json");
    std::fs::write(&path, tokenizer_config.to_string()).map_err(|e| Error::io(&path, e))?;
    if spec.tokenizer_json {
        let tokenizer = wordpiece_from_vocab(&vocab_path, true)?;
        let path = dir.join("tokenizer.json");
        tokenizer.save(&path, false).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
    }
    let base = BaseModel::open(dir)?;
    let mut store = VarStore::new(&Device::Cpu, spec.seed);
    let prefix = if spec.prefixed { base.family.prefix() } else { "" };
    match base.family {
        Family::DistilBert => {
            distilbert::Encoder::new(&mut store, &base.config, prefix)?;
        }
        _ => {
            bert::Encoder::new(&mut store, &base.config, prefix)?;
            bert::linear(
                &mut store as &mut dyn Source,
                &format!("{prefix}pooler.dense"),
                spec.hidden,
                spec.hidden,
                0.02,
            )?;
        }
    }
    let tensors: Vec<(String, Tensor)> =
        store.params().iter().map(|p| (p.name.clone(), p.var.as_tensor().clone())).collect();
    let metadata = [("format".to_string(), "pt".to_string())].into_iter().collect();
    super::save_safetensors(&dir.join("model.safetensors"), &tensors, metadata)
}
