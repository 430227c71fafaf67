//! Tokenization with the `tokenizers` crate, truncation, and the alignment between code-point
//! spans and token tags.
//!
//! Offsets are code points of the original text (`encode_char_offsets`), the convention spans
//! are stored in, so no UTF-8 or UTF-16 arithmetic happens here.

use std::path::{Path, PathBuf};

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};
use crate::metrics::Span;

/// Name of the tokenizer file in a model folder.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The special tokens a sequence is wrapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// First token (`[CLS]`, `<s>`).
    pub cls: u32,
    /// Last token (`[SEP]`, `</s>`).
    pub sep: u32,
    /// Padding.
    pub pad: u32,
}

/// One text as the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Code-point offsets of each token in the original text; special tokens have `None`.
    pub offsets: Vec<Option<(usize, usize)>>,
    /// Whether tokens were dropped to fit `max_len`.
    pub truncated: bool,
}

/// Token ids and their code-point offsets.
pub type Tokens = (Vec<u32>, Vec<(usize, usize)>);

/// A tokenizer plus the rules for turning a text into one model input.
#[derive(Clone)]
pub struct TextEncoder {
    tokenizer: Tokenizer,
    specials: Specials,
    /// Longest input in tokens, special tokens included.
    pub max_len: usize,
    /// Where the tokenizer came from (for error messages).
    pub source: PathBuf,
}

impl std::fmt::Debug for TextEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextEncoder").field("specials", &self.specials).field("max_len", &self.max_len).finish()
    }
}

fn tok_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::ModelFolder { path: path.to_path_buf(), message: format!("cannot read the tokenizer: {e}") }
}

/// A BERT WordPiece tokenizer (the one `BertTokenizerFast` builds) from a `vocab.txt`.
pub fn wordpiece_from_vocab(vocab: &Path, lowercase: bool) -> Result<Tokenizer> {
    let path = vocab.to_str().ok_or_else(|| tok_err(vocab, "the path is not UTF-8"))?;
    let model = WordPiece::from_file(path).unk_token("[UNK]".into()).build().map_err(|e| tok_err(vocab, e))?;
    let mut tokenizer = Tokenizer::new(model);
    let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| tok_err(vocab, format!("{t} is not in the vocabulary")));
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    tokenizer.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_post_processor(Some(BertProcessing::new(("[SEP]".into(), sep), ("[CLS]".into(), cls))));
    tokenizer.with_decoder(Some(WordPieceDecoder::default()));
    let specials: Vec<AddedToken> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .filter(|t| tokenizer.token_to_id(t).is_some())
        .map(|t| AddedToken::from(*t, true))
        .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

impl TextEncoder {
    /// Loads `tokenizer.json` from `dir`, else builds a WordPiece tokenizer from `vocab.txt`
    /// (lower-casing unless `tokenizer_config.json` says `"do_lower_case": false`).
    pub fn load(dir: &Path, max_len: usize) -> Result<TextEncoder> {
        let json = dir.join(TOKENIZER_FILE);
        let vocab = dir.join("vocab.txt");
        let (mut tokenizer, source) = if json.is_file() {
            (Tokenizer::from_file(&json).map_err(|e| tok_err(&json, e))?, json)
        } else if vocab.is_file() {
            let lowercase = std::fs::read_to_string(dir.join("tokenizer_config.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("do_lower_case").and_then(|b| b.as_bool()))
                .unwrap_or(true);
            (wordpiece_from_vocab(&vocab, lowercase)?, vocab)
        } else {
            return Err(Error::ModelFolder {
                path: json,
                message: "no tokenizer: the folder has neither tokenizer.json nor vocab.txt \
                          (sentencepiece-only folders must be converted to tokenizer.json first)"
                    .into(),
            });
        };
        // Truncation and padding are decided per input below; settings saved in the file
        // (MiniLM's pads everything to 128) would get in the way.
        tokenizer.with_truncation(None).map_err(|e| tok_err(&source, e))?;
        tokenizer.with_padding(None);
        let id = |names: &[&str]| names.iter().find_map(|n| tokenizer.token_to_id(n));
        let (Some(cls), Some(sep)) = (id(&["[CLS]", "<s>"]), id(&["[SEP]", "</s>"])) else {
            return Err(Error::ModelFolder {
                path: source.clone(),
                message: "the vocabulary has neither [CLS]/[SEP] nor <s>/</s>".into(),
            });
        };
        let pad = id(&["[PAD]", "<pad>"]).unwrap_or(0);
        Ok(TextEncoder { tokenizer, specials: Specials { cls, sep, pad }, max_len, source })
    }

    /// The special tokens.
    pub fn specials(&self) -> Specials {
        self.specials
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Writes the tokenizer as `tokenizer.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(TOKENIZER_FILE);
        self.tokenizer.save(&path, false).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// Tokens of `text` without special tokens: ids and code-point offsets.
    pub fn tokens(&self, text: &str) -> Result<Tokens> {
        let encoding = self.tokenizer.encode_char_offsets(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok((encoding.get_ids().to_vec(), encoding.get_offsets().to_vec()))
    }

    /// Encodes one text, wrapped in the special tokens and cut to `max_len` tokens. A dialog
    /// (several "speaker: text" lines) that is too long keeps its latest turns whole, dropping
    /// the oldest ones; if the latest turn alone is too long, its beginning is kept. Any other
    /// text keeps its beginning.
    pub fn encode(&self, text: &str) -> Result<EncodedText> {
        let (ids, offsets) = self.tokens(text)?;
        let budget = self.max_len.saturating_sub(2).max(1);
        let (first, last, truncated) = if ids.len() <= budget {
            (0, ids.len(), false)
        } else {
            let mut first = 0;
            if let Some(starts) = dialog_line_starts(text) {
                // The earliest turn from which the rest fits.
                for &line_start in &starts {
                    let from = offsets.partition_point(|o| o.0 < line_start);
                    if ids.len() - from <= budget {
                        first = from;
                        break;
                    }
                }
                if first == 0 {
                    // Not even the latest turn fits: keep its beginning.
                    let last_start = *starts.last().expect("a dialog has lines");
                    first = offsets.partition_point(|o| o.0 < last_start);
                }
            }
            (first, (first + budget).min(ids.len()), true)
        };
        let mut out_ids = Vec::with_capacity(last - first + 2);
        let mut out_offsets = Vec::with_capacity(last - first + 2);
        out_ids.push(self.specials.cls);
        out_offsets.push(None);
        out_ids.extend_from_slice(&ids[first..last]);
        out_offsets.extend(offsets[first..last].iter().map(|o| Some(*o)));
        out_ids.push(self.specials.sep);
        out_offsets.push(None);
        Ok(EncodedText { ids: out_ids, offsets: out_offsets, truncated })
    }
}

/// Code-point offsets of the lines of a dialog — text of at least two lines, each non-empty one
/// starting with a short "speaker:" — or `None` for any other text.
pub fn dialog_line_starts(text: &str) -> Option<Vec<usize>> {
    let mut starts = Vec::new();
    let mut pos = 0usize;
    for line in text.split('\n') {
        let n = line.chars().count();
        if !line.trim().is_empty() {
            let colon = line.chars().take(41).position(|c| c == ':' || c == '：')?;
            if colon == 0 {
                return None;
            }
            starts.push(pos);
        }
        pos += n + 1;
    }
    (starts.len() >= 2).then_some(starts)
}

/// Tag index of O; B-x is `1 + 2k`, I-x `2 + 2k` for the k-th entity type (as `instant` names them).
pub const TAG_O: usize = 0;

/// Gold code-point spans to one BIO tag per token (`None` for special tokens, which the loss
/// ignores). A token is inside a span when its code points lie within it; the first token inside
/// is B, the others I. Overlapping spans cannot be expressed in BIO: the one starting first (then
/// the longest) wins. Also returns how many spans the tokens cannot express exactly (a boundary
/// inside a token, or no token inside: see [`span_is_representable`]).
pub fn spans_to_token_tags(
    offsets: &[Option<(usize, usize)>],
    spans: &[Span],
    labels: &[String],
) -> (Vec<Option<usize>>, usize) {
    let mut tags: Vec<Option<usize>> = offsets.iter().map(|o| o.map(|_| TAG_O)).collect();
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut inexact = 0;
    for span in sorted {
        let Some(k) = labels.iter().position(|l| *l == span.label) else { continue };
        if !span_is_representable(offsets, span.start, span.end) {
            inexact += 1;
        }
        let inside: Vec<usize> = offsets
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o, Some((s, e)) if *s >= span.start && *e <= span.end && s < e))
            .map(|(i, _)| i)
            .collect();
        if inside.is_empty() || inside.iter().any(|&i| tags[i] != Some(TAG_O)) {
            continue;
        }
        for (n, &i) in inside.iter().enumerate() {
            tags[i] = Some(if n == 0 { 1 + 2 * k } else { 2 + 2 * k });
        }
    }
    (tags, inexact)
}

/// Whether the tokens can express the span `start..end` exactly: some token starts at `start`,
/// some token ends at `end`, and no token straddles either boundary.
pub fn span_is_representable(offsets: &[Option<(usize, usize)>], start: usize, end: usize) -> bool {
    let tokens = || offsets.iter().flatten().filter(|(s, e)| s < e);
    let starts = tokens().any(|(s, _)| *s == start);
    let ends = tokens().any(|(_, e)| *e == end);
    let straddles = tokens().any(|(s, e)| (*s < start && start < *e) || (*s < end && end < *e));
    starts && ends && !straddles
}

/// Token tag sequences (one tag per token, special tokens skipped by the caller) back to
/// code-point spans: a B-x token and the I-x tokens that follow it make one span from the first
/// token's start to the last token's end.
pub fn token_tags_to_spans(offsets: &[(usize, usize)], tags: &[usize], labels: &[String]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut t = 0;
    while t < tags.len() {
        let tag = tags[t];
        if tag != TAG_O && tag % 2 == 1 {
            let start = offsets[t].0;
            let mut end = offsets[t].1;
            t += 1;
            while t < tags.len() && tags[t] == tag + 1 {
                end = offsets[t].1;
                t += 1;
            }
            spans.push(Span::new(start, end, labels[(tag - 1) / 2].clone()));
        } else {
            t += 1;
        }
    }
    spans
}
