//! Plain text (one record a line) and CoNLL-style token files (one token and its tag a line, a
//! blank line between sentences; BIO, IOBES and the BMES tags of Chinese corpora).

use super::{encoding, Opened, RawValue, ReadContext, RowError, SourceRow};
use crate::search::is_cjk;
use crate::{Error, Result, Span};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

fn is_tag(s: &str) -> bool {
    s == "O" || (s.len() > 2 && matches!(s.get(..2), Some("B-" | "I-" | "E-" | "S-" | "M-" | "L-" | "U-")))
}

/// Whether the first lines of a file look like `token TAG` pairs.
pub(super) fn looks_like_conll(path: &Path) -> Result<bool> {
    let mut sample = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| Error::io(path, e))?
        .take(16 * 1024)
        .read_to_end(&mut sample)
        .map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8_lossy(&sample);
    let lines: Vec<&str> = text.lines().take(100).filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 3 {
        return Ok(false);
    }
    let tagged = lines
        .iter()
        .filter(|l| l.split_whitespace().last().is_some_and(is_tag) && l.split_whitespace().count() >= 2)
        .count();
    Ok(tagged * 10 >= lines.len() * 8)
}

pub(super) fn open_lines<'a>(ctx: &ReadContext<'a>) -> Result<Opened<'a>> {
    let (enc, lines) = encoding::text_lines(ctx)?;
    let rows = lines.map(|line| line.map(|(line, text)| SourceRow { line, text: Some(text), ..Default::default() }));
    Ok(Opened { rows: Box::new(rows), encoding: enc.name().to_string(), delimiter: None })
}

/// Converts one sentence of (token, tag) pairs to text and code-point spans.
pub(crate) fn sentence_to_spans(tokens: &[(String, String)]) -> std::result::Result<(String, Vec<Span>), String> {
    // Character-level corpora (Chinese) join tokens without spaces; word-level ones with spaces.
    let cjk = tokens.iter().filter(|(t, _)| t.chars().count() == 1 && t.chars().all(is_cjk)).count();
    let joiner = if cjk * 2 >= tokens.len() { "" } else { " " };
    let mut text = String::new();
    let mut offsets = Vec::with_capacity(tokens.len());
    let mut pos = 0usize;
    for (i, (token, _)) in tokens.iter().enumerate() {
        if i > 0 {
            text.push_str(joiner);
            pos += joiner.chars().count();
        }
        let n = token.chars().count();
        offsets.push((pos, pos + n));
        text.push_str(token);
        pos += n;
    }
    let mut spans = Vec::new();
    let mut open: Option<(usize, String)> = None;
    let close = |open: &mut Option<(usize, String)>, end: usize, spans: &mut Vec<Span>| {
        if let Some((start, label)) = open.take() {
            spans.push(Span { start, end, label });
        }
    };
    for (i, (_, tag)) in tokens.iter().enumerate() {
        let (start, end) = offsets[i];
        let prev_end = if i > 0 { offsets[i - 1].1 } else { 0 };
        if tag == "O" {
            close(&mut open, prev_end, &mut spans);
            continue;
        }
        if !is_tag(tag) {
            return Err(format!("token {} has tag {tag:?}, which is not O or B-/I-/E-/S-/M- plus a label", i + 1));
        }
        let (prefix, label) = (&tag[..1], &tag[2..]);
        match prefix {
            "B" => {
                close(&mut open, prev_end, &mut spans);
                open = Some((start, label.to_string()));
            }
            "S" | "U" => {
                close(&mut open, prev_end, &mut spans);
                spans.push(Span { start, end, label: label.to_string() });
            }
            "I" | "M" | "E" | "L" => {
                // An inside tag continuing a different label (or none) starts a new entity, as
                // seqeval does for IOB2 input.
                if open.as_ref().map(|(_, l)| l.as_str()) != Some(label) {
                    close(&mut open, prev_end, &mut spans);
                    open = Some((start, label.to_string()));
                }
                if prefix == "E" || prefix == "L" {
                    close(&mut open, end, &mut spans);
                }
            }
            _ => unreachable!(),
        }
    }
    close(&mut open, pos, &mut spans);
    Ok((text, spans))
}

pub(super) fn open_conll<'a>(ctx: &ReadContext<'a>) -> Result<Opened<'a>> {
    let (enc, bom_len) = encoding::detect(ctx.path, &ctx.options.encoding)?;
    let reader = BufReader::with_capacity(1 << 20, encoding::utf8_reader(ctx.path, enc, bom_len, ctx.counter.clone())?);
    let mut lines = reader.split(b'\n');
    let mut line_no = 0u64;
    let mut done = false;
    let rows = std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut tokens: Vec<(String, String)> = Vec::new();
        let mut first_line = 0u64;
        let mut bad: Option<RowError> = None;
        loop {
            line_no += 1;
            let next = lines.next();
            let bytes = match next {
                None => {
                    done = true;
                    break;
                }
                Some(Err(e)) => {
                    bad.get_or_insert(RowError { line: line_no, reason: format!("read error: {e}") });
                    continue;
                }
                Some(Ok(b)) => b,
            };
            let text = match encoding::row_text(&bytes, enc) {
                Ok(t) => t,
                Err(reason) => {
                    bad.get_or_insert(RowError { line: line_no, reason });
                    continue;
                }
            };
            let text = text.trim_end_matches(['\r', '\n']);
            if text.trim().is_empty() {
                if tokens.is_empty() && bad.is_none() {
                    continue;
                }
                break;
            }
            if text.starts_with("-DOCSTART-") {
                continue;
            }
            if tokens.is_empty() && bad.is_none() {
                first_line = line_no;
            }
            let mut parts = text.split_whitespace();
            let token = parts.next().unwrap_or("");
            match parts.last() {
                Some(tag) => tokens.push((token.to_string(), tag.to_string())),
                None => {
                    bad.get_or_insert(RowError {
                        line: line_no,
                        reason: format!("expected \"token TAG\", found {text:?}"),
                    });
                }
            }
        }
        if let Some(mut e) = bad {
            e.reason = format!("{} (sentence starting at line {first_line})", e.reason);
            return Some(Err(e));
        }
        if tokens.is_empty() {
            return None;
        }
        Some(match sentence_to_spans(&tokens) {
            Ok((text, spans)) => Ok(SourceRow {
                line: first_line,
                text: Some(text),
                value: Some(RawValue::Spans(spans)),
                ..Default::default()
            }),
            Err(reason) => Err(RowError { line: first_line, reason }),
        })
    });
    Ok(Opened { rows: Box::new(rows), encoding: enc.name().to_string(), delimiter: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&str, &str)], text: &str, spans: &[(usize, usize, &str)]) {
        let tokens: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let (t, s) = sentence_to_spans(&tokens).unwrap();
        assert_eq!(t, text);
        let s: Vec<(usize, usize, &str)> = s.iter().map(|s| (s.start, s.end, s.label.as_str())).collect();
        assert_eq!(s, spans);
    }

    #[test]
    fn tags() {
        check(&[("我", "O"), ("在", "O"), ("北", "B-LOC"), ("京", "E-LOC")], "我在北京", &[(2, 4, "LOC")]);
        check(
            &[("张", "B-PER"), ("三", "M-PER"), ("丰", "E-PER"), ("去", "O"), ("沪", "S-LOC")],
            "张三丰去沪",
            &[(0, 3, "PER"), (4, 5, "LOC")],
        );
        check(
            &[("John", "B-PER"), ("lives", "O"), ("in", "O"), ("New", "B-LOC"), ("York", "I-LOC")],
            "John lives in New York",
            &[(0, 4, "PER"), (14, 22, "LOC")],
        );
        check(&[("a", "I-X"), ("b", "I-Y")], "a b", &[(0, 1, "X"), (2, 3, "Y")]);
        check(&[("😀", "B-EMO"), ("好", "I-EMO"), ("的", "O")], "😀好的", &[(0, 2, "EMO")]);
    }
}
