//! Opening and creating projects; settings, labels, records and statistics.

use crate::{
    AnnotationValue, CurrentAnnotation, Error, LabelDef, NewProject, ProjectKind, ProjectSettings, Record, RecordView,
    Result, Split, SplitRatios, Stats, Turn, DB_FILE,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An open project: its folder and a connection to its database.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) dir: PathBuf,
}

/// How long a statement waits for another connection's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Begins a transaction that will write to the project database, taking the write lock now.
///
/// A transaction that reads first and writes later (`BEGIN DEFERRED`) cannot wait for the lock
/// when another connection committed in between: SQLite answers `SQLITE_BUSY_SNAPSHOT` at once,
/// and the busy timeout never applies. Taking the lock before the first read makes a second
/// writer wait its turn instead. `BEGIN IMMEDIATE` would also lock the attached search index,
/// which the import's indexer thread writes from its own connection, so the lock is taken with a
/// statement that writes to the main database only (and changes nothing).
pub(crate) fn write_tx(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    let tx = conn.transaction()?;
    tx.execute("UPDATE main.settings SET value = value WHERE 0", [])?;
    Ok(tx)
}

fn open_connection(db: &Path) -> Result<Connection> {
    let conn = Connection::open(db)?;
    // WAL lets the UI read while an import or the indexer writes; synchronous=FULL makes every
    // committed annotation survive a power cut, not only a killed process.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -32_000)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // A writer waits for the one before it (see `write_tx`); the longest wait is an import's
    // write phase, which holds the lock for seconds at most, so this is a generous bound.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    crate::search::register_functions(&conn)?;
    crate::search::attach(&conn, db)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, db: &Path) -> Result<()> {
    let found: usize = conn.pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))? as usize;
    let supported = crate::schema::latest_version();
    if found > supported {
        return Err(Error::NewerSchema { path: db.to_path_buf(), found, supported });
    }
    crate::schema::migrations().to_latest(conn)?;
    Ok(())
}

impl Store {
    /// Creates a project in `dir` (created if missing; must not already hold a project).
    pub fn create(dir: &Path, project: &NewProject) -> Result<Store> {
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(Error::AlreadyExists(dir.to_path_buf()));
        }
        validate_label_set(&project.labels)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut conn = open_connection(&db)?;
        migrate(&mut conn, &db)?;
        let tx = conn.transaction()?;
        {
            let mut set = tx.prepare("INSERT INTO settings (key, value) VALUES (?1, ?2)")?;
            set.execute(params!["name", project.name])?;
            set.execute(params!["kind", project.kind.as_str()])?;
            set.execute(params!["guidelines", project.guidelines])?;
            set.execute(params!["split_seed", project.split_seed.to_string()])?;
            set.execute(params!["split_ratios", serde_json::to_string(&project.split_ratios)?])?;
            set.execute(params!["created_at", crate::now_ms().to_string()])?;
            for (position, label) in project.labels.iter().enumerate() {
                insert_label(&tx, label, position)?;
            }
        }
        tx.commit()?;
        Ok(Store { conn, dir: dir.to_path_buf() })
    }

    /// Opens the project in `dir`, applying pending migrations; a database written by a newer
    /// Finelab is refused.
    pub fn open(dir: &Path) -> Result<Store> {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(Error::NotAProject(dir.to_path_buf()));
        }
        let mut conn = open_connection(&db)?;
        migrate(&mut conn, &db)?;
        Ok(Store { conn, dir: dir.to_path_buf() })
    }

    /// The project folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub(crate) fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The project's settings.
    pub fn settings(&self) -> Result<ProjectSettings> {
        let get = |key: &str| -> Result<String> {
            self.setting(key)?.ok_or_else(|| Error::Invalid(format!("project setting {key:?} is missing")))
        };
        Ok(ProjectSettings {
            name: get("name")?,
            kind: get("kind")?.parse()?,
            guidelines: get("guidelines")?,
            split_seed: get("split_seed")?.parse().unwrap_or(42),
            split_ratios: serde_json::from_str::<SplitRatios>(&get("split_ratios")?)?,
            created_at: get("created_at")?.parse().unwrap_or(0),
            retrain_every: match self.setting(RETRAIN_EVERY)? {
                Some(v) => v.parse().unwrap_or(crate::DEFAULT_RETRAIN_EVERY),
                None => crate::DEFAULT_RETRAIN_EVERY,
            },
            overlap: self.overlap()?,
            annotators_see_others: self.setting(SEE_OTHERS)?.is_some_and(|v| v == "true"),
            tie_rule: self.tie_rule()?,
        })
    }

    /// The project's kind.
    pub fn kind(&self) -> Result<ProjectKind> {
        self.setting("kind")?.ok_or_else(|| Error::Invalid("project setting \"kind\" is missing".into()))?.parse()
    }

    /// Replaces the annotation guidelines.
    pub fn set_guidelines(&self, markdown: &str) -> Result<()> {
        Store::set_setting(&self.conn, "guidelines", markdown)
    }

    /// Sets [`ProjectSettings::retrain_every`] (0: never retrain in the background).
    pub fn set_retrain_every(&self, every: u64) -> Result<()> {
        if every > 1_000_000 {
            return Err(Error::Invalid(format!("retrain every {every} labels: at most 1000000 (0 turns it off)")));
        }
        Store::set_setting(&self.conn, RETRAIN_EVERY, &every.to_string())
    }

    /// [`ProjectSettings::overlap`]: how many annotators label each record.
    pub fn overlap(&self) -> Result<u32> {
        Ok(self.setting(OVERLAP)?.and_then(|v| v.parse().ok()).unwrap_or(1))
    }

    /// Sets [`ProjectSettings::overlap`] (1 to 20).
    pub fn set_overlap(&self, k: u32) -> Result<()> {
        if !(1..=20).contains(&k) {
            return Err(Error::Invalid(format!("{k} annotators per record: 1 to 20")));
        }
        Store::set_setting(&self.conn, OVERLAP, &k.to_string())
    }

    /// Sets [`ProjectSettings::annotators_see_others`].
    pub fn set_annotators_see_others(&self, see: bool) -> Result<()> {
        Store::set_setting(&self.conn, SEE_OTHERS, if see { "true" } else { "false" })
    }

    /// The speakers a generate project takes as the agent, as imports named them (see
    /// [`crate::import::ImportOptions::agent_speakers`]); empty when none were named, which
    /// means [`crate::DEFAULT_AGENT_SPEAKERS`]. [`crate::chat_role`] takes this list.
    pub fn agent_speakers(&self) -> Result<Vec<String>> {
        match self.setting(AGENT_SPEAKERS)? {
            Some(json) => Ok(serde_json::from_str(&json)?),
            None => Ok(Vec::new()),
        }
    }

    /// The label set in display order.
    pub fn labels(&self) -> Result<Vec<LabelDef>> {
        let mut stmt =
            self.conn.prepare("SELECT name, color, hotkey, description FROM labels ORDER BY position, id")?;
        let rows = stmt.query_map([], |r| {
            Ok(LabelDef { name: r.get(0)?, color: r.get(1)?, hotkey: r.get(2)?, description: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Appends labels to the label set (names already present are left alone).
    pub fn add_labels(&mut self, names: &[String]) -> Result<Vec<String>> {
        let tx = write_tx(&mut self.conn)?;
        let added = add_labels_in(&tx, names)?;
        tx.commit()?;
        Ok(added)
    }

    /// Number of records.
    pub fn n_records(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM records", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Project statistics.
    pub fn stats(&self) -> Result<Stats> {
        let settings = self.settings()?;
        let one = |sql: &str| -> Result<u64> { Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
        let mut labels = BTreeMap::new();
        for label in self.labels()? {
            labels.insert(label.name, 0);
        }
        {
            let mut stmt =
                self.conn.prepare("SELECT label, count(DISTINCT record_id) FROM current_labels GROUP BY label")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (label, n) = row?;
                labels.insert(label, n as u64);
            }
        }
        let mut splits: BTreeMap<String, u64> = Split::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
        {
            let mut stmt = self.conn.prepare(
                "SELECT split, count(*) FROM records WHERE split IS NOT NULL AND n_labeled > 0 GROUP BY split",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (split, n) = row?;
                splits.insert(split, n as u64);
            }
        }
        let annotators = {
            let mut stmt = self.conn.prepare("SELECT DISTINCT annotator FROM annotations ORDER BY annotator")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        Ok(Stats {
            name: settings.name,
            kind: settings.kind,
            records: one("SELECT count(*) FROM records")?,
            labeled: one("SELECT count(*) FROM records WHERE n_labeled > 0")?,
            labels,
            splits,
            annotators,
            runs: one("SELECT count(*) FROM runs")?,
            flagged: one("SELECT count(DISTINCT record_id) FROM current_annotations WHERE flagged = 1")?,
            log_entries: one("SELECT count(*) FROM annotations")?,
            search_indexed: self.search_indexed_count()?,
        })
    }

    /// The record with this stable id.
    pub fn record(&self, id: &str) -> Result<RecordView> {
        let seq: i64 = self
            .conn
            .query_row("SELECT id FROM records WHERE uid = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::NoSuchRecord(id.to_string()))?;
        self.record_view(seq)
    }

    /// The record with this sequence number.
    pub fn record_by_seq(&self, seq: i64) -> Result<RecordView> {
        self.record_view(seq)
    }

    pub(crate) fn record_row(&self, seq: i64) -> Result<Record> {
        self.conn
            .query_row(
                "SELECT r.id, r.uid, r.text, r.turns, r.meta, r.split, s.path, r.source_line
                 FROM records r LEFT JOIN sources s ON s.id = r.source_id WHERE r.id = ?1",
                [seq],
                record_from_row,
            )
            .optional()?
            .ok_or_else(|| Error::NoSuchRecord(format!("#{seq}")))
    }

    pub(crate) fn record_view(&self, seq: i64) -> Result<RecordView> {
        let record = self.record_row(seq)?;
        let annotations = self.current_annotations(seq)?;
        let latest = annotations.iter().filter(|a| a.value.is_some()).max_by_key(|a| a.updated_at);
        Ok(RecordView {
            value: latest.and_then(|a| a.value.clone()),
            annotator: latest.map(|a| a.annotator.clone()),
            prediction: self.suggestion(seq)?,
            record,
            annotations,
        })
    }

    pub(crate) fn current_annotations(&self, seq: i64) -> Result<Vec<CurrentAnnotation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT annotator, value, skipped, flagged, updated_at FROM current_annotations
             WHERE record_id = ?1 ORDER BY annotator",
        )?;
        let rows = stmt.query_map([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (annotator, value, skipped, flagged, updated_at) = row?;
            let value = value.map(|v| serde_json::from_str::<AnnotationValue>(&v)).transpose()?;
            out.push(CurrentAnnotation { annotator, value, skipped, flagged, updated_at });
        }
        Ok(out)
    }

    /// The next record to label for `annotator`: the first one after `after_seq` in import order
    /// that still needs a label from them (see [`Store::open_for`]) and that they have not
    /// skipped, wrapping around; then skipped ones.
    pub fn next_record(&self, annotator: &str, after_seq: Option<i64>) -> Result<Option<RecordView>> {
        let after = after_seq.unwrap_or(0);
        let open = open_for_sql(self.overlap()?);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT r.id FROM records r WHERE {open} AND r.id > ?1
             AND NOT EXISTS (SELECT 1 FROM current_annotations c
                             WHERE c.record_id = r.id AND c.annotator = ?2 AND c.skipped = 1)
             ORDER BY r.id LIMIT 1"
        ))?;
        let mut found: Option<i64> = stmt.query_row(params![after, annotator], |r| r.get(0)).optional()?;
        if found.is_none() && after > 0 {
            found = stmt.query_row(params![0, annotator], |r| r.get(0)).optional()?;
        }
        if found.is_none() {
            found = self
                .conn
                .query_row(
                    &format!("SELECT r.id FROM records r WHERE {open} AND ?2 = ?2 ORDER BY r.id LIMIT 1"),
                    params![0, annotator],
                    |r| r.get(0),
                )
                .optional()?;
        }
        found.map(|seq| self.record_view(seq)).transpose()
    }

    /// The records after `after_seq` that still need a label from `annotator`, up to `limit`, as
    /// (sequence number, text), in import order: with one annotator per record
    /// ([`ProjectSettings::overlap`] 1) the unlabeled ones; with k, those labeled by fewer than k
    /// that `annotator` has not labeled.
    pub fn open_for(&self, annotator: &str, after_seq: i64, limit: usize) -> Result<Vec<(i64, String)>> {
        let open = open_for_sql(self.overlap()?);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT r.id, r.text FROM records r WHERE {open} AND r.id > ?1 ORDER BY r.id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![after_seq, annotator, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records in import order, `limit` from `offset` (the plain browse list).
    pub fn list_records(&self, offset: u64, limit: u64) -> Result<Vec<Record>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, r.uid, r.text, r.turns, r.meta, r.split, s.path, r.source_line
             FROM records r LEFT JOIN sources s ON s.id = r.source_id
             WHERE r.id > (SELECT coalesce(max(id), 0) FROM (SELECT id FROM records ORDER BY id LIMIT ?1))
             ORDER BY r.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![offset as i64, limit as i64], record_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

pub(crate) fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    let turns: Option<String> = r.get(3)?;
    let meta: Option<String> = r.get(4)?;
    let split: Option<String> = r.get(5)?;
    Ok(Record {
        seq: r.get(0)?,
        id: r.get(1)?,
        text: r.get(2)?,
        turns: turns.and_then(|t| serde_json::from_str::<Vec<Turn>>(&t).ok()),
        meta: meta.and_then(|m| serde_json::from_str(&m).ok()),
        split: split.and_then(|s| s.parse().ok()),
        source: r.get(6)?,
        source_line: r.get(7)?,
    })
}

fn validate_label_set(labels: &[LabelDef]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for label in labels {
        validate_label_name(&label.name)?;
        if !seen.insert(label.name.as_str()) {
            return Err(Error::Invalid(format!("label {:?} appears twice in the label set", label.name)));
        }
    }
    let mut keys = std::collections::HashSet::new();
    for label in labels {
        if let Some(key) = &label.hotkey {
            if !keys.insert(key.as_str()) {
                return Err(Error::Invalid(format!("hotkey {key:?} is given to two labels")));
            }
        }
    }
    Ok(())
}

pub(crate) fn validate_label_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(Error::Invalid(format!("label name {name:?} is empty or has leading/trailing spaces")));
    }
    if name.contains('|') {
        return Err(Error::Invalid(format!("label name {name:?} may not contain '|'")));
    }
    Ok(())
}

fn insert_label(conn: &Connection, label: &LabelDef, position: usize) -> Result<()> {
    conn.execute(
        "INSERT INTO labels (name, color, hotkey, description, position) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![label.name, label.color, label.hotkey, label.description, position as i64],
    )?;
    Ok(())
}

/// The setting that holds a generate project's agent speakers (a JSON list).
const AGENT_SPEAKERS: &str = "agent_speakers";

/// The condition on `records r` of a record that still needs a label from annotator `?2` when
/// each record is labeled by `k`: unlabeled (with its index) for one, else labeled by fewer than
/// `k` and not by `?2`. (`?2 = ?2` keeps the parameter count the same for both.)
fn open_for_sql(k: u32) -> String {
    if k <= 1 {
        "r.n_labeled = 0 AND ?2 = ?2".into()
    } else {
        format!(
            "r.n_labeled < {k} AND NOT EXISTS (SELECT 1 FROM current_annotations m
                 WHERE m.record_id = r.id AND m.annotator = ?2 AND m.value IS NOT NULL)"
        )
    }
}

/// The settings key of [`ProjectSettings::retrain_every`].
const RETRAIN_EVERY: &str = "retrain_every";
/// The settings key of [`ProjectSettings::overlap`].
const OVERLAP: &str = "overlap";
/// The settings key of [`ProjectSettings::annotators_see_others`].
const SEE_OTHERS: &str = "annotators_see_others";

/// Adds agent speaker names to the project's list (names already there, compared
/// case-insensitively, are left alone).
pub(crate) fn add_agent_speakers_in(conn: &Connection, names: &[String]) -> Result<()> {
    let mut list: Vec<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [AGENT_SPEAKERS], |r| r.get::<_, String>(0))
        .optional()?
        .map(|json| serde_json::from_str(&json))
        .transpose()?
        .unwrap_or_default();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !list.iter().any(|l| l.eq_ignore_ascii_case(name)) {
            list.push(name.to_string());
        }
    }
    Store::set_setting(conn, AGENT_SPEAKERS, &serde_json::to_string(&list)?)
}

pub(crate) fn add_labels_in(conn: &Connection, names: &[String]) -> Result<Vec<String>> {
    let mut existing: Vec<LabelDef> = {
        let mut stmt = conn.prepare("SELECT name, color, hotkey, description FROM labels ORDER BY position, id")?;
        let rows = stmt.query_map([], |r| {
            Ok(LabelDef { name: r.get(0)?, color: r.get(1)?, hotkey: r.get(2)?, description: r.get(3)? })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut added = Vec::new();
    for name in names {
        if existing.iter().any(|l| &l.name == name) {
            continue;
        }
        validate_label_name(name)?;
        let position = existing.len();
        let mut label = LabelDef::with_defaults(name, position);
        if label.hotkey.as_ref().is_some_and(|k| existing.iter().any(|l| l.hotkey.as_ref() == Some(k))) {
            label.hotkey = None;
        }
        insert_label(conn, &label, position)?;
        existing.push(label);
        added.push(name.clone());
    }
    Ok(added)
}
