//! The `instant` model family: hashed character n-grams (plus words for Latin script) feeding a
//! linear classifier, trained with sparse AdaGrad in seconds on a CPU, without pretrained weights.
//!
//! - single-label: softmax over the labels, cross-entropy;
//! - multi-label: one sigmoid per label, with a decision threshold per label tuned on dev;
//! - spans: a per-code-point BIO tagger over features of a ±2 character window, decoded with a
//!   constrained Viterbi pass into code-point spans.
//!
//! A model folder holds `finelab-model.json` (everything needed to rebuild the features and read
//! the weights) and `weights.bin` (little-endian f32, `rows × cols`, the last row being the bias).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::TrainConfig;
use crate::data::{Dataset, Example, Target, Task};
use crate::decode::{self, argmax, bio_tags, decode_bio, multi_labels};
pub use crate::decode::{Prediction, ScoredSpan};
use crate::error::{Error, Result};
use crate::family::{Evaluation, Family, Pass, Split, INSTANT};
use crate::metrics::{Report, Span};
use crate::progress::{Control, Steps};
use crate::rng::SplitMix64;

mod features;
pub use features::Featurizer;
use features::{Features, FEATURE_SCHEME};

pub use crate::family::MODEL_FILE;
/// Name of the weights file inside a model folder.
pub const WEIGHTS_FILE: &str = "weights.bin";
const FORMAT: &str = "finelab-instant";
const FORMAT_VERSION: u32 = 1;

// ---------------------------------------------------------------------------------------------
// The linear model and its optimizer
// ---------------------------------------------------------------------------------------------

/// What one training unit asks the output layer to produce.
#[derive(Debug, Clone)]
enum Goal {
    /// Softmax class (single-label, or a BIO tag).
    Class(usize),
    /// Independent sigmoids, one bool per label.
    Multi(Vec<bool>),
}

/// `rows × cols` weights (feature-major so that one feature's outputs sit together) and a bias.
#[derive(Debug, Clone, PartialEq)]
struct Linear {
    cols: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl Linear {
    fn zeros(rows: usize, cols: usize) -> Self {
        Linear { cols, weights: vec![0.0; rows * cols], bias: vec![0.0; cols] }
    }

    fn logits(&self, x: &Features, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for &(f, v) in x {
            let row = &self.weights[f as usize * self.cols..(f as usize + 1) * self.cols];
            for (o, w) in out.iter_mut().zip(row) {
                *o += v * w;
            }
        }
    }
}

fn softmax_in_place(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Turns logits into probabilities for the given head.
fn activate(multi: bool, z: &mut [f32]) {
    if multi {
        for v in z.iter_mut() {
            *v = sigmoid(*v);
        }
    } else {
        softmax_in_place(z);
    }
}

/// Sparse AdaGrad: gradients accumulate in a dense buffer, but only the rows a batch touched
/// are read, updated and cleared, so a step costs what the batch's features cost.
struct AdaGrad {
    lr: f32,
    l2: f32,
    sq_weights: Vec<f32>,
    sq_bias: Vec<f32>,
    grad: Vec<f32>,
    grad_bias: Vec<f32>,
    touched: Vec<bool>,
    touched_rows: Vec<u32>,
}

const ADAGRAD_EPS: f32 = 1e-8;
/// AdaGrad's accumulators start here rather than at 0, which tames the very first steps.
const ADAGRAD_INIT: f32 = 0.01;

impl AdaGrad {
    fn new(model: &Linear, lr: f64, l2: f64) -> Self {
        let rows = model.weights.len() / model.cols;
        AdaGrad {
            lr: lr as f32,
            l2: l2 as f32,
            sq_weights: vec![ADAGRAD_INIT; model.weights.len()],
            sq_bias: vec![ADAGRAD_INIT; model.cols],
            grad: vec![0.0; model.weights.len()],
            grad_bias: vec![0.0; model.cols],
            touched: vec![false; rows],
            touched_rows: Vec::new(),
        }
    }

    /// Adds one unit's gradient (`delta` = d loss / d logits) scaled by `scale`.
    fn accumulate(&mut self, x: &Features, delta: &[f32], scale: f32) {
        let cols = delta.len();
        for (g, d) in self.grad_bias.iter_mut().zip(delta) {
            *g += d * scale;
        }
        for &(f, v) in x {
            if !self.touched[f as usize] {
                self.touched[f as usize] = true;
                self.touched_rows.push(f);
            }
            let row = &mut self.grad[f as usize * cols..(f as usize + 1) * cols];
            for (g, d) in row.iter_mut().zip(delta) {
                *g += v * d * scale;
            }
        }
    }

    fn step(&mut self, model: &mut Linear) {
        let cols = model.cols;
        let (lr, l2) = (self.lr, self.l2);
        let update = |w: &mut f32, g: &mut f32, sq: &mut f32| {
            let gradient = *g + l2 * *w;
            *sq += gradient * gradient;
            *w -= lr * gradient / (sq.sqrt() + ADAGRAD_EPS);
            *g = 0.0;
        };
        for &f in &self.touched_rows {
            let range = f as usize * cols..(f as usize + 1) * cols;
            for ((w, g), sq) in model.weights[range.clone()]
                .iter_mut()
                .zip(&mut self.grad[range.clone()])
                .zip(&mut self.sq_weights[range])
            {
                update(w, g, sq);
            }
            self.touched[f as usize] = false;
        }
        self.touched_rows.clear();
        for ((w, g), sq) in model.bias.iter_mut().zip(&mut self.grad_bias).zip(&mut self.sq_bias) {
            // The bias is not penalized.
            *sq += *g * *g;
            *w -= lr * *g / (sq.sqrt() + ADAGRAD_EPS);
            *g = 0.0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Task-specific encoding and decoding
// ---------------------------------------------------------------------------------------------

/// Gold spans to one BIO tag index per code point. Overlapping spans cannot be expressed in
/// BIO: the one starting first (then the longest) wins, the others are left out of training.
fn spans_to_tags(n_chars: usize, spans: &[Span], labels: &[String]) -> Vec<usize> {
    let mut tags = vec![0usize; n_chars];
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    for span in sorted {
        let Some(k) = labels.iter().position(|l| *l == span.label) else { continue };
        if span.end > n_chars || tags[span.start..span.end].iter().any(|t| *t != 0) {
            continue;
        }
        tags[span.start] = 1 + 2 * k;
        for t in &mut tags[span.start + 1..span.end] {
            *t = 2 + 2 * k;
        }
    }
    tags
}

// ---------------------------------------------------------------------------------------------
// Training
// ---------------------------------------------------------------------------------------------

/// An example encoded for the model: its units (one for classification, one per code point for
/// the tagger).
struct Encoded {
    units: Vec<(Features, Goal)>,
}

/// The pieces of a model that change during training and are kept for the best epoch.
#[derive(Clone)]
struct Snapshot {
    linear: Linear,
    thresholds: Vec<f32>,
}

struct Head<'a> {
    task: Task,
    labels: &'a [String],
    featurizer: Featurizer,
}

impl Head<'_> {
    fn multi(&self) -> bool {
        self.task == Task::Multi
    }

    fn n_outputs(&self) -> usize {
        match self.task {
            Task::Spans => 1 + 2 * self.labels.len(),
            _ => self.labels.len(),
        }
    }

    fn label_index(&self, label: &str) -> usize {
        // Dataset::validate guarantees every label is declared.
        self.labels.iter().position(|l| l == label).unwrap_or(0)
    }

    fn encode(&self, example: &Example) -> Encoded {
        let units = match &example.target {
            Target::Single(label) => {
                vec![(self.featurizer.document(&example.text), Goal::Class(self.label_index(label)))]
            }
            Target::Multi(labels) => {
                let mut goal = vec![false; self.labels.len()];
                for label in labels {
                    goal[self.label_index(label)] = true;
                }
                vec![(self.featurizer.document(&example.text), Goal::Multi(goal))]
            }
            Target::Spans(spans) => {
                let features = self.featurizer.tokens(&example.text);
                let tags = spans_to_tags(features.len(), spans, self.labels);
                features.into_iter().zip(tags).map(|(f, t)| (f, Goal::Class(t))).collect()
            }
        };
        Encoded { units }
    }

    /// Probabilities for every unit of an encoded example.
    fn probabilities(&self, linear: &Linear, encoded: &Encoded) -> Vec<Vec<f32>> {
        encoded
            .units
            .iter()
            .map(|(x, _)| {
                let mut z = vec![0.0; linear.cols];
                linear.logits(x, &mut z);
                activate(self.multi(), &mut z);
                z
            })
            .collect()
    }

    /// Dev (or test) evaluation: the report and, for multi-label, the thresholds tuned on it.
    fn evaluate(
        &self,
        linear: &Linear,
        examples: &[Example],
        encoded: &[Encoded],
        tune: bool,
        thresholds: &[f32],
    ) -> Result<(Report, Vec<f32>)> {
        let probs: Vec<Vec<Vec<f32>>> = encoded.iter().map(|e| self.probabilities(linear, e)).collect();
        decode::evaluate(self.task, self.labels, examples, probs, |_, p| decode_bio(p, self.labels), tune, thresholds)
    }
}

/// Loss of one unit and its gradient with respect to the logits (written into `delta`).
fn loss_and_delta(multi: bool, probs: &[f32], goal: &Goal, delta: &mut [f32]) -> f64 {
    delta.copy_from_slice(probs);
    match goal {
        Goal::Class(y) => {
            delta[*y] -= 1.0;
            -(probs[*y].max(1e-12) as f64).ln()
        }
        Goal::Multi(bits) => {
            debug_assert!(multi);
            let mut loss = 0.0;
            for (i, &on) in bits.iter().enumerate() {
                if on {
                    delta[i] -= 1.0;
                    loss -= (probs[i].max(1e-12) as f64).ln();
                } else {
                    loss -= ((1.0 - probs[i]).max(1e-12) as f64).ln();
                }
            }
            loss
        }
    }
}

/// How many Step events an epoch sends at most; more would only flood the shells.
const STEP_EVENTS_PER_EPOCH: usize = 50;

/// The `instant` family as the training loop drives it (see [`Family`]): the encoded splits,
/// the linear model, its optimizer and the shuffling order, which carry over from epoch to epoch.
pub(crate) struct Trainer<'a> {
    dataset: &'a Dataset,
    config: &'a TrainConfig,
    head: Head<'a>,
    train_set: Vec<Encoded>,
    /// The dev split encoded; empty when the train split stands in for an empty dev split.
    dev_set: Vec<Encoded>,
    model: Linear,
    optimizer: AdaGrad,
    rng: SplitMix64,
    order: Vec<usize>,
    steps_per_epoch: usize,
    event_every: usize,
    /// The thresholds tuning starts from (one per label for multi-label, none otherwise).
    default_thresholds: Vec<f32>,
    /// The thresholds last tuned on dev, used with the current weights.
    thresholds: Vec<f32>,
    best: Option<Snapshot>,
    probs: Vec<f32>,
    delta: Vec<f32>,
}

impl<'a> Trainer<'a> {
    /// Featurizes the train and dev splits and sets up a zero model for `dataset`.
    pub(crate) fn new(dataset: &'a Dataset, config: &'a TrainConfig) -> Trainer<'a> {
        let featurizer = Featurizer::new(config);
        let head = Head { task: dataset.task, labels: &dataset.labels, featurizer };
        let n_out = head.n_outputs();
        let train_set: Vec<Encoded> = dataset.train.iter().map(|e| head.encode(e)).collect();
        // Without a dev split, early stopping has nothing else to look at than the train split.
        let dev_set: Vec<Encoded> = dataset.dev.iter().map(|e| head.encode(e)).collect();
        let model = Linear::zeros(head.featurizer.dim(), n_out);
        let optimizer = AdaGrad::new(&model, config.lr, config.l2);
        let steps_per_epoch = train_set.len().div_ceil(config.batch_size);
        let default_thresholds = vec![0.5f32; if head.multi() { n_out } else { 0 }];
        Trainer {
            dataset,
            config,
            order: (0..train_set.len()).collect(),
            train_set,
            dev_set,
            model,
            optimizer,
            rng: SplitMix64::new(config.seed),
            steps_per_epoch,
            event_every: steps_per_epoch.div_ceil(STEP_EVENTS_PER_EPOCH).max(1),
            thresholds: default_thresholds.clone(),
            default_thresholds,
            best: None,
            probs: vec![0.0f32; n_out],
            delta: vec![0.0f32; n_out],
            head,
        }
    }

    /// The examples [`Split::Dev`] stands for, with their encodings.
    fn dev(&self) -> (&[Example], &[Encoded]) {
        if self.dataset.dev.is_empty() {
            (&self.dataset.train, &self.train_set)
        } else {
            (&self.dataset.dev, &self.dev_set)
        }
    }
}

impl Family for Trainer<'_> {
    fn steps_per_epoch(&self) -> usize {
        self.steps_per_epoch
    }

    fn run_epoch(&mut self, steps: &mut Steps<'_>) -> Result<Pass> {
        let Trainer {
            config,
            head,
            train_set,
            model,
            optimizer,
            rng,
            order,
            probs,
            delta,
            steps_per_epoch,
            event_every,
            ..
        } = self;
        rng.shuffle(order);
        let multi = head.multi();
        let (mut loss_sum, mut loss_units) = (0.0f64, 0usize);
        for (batch_idx, batch) in order.chunks(config.batch_size).enumerate() {
            // Mean over examples, sum over an example's units: a long sentence carries more
            // evidence for the tagger than a short one, and per-unit averaging would shrink
            // every step of a batch of long sentences.
            let scale = 1.0 / batch.len() as f32;
            for &i in batch {
                for (x, goal) in &train_set[i].units {
                    model.logits(x, probs);
                    activate(multi, probs);
                    loss_sum += loss_and_delta(multi, probs, goal, delta);
                    optimizer.accumulate(x, delta, scale);
                }
                loss_units += train_set[i].units.len();
            }
            optimizer.step(model);
            let loss = loss_sum / loss_units.max(1) as f64;
            let scheduled = (batch_idx + 1) % *event_every == 0 || batch_idx + 1 == *steps_per_epoch;
            if steps.took_step(batch.len(), loss, scheduled) == Control::Stop {
                return Ok(Pass::Stopped);
            }
        }
        Ok(Pass::Finished { train_loss: loss_sum / loss_units.max(1) as f64 })
    }

    fn tune_on_dev(&mut self) -> Result<Evaluation> {
        let (examples, encoded) = self.dev();
        let (report, thresholds) =
            self.head.evaluate(&self.model, examples, encoded, true, &self.default_thresholds)?;
        self.thresholds = thresholds;
        Ok(Evaluation::of(&report))
    }

    fn keep_best(&mut self) -> Result<()> {
        self.best = Some(Snapshot { linear: self.model.clone(), thresholds: self.thresholds.clone() });
        Ok(())
    }

    fn restore_best(&mut self) -> Result<()> {
        // The loop restores once, at the end: the snapshot can be moved back rather than copied.
        if let Some(best) = self.best.take() {
            self.model = best.linear;
            self.thresholds = best.thresholds;
        }
        Ok(())
    }

    fn evaluate(&mut self, split: Split) -> Result<Evaluation> {
        let (report, _) = match split {
            Split::Dev => {
                let (examples, encoded) = self.dev();
                self.head.evaluate(&self.model, examples, encoded, false, &self.thresholds)?
            }
            Split::Test => {
                let encoded: Vec<Encoded> = self.dataset.test.iter().map(|e| self.head.encode(e)).collect();
                self.head.evaluate(&self.model, &self.dataset.test, &encoded, false, &self.thresholds)?
            }
        };
        Ok(Evaluation::of(&report))
    }

    fn save(&mut self, dir: &Path, best_epoch: usize) -> Result<()> {
        let dataset = self.dataset;
        let featurizer = &self.head.featurizer;
        let meta = ModelMeta {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            family: INSTANT.into(),
            task: dataset.task,
            labels: dataset.labels.clone(),
            outputs: match dataset.task {
                Task::Spans => bio_tags(&dataset.labels),
                _ => dataset.labels.clone(),
            },
            thresholds: self.thresholds.clone(),
            features: featurizer.clone(),
            weights: WeightsMeta {
                file: WEIGHTS_FILE.into(),
                dtype: "f32-le".into(),
                rows: featurizer.dim() + 1,
                cols: self.model.cols,
                layout: "row-major, one row per hashed feature, last row is the bias".into(),
            },
            config: self.config.clone(),
            best_epoch,
            device: "cpu".into(),
        };
        save(dir, &meta, &self.model)
    }

    fn device(&self) -> String {
        "cpu".into()
    }
}

// ---------------------------------------------------------------------------------------------
// The model folder
// ---------------------------------------------------------------------------------------------

/// Description of the weights file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WeightsMeta {
    file: String,
    dtype: String,
    rows: usize,
    cols: usize,
    layout: String,
}

/// Contents of `finelab-model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ModelMeta {
    format: String,
    format_version: u32,
    family: String,
    task: Task,
    labels: Vec<String>,
    /// Output columns: the labels, or the BIO tags for spans.
    outputs: Vec<String>,
    /// Per-label decision thresholds (multi-label only).
    thresholds: Vec<f32>,
    features: Featurizer,
    weights: WeightsMeta,
    config: TrainConfig,
    best_epoch: usize,
    device: String,
}

fn save(dir: &Path, meta: &ModelMeta, linear: &Linear) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut bytes = Vec::with_capacity((linear.weights.len() + linear.bias.len()) * 4);
    for v in linear.weights.iter().chain(&linear.bias) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let weights_path = dir.join(WEIGHTS_FILE);
    std::fs::write(&weights_path, bytes).map_err(|e| Error::io(&weights_path, e))?;
    // The description is written last, so a folder with it is a complete model.
    let meta_path = dir.join(MODEL_FILE);
    let text = serde_json::to_string_pretty(meta).expect("model metadata serializes");
    std::fs::write(&meta_path, text).map_err(|e| Error::io(&meta_path, e))
}

/// A loaded `instant` model, ready to predict (see [`crate::Predictor`], which loads any family).
#[derive(Debug, Clone)]
pub struct InstantModel {
    meta: ModelMeta,
    linear: Linear,
    dir: PathBuf,
}

impl InstantModel {
    /// Loads a model folder written by training. Errors name the file that is missing or wrong.
    pub fn load(dir: &Path) -> Result<InstantModel> {
        let meta_path = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let corrupt = |path: &Path, message: String| Error::CorruptModel { path: path.to_path_buf(), message };
        let meta: ModelMeta = serde_json::from_str(&text).map_err(|e| corrupt(&meta_path, e.to_string()))?;
        if meta.format != FORMAT || meta.format_version != FORMAT_VERSION {
            return Err(corrupt(
                &meta_path,
                format!("format {} v{} is not {FORMAT} v{FORMAT_VERSION}", meta.format, meta.format_version),
            ));
        }
        if meta.features.scheme != FEATURE_SCHEME || !(8..=24).contains(&meta.features.hash_bits) {
            return Err(corrupt(&meta_path, format!("unknown feature scheme {:?}", meta.features.scheme)));
        }
        let expected_cols = match meta.task {
            Task::Spans => 1 + 2 * meta.labels.len(),
            _ => meta.labels.len(),
        };
        let w = &meta.weights;
        if meta.labels.is_empty()
            || w.cols != expected_cols
            || meta.outputs.len() != w.cols
            || w.rows != meta.features.dim() + 1
            || w.dtype != "f32-le"
            || (meta.task == Task::Multi && meta.thresholds.len() != w.cols)
        {
            return Err(corrupt(&meta_path, "labels, outputs, thresholds and weight shape disagree".into()));
        }
        let weights_path = dir.join(&w.file);
        let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        if bytes.len() != w.rows * w.cols * 4 {
            return Err(corrupt(
                &weights_path,
                format!("{} bytes, expected {} ({} × {} f32)", bytes.len(), w.rows * w.cols * 4, w.rows, w.cols),
            ));
        }
        let mut values: Vec<f32> =
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(corrupt(&weights_path, "weights contain NaN or infinity".into()));
        }
        let bias = values.split_off((w.rows - 1) * w.cols);
        Ok(InstantModel { linear: Linear { cols: w.cols, weights: values, bias }, meta, dir: dir.to_path_buf() })
    }

    /// The task the model was trained for.
    pub fn task(&self) -> Task {
        self.meta.task
    }

    /// The model's labels (entity types for spans).
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The training configuration stored with the model.
    pub fn config(&self) -> &TrainConfig {
        &self.meta.config
    }

    /// The content of `finelab-model.json`, for display.
    pub fn describe(&self) -> Value {
        serde_json::to_value(&self.meta).expect("model metadata serializes")
    }

    /// Predicts one text.
    pub fn predict(&self, text: &str) -> Prediction {
        let featurizer = &self.meta.features;
        let labels = &self.meta.labels;
        let mut z = vec![0.0f32; self.linear.cols];
        match self.meta.task {
            Task::Single | Task::Multi => {
                let multi = self.meta.task == Task::Multi;
                self.linear.logits(&featurizer.document(text), &mut z);
                activate(multi, &mut z);
                let scores = labels.iter().cloned().zip(z.iter().copied()).collect();
                if multi {
                    Prediction::Multi { labels: multi_labels(&z, &self.meta.thresholds, labels), scores }
                } else {
                    Prediction::Single { label: labels[argmax(&z)].clone(), scores }
                }
            }
            Task::Spans => {
                let probs: Vec<Vec<f32>> = featurizer
                    .tokens(text)
                    .iter()
                    .map(|x| {
                        self.linear.logits(x, &mut z);
                        softmax_in_place(&mut z);
                        z.clone()
                    })
                    .collect();
                Prediction::Spans { spans: decode_bio(&probs, labels) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_tags(n: usize, spans: &[(usize, usize, &str)], expected: &[usize]) {
        let labels = vec!["A".to_string(), "B".to_string()];
        let spans: Vec<Span> = spans.iter().map(|(s, e, l)| Span::new(*s, *e, *l)).collect();
        assert_eq!(spans_to_tags(n, &spans, &labels), expected, "{spans:?}");
    }

    #[test]
    fn spans_become_bio_tags() {
        check_tags(4, &[], &[0, 0, 0, 0]);
        check_tags(4, &[(1, 3, "A")], &[0, 1, 2, 0]);
        check_tags(4, &[(0, 1, "B"), (1, 2, "B")], &[3, 3, 0, 0]);
        // Overlap: the earlier span wins.
        check_tags(4, &[(0, 2, "A"), (1, 4, "B")], &[1, 2, 0, 0]);
    }

    #[test]
    fn viterbi_never_starts_with_inside() {
        let labels = vec!["A".to_string()];
        // Position 0 prefers I-A, which is not allowed there: decoding must pick B-A or O.
        let probs = vec![vec![0.3, 0.3, 0.4], vec![0.1, 0.1, 0.8]];
        let spans = decode_bio(&probs, &labels);
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].start, spans[0].end), (0, 2));
    }
}
