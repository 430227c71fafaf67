//! GGUF export of a generator, the file llama.cpp and Ollama load: the weights quantized to
//! `q8_0` or `q4_K_M` with ggml's block formats, the architecture's hyperparameters, and the
//! tokenizer (byte-level BPE vocabulary, merges, special tokens) and chat template in its
//! metadata, under the key names of llama.cpp's `convert_hf_to_gguf.py`.
//!
//! Finelab's own quantized generation quantizes the same weights the same way
//! ([`CausalLm::quantize`] with [`GgufQuant::format_of`]), so a folder whose `finelab-model.json`
//! names a quantization answers as llama.cpp answers from the file written beside it.
//!
//! `q4_K_M` follows llama.cpp's recipe: `Q4_K` for most matrices, `Q6_K` for the output layer and
//! for `attn_v` and `ffn_down` in the first and last eighth of the layers and every third layer
//! between; a matrix whose rows are not a multiple of 256 values falls back as llama.cpp's
//! quantizer does (`Q4_K` to `Q5_0`, `Q6_K` to `Q8_0`).

use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::model::{Arch, CausalLm, Config};
use super::template::ChatTokenizer;
use crate::error::{Error, Result};

/// How a GGUF export quantizes its weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GgufQuant {
    /// 8 bits a weight in blocks of 32 with one f16 scale (`Q8_0`).
    #[serde(rename = "q8_0")]
    Q8_0,
    /// llama.cpp's `Q4_K_M` mix: 4.5 bits a weight (`Q4_K`), 6.5 where it matters most (`Q6_K`).
    #[serde(rename = "q4_k_m")]
    Q4KM,
}

impl GgufQuant {
    /// `q8_0` or `q4_k_m`: the name runs and files carry.
    pub fn as_str(self) -> &'static str {
        match self {
            GgufQuant::Q8_0 => "q8_0",
            GgufQuant::Q4KM => "q4_k_m",
        }
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_MOSTLY_Q8_0`, `LLAMA_FTYPE_MOSTLY_Q4_K_M`).
    pub fn file_type(self) -> u32 {
        match self {
            GgufQuant::Q8_0 => 7,
            GgufQuant::Q4KM => 15,
        }
    }

    /// The file name of the export in a model folder (`model-q8_0.gguf`).
    pub fn file_name(self) -> String {
        format!("model-{}.gguf", self.as_str())
    }

    /// The block format of the checkpoint tensor `name` (Hugging Face's name) of shape `dims` in
    /// a model of `layers` layers whose output layer is tied to the embedding or not; `None`:
    /// kept in f32 (norms, biases).
    pub fn format_of(self, name: &str, dims: &[usize], layers: usize, tied: bool) -> Option<GgmlDType> {
        if dims.len() != 2 || !name.ends_with(".weight") {
            return None;
        }
        let wanted = match self {
            GgufQuant::Q8_0 => GgmlDType::Q8_0,
            GgufQuant::Q4KM => {
                let output = name == "lm_head.weight" || (tied && name == "model.embed_tokens.weight");
                let sensitive = name.ends_with("self_attn.v_proj.weight") || name.ends_with("mlp.down_proj.weight");
                let more_bits = layer_index(name).is_some_and(|i| more_bits(i, layers));
                if output || (sensitive && more_bits) {
                    GgmlDType::Q6K
                } else {
                    GgmlDType::Q4K
                }
            }
        };
        let cols = dims[1];
        [wanted, fallback(wanted), GgmlDType::Q8_0]
            .into_iter()
            .find(|t| cols.is_multiple_of(t.block_size()))
            .or(Some(GgmlDType::F32))
    }
}

impl std::str::FromStr for GgufQuant {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<GgufQuant, String> {
        match s.to_ascii_lowercase().as_str() {
            "q8_0" => Ok(GgufQuant::Q8_0),
            "q4_k_m" => Ok(GgufQuant::Q4KM),
            other => Err(format!("unknown GGUF quantization {other:?}; expected q8_0 or q4_k_m")),
        }
    }
}

/// llama.cpp's fallback for a matrix whose rows do not fill its super-blocks of 256.
fn fallback(t: GgmlDType) -> GgmlDType {
    match t {
        GgmlDType::Q4K => GgmlDType::Q5_0,
        GgmlDType::Q6K => GgmlDType::Q8_0,
        other => other,
    }
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third between.
fn more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

fn layer_index(name: &str) -> Option<usize> {
    name.strip_prefix("model.layers.")?.split('.').next()?.parse().ok()
}

/// GGUF's name of a Hugging Face checkpoint tensor (`model.layers.3.mlp.down_proj.weight` is
/// `blk.3.ffn_down.weight`).
pub fn gguf_name(name: &str) -> Option<String> {
    let fixed = match name {
        "model.embed_tokens.weight" => Some("token_embd.weight"),
        "model.norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(f.to_string());
    }
    let rest = name.strip_prefix("model.layers.")?;
    let (i, rest) = rest.split_once('.')?;
    let (module, kind) = rest.rsplit_once('.')?;
    let short = match module {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{i}.{short}.{kind}"))
}

/// Llama's GGUF rotates adjacent pairs where Hugging Face's rotates halves: the query and key rows
/// of each head are interleaved (`convert_hf_to_gguf.py`'s `permute`) so that both compute the
/// same attention. Rows move whole, so quantizing before or after is the same.
fn interleave_heads(t: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    let dims = t.dims().to_vec();
    let rows = dims[0];
    let half = rows / heads / 2;
    let rest: usize = dims[1..].iter().product();
    t.reshape((heads, 2, half, rest))?.transpose(1, 2)?.contiguous()?.reshape(dims)
}

fn string(s: &str) -> gguf_file::Value {
    gguf_file::Value::String(s.to_string())
}

/// llama.cpp's name of a byte-level BPE tokenizer's pre-tokenizer (`tokenizer.ggml.pre`), read
/// from `tokenizer.json`'s `pre_tokenizer`: GPT-2's regex, Qwen2's, Llama 3's, or SmolLM's digits
/// split before GPT-2's.
fn pre_tokenizer_name(pre: &Json) -> Option<&'static str> {
    const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    let kind = pre["type"].as_str()?;
    let byte_level_regex = |p: &Json| p["type"] == "ByteLevel" && p["use_regex"] != false;
    if kind == "ByteLevel" {
        return byte_level_regex(pre).then_some("gpt-2");
    }
    let parts = pre["pretokenizers"].as_array()?;
    match parts.as_slice() {
        [split, byte_level] if split["type"] == "Split" && byte_level["type"] == "ByteLevel" => {
            match split["pattern"]["Regex"].as_str()? {
                QWEN2 => Some("qwen2"),
                LLAMA3 => Some("llama-bpe"),
                _ => None,
            }
        }
        [digits, byte_level] if digits["type"] == "Digits" && byte_level_regex(byte_level) => Some("smollm"),
        _ => None,
    }
}

/// The tokenizer's metadata: `tokenizer.ggml.model` `gpt2` (byte-level BPE), the pre-tokenizer,
/// every token by id (padded to the model's `vocab_size` with unused `[PAD{i}]` entries), their
/// types (added special tokens are control tokens), the merges, the special ids and the chat
/// template.
fn tokenizer_metadata(tok: &ChatTokenizer, vocab_size: usize) -> Result<Vec<(String, gguf_file::Value)>> {
    use gguf_file::Value as V;
    let source = &tok.source;
    let bad = |message: String| Error::ModelFolder { path: source.clone(), message };
    let json: Json = serde_json::from_str(&tok.tokenizer.to_string(false).map_err(|e| bad(e.to_string()))?)
        .map_err(|e| bad(e.to_string()))?;
    let model = &json["model"];
    if model["type"] != "BPE" {
        return Err(bad(format!(
            "the tokenizer is {}: GGUF export writes byte-level BPE tokenizers (Qwen, Llama 3, SmolLM)",
            model["type"]
        )));
    }
    let pre = pre_tokenizer_name(&json["pre_tokenizer"]).ok_or_else(|| {
        bad(format!(
            "its pre-tokenizer ({}) is not one llama.cpp names (GPT-2's, Qwen2's, Llama 3's or SmolLM's byte-level BPE)",
            json["pre_tokenizer"]
        ))
    })?;
    let mut tokens: Vec<Option<String>> = vec![None; vocab_size];
    let mut types = vec![1i32; vocab_size];
    let mut put = |id: u64, text: &str| -> Result<usize> {
        let id = id as usize;
        if id >= vocab_size {
            return Err(bad(format!("token {text:?} has id {id}, beyond the model's vocab_size {vocab_size}")));
        }
        tokens[id] = Some(text.to_string());
        Ok(id)
    };
    for (text, id) in model["vocab"].as_object().ok_or_else(|| bad("the BPE model has no vocab".into()))? {
        put(id.as_u64().ok_or_else(|| bad(format!("token {text:?} has no id")))?, text)?;
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let (Some(id), Some(text)) = (added["id"].as_u64(), added["content"].as_str()) else { continue };
        let id = put(id, text)?;
        types[id] = if added["special"] == true { 3 } else { 4 };
    }
    let tokens: Vec<V> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let text = t.unwrap_or_else(|| {
                types[i] = 5;
                format!("[PAD{i}]")
            });
            V::String(text)
        })
        .collect();
    let merges: Vec<V> = model["merges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| match m {
            Json::String(s) => Some(V::String(s.clone())),
            Json::Array(pair) => Some(V::String(format!("{} {}", pair.first()?.as_str()?, pair.get(1)?.as_str()?))),
            _ => None,
        })
        .collect();
    let id_of = |text: &str| (!text.is_empty()).then(|| tok.tokenizer.token_to_id(text)).flatten();
    let mut meta = vec![
        ("tokenizer.ggml.model".to_string(), string("gpt2")),
        ("tokenizer.ggml.pre".to_string(), string(pre)),
        ("tokenizer.ggml.tokens".to_string(), V::Array(tokens)),
        ("tokenizer.ggml.token_type".to_string(), V::Array(types.into_iter().map(V::I32).collect())),
        ("tokenizer.ggml.merges".to_string(), V::Array(merges)),
        ("tokenizer.ggml.eos_token_id".to_string(), V::U32(id_of(tok.template.eos()).unwrap_or(tok.eos_ids[0]))),
        ("tokenizer.ggml.padding_token_id".to_string(), V::U32(tok.pad_id)),
    ];
    if let Some(bos) = id_of(tok.template.bos()) {
        meta.push(("tokenizer.ggml.bos_token_id".into(), V::U32(bos)));
    }
    // Finelab tokenizes the rendered template as it is (a template that wants a bos token writes
    // it): llama.cpp is told to add none of its own.
    meta.push(("tokenizer.ggml.add_bos_token".into(), V::Bool(false)));
    meta.push(("tokenizer.chat_template".into(), string(tok.template.source())));
    Ok(meta)
}

/// The architecture's hyperparameters under llama.cpp's keys (`qwen2.block_count`...).
fn model_metadata(arch: Arch, c: &Config, max_positions: usize) -> Vec<(String, gguf_file::Value)> {
    use gguf_file::Value as V;
    let a = arch.model_type();
    let key = |k: &str| format!("{a}.{k}");
    let u = |n: usize| V::U32(n as u32);
    vec![
        (key("context_length"), u(max_positions)),
        (key("embedding_length"), u(c.hidden_size)),
        (key("block_count"), u(c.num_hidden_layers)),
        (key("feed_forward_length"), u(c.intermediate_size)),
        (key("attention.head_count"), u(c.num_attention_heads)),
        (key("attention.head_count_kv"), u(c.kv_heads())),
        (key("attention.key_length"), u(c.head_dim())),
        (key("attention.value_length"), u(c.head_dim())),
        (key("attention.layer_norm_rms_epsilon"), V::F32(c.rms_norm_eps as f32)),
        (key("rope.freq_base"), V::F32(c.rope_theta as f32)),
        (key("rope.dimension_count"), u(c.head_dim())),
        (key("vocab_size"), u(c.vocab_size)),
    ]
}

/// What [`write_gguf`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GgufSummary {
    /// The file.
    pub path: std::path::PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Tensors written, with their GGUF names and block formats (`Q4K`, `F32`...).
    pub tensors: Vec<(String, String)>,
}

/// Writes `model` (adapters folded in) with the tokenizer `tok` to the GGUF file `path`,
/// quantized as `quant` says. `name` is `general.name`.
pub fn write_gguf(
    model: &CausalLm,
    tok: &ChatTokenizer,
    quant: GgufQuant,
    name: &str,
    path: &Path,
) -> Result<GgufSummary> {
    let c = &model.config;
    let tied = c.tie_word_embeddings;
    let layers = c.num_hidden_layers;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for (hf_name, t) in model.merged_weights()? {
        let Some(gname) = gguf_name(&hf_name) else {
            return Err(Error::ModelFolder {
                path: path.to_path_buf(),
                message: format!("no GGUF name for the tensor {hf_name}"),
            });
        };
        let mut t = t.to_device(&Device::Cpu)?.contiguous()?;
        if model.arch == Arch::Llama {
            if hf_name.contains("self_attn.q_proj.") {
                t = interleave_heads(&t, c.num_attention_heads)?;
            } else if hf_name.contains("self_attn.k_proj.") {
                t = interleave_heads(&t, c.kv_heads())?;
            }
        }
        let dtype = quant.format_of(&hf_name, t.dims(), layers, tied).unwrap_or(GgmlDType::F32);
        tensors.push((gname, QTensor::quantize(&t, dtype)?));
    }
    let mut meta: Vec<(String, gguf_file::Value)> = vec![
        ("general.architecture".into(), string(model.arch.model_type())),
        ("general.name".into(), string(name)),
        ("general.file_type".into(), gguf_file::Value::U32(quant.file_type())),
        ("general.quantization_version".into(), gguf_file::Value::U32(2)),
    ];
    meta.extend(model_metadata(model.arch, c, model.max_positions()));
    meta.extend(tokenizer_metadata(tok, c.vocab_size)?);
    let partial = path.with_extension("gguf.partial");
    let mut file = std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
    let meta_refs: Vec<(&str, &gguf_file::Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut file, &meta_refs, &tensor_refs)?;
    file.sync_all().map_err(|e| Error::io(&partial, e))?;
    drop(file);
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))?;
    let bytes = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    Ok(GgufSummary {
        path: path.to_path_buf(),
        bytes,
        tensors: tensors.iter().map(|(n, t)| (n.clone(), format!("{:?}", t.dtype()))).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_k_m_gives_more_bits_where_llama_cpp_does() {
        // 32 layers: 0..4 and 28..32, and 6, 9, ... between (llama.cpp's use_more_bits).
        let more: Vec<usize> = (0..32).filter(|&i| more_bits(i, 32)).collect();
        assert_eq!(more, vec![0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
        let q = GgufQuant::Q4KM;
        let v = |i: usize| format!("model.layers.{i}.self_attn.v_proj.weight");
        assert_eq!(q.format_of(&v(0), &[512, 512], 32, true), Some(GgmlDType::Q6K));
        assert_eq!(q.format_of(&v(4), &[512, 512], 32, true), Some(GgmlDType::Q4K));
        assert_eq!(q.format_of("model.layers.4.mlp.up_proj.weight", &[1024, 512], 32, true), Some(GgmlDType::Q4K));
        assert_eq!(q.format_of("model.embed_tokens.weight", &[1000, 512], 32, true), Some(GgmlDType::Q6K));
        assert_eq!(q.format_of("model.embed_tokens.weight", &[1000, 512], 32, false), Some(GgmlDType::Q4K));
        assert_eq!(q.format_of("lm_head.weight", &[1000, 512], 32, false), Some(GgmlDType::Q6K));
        // Rows of 64 values do not fill a super-block of 256: llama.cpp's fallbacks.
        assert_eq!(q.format_of(&v(4), &[64, 64], 32, true), Some(GgmlDType::Q5_0));
        assert_eq!(q.format_of(&v(0), &[64, 64], 32, true), Some(GgmlDType::Q8_0));
        assert_eq!(q.format_of("model.norm.weight", &[64], 32, true), None);
        assert_eq!(GgufQuant::Q8_0.format_of("model.layers.0.self_attn.q_proj.bias", &[64], 2, true), None);
        assert_eq!(GgufQuant::Q8_0.format_of(&v(0), &[64, 48], 2, true), Some(GgmlDType::F32));
    }

    #[test]
    fn names_follow_llama_cpp() {
        assert_eq!(gguf_name("model.layers.12.mlp.down_proj.weight").as_deref(), Some("blk.12.ffn_down.weight"));
        assert_eq!(gguf_name("model.layers.0.self_attn.q_proj.bias").as_deref(), Some("blk.0.attn_q.bias"));
        assert_eq!(gguf_name("model.layers.0.self_attn.k_norm.weight").as_deref(), Some("blk.0.attn_k_norm.weight"));
        assert_eq!(gguf_name("model.embed_tokens.weight").as_deref(), Some("token_embd.weight"));
        assert_eq!(gguf_name("model.layers.0.mlp.experts.weight"), None);
    }

    #[test]
    fn interleaving_moves_each_heads_halves_into_pairs() {
        // One head of 4 rows [a0, a1, b0, b1] (halves a, b) becomes [a0, b0, a1, b1].
        let t = Tensor::new(&[[0f32], [1.], [2.], [3.], [10.], [11.], [12.], [13.]], &Device::Cpu).unwrap();
        let out: Vec<f32> = interleave_heads(&t, 2).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(out, vec![0., 2., 1., 3., 10., 12., 11., 13.]);
    }
}
