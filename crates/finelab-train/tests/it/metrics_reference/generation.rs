//! Generation scores (chrF, BLEU, ROUGE-L) against sacrebleu and rouge-score on seeded random texts
//! in many scripts and spacings, and per-category scores computed from each category's records
//! alone.

use super::*;

const WORDS: &[&str] = &[
    "the",
    "The",
    "cat",
    "cats",
    "sat",
    "on",
    "mat",
    "a",
    "dog",
    "dog",
    "runs",
    "quickly",
    "don't",
    "re-use",
    "U.S.",
    "e.g.",
    "3.5",
    "1,000",
    "1990-2000",
    "42",
    "$9.99",
    "50%",
    "&amp;",
    "&lt;b&gt;",
    "&quot;hi&quot;",
    "<skipped>",
    "x-",
    "İstanbul",
    "Kelvin",
    "naïve",
    "café",
    "hello,",
    "world!",
    "(yes)",
    "[no]",
    "a/b",
    "why?",
    "end.",
    "...",
    "--",
    "\"quoted\"",
    "'single'",
    "我",
    "爱",
    "北京",
    "天安门",
    "模型",
    "训练",
    "数据",
    "的",
    "了",
    "，",
    "。",
    "！",
    "？",
    "“引号”",
    "——",
    "《书名》",
    "（括号）",
    "GPU训练",
    "3.5小时",
    "第1个",
    "😀",
    "𠀀",
    "ｆｕｌｌ",
    "—",
    "…",
    "→",
    "한국어",
    "カタカナ",
    "ひらがな",
];

const SEPARATORS: &[&str] = &[" ", " ", " ", " ", "", "  ", "\t", "\n", "\u{3000}", "\u{1c}", "\u{a0}", "-\n"];

fn gen_text(rng: &mut Rng, words: &[&str]) -> String {
    let n = rng.range(0, 18);
    let mut text = String::new();
    for i in 0..n {
        if i > 0 {
            text.push_str(rng.pick::<&str>(SEPARATORS));
        }
        text.push_str(rng.pick::<&str>(words));
    }
    text
}

/// An output made from its reference: kept, edited word by word, padded with whitespace,
/// emptied, or unrelated.
fn gen_output(rng: &mut Rng, reference: &str, words: &[&str]) -> String {
    match rng.below(10) {
        0 => reference.to_string(),
        1 => format!(
            "{}{reference}{}",
            rng.pick::<&str>(&[" ", "\n", "\u{3000}", "\u{1c}"]),
            rng.pick::<&str>(&["", " ", "\t\n"])
        ),
        2 => String::new(),
        3 => gen_text(rng, words),
        _ => {
            let tokens: Vec<&str> = reference.split(' ').collect();
            let mut out: Vec<String> = Vec::new();
            for t in tokens {
                match rng.below(8) {
                    0 => {}                                                        // dropped
                    1 => out.push(rng.pick(words).to_string()),                    // replaced
                    2 => out.extend([t.to_string(), t.to_string()]),               // repeated
                    3 => out.extend([rng.pick(words).to_string(), t.to_string()]), // inserted
                    4 => out.push(t.to_uppercase()),                               // case
                    _ => out.push(t.to_string()),
                }
            }
            if out.len() > 1 && rng.chance(0.3) {
                let i = rng.below(out.len() - 1);
                out.swap(i, i + 1);
            }
            out.join(*rng.pick::<&str>(&[" ", " ", ""]))
        }
    }
}

fn gen_cases() -> Vec<Value> {
    let mut rng = Rng::new(20261203);
    let english: Vec<&str> = WORDS.iter().copied().filter(|w| w.is_ascii()).collect();
    let chinese: Vec<&str> = WORDS.iter().copied().filter(|w| !w.is_ascii()).collect();
    let mut cases = vec![
        json!({"outputs": [""], "references": [""], "lang": "en"}),
        json!({"outputs": [""], "references": [""], "lang": "zh"}),
        json!({"outputs": ["the cat"], "references": ["the cat"], "lang": "en"}),
        json!({"outputs": ["a a a a a a"], "references": ["a a"], "lang": "en"}),
        json!({"outputs": ["我爱北京天安门"], "references": ["我爱北京天安门。"], "lang": "zh"}),
        json!({"outputs": ["  ", "x"], "references": ["x", "  "], "lang": "en"}),
    ];
    for i in 0..300 {
        let words: &[&str] = match i % 3 {
            0 => &english,
            1 => &chinese,
            _ => WORDS,
        };
        let lang = if i % 3 == 1 || (i % 3 == 2 && rng.chance(0.5)) { "zh" } else { "en" };
        let n = rng.range(1, 16);
        let references: Vec<String> = (0..n).map(|_| gen_text(&mut rng, words)).collect();
        let outputs: Vec<String> = references.iter().map(|r| gen_output(&mut rng, r, words)).collect();
        cases.push(json!({"outputs": outputs, "references": references, "lang": lang}));
    }
    cases
}

fn gen_ours(case: &Value) -> Value {
    let outputs = strings(&case["outputs"]);
    let references = strings(&case["references"]);
    let lang = case["lang"].as_str().unwrap().parse().unwrap();
    serde_json::to_value(generation_report(&outputs, &references, None, lang).unwrap()).unwrap()
}

fn gen_check_case(got: &Value, want: &Value) -> Result<(), String> {
    for key in ["chrf", "bleu", "mean_output_len", "rouge_l", "exact_match", "n"] {
        check_number(key, &got[key], &want[key])?;
    }
    let (got_records, want_records) = (got["records"].as_array().unwrap(), want["records"].as_array().unwrap());
    if got_records.len() != want_records.len() {
        return Err(format!("{} records, reference has {}", got_records.len(), want_records.len()));
    }
    for (i, (g, w)) in got_records.iter().zip(want_records).enumerate() {
        for key in ["sentence_chrf", "sentence_bleu", "rouge_l"] {
            check_number(&format!("records[{i}].{key}"), &g[key], &w[key])?;
        }
        if g["exact"] != w["exact"] {
            return Err(format!("records[{i}].exact: we have {}, reference has {}", g["exact"], w["exact"]));
        }
    }
    Ok(())
}

#[test]
fn generation_scores_equal_sacrebleu_and_rouge_score() {
    let cases = gen_cases();
    let reference: Vec<Value> = run_reference("gen_metrics_reference.py", &cases, "sacrebleu and rouge-score");

    let mut failures = Vec::new();
    for (i, (case, want)) in cases.iter().zip(&reference).enumerate() {
        if let Err(message) = gen_check_case(&gen_ours(case), want) {
            failures.push(format!("case {i} {case}\n  {message}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

/// A category's scores are those of its records scored alone.
#[test]
fn generation_categories_score_their_records_alone() {
    for case in gen_cases().iter().skip(6).take(40) {
        let outputs = strings(&case["outputs"]);
        let references = strings(&case["references"]);
        let lang = case["lang"].as_str().unwrap().parse().unwrap();
        let categories: Vec<Option<String>> =
            (0..outputs.len()).map(|i| [Some("odd".to_string()), None, Some("even".into())][i % 3].clone()).collect();
        let report = generation_report(&outputs, &references, Some(&categories), lang).unwrap();
        for (name, scores) in &report.categories {
            let keep: Vec<usize> = (0..outputs.len()).filter(|&i| categories[i].as_deref() == Some(name)).collect();
            let sub = |v: &[String]| keep.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
            let alone = generation_report(&sub(&outputs), &sub(&references), None, report.lang).unwrap();
            assert_eq!(*scores, alone.corpus, "category {name} of {case}");
        }
    }
}
