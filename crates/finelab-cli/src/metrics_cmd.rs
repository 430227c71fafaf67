//! `finelab metrics --kind generate`: generated outputs scored against gold outputs with
//! `finelab_train::gen_metrics` (chrF and BLEU as sacrebleu, ROUGE-L as rouge-score, exact match).

use anyhow::{bail, Context, Result};
use finelab_train::gen_metrics::{self, CorpusScores, Lang, RecordScores};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

/// One line of a gold or prediction file: `{"id"?, "output", ...}`.
struct Line {
    line: u64,
    id: Option<String>,
    output: String,
    category: Option<String>,
}

/// What `--json` prints: the corpus scores, each category's, and each record's (gold order).
#[derive(Serialize)]
struct GenerateOutput<'a> {
    lang: Lang,
    #[serde(flatten)]
    corpus: CorpusScores,
    #[serde(skip_serializing_if = "Option::is_none")]
    category_field: Option<&'a str>,
    categories: BTreeMap<String, CorpusScores>,
    records: Vec<RecordOutput>,
}

#[derive(Serialize)]
struct RecordOutput {
    id: Option<String>,
    gold_line: u64,
    pred_line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(flatten)]
    scores: RecordScores,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads `{"id"?, "output"}` lines (blank lines skipped); ids are all there or all absent, and
/// unique. `category` is read from `meta.FIELD`, else `FIELD`.
fn read_lines(path: &Path, category: Option<&str>) -> Result<Vec<Line>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("opening {name}"))?;
    let mut lines: Vec<Line> = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    for (i, raw) in std::io::BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let raw = raw.with_context(|| format!("reading {name}"))?;
        let raw = raw.trim_start_matches('\u{feff}').trim();
        if raw.is_empty() {
            continue;
        }
        let obj: Map<String, Value> = match serde_json::from_str(raw) {
            Ok(obj) => obj,
            Err(e) => bail!("{name}:{line_no}: not a JSON object: {e}"),
        };
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(v @ (Value::String(_) | Value::Number(_))) => scalar(v),
            Some(other) => bail!("{name}:{line_no}: \"id\" must be a string or a number, found {other}"),
        };
        if let Some(id) = &id {
            if let Some(first) = first_line_of.insert(id.clone(), line_no) {
                bail!("{name}:{line_no}: duplicate id {id:?} (first on line {first})");
            }
        }
        let output = match obj.get("output") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => bail!("{name}:{line_no}: \"output\" must be a string, found {other}"),
            None => bail!("{name}:{line_no}: no \"output\" in this record"),
        };
        let category = category
            .and_then(|field| obj.get("meta").and_then(|m| m.get(field)).or_else(|| obj.get(field)).and_then(scalar));
        lines.push(Line { line: line_no, id, output, category });
    }
    if lines.is_empty() {
        bail!("{name} has no records");
    }
    let with_id = lines.iter().filter(|l| l.id.is_some()).count();
    if with_id > 0 && with_id < lines.len() {
        let missing = lines.iter().find(|l| l.id.is_none()).expect("a record lacks an id");
        let has = lines.iter().find(|l| l.id.is_some()).expect("a record has an id");
        bail!(
            "{name}:{}: this record has no \"id\" but line {} has one; give every record an id, or none",
            missing.line,
            has.line
        );
    }
    Ok(lines)
}

/// Pairs gold and predicted lines: by id when both files have ids, else by position.
fn pair<'a>(gold: &'a [Line], pred: &'a [Line], gold_name: &str, pred_name: &str) -> Result<Vec<(&'a Line, &'a Line)>> {
    if gold[0].id.is_some() && pred[0].id.is_some() {
        let gold_ids: HashMap<&str, &Line> = gold.iter().filter_map(|g| Some((g.id.as_deref()?, g))).collect();
        let mut by_id: HashMap<&str, &Line> = HashMap::new();
        for p in pred {
            let id = p.id.as_deref().unwrap_or_default();
            if !gold_ids.contains_key(id) {
                bail!("{pred_name}:{}: id {id:?} is not in the gold file {gold_name}", p.line);
            }
            by_id.insert(id, p);
        }
        gold.iter()
            .map(|g| {
                let id = g.id.as_deref().unwrap_or_default();
                match by_id.get(id) {
                    Some(p) => Ok((g, *p)),
                    None => bail!("{gold_name}:{}: id {id:?} has no prediction in {pred_name}", g.line),
                }
            })
            .collect()
    } else {
        if gold.len() != pred.len() {
            bail!(
                "{gold_name} has {} records but {pred_name} has {} (without ids in both files, records are matched by line)",
                gold.len(),
                pred.len()
            );
        }
        Ok(gold.iter().zip(pred).collect())
    }
}

/// `finelab metrics --kind generate`: prints the corpus, category and record scores as JSON, or
/// a short table.
pub fn generate(gold: &Path, pred: &Path, lang: &str, category: Option<&str>, json: bool) -> Result<()> {
    let lang: Lang = lang.parse()?;
    let (gold_name, pred_name) = (gold.display().to_string(), pred.display().to_string());
    let gold_lines = read_lines(gold, category)?;
    let pred_lines = read_lines(pred, None)?;
    let pairs = pair(&gold_lines, &pred_lines, &gold_name, &pred_name)?;
    let outputs: Vec<&str> = pairs.iter().map(|(_, p)| p.output.as_str()).collect();
    let references: Vec<&str> = pairs.iter().map(|(g, _)| g.output.as_str()).collect();
    let categories: Option<Vec<Option<String>>> =
        category.map(|_| pairs.iter().map(|(g, _)| g.category.clone()).collect());
    let report = gen_metrics::generation_report(&outputs, &references, categories.as_deref(), lang)?;
    let out = GenerateOutput {
        lang: report.lang,
        corpus: report.corpus,
        category_field: category,
        categories: report.categories,
        records: pairs
            .iter()
            .zip(report.records)
            .map(|((g, p), scores)| RecordOutput {
                id: g.id.clone(),
                gold_line: g.line,
                pred_line: p.line,
                category: g.category.clone(),
                scores,
            })
            .collect(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} records, {} conventions (BLEU tokenizer {})\n",
        out.corpus.n,
        out.lang.as_str(),
        match out.lang {
            Lang::Zh => "zh",
            _ => "13a",
        }
    );
    println!("{:<24} {:>6} {:>7} {:>7} {:>7} {:>7} {:>9}", "", "n", "chrF", "BLEU", "ROUGE-L", "exact", "mean len");
    let row = |name: &str, s: &CorpusScores| {
        // CJK characters take two columns in a terminal.
        let width: usize = name.chars().map(|c| if c >= '\u{2e80}' { 2 } else { 1 }).sum();
        let pad = " ".repeat(24usize.saturating_sub(width));
        println!(
            "{name}{pad} {:>6} {:>7.2} {:>7.2} {:>7.4} {:>7.4} {:>9.1}",
            s.n, s.chrf, s.bleu, s.rouge_l, s.exact_match, s.mean_output_len
        );
    };
    row("all", &out.corpus);
    for (name, scores) in &out.categories {
        row(name, scores);
    }
    Ok(())
}
