//! Tiny generators made on the spot, so that tests and demos need no download: random weights in
//! Hugging Face's layout (`config.json` with `model_type` qwen2 or llama, `model.safetensors`), a
//! byte-level BPE vocabulary trained on a corpus with the `tokenizers` crate (`tokenizer.json`),
//! and a ChatML chat template like Qwen's in `tokenizer_config.json`.

use std::path::Path;

use candle_core::{Device, Tensor};
use serde_json::json;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, ModelWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
};
use tokenizers::{Tokenizer, TokenizerBuilder, TokenizerImpl};

use super::model::Arch;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::transformer::nn::normal;
use crate::transformer::save_safetensors;

/// The end-of-text token (padding).
pub const END_OF_TEXT: &str = "<|endoftext|>";
/// Opens a turn.
pub const IM_START: &str = "<|im_start|>";
/// Closes a turn; the eos token.
pub const IM_END: &str = "<|im_end|>";

/// Qwen2.5's ChatML template, shortened (no tools): a default system turn when there is none.
pub const CHATML_TEMPLATE: &str = "{%- if messages[0]['role'] == 'system' %}\
{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\
{%- else %}\
{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}\
{%- endif %}\
{%- for message in messages %}\
{%- if not (message.role == 'system' and loop.first) %}\
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\
{%- endif %}\
{%- endfor %}\
{%- if add_generation_prompt %}\
{{- '<|im_start|>assistant\\n' }}\
{%- endif %}";

/// The shape of a tiny generator.
#[derive(Debug, Clone, PartialEq)]
pub struct TinyGenSpec {
    /// The architecture written in `config.json`.
    pub arch: Arch,
    /// Hidden width.
    pub hidden: usize,
    /// Layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Feed-forward width.
    pub intermediate: usize,
    /// Target BPE vocabulary size (the byte alphabet, merges and the special tokens).
    pub vocab_size: usize,
    /// Seed of the random weights.
    pub seed: u64,
}

impl TinyGenSpec {
    /// The default tiny shape for `arch`: 2 layers of width 64, grouped-query attention.
    pub fn new(arch: Arch, seed: u64) -> TinyGenSpec {
        TinyGenSpec::sized(arch, 64, 2, 400, seed)
    }

    /// A tiny shape of `hidden` width (a multiple of 32: heads of 16 dimensions, half as many
    /// key/value heads), `layers` layers, a feed-forward twice as wide and a BPE vocabulary of
    /// about `vocab_size` entries.
    pub fn sized(arch: Arch, hidden: usize, layers: usize, vocab_size: usize, seed: u64) -> TinyGenSpec {
        let heads = (hidden / 16).max(1);
        TinyGenSpec {
            arch,
            hidden,
            layers,
            heads,
            kv_heads: (heads / 2).max(1),
            intermediate: hidden * 2,
            vocab_size,
            seed,
        }
    }
}

/// Writes a tiny generator of `arch` for the text of `corpus` into `out`, with weights from
/// `seed`.
pub fn make_tiny_model(out: &Path, arch: Arch, corpus: &Path, seed: u64) -> Result<()> {
    write_tiny_generator(out, corpus, &TinyGenSpec::new(arch, seed))
}

/// Checks a tiny shape before anything is written: the width a multiple of 32, at least one
/// layer, room in the vocabulary for the byte alphabet and the chat tokens.
pub fn check_spec(spec: &TinyGenSpec) -> Result<()> {
    let bad = |field: &'static str, message: String| Err(Error::InvalidConfig { field, message });
    if spec.hidden == 0 || !spec.hidden.is_multiple_of(32) {
        return bad("hidden", format!("the width must be a positive multiple of 32, not {}", spec.hidden));
    }
    if spec.layers == 0 {
        return bad("layers", "a model needs at least one layer".into());
    }
    if spec.vocab_size < 300 {
        return bad(
            "vocab",
            format!("at least 300 entries are needed (256 bytes and the chat tokens), not {}", spec.vocab_size),
        );
    }
    Ok(())
}

type Trainable =
    TokenizerImpl<ModelWrapper, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>;

/// Trains a byte-level BPE on the lines of `corpus` (any text can be encoded: every byte is in
/// the alphabet), with the chat tokens as special tokens.
pub fn train_bpe(corpus: &Path, vocab_size: usize) -> Result<Tokenizer> {
    let tok_err = |e: tokenizers::Error| Error::Tokenizer(format!("{}: {e}", corpus.display()));
    let specials: Vec<AddedToken> =
        [END_OF_TEXT, IM_START, IM_END].iter().map(|t| AddedToken::from(*t, true)).collect();
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials.clone())
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    let mut tokenizer: Trainable = TokenizerBuilder::new()
        .with_model(BPE::default().into())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false).into()))
        .with_post_processor(Some(ByteLevel::default().trim_offsets(false).into()))
        .with_decoder(Some(ByteLevel::default().into()))
        .build()
        .map_err(tok_err)?;
    let file = corpus.to_string_lossy().into_owned();
    tokenizer.train_from_files(&mut trainer, vec![file]).map_err(tok_err)?;
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer.into())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Writes a tiny generator folder: `tokenizer.json`, `tokenizer_config.json`,
/// `generation_config.json`, `config.json` and `model.safetensors`.
pub fn write_tiny_generator(out: &Path, corpus: &Path, spec: &TinyGenSpec) -> Result<()> {
    check_spec(spec)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let tokenizer = train_bpe(corpus, spec.vocab_size)?;
    let path = out.join("tokenizer.json");
    tokenizer.save(&path, true).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
    let id = |t: &str| tokenizer.token_to_id(t).expect("special tokens are in the vocabulary");
    let vocab_size = tokenizer.get_vocab_size(true);
    let (eot, eos) = (id(END_OF_TEXT), id(IM_END));
    let added: serde_json::Map<String, serde_json::Value> = [END_OF_TEXT, IM_START, IM_END]
        .iter()
        .map(|t| {
            (
                id(t).to_string(),
                json!({"content": t, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}),
            )
        })
        .collect();
    let tokenizer_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "additional_special_tokens": [IM_START, IM_END],
        "bos_token": null,
        "eos_token": IM_END,
        "pad_token": END_OF_TEXT,
        "unk_token": null,
        "add_bos_token": false,
        "clean_up_tokenization_spaces": false,
        "model_max_length": 512,
        "chat_template": CHATML_TEMPLATE,
    });
    write(&out.join("tokenizer_config.json"), &serde_json::to_string_pretty(&tokenizer_config).expect("json"))?;
    let generation = json!({"bos_token_id": eot, "eos_token_id": [eos, eot], "pad_token_id": eot, "do_sample": false});
    write(&out.join("generation_config.json"), &serde_json::to_string_pretty(&generation).expect("json"))?;
    let head_dim = spec.hidden / spec.heads;
    let qwen = spec.arch != Arch::Llama;
    let mut config = json!({
        "architectures": [spec.arch.class_name()],
        "model_type": spec.arch.model_type(),
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden,
        "intermediate_size": spec.intermediate,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 512,
        "initializer_range": 0.02,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "rope_scaling": null,
        "tie_word_embeddings": qwen,
        "bos_token_id": eot,
        "eos_token_id": eos,
        "pad_token_id": eot,
        "torch_dtype": "float32",
        "use_cache": true,
        "attention_dropout": 0.0,
    });
    let obj = config.as_object_mut().expect("object");
    match spec.arch {
        Arch::Llama => {
            obj.insert("attention_bias".into(), json!(false));
            obj.insert("mlp_bias".into(), json!(false));
            obj.insert("pretraining_tp".into(), json!(1));
        }
        _ => {
            obj.insert("use_sliding_window".into(), json!(false));
            obj.insert("sliding_window".into(), json!(null));
            obj.insert("max_window_layers".into(), json!(spec.layers));
        }
    }
    write(&out.join("config.json"), &serde_json::to_string_pretty(&config).expect("json"))?;

    let mut rng = SplitMix64::new(spec.seed ^ 0x7149_6E79);
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    // Standard deviations for a model this narrow: 1/√in for the projections (0.02, real models'
    // `initializer_range`, is about that for their widths), and embeddings large enough that a
    // frozen output layer tied to them can still give a token a probability near 1.
    let mut random = |name: String, shape: &[usize], std: f64| -> Result<()> {
        let n = shape.iter().product();
        tensors.push((name, Tensor::from_vec(normal(&mut rng, n, std), shape, &Device::Cpu)?));
        Ok(())
    };
    let (h, i, q, kv) = (spec.hidden, spec.intermediate, spec.heads * head_dim, spec.kv_heads * head_dim);
    random("model.embed_tokens.weight".into(), &[vocab_size, h], 1.0)?;
    for l in 0..spec.layers {
        let p = format!("model.layers.{l}");
        for (name, shape) in [
            ("self_attn.q_proj", [q, h]),
            ("self_attn.k_proj", [kv, h]),
            ("self_attn.v_proj", [kv, h]),
            ("self_attn.o_proj", [h, q]),
            ("mlp.gate_proj", [i, h]),
            ("mlp.up_proj", [i, h]),
            ("mlp.down_proj", [h, i]),
        ] {
            random(format!("{p}.{name}.weight"), &shape, 1.0 / (shape[1] as f64).sqrt())?;
            if spec.arch == Arch::Qwen2 && ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"].contains(&name)
            {
                random(format!("{p}.{name}.bias"), &[shape[0]], 0.02)?;
            }
        }
    }
    let mut ones = |name: String, n: usize| -> Result<()> {
        tensors.push((name, Tensor::ones(n, candle_core::DType::F32, &Device::Cpu)?));
        Ok(())
    };
    for l in 0..spec.layers {
        ones(format!("model.layers.{l}.input_layernorm.weight"), h)?;
        ones(format!("model.layers.{l}.post_attention_layernorm.weight"), h)?;
        if spec.arch == Arch::Qwen3 {
            ones(format!("model.layers.{l}.self_attn.q_norm.weight"), head_dim)?;
            ones(format!("model.layers.{l}.self_attn.k_norm.weight"), head_dim)?;
        }
    }
    ones("model.norm.weight".into(), h)?;
    if !qwen {
        let n = vocab_size * h;
        tensors.push((
            "lm_head.weight".into(),
            Tensor::from_vec(normal(&mut rng, n, 0.5), (vocab_size, h), &Device::Cpu)?,
        ));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = [("format".to_string(), "pt".to_string())].into_iter().collect();
    save_safetensors(&out.join("model.safetensors"), &tensors, metadata)
}
