//! Domain types that rows become.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of task a project labels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ProjectKind {
    /// One label per record.
    Single,
    /// Any number of labels per record.
    Multi,
    /// Labeled spans of text (entities).
    Spans,
    /// Text to text: a record's text or dialog turns is the input, and its label is the output
    /// written for it ([`AnnotationValue::Output`]).
    Generate,
}

impl ProjectKind {
    /// The stable name used in settings, flags and files.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectKind::Single => "single",
            ProjectKind::Multi => "multi",
            ProjectKind::Spans => "spans",
            ProjectKind::Generate => "generate",
        }
    }
}

impl std::str::FromStr for ProjectKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "single" => Ok(ProjectKind::Single),
            "multi" => Ok(ProjectKind::Multi),
            "spans" => Ok(ProjectKind::Spans),
            "generate" => Ok(ProjectKind::Generate),
            other => Err(crate::Error::Invalid(format!(
                "unknown project kind {other:?}; expected single, multi, spans or generate"
            ))),
        }
    }
}

/// One label of the label set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct LabelDef {
    /// The label's name, unique in the project.
    pub name: String,
    /// A CSS colour such as `#4e79a7`.
    pub color: String,
    /// The key that applies it in the label screen.
    pub hotkey: Option<String>,
    /// What the label means, for annotators.
    #[serde(default)]
    pub description: String,
}

/// Colours given to labels that come without one (Tableau 10).
pub const PALETTE: &[&str] =
    &["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

impl LabelDef {
    /// A label with the default colour and hotkey for its position in the label set.
    pub fn with_defaults(name: &str, position: usize) -> LabelDef {
        let hotkey = if position < 9 { Some((position + 1).to_string()) } else { None };
        LabelDef {
            name: name.to_string(),
            color: PALETTE[position % PALETTE.len()].to_string(),
            hotkey,
            description: String::new(),
        }
    }
}

/// Split proportions (train, dev, test), validated to be non-negative and sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SplitRatios {
    /// Share of the training split.
    pub train: f64,
    /// Share of the development split.
    pub dev: f64,
    /// Share of the test split.
    pub test: f64,
}

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios { train: 0.8, dev: 0.1, test: 0.1 }
    }
}

impl SplitRatios {
    /// Validates raw proportions.
    pub fn new(train: f64, dev: f64, test: f64) -> crate::Result<SplitRatios> {
        let ok =
            [train, dev, test].iter().all(|x| x.is_finite() && *x >= 0.0) && ((train + dev + test) - 1.0).abs() < 1e-6;
        if !ok {
            return Err(crate::Error::Invalid(format!(
                "split ratios must be non-negative and sum to 1, got {train}, {dev}, {test}"
            )));
        }
        Ok(SplitRatios { train, dev, test })
    }
}

/// What `Store::create` needs.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct NewProject {
    /// Display name.
    pub name: String,
    /// The task kind.
    pub kind: ProjectKind,
    /// The label set, in display order.
    pub labels: Vec<LabelDef>,
    /// Annotation guidelines in Markdown.
    pub guidelines: String,
    /// Seed of the split assignment.
    pub split_seed: u64,
    /// Split proportions.
    pub split_ratios: SplitRatios,
}

/// A project's settings as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct ProjectSettings {
    /// Display name.
    pub name: String,
    /// The task kind.
    pub kind: ProjectKind,
    /// Annotation guidelines in Markdown.
    pub guidelines: String,
    /// Seed of the split assignment.
    pub split_seed: u64,
    /// Split proportions.
    pub split_ratios: SplitRatios,
    /// When the project was created (ms since the epoch).
    pub created_at: i64,
    /// The long-lived shells (the window, `finelab serve`) retrain the instant model in the
    /// background after this many labels by anyone (0: never); the label screen's suggestions and
    /// its uncertain-first order follow the newest model.
    pub retrain_every: u64,
    /// How many annotators label each record (1: one label per record). Each annotator is served
    /// records they have not labeled that still need labels.
    pub overlap: u32,
    /// Whether annotators signed in to a shared server see the labels of others (reviewers and
    /// admins always do).
    pub annotators_see_others: bool,
    /// What a record whose annotators tie (and no reviewer decided) trains on.
    pub tie_rule: crate::TieRule,
}

/// [`ProjectSettings::retrain_every`] of a project that never set it.
pub const DEFAULT_RETRAIN_EVERY: u64 = 50;

/// A labeled span; offsets are Unicode code points into the record's text, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
pub struct Span {
    /// First code point.
    pub start: usize,
    /// One past the last code point.
    pub end: usize,
    /// The label.
    pub label: String,
}

/// One turn of a dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Turn {
    /// Who speaks ("customer", "agent", "用户"...); may be empty.
    #[serde(default)]
    pub speaker: String,
    /// What they say.
    pub text: String,
}

/// The text of a dialog as shown: one `speaker: text` line per turn. Span offsets refer to it.
pub fn format_dialog(turns: &[Turn]) -> String {
    let mut out = String::new();
    for (i, turn) in turns.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !turn.speaker.is_empty() {
            out.push_str(&turn.speaker);
            out.push_str(": ");
        }
        out.push_str(&turn.text);
    }
    out
}

/// A record's label in the form its project's kind has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationValue {
    /// Single-label.
    Label(String),
    /// Multi-label (sorted, unique).
    Labels(Vec<String>),
    /// Spans (sorted by start).
    Spans(Vec<Span>),
    /// The output written for the record's input (generate projects): the ideal answer,
    /// reply or rewrite, kept exactly as given (newlines included). It is a label like the
    /// others, so writing or correcting it is a log entry that undo takes back, and a record
    /// with one counts as labeled and gets its split.
    Output(String),
}

impl AnnotationValue {
    /// The label names this value uses (each once).
    pub fn label_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = match self {
            AnnotationValue::Label(l) => vec![l.as_str()],
            AnnotationValue::Labels(ls) => ls.iter().map(String::as_str).collect(),
            AnnotationValue::Spans(spans) => spans.iter().map(|s| s.label.as_str()).collect(),
            AnnotationValue::Output(_) => Vec::new(),
        };
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The key records are stratified by when splits are assigned (outputs have no labels, so
    /// the records of a generate project form one stratum).
    pub fn stratum(&self) -> String {
        self.label_names().join("|")
    }

    /// The output of a generate project's label; `None` for the other kinds.
    pub fn as_output(&self) -> Option<&str> {
        match self {
            AnnotationValue::Output(output) => Some(output),
            _ => None,
        }
    }
}

/// The role a dialog turn plays for a chat model (OpenAI's `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions to the model (a turn whose speaker is `system`).
    System,
    /// Whoever the agent answers (customer, human, user...).
    User,
    /// The agent: the side whose turns a generate project learns to write.
    Assistant,
}

impl ChatRole {
    /// OpenAI's name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

/// The speakers taken as the agent when nobody says otherwise (compared case-insensitively):
/// the assistant roles of OpenAI and ShareGPT and the names customer-service exports use.
pub const DEFAULT_AGENT_SPEAKERS: &[&str] = &[
    "assistant",
    "agent",
    "bot",
    "gpt",
    "chatgpt",
    "model",
    "ai",
    "staff",
    "support",
    "客服",
    "人工客服",
    "智能客服",
    "坐席",
    "助手",
    "机器人",
    "小助手",
];

/// The role of a turn by its speaker, case-insensitively: `system` is the system; the agent
/// (assistant) is a speaker named in `agents`, or in [`DEFAULT_AGENT_SPEAKERS`] when `agents` is
/// empty, and always OpenAI's `assistant` and ShareGPT's `gpt`; anyone else is the user.
pub fn chat_role(speaker: &str, agents: &[String]) -> ChatRole {
    let speaker = speaker.trim();
    let named = |name: &str| name.trim().eq_ignore_ascii_case(speaker);
    if named("system") {
        ChatRole::System
    } else if named("assistant")
        || named("gpt")
        || (agents.is_empty() && DEFAULT_AGENT_SPEAKERS.iter().any(|a| named(a)))
        || agents.iter().any(|a| named(a))
    {
        ChatRole::Assistant
    } else {
        ChatRole::User
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Record {
    /// Internal sequence number (import order).
    pub seq: i64,
    /// The stable id (from the import's id column, else derived from the content).
    pub id: String,
    /// The text as shown.
    pub text: String,
    /// Dialog turns, when the record is a dialog.
    pub turns: Option<Vec<Turn>>,
    /// Metadata from the source (other columns, `meta` objects).
    #[ts(type = "{ [key in string]?: unknown } | null")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    /// The split, once assigned.
    pub split: Option<Split>,
    /// The file it came from.
    pub source: Option<String>,
    /// Its line in that file.
    pub source_line: Option<i64>,
}

/// A record together with its annotation state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct RecordView {
    /// The record.
    pub record: Record,
    /// The current value of the latest annotator who labeled it.
    pub value: Option<AnnotationValue>,
    /// Who gave `value`.
    pub annotator: Option<String>,
    /// Every annotator's current value.
    pub annotations: Vec<CurrentAnnotation>,
    /// The newest completed run's prediction for this record, offered as a suggestion
    /// (pre-annotation) that one key accepts; absent when no completed run predicted it.
    #[serde(default)]
    pub prediction: Option<Suggestion>,
}

/// A model's prediction for a record, as the label screen offers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Suggestion {
    /// The run that predicted it.
    pub run: String,
    /// The prediction in the shape of an annotation value (accepting it annotates with it).
    pub value: AnnotationValue,
    /// The top label: the predicted label (single), the most probable label (multi), the
    /// label of the most confident span (spans); absent for a multi-label or span prediction
    /// with no label.
    pub label: Option<String>,
    /// The model's confidence: the top label's probability (single), the highest label
    /// probability (multi), the mean span score (spans; absent without spans).
    pub score: Option<f64>,
}

/// One annotator's current state of a record, derived from the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct CurrentAnnotation {
    /// Who.
    pub annotator: String,
    /// The current value, if labeled.
    pub value: Option<AnnotationValue>,
    /// Skipped by this annotator.
    pub skipped: bool,
    /// Flagged for review by this annotator.
    pub flagged: bool,
    /// Last change (ms since the epoch).
    pub updated_at: i64,
}

/// A data split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data.
    Train,
    /// Development data (model selection, early stopping, thresholds).
    Dev,
    /// Held-out test data.
    Test,
}

impl Split {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
    /// All splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];
}

impl std::str::FromStr for Split {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "dev" => Ok(Split::Dev),
            "test" => Ok(Split::Test),
            other => Err(crate::Error::Invalid(format!("unknown split {other:?}; expected train, dev or test"))),
        }
    }
}

/// `finelab stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct Stats {
    /// The project's name.
    pub name: String,
    /// The task kind.
    pub kind: ProjectKind,
    /// Number of records.
    pub records: u64,
    /// Records with a current label by at least one annotator.
    pub labeled: u64,
    /// Records labeled per label name (each record counted once per label).
    pub labels: BTreeMap<String, u64>,
    /// Labeled records per split.
    pub splits: BTreeMap<String, u64>,
    /// Everyone who has annotated, sorted.
    pub annotators: Vec<String>,
    /// Training runs recorded.
    pub runs: u64,
    /// Records flagged for review.
    pub flagged: u64,
    /// Entries in the annotation log.
    pub log_entries: u64,
    /// Records covered by the search index (the rest are scanned).
    pub search_indexed: u64,
}

/// A labeled record in the form the trainer takes.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledRecord {
    /// The sequence number.
    pub seq: i64,
    /// The stable id.
    pub id: String,
    /// The text as shown.
    pub text: String,
    /// The dialog turns, when the record is a dialog (a generator reads them by role).
    pub turns: Option<Vec<Turn>>,
    /// The current label.
    pub value: AnnotationValue,
    /// Who gave it (the latest annotator).
    pub annotator: String,
    /// Whether it was given more than once (a second look kept it: the log holds an earlier
    /// entry with the same value, by anyone, not undone).
    pub confirmed: bool,
    /// Its split (assigned before training).
    pub split: Option<Split>,
    /// How `value` was chosen among its annotators' labels.
    pub rule: crate::LabelRule,
}

/// Where a training run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Training, or storing its predictions, in a live process.
    Running,
    /// Trained to the end (or early-stopped) and its predictions stored.
    Completed,
    /// Stopped on request, keeping its best model; its predictions stored.
    Cancelled,
    /// Training failed (`error` says why).
    Failed,
    /// Its process went away before it finished (a kill, a crash, a power cut).
    Interrupted,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Whether a run in this status can be resumed (trained again, or finished).
    pub fn is_resumable(self) -> bool {
        matches!(self, RunStatus::Cancelled | RunStatus::Interrupted | RunStatus::Failed)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunStatus {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        [RunStatus::Running, RunStatus::Completed, RunStatus::Cancelled, RunStatus::Failed, RunStatus::Interrupted]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| crate::Error::Invalid(format!("unknown run status {s:?}")))
    }
}

/// Lets a status be compared with its name, as output and tests read it.
impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl rusqlite::types::FromSql for RunStatus {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|e: crate::Error| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

impl rusqlite::types::ToSql for RunStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}
