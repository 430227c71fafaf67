// Generated from the Rust types by `finelab_app::typescript::typescript_files()`.
// Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types` to refresh.

import type { JsonValue } from './api';
import type { AnnotationValue, LabelRule, ProjectKind, Record, RecordView, RunStatus, Span, Split, User } from './store';

export type RunRow = { 
/**
 * The run id.
 */
id: string, 
/**
 * Start (ms since the epoch).
 */
created_at: number, 
/**
 * End, when over.
 */
finished_at: number | null, 
/**
 * Where the run is in its life.
 */
status: RunStatus, 
/**
 * Model family.
 */
family: string, 
/**
 * Base model.
 */
base_model: string | null, 
/**
 * Device.
 */
device: string, 
/**
 * Config JSON.
 */
config: JsonValue, 
/**
 * Data snapshot hash.
 */
data_hash: string, 
/**
 * Training records.
 */
n_train: number, 
/**
 * Development records.
 */
n_dev: number, 
/**
 * Test records.
 */
n_test: number, 
/**
 * Per-epoch summaries.
 */
epochs: Array<JsonValue>, 
/**
 * Final dev report.
 */
dev_report: JsonValue | null, 
/**
 * Final test report.
 */
test_report: JsonValue | null, 
/**
 * The model folder.
 */
model_dir: string | null, 
/**
 * Why it failed.
 */
error: string | null, 
/**
 * What training ended as (`completed` or `cancelled`) once it did; the run takes this
 * status when its predictions are stored. A run `interrupted` with this set was trained
 * and can be finished by storing its predictions.
 */
trained_status: RunStatus | null, };

export type Suggestion = { 
/**
 * The run that predicted it.
 */
run: string, 
/**
 * The prediction in the shape of an annotation value (accepting it annotates with it).
 */
value: AnnotationValue, 
/**
 * The top label: the predicted label (single), the most probable label (multi), the
 * label of the most confident span (spans); absent for a multi-label or span prediction
 * with no label.
 */
label: string | null, 
/**
 * The model's confidence: the top label's probability (single), the highest label
 * probability (multi), the mean span score (spans; absent without spans).
 */
score: number | null, };

export type RunRecordsQuery = { 
/**
 * Records the run scored in this split (none: every predicted record, unlabeled ones too).
 */
split: Split | null, 
/**
 * Records whose gold value has this label (single-label: is this label).
 */
gold: string | null, 
/**
 * Records whose prediction has this label (single-label: is this label).
 */
predicted: string | null, 
/**
 * Records where this label is gold or predicted (a label's bar).
 */
label: string | null, 
/**
 * Only wrong predictions: with `label`, records where that label is in exactly one of gold
 * and prediction (its false positives and false negatives); without, records whose
 * prediction differs from gold.
 */
only_errors: boolean, 
/**
 * At most this many rows (default 50, at most 1000).
 */
limit: number | null, 
/**
 * Skip this many rows first.
 */
offset: number | null, };

export type RunRecord = { 
/**
 * The record (text or turns, split, source).
 */
record: Record, 
/**
 * The split the run scored it in (absent for an unlabeled record it predicted).
 */
split: Split | null, 
/**
 * The value the run scored it against.
 */
gold: AnnotationValue | null, 
/**
 * The run's prediction.
 */
predicted: AnnotationValue, 
/**
 * The top predicted label.
 */
label: string | null, 
/**
 * The prediction's confidence.
 */
score: number | null, 
/**
 * Whether the prediction equals gold (absent without gold).
 */
correct: boolean | null, 
/**
 * The record's current value (the latest annotator's): it may have been fixed since.
 */
current: AnnotationValue | null, 
/**
 * Who gave `current`.
 */
current_annotator: string | null, };

export type RunRecordsPage = { 
/**
 * The rows, in import order.
 */
rows: Array<RunRecord>, 
/**
 * Rows matching the query in all.
 */
total: number, };

export type TrainSetup = { 
/**
 * The families, `instant` first.
 */
families: Array<FamilyInfo>, 
/**
 * CPU, CUDA and Metal with their availability.
 */
devices: Array<DeviceInfo>, 
/**
 * The device `auto` picks for the transformer family.
 */
auto_device: string, 
/**
 * Base models found on this machine.
 */
models: Array<ModelEntry>, 
/**
 * The folders searched, in order.
 */
searched: Array<string>, 
/**
 * Whether this build downloads models from the Hugging Face hub by name (`download_model`;
 * the model then appears in `models`).
 */
hub_download: boolean, 
/**
 * The hub or mirror downloads come from (`HF_ENDPOINT`, else `https://huggingface.co`).
 */
hub_endpoint: string, };

export type FamilyInfo = { 
/**
 * `instant`, `transformer` or `generator`.
 */
name: string, 
/**
 * One sentence for the UI.
 */
description: string, 
/**
 * Whether it needs a base model folder (`TrainRequest.model` is then the folder).
 */
needs_model: boolean, 
/**
 * The devices it can train on (`cpu`, and `cuda` / `metal` where available).
 */
devices: Array<string>, 
/**
 * Its defaults.
 */
defaults: TrainDefaults, };

export type TrainDefaults = { 
/**
 * Maximum epochs.
 */
epochs: number, 
/**
 * Examples per step.
 */
batch_size: number, 
/**
 * Learning rate.
 */
lr: number, 
/**
 * Longest input in tokens (transformer; the instant family reads whole texts).
 */
max_len: number, 
/**
 * Seed.
 */
seed: number, 
/**
 * Epochs without dev improvement before early stopping.
 */
patience: number, };

export type DeviceInfo = { 
/**
 * `cpu`, `cuda` or `metal`.
 */
name: string, 
/**
 * Usable now.
 */
available: boolean, 
/**
 * Why not, when it is not.
 */
reason: string | null, };

export type ModelEntry = { 
/**
 * `org/name` for a Hugging Face cache entry, else the folder's name.
 */
name: string, 
/**
 * The folder (absolute): pass it as `TrainRequest.model`.
 */
path: string, 
/**
 * Where it was found: `env` (`$FINELAB_MODELS_DIR`), `project` (`<project>/models`),
 * `hf_cache`, or `picked` (a folder the user chose).
 */
source: string, 
/**
 * `model_type` of its `config.json` (`bert`, `xlm-roberta`, `distilbert`...).
 */
model_type: string | null, 
/**
 * The first of `architectures` in its `config.json`.
 */
architecture: string | null, 
/**
 * Hidden width.
 */
hidden_size: number | null, 
/**
 * Encoder layers.
 */
layers: number | null, 
/**
 * Vocabulary size.
 */
vocab_size: number | null, 
/**
 * Whether it has every file fine-tuning needs and an architecture Finelab fine-tunes.
 */
complete: boolean, 
/**
 * What is missing or wrong (empty when complete).
 */
problems: Array<string>, 
/**
 * Bytes of its files.
 */
size_bytes: number, };

export type TrainRequest = { 
/**
 * `instant`, or a Hugging Face-layout model folder (BERT, RoBERTa / XLM-RoBERTa or
 * DistilBERT) to fine-tune: the transformer family.
 */
model: string, 
/**
 * Maximum number of epochs (early stopping on dev macro-F1 may stop sooner).
 */
epochs?: number | null, 
/**
 * Examples per gradient step.
 */
batch_size?: number | null, 
/**
 * Learning rate.
 */
lr?: number | null, 
/**
 * Longest input in tokens. Recorded in the run's config; the instant family reads whole
 * texts, the transformer family truncates to it (dialogs keep their latest turns).
 */
max_len?: number | null, 
/**
 * Seed: the same data, options and seed give the same model.
 */
seed?: number | null, 
/**
 * `auto`, `cpu`, `cuda` or `metal` (default `auto`).
 */
device?: string | null, 
/**
 * Epochs without a better dev score before training stops early (default: 2 for the neural
 * families).
 */
patience?: number | null, 
/**
 * Generator family: the rank of the LoRA adapters (default 16).
 */
lora_rank?: number | null, 
/**
 * Generator family: LoRA's alpha (default 32).
 */
lora_alpha?: number | null, 
/**
 * Generator family: dropout on the adapters' input (default 0.05).
 */
lora_dropout?: number | null, 
/**
 * Generator family: the projections that get adapters (default every attention and MLP
 * projection).
 */
lora_targets?: Array<string> | null, 
/**
 * Generator family: train every weight instead of LoRA adapters (small models only).
 */
full_finetune?: boolean | null, 
/**
 * Generator family: the most tokens generated per dev and test record after training
 * (default 256).
 */
max_new_tokens?: number | null, 
/**
 * Started by the background retrain while people label ([`crate::autotrain`]); recorded
 * in the run's config. Only the newest few such runs are kept.
 */
background?: boolean, 
/**
 * Made from another run (`finelab optimize`): the parent and how; recorded in the run's
 * config.
 */
optimized_from?: OptimizedFrom, };

export type TrainProgress = { 
/**
 * The run id, once the run is recorded.
 */
run: string | null, 
/**
 * `instant` or `transformer`.
 */
family: string, 
/**
 * `TrainRequest.model` as given (`instant` or the base model folder).
 */
model: string, 
/**
 * The device it trains on.
 */
device: string, 
/**
 * What it is doing.
 */
phase: TrainPhase, 
/**
 * Training records.
 */
n_train: number, 
/**
 * Development records.
 */
n_dev: number, 
/**
 * Test records.
 */
n_test: number, 
/**
 * Current epoch, from 1 (0 before the first step).
 */
epoch: number, 
/**
 * Maximum epochs.
 */
epochs: number, 
/**
 * Steps taken.
 */
step: number, 
/**
 * Steps if every epoch runs (early stopping can end sooner).
 */
total_steps: number, 
/**
 * `step / total_steps`, 0 to 1.
 */
fraction: number, 
/**
 * Estimated seconds left if every epoch runs.
 */
eta_secs: number | null, 
/**
 * Training examples per second.
 */
samples_per_sec: number | null, 
/**
 * Training tokens per second (generators).
 */
tokens_per_sec: number | null, 
/**
 * Generators: the answers to a few fixed dev dialogs after the latest epoch.
 */
samples: Array<EpochSample>, 
/**
 * Seconds since the job started.
 */
elapsed_secs: number, 
/**
 * The loss curve so far, at most [`MAX_LOSS_POINTS`] points.
 */
loss: Array<LossPoint>, 
/**
 * Every evaluated epoch.
 */
history: Array<EpochPoint>, 
/**
 * The best epoch so far.
 */
best_epoch: number | null, 
/**
 * Records whose predictions are stored so far.
 */
predicted: number, 
/**
 * Records to predict after training (dev + test + unlabeled).
 */
to_predict: number, };

export type TrainPhase = "preparing" | "training" | "predicting" | "finished";

export type LossPoint = { 
/**
 * Steps taken.
 */
step: number, 
/**
 * Mean training loss over the current epoch so far.
 */
loss: number, };

export type EpochPoint = { 
/**
 * The epoch, from 1.
 */
epoch: number, 
/**
 * Mean training loss over the epoch.
 */
train_loss: number, 
/**
 * Macro-F1 on dev (on train when the project has no dev records).
 */
dev_macro_f1: number, 
/**
 * Whether it is the best epoch so far (its model is the one kept).
 */
best: boolean, 
/**
 * Seconds it took, evaluation included.
 */
seconds: number, };

export type EpochSummary = { 
/**
 * The epoch, from 1.
 */
epoch: number, 
/**
 * Mean training loss over the epoch.
 */
train_loss: number, 
/**
 * Macro-averaged F1 on dev.
 */
dev_macro_f1: number, 
/**
 * Seconds the epoch took, evaluation included.
 */
seconds: number, };

export type TrainDone = { 
/**
 * The run id.
 */
run: string, 
/**
 * `completed`, or `cancelled` when the caller stopped it.
 */
status: RunStatus, 
/**
 * The saved model folder.
 */
model_dir: string, 
/**
 * The epoch whose model was kept (0: stopped before the first epoch ended).
 */
best_epoch: number, 
/**
 * Every evaluated epoch.
 */
epochs: Array<EpochSummary>, 
/**
 * Report of the kept model on dev; absent when the project has no dev records.
 */
dev: JsonValue | null, 
/**
 * Report of the kept model on test; absent when the project has no test records.
 */
test: JsonValue | null, 
/**
 * Macro-F1 on dev.
 */
dev_macro_f1: number | null, 
/**
 * Macro-F1 on test.
 */
test_macro_f1: number | null, 
/**
 * Training records.
 */
n_train: number, 
/**
 * Development records.
 */
n_dev: number, 
/**
 * Test records.
 */
n_test: number, 
/**
 * Hash of the labeled data snapshot.
 */
data_hash: string, 
/**
 * The device it trained on.
 */
device: string, 
/**
 * Wall-clock seconds of training, evaluation and saving.
 */
seconds: number, };

export type RunSummary = { 
/**
 * The run id.
 */
id: string, 
/**
 * Where the run is in its life.
 */
status: RunStatus, 
/**
 * Model family.
 */
family: string, 
/**
 * Device.
 */
device: string, 
/**
 * Start (ms since the epoch).
 */
created_at: number, 
/**
 * End, when over.
 */
finished_at: number | null, 
/**
 * Hash of the labeled data snapshot.
 */
data_hash: string, 
/**
 * Training records.
 */
n_train: number, 
/**
 * Development records.
 */
n_dev: number, 
/**
 * Test records.
 */
n_test: number, 
/**
 * Epochs evaluated.
 */
n_epochs: number, 
/**
 * Final dev macro-F1.
 */
dev_macro_f1: number | null, 
/**
 * Final test macro-F1.
 */
test_macro_f1: number | null, 
/**
 * The model folder, relative to the project.
 */
model_dir: string | null, 
/**
 * Why it failed.
 */
error: string | null, 
/**
 * `TrainRequest.model` as given: `instant` or the base model folder.
 */
model: string | null, 
/**
 * The base model folder (transformer runs).
 */
base_model: string | null, 
/**
 * The run this one resumed.
 */
resumed_from: string | null, 
/**
 * Records whose predictions the run stored (for drill-down and suggestions).
 */
n_predictions: number, 
/**
 * Started by the background retrain while people labeled (only the newest few are kept).
 */
background: boolean, 
/**
 * How many of the records it trained on took their label by each rule (a reviewer's
 * decision, the majority, the only label, the latest of tied labels) where several people
 * label a record; empty for runs before Finelab recorded it.
 */
label_rules: { [key in LabelRule]?: number }, };

export type RunDetail = { 
/**
 * The run as stored: config (with `model`, and `resumed_from` for a resumed run), base
 * model, device, data hash, per-epoch history, dev and test reports.
 */
run: RunRow, 
/**
 * Its line of the run list.
 */
summary: RunSummary, 
/**
 * The project's kind.
 */
kind: ProjectKind, 
/**
 * The project's label set, in order.
 */
labels: Array<string>, 
/**
 * Whether [`crate::api::Request::ResumeRun`] accepts it (cancelled, interrupted, failed).
 */
resumable: boolean, 
/**
 * Files of its model folder (relative to it), empty without one.
 */
model_files: Array<string>, };

export type Evaluation = { 
/**
 * The run id.
 */
run: string, 
/**
 * The run's status (`completed` or `cancelled`).
 */
status: RunStatus, 
/**
 * The split.
 */
split: Split, 
/**
 * Stored or recomputed.
 */
source: ReportSource, 
/**
 * The project's kind.
 */
kind: ProjectKind, 
/**
 * The project's label set, in order (for laying out the report).
 */
labels: Array<string>, 
/**
 * Records the report covers.
 */
n_records: number, 
/**
 * The report (scikit-learn's `classification_report` dictionary, plus `confusion` for
 * single-label).
 */
report: JsonValue, };

export type ReportSource = "stored" | "recomputed";

export type ExportedModel = { 
/**
 * The folder written (absolute).
 */
path: string, 
/**
 * Its files, relative to it, sorted.
 */
files: Array<string>, 
/**
 * Bytes written.
 */
bytes: number, 
/**
 * The run's family.
 */
family: string, };

export type ExportedJob = { 
/**
 * The job folder (absolute).
 */
path: string, 
/**
 * Hash of the labeled data snapshot (a run imported from the job must match it).
 */
data_hash: string, 
/**
 * Training records.
 */
n_train: number, 
/**
 * Development records.
 */
n_dev: number, 
/**
 * Test records.
 */
n_test: number, 
/**
 * The files written, relative to the job folder.
 */
files: Array<string>, 
/**
 * The command that runs the job on this machine's processes (see the job's README for
 * several GPUs and several machines).
 */
launch: string, };

export type ImportedRun = { 
/**
 * The new run's id.
 */
run: string, 
/**
 * Dev macro-F1 as Finelab computed it on the imported model.
 */
dev_macro_f1: number | null, 
/**
 * Test macro-F1 as Finelab computed it on the imported model.
 */
test_macro_f1: number | null, 
/**
 * A generator's test chrF, of the answers Finelab generated with the imported model.
 */
test_chrf: number | null, 
/**
 * Predictions stored (dev, test and every unlabeled record).
 */
n_predictions: number, };

export type CurveRequest = { 
/**
 * The model, as for training (`instant` by default).
 */
train: TrainRequest, 
/**
 * Shares of the train split, increasing, the last at most 1 (default 0.25, 0.5, 0.75, 1).
 */
fractions?: Array<number> | null, 
/**
 * Trainings per share, with seeds 1, 2... (default 3).
 */
seeds?: number | null, };

export type LabelCurve = { 
/**
 * The label (entity type for spans).
 */
label: string, 
/**
 * Dev F1 at each share, the mean over the seeds.
 */
f1: Array<number>, 
/**
 * F1 at the last share minus F1 at the one before.
 */
gain: number, 
/**
 * `rising` (more examples will help) or `flat` (look at the guidelines or the label set).
 */
verdict: string, };

export type TrainCurve = { 
/**
 * The shares of the train split.
 */
fractions: Array<number>, 
/**
 * Training records at each share.
 */
n_train: Array<number>, 
/**
 * Dev records scored.
 */
n_dev: number, 
/**
 * Trainings per share.
 */
seeds: number, 
/**
 * Dev macro-F1 at each share (mean over the seeds).
 */
macro_f1: Array<number>, 
/**
 * Per label.
 */
labels: Array<LabelCurve>, };

export type Strategy = "sequential" | "random" | "uncertain" | "diverse" | "production";

export type NextBatch = { 
/**
 * The strategy asked for.
 */
strategy: Strategy, 
/**
 * The strategy used (`random` for `uncertain` / `diverse` before any model exists).
 */
used: Strategy, 
/**
 * The run whose model ranked them (uncertain, diverse) or picked them (a label asked for).
 */
run: string | null, 
/**
 * When that run finished (ms since the epoch).
 */
trained_at: number | null, 
/**
 * That run's dev macro-F1.
 */
dev_macro_f1: number | null, 
/**
 * Only records that model predicts as this label.
 */
label: string | null, 
/**
 * The records, in order, each with the uncertainty it was ranked by (0: sure, 1: a coin
 * toss) when a model ranked it.
 */
records: Array<NextRecord>, };

export type NextRecord = { 
/**
 * The record as the label screen shows it.
 */
view: RecordView, 
/**
 * The model's uncertainty about it (uncertain, diverse; production: the served model's).
 */
uncertainty: number | null, };

export type SuspectsRequest = { 
/**
 * Folds of the cross-validation (default 5, at least 2).
 */
folds?: number | null, 
/**
 * Seed of the folds and of the models (default 42).
 */
seed?: number | null, 
/**
 * `self_confidence` (default) or `normalized_margin`.
 */
rank_by?: string | null, 
/**
 * At most this many suspects listed (default all).
 */
limit?: number | null, };

export type Suspect = { 
/**
 * The record's stable id.
 */
id: string, 
/**
 * Its sequence number (what the label screen and `annotate` take).
 */
seq: number, 
/**
 * Who gave the label it has.
 */
annotator: string, 
/**
 * Whether that label was already kept on a second look (given again, as the Review
 * screen's "keep" does): the Review queue leaves such records out.
 */
confirmed: boolean, 
/**
 * Its text.
 */
text: string, 
/**
 * The label it has (multi-label: its labels, joined with commas).
 */
label: string, 
/**
 * The label the cross-validated models suggest (multi-label: the suggested set, joined
 * with commas).
 */
suggested: string, 
/**
 * Multi-label: the labels it has.
 */
labels?: Array<string>, 
/**
 * Multi-label: the labels the models suggest (the given set with the suspect labels
 * added or removed).
 */
suggested_labels?: Array<string>, 
/**
 * Spans: the spans it has.
 */
spans?: Array<Span>, 
/**
 * Spans: the spans the tagger suggests (the contradicted ones replaced, the missed ones
 * added).
 */
suggested_spans?: Array<Span>, 
/**
 * Label quality, cleanlab's: the probability of the given label (self-confidence), or
 * `(p_given − max other p + 1) / 2` (normalized margin); lower is more likely wrong.
 */
score: number, };

export type LabelNoise = { 
/**
 * The label.
 */
label: string, 
/**
 * Records labeled so.
 */
n: number, 
/**
 * Of them, suspects (multi-label: records suspected of wrongly having it).
 */
n_suspects: number, };

export type AnnotatorNoise = { 
/**
 * Who gave the labels (the latest annotator of each record).
 */
annotator: string, 
/**
 * Records whose label they gave.
 */
n: number, 
/**
 * Of them, suspects.
 */
n_suspects: number, };

export type SuspectsReport = { 
/**
 * Labeled records scored.
 */
n_records: number, 
/**
 * Folds used.
 */
folds: number, 
/**
 * Suspects found (all of them, whatever the limit).
 */
n_suspects: number, 
/**
 * Per label.
 */
per_label: Array<LabelNoise>, 
/**
 * Per annotator.
 */
per_annotator: Array<AnnotatorNoise>, 
/**
 * The suspects, most likely wrong first.
 */
suspects: Array<Suspect>, };

export type PairAgreement = { 
/**
 * One annotator (the smaller name).
 */
a: string, 
/**
 * The other.
 */
b: string, 
/**
 * Records both labeled.
 */
n: number, 
/**
 * Share of those given the same label (the same set, multi-label); not for spans.
 */
percent_agreement: number | null, 
/**
 * Cohen's kappa (scikit-learn's `cohen_kappa_score`); absent where undefined or for spans.
 */
cohen_kappa: number | null, 
/**
 * Spans: micro entity-level F1 of one against the other (seqeval's).
 */
f1: number | null, 
/**
 * Spans: F1 per type.
 */
per_label: { [key in string]?: number } | null, };

export type LabelAgreement = { 
/**
 * Mean over pairs of the binary Cohen's kappa (where defined).
 */
cohen_kappa_mean: number | null, 
/**
 * Krippendorff's alpha (nominal) on the binary ratings.
 */
krippendorff_alpha: number | null, };

export type AgreementReport = { 
/**
 * Records labeled by at least two of the annotators.
 */
n_records: number, 
/**
 * The annotators measured, sorted.
 */
annotators: Array<string>, 
/**
 * Every pair that shares a record.
 */
pairs: Array<PairAgreement>, 
/**
 * Fleiss' kappa (statsmodels' `fleiss_kappa`) over the records with the most common number
 * of raters (at least two).
 */
fleiss_kappa: number | null, 
/**
 * Records Fleiss' kappa was computed on.
 */
fleiss_records: number, 
/**
 * Their number of raters.
 */
fleiss_raters: number, 
/**
 * Krippendorff's alpha, nominal, missing ratings allowed (the `krippendorff` package).
 */
krippendorff_alpha: number | null, 
/**
 * Per label, one against the rest (not for spans).
 */
per_label: { [key in string]?: LabelAgreement }, 
/**
 * The labels in the project's order (then others used).
 */
label_order: Array<string>, 
/**
 * Records with different labels that no reviewer has decided yet.
 */
n_undecided: number, };

export type AnnotatorLabel = { 
/**
 * Who.
 */
annotator: string, 
/**
 * Their label.
 */
value: AnnotationValue, };

export type Disagreement = { 
/**
 * The record (its annotations include everyone's).
 */
view: RecordView, 
/**
 * Each annotator's label (reviewers' decisions aside), by annotator.
 */
labels: Array<AnnotatorLabel>, };

export type Disagreements = { 
/**
 * The records, in import order.
 */
records: Array<Disagreement>, 
/**
 * How many there are in all (undecided ones; for a pair, where the two differ).
 */
total: number, };

export type Person = { 
/**
 * Their name.
 */
annotator: string, 
/**
 * Records they have a label on now.
 */
labeled: number, 
/**
 * Labels per hour of active work (gaps over five minutes between two labels are breaks).
 */
labels_per_hour: number | null, 
/**
 * Mean of their pairwise percent agreement with the others (records shared).
 */
agreement_with_others: number | null, 
/**
 * Mean of their pairwise Cohen's kappa with the others.
 */
kappa_with_others: number | null, 
/**
 * Share of their labels on decided records that equal the reviewer's decision.
 */
agreement_with_decisions: number | null, 
/**
 * Records of theirs a reviewer decided.
 */
n_decided: number, 
/**
 * When asked for: the share of their labels that cross-validated confident learning
 * ([`crate::suspects`]) finds likely wrong (the record is a suspect and their label is the
 * one it doubts).
 */
suspected_noise: number | null, };

export type NewPassword = { 
/**
 * Who.
 */
user: User, 
/**
 * The password to hand them; only its hash is kept.
 */
password: string, };

export type DayMix = { 
/**
 * The day, `YYYY-MM-DD` (UTC).
 */
day: string, 
/**
 * Requests answered.
 */
n: number, 
/**
 * Predicted label → share of that day's requests (multi-label and spans: of the labels).
 */
shares: { [key in string]?: number }, };

export type ProductionMix = { 
/**
 * Production records logged.
 */
n_production: number, 
/**
 * Of them, labeled since.
 */
n_labeled: number, 
/**
 * Per day, oldest first.
 */
days: Array<DayMix>, 
/**
 * Label → share among the train split's labels.
 */
train: { [key in string]?: number }, };

export type EpochSample = { 
/**
 * The record id.
 */
id: string, 
/**
 * The dialog's last message.
 */
prompt: string, 
/**
 * The target output.
 */
reference: string, 
/**
 * What the model answered.
 */
output: string, };

export type TrainMemory = { 
/**
 * Parameters of the base model.
 */
params: number, 
/**
 * Parameters trained (LoRA adapters, or every weight).
 */
trainable_params: number, 
/**
 * Bytes of the weights (f32).
 */
weights_bytes: number, 
/**
 * Bytes of the gradients and optimizer moments.
 */
optimizer_bytes: number, 
/**
 * Bytes of one micro-batch's activations at the longest sequence.
 */
activations_bytes: number, 
/**
 * The sum.
 */
total_bytes: number, 
/**
 * The machine's memory (Linux: `MemTotal`), when known.
 */
machine_bytes: number | null, 
/**
 * Memory available now (Linux: `MemAvailable`), when known.
 */
available_bytes: number | null, };

export type Comparison = { 
/**
 * Its id.
 */
id: number, 
/**
 * The first source (`run:<id>` or `reference`).
 */
source_a: string, 
/**
 * The second source.
 */
source_b: string, 
/**
 * Items to judge.
 */
n_items: number, 
/**
 * Records left out of the sample because both sources wrote the same output.
 */
n_identical: number, 
/**
 * Items judged by at least one person.
 */
n_judged: number, 
/**
 * The seed of the sample and of the sides.
 */
seed: number, 
/**
 * Who started it.
 */
created_by: string, 
/**
 * When (ms since the epoch).
 */
created_at: number, };

export type ComparisonItem = { 
/**
 * The comparison.
 */
comparison: number, 
/**
 * The item's position in it, from 0.
 */
position: number, 
/**
 * Items in the comparison.
 */
n_items: number, 
/**
 * Items this judge has judged.
 */
n_done: number, 
/**
 * The record (its input).
 */
record: Record, 
/**
 * The output shown on the left.
 */
left: string, 
/**
 * The output shown on the right.
 */
right: string, 
/**
 * This judge's current judgement of the item, if any.
 */
current: Preferred | null, };

export type Preferred = "left" | "right" | "tie";

export type PreferenceReceipt = { 
/**
 * The log row.
 */
preference_id: number, 
/**
 * The comparison.
 */
comparison: number, 
/**
 * The item.
 */
position: number, };

export type DraftEdits = { 
/**
 * Labels written from a draft (not undone).
 */
n: number, 
/**
 * Of those, drafts saved unchanged.
 */
n_unchanged: number, 
/**
 * Mean characters changed (Levenshtein distance between draft and saved text).
 */
mean_distance: number, 
/**
 * Mean of the distance over the longer of draft and saved text (0: kept, 1: rewritten).
 */
mean_relative: number, };

export type Draft = { 
/**
 * The run that wrote it.
 */
run: string, 
/**
 * The output.
 */
output: string, 
/**
 * Whether it is the run's stored output (a dev or test record) rather than generated now.
 */
stored: boolean, };

export type DraftUsed = { 
/**
 * The run that wrote the draft.
 */
run: string, 
/**
 * The draft as offered.
 */
text: string, };

export type ComparisonRequest = { 
/**
 * One source.
 */
a: string, 
/**
 * The other.
 */
b: string, 
/**
 * Records to sample (default 50; every record both sources wrote for when fewer).
 */
n?: number, 
/**
 * Seed of the sample and of which side shows which source (default 42).
 */
seed?: number, };

export type JudgeTally = { 
/**
 * Who.
 */
annotator: string, 
/**
 * Items where they preferred `a`.
 */
wins_a: number, 
/**
 * Items where they preferred `b`.
 */
wins_b: number, 
/**
 * Ties.
 */
ties: number, };

export type ComparisonReport = { 
/**
 * The comparison.
 */
comparison: Comparison, 
/**
 * Judgements preferring `a` (every judge's).
 */
wins_a: number, 
/**
 * Judgements preferring `b`.
 */
wins_b: number, 
/**
 * Ties.
 */
ties: number, 
/**
 * `a`'s share of the judgements that preferred one side (ties left out); absent before any.
 */
win_rate_a: number | null, 
/**
 * The 95 % Wilson score interval of `win_rate_a` (statsmodels' `proportion_confint(method="wilson")`).
 */
ci_low: number | null, 
/**
 * Its upper end.
 */
ci_high: number | null, 
/**
 * Per judge.
 */
judges: Array<JudgeTally>, };

export type GenOrder = "worst" | "best" | "seq";

export type GenRecordsQuery = { 
/**
 * Only this split (dev or test; default both).
 */
split?: Split, 
/**
 * Another generator run whose outputs of the same records go beside (two runs side by side).
 */
other?: string, 
/**
 * The order (default worst first).
 */
order?: GenOrder, 
/**
 * At most this many rows (default 20, at most 500).
 */
limit?: number, 
/**
 * Skip this many rows first.
 */
offset?: number, };

export type DiffPart = { 
/**
 * `equal`, `insert` (in the output only) or `delete` (in the reference only).
 */
op: string, 
/**
 * The characters.
 */
text: string, };

export type GenRecord = { 
/**
 * The record (its input).
 */
record: Record, 
/**
 * The split it was scored in.
 */
split: Split | null, 
/**
 * The reference the run was scored against.
 */
reference: string, 
/**
 * The record's output as labeled now (it may have been fixed since the run).
 */
current: string | null, 
/**
 * The run's output.
 */
output: string, 
/**
 * sacrebleu's sentence chrF of the output against the reference (0 to 100).
 */
chrf: number, 
/**
 * The other run's output, when one was asked for.
 */
other_output: string | null, 
/**
 * Its chrF against the same reference.
 */
other_chrf: number | null, 
/**
 * The character diff from the reference to the output.
 */
diff: Array<DiffPart>, };

export type GenRecordsPage = { 
/**
 * The rows.
 */
rows: Array<GenRecord>, 
/**
 * Outputs matching in all.
 */
total: number, 
/**
 * How many outputs score chrF in [0, 10), [10, 20) ... [90, 100].
 */
histogram: Array<number>, 
/**
 * Mean sentence chrF of the matching outputs.
 */
mean_chrf: number, 
/**
 * How much annotators changed the drafts they saved (the project's whole log).
 */
draft_edits: DraftEdits, };

export type Deployment = { 
/**
 * Its id in this program.
 */
id: number, 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run.
 */
run: string, 
/**
 * The model's name in requests (the run id).
 */
model: string, 
/**
 * `http://127.0.0.1:PORT`.
 */
url: string, 
/**
 * The route that answers it: `/v1/classify`, `/v1/tag` or `/v1/chat/completions`.
 */
route: string, 
/**
 * A request to try at a terminal.
 */
curl: string, 
/**
 * When it started (ms since the epoch).
 */
started_at: number, 
/**
 * Requests to the model routes so far.
 */
requests: number, 
/**
 * Of those, answered with success.
 */
ok: number, 
/**
 * Whether served texts come back into the project as production records.
 */
logging: boolean, };

export type DeployRequest = { 
/**
 * The port on 127.0.0.1 (default: a free one).
 */
port?: number, 
/**
 * Classifiers and taggers: keep the served texts in the project as production records
 * (default true).
 */
log_production?: boolean, 
/**
 * At most this many production records wait unlabeled (default 10,000).
 */
keep?: number, };

export type OptimizedFrom = { 
/**
 * The parent run.
 */
run: string, 
/**
 * `prune`, `int8` or `distill`; `q8_0` or `q4_k_m` (a generator's GGUF export).
 */
method: string, 
/**
 * Encoder layers kept (prune, distill).
 */
layers: number | null, };

export type OptimizeMethod = "prune" | "int8" | "distill" | "q8_0" | "q4_k_m";

export type OptimizeRequest = { 
/**
 * The run.
 */
run: string, 
/**
 * How.
 */
method: OptimizeMethod, 
/**
 * Prune, distill: encoder layers to keep (default: half, at least one).
 */
layers?: number, 
/**
 * Epochs of the new fine-tuning (default 2).
 */
epochs?: number, };

export type RunCost = { 
/**
 * The run.
 */
run: string, 
/**
 * Its family.
 */
family: string, 
/**
 * The run it was optimised from, and how.
 */
optimized_from: OptimizedFrom | null, 
/**
 * Encoder layers (transformers).
 */
layers: number | null, 
/**
 * Bytes of its model folder.
 */
size_bytes: number, 
/**
 * Texts a second the model predicts on this machine's CPU (its test texts, batched), when
 * measured.
 */
samples_per_sec: number | null, 
/**
 * Texts timed.
 */
n_timed: number, 
/**
 * Test macro-F1 (dev when there is no test split).
 */
macro_f1: number | null, 
/**
 * The split `macro_f1` is of.
 */
split: Split | null, 
/**
 * Share of the records both predicted (test, else dev) where it predicts what its parent
 * predicts (generators: the same answer, word for word).
 */
agreement_with_parent: number | null, 
/**
 * Generators: the mean chrF of the answers (test, else dev).
 */
chrf: number | null, 
/**
 * Generators quantized to GGUF: the file llama.cpp and Ollama load.
 */
gguf: string | null, };

