//! A base-model folder's architecture, and the encoder with its task head.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde_json::Value;

use super::bert::{self, linear, Encoder};
use super::distilbert;
use super::int8::Kernel;
use super::nn::{Dropout, Linear};
use super::params::Source;
use super::tokenize::{EncodedText, Specials};
use crate::data::Task;
use crate::error::{Error, Result};

/// The encoder families Finelab can fine-tune.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// BERT and BERT-layout checkpoints (MiniLM, bert-base-chinese, RoBERTa-wwm-ext...).
    Bert,
    /// RoBERTa and XLM-RoBERTa (`roberta.` names, position ids after the padding index).
    Roberta,
    /// DistilBERT.
    DistilBert,
}

impl Family {
    /// Prefix of the encoder's tensor names in a task checkpoint.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert.",
            Family::Roberta => "roberta.",
            Family::DistilBert => "distilbert.",
        }
    }
}

/// A Hugging Face-layout base-model folder: its `config.json`, read and checked.
#[derive(Debug, Clone)]
pub struct BaseModel {
    /// The folder.
    pub dir: PathBuf,
    /// The encoder family.
    pub family: Family,
    /// `model_type` as the config says it (`bert`, `xlm-roberta`...).
    pub model_type: String,
    /// The whole `config.json`, kept for export.
    pub raw_config: Value,
    /// The encoder's config (DistilBERT's fields mapped onto BERT's names).
    pub config: bert::Config,
}

impl BaseModel {
    /// Reads `dir/config.json`. Errors name the file: missing, not JSON, or an architecture this
    /// build cannot fine-tune.
    pub fn open(dir: &Path) -> Result<BaseModel> {
        let path = dir.join("config.json");
        if !dir.is_dir() {
            return Err(Error::ModelFolder { path: dir.to_path_buf(), message: "no such model folder".into() });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::ModelFolder {
            path: path.clone(),
            message: format!("cannot read it ({e}); a Hugging Face model folder has config.json, tokenizer.json or vocab.txt, and model.safetensors or pytorch_model.bin"),
        })?;
        let raw: Value = serde_json::from_str(&text)
            .map_err(|e| Error::ModelFolder { path: path.clone(), message: format!("not valid JSON: {e}") })?;
        Self::from_config(dir, &path, raw)
    }

    fn from_config(dir: &Path, path: &Path, raw: Value) -> Result<BaseModel> {
        let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or_default().to_string();
        let bad = |message: String| Error::ModelFolder { path: path.to_path_buf(), message };
        let family = match model_type.as_str() {
            "bert" => Family::Bert,
            "roberta" | "xlm-roberta" => Family::Roberta,
            "distilbert" => Family::DistilBert,
            "" => return Err(bad("no \"model_type\"; expected bert, roberta, xlm-roberta or distilbert".into())),
            other => {
                return Err(bad(format!(
                    "model_type {other:?} is not supported; Finelab fine-tunes bert, roberta, xlm-roberta and distilbert encoders"
                )))
            }
        };
        let config = match family {
            Family::DistilBert => {
                distilbert::bert_config(&raw).map_err(|e| bad(format!("not a DistilBERT config: {e}")))?
            }
            _ => serde_json::from_value::<bert::Config>(raw.clone())
                .map_err(|e| bad(format!("not a BERT-layout config: {e}")))?,
        };
        if let Some(kind) = &config.position_embedding_type {
            if kind != "absolute" {
                return Err(bad(format!("position_embedding_type {kind:?} is not supported (only \"absolute\")")));
            }
        }
        if bert::Activation::parse(&config.hidden_act).is_none() {
            return Err(bad(format!("activation {:?} is not supported (gelu, gelu_new, relu are)", config.hidden_act)));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(bad("hidden_size is not a multiple of num_attention_heads".into()));
        }
        Ok(BaseModel { dir: dir.to_path_buf(), family, model_type, raw_config: raw, config })
    }

    /// The first position id of a sequence: 0, or after the padding index for RoBERTa.
    pub fn position_offset(&self) -> u32 {
        match self.family {
            Family::Roberta => self.config.pad_token_id.unwrap_or(1) + 1,
            _ => 0,
        }
    }

    /// The longest input the position embedding allows.
    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings.saturating_sub(self.position_offset() as usize)
    }

    /// The `transformers` class name of the fine-tuned model.
    pub fn architecture(&self, task: Task) -> String {
        let stem = match (self.family, self.model_type.as_str()) {
            (Family::Bert, _) => "Bert",
            (Family::Roberta, "xlm-roberta") => "XLMRoberta",
            (Family::Roberta, _) => "Roberta",
            (Family::DistilBert, _) => "DistilBert",
        };
        match task {
            Task::Spans => format!("{stem}ForTokenClassification"),
            _ => format!("{stem}ForSequenceClassification"),
        }
    }
}

/// The encoder of one family.
#[derive(Debug, Clone)]
pub enum Body {
    /// BERT or RoBERTa layout.
    Bert(Encoder),
    /// DistilBERT.
    DistilBert(distilbert::Encoder),
}

/// The task head, with Hugging Face's names.
#[derive(Debug, Clone)]
enum Head {
    /// `BertForSequenceClassification`: tanh pooler on the first token, dropout, `classifier`.
    Pooled { pooler: Linear, classifier: Linear, dropout: f64 },
    /// `RobertaClassificationHead`: dropout, `classifier.dense`, tanh, dropout, `classifier.out_proj`.
    Roberta { dense: Linear, out_proj: Linear, dropout: f64 },
    /// `DistilBertForSequenceClassification`: `pre_classifier`, ReLU, dropout, `classifier`.
    Distil { pre_classifier: Linear, classifier: Linear, dropout: f64 },
    /// `...ForTokenClassification`: dropout, `classifier` on every token.
    Token { classifier: Linear, dropout: f64 },
}

/// A padded batch of encoded texts.
pub struct Batch {
    /// Token ids `(batch, seq)`.
    pub ids: Tensor,
    /// Position ids `(batch, seq)`.
    pub positions: Tensor,
    /// 1 for tokens, 0 for padding, `(batch, seq)`.
    pub mask: Tensor,
    /// Real length of each row.
    pub lens: Vec<usize>,
}

impl Batch {
    /// Pads `texts` to the longest one.
    pub fn new(
        texts: &[&EncodedText],
        specials: Specials,
        position_offset: u32,
        device: &Device,
    ) -> candle_core::Result<Batch> {
        let seq = texts.iter().map(|t| t.ids.len()).max().unwrap_or(1);
        let n = texts.len();
        let mut ids = Vec::with_capacity(n * seq);
        let mut positions = Vec::with_capacity(n * seq);
        let mut mask = Vec::with_capacity(n * seq);
        for t in texts {
            let len = t.ids.len();
            ids.extend_from_slice(&t.ids);
            ids.extend(std::iter::repeat_n(specials.pad, seq - len));
            // RoBERTa gives padding the padding index and tokens the positions after it.
            let pad_position = if position_offset > 0 { position_offset - 1 } else { 0 };
            positions.extend((0..len as u32).map(|p| p + position_offset));
            positions.extend(std::iter::repeat_n(pad_position, seq - len));
            mask.extend(std::iter::repeat_n(1u32, len));
            mask.extend(std::iter::repeat_n(0u32, seq - len));
        }
        Ok(Batch {
            ids: Tensor::from_vec(ids, (n, seq), device)?,
            positions: Tensor::from_vec(positions, (n, seq), device)?,
            mask: Tensor::from_vec(mask, (n, seq), device)?,
            lens: texts.iter().map(|t| t.ids.len()).collect(),
        })
    }
}

/// An encoder with its head.
#[derive(Debug, Clone)]
pub struct Model {
    body: Body,
    head: Head,
}

impl Model {
    /// Builds the encoder (names under the family's prefix), then the head for `task` with
    /// `n_outputs` outputs, asking `src` for every weight in that order.
    pub fn build(src: &mut dyn Source, base: &BaseModel, task: Task, n_outputs: usize) -> candle_core::Result<Model> {
        let c = &base.config;
        let prefix = base.family.prefix();
        let body = match base.family {
            Family::DistilBert => Body::DistilBert(distilbert::Encoder::new(src, c, prefix)?),
            _ => Body::Bert(Encoder::new(src, c, prefix)?),
        };
        let (h, std) = (c.hidden_size, c.initializer_range);
        let dropout = c.classifier_dropout.unwrap_or(c.hidden_dropout_prob);
        let head = match (task, base.family) {
            (Task::Spans, _) => Head::Token { classifier: linear(src, "classifier", h, n_outputs, std)?, dropout },
            (_, Family::Bert) => Head::Pooled {
                pooler: linear(src, &format!("{prefix}pooler.dense"), h, h, std)?,
                classifier: linear(src, "classifier", h, n_outputs, std)?,
                dropout,
            },
            (_, Family::Roberta) => Head::Roberta {
                dense: linear(src, "classifier.dense", h, h, std)?,
                out_proj: linear(src, "classifier.out_proj", h, n_outputs, std)?,
                dropout,
            },
            (_, Family::DistilBert) => Head::Distil {
                pre_classifier: linear(src, "pre_classifier", h, h, std)?,
                classifier: linear(src, "classifier", h, n_outputs, std)?,
                dropout: distilbert::seq_classif_dropout(&base.raw_config),
            },
        };
        Ok(Model { body, head })
    }

    /// Names of the head's weights that a base checkpoint must not provide (a fresh head for the
    /// project's labels). The BERT pooler is part of the base checkpoint and loads from it.
    pub fn fresh_prefixes() -> &'static [&'static str] {
        &["classifier.", "pre_classifier."]
    }

    /// Quantizes the encoder's dense layers to int8 for CPU inference with `kernel` (the head
    /// stays f32: it is a few thousand weights).
    pub fn quantize_int8(&mut self, kernel: Kernel) -> candle_core::Result<()> {
        match &mut self.body {
            Body::Bert(e) => e.quantize_int8(kernel),
            Body::DistilBert(e) => e.quantize_int8(kernel),
        }
    }

    /// Logits: `(batch, n_outputs)` for sequence tasks, `(batch, seq, n_outputs)` for tokens.
    pub fn logits(&self, batch: &Batch, dropout: &mut Dropout) -> candle_core::Result<Tensor> {
        let hidden = match &self.body {
            Body::Bert(e) => e.forward(&batch.ids, &batch.positions, &batch.mask, dropout)?,
            Body::DistilBert(e) => e.forward(&batch.ids, &batch.mask, dropout)?,
        };
        match &self.head {
            Head::Pooled { pooler, classifier, dropout: p } => {
                let pooled = pooler.forward(&Encoder::first_token(&hidden)?)?.tanh()?;
                classifier.forward(&dropout.apply(&pooled, *p)?)
            }
            Head::Roberta { dense, out_proj, dropout: p } => {
                let x = dropout.apply(&Encoder::first_token(&hidden)?, *p)?;
                let x = dense.forward(&x)?.tanh()?;
                out_proj.forward(&dropout.apply(&x, *p)?)
            }
            Head::Distil { pre_classifier, classifier, dropout: p } => {
                let x = pre_classifier.forward(&Encoder::first_token(&hidden)?)?.relu()?;
                classifier.forward(&dropout.apply(&x, *p)?)
            }
            Head::Token { classifier, dropout: p } => classifier.forward(&dropout.apply(&hidden, *p)?),
        }
    }
}
