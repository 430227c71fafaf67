// Generated from the Rust types by `finelab_app::typescript::typescript_files()`.
// Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types` to refresh.

import type { Action, AnnotationValue, Assignment, ColumnMap, DialogTargets, ImportPreview, ImportReport, LabelDef, ProjectKind, ProjectSettings, Receipt, RecordView, Role, SearchPage, SearchQuery, SettingsChange, Split, SplitSummary, Stats, User } from './store';
import type { AgreementReport, Comparison, ComparisonItem, ComparisonReport, ComparisonRequest, CurveRequest, DeployRequest, Deployment, Disagreements, Draft, DraftUsed, Evaluation, ExportedJob, ExportedModel, GenRecordsPage, GenRecordsQuery, ImportedRun, ModelEntry, NewPassword, NextBatch, OptimizeRequest, Person, PreferenceReceipt, Preferred, ProductionMix, RunCost, RunDetail, RunRecordsPage, RunSummary, Strategy, SuspectsReport, SuspectsRequest, TrainCurve, TrainMemory, TrainProgress, TrainRequest, TrainSetup } from './train';

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
markdown: string, } | { "cmd": "set_retrain_every", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Labels between two retrains.
 */
every: number, } | { "cmd": "update_settings", 
/**
 * The project folder.
 */
dir: string, 
/**
 * What to change.
 */
change: SettingsChange, } | { "cmd": "preview_import", 
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
action: Action, 
/**
 * Generate projects: the model's draft the output was written from (the size of the
 * edit is logged with the label).
 */
draft?: DraftUsed, } | { "cmd": "undo", 
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
request: TrainRequest, } | { "cmd": "estimate_train_memory", 
/**
 * The project folder.
 */
dir: string, 
/**
 * What to train.
 */
request: TrainRequest, } | { "cmd": "start_optimize", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run and how.
 */
request: OptimizeRequest, } | { "cmd": "run_costs", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Measure each model's inference speed (on up to 256 texts of its scored split).
 */
speed: boolean | null, } | { "cmd": "list_runs", 
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
dest: string, 
/**
 * A generator run: write its PEFT LoRA adapter (`adapter_config.json`,
 * `adapter_model.safetensors`) instead of the merged Hugging Face folder.
 */
adapter?: boolean, } | { "cmd": "resume_run", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run to resume.
 */
run: string, } | { "cmd": "export_job", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The recipe, as for `start_train` (the model is an encoder folder or hub name).
 */
request: TrainRequest, 
/**
 * The job folder (new or empty).
 */
out?: string, } | { "cmd": "next_batch", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Who labels.
 */
annotator: string, 
/**
 * How many.
 */
n: number, 
/**
 * The order.
 */
strategy: Strategy, 
/**
 * Seed of the random order (default 42).
 */
seed?: number, 
/**
 * Only records the newest model predicts as this label.
 */
label?: string, } | { "cmd": "train_curve", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The model, shares and seeds.
 */
request: CurveRequest, } | { "cmd": "suspects", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Folds, seed, ranking, limit.
 */
request: SuspectsRequest, } | { "cmd": "start_suspects", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Folds, seed, ranking, limit.
 */
request: SuspectsRequest, } | { "cmd": "start_train_curve", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The model, shares and seeds.
 */
request: CurveRequest, } | { "cmd": "agreement", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Only these annotators.
 */
annotators: Array<string> | null, } | { "cmd": "disagreements", 
/**
 * The project folder.
 */
dir: string, 
/**
 * One annotator of a pair.
 */
a: string | null, 
/**
 * The other.
 */
b: string | null, 
/**
 * Records after this sequence number.
 */
after_seq: number | null, 
/**
 * At most this many.
 */
limit: number, } | { "cmd": "adjudicate", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The record.
 */
seq: number, 
/**
 * The reviewer.
 */
reviewer: string, 
/**
 * The label decided on.
 */
value: AnnotationValue, } | { "cmd": "people", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Also each one's suspected-noise rate (runs the cross-validation of `suspects`).
 */
noise: boolean | null, } | { "cmd": "assign_slice", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The records (text, label, split, predicted label...; paging ignored).
 */
query: SearchQuery, 
/**
 * Who labels them.
 */
people: Array<string>, } | { "cmd": "list_assignments", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "remove_assignment", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The slice.
 */
id: number, } | { "cmd": "production_mix", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "draft", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The record.
 */
seq: number, } | { "cmd": "start_comparison", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The sources and the sample.
 */
request: ComparisonRequest, 
/**
 * Who starts it.
 */
by: string, } | { "cmd": "list_comparisons", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "next_comparison_item", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The comparison.
 */
comparison: number, 
/**
 * Who judges.
 */
annotator: string, 
/**
 * The item just judged, to continue after it.
 */
after?: number, } | { "cmd": "prefer", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The comparison.
 */
comparison: number, 
/**
 * The item.
 */
position: number, 
/**
 * Who judges.
 */
annotator: string, 
/**
 * What they prefer.
 */
pick: Preferred, } | { "cmd": "undo_preference", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The comparison.
 */
comparison: number, 
/**
 * Who.
 */
annotator: string, } | { "cmd": "comparison_report", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The comparison.
 */
comparison: number, } | { "cmd": "generation_records", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run.
 */
run: string, 
/**
 * Split, order, paging, the other run.
 */
query: GenRecordsQuery, } | { "cmd": "export_preferences", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The file to write.
 */
dest: string, } | { "cmd": "deploy", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The run.
 */
run: string, 
/**
 * Port and production logging.
 */
request: DeployRequest, } | { "cmd": "list_deployments", 
/**
 * Only those of this project folder.
 */
dir: string | null, } | { "cmd": "stop_deployment", 
/**
 * The deployment.
 */
id: number, } | { "cmd": "list_users", 
/**
 * The project folder.
 */
dir: string, } | { "cmd": "add_user", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The name they sign in with.
 */
name: string, 
/**
 * Their role.
 */
role: Role, } | { "cmd": "reset_user", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Who.
 */
name: string, } | { "cmd": "remove_user", 
/**
 * The project folder.
 */
dir: string, 
/**
 * Who.
 */
name: string, } | { "cmd": "import_run", 
/**
 * The project folder.
 */
dir: string, 
/**
 * The job's output folder.
 */
output: string, };

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
keep_duplicates: boolean, 
/**
 * Generate projects, dialogs: which agent turns become outputs (`last`, the default: one
 * record a dialog; `each_agent_turn`: every agent turn is the output of the turns before it).
 */
dialog_targets?: DialogTargets, 
/**
 * Generate projects: the speakers whose turns are the agent's (default: assistant, agent,
 * bot, gpt, 客服, 坐席, 助手...).
 */
agents?: Array<string>, };

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

export type JobKind = "import" | "train" | "download" | "suspects" | "curve";

export type JobStatus = "running" | "done" | "failed" | "cancelled";

export type JobState = { 
/**
 * The job id.
 */
id: number, 
/**
 * What it does.
 */
kind: JobKind, 
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
 * The outcome when done (or cancelled with a result, as a cancelled run keeps its model).
 */
result: JsonValue | null, 
/**
 * The error when failed.
 */
error: ErrorBody | null, 
/**
 * A train job's live progress (the detail of kind `train`).
 */
train: TrainProgress | null, };

export type ErrorCode = "not_a_project" | "already_exists" | "newer_schema" | "io" | "bad_file" | "rows_rejected" | "invalid" | "no_such_record" | "no_such_run" | "no_such_job" | "cancelled" | "database" | "migration" | "json" | "train" | "unsupported" | "bad_input" | "hub_offline" | "hub_not_found" | "hub_unauthorized" | "hub_unsupported" | "hub" | "bad_request" | "unauthorized" | "forbidden" | "forbidden_path" | "timeout" | "too_large" | "no_such_route" | "no_such_file" | "internal" | "sign_in_failed" | "session_expired" | "wrong_role" | "too_many_attempts";

export type ErrorBody = { 
/**
 * Stable machine-readable code.
 */
code: ErrorCode, 
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

export type Annotated = { 
/**
 * The `train` job this label started (the instant model retrained in the background).
 */
retrain_job: number | null, 
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

export type Responses = { app_info: AppInfo, recent_projects: Array<RecentProject>, create_project: ProjectView, open_project: ProjectView, set_guidelines: ProjectView, preview_import: ImportPreview, start_import: JobState, job: JobState, cancel_job: JobState, next_record: RecordView | null, get_record: RecordView, annotate: Annotated, set_retrain_every: ProjectView, update_settings: ProjectView, undo: Receipt | null, search: SearchPage, count_records: number, stats: Stats, train_setup: TrainSetup, inspect_model: ModelEntry, download_model: JobState, list_jobs: Array<JobState>, start_train: JobState, estimate_train_memory: TrainMemory | null, start_optimize: JobState, run_costs: Array<RunCost>, list_runs: Array<RunSummary>, get_run: RunDetail, evaluate: Evaluation, run_records: RunRecordsPage, export_model: ExportedModel, resume_run: JobState, export_job: ExportedJob, import_run: ImportedRun, next_batch: NextBatch, train_curve: TrainCurve, suspects: SuspectsReport, start_suspects: JobState, agreement: AgreementReport, disagreements: Disagreements, adjudicate: Receipt, people: Array<Person>, assign_slice: Assignment, list_assignments: Array<Assignment>, remove_assignment: Array<Assignment>, production_mix: ProductionMix, list_users: Array<User>, add_user: NewPassword, reset_user: NewPassword, remove_user: Array<User>, start_train_curve: JobState, deploy: Deployment, list_deployments: Array<Deployment>, stop_deployment: Array<Deployment>, draft: Draft | null, start_comparison: Comparison, list_comparisons: Array<Comparison>, next_comparison_item: ComparisonItem | null, prefer: PreferenceReceipt, undo_preference: PreferenceReceipt | null, comparison_report: ComparisonReport, generation_records: GenRecordsPage, export_preferences: number, };

