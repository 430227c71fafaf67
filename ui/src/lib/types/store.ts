// Generated from the Rust types by `finelab_app::typescript::typescript_files()`.
// Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types` to refresh.

import type { Suggestion } from './train';

export type ProjectKind = "single" | "multi" | "spans" | "generate";

export type RunStatus = "running" | "completed" | "cancelled" | "failed" | "interrupted";

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
created_at: number, 
/**
 * The long-lived shells (the window, `finelab serve`) retrain the instant model in the
 * background after this many labels by anyone (0: never); the label screen's suggestions and
 * its uncertain-first order follow the newest model.
 */
retrain_every: number, 
/**
 * How many annotators label each record (1: one label per record). Each annotator is served
 * records they have not labeled that still need labels.
 */
overlap: number, 
/**
 * Whether annotators signed in to a shared server see the labels of others (reviewers and
 * admins always do).
 */
annotators_see_others: boolean, 
/**
 * What a record whose annotators tie (and no reviewer decided) trains on.
 */
tie_rule: TieRule, };

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

export type AnnotationValue = { "label": string } | { "labels": Array<string> } | { "spans": Array<Span> } | { "output": string };

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
speaker: string | null, 
/**
 * The output column (or JSON key) of a generate project; the text column is its input.
 */
output?: string | null, };

export type DialogTargets = "last" | "each_agent_turn";

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
 * Labeled records given their train/dev/test split by this import (those whose row named
 * no split), in the same transaction.
 */
splits_assigned: number, 
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
 * Rows left out on purpose, with their line and why (a Prodigy `ignore` answer, a `reject`
 * that names no label); the first 100,000. They are no error: `strict` accepts them.
 */
skipped: Array<RowError>, 
/**
 * Rows left out on purpose in all.
 */
n_skipped: number, 
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

export type Role = "annotator" | "reviewer" | "admin";

export type User = { 
/**
 * The name they sign in with, and their annotator name in the log.
 */
name: string, 
/**
 * What they may do.
 */
role: Role, 
/**
 * When they were added (ms since the epoch).
 */
created_at: number, 
/**
 * When their password was last set (ms); sessions signed in before it have ended.
 */
password_changed_at: number, };

export type LabelRule = "adjudicated" | "majority" | "single" | "tie_latest";

export type TieRule = "latest" | "skip";

export type Assignment = { 
/**
 * Its id.
 */
id: number, 
/**
 * The records: what a search with this query finds (paging fields ignored).
 */
query: SearchQuery, 
/**
 * Who labels them.
 */
people: Array<string>, 
/**
 * When it was made (ms since the epoch).
 */
created_at: number, };

export type SettingsChange = { 
/**
 * Labels between two background retrains of the instant model (0: never).
 */
retrain_every: number | null, 
/**
 * Annotators per record (1 to 20).
 */
overlap: number | null, 
/**
 * Whether signed-in annotators see the labels of others.
 */
annotators_see_others: boolean | null, 
/**
 * What a record whose annotators tie trains on.
 */
tie_rule: TieRule | null, };

