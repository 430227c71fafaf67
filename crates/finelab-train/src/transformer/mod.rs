//! The `transformer` family: a pretrained BERT-family encoder (BERT and BERT-layout checkpoints,
//! RoBERTa / XLM-RoBERTa, DistilBERT) fine-tuned end to end with a classification or
//! token-classification head, on candle.
//!
//! - single-label: a sequence head and cross-entropy (optionally class-weighted);
//! - multi-label: the same head, one sigmoid per label, binary cross-entropy, and a decision
//!   threshold per label tuned on dev;
//! - spans: a token head over BIO tags (code-point spans are aligned to tokens, see
//!   [`tokenize`]), decoded with the constrained Viterbi pass of the `instant` tagger.
//!
//! Training follows Hugging Face's recipe: AdamW with decoupled weight decay (not on biases and
//! layer norms), a linear warm-up then linear decay, gradient clipping to a global norm, gradient
//! accumulation, dropout in training only. The loop of [`crate::train`] drives it as it drives
//! every family (progress events, stop, evaluation on dev each epoch, early stopping on dev
//! macro-F1, the best epoch kept); the same seed gives the same model (on the CPU).
//!
//! The model folder is a Hugging Face folder (`config.json` with `id2label`/`label2id` and the
//! architecture, `tokenizer.json`, `model.safetensors` with Hugging Face's tensor names) that
//! `transformers` loads unchanged, plus `finelab-model.json` for Finelab's own metadata.

pub mod bert;
pub mod distilbert;
pub mod distill;
mod fused;
pub mod int8;
pub mod model;
pub mod nn;
pub mod optim;
pub mod params;
pub mod prune;
pub mod quantize;
pub mod tiny;
pub mod tokenize;

pub use fused::cuda_kernels_enabled;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::model::{BaseModel, Batch, Model};
use self::nn::{log_softmax_last_dim, Dropout};
use self::optim::{clip_factor, linear_schedule, AdamW, AdamWConfig};
use self::params::{read_checkpoint, VarStore};
use self::tokenize::{spans_to_token_tags, EncodedText, TextEncoder};
use crate::config::TrainConfig;
use crate::data::{Dataset, Example, Target, Task};
use crate::decode::{self, argmax, bio_tags, decode_bio, multi_labels, Prediction, ScoredSpan};
pub use crate::device::{check_device, device_name, select_device};
use crate::error::{Error, Result};
use crate::family::{Evaluation, Family, Pass, Split};
use crate::metrics::Report;
use crate::progress::{Control, Steps};
use crate::rng::SplitMix64;

/// The family's name in configs and model folders.
pub const FAMILY: &str = crate::family::TRANSFORMER;
/// Finelab's metadata file inside a model folder (the same name as the `instant` family's).
pub const MODEL_FILE: &str = crate::family::MODEL_FILE;
const FORMAT: &str = "finelab-transformer";
const FORMAT_VERSION: u32 = 1;
/// Examples per forward pass when evaluating or predicting.
const EVAL_BATCH: usize = 32;

// ---------------------------------------------------------------------------------------------
// Encoding the dataset
// ---------------------------------------------------------------------------------------------

/// What the loss compares an example's logits with.
#[derive(Debug, Clone)]
enum Gold {
    Class(u32),
    Multi(Vec<f32>),
    /// One tag per token; `None` for special tokens.
    Tags(Vec<Option<usize>>),
    /// A teacher's distribution over the classes (distillation, single-label).
    Soft(Vec<f32>),
}

struct Item {
    text: EncodedText,
    gold: Gold,
}

fn n_outputs(task: Task, labels: &[String]) -> usize {
    match task {
        Task::Spans => 1 + 2 * labels.len(),
        _ => labels.len(),
    }
}

fn encode_item(encoder: &TextEncoder, labels: &[String], example: &Example) -> Result<Item> {
    let text = encoder.encode(&example.text)?;
    let index = |label: &str| labels.iter().position(|l| l == label).unwrap_or(0);
    let gold = match &example.target {
        Target::Single(label) => Gold::Class(index(label) as u32),
        Target::Multi(ls) => {
            let mut bits = vec![0.0f32; labels.len()];
            for l in ls {
                bits[index(l)] = 1.0;
            }
            Gold::Multi(bits)
        }
        Target::Spans(spans) => Gold::Tags(spans_to_token_tags(&text.offsets, spans, labels).0),
    };
    Ok(Item { text, gold })
}

/// Per-class weights `n / (k · n_c)` (scikit-learn's "balanced"), 1 for unseen classes.
fn balanced_weights(counts: &[usize]) -> Vec<f32> {
    let n: usize = counts.iter().sum();
    let k = counts.iter().filter(|c| **c > 0).count().max(1);
    counts.iter().map(|&c| if c == 0 { 1.0 } else { n as f32 / (k as f32 * c as f32) }).collect()
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

/// Mean loss of a batch: weighted cross-entropy (single, spans; ignored tokens weigh 0, as
/// PyTorch's `ignore_index`) or binary cross-entropy with logits (multi).
fn batch_loss(logits: &Tensor, items: &[&Item], class_weights: Option<&[f32]>) -> candle_core::Result<Tensor> {
    let device = logits.device();
    match &items[0].gold {
        Gold::Soft(_) => {
            let targets: Vec<Vec<f32>> = items
                .iter()
                .map(|it| match &it.gold {
                    Gold::Soft(p) => p.clone(),
                    _ => Vec::new(),
                })
                .collect();
            distill::soft_cross_entropy(logits, &targets)
        }
        Gold::Multi(_) => {
            let targets: Vec<f32> = items
                .iter()
                .flat_map(|it| match &it.gold {
                    Gold::Multi(b) => b.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let y = Tensor::from_vec(targets, logits.shape(), device)?;
            // max(z, 0) - z·y + log(1 + exp(-|z|)), the stable form of BCE with logits.
            let loss = ((logits.relu()? - (logits * &y)?)? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            loss.mean_all()
        }
        _ => {
            let n_classes = logits.dim(D::Minus1)?;
            let (mut targets, mut weights) = (Vec::new(), Vec::new());
            let seq = if logits.rank() == 3 { logits.dim(1)? } else { 1 };
            for it in items {
                match &it.gold {
                    Gold::Class(c) => {
                        targets.push(*c);
                        weights.push(class_weights.map_or(1.0, |w| w[*c as usize]));
                    }
                    Gold::Tags(tags) => {
                        for p in 0..seq {
                            match tags.get(p).copied().flatten() {
                                Some(t) => {
                                    targets.push(t as u32);
                                    weights.push(class_weights.map_or(1.0, |w| w[t]));
                                }
                                None => {
                                    targets.push(0);
                                    weights.push(0.0);
                                }
                            }
                        }
                    }
                    Gold::Multi(_) | Gold::Soft(_) => unreachable!("one kind of gold per dataset"),
                }
            }
            let total: f32 = weights.iter().sum();
            let n = targets.len();
            let logp = log_softmax_last_dim(&logits.reshape((n, n_classes))?)?;
            let targets = Tensor::from_vec(targets, (n, 1), device)?;
            let weights = Tensor::from_vec(weights, n, device)?;
            let picked = logp.gather(&targets, 1)?.squeeze(1)?;
            (picked * weights)?.sum_all()?.neg()? / total.max(1e-12) as f64
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inference shared by evaluation and prediction
// ---------------------------------------------------------------------------------------------

/// Probabilities for each text: one row (single: softmax, multi: sigmoids) or one row per token
/// (spans: softmax over tags, special tokens included). Texts are batched by length.
fn probabilities(
    model: &Model,
    texts: &[&EncodedText],
    task: Task,
    base: &BaseModel,
    specials: tokenize::Specials,
    device: &Device,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].ids.len());
    let mut out: Vec<Vec<Vec<f32>>> = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(EVAL_BATCH) {
        let batch_texts: Vec<&EncodedText> = chunk.iter().map(|&i| texts[i]).collect();
        let batch = Batch::new(&batch_texts, specials, base.position_offset(), device)?;
        let logits = model.logits(&batch, &mut Dropout::Off)?;
        let probs = match task {
            Task::Multi => candle_nn_sigmoid(&logits)?,
            _ => nn::softmax_last_dim(&logits)?,
        };
        let probs = probs.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
        match task {
            Task::Spans => {
                let rows: Vec<Vec<Vec<f32>>> = probs.to_vec3()?;
                for ((&i, row), len) in chunk.iter().zip(rows).zip(&batch.lens) {
                    out[i] = row.into_iter().take(*len).collect();
                }
            }
            _ => {
                let rows: Vec<Vec<f32>> = probs.to_vec2()?;
                for (&i, row) in chunk.iter().zip(rows) {
                    out[i] = vec![row];
                }
            }
        }
    }
    Ok(out)
}

fn candle_nn_sigmoid(x: &Tensor) -> candle_core::Result<Tensor> {
    (x.neg()?.exp()? + 1.0)?.recip()
}

/// Spans from per-token tag probabilities: the Viterbi pass over the text's tokens (special
/// tokens left out), then token indices back to code points.
fn decode_spans(text: &EncodedText, probs: &[Vec<f32>], labels: &[String]) -> Vec<ScoredSpan> {
    let (offsets, rows): (Vec<(usize, usize)>, Vec<Vec<f32>>) =
        text.offsets.iter().zip(probs).filter_map(|(o, p)| o.map(|o| (o, p.clone()))).unzip();
    decode_bio(&rows, labels)
        .into_iter()
        .map(|s| ScoredSpan { start: offsets[s.start].0, end: offsets[s.end - 1].1, label: s.label, score: s.score })
        .collect()
}

/// The answer for one text from its probabilities.
fn to_prediction(
    task: Task,
    labels: &[String],
    thresholds: &[f32],
    text: &EncodedText,
    probs: &[Vec<f32>],
) -> Prediction {
    match task {
        Task::Single => Prediction::Single {
            label: labels[argmax(&probs[0])].clone(),
            scores: labels.iter().cloned().zip(probs[0].iter().copied()).collect(),
        },
        Task::Multi => Prediction::Multi {
            labels: multi_labels(&probs[0], thresholds, labels),
            scores: labels.iter().cloned().zip(probs[0].iter().copied()).collect(),
        },
        Task::Spans => Prediction::Spans { spans: decode_spans(text, probs, labels) },
    }
}

/// Report on `examples` (with their encodings); for multi-label with `tune`, thresholds are
/// tuned on them first.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    model: &Model,
    base: &BaseModel,
    encoder: &TextEncoder,
    task: Task,
    labels: &[String],
    examples: &[Example],
    items: &[Item],
    tune: bool,
    thresholds: &[f32],
    device: &Device,
) -> Result<(Report, Vec<f32>)> {
    let texts: Vec<&EncodedText> = items.iter().map(|it| &it.text).collect();
    let probs = probabilities(model, &texts, task, base, encoder.specials(), device)?;
    decode::evaluate(task, labels, examples, probs, |i, p| decode_spans(&items[i].text, p, labels), tune, thresholds)
}

// ---------------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------------

/// Everything needed to train from a base-model folder, loaded and checked.
struct Loaded {
    base: BaseModel,
    encoder: TextEncoder,
    store: VarStore,
    model: Model,
}

/// Opens a base (or fine-tuned) model folder, builds the encoder and a head for `task` into a
/// fresh [`VarStore`], and loads the checkpoint into it. With `fresh_head`, the head keeps its
/// seeded initial values (a new task); without, every weight must come from the checkpoint.
fn load_folder(
    dir: &Path,
    task: Task,
    n_out: usize,
    max_len: usize,
    device: &Device,
    seed: u64,
    fresh_head: bool,
) -> Result<Loaded> {
    let base = BaseModel::open(dir)?;
    let max_len = max_len.min(base.max_positions()).max(3);
    let encoder = TextEncoder::load(dir, max_len)?;
    if encoder.vocab_size() > base.config.vocab_size {
        return Err(Error::ModelFolder {
            path: encoder.source.clone(),
            message: format!(
                "the tokenizer has {} tokens but config.json says the model has {} (vocab_size): they do not belong to the same model",
                encoder.vocab_size(),
                base.config.vocab_size
            ),
        });
    }
    let (checkpoint, checkpoint_path) = read_checkpoint(dir)?;
    let mut store = VarStore::new(device, seed);
    let model = Model::build(&mut store, &base, task, n_out).map_err(|e| Error::ModelFolder {
        path: dir.join("config.json"),
        message: format!("cannot build the model: {e}"),
    })?;
    let fresh: &[&str] = if fresh_head { Model::fresh_prefixes() } else { &[] };
    let missing = store.load(&checkpoint, &checkpoint_path, base.family.prefix(), fresh)?;
    // A base encoder without a pooler is common (HF then initializes one); anything else missing
    // means the checkpoint is not the architecture config.json describes.
    let missing: Vec<&String> = missing.iter().filter(|n| !(fresh_head && n.contains(".pooler."))).collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(|s| s.as_str()).collect();
        return Err(Error::ModelFolder {
            path: checkpoint_path,
            message: format!(
                "{} weight(s) that config.json's {:?} architecture needs are missing, e.g. {}",
                missing.len(),
                base.model_type,
                shown.join(", ")
            ),
        });
    }
    Ok(Loaded { base, encoder, store, model })
}

/// The transformer family as the training loop drives it (see [`Family`]): the loaded encoder
/// with its task head, the encoded splits, AdamW and the schedule, the shuffling and dropout
/// generators, all carried over from epoch to epoch.
pub(crate) struct Trainer<'a> {
    dataset: &'a Dataset,
    config: &'a TrainConfig,
    base_dir: &'a Path,
    device: Device,
    base: BaseModel,
    encoder: TextEncoder,
    store: VarStore,
    /// The model that trains (dropout on).
    model: Model,
    /// The same variables, for evaluation (dropout off).
    eval_model: Model,
    train_set: Vec<Item>,
    /// The dev split encoded; empty when the train split stands in for an empty dev split.
    dev_set: Vec<Item>,
    class_weights: Option<Vec<f32>>,
    optimizer: AdamW,
    steps_per_epoch: usize,
    total_steps: usize,
    warmup_steps: usize,
    /// Optimizer steps taken so far, for the learning-rate schedule.
    step: usize,
    rng: SplitMix64,
    dropout_rng: SplitMix64,
    order: Vec<usize>,
    /// The thresholds tuning starts from (one per label for multi-label, none otherwise).
    default_thresholds: Vec<f32>,
    /// The thresholds last tuned on dev, used with the current weights.
    thresholds: Vec<f32>,
    best: Option<(Vec<Tensor>, Vec<f32>)>,
}

impl<'a> Trainer<'a> {
    /// Loads the base model of `config` with a fresh head for `dataset`'s task on the device
    /// asked for, and encodes the train and dev splits. With `soft`, the train examples it holds
    /// learn the teacher's probabilities instead of their labels (see [`distill`]).
    pub(crate) fn new(
        dataset: &'a Dataset,
        config: &'a TrainConfig,
        soft: Option<&distill::SoftTargets>,
    ) -> Result<Trainer<'a>> {
        let base_dir = config.base_model.as_deref().ok_or(Error::InvalidConfig {
            field: "base_model",
            message: "the transformer family needs a base model folder".into(),
        })?;
        let device = select_device(&config.device)?;
        if !device.is_cpu() {
            // Dropout masks on a GPU come from the device's generator (see `nn::Dropout`).
            device.set_seed(config.seed)?;
        }
        let task = dataset.task;
        let labels = &dataset.labels;
        let n_out = n_outputs(task, labels);
        let Loaded { base, encoder, store, model } =
            load_folder(base_dir, task, n_out, config.max_len, &device, config.seed, true)?;

        let encode_all = |examples: &[Example]| -> Result<Vec<Item>> {
            examples.iter().map(|e| encode_item(&encoder, labels, e)).collect()
        };
        let mut train_set = encode_all(&dataset.train)?;
        if let Some(soft) = soft {
            for (item, example) in train_set.iter_mut().zip(&dataset.train) {
                let Some(p) = soft.get(&example.id) else { continue };
                item.gold = match task {
                    Task::Single => Gold::Soft(p.clone()),
                    Task::Multi => Gold::Multi(p.clone()),
                    Task::Spans => {
                        return Err(Error::InvalidConfig {
                            field: "family",
                            message: "a tagger is not distilled from soft predictions".into(),
                        })
                    }
                };
            }
        }
        let dev_set = encode_all(&dataset.dev)?;

        let class_weights: Option<Vec<f32>> = match (config.class_weights, task) {
            (true, Task::Single) | (true, Task::Spans) => {
                let mut counts = vec![0usize; n_out];
                for it in &train_set {
                    match &it.gold {
                        Gold::Class(c) => counts[*c as usize] += 1,
                        Gold::Tags(tags) => tags.iter().flatten().for_each(|t| counts[*t] += 1),
                        Gold::Multi(_) | Gold::Soft(_) => {}
                    }
                }
                Some(balanced_weights(&counts))
            }
            _ => None,
        };

        let vars = store.params().iter().map(|p| (p.var.clone(), p.decay)).collect();
        let optimizer = AdamW::new(
            vars,
            AdamWConfig { lr: config.lr, weight_decay: config.weight_decay, ..AdamWConfig::default() },
        )?;
        let micro_per_epoch = train_set.len().div_ceil(config.batch_size);
        let steps_per_epoch = micro_per_epoch.div_ceil(config.grad_accum);
        let total_steps = steps_per_epoch * config.epochs;
        let warmup_steps = (total_steps as f64 * config.warmup_ratio).ceil() as usize;
        let rng = SplitMix64::new(config.seed);
        let dropout_rng = SplitMix64::new(config.seed.wrapping_add(0xD20F));
        let order: Vec<usize> = (0..train_set.len()).collect();
        let eval_model = Model::build(&mut store.detached(), &base, task, n_out)?;
        let default_thresholds = vec![0.5f32; if task == Task::Multi { n_out } else { 0 }];
        Ok(Trainer {
            dataset,
            config,
            base_dir,
            device,
            base,
            encoder,
            store,
            model,
            eval_model,
            train_set,
            dev_set,
            class_weights,
            optimizer,
            steps_per_epoch,
            total_steps,
            warmup_steps,
            step: 0,
            rng,
            dropout_rng,
            order,
            thresholds: default_thresholds.clone(),
            default_thresholds,
            best: None,
        })
    }

    /// The examples [`Split::Dev`] stands for, with their encodings.
    fn dev(&self) -> (&[Example], &[Item]) {
        if self.dataset.dev.is_empty() {
            (&self.dataset.train, &self.train_set)
        } else {
            (&self.dataset.dev, &self.dev_set)
        }
    }

    /// Scores the evaluation model on `examples`; see [`evaluate`].
    fn score(
        &self,
        examples: &[Example],
        items: &[Item],
        tune: bool,
        thresholds: &[f32],
    ) -> Result<(Report, Vec<f32>)> {
        let (task, labels) = (self.dataset.task, &self.dataset.labels);
        evaluate(
            &self.eval_model,
            &self.base,
            &self.encoder,
            task,
            labels,
            examples,
            items,
            tune,
            thresholds,
            &self.device,
        )
    }
}

impl Family for Trainer<'_> {
    fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn run_epoch(&mut self, steps: &mut Steps<'_>) -> Result<Pass> {
        let Trainer {
            config,
            base,
            encoder,
            store,
            model,
            train_set,
            class_weights,
            optimizer,
            total_steps,
            warmup_steps,
            step,
            rng,
            dropout_rng,
            order,
            device,
            ..
        } = self;
        rng.shuffle(order);
        let (mut loss_sum, mut loss_batches) = (0.0f64, 0usize);
        let micro_batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        for group in micro_batches.chunks(config.grad_accum) {
            let mut accumulated: Vec<Option<Tensor>> = vec![None; store.params().len()];
            let mut n_examples = 0usize;
            for micro in group {
                let items: Vec<&Item> = micro.iter().map(|&i| &train_set[i]).collect();
                let texts: Vec<&EncodedText> = items.iter().map(|it| &it.text).collect();
                let batch = Batch::new(&texts, encoder.specials(), base.position_offset(), device)?;
                let logits = model.logits(&batch, &mut Dropout::Train(&mut *dropout_rng))?;
                let loss = batch_loss(&logits, &items, class_weights.as_deref())?;
                loss_sum += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                loss_batches += 1;
                let scaled = (loss / group.len() as f64)?;
                let mut grads = scaled.backward()?;
                for (acc, p) in accumulated.iter_mut().zip(store.params()) {
                    if let Some(g) = grads.remove(p.var.as_tensor()) {
                        *acc = Some(match acc.take() {
                            Some(a) => (a + g)?,
                            None => g,
                        });
                    }
                }
                n_examples += micro.len();
            }
            let (factor, _norm) = clip_factor(&accumulated, config.max_grad_norm)?;
            let lr = config.lr * linear_schedule(*step, *warmup_steps, *total_steps);
            optimizer.step(&accumulated, lr, factor)?;
            *step += 1;
            // A step costs far more than an event, and the caller may ask to stop after any
            // step: every step sends one.
            let loss = loss_sum / loss_batches.max(1) as f64;
            if steps.took_step(n_examples, loss, true) == Control::Stop {
                return Ok(Pass::Stopped);
            }
        }
        Ok(Pass::Finished { train_loss: loss_sum / loss_batches.max(1) as f64 })
    }

    fn tune_on_dev(&mut self) -> Result<Evaluation> {
        let (examples, items) = self.dev();
        let (report, thresholds) = self.score(examples, items, true, &self.default_thresholds)?;
        self.thresholds = thresholds;
        Ok(Evaluation::of(&report))
    }

    fn keep_best(&mut self) -> Result<()> {
        self.best = Some((self.store.snapshot()?, self.thresholds.clone()));
        Ok(())
    }

    fn restore_best(&mut self) -> Result<()> {
        // The loop restores once, at the end: the snapshot can be moved back rather than copied.
        if let Some((weights, thresholds)) = self.best.take() {
            self.store.restore(&weights)?;
            self.thresholds = thresholds;
        }
        Ok(())
    }

    fn evaluate(&mut self, split: Split) -> Result<Evaluation> {
        let (report, _) = match split {
            Split::Dev => {
                let (examples, items) = self.dev();
                self.score(examples, items, false, &self.thresholds)?
            }
            Split::Test => {
                let items: Vec<Item> = self
                    .dataset
                    .test
                    .iter()
                    .map(|e| encode_item(&self.encoder, &self.dataset.labels, e))
                    .collect::<Result<_>>()?;
                self.score(&self.dataset.test, &items, false, &self.thresholds)?
            }
        };
        Ok(Evaluation::of(&report))
    }

    fn save(&mut self, dir: &Path, best_epoch: usize) -> Result<()> {
        let (task, labels) = (self.dataset.task, &self.dataset.labels);
        let meta = ModelMeta {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            family: FAMILY.into(),
            task,
            labels: labels.clone(),
            outputs: match task {
                Task::Spans => bio_tags(labels),
                _ => labels.clone(),
            },
            thresholds: self.thresholds.clone(),
            max_len: self.encoder.max_len,
            base_model: self.base_dir.to_path_buf(),
            architecture: self.base.architecture(task),
            config: self.config.clone(),
            best_epoch,
            device: device_name(&self.device),
            quantization: None,
        };
        export(dir, &meta, &self.base, &self.encoder, &self.store)
    }

    fn device(&self) -> String {
        device_name(&self.device)
    }
}

// ---------------------------------------------------------------------------------------------
// The model folder
// ---------------------------------------------------------------------------------------------

/// Contents of `finelab-model.json` in a transformer model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    format: String,
    format_version: u32,
    family: String,
    task: Task,
    labels: Vec<String>,
    /// Output columns: the labels, or the BIO tags for spans (the order of `id2label`).
    outputs: Vec<String>,
    /// Per-label decision thresholds (multi-label only).
    thresholds: Vec<f32>,
    /// Longest input in tokens, special tokens included.
    max_len: usize,
    /// The folder it was fine-tuned from.
    base_model: PathBuf,
    /// The `transformers` class (`BertForSequenceClassification`...).
    architecture: String,
    config: TrainConfig,
    best_epoch: usize,
    device: String,
    /// `int8` when the encoder's dense weights are stored and run as int8 (see `quantize.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quantization: Option<String>,
}

/// Files of the base folder copied as they are, so that `transformers` finds the tokenizer's
/// settings (slow tokenizers read vocab.txt or the sentencepiece model).
const TOKENIZER_SIDE_FILES: &[&str] = &[
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "vocab.json",
    "merges.txt",
];

/// Writes the Hugging Face folder and `finelab-model.json` (last, so a folder with it is whole).
fn export(dir: &Path, meta: &ModelMeta, base: &BaseModel, encoder: &TextEncoder, store: &VarStore) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut config = base.raw_config.clone();
    let id2label: BTreeMap<String, String> =
        meta.outputs.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone())).collect();
    let label2id: BTreeMap<String, usize> = meta.outputs.iter().enumerate().map(|(i, l)| (l.clone(), i)).collect();
    let obj = config.as_object_mut().expect("config.json is an object");
    obj.insert("architectures".into(), json!([meta.architecture]));
    obj.insert("id2label".into(), json!(id2label));
    obj.insert("label2id".into(), json!(label2id));
    obj.remove("_name_or_path");
    match meta.task {
        Task::Single => obj.insert("problem_type".into(), json!("single_label_classification")),
        Task::Multi => obj.insert("problem_type".into(), json!("multi_label_classification")),
        Task::Spans => obj.remove("problem_type"),
    };
    write_file(&dir.join("config.json"), serde_json::to_string_pretty(&config).expect("json").as_bytes())?;
    encoder.save(dir)?;
    for name in TOKENIZER_SIDE_FILES {
        let from = base.dir.join(name);
        if from.is_file() && from != dir.join(name) {
            std::fs::copy(&from, dir.join(name)).map_err(|e| Error::io(dir.join(name), e))?;
        }
    }
    let tensors: HashMap<String, Tensor> = store
        .params()
        .iter()
        .map(|p| Ok((p.name.clone(), p.var.as_tensor().to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<candle_core::Result<_>>()?;
    let weights = dir.join("model.safetensors");
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    let views: Vec<(String, Tensor)> = {
        let mut v: Vec<_> = tensors.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    save_safetensors(&weights, &views, metadata)?;
    let text = serde_json::to_string_pretty(meta).expect("model metadata serializes");
    write_file(&dir.join(MODEL_FILE), text.as_bytes())
}

/// Makes a Hugging Face folder fine-tuned elsewhere (by `transformers`' Trainer, from a job
/// Finelab exported) a Finelab model folder: checks that its architecture is the one Finelab
/// would have trained for `task` and that `config.json`'s `id2label` names the outputs in
/// Finelab's order (the labels, or O, B-x, I-x... for spans), then writes `finelab-model.json`
/// with `config` (the job's recipe) and `best_epoch`. Multi-label folders are refused: their
/// per-label thresholds are tuned by Finelab's own training.
pub fn adopt_folder(dir: &Path, task: Task, labels: &[String], config: &TrainConfig, best_epoch: usize) -> Result<()> {
    let bad = |message: String| Error::ModelFolder { path: dir.to_path_buf(), message };
    if task == Task::Multi {
        return Err(bad(
            "a multi-label model trained elsewhere cannot be imported (its thresholds are tuned by Finelab's training)"
                .into(),
        ));
    }
    let base = BaseModel::open(dir)?;
    let expected = base.architecture(task);
    let found: Vec<&str> =
        base.raw_config["architectures"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if found != [expected.as_str()] {
        return Err(bad(format!("config.json names the architecture {found:?}; a {task:?} model is a {expected}")));
    }
    let outputs = match task {
        Task::Spans => bio_tags(labels),
        _ => labels.to_vec(),
    };
    let id2label = &base.raw_config["id2label"];
    for (i, name) in outputs.iter().enumerate() {
        let given = id2label[i.to_string()].as_str();
        if given != Some(name.as_str()) {
            return Err(bad(format!(
                "config.json's id2label gives output {i} as {given:?}, where the project's labels make it {name:?}"
            )));
        }
    }
    if id2label.as_object().map_or(0, |m| m.len()) != outputs.len() {
        return Err(bad(format!(
            "config.json's id2label has {} outputs, not {}",
            id2label.as_object().map_or(0, |m| m.len()),
            outputs.len()
        )));
    }
    let meta = ModelMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        family: FAMILY.into(),
        task,
        labels: labels.to_vec(),
        outputs,
        thresholds: Vec::new(),
        max_len: config.max_len.min(base.max_positions()).max(3),
        base_model: config.base_model.clone().unwrap_or_default(),
        architecture: expected,
        config: config.clone(),
        best_epoch,
        device: "elsewhere".into(),
        quantization: None,
    };
    let text = serde_json::to_string_pretty(&meta).expect("model metadata serializes");
    write_file(&dir.join(MODEL_FILE), text.as_bytes())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes f32 tensors as a safetensors file with `{"format": "pt"}` metadata, which
/// `transformers` expects of a PyTorch checkpoint.
pub fn save_safetensors(path: &Path, tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Result<()> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(name, t)| {
            let values: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((name.clone(), bytes, t.dims().to_vec()))
        })
        .collect::<candle_core::Result<_>>()?;
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = data
        .iter()
        .map(|(name, bytes, shape)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map_err(|e| Error::Tokenizer(format!("safetensors: {e}")))?;
            Ok((name.clone(), view))
        })
        .collect::<Result<_>>()?;
    safetensors::tensor::serialize_to_file(views, Some(metadata), path)
        .map_err(|e| Error::CorruptModel { path: path.to_path_buf(), message: format!("cannot write it: {e}") })
}

/// A fine-tuned transformer, ready to predict.
#[derive(Clone)]
pub struct TransformerPredictor {
    meta: ModelMeta,
    base: BaseModel,
    encoder: TextEncoder,
    model: Model,
    device: Device,
    dir: PathBuf,
}

impl std::fmt::Debug for TransformerPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerPredictor").field("dir", &self.dir).field("meta", &self.meta).finish()
    }
}

impl TransformerPredictor {
    /// Loads a folder written by training, on the best device this build has (see
    /// [`select_device`]).
    pub fn load(dir: &Path) -> Result<TransformerPredictor> {
        Self::load_on(dir, "auto")
    }

    /// Loads a folder written by training on the device `requested`.
    pub fn load_on(dir: &Path, requested: &str) -> Result<TransformerPredictor> {
        let meta_path = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let corrupt = |message: String| Error::CorruptModel { path: meta_path.clone(), message };
        let meta: ModelMeta = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if meta.format != FORMAT || meta.format_version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format {} v{} is not {FORMAT} v{FORMAT_VERSION}",
                meta.format, meta.format_version
            )));
        }
        if meta.labels.is_empty() || meta.outputs.len() != n_outputs(meta.task, &meta.labels) {
            return Err(corrupt("labels and outputs disagree".into()));
        }
        if meta.task == Task::Multi && meta.thresholds.len() != meta.labels.len() {
            return Err(corrupt("one threshold per label is needed".into()));
        }
        let device = select_device(requested)?;
        let Loaded { base, encoder, store, .. } =
            load_folder(dir, meta.task, meta.outputs.len(), meta.max_len, &device, 0, false)?;
        let mut model = Model::build(&mut store.detached(), &base, meta.task, meta.outputs.len())?;
        match meta.quantization.as_deref() {
            None => {}
            // On a GPU the dequantized weights run in f32 (8-bit values, full-width arithmetic).
            Some(quantize::INT8) if !device.is_cpu() => {}
            Some(quantize::INT8) => model.quantize_int8(int8::Kernel::best())?,
            Some(other) => return Err(corrupt(format!("quantization {other:?} is not one this build runs"))),
        }
        Ok(TransformerPredictor { meta, base, encoder, model, device, dir: dir.to_path_buf() })
    }

    /// The task.
    pub fn task(&self) -> Task {
        self.meta.task
    }

    /// The labels (entity types for spans).
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The training configuration stored with the model.
    pub fn config(&self) -> &TrainConfig {
        &self.meta.config
    }

    /// The folder it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `finelab-model.json`, for display.
    pub fn describe(&self) -> Value {
        serde_json::to_value(&self.meta).expect("model metadata serializes")
    }

    /// Predicts several texts at once (batched by length).
    pub fn predict_batch(&self, texts: &[&str]) -> Result<Vec<Prediction>> {
        let encoded: Vec<EncodedText> = texts.iter().map(|t| self.encoder.encode(t)).collect::<Result<_>>()?;
        let refs: Vec<&EncodedText> = encoded.iter().collect();
        let probs =
            probabilities(&self.model, &refs, self.meta.task, &self.base, self.encoder.specials(), &self.device)?;
        Ok(encoded
            .iter()
            .zip(&probs)
            .map(|(e, p)| to_prediction(self.meta.task, &self.meta.labels, &self.meta.thresholds, e, p))
            .collect())
    }

    /// Raw logits of one text (for checks against `transformers`).
    pub fn logits(&self, text: &str) -> Result<Vec<Vec<f32>>> {
        let encoded = self.encoder.encode(text)?;
        let batch = Batch::new(&[&encoded], self.encoder.specials(), self.base.position_offset(), &self.device)?;
        let logits = self.model.logits(&batch, &mut Dropout::Off)?.to_device(&Device::Cpu)?;
        Ok(match self.meta.task {
            Task::Spans => logits.squeeze(0)?.to_vec2()?,
            _ => logits.to_vec2()?,
        })
    }

    /// Token ids the model sees for `text` (special tokens included).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.encoder.encode(text)?.ids)
    }
}
