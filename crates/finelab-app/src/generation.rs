//! Generate projects in the window: the draft a trained generator writes for the record being
//! labeled, blind comparisons of two output sources with the win rate and its interval, and a
//! generator run's outputs record by record (chrF, the character diff against the reference, the
//! worst first).

use crate::predict::chat_messages;
use crate::{AppError, Result};
use finelab_store::{
    AnnotationValue, Choice, Comparison, DraftEdits, NewComparisonItem, Record, RunStatus, Split, Store,
};
use finelab_train::generator::generate::GenerateOptions;
use finelab_train::generator::GeneratorModel;
use finelab_train::rng::SplitMix64;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use ts_rs::TS;

/// The draft a trained generator offers for a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Draft {
    /// The run that wrote it.
    pub run: String,
    /// The output.
    pub output: String,
    /// Whether it is the run's stored output (a dev or test record) rather than generated now.
    pub stored: bool,
}

/// The draft a label was written from (sent with the label, so the size of the edit is logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DraftUsed {
    /// The run that wrote the draft.
    pub run: String,
    /// The draft as offered.
    pub text: String,
}

/// The generator last loaded for drafts, kept so that each record does not load it again.
#[derive(Default)]
pub(crate) struct DraftModel {
    loaded: Mutex<Option<(PathBuf, Arc<GeneratorModel>)>>,
}

/// The newest completed generator run of a project with a model folder.
fn newest_generator(store: &Store) -> Result<Option<finelab_store::RunRow>> {
    Ok(store.runs()?.into_iter().find(|r| {
        r.family == finelab_train::generator::FAMILY && r.status == RunStatus::Completed && r.model_dir.is_some()
    }))
}

impl DraftModel {
    /// The newest generator run's output for record `seq`: its stored output when it scored the
    /// record, else one generated now (greedy, the run's output length). `None` without a run.
    pub(crate) fn draft(&self, dir: &Path, store: &Mutex<Store>, seq: i64) -> Result<Option<Draft>> {
        let (run, record, agents) = {
            let store = store.lock().unwrap();
            let Some(run) = newest_generator(&store)? else { return Ok(None) };
            if let Some(AnnotationValue::Output(output)) =
                store.record_by_seq(seq)?.prediction.filter(|p| p.run == run.id).map(|p| p.value)
            {
                return Ok(Some(Draft { run: run.id, output, stored: true }));
            }
            (run, store.record_by_seq(seq)?.record, store.agent_speakers()?)
        };
        let model_dir = dir.join(run.model_dir.as_deref().unwrap_or_default());
        let model = {
            let mut loaded = self.loaded.lock().unwrap();
            match &*loaded {
                Some((path, model)) if *path == model_dir => model.clone(),
                _ => {
                    let model = Arc::new(GeneratorModel::load_on(&model_dir, &run.device)?);
                    *loaded = Some((model_dir.clone(), model.clone()));
                    model
                }
            }
        };
        let max_new_tokens =
            run.config["max_new_tokens"].as_u64().map(|n| n as usize).unwrap_or(crate::predict::DEFAULT_MAX_NEW_TOKENS);
        let options = GenerateOptions { max_new_tokens, ..GenerateOptions::default() };
        let dialog = chat_messages(&record.text, record.turns.as_deref(), &agents);
        let output = model.generate(&[dialog], &options)?.pop().unwrap_or_default();
        Ok(Some(Draft { run: run.id, output, stored: false }))
    }
}

/// Where a comparison takes one side's outputs from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// A generator run's stored outputs (its dev and test records).
    Run(String),
    /// The records' outputs as labeled (the one each trains on).
    Reference,
}

impl Source {
    fn parse(store: &Store, given: &str) -> Result<Source> {
        let given = given.trim();
        if given.eq_ignore_ascii_case("reference") || given.eq_ignore_ascii_case("references") {
            return Ok(Source::Reference);
        }
        let id = given.strip_prefix("run:").unwrap_or(given);
        let row = store.run(id)?;
        if row.family != finelab_train::generator::FAMILY {
            return Err(AppError::Invalid(format!(
                "run {id} is a {} run: only generator runs (or `reference`) write outputs to compare",
                row.family
            )));
        }
        Ok(Source::Run(row.id))
    }

    fn name(&self) -> String {
        match self {
            Source::Run(id) => format!("run:{id}"),
            Source::Reference => "reference".into(),
        }
    }

    fn outputs(&self, store: &Store) -> Result<HashMap<i64, String>> {
        Ok(match self {
            Source::Run(id) => store.run_outputs(id)?.into_iter().map(|o| (o.seq, o.output)).collect(),
            Source::Reference => store
                .labeled_records()?
                .into_iter()
                .filter_map(|r| match r.value {
                    AnnotationValue::Output(o) => Some((r.seq, o)),
                    _ => None,
                })
                .collect(),
        })
    }
}

/// What to compare: two sources (`run:<id>`, a run id, or `reference`) on a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ComparisonRequest {
    /// One source.
    pub a: String,
    /// The other.
    pub b: String,
    /// Records to sample (default 50; every record both sources wrote for when fewer).
    #[serde(default)]
    #[ts(optional)]
    pub n: Option<usize>,
    /// Seed of the sample and of which side shows which source (default 42).
    #[serde(default)]
    #[ts(optional)]
    pub seed: Option<u64>,
}

/// Records sampled when a comparison does not say.
pub const DEFAULT_COMPARISON_SIZE: usize = 50;

/// Starts a blind comparison: the records both sources wrote an output for, those whose outputs
/// differ, sampled (seeded) and shown each with its sides in a random order.
pub fn start_comparison(store: &mut Store, request: &ComparisonRequest, by: &str) -> Result<Comparison> {
    let a = Source::parse(store, &request.a)?;
    let b = Source::parse(store, &request.b)?;
    if a == b {
        return Err(AppError::Invalid(format!("compare two different sources; both are {}", a.name())));
    }
    let outputs_a = a.outputs(store)?;
    let outputs_b = b.outputs(store)?;
    let mut common: Vec<i64> = outputs_a.keys().filter(|s| outputs_b.contains_key(s)).copied().collect();
    common.sort_unstable();
    let n_identical = common.iter().filter(|s| outputs_a[s].trim() == outputs_b[s].trim()).count();
    let mut differing: Vec<i64> = common.into_iter().filter(|s| outputs_a[s].trim() != outputs_b[s].trim()).collect();
    let seed = request.seed.unwrap_or(42);
    let mut rng = SplitMix64::new(seed);
    rng.shuffle(&mut differing);
    differing.truncate(request.n.unwrap_or(DEFAULT_COMPARISON_SIZE).max(1));
    let items: Vec<NewComparisonItem> = differing
        .iter()
        .map(|&seq| NewComparisonItem {
            seq,
            output_a: outputs_a[&seq].clone(),
            output_b: outputs_b[&seq].clone(),
            a_left: rng.below(2) == 0,
        })
        .collect();
    Ok(store.create_comparison(&a.name(), &b.name(), seed, n_identical as u64, by, &items)?)
}

/// One judge's tally in a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct JudgeTally {
    /// Who.
    pub annotator: String,
    /// Items where they preferred `a`.
    pub wins_a: u64,
    /// Items where they preferred `b`.
    pub wins_b: u64,
    /// Ties.
    pub ties: u64,
}

/// The outcome of a comparison so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ComparisonReport {
    /// The comparison.
    pub comparison: Comparison,
    /// Judgements preferring `a` (every judge's).
    pub wins_a: u64,
    /// Judgements preferring `b`.
    pub wins_b: u64,
    /// Ties.
    pub ties: u64,
    /// `a`'s share of the judgements that preferred one side (ties left out); absent before any.
    pub win_rate_a: Option<f64>,
    /// The 95 % Wilson score interval of `win_rate_a` (statsmodels' `proportion_confint(method="wilson")`).
    pub ci_low: Option<f64>,
    /// Its upper end.
    pub ci_high: Option<f64>,
    /// Per judge.
    pub judges: Vec<JudgeTally>,
}

/// The tally of comparison `id`: wins, ties, `a`'s win rate with its interval, per judge.
pub fn comparison_report(store: &Store, id: i64) -> Result<ComparisonReport> {
    let comparison = store.comparison(id)?;
    let mut judges: Vec<JudgeTally> = Vec::new();
    for j in store.judgements(id)? {
        let tally = match judges.iter_mut().find(|t| t.annotator == j.annotator) {
            Some(t) => t,
            None => {
                judges.push(JudgeTally { annotator: j.annotator.clone(), wins_a: 0, wins_b: 0, ties: 0 });
                judges.last_mut().expect("just pushed")
            }
        };
        match j.choice {
            Choice::A => tally.wins_a += 1,
            Choice::B => tally.wins_b += 1,
            Choice::Tie => tally.ties += 1,
        }
    }
    judges.sort_by(|x, y| x.annotator.cmp(&y.annotator));
    let wins_a: u64 = judges.iter().map(|t| t.wins_a).sum();
    let wins_b: u64 = judges.iter().map(|t| t.wins_b).sum();
    let ties: u64 = judges.iter().map(|t| t.ties).sum();
    let decisive = wins_a + wins_b;
    let interval = finelab_train::metrics::wilson_interval(wins_a, decisive, finelab_train::metrics::Z_95);
    Ok(ComparisonReport {
        comparison,
        wins_a,
        wins_b,
        ties,
        win_rate_a: (decisive > 0).then(|| wins_a as f64 / decisive as f64),
        ci_low: interval.map(|i| i.0),
        ci_high: interval.map(|i| i.1),
        judges,
    })
}

/// In which order [`generation_records`] lists a run's outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum GenOrder {
    /// Lowest chrF first.
    #[default]
    Worst,
    /// Highest chrF first.
    Best,
    /// Import order.
    Seq,
}

/// Which of a generator run's outputs to list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct GenRecordsQuery {
    /// Only this split (dev or test; default both).
    #[serde(default)]
    #[ts(optional)]
    pub split: Option<Split>,
    /// Another generator run whose outputs of the same records go beside (two runs side by side).
    #[serde(default)]
    #[ts(optional)]
    pub other: Option<String>,
    /// The order (default worst first).
    #[serde(default)]
    #[ts(optional)]
    pub order: Option<GenOrder>,
    /// At most this many rows (default 20, at most 500).
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
    /// Skip this many rows first.
    #[serde(default)]
    #[ts(optional)]
    pub offset: Option<u64>,
}

/// One part of a character diff from the reference to the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DiffPart {
    /// `equal`, `insert` (in the output only) or `delete` (in the reference only).
    pub op: String,
    /// The characters.
    pub text: String,
}

/// One output of a generator run beside its reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct GenRecord {
    /// The record (its input).
    pub record: Record,
    /// The split it was scored in.
    pub split: Option<Split>,
    /// The reference the run was scored against.
    pub reference: String,
    /// The record's output as labeled now (it may have been fixed since the run).
    pub current: Option<String>,
    /// The run's output.
    pub output: String,
    /// sacrebleu's sentence chrF of the output against the reference (0 to 100).
    pub chrf: f64,
    /// The other run's output, when one was asked for.
    pub other_output: Option<String>,
    /// Its chrF against the same reference.
    pub other_chrf: Option<f64>,
    /// The character diff from the reference to the output.
    pub diff: Vec<DiffPart>,
}

/// A page of a generator run's outputs, with the distribution of their chrF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct GenRecordsPage {
    /// The rows.
    pub rows: Vec<GenRecord>,
    /// Outputs matching in all.
    pub total: u64,
    /// How many outputs score chrF in [0, 10), [10, 20) ... [90, 100].
    pub histogram: Vec<u64>,
    /// Mean sentence chrF of the matching outputs.
    pub mean_chrf: f64,
    /// How much annotators changed the drafts they saved (the project's whole log).
    pub draft_edits: DraftEdits,
}

/// The character diff from `reference` to `output`.
pub fn char_diff(reference: &str, output: &str) -> Vec<DiffPart> {
    let diff =
        similar::TextDiff::configure().timeout(std::time::Duration::from_millis(200)).diff_chars(reference, output);
    let mut parts: Vec<DiffPart> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            similar::ChangeTag::Equal => "equal",
            similar::ChangeTag::Insert => "insert",
            similar::ChangeTag::Delete => "delete",
        };
        match parts.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => parts.push(DiffPart { op: op.into(), text: change.value().to_string() }),
        }
    }
    parts
}

/// A generator run's outputs with their chrF against the references they were scored against.
pub fn generation_records(store: &Store, run: &str, query: &GenRecordsQuery) -> Result<GenRecordsPage> {
    let row = store.run(run)?;
    if row.family != finelab_train::generator::FAMILY {
        return Err(AppError::Invalid(format!("run {run} is a {} run, not a generator", row.family)));
    }
    let other: HashMap<i64, String> = match &query.other {
        Some(o) if !o.trim().is_empty() => match Source::parse(store, o)? {
            Source::Run(id) => store.run_outputs(&id)?.into_iter().map(|o| (o.seq, o.output)).collect(),
            Source::Reference => {
                return Err(AppError::Invalid("compare with another run: the references are shown already".into()))
            }
        },
        _ => HashMap::new(),
    };
    let mut scored: Vec<(i64, Option<Split>, String, String, f64)> = store
        .run_outputs(run)?
        .into_iter()
        .filter(|o| o.reference.is_some() && (query.split.is_none() || o.split == query.split))
        .map(|o| {
            let reference = o.reference.unwrap_or_default();
            let chrf = finelab_train::gen_metrics::sentence_chrf(&o.output, &reference);
            (o.seq, o.split, reference, o.output, chrf)
        })
        .collect();
    let mut histogram = vec![0u64; 10];
    for s in &scored {
        histogram[((s.4 / 10.0).floor() as usize).min(9)] += 1;
    }
    let total = scored.len() as u64;
    let mean_chrf = if scored.is_empty() { 0.0 } else { scored.iter().map(|s| s.4).sum::<f64>() / total as f64 };
    match query.order.unwrap_or_default() {
        GenOrder::Worst => scored.sort_by(|x, y| x.4.total_cmp(&y.4).then(x.0.cmp(&y.0))),
        GenOrder::Best => scored.sort_by(|x, y| y.4.total_cmp(&x.4).then(x.0.cmp(&y.0))),
        GenOrder::Seq => scored.sort_by_key(|s| s.0),
    }
    let limit = query.limit.unwrap_or(20).min(500) as usize;
    let offset = query.offset.unwrap_or(0) as usize;
    let mut rows = Vec::new();
    for (seq, split, reference, output, chrf) in scored.into_iter().skip(offset).take(limit) {
        let view = store.record_by_seq(seq)?;
        let other_output = other.get(&seq).cloned();
        rows.push(GenRecord {
            other_chrf: other_output.as_ref().map(|o| finelab_train::gen_metrics::sentence_chrf(o, &reference)),
            other_output,
            diff: char_diff(&reference, &output),
            current: view.value.as_ref().and_then(AnnotationValue::as_output).map(str::to_string),
            record: view.record,
            split,
            reference,
            output,
            chrf,
        });
    }
    Ok(GenRecordsPage { rows, total, histogram, mean_chrf, draft_edits: store.draft_edits()? })
}

/// Writes the preference pairs of every comparison to `dest` (see
/// [`Store::export_preferences`]); returns how many.
pub fn export_preferences(store: &Store, dest: &Path) -> Result<u64> {
    let io = |e| AppError::Io { path: dest.display().to_string(), source: e };
    // Written beside the target and renamed, so a failed export never leaves half a file.
    let tmp = dest.with_extension("finelab-tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
    let n = store.export_preferences(&mut out)?;
    drop(out);
    std::fs::rename(&tmp, dest).map_err(io)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_rebuild_both_sides() {
        let (reference, output) = ("您好，退款已经到账了", "你好，退款已到账");
        let parts = char_diff(reference, output);
        let side = |skip: &str| parts.iter().filter(|p| p.op != skip).map(|p| p.text.as_str()).collect::<String>();
        assert_eq!(side("insert"), reference);
        assert_eq!(side("delete"), output);
        assert!(parts.iter().any(|p| p.op == "delete" && p.text.contains('经')));
    }
}
