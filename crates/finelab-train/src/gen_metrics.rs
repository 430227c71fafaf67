//! Scores of generated text against reference outputs, equal to the libraries that define them:
//! chrF as sacrebleu's `corpus_chrf` / `sentence_chrf` (chrF2: character 6-grams, beta 2,
//! whitespace removed), BLEU as sacrebleu's `corpus_bleu` / `sentence_bleu` (tokenizer `13a` for
//! English, `zh` for Chinese), ROUGE-L as rouge-score's `RougeScorer(["rougeL"])` F-measure
//! without stemming (per non-whitespace character for Chinese), exact match after trimming.
//!
//! `tests/it/metrics_reference/generation.rs` checks every number against
//! `scripts/reference/gen_metrics_reference.py` (sacrebleu 2.6.0, rouge-score 0.1.2) to 1e-9.
//! Whitespace means what Python's `str.isspace` means, because `str.split` and `str.strip`
//! decide it there.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Which conventions tokenize the text for BLEU and ROUGE-L.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese when any reference holds a CJK character (see [`Lang::resolve`]), else English.
    Auto,
    /// Chinese: sacrebleu's `zh` tokenizer for BLEU, one token per non-whitespace character for
    /// ROUGE-L.
    Zh,
    /// English: sacrebleu's `13a` tokenizer for BLEU, rouge-score's default tokenizer for ROUGE-L.
    En,
}

impl Lang {
    /// `Zh` or `En`: `Auto` becomes `Zh` when any reference holds a Han ideograph, kana or CJK
    /// punctuation; the others are kept.
    pub fn resolve<S: AsRef<str>>(self, references: &[S]) -> Lang {
        match self {
            Lang::Auto if references.iter().any(|r| r.as_ref().chars().any(is_cjk)) => Lang::Zh,
            Lang::Auto => Lang::En,
            lang => lang,
        }
    }

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Auto => "auto",
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

impl std::str::FromStr for Lang {
    type Err = Error;

    fn from_str(s: &str) -> Result<Lang> {
        match s {
            "auto" => Ok(Lang::Auto),
            "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            other => Err(Error::InvalidDataset(format!("unknown language {other:?} (auto, zh or en)"))),
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F     // CJK symbols and punctuation
        | 0x3040..=0x30FF   // hiragana, katakana
        | 0x3400..=0x4DBF   // extension A
        | 0x4E00..=0x9FFF   // unified ideographs
        | 0xF900..=0xFAFF   // compatibility ideographs
        | 0xFF00..=0xFFEF   // full-width forms
        | 0x20000..=0x3134F // extensions B to G, compatibility supplement
    )
}

/// The scores of one output against its reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RecordScores {
    /// sacrebleu's `sentence_chrf(output, [reference]).score` (0–100).
    pub sentence_chrf: f64,
    /// sacrebleu's `sentence_bleu(output, [reference], tokenize=...).score` (0–100; smoothing
    /// `exp`, effective order).
    pub sentence_bleu: f64,
    /// rouge-score's `RougeScorer(["rougeL"]).score(reference, output)["rougeL"].fmeasure` (0–1).
    pub rouge_l: f64,
    /// The output equals the reference once leading and trailing whitespace is trimmed.
    pub exact: bool,
}

/// The scores of a set of outputs against their references.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CorpusScores {
    /// sacrebleu's `corpus_chrf(outputs, [references]).score` (0–100).
    pub chrf: f64,
    /// sacrebleu's `corpus_bleu(outputs, [references], tokenize=...).score` (0–100; smoothing
    /// `exp`, no effective order).
    pub bleu: f64,
    /// The mean of the records' [`RecordScores::rouge_l`] (0–1).
    pub rouge_l: f64,
    /// The share of records whose output is [`RecordScores::exact`] (0–1).
    pub exact_match: f64,
    /// The mean output length in BLEU tokens: sacrebleu's `corpus_bleu(...).sys_len / n` (words
    /// and punctuation for English, characters and words for Chinese).
    pub mean_output_len: f64,
    /// Number of records.
    pub n: usize,
}

/// A generation report: the corpus scores, each record's, and each category's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenReport {
    /// The conventions used (`zh` or `en`, never `auto`).
    pub lang: Lang,
    /// The scores over all records.
    #[serde(flatten)]
    pub corpus: CorpusScores,
    /// Each record's scores, in the order given.
    pub records: Vec<RecordScores>,
    /// The corpus scores of each category's records (empty without categories).
    pub categories: BTreeMap<String, CorpusScores>,
}

/// Scores `outputs` against `references` (one reference each, in the same order). `categories`,
/// when given, names each record's category (`None`: in none) and adds each category's scores.
/// Zero records give zeros.
pub fn generation_report<S: AsRef<str>>(
    outputs: &[S],
    references: &[S],
    categories: Option<&[Option<String>]>,
    lang: Lang,
) -> Result<GenReport> {
    if outputs.len() != references.len() {
        return Err(Error::LengthMismatch { gold: references.len(), pred: outputs.len() });
    }
    if let Some(c) = categories {
        if c.len() != references.len() {
            return Err(Error::LengthMismatch { gold: references.len(), pred: c.len() });
        }
    }
    let lang = lang.resolve(references);
    let segments: Vec<Segment> =
        outputs.iter().zip(references).map(|(o, r)| Segment::new(o.as_ref(), r.as_ref(), lang)).collect();
    let records: Vec<RecordScores> = segments.iter().map(Segment::scores).collect();
    let corpus = corpus_scores(&segments, &records, |_| true);
    let mut categories_out = BTreeMap::new();
    if let Some(categories) = categories {
        let mut names: Vec<&String> = categories.iter().flatten().collect();
        names.sort();
        names.dedup();
        for name in names {
            let scores = corpus_scores(&segments, &records, |i| categories[i].as_ref() == Some(name));
            categories_out.insert(name.clone(), scores);
        }
    }
    Ok(GenReport { lang, corpus, records, categories: categories_out })
}

/// The per-segment sufficient statistics of chrF and BLEU, and the ROUGE-L and exact-match scores.
struct Segment {
    chrf: [u64; 3 * CHRF_ORDER],
    bleu: BleuStats,
    rouge_l: f64,
    exact: bool,
}

impl Segment {
    fn new(output: &str, reference: &str, lang: Lang) -> Segment {
        Segment {
            chrf: chrf_stats(output, reference),
            bleu: bleu_stats(output, reference, lang),
            rouge_l: rouge_l(output, reference, lang),
            exact: py_strip(output) == py_strip(reference),
        }
    }

    fn scores(&self) -> RecordScores {
        RecordScores {
            sentence_chrf: chrf_from_stats(&self.chrf),
            sentence_bleu: bleu_from_stats(&self.bleu, true),
            rouge_l: self.rouge_l,
            exact: self.exact,
        }
    }
}

fn corpus_scores(segments: &[Segment], records: &[RecordScores], keep: impl Fn(usize) -> bool) -> CorpusScores {
    let mut chrf = [0u64; 3 * CHRF_ORDER];
    let mut bleu = BleuStats::default();
    let (mut rouge_sum, mut n_exact, mut n) = (0.0, 0usize, 0usize);
    for (_, (segment, record)) in segments.iter().zip(records).enumerate().filter(|(i, _)| keep(*i)) {
        for (total, s) in chrf.iter_mut().zip(&segment.chrf) {
            *total += s;
        }
        bleu.add(&segment.bleu);
        rouge_sum += record.rouge_l;
        n_exact += usize::from(record.exact);
        n += 1;
    }
    if n == 0 {
        return CorpusScores { chrf: 0.0, bleu: 0.0, rouge_l: 0.0, exact_match: 0.0, mean_output_len: 0.0, n: 0 };
    }
    CorpusScores {
        chrf: chrf_from_stats(&chrf),
        bleu: bleu_from_stats(&bleu, false),
        rouge_l: rouge_sum / n as f64,
        exact_match: n_exact as f64 / n as f64,
        mean_output_len: bleu.sys_len as f64 / n as f64,
        n,
    }
}

/// sacrebleu's `sentence_chrf(output, [reference]).score`: chrF2 over character n-grams of
/// orders 1 to 6 with all whitespace removed, averaged over the orders both sides have.
pub fn sentence_chrf(output: &str, reference: &str) -> f64 {
    chrf_from_stats(&chrf_stats(output, reference))
}

/// sacrebleu's `sentence_bleu(output, [reference], tokenize="zh" or "13a").score`.
pub fn sentence_bleu(output: &str, reference: &str, lang: Lang) -> f64 {
    let lang = lang.resolve(&[reference]);
    bleu_from_stats(&bleu_stats(output, reference, lang), true)
}

// ---- Python's notion of whitespace ----

/// Python's `str.isspace`, which `str.split()` and `str.strip()` use (Rust's `char::is_whitespace`
/// lacks U+001C..U+001F).
fn py_isspace(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\u{1c}'..='\u{20}' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_isspace).filter(|t| !t.is_empty())
}

// ---- chrF ----

const CHRF_ORDER: usize = 6;
const CHRF_BETA: f64 = 2.0;

fn counts<T: Eq + Hash>(items: impl Iterator<Item = T>) -> HashMap<T, u64> {
    let mut map = HashMap::new();
    for item in items {
        *map.entry(item).or_insert(0) += 1;
    }
    map
}

/// `[hyp, ref, match]` counts per order, as sacrebleu's `CHRF._get_match_statistics`: the
/// output's count is 0 for an order the reference has no n-gram of.
fn chrf_stats(output: &str, reference: &str) -> [u64; 3 * CHRF_ORDER] {
    let hyp: Vec<char> = output.chars().filter(|c| !py_isspace(*c)).collect();
    let reference: Vec<char> = reference.chars().filter(|c| !py_isspace(*c)).collect();
    let mut stats = [0u64; 3 * CHRF_ORDER];
    for n in 1..=CHRF_ORDER {
        let hyp_ngrams = counts(hyp.windows(n));
        let ref_ngrams = counts(reference.windows(n));
        let hyp_count: u64 = hyp_ngrams.values().sum();
        let ref_count: u64 = ref_ngrams.values().sum();
        let matched: u64 = hyp_ngrams.iter().map(|(g, c)| (*c).min(ref_ngrams.get(g).copied().unwrap_or(0))).sum();
        let i = 3 * (n - 1);
        stats[i] = if ref_ngrams.is_empty() { 0 } else { hyp_count };
        stats[i + 1] = ref_count;
        stats[i + 2] = matched;
    }
    stats
}

/// sacrebleu's `CHRF._compute_f_score` without epsilon smoothing (its default).
fn chrf_from_stats(stats: &[u64; 3 * CHRF_ORDER]) -> f64 {
    let factor = CHRF_BETA * CHRF_BETA;
    let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0usize);
    for s in stats.chunks(3) {
        let (n_hyp, n_ref, n_match) = (s[0], s[1], s[2]);
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += n_match as f64 / n_hyp as f64;
            avg_rec += n_match as f64 / n_ref as f64;
            effective_order += 1;
        }
    }
    if effective_order == 0 {
        return 0.0;
    }
    avg_prec /= effective_order as f64;
    avg_rec /= effective_order as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    let mut score = (1.0 + factor) * avg_prec * avg_rec;
    score /= factor * avg_prec + avg_rec;
    100.0 * score
}

// ---- BLEU ----

const BLEU_ORDER: usize = 4;

#[derive(Default)]
struct BleuStats {
    sys_len: u64,
    ref_len: u64,
    correct: [u64; BLEU_ORDER],
    total: [u64; BLEU_ORDER],
}

impl BleuStats {
    fn add(&mut self, other: &BleuStats) {
        self.sys_len += other.sys_len;
        self.ref_len += other.ref_len;
        for n in 0..BLEU_ORDER {
            self.correct[n] += other.correct[n];
            self.total[n] += other.total[n];
        }
    }
}

/// The tokens BLEU counts: sacrebleu's `BLEU._preprocess_segment` (`rstrip`, then the tokenizer).
fn bleu_tokens(text: &str, lang: Lang) -> String {
    let text = text.trim_end_matches(py_isspace);
    match lang {
        Lang::Zh => tokenize_zh(text),
        _ => tokenize_13a(text),
    }
}

fn bleu_stats(output: &str, reference: &str, lang: Lang) -> BleuStats {
    let (hyp, reference) = (bleu_tokens(output, lang), bleu_tokens(reference, lang));
    let hyp: Vec<&str> = py_split(&hyp).collect();
    let reference: Vec<&str> = py_split(&reference).collect();
    let mut stats = BleuStats { sys_len: hyp.len() as u64, ref_len: reference.len() as u64, ..Default::default() };
    for n in 1..=BLEU_ORDER {
        let hyp_ngrams = counts(hyp.windows(n));
        let ref_ngrams = counts(reference.windows(n));
        for (gram, count) in hyp_ngrams {
            stats.total[n - 1] += count;
            stats.correct[n - 1] += count.min(ref_ngrams.get(gram).copied().unwrap_or(0));
        }
    }
    stats
}

/// sacrebleu's `BLEU.compute_bleu` with `smooth_method="exp"`: an order with no match counts
/// as 1 / (2^k · total) for its k-th such order; with `effective_order`, the orders that have
/// n-grams only, else an order without n-grams makes the score 0.
fn bleu_from_stats(stats: &BleuStats, effective_order: bool) -> f64 {
    let (sys_len, ref_len) = (stats.sys_len as f64, stats.ref_len as f64);
    let mut bp = 1.0;
    if stats.sys_len < stats.ref_len {
        bp = if stats.sys_len > 0 { (1.0 - ref_len / sys_len).exp() } else { 0.0 };
    }
    if stats.correct.iter().all(|&c| c == 0) {
        return 0.0;
    }
    let mut precisions = [0.0f64; BLEU_ORDER];
    let mut smooth_mteval = 1.0;
    let mut eff_order = BLEU_ORDER;
    for n in 1..=BLEU_ORDER {
        let (correct, total) = (stats.correct[n - 1], stats.total[n - 1]);
        if total == 0 {
            break;
        }
        if effective_order {
            eff_order = n;
        }
        precisions[n - 1] = if correct == 0 {
            smooth_mteval *= 2.0;
            100.0 / (smooth_mteval * total as f64)
        } else {
            100.0 * correct as f64 / total as f64
        };
    }
    // sacrebleu's `my_log` floors log(0) at -9999999999, which makes the score 0.
    let log_sum: f64 = precisions[..eff_order].iter().map(|&p| if p == 0.0 { -9_999_999_999.0 } else { p.ln() }).sum();
    bp * (log_sum / eff_order as f64).exp()
}

/// sacrebleu's `Tokenizer13a`: `<skipped>` dropped, lines joined, the four XML entities
/// unescaped, then [`tokenize_regexp`].
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    tokenize_regexp(&format!(" {line} "))
}

/// Whether sacrebleu's `TokenizerZh` splits `c` out as a character of its own. Its table, as
/// Python compares one character with its bounds; the bounds written `'\u20000'` and
/// `'\u2f800'` there are two characters each (`'\u2000' '0'`), so they span U+2001..=U+2A6D
/// (general punctuation, symbols, arrows ...), and extension B is not split.
fn is_zh_split_char(c: char) -> bool {
    matches!(c as u32,
        0x2001..=0x2A6D
        | 0x2E80..=0x2FDF
        | 0x2FF0..=0x303F
        | 0x3100..=0x312F
        | 0x31A0..=0x31EF
        | 0x3200..=0x4DB5
        | 0x4E00..=0x9FBB
        | 0xF900..=0xFA2D
        | 0xFA30..=0xFA6A
        | 0xFA70..=0xFAD9
        | 0xFE10..=0xFE1F
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF
    )
}

/// sacrebleu's `TokenizerZh`: strip, put spaces around each Chinese character (its table), then
/// [`tokenize_regexp`] as for `13a`.
pub fn tokenize_zh(line: &str) -> String {
    let mut spaced = String::with_capacity(line.len() * 2);
    for c in py_strip(line).chars() {
        if is_zh_split_char(c) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    tokenize_regexp(&spaced)
}

/// Applies a two-character pattern as Python's `re.sub` does: leftmost matches, not
/// overlapping, scanning on after each.
fn sub_pairs(
    chars: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char, &mut Vec<char>),
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            replace(chars[i], chars[i + 1], &mut out);
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// sacrebleu's `TokenizerRegexp`, the part `13a` and `zh` share: ASCII punctuation other than
/// `'`, `,`, `-` and `.` set apart; `.` and `,` set apart unless between digits; `-` after a
/// digit set apart; single spaces.
fn tokenize_regexp(line: &str) -> String {
    // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
    let mut chars = Vec::with_capacity(line.len() * 2);
    for c in line.chars() {
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    let digit = |c: char| c.is_ascii_digit();
    let period_comma = |c: char| c == '.' || c == ',';
    // ([^0-9])([\.,]) -> "\1 \2 "
    let chars = sub_pairs(&chars, |a, b| !digit(a) && period_comma(b), |a, b, out| out.extend([a, ' ', b, ' ']));
    // ([\.,])([^0-9]) -> " \1 \2"
    let chars = sub_pairs(&chars, |a, b| period_comma(a) && !digit(b), |a, b, out| out.extend([' ', a, ' ', b]));
    // ([0-9])(-) -> "\1 \2 "
    let chars = sub_pairs(&chars, |a, b| digit(a) && b == '-', |a, b, out| out.extend([a, ' ', b, ' ']));
    let line: String = chars.into_iter().collect();
    py_split(&line).collect::<Vec<_>>().join(" ")
}

// ---- ROUGE-L ----

/// The tokens ROUGE-L compares: rouge-score's default tokenizer for English (lowercase, then the
/// runs of `[a-z0-9]`), the non-whitespace characters for Chinese.
fn rouge_tokens(text: &str, lang: Lang) -> Vec<String> {
    match lang {
        Lang::Zh => text.chars().filter(|c| !py_isspace(*c)).map(String::from).collect(),
        _ => text
            .to_lowercase()
            .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit()))
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
    }
}

/// rouge-score's `RougeScorer(["rougeL"], use_stemmer=False).score(reference, output)`'s
/// F-measure (`Lang::Zh`: with a tokenizer that yields the non-whitespace characters; `Auto`
/// resolves from the reference). 0 when either side has no token.
pub fn rouge_l(output: &str, reference: &str, lang: Lang) -> f64 {
    let lang = lang.resolve(&[reference]);
    let (target, prediction) = (rouge_tokens(reference, lang), rouge_tokens(output, lang));
    if target.is_empty() || prediction.is_empty() {
        return 0.0;
    }
    let lcs = lcs_len(&target, &prediction) as f64;
    let precision = lcs / prediction.len() as f64;
    let recall = lcs / target.len() as f64;
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn lcs_len<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            row[j + 1] = if x == y { prev[j] + 1 } else { prev[j + 1].max(row[j]) };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_13a(input: &str, expected: &str) {
        assert_eq!(tokenize_13a(input), expected, "13a of {input:?}");
    }

    fn check_zh(input: &str, expected: &str) {
        assert_eq!(tokenize_zh(input), expected, "zh of {input:?}");
    }

    #[test]
    fn tokenizers_split_as_sacrebleu() {
        check_13a("Hello, world!", "Hello , world !");
        check_13a("It costs $3.50, or 3,000 yen.", "It costs $ 3.50 , or 3,000 yen .");
        check_13a("don't re-use 1990-2000", "don't re-use 1990 - 2000");
        check_13a("a &amp;lt; b", "a < b");
        check_13a("x<skipped>y", "xy");
        check_13a("", "");
        check_zh("我爱北京。", "我 爱 北 京 。");
        check_zh("用GPU训练3.5小时", "用 GPU 训 练 3.5 小 时");
        // U+201C/U+201D fall in sacrebleu's (mistyped) U+2001..U+2A6D range: split out.
        check_zh("他说“好”", "他 说 “ 好 ”");
    }

    #[test]
    fn hand_checked_scores() {
        // Identical text scores 100 / 100 / 1.
        let r = generation_report(&["the cat sat down"], &["the cat sat down"], None, Lang::En).unwrap();
        assert_eq!((r.corpus.chrf, r.corpus.rouge_l, r.corpus.exact_match), (100.0, 1.0, 1.0));
        // 100.00000000000004 in sacrebleu too: exp of the mean log of 100.
        assert!((r.corpus.bleu - 100.0).abs() < 1e-12);
        assert_eq!(r.corpus.mean_output_len, 4.0);
        // Under four tokens a corpus has no 4-grams, and corpus BLEU (no effective order) is 0.
        assert_eq!(generation_report(&["the cat"], &["the cat"], None, Lang::En).unwrap().corpus.bleu, 0.0);
        // ROUGE-L: LCS of "the cat sat on the mat" and "the cat on mat" is 4 words: P 1, R 4/6.
        let f = rouge_l("The cat on mat", "the cat sat on the mat", Lang::En);
        assert!((f - 2.0 * (4.0 / 6.0) / (1.0 + 4.0 / 6.0)).abs() < 1e-12);
        // Sentence BLEU of a 2-word output: effective order 2, exp smoothing for the bigram.
        // unigrams 1/2 match, bigrams 0/1: precisions 50 and 100/(2·1); bp = exp(1 - 3/2).
        let b = sentence_bleu("a x", "a b c", Lang::En);
        assert!((b - (1.0f64 - 1.5).exp() * (50.0f64.ln() * 0.5 + 50.0f64.ln() * 0.5).exp()).abs() < 1e-9);
        // Exact match trims, chrF ignores whitespace.
        let r = generation_report(&["  好 的\n"], &["好 的"], None, Lang::Auto).unwrap();
        assert_eq!(r.lang, Lang::Zh);
        assert!(r.records[0].exact);
        assert_eq!(sentence_chrf("好的", "好 的"), 100.0);
        // Empty outputs score 0.
        let r = generation_report(&[""], &["something"], None, Lang::En).unwrap();
        assert_eq!((r.corpus.chrf, r.corpus.bleu, r.corpus.rouge_l), (0.0, 0.0, 0.0));
    }

    #[test]
    fn categories_are_scored_apart() {
        let categories = [Some("a".to_string()), Some("b".to_string()), None];
        let r = generation_report(&["x", "y", "z"], &["x", "q", "z"], Some(&categories), Lang::En).unwrap();
        assert_eq!(r.categories.len(), 2);
        assert_eq!(r.categories["a"].exact_match, 1.0);
        assert_eq!(r.categories["b"].exact_match, 0.0);
        assert_eq!(r.categories["b"].n, 1);
        let json = serde_json::to_value(&r).unwrap();
        for key in ["chrf", "bleu", "rouge_l", "exact_match", "mean_output_len", "n", "records", "lang"] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
        assert_eq!(json["records"][0]["exact"], true);
    }

    #[test]
    fn auto_resolves_from_references() {
        assert_eq!(Lang::Auto.resolve(&["hello", "世界"]), Lang::Zh);
        assert_eq!(Lang::Auto.resolve(&["hello"]), Lang::En);
        assert_eq!(Lang::En.resolve(&["世界"]), Lang::En);
        assert!(generation_report(&["a"], &["a", "b"], None, Lang::En).is_err());
    }
}
