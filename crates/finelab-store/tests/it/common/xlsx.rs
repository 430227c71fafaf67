//! Workbooks built in memory for tests, including decompression bombs: a part's content can be
//! a chunk repeated many times, compressed once (deflate blocks ending in a sync flush are
//! byte-aligned and can be concatenated), and a part can declare a size other than it holds.

use flate2::{Compress, Compression, Crc, FlushCompress};

/// One file inside the zip archive.
pub struct Part {
    pub name: String,
    /// Raw deflate data.
    pub deflated: Vec<u8>,
    pub crc: u32,
    /// The uncompressed size the archive declares (the truth unless a test lies).
    pub declared_size: u64,
}

fn deflate_segment(data: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    loop {
        let status = c.compress_vec(&data[c.total_in() as usize..], &mut out, flush).unwrap();
        let done = match flush {
            FlushCompress::Finish => status == flate2::Status::StreamEnd,
            // Sync-flushed once all input is in and the flush had room to finish.
            _ => c.total_in() as usize == data.len() && out.len() < out.capacity(),
        };
        if done {
            break;
        }
        out.reserve(out.capacity().max(1024));
    }
    out
}

impl Part {
    /// A part holding `text`.
    pub fn new(name: &str, text: &str) -> Part {
        Part::repeated(name, text.as_bytes(), b"", 0, b"")
    }

    /// A part holding `head`, then `chunk` `times` times, then `tail`, compressed in
    /// proportion to `chunk`, not to the whole.
    pub fn repeated(name: &str, head: &[u8], chunk: &[u8], times: u64, tail: &[u8]) -> Part {
        let mut deflated = deflate_segment(head, FlushCompress::Sync);
        let mut crc = Crc::new();
        crc.update(head);
        if times > 0 {
            let once = deflate_segment(chunk, FlushCompress::Sync);
            for _ in 0..times {
                deflated.extend_from_slice(&once);
                crc.update(chunk);
            }
        }
        deflated.extend_from_slice(&deflate_segment(tail, FlushCompress::Finish));
        crc.update(tail);
        Part { name: name.into(), deflated, crc: crc.sum(), declared_size: crc.amount() as u64 }
    }
}

/// A zip archive of `parts` (deflated; no zip64, so sizes under 4 GB).
pub fn zip(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for p in parts {
        let offset = out.len() as u32;
        let header = |sig: u32, central_entry: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central_entry {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // needed to extract
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&8u16.to_le_bytes()); // deflate
            h.extend_from_slice(&0u32.to_le_bytes()); // time and date
            h.extend_from_slice(&p.crc.to_le_bytes());
            h.extend_from_slice(&(p.deflated.len() as u32).to_le_bytes());
            h.extend_from_slice(&(p.declared_size as u32).to_le_bytes());
            h.extend_from_slice(&(p.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central_entry {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(p.name.as_bytes());
            h
        };
        out.extend_from_slice(&header(0x0403_4b50, false));
        out.extend_from_slice(&p.deflated);
        central.extend_from_slice(&header(0x0201_4b50, true));
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // disks
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// The parts every workbook here has, around one sheet named `Reviews` (`xl/worksheets/sheet1.xml`)
/// and, when given, shared strings.
pub fn workbook(sheet: Part, shared_strings: Option<Part>) -> Vec<u8> {
    let mut parts = vec![
        Part::new(
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#,
        ),
        Part::new(
            "_rels/.rels",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        Part::new(
            "xl/workbook.xml",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets><sheet name="Reviews" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        Part::new(
            "xl/_rels/workbook.xml.rels",
            &format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>{}</Relationships>"#,
                if shared_strings.is_some() {
                    format!(r#"<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>"#)
                } else {
                    String::new()
                }
            ),
        ),
    ];
    parts.push(sheet);
    parts.extend(shared_strings);
    zip(&parts)
}

/// The start of a sheet part, up to its first row.
pub fn sheet_head() -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>"#)
}

/// The end of a sheet part.
pub const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// A row of inline-string cells (no `r` attributes: the rows and cells follow each other).
pub fn row(cells: &[&str]) -> String {
    let cells: String = cells.iter().map(|c| format!(r#"<c t="inlineStr"><is><t>{c}</t></is></c>"#)).collect();
    format!("<row>{cells}</row>")
}

/// The peak resident memory of this process so far, in bytes (Linux).
pub fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}
