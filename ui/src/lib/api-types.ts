// Generated from the Rust types by `finelab_app::api::typescript_declarations()`.
// Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test ts_types` to refresh.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type Request = { "cmd": "app_info", } | { "cmd": "recent_projects", } | { "cmd": "create_project", 
/**
 * The folder.
 */
dir: string, 
/**
 * What to create.
 */
project: CreateProject, } | { "cmd": "open_project", 
/**
 * The folder.
 */
dir: string, } | { "cmd": "set_guidelines", 
/**
 * The folder.
 */
dir: string, 
/**
 * Markdown.
 */
markdown: string, } | { "cmd": "preview_import", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The file.
 */
path: string, 
/**
 * Options.
 */
options: ImportRequest, } | { "cmd": "start_import", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The file.
 */
path: string, 
/**
 * Options.
 */
options: ImportRequest, } | { "cmd": "job", 
/**
 * The job id.
 */
id: number, } | { "cmd": "cancel_job", 
/**
 * The job id.
 */
id: number, } | { "cmd": "next_record", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Who labels.
 */
annotator: string, 
/**
 * The record just done (sequence number), to continue after it.
 */
after_seq: number | null, } | { "cmd": "get_record", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Sequence number.
 */
seq: number, } | { "cmd": "annotate", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Sequence number.
 */
seq: number, 
/**
 * Who.
 */
annotator: string, 
/**
 * What.
 */
action: Action, } | { "cmd": "undo", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Who.
 */
annotator: string, } | { "cmd": "search", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The query.
 */
query: SearchQuery, } | { "cmd": "count_records", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The query (its `limit`, `offset` and `after_seq` are ignored).
 */
query: SearchQuery, 
/**
 * Stop counting here.
 */
cap: number | null, } | { "cmd": "stats", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "train_setup", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "inspect_model", 
/**
 * The folder.
 */
path: string, } | { "cmd": "download_model", 
/**
 * `org/name`, optionally `org/name@revision`.
 */
name: string, 
/**
 * A branch, tag or commit (default: the name's, else `main`).
 */
revision: string | null, } | { "cmd": "list_jobs", 
/**
 * Only the jobs of this project folder.
 */
dir: string | null, } | { "cmd": "start_train", 
/**
 * The project folder.
 */
dir: string, 
/**
 * What to train.
 */
request: TrainRequest, } | { "cmd": "list_runs", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "get_run", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run id.
 */
run: string, } | { "cmd": "evaluate", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run (default: the newest completed run).
 */
run: string | null, 
/**
 * `dev` or `test` (`train` is recomputed with the run's model).
 */
split: Split, } | { "cmd": "run_records", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run id.
 */
run: string, 
/**
 * The split the run scored (none: every record it predicted).
 */
split: Split | null, 
/**
 * Records whose gold value has this label.
 */
gold: string | null, 
/**
 * Records whose prediction has this label.
 */
predicted: string | null, 
/**
 * Records where this label is gold or predicted.
 */
label: string | null, 
/**
 * Only wrong predictions (for `label`: its false positives and negatives).
 */
only_errors: boolean | null, 
/**
 * At most this many rows (default 50, at most 1000).
 */
limit: number | null, 
/**
 * Skip this many rows first.
 */
offset: number | null, } | { "cmd": "export_model", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run id.
 */
run: string, 
/**
 * The folder to write.
 */
dest: string, } | { "cmd": "resume_run", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run to resume.
 */
run: string, };

export type ImportRequest = { 
/**
 * `csv`, `tsv`, `jsonl`, `json`, `xlsx`, `text`, `conll`; detected when absent.
 */
format: string | null, 
/**
 * `auto` (default), `utf-8`, `gb18030`...
 */
encoding: string | null, 
/**
 * One-character CSV delimiter; detected when absent.
 */
delimiter: string | null, 
/**
 * Column mapping.
 */
columns: ColumnMap, 
/**
 * Label every record without one with this label.
 */
fixed_label: string | null, 
/**
 * Add unknown labels to the label set.
 */
add_labels: boolean, 
/**
 * Import nothing if any row is bad.
 */
strict: boolean, 
/**
 * Import records whose text is already in the project.
 */
keep_duplicates: boolean, };

export type AppInfo = { 
/**
 * Finelab's version.
 */
version: string, 
/**
 * The project the shell was started with, if any.
 */
project: string | null, };

export type ProjectView = { 
/**
 * The folder (absolute).
 */
dir: string, 
/**
 * Settings.
 */
settings: ProjectSettings, 
/**
 * The label set.
 */
labels: Array<LabelDef>, 
/**
 * Counts.
 */
stats: Stats, };

export type RecentProject = { 
/**
 * The folder.
 */
dir: string, 
/**
 * Its name.
 */
name: string, 
/**
 * Last opened (ms since the epoch).
 */
opened_at: number, };

export type JobStatus = "running" | "done" | "failed" | "cancelled";

export type JobState = { 
/**
 * The job id.
 */
id: number, 
/**
 * What it does (`import`, `train`, `download`).
 */
kind: string, 
/**
 * The project folder it works on (absolute; none for a download).
 */
dir: string | null, 
/**
 * Lifecycle.
 */
status: JobStatus, 
/**
 * Units done (bytes for imports and downloads, steps for training).
 */
done: number, 
/**
 * Units in all.
 */
total: number, 
/**
 * A short line for the UI.
 */
message: string, 
/**
 * The outcome when done.
 */
result: JsonValue | null, 
/**
 * The error when failed.
 */
error: ErrorBody | null, 
/**
 * Live training progress (train jobs only).
 */
train: TrainProgress | null, };

export type ErrorBody = { 
/**
 * Stable machine-readable code.
 */
code: string, 
/**
 * Human message (the whole chain).
 */
message: string, 
/**
 * Structured details, when there are any.
 */
details: JsonValue | null, };

export type CreateProject = { 
/**
 * Display name (defaults to the folder name).
 */
name: string | null, 
/**
 * Task kind.
 */
kind: ProjectKind, 
/**
 * Label names, in order; colours and hotkeys get defaults unless `label_defs` is given.
 */
labels: Array<string>, 
/**
 * Full label definitions (override `labels`).
 */
label_defs: Array<LabelDef> | null, 
/**
 * Guidelines in Markdown.
 */
guidelines: string | null, 
/**
 * Split seed (default 42).
 */
split_seed: number | null, 
/**
 * Split ratios train, dev, test (default 0.8, 0.1, 0.1).
 */
split_ratios: [number, number, number] | null, };

export type ImportOutcome = { 
/**
 * The import report.
 */
report: ImportReport, 
/**
 * Splits given to newly labeled records.
 */
splits: SplitSummary, };

export type ProjectKind = "single" | "multi" | "spans";

export type LabelDef = { 
/**
 * The label's name, unique in the project.
 */
name: string, 
/**
 * A CSS colour such as `#4e79a7`.
 */
color: string, 
/**
 * The key that applies it in the label screen.
 */
hotkey: string | null, 
/**
 * What the label means, for annotators.
 */
description: string, };

export type SplitRatios = { 
/**
 * Share of the training split.
 */
train: number, 
/**
 * Share of the development split.
 */
dev: number, 
/**
 * Share of the test split.
 */
test: number, };

export type ProjectSettings = { 
/**
 * Display name.
 */
name: string, 
/**
 * The task kind.
 */
kind: ProjectKind, 
/**
 * Annotation guidelines in Markdown.
 */
guidelines: string, 
/**
 * Seed of the split assignment.
 */
split_seed: number, 
/**
 * Split proportions.
 */
split_ratios: SplitRatios, 
/**
 * When the project was created (ms since the epoch).
 */
created_at: number, };

export type Span = { 
/**
 * First code point.
 */
start: number, 
/**
 * One past the last code point.
 */
end: number, 
/**
 * The label.
 */
label: string, };

export type Turn = { 
/**
 * Who speaks ("customer", "agent", "用户"...); may be empty.
 */
speaker: string, 
/**
 * What they say.
 */
text: string, };

export type AnnotationValue = { "label": string } | { "labels": Array<string> } | { "spans": Array<Span> };

export type Record = { 
/**
 * Internal sequence number (import order).
 */
seq: number, 
/**
 * The stable id (from the import's id column, else derived from the content).
 */
id: string, 
/**
 * The text as shown.
 */
text: string, 
/**
 * Dialog turns, when the record is a dialog.
 */
turns: Array<Turn> | null, 
/**
 * Metadata from the source (other columns, `meta` objects).
 */
meta: { [key in string]?: unknown } | null, 
/**
 * The split, once assigned.
 */
split: Split | null, 
/**
 * The file it came from.
 */
source: string | null, 
/**
 * Its line in that file.
 */
source_line: number | null, };

export type RecordView = { 
/**
 * The record.
 */
record: Record, 
/**
 * The current value of the latest annotator who labeled it.
 */
value: AnnotationValue | null, 
/**
 * Who gave `value`.
 */
annotator: string | null, 
/**
 * Every annotator's current value.
 */
annotations: Array<CurrentAnnotation>, 
/**
 * The newest completed run's prediction for this record, offered as a suggestion
 * (pre-annotation) that one key accepts; absent when no completed run predicted it.
 */
prediction: Suggestion | null, };

export type CurrentAnnotation = { 
/**
 * Who.
 */
annotator: string, 
/**
 * The current value, if labeled.
 */
value: AnnotationValue | null, 
/**
 * Skipped by this annotator.
 */
skipped: boolean, 
/**
 * Flagged for review by this annotator.
 */
flagged: boolean, 
/**
 * Last change (ms since the epoch).
 */
updated_at: number, };

export type Split = "train" | "dev" | "test";

export type Stats = { 
/**
 * The project's name.
 */
name: string, 
/**
 * The task kind.
 */
kind: ProjectKind, 
/**
 * Number of records.
 */
records: number, 
/**
 * Records with a current label by at least one annotator.
 */
labeled: number, 
/**
 * Records labeled per label name (each record counted once per label).
 */
labels: { [key in string]?: number }, 
/**
 * Labeled records per split.
 */
splits: { [key in string]?: number }, 
/**
 * Everyone who has annotated, sorted.
 */
annotators: Array<string>, 
/**
 * Training runs recorded.
 */
runs: number, 
/**
 * Records flagged for review.
 */
flagged: number, 
/**
 * Entries in the annotation log.
 */
log_entries: number, 
/**
 * Records covered by the search index (the rest are scanned).
 */
search_indexed: number, };

export type Action = { "action": "label", 
/**
 * The value.
 */
value: AnnotationValue, } | { "action": "skip" } | { "action": "flag" } | { "action": "unflag" };

export type Receipt = { 
/**
 * The log entry written.
 */
annotation_id: number, 
/**
 * The record it applies to (sequence number).
 */
record_seq: number, 
/**
 * The record's stable id.
 */
record_id: string, 
/**
 * How the number of labeled records changed: -1, 0 or +1 (lets a UI keep its counter
 * without recounting a million rows).
 */
labeled_delta: number, };

export type LogEntry = { 
/**
 * Entry id (log order).
 */
id: number, 
/**
 * Who.
 */
annotator: string, 
/**
 * `label`, `skip`, `flag`, `unflag` or `undo`.
 */
action: string, 
/**
 * The value of a `label` entry.
 */
value: AnnotationValue | null, 
/**
 * The entry an `undo` cancels.
 */
undoes: number | null, 
/**
 * When (ms since the epoch).
 */
created_at: number, };

export type SplitSummary = { 
/**
 * Records given a split now.
 */
assigned: number, 
/**
 * Labeled records per split after the assignment.
 */
train: number, 
/**
 * See `train`.
 */
dev: number, 
/**
 * See `train`.
 */
test: number, };

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
 * `running`, `completed`, `cancelled`, `failed`, `interrupted`.
 */
status: string, 
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
error: string | null, };

export type Status = "unlabeled" | "labeled" | "skipped" | "flagged";

export type SearchQuery = { 
/**
 * Substring to find (case-insensitive), Chinese or English.
 */
text: string | null, 
/**
 * Records with this label (by any annotator).
 */
label: string | null, 
/**
 * Records in this split.
 */
split: Split | null, 
/**
 * Records this annotator has labeled.
 */
annotator: string | null, 
/**
 * Records with this status.
 */
status: Status | null, 
/**
 * Keyset pagination: only records after this sequence number.
 */
after_seq: number | null, 
/**
 * Skip this many matching records first (for a virtualized table jumping far ahead; keyset
 * pagination with `after_seq` is cheaper for scrolling on).
 */
offset: number | null, 
/**
 * At most this many hits (default 50).
 */
limit: number | null, 
/**
 * Records whose prediction (by `run`, else the newest completed run with predictions)
 * has this label: the predicted label (single), among the predicted labels (multi), the
 * label of a predicted span (spans).
 */
predicted_label: string | null, 
/**
 * Records whose prediction's score is at least this.
 */
min_score: number | null, 
/**
 * Records whose prediction's score is at most this.
 */
max_score: number | null, 
/**
 * Order of the hits (default import order).
 */
sort: SearchSort | null, 
/**
 * The run whose predictions `predicted_label`, the score bounds and the score sort use
 * (default: the newest completed run with predictions).
 */
run: string | null, };

export type SearchPage = { 
/**
 * The hits in import order.
 */
hits: Array<RecordView>, 
/**
 * Pass as `after_seq` to get the next page; `None` on the last page.
 */
next_after: number | null, };

export type Format = "csv" | "tsv" | "jsonl" | "json" | "xlsx" | "text" | "conll";

export type ColumnMap = { 
/**
 * The text column (name, or 1-based number).
 */
text: string | null, 
/**
 * The label column.
 */
label: string | null, 
/**
 * The id column.
 */
id: string | null, 
/**
 * The conversation-id column: rows sharing it become one dialog record.
 */
group: string | null, 
/**
 * The speaker column of dialog rows.
 */
speaker: string | null, };

export type RowError = { 
/**
 * Line in the file (1-based; for a spreadsheet, the row number).
 */
line: number, 
/**
 * Why it was rejected.
 */
reason: string, };

export type Duplicate = { 
/**
 * Line in the file.
 */
line: number, 
/**
 * The id of the record that already has this text.
 */
existing_id: string, };

export type ImportReport = { 
/**
 * The file.
 */
path: string, 
/**
 * Its format.
 */
format: Format, 
/**
 * The encoding it was read with.
 */
encoding: string, 
/**
 * The CSV delimiter used.
 */
delimiter: string | null, 
/**
 * Rows (records, dialogs, sentences) read from the file.
 */
rows: number, 
/**
 * Records imported.
 */
imported: number, 
/**
 * Of those, records that came with a label.
 */
labeled: number, 
/**
 * Rows skipped as duplicates.
 */
duplicates: number, 
/**
 * The first duplicates, with the record they repeat.
 */
duplicate_examples: Array<Duplicate>, 
/**
 * Every rejected row (up to 100,000 listed; `n_rejected` counts all).
 */
rejected: Array<RowError>, 
/**
 * Rejected rows.
 */
n_rejected: number, 
/**
 * Labels added to the label set (`add_labels`).
 */
added_labels: Array<string>, 
/**
 * Seconds spent.
 */
seconds: number, };

export type ImportProgress = { 
/**
 * Bytes of the file read so far.
 */
bytes_read: number, 
/**
 * The file's size.
 */
bytes_total: number, 
/**
 * Rows handled so far.
 */
rows: number, };

export type ImportPreview = { 
/**
 * Detected (or given) format.
 */
format: Format, 
/**
 * Detected (or given) encoding.
 */
encoding: string, 
/**
 * Detected (or given) CSV delimiter.
 */
delimiter: string | null, 
/**
 * Column names (tables) or keys (JSON), in file order.
 */
columns: Array<string>, 
/**
 * The first rows, one cell a column.
 */
rows: Array<Array<string>>, 
/**
 * The columns the importer picks when none are named.
 */
detected: ColumnMap, };

export type SearchSort = "seq" | "score_asc" | "score_desc";

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
 * `instant` or `transformer`.
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
device?: string | null, };

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
status: string, 
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
 * `running`, `completed`, `cancelled`, `failed` or `interrupted`.
 */
status: string, 
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
n_predictions: number, };

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
status: string, 
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

