//! Decoder-only causal language models of the Qwen2 / Qwen2.5 / Qwen3 and Llama families (SmolLM2,
//! TinyLlama), read from a Hugging Face folder (`config.json`, `model.safetensors`) with Hugging
//! Face's tensor names, and LoRA on their projections.
//!
//! Every operation keeps the gradient graph: RMSNorm and the rotary embedding are written from
//! primitive tensor operations, and softmax is the transformer family's (a fused CPU kernel that
//! carries its own backward): candle-nn's fused `rms_norm`, `softmax_last_dim` and `rope` have no
//! backward pass, and a model built on them would silently train nothing before them.
//!
//! With LoRA the base weights are plain tensors, outside the gradient graph (no gradient is ever
//! computed or stored for them); only the adapters are variables. With full fine-tuning every
//! weight is a variable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, Var, D};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::transformer::nn::{embedding, softmax_last_dim, Dropout};

/// The architectures this family runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Qwen2 and Qwen2.5 (`model_type: qwen2`): biases on q/k/v.
    Qwen2,
    /// Qwen3 (`model_type: qwen3`): no biases, RMSNorm on each head's queries and keys.
    Qwen3,
    /// Llama (`model_type: llama`: TinyLlama, SmolLM2): no biases.
    Llama,
}

impl Arch {
    /// The `transformers` class of a causal LM of this architecture.
    pub fn class_name(self) -> &'static str {
        match self {
            Arch::Qwen2 => "Qwen2ForCausalLM",
            Arch::Qwen3 => "Qwen3ForCausalLM",
            Arch::Llama => "LlamaForCausalLM",
        }
    }

    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Llama => "llama",
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;

    /// `qwen2`, `qwen3` or `llama` (as `config.json`'s `model_type` says).
    fn from_str(s: &str) -> std::result::Result<Arch, String> {
        match s {
            "qwen2" => Ok(Arch::Qwen2),
            "qwen3" => Ok(Arch::Qwen3),
            "llama" => Ok(Arch::Llama),
            other => Err(format!("unknown architecture {other:?}; expected qwen2, qwen3 or llama")),
        }
    }
}

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".into()
}

/// The fields of `config.json` the model needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `qwen2`, `qwen3` or `llama`.
    pub model_type: String,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); the query heads when absent.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Width of one head; `hidden_size / num_attention_heads` when absent.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Longest sequence the model was trained for.
    #[serde(default)]
    pub max_position_embeddings: Option<usize>,
    /// RMSNorm's epsilon.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    /// Whether the output layer is the embedding.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Biases on q/k/v/o (Llama's option; Qwen2 always has q/k/v biases).
    #[serde(default)]
    pub attention_bias: Option<bool>,
    /// Biases in the MLP (Llama's option).
    #[serde(default)]
    pub mlp_bias: Option<bool>,
    /// Activation of the MLP gate.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Rotary scaling; only none is supported.
    #[serde(default)]
    pub rope_scaling: Option<Value>,
}

impl Config {
    /// The architecture `model_type` names.
    pub fn arch(&self) -> Option<Arch> {
        self.model_type.parse().ok()
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    fn qkv_bias(&self, arch: Arch) -> bool {
        match arch {
            Arch::Qwen2 => true,
            _ => self.attention_bias.unwrap_or(false),
        }
    }
}

/// A model folder's `config.json`, read and checked.
#[derive(Debug, Clone)]
pub struct BaseModel {
    /// The folder.
    pub dir: PathBuf,
    /// The architecture.
    pub arch: Arch,
    /// The parsed config.
    pub config: Config,
    /// The whole `config.json`, kept for export.
    pub raw_config: Value,
}

impl BaseModel {
    /// Reads and checks `dir/config.json`; errors name the file.
    pub fn open(dir: &Path) -> Result<BaseModel> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::ModelFolder {
            path: path.clone(),
            message: format!("cannot read it ({e}); a generator folder has config.json, tokenizer.json, tokenizer_config.json and model.safetensors"),
        })?;
        let bad = |message: String| Error::ModelFolder { path: path.clone(), message };
        let raw: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let config: Config =
            serde_json::from_value(raw.clone()).map_err(|e| bad(format!("not a decoder config: {e}")))?;
        let Some(arch) = config.arch() else {
            return Err(bad(format!(
                "model_type {:?} is not supported; the generator family runs qwen2, qwen3 and llama models",
                config.model_type
            )));
        };
        if config.hidden_act != "silu" {
            return Err(bad(format!("hidden_act {:?} is not supported (only silu)", config.hidden_act)));
        }
        if config.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(bad("rope_scaling is not supported; use a model without it".into()));
        }
        let heads = config.num_attention_heads;
        if heads == 0 || config.kv_heads() == 0 || !heads.is_multiple_of(config.kv_heads()) {
            return Err(bad("num_attention_heads must be a multiple of num_key_value_heads".into()));
        }
        if !config.head_dim().is_multiple_of(2) {
            return Err(bad("the head width must be even for the rotary embedding".into()));
        }
        Ok(BaseModel { dir: dir.to_path_buf(), arch, config, raw_config: raw })
    }
}

/// Reads every tensor of the folder's checkpoint as f32 on the CPU: `model.safetensors`, or the
/// shards that `model.safetensors.index.json` lists.
pub fn read_weights(dir: &Path) -> Result<HashMap<String, Tensor>> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if single.is_file() {
        vec![single]
    } else if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::CorruptModel { path: index.clone(), message: e.to_string() })?;
        let mut shards: Vec<String> = value["weight_map"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default();
        shards.sort();
        shards.dedup();
        shards.into_iter().map(|s| dir.join(s)).collect()
    } else {
        return Err(Error::ModelFolder { path: single, message: "no weights: model.safetensors is missing".into() });
    };
    let mut out = HashMap::new();
    for file in files {
        let tensors = candle_core::safetensors::load(&file, &Device::Cpu)
            .map_err(|e| Error::CorruptModel { path: file.clone(), message: e.to_string() })?;
        for (name, t) in tensors {
            out.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    Ok(out)
}

/// The projections LoRA goes on by default (named in [`crate::family`], which the config reads).
pub use crate::family::LORA_TARGETS as DEFAULT_TARGETS;

/// LoRA's settings, as PEFT's `LoraConfig` names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSpec {
    /// Rank `r`.
    pub rank: usize,
    /// `lora_alpha`; the update is scaled by `alpha / rank`.
    pub alpha: f64,
    /// Dropout on the adapter's input (training only).
    pub dropout: f64,
    /// Projection names the adapters go on (`q_proj`, `down_proj`...).
    pub targets: Vec<String>,
}

impl LoraSpec {
    /// `alpha / rank`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

/// What training changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Tuning {
    /// LoRA adapters; the base weights are frozen.
    Lora(LoraSpec),
    /// Every weight (small models).
    Full,
    /// Nothing (inference).
    Frozen,
}

/// One LoRA adapter: `Δy = scale · dropout(x) Aᵀ Bᵀ`.
#[derive(Debug, Clone)]
pub struct Lora {
    /// `lora_A`, `rank × in`.
    pub a: Var,
    /// `lora_B`, `out × rank`.
    pub b: Var,
    /// `alpha / rank`.
    pub scale: f64,
    /// Dropout on the adapter's input.
    pub dropout: f64,
}

/// A linear projection `y = x Wᵀ + b`, with an optional LoRA adapter.
#[derive(Debug, Clone)]
pub struct Proj {
    /// Hugging Face's module name (`model.layers.0.self_attn.q_proj`).
    pub name: String,
    /// `out × in`.
    pub weight: Tensor,
    /// `out`.
    pub bias: Option<Tensor>,
    /// The adapter, when LoRA targets this projection.
    pub lora: Option<Lora>,
    /// The weight quantized (GGUF's block formats), used instead of `weight` when set: the
    /// model then computes as llama.cpp does on the same file.
    pub quantized: Option<QMatMul>,
}

fn matmul_t(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let in_features = *dims.last().expect("rank >= 1");
    let rows: usize = dims[..dims.len() - 1].iter().product();
    let y = x.reshape((rows, in_features))?.matmul(&w.t()?)?;
    let mut out = dims;
    *out.last_mut().expect("rank >= 1") = w.dim(0)?;
    y.reshape(out)
}

/// `x Wᵀ` with `W` quantized: the rows of `x` are quantized to the block format's partner (8 bits
/// a value) and multiplied block by block, as ggml does.
fn quantized_matmul_t(x: &Tensor, w: &QMatMul) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let in_features = *dims.last().expect("rank >= 1");
    let rows: usize = dims[..dims.len() - 1].iter().product();
    let y = w.forward(&x.reshape((rows, in_features))?.contiguous()?)?;
    let mut out = dims;
    *out.last_mut().expect("rank >= 1") = y.dim(1)?;
    y.reshape(out)
}

impl Proj {
    /// Applies the projection (and its adapter) to `x` of shape `(..., in)`.
    pub fn forward(&self, x: &Tensor, dropout: &mut Dropout) -> candle_core::Result<Tensor> {
        let mut y = match &self.quantized {
            Some(q) => quantized_matmul_t(x, q)?,
            None => matmul_t(x, &self.weight)?,
        };
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if let Some(lora) = &self.lora {
            let h = dropout.apply(x, lora.dropout)?;
            let delta = matmul_t(&matmul_t(&h, lora.a.as_tensor())?, lora.b.as_tensor())?;
            y = (y + (delta * lora.scale)?)?;
        }
        Ok(y)
    }

    /// `W + scale · B A`: the weight with the adapter folded in.
    pub fn merged_weight(&self) -> candle_core::Result<Tensor> {
        match &self.lora {
            Some(l) => self.weight.add(&(l.b.as_tensor().matmul(l.a.as_tensor())? * l.scale)?),
            None => Ok(self.weight.clone()),
        }
    }
}

/// RMSNorm over the last dimension from primitive operations (each with a backward pass).
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    let normed = x.broadcast_div(&(ms + eps)?.sqrt()?)?;
    normed.broadcast_mul(weight)
}

/// `[-x₂, x₁]` over the last dimension, the rotation of Hugging Face's rotary embedding.
fn rotate_half(x: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)
}

/// The rotary tables: `cos` and `sin` of `position · θ^(-2i/d)`, each half repeated, as Hugging
/// Face's `rotate_half` layout wants; one row per position.
#[derive(Debug, Clone)]
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(head_dim: usize, theta: f64, n_positions: usize, device: &Device) -> candle_core::Result<Rope> {
        let half = head_dim / 2;
        let inv: Vec<f64> = (0..half).map(|i| 1.0 / theta.powf(2.0 * i as f64 / head_dim as f64)).collect();
        let (mut cos, mut sin) =
            (Vec::with_capacity(n_positions * head_dim), Vec::with_capacity(n_positions * head_dim));
        for p in 0..n_positions {
            for _ in 0..2 {
                for f in &inv {
                    let angle = p as f64 * f;
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        Ok(Rope {
            cos: Tensor::from_vec(cos, (n_positions, head_dim), device)?,
            sin: Tensor::from_vec(sin, (n_positions, head_dim), device)?,
        })
    }

    /// Rotates `x` `(batch, heads, seq, d)` by the `positions` `(batch, seq)`.
    fn apply(&self, x: &Tensor, positions: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, s, d) = x.dims4()?;
        let flat = positions.flatten_all()?;
        let cos = self.cos.index_select(&flat, 0)?.reshape((b, 1, s, d))?;
        let sin = self.sin.index_select(&flat, 0)?.reshape((b, 1, s, d))?;
        x.broadcast_mul(&cos)? + rotate_half(x)?.broadcast_mul(&sin)?
    }
}

/// Keys and values of the positions already seen, per layer, for generation.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> KvCache {
        KvCache::default()
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |(k, _)| k.dim(2).unwrap_or(0))
    }

    /// Whether nothing is held yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
struct Attention {
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f64,
}

fn repeat_kv(x: Tensor, n_rep: usize) -> candle_core::Result<Tensor> {
    if n_rep == 1 {
        return Ok(x);
    }
    let (b, kv, t, d) = x.dims4()?;
    let copies = vec![&x; n_rep];
    Tensor::cat(&copies, 2)?.reshape((b, kv * n_rep, t, d))
}

impl Attention {
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        rope: &Rope,
        cache: Option<&mut Option<(Tensor, Tensor)>>,
        dropout: &mut Dropout,
    ) -> candle_core::Result<Tensor> {
        let (b, s, _) = x.dims3()?;
        let (h, kvh, d) = (self.heads, self.kv_heads, self.head_dim);
        let mut q = self.q.forward(x, dropout)?.reshape((b, s, h, d))?;
        let mut k = self.k.forward(x, dropout)?.reshape((b, s, kvh, d))?;
        let v = self.v.forward(x, dropout)?.reshape((b, s, kvh, d))?.transpose(1, 2)?.contiguous()?;
        if let (Some(qn), Some(kn)) = (&self.q_norm, &self.k_norm) {
            q = rms_norm(&q, qn, self.eps)?;
            k = rms_norm(&k, kn, self.eps)?;
        }
        let q = rope.apply(&q.transpose(1, 2)?.contiguous()?, positions)?;
        let k = rope.apply(&k.transpose(1, 2)?.contiguous()?, positions)?;
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
                    None => (k, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let k = repeat_kv(k, h / kvh)?;
        let v = repeat_kv(v, h / kvh)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (d as f64).sqrt()))?;
        let probs = softmax_last_dim(&scores.broadcast_add(mask)?)?;
        let out = probs.matmul(&v)?.transpose(1, 2)?.contiguous()?.reshape((b, s, h * d))?;
        self.o.forward(&out, dropout)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    input_norm: Tensor,
    attn: Attention,
    post_norm: Tensor,
    gate: Proj,
    up: Proj,
    down: Proj,
}

/// A named trainable variable.
#[derive(Debug, Clone)]
pub struct Param {
    /// Its name in the file it is saved to: PEFT's for adapters
    /// (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`), Hugging Face's for
    /// full fine-tuning.
    pub name: String,
    /// The variable.
    pub var: Var,
    /// Whether AdamW's weight decay applies (not to biases and norms).
    pub decay: bool,
}

/// A causal language model: embedding, decoder layers, final norm, output layer.
#[derive(Debug, Clone)]
pub struct CausalLm {
    /// The architecture.
    pub arch: Arch,
    /// The config.
    pub config: Config,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    /// `None` when tied to the embedding.
    lm_head: Option<Tensor>,
    /// The output layer quantized (see [`CausalLm::quantize`]).
    lm_head_quantized: Option<QMatMul>,
    rope: Rope,
    params: Vec<Param>,
    tuning: Tuning,
    device: Device,
}

/// Hands out the checkpoint's tensors as plain tensors or as variables.
struct Loader<'a> {
    weights: &'a HashMap<String, Tensor>,
    device: &'a Device,
    trainable: bool,
    params: Vec<Param>,
    file: &'a Path,
}

impl Loader<'_> {
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let Some(t) = self.weights.get(name) else {
            return Err(Error::ModelFolder {
                path: self.file.to_path_buf(),
                message: format!("the checkpoint has no tensor {name}, which config.json implies"),
            });
        };
        if t.dims() != shape {
            return Err(Error::CorruptModel {
                path: self.file.to_path_buf(),
                message: format!("tensor {name} has shape {:?} but config.json implies {shape:?}", t.dims()),
            });
        }
        let t = t.to_device(self.device)?;
        if !self.trainable {
            return Ok(t);
        }
        let var = Var::from_tensor(&t)?;
        let decay = !(name.ends_with(".bias") || name.contains("norm"));
        self.params.push(Param { name: name.to_string(), var: var.clone(), decay });
        Ok(var.as_tensor().clone())
    }
}

/// Uniform samples in `[-bound, bound)` from a seeded generator.
fn uniform(rng: &mut SplitMix64, n: usize, bound: f64) -> Vec<f32> {
    (0..n).map(|_| (((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0) as f32 * bound as f32).collect()
}

impl CausalLm {
    /// Builds the model from `base`'s checkpoint tensors `weights` on `device`; `tuning` says
    /// which weights are variables. LoRA's `A` starts as PEFT's (Kaiming-uniform with a = √5,
    /// i.e. uniform in ±1/√in, from `seed`) and `B` at zero, so the untrained adapter changes
    /// nothing.
    pub fn load(
        base: &BaseModel,
        weights: &HashMap<String, Tensor>,
        tuning: Tuning,
        device: &Device,
        seed: u64,
    ) -> Result<CausalLm> {
        let c = &base.config;
        let file = base.dir.join("model.safetensors");
        let mut ld = Loader { weights, device, trainable: tuning == Tuning::Full, params: Vec::new(), file: &file };
        let mut rng = SplitMix64::new(seed ^ 0x10EA_5EED);
        let mut lora_params = Vec::new();
        let (hidden, inter, d) = (c.hidden_size, c.intermediate_size, c.head_dim());
        let (heads, kvh) = (c.num_attention_heads, c.kv_heads());
        let embed = ld.get("model.embed_tokens.weight", &[c.vocab_size, hidden])?;
        let mut proj = |ld: &mut Loader<'_>, name: String, out: usize, inp: usize, bias: bool| -> Result<Proj> {
            let weight = ld.get(&format!("{name}.weight"), &[out, inp])?;
            let bias = if bias { Some(ld.get(&format!("{name}.bias"), &[out])?) } else { None };
            let short = name.rsplit('.').next().unwrap_or_default();
            let lora = match &tuning {
                Tuning::Lora(spec) if spec.targets.iter().any(|t| t == short) => {
                    let a = Tensor::from_vec(
                        uniform(&mut rng, spec.rank * inp, 1.0 / (inp as f64).sqrt()),
                        (spec.rank, inp),
                        device,
                    )?;
                    let a = Var::from_tensor(&a)?;
                    let b = Var::zeros((out, spec.rank), DType::F32, device)?;
                    for (suffix, var) in [("lora_A", &a), ("lora_B", &b)] {
                        lora_params.push(Param {
                            name: format!("base_model.model.{name}.{suffix}.weight"),
                            var: var.clone(),
                            decay: true,
                        });
                    }
                    Some(Lora { a, b, scale: spec.scale(), dropout: spec.dropout })
                }
                _ => None,
            };
            Ok(Proj { name, weight, bias, lora, quantized: None })
        };
        let qkv_bias = c.qkv_bias(base.arch);
        let o_bias = base.arch == Arch::Llama && c.attention_bias.unwrap_or(false);
        let mlp_bias = c.mlp_bias.unwrap_or(false);
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let p = format!("model.layers.{i}");
            let input_norm = ld.get(&format!("{p}.input_layernorm.weight"), &[hidden])?;
            let q = proj(&mut ld, format!("{p}.self_attn.q_proj"), heads * d, hidden, qkv_bias)?;
            let k = proj(&mut ld, format!("{p}.self_attn.k_proj"), kvh * d, hidden, qkv_bias)?;
            let v = proj(&mut ld, format!("{p}.self_attn.v_proj"), kvh * d, hidden, qkv_bias)?;
            let o = proj(&mut ld, format!("{p}.self_attn.o_proj"), hidden, heads * d, o_bias)?;
            let (q_norm, k_norm) = if base.arch == Arch::Qwen3 {
                (
                    Some(ld.get(&format!("{p}.self_attn.q_norm.weight"), &[d])?),
                    Some(ld.get(&format!("{p}.self_attn.k_norm.weight"), &[d])?),
                )
            } else {
                (None, None)
            };
            let post_norm = ld.get(&format!("{p}.post_attention_layernorm.weight"), &[hidden])?;
            let gate = proj(&mut ld, format!("{p}.mlp.gate_proj"), inter, hidden, mlp_bias)?;
            let up = proj(&mut ld, format!("{p}.mlp.up_proj"), inter, hidden, mlp_bias)?;
            let down = proj(&mut ld, format!("{p}.mlp.down_proj"), hidden, inter, mlp_bias)?;
            let attn = Attention { q, k, v, o, q_norm, k_norm, heads, kv_heads: kvh, head_dim: d, eps: c.rms_norm_eps };
            layers.push(Layer { input_norm, attn, post_norm, gate, up, down });
        }
        let norm = ld.get("model.norm.weight", &[hidden])?;
        // Some tied checkpoints still carry lm_head.weight; the embedding is what the model uses.
        let lm_head =
            if c.tie_word_embeddings { None } else { Some(ld.get("lm_head.weight", &[c.vocab_size, hidden])?) };
        let n_positions = c.max_position_embeddings.unwrap_or(4096).clamp(64, 16_384);
        let rope = Rope::new(d, c.rope_theta, n_positions, device)?;
        let mut params = ld.params;
        params.extend(lora_params);
        Ok(CausalLm {
            arch: base.arch,
            config: c.clone(),
            embed,
            layers,
            norm,
            lm_head,
            lm_head_quantized: None,
            rope,
            params,
            tuning,
            device: device.clone(),
        })
    }

    /// The trainable variables, in a fixed order (adapters: layer by layer, A then B).
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// What training changes.
    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The longest sequence the rotary tables cover.
    pub fn max_positions(&self) -> usize {
        self.rope.cos.dim(0).unwrap_or(0)
    }

    /// The output layer's weight, `vocab × hidden` (the embedding when tied).
    pub fn lm_head(&self) -> &Tensor {
        self.lm_head.as_ref().unwrap_or(&self.embed)
    }

    /// Hidden states after the final norm, `(batch, seq, hidden)`, for token ids `(batch, seq)`
    /// at `positions` `(batch, seq)`, with the additive attention `mask` `(batch or 1, 1, seq,
    /// past + seq)` (see [`causal_mask`]). With `cache`, the keys and values of earlier calls are
    /// attended to and this call's are appended.
    pub fn forward(
        &self,
        ids: &Tensor,
        positions: &Tensor,
        mask: &Tensor,
        mut cache: Option<&mut KvCache>,
        dropout: &mut Dropout,
    ) -> candle_core::Result<Tensor> {
        let mut x = embedding(&self.embed, ids)?;
        let eps = self.config.rms_norm_eps;
        if let Some(c) = cache.as_deref_mut() {
            c.layers.resize(self.layers.len(), None);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let h = rms_norm(&x, &layer.input_norm, eps)?;
            x = (x + layer.attn.forward(&h, positions, mask, &self.rope, slot, dropout)?)?;
            let h = rms_norm(&x, &layer.post_norm, eps)?;
            let gated = (layer.gate.forward(&h, dropout)?.silu()? * layer.up.forward(&h, dropout)?)?;
            x = (x + layer.down.forward(&gated, dropout)?)?;
        }
        rms_norm(&x, &self.norm, eps)
    }

    /// Logits `(rows, vocab)` of hidden states `(rows, hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        match &self.lm_head_quantized {
            Some(q) => quantized_matmul_t(hidden, q),
            None => hidden.matmul(&self.lm_head().t()?),
        }
    }

    /// Quantizes the weight matrices for inference, each to the block format `format` chooses for
    /// it from its Hugging Face name and shape (`None`: kept in f32): projections and the output
    /// layer then multiply in that format, and the embedding is looked up from its quantized
    /// values, as llama.cpp does with a GGUF file quantized the same way. A frozen model only
    /// (nothing trains through quantized weights).
    pub fn quantize(&mut self, format: &dyn Fn(&str, &[usize]) -> Option<GgmlDType>) -> Result<()> {
        if self.tuning != Tuning::Frozen {
            return Err(Error::InvalidConfig {
                field: "quantization",
                message: "only a model loaded for inference can be quantized".into(),
            });
        }
        let embed_name = "model.embed_tokens.weight";
        let embed_format = format(embed_name, self.embed.dims());
        // Tied, the output layer is the embedding, in the embedding's format.
        let head_format = match &self.lm_head {
            Some(head) => format("lm_head.weight", head.dims()),
            None => embed_format,
        };
        if let Some(dtype) = head_format {
            let head = self.lm_head.as_ref().unwrap_or(&self.embed);
            self.lm_head_quantized = Some(QMatMul::from_qtensor(QTensor::quantize(head, dtype)?)?);
        }
        if let Some(dtype) = embed_format {
            self.embed = QTensor::quantize(&self.embed, dtype)?.dequantize(&self.device)?;
        }
        for layer in &mut self.layers {
            let a = &mut layer.attn;
            for p in [&mut a.q, &mut a.k, &mut a.v, &mut a.o, &mut layer.gate, &mut layer.up, &mut layer.down] {
                if let Some(dtype) = format(&format!("{}.weight", p.name), p.weight.dims()) {
                    p.quantized = Some(QMatMul::from_qtensor(QTensor::quantize(&p.weight, dtype)?)?);
                }
            }
        }
        Ok(())
    }

    /// Every weight of a Hugging Face checkpoint, with the adapters folded in (`W + scale·BA`),
    /// in a fixed order; the output layer is left out when tied.
    pub fn merged_weights(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let mut out = vec![("model.embed_tokens.weight".to_string(), self.embed.clone())];
        let push = |out: &mut Vec<(String, Tensor)>, p: &Proj| -> candle_core::Result<()> {
            out.push((format!("{}.weight", p.name), p.merged_weight()?));
            if let Some(b) = &p.bias {
                out.push((format!("{}.bias", p.name), b.clone()));
            }
            Ok(())
        };
        for (i, l) in self.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            out.push((format!("{p}.input_layernorm.weight"), l.input_norm.clone()));
            for proj in [&l.attn.q, &l.attn.k, &l.attn.v, &l.attn.o] {
                push(&mut out, proj)?;
            }
            if let (Some(qn), Some(kn)) = (&l.attn.q_norm, &l.attn.k_norm) {
                out.push((format!("{p}.self_attn.q_norm.weight"), qn.clone()));
                out.push((format!("{p}.self_attn.k_norm.weight"), kn.clone()));
            }
            out.push((format!("{p}.post_attention_layernorm.weight"), l.post_norm.clone()));
            for proj in [&l.gate, &l.up, &l.down] {
                push(&mut out, proj)?;
            }
        }
        out.push(("model.norm.weight".to_string(), self.norm.clone()));
        if let Some(h) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), h.clone()));
        }
        Ok(out)
    }

    /// The base (frozen) weights with their Hugging Face names, adapters not folded in: what the
    /// tests compare before and after training.
    pub fn base_weights(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("model.embed_tokens.weight".to_string(), self.embed.clone())];
        for (i, l) in self.layers.iter().enumerate() {
            out.push((format!("model.layers.{i}.input_layernorm.weight"), l.input_norm.clone()));
            out.push((format!("model.layers.{i}.post_attention_layernorm.weight"), l.post_norm.clone()));
            for p in [&l.attn.q, &l.attn.k, &l.attn.v, &l.attn.o, &l.gate, &l.up, &l.down] {
                out.push((format!("{}.weight", p.name), p.weight.clone()));
                if let Some(b) = &p.bias {
                    out.push((format!("{}.bias", p.name), b.clone()));
                }
            }
        }
        if let Some(h) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), h.clone()));
        }
        out
    }

    /// Sets the adapters from PEFT-named tensors (an `adapter_model.safetensors`).
    pub fn load_adapter(&self, tensors: &HashMap<String, Tensor>, file: &Path) -> Result<()> {
        for p in &self.params {
            let Some(t) = tensors.get(&p.name) else {
                return Err(Error::CorruptModel { path: file.to_path_buf(), message: format!("no tensor {}", p.name) });
            };
            if t.dims() != p.var.dims() {
                return Err(Error::CorruptModel {
                    path: file.to_path_buf(),
                    message: format!("tensor {} has shape {:?}, expected {:?}", p.name, t.dims(), p.var.dims()),
                });
            }
            p.var.set(&t.to_dtype(DType::F32)?.to_device(&self.device)?)?;
        }
        Ok(())
    }
}

/// The additive attention mask `(batch, 1, seq, past + seq)`: 0 where query `i` (at absolute
/// index `past + i`) may see key `j` (`j <= past + i` and `key_valid[row][j]`), -1e9 elsewhere.
/// `key_valid` marks the keys that are not padding, `None` for none.
pub fn causal_mask(
    batch: usize,
    seq: usize,
    past: usize,
    key_valid: Option<&[Vec<bool>]>,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let total = past + seq;
    let rows = if key_valid.is_some() { batch } else { 1 };
    let mut values = Vec::with_capacity(rows * seq * total);
    for r in 0..rows {
        for i in 0..seq {
            for j in 0..total {
                let valid = key_valid.is_none_or(|kv| kv[r][j]);
                values.push(if j <= past + i && valid { 0f32 } else { -1e9 });
            }
        }
    }
    Tensor::from_vec(values, (rows, 1, seq, total), device)
}

/// What training a generator will hold in memory, estimated from its config before it starts
/// (f32 everywhere, as Finelab trains).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// Parameters of the base model.
    pub params: u64,
    /// Parameters trained (the adapters, or every weight).
    pub trainable_params: u64,
    /// Bytes of the weights.
    pub weights_bytes: u64,
    /// Bytes of the gradients and AdamW's two moments of the trained parameters.
    pub optimizer_bytes: u64,
    /// Bytes of the activations kept for the backward pass of one micro-batch, and of the
    /// chunked logits.
    pub activations_bytes: u64,
    /// The sum.
    pub total_bytes: u64,
}

/// Estimates the memory of fine-tuning `config` with LoRA adapters of `rank` on the projections
/// `targets` (`None`: every weight trained) on micro-batches of `batch` sequences of `seq` tokens.
/// Per layer and token the backward pass keeps about the inputs of each projection, the
/// attention probabilities (`heads × seq` per token) and the MLP's three intermediate vectors.
pub fn estimate_memory(config: &Config, lora: Option<(usize, &[String])>, batch: usize, seq: usize) -> MemoryEstimate {
    let h = config.hidden_size as u64;
    let i = config.intermediate_size as u64;
    let heads = config.num_attention_heads as u64;
    let head_dim = config.head_dim.map(|d| d as u64).unwrap_or(h / heads.max(1));
    let kv = config.num_key_value_heads.unwrap_or(config.num_attention_heads) as u64 * head_dim;
    let q = heads * head_dim;
    let layers = config.num_hidden_layers as u64;
    let vocab = config.vocab_size as u64;
    // (name, in, out) of each projection of a layer.
    let projections: [(&str, u64, u64); 7] = [
        ("q_proj", h, q),
        ("k_proj", h, kv),
        ("v_proj", h, kv),
        ("o_proj", q, h),
        ("gate_proj", h, i),
        ("up_proj", h, i),
        ("down_proj", i, h),
    ];
    let per_layer: u64 = projections.iter().map(|(_, a, b)| a * b).sum::<u64>() + 2 * h;
    let embeddings = vocab * h * if config.tie_word_embeddings { 1 } else { 2 };
    let params = layers * per_layer + embeddings + h;
    let trainable_params = match lora {
        Some((rank, targets)) => {
            layers
                * projections
                    .iter()
                    .filter(|(name, _, _)| targets.iter().any(|t| t == name))
                    .map(|(_, a, b)| rank as u64 * (a + b))
                    .sum::<u64>()
        }
        None => params,
    };
    let tokens = (batch * seq) as u64;
    let per_token_layer = 6 * h + 2 * q + 2 * kv + 3 * i + heads * seq as u64;
    let logits = tokens.min(crate::generator::chunk_rows(config.vocab_size) as u64) * vocab * 2;
    let activations_bytes = 4 * (tokens * layers * per_token_layer + tokens * h * 2 + logits);
    let weights_bytes = 4 * params;
    let optimizer_bytes = 4 * 3 * trainable_params;
    MemoryEstimate {
        params,
        trainable_params,
        weights_bytes,
        optimizer_bytes,
        activations_bytes,
        total_bytes: weights_bytes + optimizer_bytes + activations_bytes,
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn qwen_half_billion_counts() {
        // Qwen2.5-0.5B's config: 494,032,768 parameters (its model card says 0.49B).
        let config: Config = serde_json::from_value(serde_json::json!({
            "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864,
            "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": true
        }))
        .unwrap();
        let targets: Vec<String> =
            ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"].map(String::from).to_vec();
        let e = estimate_memory(&config, Some((16, &targets)), 4, 256);
        // Qwen2 has biases on q, k and v (1,152 a layer) that the estimate leaves out.
        assert_eq!(e.params + 24 * (896 + 128 + 128), 494_032_768);
        // peft's print_trainable_parameters for r=16 on all seven projections: 8,798,208.
        assert_eq!(e.trainable_params, 8_798_208);
        assert_eq!(e.weights_bytes, 4 * e.params);
        let full = estimate_memory(&config, None, 4, 256);
        assert!(full.optimizer_bytes > 10 * e.optimizer_bytes);
        assert!(estimate_memory(&config, Some((16, &targets)), 8, 256).activations_bytes > e.activations_bytes);
    }
}
