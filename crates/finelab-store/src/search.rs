//! Full-text search over records, Chinese and English alike, plus browse filters.
//!
//! SQLite's trigram tokenizer cannot find two-character Chinese words (most Chinese words), and
//! building it inline makes a million-record import slow. So Finelab computes its own terms —
//! overlapping CJK bigrams plus the last character of each CJK run, and lower-cased words for other
//! scripts — into a contentless FTS5 table with `detail=none` (the smallest index). A query becomes
//! an AND of the same terms (prefix terms for single CJK characters and for words), and every
//! candidate is verified as a case-insensitive substring, so results are exact substring matches.
//!
//! The index lives in its own file, `search.sqlite`, beside `project.sqlite`: it is a cache derived
//! from the records (deleting it loses nothing), and a second file lets a second thread fill it
//! while the import writes the records, so the two run on two cores. Its watermark says which
//! records it covers (every record with a sequence number up to it); records above the watermark
//! are scanned directly, so search is complete while the index catches up, and a kill at any point
//! loses nothing: the index commits only after the records it covers.

use crate::{AnnotationValue, RecordView, Result, Split, Store};
use rusqlite::functions::FunctionFlags;
use rusqlite::{params_from_iter, types::Value, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Whether a character is written without spaces between words (Han, kana, Hangul).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF | 0x30000..=0x3134F)
}

/// Splits text into runs: CJK runs (grams of 2) and lower-cased word runs of other scripts
/// (grams of 3). Everything else separates runs.
fn for_each_run(text: &str, mut emit: impl FnMut(&[char], usize)) {
    let mut run: Vec<char> = Vec::new();
    let mut run_cjk = false;
    for c in text.chars() {
        let cjk = is_cjk(c);
        if cjk || c.is_alphanumeric() {
            if !run.is_empty() && cjk != run_cjk {
                emit(&run, if run_cjk { 2 } else { 3 });
                run.clear();
            }
            run_cjk = cjk;
            if cjk {
                run.push(c);
            } else {
                run.extend(c.to_lowercase());
            }
        } else if !run.is_empty() {
            emit(&run, if run_cjk { 2 } else { 3 });
            run.clear();
        }
    }
    if !run.is_empty() {
        emit(&run, if run_cjk { 2 } else { 3 });
    }
}

/// The terms stored in the index for `text`, space-separated: every n-gram of each run (n = 2 for
/// CJK, 3 for other scripts) plus the run's last n-1 shorter tails. Any substring shorter than n
/// is then the prefix of some term, so prefix queries find it anywhere in a run.
pub fn index_terms(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    let mut pairs = WordPairs::default();
    for_each_run(text, |run, n| {
        if let Some(pair) = pairs.next(run, n) {
            out.push(' ');
            out.push_str(&pair);
        }
        for start in 0..run.len() {
            let end = (start + n).min(run.len());
            // Full grams everywhere; shorter ones only as the run's tails.
            if end - start < n && start + n <= run.len() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.extend(&run[start..end]);
        }
    });
    out
}

/// Terms that join two neighbouring words of a script with spaces: the last three letters of one
/// and the first three of the next. Two common words that rarely stand side by side ("quality
/// great") then narrow the candidates at once, where the words' own grams would leave tens of
/// thousands of records to verify. A query has a pair only where it holds a whole word boundary
/// (`...ity gre...`), which is then certainly the text's own boundary.
#[derive(Default)]
struct WordPairs {
    tail: Option<String>,
}

impl WordPairs {
    fn next(&mut self, run: &[char], n: usize) -> Option<String> {
        if n != 3 {
            self.tail = None;
            return None;
        }
        let pair = match (&self.tail, run.len() >= 3) {
            (Some(tail), true) => Some(format!("{tail}{}", run[..3].iter().collect::<String>())),
            _ => None,
        };
        self.tail = (run.len() >= 3).then(|| run[run.len() - 3..].iter().collect());
        pair
    }
}

/// The FTS5 query for a user's search text, or `None` when it has no indexable term (then the
/// search scans). A run at least n long becomes an AND of n-grams that cover it (every n-th one
/// and the last: fewer doclists to intersect; candidates are verified exactly anyway); a shorter
/// run becomes a prefix term.
pub fn fts_query(query: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let quote = |s: String| format!("\"{}\"", s.replace('"', "\"\""));
    let mut pairs = WordPairs::default();
    for_each_run(query, |run, n| {
        if let Some(pair) = pairs.next(run, n) {
            parts.push(quote(pair));
        }
        if run.len() < n {
            parts.push(format!("{}*", quote(run.iter().collect())));
        } else {
            let mut starts: Vec<usize> = (0..=run.len() - n).step_by(n).collect();
            if starts.last() != Some(&(run.len() - n)) {
                starts.push(run.len() - n);
            }
            for start in starts {
                parts.push(quote(run[start..start + n].iter().collect()));
            }
        }
    });
    if parts.is_empty() {
        None
    } else {
        parts.sort();
        parts.dedup();
        Some(parts.join(" "))
    }
}

/// Record status filter for browsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// No annotator has labeled it.
    Unlabeled,
    /// At least one annotator has labeled it.
    Labeled,
    /// Skipped by someone and not labeled.
    Skipped,
    /// Flagged for review by someone.
    Flagged,
}

/// A search or browse request; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchQuery {
    /// Substring to find (case-insensitive), Chinese or English.
    pub text: Option<String>,
    /// Records with this label (by any annotator).
    pub label: Option<String>,
    /// Records in this split.
    pub split: Option<Split>,
    /// Records this annotator has labeled.
    pub annotator: Option<String>,
    /// Records with this status.
    pub status: Option<Status>,
    /// Keyset pagination: only records after this sequence number.
    pub after_seq: Option<i64>,
    /// Skip this many matching records first (for a virtualized table jumping far ahead; keyset
    /// pagination with `after_seq` is cheaper for scrolling on).
    pub offset: Option<u64>,
    /// At most this many hits (default 50).
    pub limit: Option<u32>,
    /// Records whose prediction (by `run`, else the newest completed run with predictions)
    /// has this label: the predicted label (single), among the predicted labels (multi), the
    /// label of a predicted span (spans).
    #[serde(default)]
    pub predicted_label: Option<String>,
    /// Records whose prediction's score is at least this.
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Records whose prediction's score is at most this.
    #[serde(default)]
    pub max_score: Option<f64>,
    /// Order of the hits (default import order).
    #[serde(default)]
    pub sort: Option<SearchSort>,
    /// The run whose predictions `predicted_label`, the score bounds and the score sort use
    /// (default: the newest completed run with predictions).
    #[serde(default)]
    pub run: Option<String>,
}

/// The order of search hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Import order (keyset pagination with `after_seq` works).
    #[default]
    Seq,
    /// Least confident prediction first (records without one come last); page with `offset`.
    ScoreAsc,
    /// Most confident prediction first (records without one come last); page with `offset`.
    ScoreDesc,
}

impl SearchQuery {
    /// Whether no field narrows the result (paging fields aside).
    fn is_unfiltered(&self) -> bool {
        self.text.as_deref().is_none_or(|t| t.trim().is_empty())
            && self.label.is_none()
            && self.split.is_none()
            && self.annotator.is_none()
            && self.status.is_none()
            && self.predicted_label.is_none()
            && self.min_score.is_none()
            && self.max_score.is_none()
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchPage {
    /// The hits in import order.
    pub hits: Vec<RecordView>,
    /// Pass as `after_seq` to get the next page; `None` on the last page.
    pub next_after: Option<i64>,
}

/// The file name of the search index inside a project folder.
pub const SEARCH_DB: &str = "search.sqlite";

/// Version of the index's terms and layout; an index of another version is dropped and rebuilt
/// (bump it whenever `index_terms` changes).
const SEARCH_FORMAT: i64 = 2;

/// Opens (creating or rebuilding when needed) the search index file next to `db`.
pub(crate) fn open_index_db(db: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let path = db.with_file_name(SEARCH_DB);
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != SEARCH_FORMAT {
        conn.execute_batch(&format!(
            "BEGIN;
             DROP TABLE IF EXISTS search_index;
             DROP TABLE IF EXISTS search_meta;
             CREATE VIRTUAL TABLE search_index USING fts5(terms, content = '', detail = none, columnsize = 0);
             INSERT INTO search_index (search_index, rank) VALUES ('hashsize', 67108864);
             CREATE TABLE search_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             INSERT INTO search_meta VALUES ('indexed_upto', 0);
             PRAGMA user_version = {SEARCH_FORMAT};
             COMMIT;"
        ))?;
    }
    Ok(conn)
}

/// Attaches the search index to a project connection as schema `search`.
pub(crate) fn attach(conn: &rusqlite::Connection, db: &std::path::Path) -> crate::Result<()> {
    drop(open_index_db(db)?);
    let path = db.with_file_name(SEARCH_DB);
    conn.execute("ATTACH DATABASE ?1 AS search", [path.to_string_lossy()])?;
    Ok(())
}

/// Fills the index from a stream of (sequence number, text) batches while an import runs, in a
/// transaction of its own that commits only when told the import committed.
pub(crate) struct ConcurrentIndexer {
    sender: Option<std::sync::mpsc::SyncSender<IndexerMessage>>,
    handle: Option<std::thread::JoinHandle<rusqlite::Result<()>>>,
    batch: Vec<(i64, String)>,
}

pub(crate) enum IndexerMessage {
    Rows(Vec<(i64, String)>),
    Commit(i64),
}

impl ConcurrentIndexer {
    pub(crate) fn start(db: &std::path::Path) -> crate::Result<ConcurrentIndexer> {
        let mut conn = open_index_db(db)?;
        // A small bound keeps memory flat: the import waits if the indexer falls behind.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<IndexerMessage>(8);
        let handle = std::thread::spawn(move || -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare("INSERT INTO search_index (rowid, terms) VALUES (?1, ?2)")?;
                for message in receiver {
                    match message {
                        IndexerMessage::Rows(rows) => {
                            for (seq, text) in rows {
                                insert.execute(rusqlite::params![seq, index_terms(&text)])?;
                            }
                        }
                        IndexerMessage::Commit(upto) => {
                            tx.execute("UPDATE search_meta SET value = ?1 WHERE key = 'indexed_upto'", [upto])?;
                            drop(insert);
                            return tx.commit();
                        }
                    }
                }
            }
            // The sender went away without a commit: the import failed, so roll back.
            Ok(())
        });
        Ok(ConcurrentIndexer { sender: Some(sender), handle: Some(handle), batch: Vec::with_capacity(4096) })
    }

    pub(crate) fn push(&mut self, seq: i64, text: &str) {
        self.batch.push((seq, text.to_string()));
        if self.batch.len() >= 4096 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some(sender) = &self.sender {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(4096));
            // If the indexer died, its error surfaces at `finish`.
            let _ = sender.send(IndexerMessage::Rows(batch));
        }
    }

    /// Called after the import committed: commits the index up to `upto`.
    pub(crate) fn finish(mut self, upto: i64) -> crate::Result<()> {
        self.flush();
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(IndexerMessage::Commit(upto));
        }
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(result)) => Ok(result?),
            Some(Err(_)) => Err(crate::Error::Invalid("the search indexer panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for ConcurrentIndexer {
    fn drop(&mut self) {
        // Dropping without `finish` (the import failed): close the channel, let it roll back.
        self.sender.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub(crate) fn register_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    // fl_contains(text, needle): case-insensitive substring test; `needle` is already lower-cased.
    conn.create_scalar_function(
        "fl_contains",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = ctx.get_raw(0).as_str().unwrap_or("");
            let needle = ctx.get_raw(1).as_str().unwrap_or("");
            Ok(contains_folded(text, needle))
        },
    )
}

/// Whether `text` contains `needle` (already lower-cased), ignoring case. ASCII needles are
/// compared without allocating, which matters when many candidates are verified.
pub fn contains_folded(text: &str, needle: &str) -> bool {
    if needle.is_empty() || text.contains(needle) {
        return true;
    }
    if needle.is_ascii() {
        let (t, n) = (text.as_bytes(), needle.as_bytes());
        if !n.iter().any(u8::is_ascii_alphabetic) {
            return false;
        }
        return t.len() >= n.len() && t.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    if needle.chars().all(|c| !c.is_alphabetic() || is_cjk(c)) {
        return false;
    }
    text.to_lowercase().contains(needle)
}

impl Store {
    /// The run whose predictions a query filters or sorts by.
    fn prediction_run(&self, query: &SearchQuery) -> Result<Option<String>> {
        let uses = query.predicted_label.is_some()
            || query.min_score.is_some()
            || query.max_score.is_some()
            || matches!(query.sort, Some(SearchSort::ScoreAsc | SearchSort::ScoreDesc));
        match (&query.run, uses) {
            (_, false) => Ok(None),
            (Some(run), true) => Ok(Some(run.clone())),
            (None, true) => self.latest_predicting_run(),
        }
    }

    pub(crate) fn search_watermark(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT value FROM search.search_meta WHERE key = 'indexed_upto'", [], |r| r.get(0))?)
    }

    pub(crate) fn search_indexed_count(&self) -> Result<u64> {
        let wm = self.search_watermark()?;
        Ok(self.conn.query_row("SELECT count(*) FROM records WHERE id <= ?1", [wm], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Records not yet in the search index.
    pub fn search_pending(&self) -> Result<u64> {
        let wm = self.search_watermark()?;
        Ok(self.conn.query_row("SELECT count(*) FROM records WHERE id > ?1", [wm], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Adds records above the watermark to the search index, `batch` records a transaction.
    /// `progress(done, total)` may return `false` to stop between batches (nothing is lost).
    pub fn index_pending(&mut self, batch: usize, progress: &mut dyn FnMut(u64, u64) -> bool) -> Result<u64> {
        let total = self.search_pending()?;
        let mut done = 0u64;
        loop {
            let tx = self.conn.transaction()?;
            // The write lock on the index first (see `project::write_tx`): the watermark read
            // below must not be overtaken by another indexer.
            tx.execute("UPDATE search.search_meta SET value = value WHERE 0", [])?;
            let wm: i64 =
                tx.query_row("SELECT value FROM search.search_meta WHERE key = 'indexed_upto'", [], |r| r.get(0))?;
            let mut last = wm;
            let mut n = 0u64;
            {
                let mut read = tx.prepare_cached("SELECT id, text FROM records WHERE id > ?1 ORDER BY id LIMIT ?2")?;
                let mut insert = tx.prepare_cached("INSERT INTO search.search_index (rowid, terms) VALUES (?1, ?2)")?;
                let mut rows = read.query(rusqlite::params![wm, batch as i64])?;
                while let Some(row) = rows.next()? {
                    let id: i64 = row.get(0)?;
                    let text = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
                    insert.execute(rusqlite::params![id, index_terms(text)])?;
                    last = id;
                    n += 1;
                }
            }
            if n == 0 {
                return Ok(done);
            }
            tx.execute("UPDATE search.search_meta SET value = ?1 WHERE key = 'indexed_upto'", [last])?;
            tx.commit()?;
            done += n;
            if !progress(done, total.max(done)) {
                return Ok(done);
            }
        }
    }

    /// Counts the records a query matches, stopping at `cap` (exact below it).
    pub fn count_matches(&self, query: &SearchQuery, cap: u32) -> Result<u64> {
        if query.is_unfiltered() {
            return self.n_records();
        }
        let mut total = 0u64;
        let mut q = SearchQuery { limit: Some(10_000), offset: None, sort: None, ..query.clone() };
        loop {
            let page = self.search_seqs(&q)?;
            total += page.0.len() as u64;
            match page.1 {
                Some(next) if total < cap as u64 => q.after_seq = Some(next),
                _ => return Ok(total.min(cap as u64)),
            }
        }
    }

    /// The sequence numbers of every record `query` matches, in import order (its paging
    /// fields ignored).
    pub fn matching_seqs(&self, query: &SearchQuery) -> Result<Vec<i64>> {
        let mut q = SearchQuery { limit: Some(10_000), offset: None, sort: None, after_seq: None, ..query.clone() };
        let mut out = Vec::new();
        loop {
            let (seqs, next) = self.search_seqs(&q)?;
            out.extend(seqs);
            match next {
                Some(next) => q.after_seq = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Searches and filters records; see [`SearchQuery`].
    pub fn search(&self, query: &SearchQuery) -> Result<SearchPage> {
        let (seqs, next_after) = self.search_seqs(query)?;
        let hits = seqs.into_iter().map(|s| self.record_view(s)).collect::<Result<Vec<_>>>()?;
        Ok(SearchPage { hits, next_after })
    }

    fn search_seqs(&self, query: &SearchQuery) -> Result<(Vec<i64>, Option<i64>)> {
        let limit = query.limit.unwrap_or(50).clamp(1, 10_000) as usize;
        let mut after = query.after_seq.unwrap_or(0);
        let unfiltered = query.is_unfiltered();
        let mut skip = query.offset.unwrap_or(0) as usize;
        if skip > 0 && unfiltered {
            // Without filters the n-th record is found on the primary key alone.
            let seq: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM records WHERE id > ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                    rusqlite::params![after, skip as i64 - 1],
                    |r| r.get(0),
                )
                .optional()?;
            match seq {
                Some(seq) => after = seq,
                None => return Ok((Vec::new(), None)),
            }
            skip = 0;
        }
        let needle = query.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
        let mut filters = String::new();
        let mut args: Vec<Value> = Vec::new();
        if let Some(label) = &query.label {
            filters.push_str(" AND EXISTS (SELECT 1 FROM current_labels l WHERE l.record_id = r.id AND l.label = ?)");
            args.push(Value::Text(label.clone()));
        }
        if let Some(split) = query.split {
            filters.push_str(" AND r.split = ?");
            args.push(Value::Text(split.as_str().into()));
        }
        if let Some(annotator) = &query.annotator {
            filters.push_str(" AND EXISTS (SELECT 1 FROM current_annotations c WHERE c.record_id = r.id AND c.annotator = ? AND c.value IS NOT NULL)");
            args.push(Value::Text(annotator.clone()));
        }
        match query.status {
            None => {}
            Some(Status::Unlabeled) => filters.push_str(" AND r.n_labeled = 0"),
            Some(Status::Labeled) => filters.push_str(" AND r.n_labeled > 0"),
            Some(Status::Skipped) => filters.push_str(
                " AND r.n_labeled = 0 AND EXISTS (SELECT 1 FROM current_annotations c WHERE c.record_id = r.id AND c.skipped = 1)",
            ),
            Some(Status::Flagged) => filters.push_str(
                " AND EXISTS (SELECT 1 FROM current_annotations c WHERE c.record_id = r.id AND c.flagged = 1)",
            ),
        }
        let run_id = self.prediction_run(query)?;
        if query.predicted_label.is_some() || query.min_score.is_some() || query.max_score.is_some() {
            filters.push_str(" AND EXISTS (SELECT 1 FROM predictions p WHERE p.record_id = r.id AND p.run_id = ?");
            args.push(run_id.clone().map(Value::Text).unwrap_or(Value::Null));
            if let Some(label) = &query.predicted_label {
                filters.push_str(" AND EXISTS (SELECT 1 FROM json_each(p.labels) WHERE value = ?)");
                args.push(Value::Text(label.clone()));
            }
            if let Some(min) = query.min_score {
                filters.push_str(" AND p.score >= ?");
                args.push(Value::Real(min));
            }
            if let Some(max) = query.max_score {
                filters.push_str(" AND p.score <= ?");
                args.push(Value::Real(max));
            }
            filters.push(')');
        }
        if let Some(sort @ (SearchSort::ScoreAsc | SearchSort::ScoreDesc)) = query.sort {
            // Ordered by the prediction's score (records without one last), paged by offset;
            // a text filter scans (the index yields candidates in sequence order only).
            let text_filter = if needle.is_some() { " AND fl_contains(r.text, ?)" } else { "" };
            let dir = if sort == SearchSort::ScoreAsc { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT r.id FROM records r LEFT JOIN predictions s ON s.record_id = r.id AND s.run_id = ?
                 WHERE r.id > ?{text_filter}{filters} ORDER BY s.score IS NULL, s.score {dir}, r.id LIMIT ? OFFSET ?"
            );
            let mut a =
                vec![run_id.map(Value::Text).unwrap_or(Value::Null), Value::Integer(query.after_seq.unwrap_or(0))];
            if let Some(n) = &needle {
                a.push(Value::Text(n.clone()));
            }
            a.extend(args);
            a.push(Value::Integer(limit as i64));
            a.push(Value::Integer(query.offset.unwrap_or(0).min(i64::MAX as u64) as i64));
            let mut stmt = self.conn.prepare(&sql)?;
            let seqs =
                stmt.query_map(params_from_iter(a), |r| r.get::<_, i64>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            return Ok((seqs, None));
        }
        let mut seqs: Vec<i64> = Vec::new();
        let run = |sql: &str, args: Vec<Value>, seqs: &mut Vec<i64>| -> Result<()> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, i64>(0))?;
            for row in rows {
                seqs.push(row?);
            }
            Ok(())
        };
        // Fetch one more than asked to know whether there is a next page (plus what is skipped).
        let want = skip + limit + 1;
        match (&needle, needle.as_deref().and_then(fts_query)) {
            (Some(needle), Some(fts)) => {
                let wm = self.search_watermark()?;
                if after < wm {
                    let sql = format!(
                        "SELECT r.id FROM search.search_index f JOIN records r ON r.id = f.rowid
                         WHERE search_index MATCH ? AND f.rowid > ? AND f.rowid <= ?
                           AND fl_contains(r.text, ?){filters} ORDER BY f.rowid LIMIT ?"
                    );
                    let mut a = vec![
                        Value::Text(fts.clone()),
                        Value::Integer(after),
                        Value::Integer(wm),
                        Value::Text(needle.clone()),
                    ];
                    a.extend(args.iter().cloned());
                    a.push(Value::Integer(want as i64));
                    run(&sql, a, &mut seqs)?;
                }
                if seqs.len() < want {
                    let sql = format!(
                        "SELECT r.id FROM records r WHERE r.id > ? AND fl_contains(r.text, ?){filters} ORDER BY r.id LIMIT ?"
                    );
                    let mut a = vec![Value::Integer(after.max(wm)), Value::Text(needle.clone())];
                    a.extend(args.iter().cloned());
                    a.push(Value::Integer((want - seqs.len()) as i64));
                    run(&sql, a, &mut seqs)?;
                }
            }
            (needle, _) => {
                let text_filter = if needle.is_some() { " AND fl_contains(r.text, ?)" } else { "" };
                let sql =
                    format!("SELECT r.id FROM records r WHERE r.id > ?{text_filter}{filters} ORDER BY r.id LIMIT ?");
                let mut a = vec![Value::Integer(after)];
                if let Some(n) = needle {
                    a.push(Value::Text(n.clone()));
                }
                a.extend(args.iter().cloned());
                a.push(Value::Integer(want as i64));
                run(&sql, a, &mut seqs)?;
            }
        }
        seqs.drain(..skip.min(seqs.len()));
        let next_after = if seqs.len() > limit {
            seqs.truncate(limit);
            seqs.last().copied()
        } else {
            None
        };
        Ok((seqs, next_after))
    }
}

/// A record's display label, for tables: the label, labels joined by ", ", the span count, or
/// the first line of an output (at most 80 characters, `…` when cut).
pub fn describe_value(value: &AnnotationValue) -> String {
    match value {
        AnnotationValue::Label(l) => l.clone(),
        AnnotationValue::Labels(ls) => ls.join(", "),
        AnnotationValue::Spans(spans) => format!("{} span(s)", spans.len()),
        AnnotationValue::Output(output) => {
            let first = output.lines().next().unwrap_or("");
            let mut shown: String = first.chars().take(80).collect();
            if shown.len() < output.len() {
                shown.push('…');
            }
            shown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_terms(text: &str, expected: &str) {
        assert_eq!(index_terms(text), expected, "terms of {text:?}");
    }

    #[test]
    fn terms() {
        check_terms("物流很快", "物流 流很 很快 快");
        check_terms("好", "好");
        check_terms("Shipping was FAST!", "shi hip ipp ppi pin ing ng g ingwas was as s wasfas fas ast st t");
        check_terms("ok 好 fine", "ok k 好 fin ine ne e");
        check_terms("iPhone15很好用😀", "iph pho hon one ne1 e15 15 5 很好 好用 用");
        check_terms("ab 中", "ab b 中");
        check_terms("", "");
        check_terms("😀😀", "");
    }

    #[test]
    fn folding() {
        for (text, needle, want) in [
            ("Shipping was FAST", "fast", true),
            ("Shipping was FAST", "was f", true),
            ("ÉCOLE", "école", true),
            ("物流很快", "很快", true),
            ("物流很快", "很慢", false),
            ("abc", "abcd", false),
            ("Straße", "strasse", false),
        ] {
            assert_eq!(contains_folded(text, needle), want, "{text:?} {needle:?}");
        }
    }

    fn check_query(q: &str, expected: Option<&str>) {
        assert_eq!(fts_query(q).as_deref(), expected, "query {q:?}");
    }

    #[test]
    fn queries() {
        check_query("物流", Some("\"物流\""));
        check_query("物", Some("\"物\"*"));
        check_query("物流很快", Some("\"很快\" \"物流\""));
        check_query("物流很", Some("\"流很\" \"物流\""));
        check_query("ship", Some("\"hip\" \"shi\""));
        check_query("quality", Some("\"ity\" \"lit\" \"qua\""));
        check_query("quality great", Some("\"eat\" \"gre\" \"ity\" \"itygre\" \"lit\" \"qua\""));
        check_query("好 sh", Some("\"sh\"* \"好\"*"));
        check_query("!!", None);
    }
}
