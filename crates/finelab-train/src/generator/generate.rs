//! Text generation: a batch of prompts, left-padded, decoded token by token with a key/value
//! cache (or, for checking it, by recomputing the whole sequence each step), greedily or by
//! sampling (temperature, top-p, a seed); each sequence ends at an eos id, at a stop string or
//! after `max_new_tokens`.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::model::{causal_mask, CausalLm, KvCache};
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use crate::transformer::nn::Dropout;

/// How to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateOptions {
    /// Most tokens generated per sequence.
    pub max_new_tokens: usize,
    /// 0 for greedy decoding; above 0, the softmax temperature of sampling.
    pub temperature: f64,
    /// Nucleus sampling: draw from the smallest set of tokens whose probabilities reach this.
    pub top_p: f64,
    /// Seed of sampling.
    pub seed: u64,
    /// Texts that end a sequence (left out of the answer).
    pub stop: Vec<String>,
    /// Keep keys and values between steps (else recompute the whole sequence each step).
    pub use_cache: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 128,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            stop: Vec::new(),
            use_cache: true,
        }
    }
}

/// The first index of the largest value.
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Draws from `logits / temperature` restricted to the top-p nucleus.
fn sample(logits: &[f32], temperature: f64, top_p: f64, rng: &mut SplitMix64) -> u32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(usize, f64)> =
        logits.iter().enumerate().map(|(i, &l)| (i, ((l as f64 - max) / temperature).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0;
    let mut mass = 0.0;
    for (_, p) in &probs {
        mass += p / total;
        kept += 1;
        if mass >= top_p {
            break;
        }
    }
    let probs = &probs[..kept];
    let kept_mass: f64 = probs.iter().map(|p| p.1).sum();
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * kept_mass;
    let mut acc = 0.0;
    for (i, p) in probs {
        acc += p;
        if u < acc {
            return *i as u32;
        }
    }
    probs[kept - 1].0 as u32
}

/// What one sequence ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// An eos id.
    Eos,
    /// A stop string.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

/// The new tokens of one prompt (eos left out) and why it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Generated ids.
    pub ids: Vec<u32>,
    /// Why generation ended.
    pub finish: Finish,
}

/// Generates continuations of `prompts` (token ids), all at once. `stop_hit` is asked after each
/// new token with the ids so far and says whether a stop string appeared.
pub fn generate_ids(
    model: &CausalLm,
    prompts: &[Vec<u32>],
    eos_ids: &[u32],
    pad_id: u32,
    options: &GenerateOptions,
    stop_hit: &dyn Fn(&[u32]) -> bool,
) -> Result<Vec<Generated>> {
    let mut on_token = |_row: usize, ids: &[u32]| !options.stop.is_empty() && stop_hit(ids);
    generate_ids_with(model, prompts, eos_ids, pad_id, options, &mut on_token)
}

/// [`generate_ids`] that reports every new token as it is chosen: `on_token(row, ids)` is called
/// with the ids of prompt `row` so far (eos left out, as in [`Generated`]) and ends that sequence
/// with [`Finish::Stop`] when it returns true (a stop string appeared, or whoever waits for it
/// went away). A model server streams tokens from here.
pub fn generate_ids_with(
    model: &CausalLm,
    prompts: &[Vec<u32>],
    eos_ids: &[u32],
    pad_id: u32,
    options: &GenerateOptions,
    on_token: &mut dyn FnMut(usize, &[u32]) -> bool,
) -> Result<Vec<Generated>> {
    let device = model.device().clone();
    let n = prompts.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if longest == 0 {
        return Err(Error::EmptyInput("a prompt has no tokens".into()));
    }
    let limit = model.max_positions();
    let max_new = options.max_new_tokens.min(limit.saturating_sub(longest));
    // Left padding: every row's last prompt token sits in the same column.
    let mut tokens: Vec<Vec<u32>> = Vec::with_capacity(n);
    let mut valid: Vec<Vec<bool>> = Vec::with_capacity(n);
    let mut pads = Vec::with_capacity(n);
    for p in prompts {
        let pad = longest - p.len();
        pads.push(pad);
        tokens.push(std::iter::repeat_n(pad_id, pad).chain(p.iter().copied()).collect());
        valid.push(std::iter::repeat_n(false, pad).chain(std::iter::repeat_n(true, p.len())).collect());
    }
    let mut out: Vec<Generated> = vec![Generated { ids: Vec::new(), finish: Finish::Length }; n];
    let mut done = vec![false; n];
    let mut rng = SplitMix64::new(options.seed);
    let mut cache = KvCache::new();
    for step in 0..max_new {
        let total = tokens[0].len();
        // The columns this forward pass feeds: all of them the first time (or without a cache),
        // then only the newest.
        let start = if options.use_cache && step > 0 { total - 1 } else { 0 };
        let seq = total - start;
        let mut ids = Vec::with_capacity(n * seq);
        let mut positions = Vec::with_capacity(n * seq);
        for r in 0..n {
            ids.extend_from_slice(&tokens[r][start..]);
            positions.extend((start..total).map(|c| c.saturating_sub(pads[r]) as u32));
        }
        let ids = Tensor::from_vec(ids, (n, seq), &device)?;
        let positions = Tensor::from_vec(positions, (n, seq), &device)?;
        let mask = causal_mask(n, seq, start, Some(&valid), &device)?;
        let cache_arg = if options.use_cache { Some(&mut cache) } else { None };
        let hidden = model.forward(&ids, &positions, &mask, cache_arg, &mut Dropout::Off)?;
        let last = hidden.narrow(1, seq - 1, 1)?.squeeze(1)?;
        let logits = model.logits(&last)?.to_device(&candle_core::Device::Cpu)?;
        let rows: Vec<Vec<f32>> = logits.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        for r in 0..n {
            let next = if done[r] {
                pad_id
            } else if options.temperature > 0.0 {
                sample(&rows[r], options.temperature, options.top_p, &mut rng)
            } else {
                argmax(&rows[r])
            };
            tokens[r].push(next);
            valid[r].push(true);
            if done[r] {
                continue;
            }
            if eos_ids.contains(&next) {
                done[r] = true;
                out[r].finish = Finish::Eos;
                continue;
            }
            out[r].ids.push(next);
            if on_token(r, &out[r].ids) {
                done[r] = true;
                out[r].finish = Finish::Stop;
            }
        }
        if done.iter().all(|d| *d) {
            break;
        }
    }
    Ok(out)
}
