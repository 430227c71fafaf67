//! The `instant` family's features: code points normalized (width, case, digits), hashed
//! character n-grams and, for Latin script, words; log term frequency, L2-normalized. A
//! document gets one vector; a tagger gets one per code point over a ±2 character window.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::rng::mix64;

/// Name of the feature scheme; bump it whenever `Featurizer` output changes, so old models are
/// refused instead of silently reading different features.
pub(super) const FEATURE_SCHEME: &str = "instant-v1";

/// A sparse feature vector: (hashed index, value), indices unique.
pub(super) type Features = Vec<(u32, f32)>;

/// Feature hashing parameters, saved with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Featurizer {
    /// Feature scheme name (see `FEATURE_SCHEME`).
    pub scheme: String,
    /// log2 of the hashed space size.
    pub hash_bits: u32,
    /// Longest character n-gram.
    pub max_char_ngram: usize,
}

/// Kinds of features, mixed into the hash so that, say, the word "a" and the character "a" land
/// in different buckets.
mod kind {
    pub const CHAR_NGRAM: u64 = 1;
    pub const WORD: u64 = 2;
    pub const WORD_BIGRAM: u64 = 3;
    pub const WINDOW_CHAR: u64 = 16;
    pub const WINDOW_BIGRAM: u64 = 32;
    pub const WINDOW_TRIGRAM: u64 = 48;
    pub const CLASS_CONTEXT: u64 = 64;
    pub const TOKEN_WORD: u64 = 65;
    pub const TOKEN_SHAPE: u64 = 66;
}

const BOUNDARY: char = '\u{2}';

/// Folds a character to one lower-case character: full-width ASCII to half-width (common in
/// Chinese text), whitespace to a space, and the first char of its lower-case form. Exactly one
/// char out for one char in, so tagger positions stay code-point offsets.
fn normalize_char(c: char) -> char {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    if c.is_whitespace() {
        return ' ';
    }
    c.to_lowercase().next().unwrap_or(c)
}

/// Coarse character classes used by the tagger.
fn char_class(c: char) -> u8 {
    match c {
        BOUNDARY => 0,
        ' ' => 1,
        '0'..='9' => 2,
        c if c.is_ascii_alphabetic() => 3,
        c if is_cjk(c) => 4,
        c if c.is_alphabetic() => 5,
        c if c.is_numeric() => 6,
        c if c.is_ascii_punctuation() || ('\u{3000}'..='\u{303F}').contains(&c) => 7,
        c if (c as u32) >= 0x1F000 => 8, // emoji and pictographs
        _ => 9,
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF
        | 0x3040..=0x30FF | 0xAC00..=0xD7AF)
}

/// Word characters for Latin-like scripts (CJK is handled by character n-grams alone).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// FNV-1a over code points, then the SplitMix64 finalizer to spread the bits; stable across
/// platforms and Rust versions, unlike `std`'s hasher.
fn hash_chars(kind: u64, chars: impl IntoIterator<Item = char>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for c in chars {
        h = (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

impl Featurizer {
    pub(super) fn new(config: &TrainConfig) -> Self {
        Featurizer { scheme: FEATURE_SCHEME.into(), hash_bits: config.hash_bits, max_char_ngram: config.max_char_ngram }
    }

    pub(super) fn dim(&self) -> usize {
        1 << self.hash_bits
    }

    fn bucket(&self, h: u64) -> u32 {
        (h & ((1u64 << self.hash_bits) - 1)) as u32
    }

    /// Document features: character 1..n-grams over the whole normalized text (with boundary
    /// marks), lower-cased words and word bigrams; log-TF weighted, L2-normalized.
    pub(super) fn document(&self, text: &str) -> Features {
        let mut chars = vec![BOUNDARY];
        chars.extend(text.chars().map(normalize_char));
        chars.push(BOUNDARY);
        let mut hashes: Vec<u32> = Vec::with_capacity(chars.len() * (self.max_char_ngram + 1));
        for n in 1..=self.max_char_ngram {
            for gram in chars.windows(n) {
                if n == 1 && (gram[0] == BOUNDARY || gram[0] == ' ') {
                    continue;
                }
                hashes.push(self.bucket(hash_chars(kind::CHAR_NGRAM, gram.iter().copied())));
            }
        }
        let mut previous: Option<u64> = None;
        for word in chars.split(|c| !is_word_char(*c)).filter(|w| !w.is_empty()) {
            let h = hash_chars(kind::WORD, word.iter().copied());
            hashes.push(self.bucket(h));
            if let Some(p) = previous {
                hashes.push(self.bucket(mix64(p ^ h.rotate_left(17) ^ kind::WORD_BIGRAM)));
            }
            previous = Some(h);
        }
        log_tf_l2(hashes)
    }

    /// Per-code-point tagger features: the characters at offsets -2..=2, the bigrams and the
    /// centered trigram of that window, character classes around the position, and for Latin
    /// words the word and its shape. Each feature weighs the same; the vector is L2-normalized.
    pub(super) fn tokens(&self, text: &str) -> Vec<Features> {
        let raw: Vec<char> = text.chars().collect();
        let n = raw.len();
        let mut padded = vec![BOUNDARY, BOUNDARY];
        padded.extend(raw.iter().map(|c| normalize_char(*c)));
        padded.extend([BOUNDARY, BOUNDARY]);
        // The Latin word each position belongs to, computed once.
        let mut word_of: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut i = 0;
        while i < n {
            if is_word_char(padded[i + 2]) {
                let start = i;
                while i < n && is_word_char(padded[i + 2]) {
                    i += 1;
                }
                for slot in &mut word_of[start..i] {
                    *slot = Some((start, i));
                }
            } else {
                i += 1;
            }
        }
        let mut out = Vec::with_capacity(n);
        for (pos, word) in word_of.iter().enumerate() {
            let p = pos + 2; // index into `padded`
            let mut hashes = Vec::with_capacity(16);
            for k in 0..5 {
                hashes.push(self.bucket(hash_chars(kind::WINDOW_CHAR + k as u64, [padded[p + k - 2]])));
            }
            for k in 0..4 {
                let gram = [padded[p + k - 2], padded[p + k - 1]];
                hashes.push(self.bucket(hash_chars(kind::WINDOW_BIGRAM + k as u64, gram)));
            }
            hashes.push(self.bucket(hash_chars(kind::WINDOW_TRIGRAM, [padded[p - 1], padded[p], padded[p + 1]])));
            let classes = [char_class(padded[p - 1]), char_class(padded[p]), char_class(padded[p + 1])];
            hashes.push(self.bucket(hash_chars(kind::CLASS_CONTEXT, classes.map(|c| c as char))));
            if let Some((start, end)) = *word {
                let word = &padded[start + 2..end + 2];
                hashes.push(self.bucket(hash_chars(kind::TOKEN_WORD, word.iter().copied())));
                let shape = raw[start..end].iter().map(|c| match c {
                    c if c.is_uppercase() => 'X',
                    c if c.is_lowercase() => 'x',
                    c if c.is_numeric() => 'd',
                    _ => 'o',
                });
                // Position inside the word matters for B vs I, so it is part of the shape.
                let offset = char::from_u32(((pos - start).min(3)) as u32 + 0x30).unwrap_or('3');
                hashes.push(self.bucket(hash_chars(kind::TOKEN_SHAPE, shape.chain([offset]))));
            }
            hashes.sort_unstable();
            hashes.dedup();
            let value = 1.0 / (hashes.len() as f32).sqrt();
            out.push(hashes.into_iter().map(|h| (h, value)).collect());
        }
        out
    }
}

fn log_tf_l2(mut hashes: Vec<u32>) -> Features {
    hashes.sort_unstable();
    let mut features: Features = Vec::with_capacity(hashes.len());
    for h in hashes {
        match features.last_mut() {
            Some((last, count)) if *last == h => *count += 1.0,
            _ => features.push((h, 1.0)),
        }
    }
    let mut norm = 0.0f32;
    for (_, v) in &mut features {
        *v = 1.0 + v.ln();
        norm += *v * *v;
    }
    let norm = norm.sqrt();
    if norm > 0.0 {
        for (_, v) in &mut features {
            *v /= norm;
        }
    }
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_one_per_code_point() {
        let f = Featurizer { scheme: FEATURE_SCHEME.into(), hash_bits: 12, max_char_ngram: 3 };
        for text in ["", "a", "北京😀 Hi", "İstanbul"] {
            assert_eq!(f.tokens(text).len(), text.chars().count(), "{text}");
        }
    }

    #[test]
    fn document_features_are_unit_length() {
        let f = Featurizer { scheme: FEATURE_SCHEME.into(), hash_bits: 16, max_char_ngram: 3 };
        let x = f.document("很好 very good good");
        let norm: f32 = x.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
