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
dir: string, };

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
 * What it does (`import`).
 */
kind: string, 
/**
 * Lifecycle.
 */
status: JobStatus, 
/**
 * Units done (bytes for imports).
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
error: ErrorBody | null, };

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
meta: Record<string, unknown> | null, 
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
annotations: Array<CurrentAnnotation>, };

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
limit: number | null, };

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

