//! The DistilBERT encoder with Hugging Face's tensor names (`distilbert.transformer.layer.N...`).
//! Its config names differ from BERT's (`dim`, `n_layers`, `hidden_dim`...); [`bert_config`]
//! maps them, so the rest of the code reads one kind of config.

use candle_core::{Result, Tensor};
use serde_json::Value;

use super::bert::{self, layer_norm, linear, Activation, SelfAttention};
use super::int8::Kernel;
use super::nn::{attention_bias, embedding, Dropout, LayerNorm, Linear};
use super::params::{Init, Source};

/// DistilBERT's config as a BERT config (layer-norm epsilon 1e-12, no token types).
pub fn bert_config(raw: &Value) -> std::result::Result<bert::Config, String> {
    let get =
        |k: &str| raw.get(k).and_then(Value::as_u64).map(|v| v as usize).ok_or_else(|| format!("no integer {k:?}"));
    let float = |k: &str, d: f64| raw.get(k).and_then(Value::as_f64).unwrap_or(d);
    if raw.get("sinusoidal_pos_embds").and_then(Value::as_bool).unwrap_or(false) {
        return Err("sinusoidal position embeddings are not supported".into());
    }
    Ok(bert::Config {
        vocab_size: get("vocab_size")?,
        hidden_size: get("dim")?,
        num_hidden_layers: get("n_layers")?,
        num_attention_heads: get("n_heads")?,
        intermediate_size: get("hidden_dim")?,
        hidden_act: raw.get("activation").and_then(Value::as_str).unwrap_or("gelu").to_string(),
        hidden_dropout_prob: float("dropout", 0.1),
        attention_probs_dropout_prob: float("attention_dropout", 0.1),
        max_position_embeddings: get("max_position_embeddings")?,
        type_vocab_size: 0,
        layer_norm_eps: 1e-12,
        pad_token_id: raw.get("pad_token_id").and_then(Value::as_u64).map(|v| v as u32),
        initializer_range: float("initializer_range", 0.02),
        classifier_dropout: None,
        position_embedding_type: None,
    })
}

/// Dropout before the sequence classifier (`seq_classif_dropout`, 0.2 by default).
pub fn seq_classif_dropout(raw: &Value) -> f64 {
    raw.get("seq_classif_dropout").and_then(Value::as_f64).unwrap_or(0.2)
}

#[derive(Debug, Clone)]
struct Layer {
    attention: SelfAttention,
    sa_layer_norm: LayerNorm,
    lin1: Linear,
    lin2: Linear,
    output_layer_norm: LayerNorm,
}

/// The DistilBERT encoder.
#[derive(Debug, Clone)]
pub struct Encoder {
    word: Tensor,
    position: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    activation: Activation,
    dropout: f64,
}

impl Encoder {
    /// Builds the weights under `prefix` (`distilbert.`).
    pub fn new(src: &mut dyn Source, c: &bert::Config, prefix: &str) -> Result<Encoder> {
        let std = c.initializer_range;
        let Some(activation) = Activation::parse(&c.hidden_act) else {
            candle_core::bail!("activation {:?} is not supported", c.hidden_act)
        };
        let e = format!("{prefix}embeddings");
        let word =
            src.tensor(&format!("{e}.word_embeddings.weight"), &[c.vocab_size, c.hidden_size], Init::Normal(std))?;
        let position = src.tensor(
            &format!("{e}.position_embeddings.weight"),
            &[c.max_position_embeddings, c.hidden_size],
            Init::Normal(std),
        )?;
        let embedding_norm = layer_norm(src, &format!("{e}.LayerNorm"), c.hidden_size, c.layer_norm_eps)?;
        let mut layers = Vec::new();
        for i in 0..c.num_hidden_layers {
            let l = format!("{prefix}transformer.layer.{i}");
            let names = ["q_lin", "k_lin", "v_lin", "out_lin"].map(|n| format!("{l}.attention.{n}"));
            let names = [names[0].as_str(), names[1].as_str(), names[2].as_str(), names[3].as_str()];
            layers.push(Layer {
                attention: SelfAttention::new(
                    src,
                    names,
                    c.hidden_size,
                    c.num_attention_heads,
                    c.attention_probs_dropout_prob,
                    std,
                )?,
                sa_layer_norm: layer_norm(src, &format!("{l}.sa_layer_norm"), c.hidden_size, c.layer_norm_eps)?,
                lin1: linear(src, &format!("{l}.ffn.lin1"), c.hidden_size, c.intermediate_size, std)?,
                lin2: linear(src, &format!("{l}.ffn.lin2"), c.intermediate_size, c.hidden_size, std)?,
                output_layer_norm: layer_norm(src, &format!("{l}.output_layer_norm"), c.hidden_size, c.layer_norm_eps)?,
            });
        }
        Ok(Encoder { word, position, embedding_norm, layers, activation, dropout: c.hidden_dropout_prob })
    }

    /// Quantizes every layer's dense weights to int8 for CPU inference.
    pub fn quantize_int8(&mut self, kernel: Kernel) -> Result<()> {
        for layer in &mut self.layers {
            layer.attention.quantize_int8(kernel)?;
            layer.lin1.quantize_int8(kernel)?;
            layer.lin2.quantize_int8(kernel)?;
        }
        Ok(())
    }

    /// Hidden states `(batch, seq, hidden)`; positions are 0.. for every row.
    pub fn forward(&self, ids: &Tensor, attention_mask: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let hidden = self.word.dim(1)?;
        let words = embedding(&self.word, &ids.flatten_all()?)?.reshape((batch, seq, hidden))?;
        let pos = self.position.narrow(0, 0, seq)?;
        let mut h = self.embedding_norm.forward(&words.broadcast_add(&pos)?)?;
        // The embeddings may be kept in f32 under mixed precision (`params::CastView`); the
        // layers compute in their weights' dtype.
        if let Some(layer) = self.layers.first() {
            h = h.to_dtype(layer.lin1.weight.dtype())?;
        }
        h = dropout.apply(&h, self.dropout)?;
        let bias = attention_bias(attention_mask, h.dtype())?;
        for layer in &self.layers {
            let a = layer.attention.forward(&h, &bias, dropout)?;
            h = layer.sa_layer_norm.forward(&(a + &h)?)?;
            let f = layer.lin2.forward(&self.activation.forward(&layer.lin1.forward(&h)?)?)?;
            let f = dropout.apply(&f, self.dropout)?;
            h = layer.output_layer_norm.forward(&(f + &h)?)?;
        }
        Ok(h)
    }
}
