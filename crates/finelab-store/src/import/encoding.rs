//! Text encodings: UTF-8 (with or without BOM), UTF-16 with BOM, and the legacy encodings Excel
//! writes on Chinese Windows (GBK / GB18030, Big5), detected from a sample or chosen by the user.

use crate::{Error, Result};
use encoding_rs::Encoding;
use std::io::Read;
use std::path::Path;

/// The user's choice of encoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// Detect from a BOM, then UTF-8 validity, then a statistical guess (chardetng).
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

/// Decides the encoding of `path`. Returns the encoding and whether the file starts with its BOM.
pub(crate) fn detect(path: &Path, choice: &EncodingChoice) -> Result<(&'static Encoding, usize)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut sample = Vec::with_capacity(SAMPLE);
    (&mut file).take(SAMPLE as u64).read_to_end(&mut sample).map_err(|e| Error::io(path, e))?;
    let bom = Encoding::for_bom(&sample);
    if let EncodingChoice::Named(name) = choice {
        let enc = Encoding::for_label(name.as_bytes())
            .ok_or_else(|| Error::Invalid(format!("unknown encoding {name:?}")))?;
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
    match std::str::from_utf8(&sample) {
        Ok(_) => return Ok((encoding_rs::UTF_8, 0)),
        // A sample cut in the middle of a character is still UTF-8.
        Err(e) if e.error_len().is_none() => return Ok((encoding_rs::UTF_8, 0)),
        Err(_) => {}
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(&sample, sample.len() < SAMPLE);
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
pub(crate) fn text_lines(ctx: &super::ReadContext<'_>) -> Result<(&'static Encoding, impl Iterator<Item = TextLine> + Send + 'static)> {
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
            return Some(Ok((line_no, text)));
        }
    });
    Ok((enc, rows))
}

/// Turns raw row bytes into text, with a reason that names the problem when it cannot.
pub(crate) fn row_text(bytes: &[u8], enc: &'static Encoding) -> std::result::Result<String, String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            if enc != encoding_rs::UTF_8 && s.contains('\u{FFFD}') {
                return Err(format!("bytes that are not valid {} (check --encoding)", enc.name()));
            }
            Ok(s.to_string())
        }
        Err(e) => Err(format!(
            "not valid UTF-8 at byte {} of the row (the file was read as UTF-8; try --encoding gb18030)",
            e.valid_up_to()
        )),
    }
}
