//! Tokenization and alignment: code-point spans → token BIO tags → code-point spans on Chinese,
//! emoji and mixed text (property-style, many generated cases), truncation to `max_len`, and
//! dialogs keeping their latest turns.

use finelab_train::rng::SplitMix64;
use finelab_train::transformer::tiny::{write_tiny_bert, TinySpec};
use finelab_train::transformer::tokenize::{
    dialog_line_starts, span_is_representable, spans_to_token_tags, token_tags_to_spans, TextEncoder,
};
use finelab_train::Span;

const PIECES: &[&str] = &[
    "北京",
    "上海",
    "张伟",
    "李娜",
    "的",
    "在",
    "工作",
    "。",
    "，",
    "😀",
    "👍🏽",
    "🎉",
    "Alice",
    "Paris",
    "iPhone15",
    "Bob's",
    "東京",
    "café",
    "ÉCOLE",
    "2024年",
    "GPT-4",
    "👨‍👩‍👧",
    "x",
    "！",
    "(",
    ")",
    "Ωmega",
    "中文English混合",
];
const SEPARATORS: &[&str] = &["", " ", "  ", "\t", "，", "\n"];
const LABELS: &[&str] = &["PER", "LOC", "ORG"];

/// A random text made of pieces and separators, with spans over whole pieces.
fn case(rng: &mut SplitMix64) -> (String, Vec<Span>) {
    let mut text = String::new();
    let mut spans = Vec::new();
    let n = 1 + rng.below(8);
    for _ in 0..n {
        text.push_str(SEPARATORS[rng.below(SEPARATORS.len())]);
        let start = text.chars().count();
        // One to three pieces glued together: spans that end inside a tokenizer word are the
        // cases the tokenizer cannot always express.
        for _ in 0..1 + rng.below(2) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let end = text.chars().count();
        if rng.below(2) == 0 {
            spans.push(Span::new(start, end, LABELS[rng.below(LABELS.len())]));
        }
    }
    (text, spans)
}

fn encoder(max_len: usize) -> (tempfile::TempDir, TextEncoder) {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<&str> = PIECES.to_vec();
    write_tiny_bert(dir.path(), &corpus, &TinySpec::default()).unwrap();
    let encoder = TextEncoder::load(dir.path(), max_len).unwrap();
    (dir, encoder)
}

#[test]
fn gold_spans_survive_the_round_trip_wherever_the_tokenizer_allows() {
    let (_dir, encoder) = encoder(512);
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let mut rng = SplitMix64::new(2024);
    let (mut n_spans, mut n_exact) = (0, 0);
    for case_no in 0..2000 {
        let (text, spans) = case(&mut rng);
        let encoded = encoder.encode(&text).unwrap();
        assert!(!encoded.truncated);
        // Offsets are code points of the original text, in order, inside it.
        let n_chars = text.chars().count();
        let real: Vec<(usize, usize)> = encoded.offsets.iter().flatten().copied().collect();
        for w in real.windows(2) {
            assert!(w[0].1 <= w[1].0, "{text:?}: overlapping tokens {w:?}");
        }
        assert!(real.iter().all(|(s, e)| s < e && *e <= n_chars), "{text:?}: {real:?}");

        let (tags, inexact) = spans_to_token_tags(&encoded.offsets, &spans, &labels);
        let kept: Vec<usize> = tags.iter().flatten().copied().collect();
        let back = token_tags_to_spans(&real, &kept, &labels);
        let representable: Vec<Span> =
            spans.iter().filter(|s| span_is_representable(&encoded.offsets, s.start, s.end)).cloned().collect();
        assert_eq!(inexact, spans.len() - representable.len());
        // Every representable span comes back exactly; nothing else comes back exactly.
        for span in &representable {
            assert!(back.contains(span), "case {case_no} {text:?}: {span:?} lost; tokens {real:?}, back {back:?}");
        }
        for span in &back {
            if !spans.contains(span) {
                // An inexact gold span turns into the tokens inside it: a different span, never
                // a representable gold span's neighbour.
                assert!(
                    spans.iter().any(|g| g.start <= span.start && span.end <= g.end && !representable.contains(g)),
                    "case {case_no} {text:?}: spurious {span:?}"
                );
            }
        }
        n_spans += spans.len();
        n_exact += representable.len();
        // Span text is what the tokens cover.
        let chars: Vec<char> = text.chars().collect();
        for span in &representable {
            let s: String = chars[span.start..span.end].iter().collect();
            assert!(!s.trim().is_empty());
        }
    }
    // Most generated spans sit on word boundaries (separators, CJK characters, punctuation).
    assert!(n_spans > 1500 && n_exact * 10 > n_spans * 6, "{n_exact} of {n_spans} representable");
}

fn check_alignment(text: &str, spans: &[(usize, usize, &str)], exact: bool) {
    let (_dir, encoder) = encoder(512);
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let spans: Vec<Span> = spans.iter().map(|(s, e, l)| Span::new(*s, *e, *l)).collect();
    let encoded = encoder.encode(text).unwrap();
    let (tags, _) = spans_to_token_tags(&encoded.offsets, &spans, &labels);
    let real: Vec<(usize, usize)> = encoded.offsets.iter().flatten().copied().collect();
    let back = token_tags_to_spans(&real, &tags.iter().flatten().copied().collect::<Vec<_>>(), &labels);
    assert_eq!(back == spans, exact, "{text:?}: {spans:?} → {back:?} (tokens {real:?})");
}

#[test]
fn alignment_cases() {
    check_alignment("张伟在北京工作。", &[(0, 2, "PER"), (3, 5, "LOC")], true);
    check_alignment("😀张伟👍🏽在上海", &[(1, 3, "PER"), (6, 8, "LOC")], true);
    check_alignment("Alice lives in Paris 🎉", &[(0, 5, "PER"), (15, 20, "LOC")], true);
    check_alignment("中文English混合", &[(2, 9, "ORG")], true);
    check_alignment("café ÉCOLE", &[(0, 4, "ORG"), (5, 10, "LOC")], true);
    check_alignment("👨‍👩‍👧 张伟", &[(0, 5, "PER")], true);
    // Word pieces split an unknown compound where the vocabulary has its parts.
    check_alignment("AliceParis", &[(0, 5, "PER"), (5, 10, "LOC")], true);
    // A span ending inside a token cannot be expressed.
    check_alignment("Alice", &[(0, 3, "PER")], false);
}

#[test]
fn truncation_keeps_the_beginning_of_plain_text() {
    let (_dir, encoder) = encoder(6);
    let encoded = encoder.encode("北京上海东京工作").unwrap();
    assert!(encoded.truncated);
    assert_eq!(encoded.ids.len(), 6);
    let real: Vec<(usize, usize)> = encoded.offsets.iter().flatten().copied().collect();
    assert_eq!(real.first(), Some(&(0, 1)));
    assert_eq!(encoded.offsets.first(), Some(&None));
    assert_eq!(encoded.offsets.last(), Some(&None));
}

#[test]
fn dialogs_keep_their_latest_turns() {
    let (_dir, encoder) = encoder(14);
    let dialog = "user: 北京北京北京北京\nagent: 上海上海\nuser: 张伟在工作";
    let starts = dialog_line_starts(dialog).unwrap();
    assert_eq!(starts.len(), 3);
    let encoded = encoder.encode(dialog).unwrap();
    assert!(encoded.truncated);
    assert!(encoded.ids.len() <= 14);
    let first = encoded.offsets.iter().flatten().next().unwrap().0;
    // Whole turns are dropped from the front: what is left starts at a turn.
    assert!(starts.contains(&first), "first kept token at {first}, turns at {starts:?}");
    let last = encoded.offsets.iter().flatten().last().unwrap().1;
    assert_eq!(last, dialog.chars().count(), "the latest turn is kept whole");
    // Plain multi-line text is not a dialog.
    assert_eq!(dialog_line_starts("line one\nline two"), None);
    assert_eq!(dialog_line_starts("user: only one turn"), None);
}

#[test]
fn a_vocab_txt_alone_gives_the_same_tokens_as_tokenizer_json() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Vec<&str> = PIECES.to_vec();
    write_tiny_bert(dir.path(), &corpus, &TinySpec { tokenizer_json: false, ..TinySpec::default() }).unwrap();
    let from_vocab = TextEncoder::load(dir.path(), 64).unwrap();
    let (_dir2, from_json) = encoder(64);
    for text in ["张伟在北京工作。", "Alice 😀 Paris", "iPhone15 café"] {
        assert_eq!(from_vocab.encode(text).unwrap(), from_json.encode(text).unwrap(), "{text}");
    }
}
