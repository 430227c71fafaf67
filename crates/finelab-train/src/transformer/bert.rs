//! The BERT encoder (also the body of RoBERTa and XLM-RoBERTa, which differ only in names,
//! position ids and heads; see `xlm_roberta.rs`), with Hugging Face's tensor names.
//!
//! ```text
//! embeddings: word[ids] + position[pos] + token_type[0] → LayerNorm → dropout
//! each layer: h = LN(h + dropout(W_o · attention(h)));  h = LN(h + dropout(W_2 · gelu(W_1 · h)))
//! ```

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

use super::int8::Kernel;
use super::nn::{attention_bias, attention_probs, embedding, Dropout, LayerNorm, Linear};
use super::params::{Init, Source};

fn default_act() -> String {
    "gelu".into()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_init_range() -> f64 {
    0.02
}

/// The fields of a BERT-layout `config.json` the encoder needs. Unknown fields are ignored here
/// and kept as they are when the model is exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Vocabulary size (rows of the word embedding).
    pub vocab_size: usize,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Number of layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Activation of the feed-forward layer (`gelu`, `gelu_new`, `relu`...).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Dropout on hidden states.
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Rows of the position embedding.
    pub max_position_embeddings: usize,
    /// Rows of the token-type embedding.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// Standard deviation of fresh weights.
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
    /// Dropout before the classifier, when the config sets one.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    /// `absolute` (the only kind supported).
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

/// The feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// The exact GELU (`gelu`).
    GeluErf,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    /// ReLU.
    Relu,
}

impl Activation {
    /// Parses a `hidden_act` / `activation` value.
    pub fn parse(name: &str) -> Option<Activation> {
        match name {
            "gelu" => Some(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    /// Applies the activation.
    pub fn forward(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::GeluErf => match super::fused::gelu_erf(x)? {
                Some(y) => Ok(y),
                None => x.gelu_erf(),
            },
            Activation::GeluTanh => x.gelu(),
            Activation::Relu => x.relu(),
        }
    }
}

pub(crate) fn linear(src: &mut dyn Source, name: &str, in_dim: usize, out_dim: usize, std: f64) -> Result<Linear> {
    Ok(Linear {
        weight: src.tensor(&format!("{name}.weight"), &[out_dim, in_dim], Init::Normal(std))?,
        bias: Some(src.tensor(&format!("{name}.bias"), &[out_dim], Init::Zeros)?),
        int8: None,
    })
}

pub(crate) fn layer_norm(src: &mut dyn Source, name: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm {
        weight: src.tensor(&format!("{name}.weight"), &[dim], Init::Ones)?,
        bias: src.tensor(&format!("{name}.bias"), &[dim], Init::Zeros)?,
        eps,
    })
}

/// Multi-head self-attention with its output projection (names `attention.self.*` and
/// `attention.output.dense`).
#[derive(Debug, Clone)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    n_heads: usize,
    head_dim: usize,
    dropout: f64,
}

impl SelfAttention {
    /// Builds the four projections of width `hidden`.
    pub fn new(
        src: &mut dyn Source,
        names: [&str; 4],
        hidden: usize,
        n_heads: usize,
        dropout: f64,
        std: f64,
    ) -> Result<Self> {
        Ok(SelfAttention {
            query: linear(src, names[0], hidden, hidden, std)?,
            key: linear(src, names[1], hidden, hidden, std)?,
            value: linear(src, names[2], hidden, hidden, std)?,
            output: linear(src, names[3], hidden, hidden, std)?,
            n_heads,
            head_dim: hidden / n_heads,
            dropout,
        })
    }

    /// Quantizes the four projections to int8 (see [`Linear::quantize_int8`]).
    pub fn quantize_int8(&mut self, kernel: Kernel) -> Result<()> {
        for l in [&mut self.query, &mut self.key, &mut self.value, &mut self.output] {
            l.quantize_int8(kernel)?;
        }
        Ok(())
    }

    /// Attends over `h` `(batch, seq, hidden)` with an additive `bias` `(batch, 1, 1, seq)`;
    /// returns the output projection (before the residual and dropout).
    pub fn forward(&self, h: &Tensor, bias: &Tensor, dropout: &mut Dropout) -> Result<Tensor> {
        let (batch, seq, hidden) = h.dims3()?;
        let split = |x: Tensor| -> Result<Tensor> {
            x.reshape((batch, seq, self.n_heads, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let q = split(self.query.forward(h)?)?;
        let k = split(self.key.forward(h)?)?;
        let v = split(self.value.forward(h)?)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let probs = attention_probs(&q.matmul(&k.t()?)?, scale, bias)?;
        let probs = dropout.apply(&probs, self.dropout)?;
        let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((batch, seq, hidden))?;
        self.output.forward(&context)
    }
}

/// One transformer layer, post-norm (BERT's order).
#[derive(Debug, Clone)]
struct Layer {
    attention: SelfAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// The BERT encoder: embeddings and layers. The pooler belongs to the sequence head.
#[derive(Debug, Clone)]
pub struct Encoder {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    activation: Activation,
    hidden_dropout: f64,
    /// The config the encoder was built from.
    pub config: Config,
}

impl Encoder {
    /// Builds the encoder's weights under `prefix` (`bert.`, `roberta.`), asking `src` for each.
    pub fn new(src: &mut dyn Source, config: &Config, prefix: &str) -> Result<Encoder> {
        let c = config;
        let std = c.initializer_range;
        let Some(activation) = Activation::parse(&c.hidden_act) else {
            candle_core::bail!("hidden_act {:?} is not supported (gelu, gelu_new, relu are)", c.hidden_act)
        };
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            candle_core::bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size,
                c.num_attention_heads
            )
        }
        let e = format!("{prefix}embeddings");
        let word =
            src.tensor(&format!("{e}.word_embeddings.weight"), &[c.vocab_size, c.hidden_size], Init::Normal(std))?;
        let position = src.tensor(
            &format!("{e}.position_embeddings.weight"),
            &[c.max_position_embeddings, c.hidden_size],
            Init::Normal(std),
        )?;
        let token_type = src.tensor(
            &format!("{e}.token_type_embeddings.weight"),
            &[c.type_vocab_size.max(1), c.hidden_size],
            Init::Normal(std),
        )?;
        let embedding_norm = layer_norm(src, &format!("{e}.LayerNorm"), c.hidden_size, c.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = format!("{prefix}encoder.layer.{i}");
            let names = [
                format!("{l}.attention.self.query"),
                format!("{l}.attention.self.key"),
                format!("{l}.attention.self.value"),
                format!("{l}.attention.output.dense"),
            ];
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
                attention_norm: layer_norm(
                    src,
                    &format!("{l}.attention.output.LayerNorm"),
                    c.hidden_size,
                    c.layer_norm_eps,
                )?,
                intermediate: linear(src, &format!("{l}.intermediate.dense"), c.hidden_size, c.intermediate_size, std)?,
                output: linear(src, &format!("{l}.output.dense"), c.intermediate_size, c.hidden_size, std)?,
                output_norm: layer_norm(src, &format!("{l}.output.LayerNorm"), c.hidden_size, c.layer_norm_eps)?,
            });
        }
        Ok(Encoder {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            activation,
            hidden_dropout: c.hidden_dropout_prob,
            config: c.clone(),
        })
    }

    /// Hidden states `(batch, seq, hidden)` for `ids` and `positions` `(batch, seq)` (u32) and
    /// `attention_mask` `(batch, seq)` (1 = token, 0 = padding). Token types are all 0 (one
    /// segment).
    pub fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        attention_mask: &Tensor,
        dropout: &mut Dropout,
    ) -> Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let hidden = self.config.hidden_size;
        let words = embedding(&self.word, &ids.flatten_all()?)?;
        let pos = embedding(&self.position, &positions.flatten_all()?)?;
        let types = self.token_type.narrow(0, 0, 1)?;
        let emb = (words + pos)?.broadcast_add(&types)?.reshape((batch, seq, hidden))?;
        let mut h = self.embedding_norm.forward(&emb)?;
        // The embeddings may be kept in f32 under mixed precision (`params::CastView`, as
        // torch.autocast does); the layers compute in their weights' dtype.
        if let Some(layer) = self.layers.first() {
            h = h.to_dtype(layer.intermediate.weight.dtype())?;
        }
        h = dropout.apply(&h, self.hidden_dropout)?;
        let bias = attention_bias(attention_mask, h.dtype())?;
        for layer in &self.layers {
            let a = layer.attention.forward(&h, &bias, dropout)?;
            let a = dropout.apply(&a, self.hidden_dropout)?;
            h = layer.attention_norm.forward(&(a + &h)?)?;
            let f = self.activation.forward(&layer.intermediate.forward(&h)?)?;
            let f = dropout.apply(&layer.output.forward(&f)?, self.hidden_dropout)?;
            h = layer.output_norm.forward(&(f + &h)?)?;
        }
        Ok(h)
    }

    /// Quantizes every layer's dense weights to int8 for CPU inference; the embeddings, layer
    /// norms and the head stay f32.
    pub fn quantize_int8(&mut self, kernel: Kernel) -> Result<()> {
        for layer in &mut self.layers {
            layer.attention.quantize_int8(kernel)?;
            layer.intermediate.quantize_int8(kernel)?;
            layer.output.quantize_int8(kernel)?;
        }
        Ok(())
    }

    /// The hidden state of the first token of each sequence, `(batch, hidden)`.
    pub fn first_token(h: &Tensor) -> Result<Tensor> {
        h.narrow(1, 0, 1)?.squeeze(1)
    }

    /// Width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }
}
