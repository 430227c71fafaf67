//! Text encodings: UTF-8 (with or without BOM), UTF-16 with BOM, and the legacy encodings Excel
//! writes on Chinese Windows (GBK / GB18030, Big5), detected over the whole file or chosen by the
//! user. A file that is UTF-8 apart from a few bad lines is UTF-8, and those lines are rejected by
//! line; nothing is ever decoded with a guessed encoding on the evidence of a sample alone.

use crate::{Error, Result};
use encoding_rs::Encoding;
use std::io::Read;
use std::path::Path;

/// The user's choice of encoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// Detect from a BOM, then UTF-8 validity over the whole file, then a statistical guess
    /// (chardetng) over the whole file.
    #[default]
    Auto,
    /// A named encoding (WHATWG label: `utf-8`, `gb18030`, `gbk`, `big5`, `utf-16le`...).
    Named(String),
}

impl std::str::FromStr for EncodingChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(EncodingChoice::Auto);
        }
        if Encoding::for_label(s.as_bytes()).is_none() {
            return Err(Error::Invalid(format!(
                "unknown encoding {s:?}; use auto, utf-8, gb18030, gbk, big5, utf-16le or utf-16be"
            )));
        }
        Ok(EncodingChoice::Named(s.to_string()))
    }
}

const SAMPLE: usize = 256 * 1024;

/// The fewest invalid UTF-8 sequences that can make a file another encoding.
const MIN_EVIDENCE: u64 = 8;

/// How a file reads as UTF-8, counted over the whole file (streaming, in bounded memory).
#[derive(Debug, Default, Clone, PartialEq)]
struct Utf8Census {
    /// Bytes read.
    bytes: u64,
    /// Lines (a last line without a newline counts).
    lines: u64,
    /// Lines holding at least one invalid sequence.
    bad_lines: u64,
    /// Invalid UTF-8 sequences.
    bad_sequences: u64,
    /// Valid multi-byte characters: the evidence that non-ASCII bytes are UTF-8.
    multibyte: u64,
    /// C0 control bytes other than tab, newline, carriage return and form feed, and DEL.
    controls: u64,
}

impl Utf8Census {
    /// Whether the file is UTF-8, perhaps with a few bad lines (which are then rejected by line).
    /// Another encoding needs evidence over the whole file: at least [`MIN_EVIDENCE`] invalid
    /// sequences, outnumbering a quarter of the valid multi-byte characters, on more than one
    /// line in a hundred. Text in GBK or windows-1252 forms valid UTF-8 only by accident (a few
    /// sequences in ten at most), while a UTF-8 file damaged in a few places keeps almost all of
    /// its characters valid. Short of that evidence, a bad line is rejected rather than the
    /// whole file decoded by a guess.
    fn is_utf8(&self) -> bool {
        self.bad_sequences < MIN_EVIDENCE
            || self.multibyte >= 4 * self.bad_sequences
            || self.bad_lines * 100 <= self.lines
    }

    /// Whether the file looks like binary data rather than text in any encoding.
    fn is_binary(&self) -> bool {
        self.controls >= 64 && self.controls * 10 > self.bytes
    }

    fn count_valid(&mut self, valid: &[u8]) {
        for &b in valid {
            match b {
                b'\n' => self.lines += 1,
                b'\t' | b'\r' | 0x0C => {}
                0..=0x1F | 0x7F => self.controls += 1,
                0xC0.. => self.multibyte += 1,
                _ => {}
            }
        }
    }
}

/// Reads the whole file once and counts what [`Utf8Census::is_utf8`] judges by.
fn utf8_census(path: &Path) -> Result<Utf8Census> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut census = Utf8Census::default();
    let mut chunk: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut buf = vec![0u8; 1 << 20];
    // The line (count of newlines before it) of the last invalid sequence, so a line with several
    // counts once.
    let mut last_bad_line: Option<u64> = None;
    let mut last_byte = b'\n';
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        let eof = n == 0;
        chunk.extend_from_slice(&buf[..n]);
        census.bytes += n as u64;
        if let Some(&b) = buf[..n].last() {
            last_byte = b;
        }
        let mut rest: &[u8] = &chunk;
        let mut carry: Vec<u8> = Vec::new();
        loop {
            match std::str::from_utf8(rest) {
                Ok(_) => {
                    census.count_valid(rest);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    census.count_valid(valid);
                    let bad_len = match e.error_len() {
                        // A character cut by the end of the chunk: finish it with the next one.
                        None if !eof => {
                            carry = after.to_vec();
                            break;
                        }
                        None => after.len(),
                        Some(len) => len,
                    };
                    census.bad_sequences += 1;
                    if last_bad_line != Some(census.lines) {
                        last_bad_line = Some(census.lines);
                        census.bad_lines += 1;
                    }
                    rest = &after[bad_len..];
                }
            }
        }
        chunk = carry;
        if eof {
            break;
        }
    }
    if last_byte != b'\n' {
        census.lines += 1;
    }
    Ok(census)
}

/// Decides the encoding of `path`. Returns the encoding and the length of its byte-order mark.
///
/// Without a BOM the whole file is read once to judge whether it is UTF-8 (a few bad lines do
/// not make it another encoding: they are rejected by line). Only when it is not is the file read
/// a second time, whole, by a statistical detector (chardetng) that names the legacy encoding.
pub(crate) fn detect(path: &Path, choice: &EncodingChoice) -> Result<(&'static Encoding, usize)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut sample = Vec::with_capacity(4);
    (&mut file).take(4).read_to_end(&mut sample).map_err(|e| Error::io(path, e))?;
    let bom = Encoding::for_bom(&sample);
    if let EncodingChoice::Named(name) = choice {
        let enc =
            Encoding::for_label(name.as_bytes()).ok_or_else(|| Error::Invalid(format!("unknown encoding {name:?}")))?;
        // GBK is a subset of GB18030: decode with the superset so no valid byte is rejected.
        let enc = if enc == encoding_rs::GBK { encoding_rs::GB18030 } else { enc };
        let bom_len = match bom {
            Some((b, len)) if b == enc => len,
            _ => 0,
        };
        return Ok((enc, bom_len));
    }
    if let Some((enc, len)) = bom {
        return Ok((enc, len));
    }
    let census = utf8_census(path)?;
    if census.is_binary() {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            reason: format!(
                "this is not a text file ({} of its {} bytes are control bytes such as NUL); if it is text in \
                 an encoding without a byte-order mark, such as UTF-16, name it with --encoding",
                census.controls, census.bytes
            ),
        });
    }
    if census.is_utf8() {
        return Ok((encoding_rs::UTF_8, 0));
    }
    let mut detector = chardetng::EncodingDetector::new();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; SAMPLE];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        detector.feed(&buf[..n], n == 0);
        if n == 0 {
            break;
        }
    }
    let guess = detector.guess(None, true);
    let enc = if guess == encoding_rs::GBK { encoding_rs::GB18030 } else { guess };
    Ok((enc, 0))
}

/// A reader that yields UTF-8: the file itself when it is UTF-8 (BOM skipped; rows are validated
/// one by one later), else a streaming decoder.
pub(crate) fn utf8_reader(
    path: &Path,
    enc: &'static Encoding,
    bom_len: usize,
    counter: super::ByteCounter,
) -> Result<Box<dyn Read + Send>> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if enc == encoding_rs::UTF_8 {
        let mut skip = vec![0u8; bom_len];
        file.read_exact(&mut skip).map_err(|e| Error::io(path, e))?;
        counter.add(bom_len as u64);
        return Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, super::Counting { inner: file, counter })));
    }
    let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc))
        .bom_override(true)
        .build(super::Counting { inner: file, counter });
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, decoder)))
}

/// One line of [`text_lines`]: its 1-based number and text, or why it could not be read.
pub(crate) type TextLine = std::result::Result<(u64, String), super::RowError>;

/// The encoding of a line-oriented text file and its non-blank lines as UTF-8: each with its
/// 1-based line number and without the `\r` of CRLF; a line that cannot be read or decoded is a
/// [`super::RowError`] on its line, and reading goes on.
pub(crate) fn text_lines(
    ctx: &super::ReadContext<'_>,
) -> Result<(&'static Encoding, impl Iterator<Item = TextLine> + Send + 'static)> {
    use std::io::BufRead;
    let (enc, bom_len) = detect(ctx.path, &ctx.options.encoding)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, utf8_reader(ctx.path, enc, bom_len, ctx.counter.clone())?);
    let mut lines = reader.split(b'\n');
    let mut line_no = 0u64;
    let rows = std::iter::from_fn(move || loop {
        line_no += 1;
        let error = |reason| Some(Err(super::RowError { line: line_no, reason }));
        let bytes = match lines.next()? {
            Ok(b) => b,
            Err(e) => return error(format!("read error: {e}")),
        };
        let mut text = match row_text(&bytes, enc) {
            Ok(t) => t,
            Err(reason) => return error(reason),
        };
        if text.ends_with('\r') {
            text.pop();
        }
        if !text.trim().is_empty() {
            if let Err(reason) = check_text(&text) {
                return error(reason);
            }
            return Some(Ok((line_no, text)));
        }
    });
    Ok((enc, rows))
}

/// Turns raw row bytes into text, with a reason that names the problem when it cannot. The
/// reason names the first bad byte and its 1-based column (in characters) within `bytes`.
pub(crate) fn row_text(bytes: &[u8], enc: &'static Encoding) -> std::result::Result<String, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if enc != encoding_rs::UTF_8 {
                if let Some(at) = s.find('\u{FFFD}') {
                    let column = s[..at].chars().count() + 1;
                    return Err(format!("not valid {} (undecodable bytes at column {column})", enc.name()));
                }
            }
            Ok(s.to_string())
        }
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // The valid prefix is UTF-8 by construction.
            let column = std::str::from_utf8(valid).map(|s| s.chars().count()).unwrap_or(valid.len()) + 1;
            Err(format!("not valid UTF-8 (byte 0x{:02X} at column {column})", bytes[e.valid_up_to()]))
        }
    }
}

/// Why a text cannot be a record although it is not blank: it holds nothing but control
/// characters (NUL bytes and the like), which no person wrote.
pub(crate) fn check_text(text: &str) -> std::result::Result<(), String> {
    if !text.trim().is_empty() && text.chars().all(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("the text holds only control characters ({})", snippet(text)));
    }
    Ok(())
}

/// A short, printable excerpt of text from a file for an error message: control characters
/// escaped, at most 80 characters, so a binary file cannot flood a terminal.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    format!("\"{out}\"")
}
