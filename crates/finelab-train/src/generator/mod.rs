//! The `generator` family: decoder-only causal language models (Qwen2 / Qwen2.5 / Qwen3, Llama:
//! SmolLM2, TinyLlama) fine-tuned on dialogs and their target answers, on candle.
//!
//! - the model's own chat template renders each dialog ([`template`]); the loss covers the target
//!   tokens only, and truncation keeps the latest turns;
//! - LoRA adapters on the chosen projections with the base weights frozen (plain tensors, no
//!   gradient), or full fine-tuning for small models ([`model`]);
//! - the cross-entropy over the vocabulary is computed a chunk of rows at a time, each chunk's
//!   logits freed before the next, and the gradient reaches the body through the hidden states
//!   once ([`chunked_loss`]): the output layer over a 150k vocabulary would otherwise hold
//!   `tokens × vocab` floats several times over;
//! - AdamW with warm-up and decay, clipping and gradient accumulation from the transformer family,
//!   driven by the one training loop ([`crate::train`]'s `fit`): progress, stop, early stopping on
//!   the dev loss, the best epoch kept;
//! - generation with a key/value cache, greedy or sampled ([`generate`]); export as a PEFT adapter
//!   and as a merged Hugging Face folder ([`export`]); a GGUF file quantized to `q8_0` or
//!   `q4_K_M` for llama.cpp and Ollama, and Finelab's own generation quantized the same way
//!   ([`gguf`], [`quantize_gguf`]).

pub mod export;
pub mod generate;
pub mod gguf;
pub mod loss;
pub mod model;
pub mod template;
pub mod tiny;

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::generate::{generate_ids, GenerateOptions, Generated};
use self::model::{causal_mask, read_weights, BaseModel, CausalLm, LoraSpec, Tuning};
use self::template::{ChatTokenizer, Message};
use crate::config::TrainConfig;
use crate::device::{device_name, select_device};
use crate::error::{Error, Result};
use crate::family::{Evaluation, Family, Pass, Split, Splits};
use crate::progress::{Control, Progress, Steps};
use crate::rng::SplitMix64;
use crate::train::{fit, TrainOutcome};
use crate::transformer::nn::Dropout;
use crate::transformer::optim::{clip_factor, linear_schedule, AdamW, AdamWConfig};

/// The family's name in configs and model folders.
pub const FAMILY: &str = crate::family::GENERATOR;
const FORMAT: &str = "finelab-generator";
const FORMAT_VERSION: u32 = 1;
/// Examples per forward pass when scoring a split.
const EVAL_BATCH: usize = 8;
/// Dev dialogs answered after each epoch (the outputs the Train screen shows).
const N_SAMPLES: usize = 3;
/// The most tokens of each of those answers.
const SAMPLE_TOKENS: usize = 48;
/// Logits per chunk of the loss (rows × vocabulary): 16M floats, 64 MB.
const LOSS_CHUNK_LOGITS: usize = 1 << 24;

/// One dialog and the answer to learn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatExample {
    /// The record's stable id.
    pub id: String,
    /// The dialog so far (system, user and assistant turns), oldest first.
    pub messages: Vec<Message>,
    /// The assistant's answer.
    pub target: String,
}

/// Dialogs already split into train, dev and test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatDataset {
    /// Examples to fit on.
    pub train: Vec<ChatExample>,
    /// Examples for early stopping.
    pub dev: Vec<ChatExample>,
    /// Held-out examples, scored once with the best model.
    pub test: Vec<ChatExample>,
}

/// A dialog and target as ids; the loss covers `ids[target_start..]`.
#[derive(Debug, Clone)]
struct Item {
    ids: Vec<u32>,
    target_start: usize,
}

/// Rows per loss chunk for a vocabulary of `vocab` entries: 16M logits, 64 MB in f32.
pub fn chunk_rows(vocab: usize) -> usize {
    (LOSS_CHUNK_LOGITS / vocab.max(1)).max(1)
}

/// The summed negative log-likelihood of `targets` `(rows, 1)` under the logits of `hidden`
/// `(rows, hidden)`.
fn chunk_nll(model: &CausalLm, hidden: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    loss::token_nll(&model.logits(hidden)?, targets)?.sum_all()
}

/// The summed loss of the target tokens `targets`, predicted by the rows `rows` of the flattened
/// hidden states `(batch, seq, hidden)`, and, when `grad_scale` is given, the gradients of
/// `grad_scale · loss` for each of the model's parameters (in order; `None` where the loss does
/// not reach). `chunk` rows go through the output layer at a time (see [`chunk_rows`]).
///
/// The output layer runs a chunk of rows at a time on a detached copy of the hidden states: each
/// chunk's logits live only for its own backward pass, which also yields the chunk's gradient
/// with respect to the hidden states; one more backward pass of `Σ hidden · gradient` then
/// carries those into the body.
pub fn chunked_loss(
    model: &CausalLm,
    hidden: &Tensor,
    rows: &[u32],
    targets: &[u32],
    grad_scale: Option<f64>,
    chunk: usize,
) -> Result<(f64, Vec<Option<Tensor>>)> {
    let device = hidden.device();
    let (b, s, h) = hidden.dims3()?;
    let params = model.params();
    let mut grads: Vec<Option<Tensor>> = vec![None; params.len()];
    if rows.is_empty() {
        return Ok((0.0, grads));
    }
    let index = Tensor::from_vec(rows.to_vec(), rows.len(), device)?;
    let picked = hidden.reshape((b * s, h))?.index_select(&index, 0)?;
    let detached = picked.detach();
    let step = chunk.max(1);
    let mut total = 0.0;
    let mut hidden_grads = Vec::new();
    let add = |grads: &mut Vec<Option<Tensor>>, store: &candle_core::backprop::GradStore| -> Result<()> {
        for (acc, p) in grads.iter_mut().zip(params) {
            if let Some(g) = store.get(p.var.as_tensor()) {
                *acc = Some(match acc.take() {
                    Some(a) => (a + g)?,
                    None => g.clone(),
                });
            }
        }
        Ok(())
    };
    for start in (0..rows.len()).step_by(step) {
        let len = step.min(rows.len() - start);
        let chunk_targets = Tensor::from_vec(targets[start..start + len].to_vec(), len, device)?;
        let chunk = detached.narrow(0, start, len)?;
        match grad_scale {
            None => total += chunk_nll(model, &chunk, &chunk_targets)?.to_scalar::<f32>()? as f64,
            Some(scale) => {
                let var = Var::from_tensor(&chunk)?;
                let nll = chunk_nll(model, var.as_tensor(), &chunk_targets)?;
                total += nll.to_scalar::<f32>()? as f64;
                let store = (nll * scale)?.backward()?;
                let g = match store.get(var.as_tensor()) {
                    Some(g) => g.detach(),
                    None => var.as_tensor().zeros_like()?,
                };
                hidden_grads.push(g);
                add(&mut grads, &store)?;
            }
        }
    }
    if grad_scale.is_some() {
        let g = Tensor::cat(&hidden_grads, 0)?;
        let store = (picked * g)?.sum_all()?.backward()?;
        add(&mut grads, &store)?;
    }
    Ok((total, grads))
}

/// A right-padded batch: ids, positions, and the rows of the flattened hidden states that predict
/// a target token, with those tokens.
struct Batch {
    ids: Tensor,
    positions: Tensor,
    mask: Tensor,
    rows: Vec<u32>,
    targets: Vec<u32>,
}

impl Batch {
    fn new(items: &[&Item], pad: u32, device: &Device) -> candle_core::Result<Batch> {
        let seq = items.iter().map(|it| it.ids.len()).max().unwrap_or(1);
        let n = items.len();
        let (mut ids, mut positions) = (Vec::with_capacity(n * seq), Vec::with_capacity(n * seq));
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (r, it) in items.iter().enumerate() {
            ids.extend_from_slice(&it.ids);
            ids.extend(std::iter::repeat_n(pad, seq - it.ids.len()));
            positions.extend(0..seq as u32);
            // The hidden state at t predicts token t + 1.
            for t in it.target_start.max(1)..it.ids.len() {
                rows.push((r * seq + t - 1) as u32);
                targets.push(it.ids[t]);
            }
        }
        Ok(Batch {
            ids: Tensor::from_vec(ids, (n, seq), device)?,
            positions: Tensor::from_vec(positions, (n, seq), device)?,
            // Padding sits after every real token, so the causal mask alone keeps it unseen.
            mask: causal_mask(1, seq, 0, None, device)?,
            rows,
            targets,
        })
    }
}

/// Mean loss per target token of `items` and the number of target tokens.
fn score_items(model: &CausalLm, items: &[Item], pad: u32) -> Result<(f64, usize)> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].ids.len());
    let (mut total, mut n) = (0.0, 0usize);
    for chunk in order.chunks(EVAL_BATCH) {
        let batch_items: Vec<&Item> = chunk.iter().map(|&i| &items[i]).collect();
        let batch = Batch::new(&batch_items, pad, model.device())?;
        let hidden = model.forward(&batch.ids, &batch.positions, &batch.mask, None, &mut Dropout::Off)?.detach();
        let (nll, _) =
            chunked_loss(model, &hidden, &batch.rows, &batch.targets, None, chunk_rows(model.config.vocab_size))?;
        total += nll;
        n += batch.rows.len();
    }
    Ok((total / n.max(1) as f64, n))
}

fn loss_evaluation(loss: f64, n_tokens: usize, n_examples: usize) -> Evaluation {
    Evaluation {
        macro_f1: -loss,
        report: json!({
            "loss": loss,
            "perplexity": loss.exp(),
            "n_tokens": n_tokens,
            "n_examples": n_examples,
        }),
    }
}

/// The LoRA settings of a config (or full fine-tuning).
fn tuning_of(config: &TrainConfig) -> Tuning {
    if config.full_finetune {
        Tuning::Full
    } else {
        Tuning::Lora(LoraSpec {
            rank: config.lora_rank,
            alpha: config.lora_alpha,
            dropout: config.lora_dropout,
            targets: config.lora_targets.clone(),
        })
    }
}

/// A base folder opened for training: config, tokenizer and model.
fn open_base(dir: &Path, tuning: Tuning, device: &Device, seed: u64) -> Result<(BaseModel, ChatTokenizer, CausalLm)> {
    let base = BaseModel::open(dir)?;
    let tokenizer = ChatTokenizer::load(dir)?;
    let n_tokens = tokenizer.tokenizer.get_vocab_size(true);
    if n_tokens > base.config.vocab_size {
        return Err(Error::ModelFolder {
            path: tokenizer.source.clone(),
            message: format!(
                "the tokenizer has {n_tokens} tokens but config.json says the model has {} (vocab_size)",
                base.config.vocab_size
            ),
        });
    }
    let weights = read_weights(dir)?;
    let model = CausalLm::load(&base, &weights, tuning, device, seed)?;
    Ok((base, tokenizer, model))
}

/// Trains a generator on `dataset` (dialogs and targets) from `config.base_model` through the one
/// training loop, writes the model folder to `out_dir` and returns the outcome: the epochs'
/// dev losses (`dev_macro_f1` holds minus the loss: higher is better), and dev and test reports
/// with the loss per target token and the perplexity.
pub fn train(
    dataset: &ChatDataset,
    config: &TrainConfig,
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress) -> Control,
) -> Result<TrainOutcome> {
    if dataset.train.is_empty() {
        return Err(Error::EmptyInput("the train split has no examples".into()));
    }
    let started = Instant::now();
    let splits = Splits {
        n_train: dataset.train.len(),
        dev_is_train: dataset.dev.is_empty(),
        has_test: !dataset.test.is_empty(),
    };
    let mut trainer = Trainer::new(dataset, config)?;
    fit(&mut trainer, splits, config, out_dir, started, progress)
}

/// The generator family as the training loop drives it.
pub struct Trainer<'a> {
    dataset: &'a ChatDataset,
    config: &'a TrainConfig,
    base: BaseModel,
    tokenizer: ChatTokenizer,
    model: CausalLm,
    device: Device,
    max_len: usize,
    train_set: Vec<Item>,
    dev_set: Vec<Item>,
    optimizer: AdamW,
    steps_per_epoch: usize,
    total_steps: usize,
    warmup_steps: usize,
    step: usize,
    rng: SplitMix64,
    dropout_rng: SplitMix64,
    order: Vec<usize>,
    best: Option<Vec<Tensor>>,
    /// Tokens (prompt and target) per second of the last training pass, for the dev report.
    tokens_per_sec: Option<f64>,
}

fn encode_all(tokenizer: &ChatTokenizer, examples: &[ChatExample], max_len: usize) -> Result<Vec<Item>> {
    examples
        .iter()
        .map(|e| {
            let enc = tokenizer.encode(&e.messages, &e.target, max_len)?;
            Ok(Item { ids: enc.ids, target_start: enc.target_start })
        })
        .collect()
}

impl<'a> Trainer<'a> {
    /// Opens the base model of `config` and encodes the splits.
    pub fn new(dataset: &'a ChatDataset, config: &'a TrainConfig) -> Result<Trainer<'a>> {
        let dir = config.base_model.as_deref().ok_or(Error::InvalidConfig {
            field: "base_model",
            message: "the generator family needs a base model folder".into(),
        })?;
        let device = select_device(&config.device)?;
        let (base, tokenizer, model) = open_base(dir, tuning_of(config), &device, config.seed)?;
        let max_len = config.max_len.min(model.max_positions());
        let train_set = encode_all(&tokenizer, &dataset.train, max_len)?;
        let dev_set = encode_all(&tokenizer, &dataset.dev, max_len)?;
        let vars = model.params().iter().map(|p| (p.var.clone(), p.decay)).collect();
        let optimizer = AdamW::new(
            vars,
            AdamWConfig { lr: config.lr, weight_decay: config.weight_decay, ..AdamWConfig::default() },
        )?;
        let steps_per_epoch = train_set.len().div_ceil(config.batch_size).div_ceil(config.grad_accum);
        let total_steps = steps_per_epoch * config.epochs;
        let warmup_steps = (config.warmup_ratio * total_steps as f64).ceil() as usize;
        Ok(Trainer {
            dataset,
            config,
            base,
            tokenizer,
            model,
            device,
            max_len,
            order: (0..train_set.len()).collect(),
            train_set,
            dev_set,
            optimizer,
            steps_per_epoch,
            total_steps,
            warmup_steps,
            step: 0,
            rng: SplitMix64::new(config.seed),
            dropout_rng: SplitMix64::new(config.seed ^ 0xD80F_0A7E),
            best: None,
            tokens_per_sec: None,
        })
    }

    /// The model being trained.
    pub fn model(&self) -> &CausalLm {
        &self.model
    }

    /// One optimizer step over the train examples `ids` (one micro-batch, no accumulation);
    /// returns the mean loss per target token and the gradients it applied (before clipping),
    /// one per [`CausalLm::params`] entry, for tests.
    pub fn step_on(&mut self, ids: &[usize]) -> Result<(f64, Vec<Option<Tensor>>)> {
        let (loss, n, grads) = self.grads(ids, 1)?;
        let (factor, _) = clip_factor(&grads, self.config.max_grad_norm)?;
        let lr = self.config.lr * linear_schedule(self.step, self.warmup_steps, self.total_steps);
        self.optimizer.step(&grads, lr, factor)?;
        self.step += 1;
        Ok((loss / n.max(1) as f64, grads))
    }

    /// Summed loss, target tokens and gradients of the mean loss / `group` for one micro-batch.
    fn grads(&mut self, ids: &[usize], group: usize) -> Result<(f64, usize, Vec<Option<Tensor>>)> {
        let items: Vec<&Item> = ids.iter().map(|&i| &self.train_set[i]).collect();
        let batch = Batch::new(&items, self.tokenizer.pad_id, &self.device)?;
        let mut dropout = Dropout::Train(&mut self.dropout_rng);
        let hidden = self.model.forward(&batch.ids, &batch.positions, &batch.mask, None, &mut dropout)?;
        let n = batch.rows.len();
        let scale = 1.0 / (n.max(1) * group) as f64;
        let chunk = chunk_rows(self.model.config.vocab_size);
        let (loss, grads) = chunked_loss(&self.model, &hidden, &batch.rows, &batch.targets, Some(scale), chunk)?;
        Ok((loss, n, grads))
    }

    /// Greedy answers (at most [`SAMPLE_TOKENS`] tokens) of the first [`N_SAMPLES`] dev
    /// dialogs (train ones without dev) beside their targets: `[{"id", "prompt", "reference",
    /// "output"}]`, the prompt being the dialog's last message.
    fn sample_answers(&self) -> Result<Value> {
        let examples = if self.dataset.dev.is_empty() { &self.dataset.train } else { &self.dataset.dev };
        let chosen: Vec<&ChatExample> = examples.iter().take(N_SAMPLES).collect();
        let prompts: Vec<Vec<u32>> =
            chosen.iter().map(|e| self.tokenizer.prompt_ids(&e.messages)).collect::<Result<_>>()?;
        let options = GenerateOptions { max_new_tokens: SAMPLE_TOKENS, ..Default::default() };
        let generated = generate_ids(
            &self.model,
            &prompts,
            &self.tokenizer.eos_ids,
            self.tokenizer.pad_id,
            &options,
            &|_: &[u32]| false,
        )?;
        let mut out = Vec::new();
        for (example, g) in chosen.iter().zip(generated) {
            out.push(json!({
                "id": example.id,
                "prompt": example.messages.last().map(|m| m.content.as_str()).unwrap_or_default(),
                "reference": example.target,
                "output": self.tokenizer.decode(&g.ids)?,
            }));
        }
        Ok(Value::Array(out))
    }

    fn dev_items(&self) -> &[Item] {
        if self.dataset.dev.is_empty() {
            &self.train_set
        } else {
            &self.dev_set
        }
    }
}

impl Family for Trainer<'_> {
    fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn run_epoch(&mut self, steps: &mut Steps<'_>) -> Result<Pass> {
        let mut order = std::mem::take(&mut self.order);
        self.rng.shuffle(&mut order);
        let (mut loss_sum, mut n_tokens) = (0.0f64, 0usize);
        let micro: Vec<Vec<usize>> = order.chunks(self.config.batch_size).map(<[usize]>::to_vec).collect();
        let mut stopped = false;
        let started = Instant::now();
        let mut n_seen_tokens = 0usize;
        for group in micro.chunks(self.config.grad_accum) {
            let mut accumulated: Vec<Option<Tensor>> = vec![None; self.model.params().len()];
            let mut n_examples = 0;
            let mut step_tokens = 0;
            for ids in group {
                let (loss, n, grads) = self.grads(ids, group.len())?;
                step_tokens += ids.iter().map(|&i| self.train_set[i].ids.len()).sum::<usize>();
                loss_sum += loss;
                n_tokens += n;
                for (acc, g) in accumulated.iter_mut().zip(grads) {
                    if let Some(g) = g {
                        *acc = Some(match acc.take() {
                            Some(a) => (a + g)?,
                            None => g,
                        });
                    }
                }
                n_examples += ids.len();
            }
            let (factor, _) = clip_factor(&accumulated, self.config.max_grad_norm)?;
            let lr = self.config.lr * linear_schedule(self.step, self.warmup_steps, self.total_steps);
            self.optimizer.step(&accumulated, lr, factor)?;
            self.step += 1;
            n_seen_tokens += step_tokens;
            let loss = loss_sum / n_tokens.max(1) as f64;
            if steps.took_step_tokens(n_examples, step_tokens, loss, true) == Control::Stop {
                stopped = true;
                break;
            }
        }
        self.order = order;
        self.tokens_per_sec = Some(n_seen_tokens as f64 / started.elapsed().as_secs_f64().max(1e-9));
        if stopped {
            return Ok(Pass::Stopped);
        }
        Ok(Pass::Finished { train_loss: loss_sum / n_tokens.max(1) as f64 })
    }

    fn tune_on_dev(&mut self) -> Result<Evaluation> {
        let mut evaluation = self.evaluate(Split::Dev)?;
        // The Epoch event carries this report: the pass's speed in tokens goes with it (Step
        // events count examples, which say little when their lengths vary this much).
        if let (Some(speed), Some(obj)) = (self.tokens_per_sec, evaluation.report.as_object_mut()) {
            obj.insert("train_tokens_per_sec".into(), json!(speed));
        }
        // The answers to a few fixed dev dialogs, so whoever watches sees the model learn.
        let samples = self.sample_answers()?;
        if let Some(obj) = evaluation.report.as_object_mut() {
            obj.insert("samples".into(), samples);
        }
        Ok(evaluation)
    }

    fn keep_best(&mut self) -> Result<()> {
        self.best =
            Some(self.model.params().iter().map(|p| p.var.as_tensor().copy()).collect::<candle_core::Result<_>>()?);
        Ok(())
    }

    fn restore_best(&mut self) -> Result<()> {
        if let Some(best) = self.best.take() {
            for (p, v) in self.model.params().iter().zip(&best) {
                p.var.set(v)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, split: Split) -> Result<Evaluation> {
        let pad = self.tokenizer.pad_id;
        match split {
            Split::Dev => {
                let items = self.dev_items();
                let (loss, n) = score_items(&self.model, items, pad)?;
                Ok(loss_evaluation(loss, n, items.len()))
            }
            Split::Test => {
                let items = encode_all(&self.tokenizer, &self.dataset.test, self.max_len)?;
                let (loss, n) = score_items(&self.model, &items, pad)?;
                Ok(loss_evaluation(loss, n, items.len()))
            }
        }
    }

    fn save(&mut self, dir: &Path, best_epoch: usize) -> Result<()> {
        let meta = ModelMeta {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            family: FAMILY.into(),
            arch: self.base.arch,
            base_model: self.base.dir.clone(),
            full_finetune: self.config.full_finetune,
            max_len: self.max_len,
            config: self.config.clone(),
            best_epoch,
            device: device_name(&self.device),
            quantization: None,
        };
        export::save_model(dir, &meta, &self.base, &self.model, self.config)
    }

    fn device(&self) -> String {
        device_name(&self.device)
    }
}

/// Makes a folder trained elsewhere (by `transformers`' Trainer, from a job Finelab exported) a
/// Finelab generator folder: a PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`)
/// over the base folder of `config`, or with `config.full_finetune` a whole Hugging Face folder.
/// Checks the adapter's settings can be read (and the base's architecture), then writes
/// `finelab-model.json` with `config` and `best_epoch`; [`GeneratorModel::load`] then loads it.
pub fn adopt_folder(dir: &Path, config: &TrainConfig, best_epoch: usize) -> Result<()> {
    let base_dir = config.base_model.clone().ok_or(Error::InvalidConfig {
        field: "base_model",
        message: "the generator family needs a base model folder".into(),
    })?;
    let base = if config.full_finetune {
        BaseModel::open(dir)?
    } else {
        export::read_adapter_config(dir)?;
        if !dir.join(export::ADAPTER_WEIGHTS).is_file() {
            return Err(Error::ModelFolder {
                path: dir.to_path_buf(),
                message: format!("no {} (a PEFT adapter was expected)", export::ADAPTER_WEIGHTS),
            });
        }
        BaseModel::open(&base_dir)?
    };
    let max_len = config.max_len.min(base.config.max_position_embeddings.unwrap_or(4096).clamp(64, 16_384));
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        family: FAMILY.into(),
        arch: base.arch,
        base_model: base_dir,
        full_finetune: config.full_finetune,
        max_len,
        config: config.clone(),
        best_epoch,
        device: "elsewhere".into(),
        quantization: None,
    };
    let path = dir.join(crate::family::MODEL_FILE);
    let text = serde_json::to_string_pretty(&meta).expect("model metadata serializes");
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}

/// Contents of `finelab-model.json` in a generator model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    format: String,
    format_version: u32,
    family: String,
    /// The architecture.
    pub arch: model::Arch,
    /// The folder it was fine-tuned from (LoRA adapters apply to it).
    pub base_model: PathBuf,
    /// Whether the folder holds every weight (else a LoRA adapter).
    pub full_finetune: bool,
    /// Longest prompt and target in tokens.
    pub max_len: usize,
    /// The training configuration.
    pub config: TrainConfig,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// The device it trained on.
    pub device: String,
    /// The GGUF quantization the folder runs with (its weights quantized on load as the
    /// `model-*.gguf` beside them are), or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<gguf::GgufQuant>,
}

/// A fine-tuned (or base) generator, ready to answer dialogs.
#[derive(Debug)]
pub struct GeneratorModel {
    /// The model.
    pub model: CausalLm,
    /// Its tokenizer and chat template.
    pub tokenizer: ChatTokenizer,
    /// The base model's config.
    pub base: BaseModel,
    /// The LoRA settings the adapters were trained with (`None`: no adapters).
    pub lora: Option<LoraSpec>,
}

impl GeneratorModel {
    /// Loads a model folder written by training (`finelab-model.json`: a LoRA adapter over its
    /// base folder, or a full Hugging Face folder), or a plain Hugging Face folder, on the CPU.
    pub fn load(dir: &Path) -> Result<GeneratorModel> {
        Self::load_on(dir, "cpu")
    }

    /// Loads `dir` (see [`GeneratorModel::load`]) on the device `requested`.
    pub fn load_on(dir: &Path, requested: &str) -> Result<GeneratorModel> {
        let device = select_device(requested)?;
        let meta_path = dir.join(crate::family::MODEL_FILE);
        let meta: Option<ModelMeta> = if meta_path.is_file() {
            let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
            let meta: ModelMeta = serde_json::from_str(&text)
                .map_err(|e| Error::CorruptModel { path: meta_path.clone(), message: e.to_string() })?;
            if meta.format != FORMAT || meta.format_version != FORMAT_VERSION {
                return Err(Error::CorruptModel {
                    path: meta_path,
                    message: format!(
                        "format {} v{} is not {FORMAT} v{FORMAT_VERSION}",
                        meta.format, meta.format_version
                    ),
                });
            }
            Some(meta)
        } else {
            None
        };
        let quantization = meta.as_ref().and_then(|m| m.quantization);
        let mut loaded = match meta {
            Some(meta) if !meta.full_finetune => {
                let spec = export::read_adapter_config(dir)?;
                let (base, _, model) = open_base(&meta.base_model, Tuning::Lora(spec.clone()), &device, 0)?;
                let file = dir.join(export::ADAPTER_WEIGHTS);
                let tensors = candle_core::safetensors::load(&file, &Device::Cpu)
                    .map_err(|e| Error::CorruptModel { path: file.clone(), message: e.to_string() })?;
                model.load_adapter(&tensors, &file)?;
                let tokenizer = ChatTokenizer::load(dir)?;
                GeneratorModel { model, tokenizer, base, lora: Some(spec) }
            }
            _ => {
                let (base, tokenizer, model) = open_base(dir, Tuning::Frozen, &device, 0)?;
                GeneratorModel { model, tokenizer, base, lora: None }
            }
        };
        if let Some(quant) = quantization {
            let (layers, tied) = (loaded.model.config.num_hidden_layers, loaded.model.config.tie_word_embeddings);
            loaded.model.quantize(&|name: &str, dims: &[usize]| quant.format_of(name, dims, layers, tied))?;
        }
        Ok(loaded)
    }

    /// The GGUF quantization the model runs with, read from its folder's `finelab-model.json`.
    pub fn quantization(dir: &Path) -> Option<gguf::GgufQuant> {
        let text = std::fs::read_to_string(dir.join(crate::family::MODEL_FILE)).ok()?;
        serde_json::from_str::<ModelMeta>(&text).ok()?.quantization
    }

    /// Token ids of each dialog's prompt (the chat template with the generation prompt).
    pub fn prompt_ids(&self, dialogs: &[Vec<Message>]) -> Result<Vec<Vec<u32>>> {
        dialogs.iter().map(|d| self.tokenizer.prompt_ids(d)).collect()
    }

    /// Generates from token-id prompts; see [`generate_ids`].
    pub fn generate_ids(&self, prompts: &[Vec<u32>], options: &GenerateOptions) -> Result<Vec<Generated>> {
        let stop_hit = |ids: &[u32]| -> bool {
            let text = self.tokenizer.decode(ids).unwrap_or_default();
            options.stop.iter().any(|s| text.contains(s.as_str()))
        };
        generate_ids(&self.model, prompts, &self.tokenizer.eos_ids, self.tokenizer.pad_id, options, &stop_hit)
    }

    /// The answer to each dialog, batched, cut before a stop string.
    pub fn generate(&self, dialogs: &[Vec<Message>], options: &GenerateOptions) -> Result<Vec<String>> {
        let prompts = self.prompt_ids(dialogs)?;
        let generated = self.generate_ids(&prompts, options)?;
        generated
            .iter()
            .map(|g| {
                let mut text = self.tokenizer.decode(&g.ids)?;
                if let Some(cut) = options.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                    text.truncate(cut);
                }
                Ok(text)
            })
            .collect()
    }

    /// Logits `(seq, vocab)` of every position of `ids` (for checks against `transformers`).
    pub fn logits(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
        let device = self.model.device();
        let n = ids.len();
        let t = Tensor::from_vec(ids.to_vec(), (1, n), device)?;
        let positions = Tensor::from_vec((0..n as u32).collect::<Vec<_>>(), (1, n), device)?;
        let mask = causal_mask(1, n, 0, None, device)?;
        let hidden = self.model.forward(&t, &positions, &mask, None, &mut Dropout::Off)?;
        let logits = self.model.logits(&hidden.squeeze(0)?)?;
        Ok(logits.to_device(&Device::Cpu)?.to_vec2()?)
    }

    /// Mean loss per target token of `examples` (`None` for an empty list).
    pub fn loss(&self, examples: &[ChatExample], max_len: usize) -> Result<Option<Value>> {
        if examples.is_empty() {
            return Ok(None);
        }
        let items = encode_all(&self.tokenizer, examples, max_len)?;
        let (loss, n) = score_items(&self.model, &items, self.tokenizer.pad_id)?;
        Ok(Some(loss_evaluation(loss, n, items.len()).report))
    }
}

/// Quantizes the generator folder `config.base_model` (a fine-tuned run's, or a base model) into
/// `out_dir`: a merged Hugging Face folder (adapters folded in) with `model-<quant>.gguf` beside
/// it for llama.cpp and Ollama, and `finelab-model.json` naming the quantization, so that
/// Finelab's own generation from the folder computes with the same quantized weights. The
/// quantized model is then scored on `dataset`'s dev and test splits (loss per target token,
/// perplexity): a run with no epochs, its parent made smaller for the CPU.
pub fn quantize_gguf(
    dataset: &ChatDataset,
    config: &TrainConfig,
    out_dir: &Path,
    quant: gguf::GgufQuant,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    let src = config.base_model.clone().ok_or(Error::InvalidConfig {
        field: "base_model",
        message: "GGUF export needs the generator folder to quantize".into(),
    })?;
    if let Some(q) = GeneratorModel::quantization(&src) {
        return Err(Error::ModelFolder {
            path: src,
            message: format!("the model is quantized to {} already", q.as_str()),
        });
    }
    if out_dir.exists() && std::fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?.next().is_some() {
        return Err(Error::ModelFolder { path: out_dir.to_path_buf(), message: "the folder is not empty".into() });
    }
    let parent = GeneratorModel::load(&src)?;
    export::write_merged(out_dir, &parent.model, &parent.base, &src)?;
    let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "finelab".into());
    gguf::write_gguf(&parent.model, &parent.tokenizer, quant, &name, &out_dir.join(quant.file_name()))?;
    let max_len = config.max_len.min(parent.model.max_positions());
    drop(parent);
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        family: FAMILY.into(),
        arch: BaseModel::open(out_dir)?.arch,
        base_model: src,
        full_finetune: true,
        max_len,
        config: config.clone(),
        best_epoch: 0,
        device: "cpu".into(),
        quantization: Some(quant),
    };
    let path = out_dir.join(crate::family::MODEL_FILE);
    std::fs::write(&path, serde_json::to_string_pretty(&meta).expect("model metadata serializes"))
        .map_err(|e| Error::io(&path, e))?;
    let model = GeneratorModel::load(out_dir)?;
    let dev_is_train = dataset.dev.is_empty();
    let dev_examples = if dev_is_train { &dataset.train } else { &dataset.dev };
    let dev = model.loss(dev_examples, max_len)?.unwrap_or_else(|| json!({}));
    let test = model.loss(&dataset.test, max_len)?;
    Ok(TrainOutcome {
        best_epoch: 0,
        epochs: Vec::new(),
        dev,
        test,
        stopped: false,
        model_dir: out_dir.to_path_buf(),
        n_train: dataset.train.len(),
        train_seconds: started.elapsed().as_secs_f64(),
        dev_is_train,
        device: "cpu".into(),
        config: config.clone(),
    })
}
