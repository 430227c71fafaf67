//! Records of a delimited file (CSV, TSV, any one-byte delimiter), split by a quote-aware reader
//! that counts physical lines itself, so that every row and every error has its true line.

use super::encoding;

/// A quoted field may run across at most this many lines (a review with paragraphs has tens).
const MAX_SPAN_LINES: usize = 10_000;
/// ... and hold at most this many bytes, so an unbalanced quote cannot pull the file into memory.
const MAX_SPAN_BYTES: usize = 16 << 20;

/// One record of a delimited file, from [`RecordReader`].
pub(super) enum Record {
    /// The cells of a record that starts on `line`.
    Cells(u64, Vec<String>),
    /// A record that cannot be read: undecodable bytes, or an unbalanced quote.
    Bad(u64, String),
}

/// Splits a delimited file into records, counting physical lines itself (so line numbers are
/// right for CRLF files and for quoted fields with newlines).
///
/// A quoted field may run across lines, but only where the result stays a sane row: the quote
/// closes before the end of the file, is followed by a delimiter or the end of a line, and the
/// row has as many fields as the header. Otherwise the quote is unbalanced: the row where it
/// opened is rejected, and reading goes on at the line after it, so one stray quote costs one
/// row rather than the rest of the file.
pub(super) struct RecordReader<R> {
    input: R,
    /// Lines read ahead for a quoted field that turned out unbalanced, to be read again.
    replay: std::collections::VecDeque<(u64, Vec<u8>)>,
    line_no: u64,
    delimiter: u8,
    enc: &'static encoding_rs::Encoding,
    /// The header's field count, once the header is read.
    pub(super) n_fields: Option<usize>,
}

/// Where the quote-aware field splitter is within a record.
#[derive(Clone, Copy, PartialEq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: the closing quote, or the first of a doubled one.
    QuoteInQuoted,
    /// After a closing quote and a carriage return.
    AfterClose,
}

/// The fields of one record as they are split, line by line.
struct Splitter {
    delimiter: u8,
    state: Scan,
    fields: Vec<Vec<u8>>,
    field: Vec<u8>,
    /// Text followed a closing quote (read leniently, as the csv crate does, on a single line).
    malformed: bool,
}

impl Splitter {
    fn new(delimiter: u8) -> Splitter {
        Splitter { delimiter, state: Scan::FieldStart, fields: Vec::new(), field: Vec::new(), malformed: false }
    }

    /// Feeds one physical line (without its `\n`). Returns whether the record goes on to the
    /// next line (a quoted field is still open).
    fn feed(&mut self, line: &[u8]) -> bool {
        for &b in line {
            self.state = match (self.state, b) {
                (Scan::FieldStart, b'"') => Scan::Quoted,
                (Scan::FieldStart | Scan::Unquoted | Scan::AfterClose, d) if d == self.delimiter => {
                    self.fields.push(std::mem::take(&mut self.field));
                    Scan::FieldStart
                }
                (Scan::QuoteInQuoted, d) if d == self.delimiter => {
                    self.fields.push(std::mem::take(&mut self.field));
                    Scan::FieldStart
                }
                (Scan::FieldStart | Scan::Unquoted, _) => {
                    self.field.push(b);
                    Scan::Unquoted
                }
                (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
                (Scan::Quoted, _) => {
                    self.field.push(b);
                    Scan::Quoted
                }
                (Scan::QuoteInQuoted, b'"') => {
                    self.field.push(b'"');
                    Scan::Quoted
                }
                (Scan::QuoteInQuoted | Scan::AfterClose, b'\r') => Scan::AfterClose,
                (Scan::QuoteInQuoted | Scan::AfterClose, _) => {
                    self.malformed = true;
                    self.field.push(b);
                    Scan::Unquoted
                }
            };
        }
        if self.state == Scan::Quoted {
            self.field.push(b'\n');
            return true;
        }
        if self.state == Scan::Unquoted && self.field.last() == Some(&b'\r') {
            self.field.pop();
        }
        self.fields.push(std::mem::take(&mut self.field));
        false
    }
}

impl<R: std::io::BufRead> RecordReader<R> {
    pub(super) fn new(input: R, delimiter: u8, enc: &'static encoding_rs::Encoding) -> Self {
        RecordReader { input, replay: Default::default(), line_no: 0, delimiter, enc, n_fields: None }
    }

    /// The next physical line and its number, without its `\n`.
    fn next_line(&mut self) -> Option<std::io::Result<(u64, Vec<u8>)>> {
        if let Some(line) = self.replay.pop_front() {
            return Some(Ok(line));
        }
        let mut buf = Vec::new();
        match self.input.read_until(b'\n', &mut buf) {
            Ok(0) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                self.line_no += 1;
                Some(Ok((self.line_no, buf)))
            }
            Err(e) => Some(Err(e)),
        }
    }

    fn next_record(&mut self) -> Option<Record> {
        let (first, bytes) = loop {
            match self.next_line()? {
                Err(e) => return Some(Record::Bad(self.line_no + 1, format!("read error: {e}"))),
                // Blank lines are no records.
                Ok((_, b)) if b.iter().all(|&c| c == b'\r') => continue,
                Ok(line) => break line,
            }
        };
        let mut splitter = Splitter::new(self.delimiter);
        let mut open = splitter.feed(&bytes);
        let quote_field = splitter.fields.len() + 1;
        let mut lines = vec![(first, bytes)];
        let mut span_bytes = lines[0].1.len();
        let mut problem: Option<String> = None;
        while open {
            if lines.len() >= MAX_SPAN_LINES || span_bytes >= MAX_SPAN_BYTES {
                problem = Some(format!("is still open after {} lines", lines.len()));
                break;
            }
            match self.next_line() {
                None => {
                    problem = Some("is never closed".into());
                    break;
                }
                Some(Err(e)) => {
                    problem = Some(format!("cannot be read on ({e})"));
                    break;
                }
                Some(Ok((n, line))) => {
                    span_bytes += line.len();
                    open = splitter.feed(&line);
                    lines.push((n, line));
                    if splitter.malformed {
                        problem = Some(format!("closes on line {n} followed by more text, so it is no quoted field"));
                        break;
                    }
                }
            }
        }
        if problem.is_none() && lines.len() > 1 {
            if let Some(expected) = self.n_fields.filter(|&n| n != splitter.fields.len()) {
                problem = Some(format!(
                    "closes on line {}, which leaves {} fields where the header has {expected}",
                    lines.last().unwrap().0,
                    splitter.fields.len()
                ));
            }
        }
        if let Some(problem) = problem {
            // Read again everything after the line where the quote opened.
            for line in lines.drain(1..).rev() {
                self.replay.push_front(line);
            }
            return Some(Record::Bad(
                first,
                format!("unbalanced quote: the quoted field {quote_field} that opens on line {first} {problem}; the row is rejected and reading goes on at line {}", first + 1),
            ));
        }
        for (n, line) in &lines {
            let decoded =
                std::str::from_utf8(line).is_ok_and(|s| self.enc == encoding_rs::UTF_8 || !s.contains('\u{FFFD}'));
            if !decoded {
                let reason = encoding::row_text(line, self.enc).err().unwrap_or_default();
                let reason = if *n == first { reason } else { format!("line {n}: {reason}") };
                return Some(Record::Bad(first, reason));
            }
        }
        // Whole lines were valid, and fields split at ASCII bytes stay valid.
        let cells = splitter
            .fields
            .into_iter()
            .map(|f| String::from_utf8(f).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
            .collect();
        Some(Record::Cells(first, cells))
    }
}

impl<R: std::io::BufRead> Iterator for RecordReader<R> {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        self.next_record()
    }
}

#[cfg(test)]
mod tests {
    /// Splits `lines` as one record and checks its fields and whether text followed a quote.
    fn check_split(lines: &[&str], fields: &[&str], malformed: bool) {
        let mut splitter = super::Splitter::new(b',');
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(splitter.feed(line.as_bytes()), i + 1 < lines.len(), "{lines:?}: line {i}");
        }
        let got: Vec<String> = splitter.fields.iter().map(|f| String::from_utf8(f.clone()).unwrap()).collect();
        assert_eq!(got, fields, "{lines:?}");
        assert_eq!(splitter.malformed, malformed, "{lines:?}");
    }

    #[test]
    fn quoted_fields() {
        check_split(&["a,b,c"], &["a", "b", "c"], false);
        check_split(&["a,b\r"], &["a", "b"], false);
        check_split(&["a,"], &["a", ""], false);
        check_split(&["a,\"b,c\",d"], &["a", "b,c", "d"], false);
        check_split(&["\"he said \"\"hi\"\"\",x\r"], &["he said \"hi\"", "x"], false);
        check_split(&["a,\"b\r", "", "c\",d"], &["a", "b\r\n\nc", "d"], false);
        check_split(&["a,b\"c,d"], &["a", "b\"c", "d"], false);
        // Text after a closing quote is kept, as the csv crate does, but noted.
        check_split(&["a,\"x\"y,z"], &["a", "xy", "z"], true);
    }
}
