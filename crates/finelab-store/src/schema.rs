//! The schema as an append-only list of migrations.
//!
//! Never edit a migration that has shipped: append a new one. The version lives in
//! `PRAGMA user_version`; `rusqlite_migration` applies pending migrations in one transaction.

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first. Index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE labels (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    color       TEXT NOT NULL,
    hotkey      TEXT,
    description TEXT NOT NULL DEFAULT '',
    position    INTEGER NOT NULL
) STRICT;

CREATE TABLE sources (
    id           INTEGER PRIMARY KEY,
    path         TEXT NOT NULL,
    format       TEXT NOT NULL,
    encoding     TEXT,
    imported_at  INTEGER NOT NULL,
    n_imported   INTEGER NOT NULL,
    n_duplicates INTEGER NOT NULL,
    n_rejected   INTEGER NOT NULL
) STRICT;

-- One row per record. `text` is the text as shown (dialogs: "speaker: text" lines);
-- span offsets are code points into it.
CREATE TABLE records (
    id           INTEGER PRIMARY KEY,
    uid          TEXT NOT NULL UNIQUE,
    text         TEXT NOT NULL,
    turns        TEXT,
    meta         TEXT,
    source_id    INTEGER REFERENCES sources(id),
    source_line  INTEGER,
    content_hash INTEGER NOT NULL,
    split        TEXT CHECK (split IN ('train', 'dev', 'test')),
    n_labeled    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX records_unlabeled ON records(id) WHERE n_labeled = 0;
CREATE INDEX records_by_split ON records(split) WHERE split IS NOT NULL;

-- The append-only annotation log: the truth. Undo is a new entry, never a deletion.
CREATE TABLE annotations (
    id         INTEGER PRIMARY KEY,
    record_id  INTEGER NOT NULL REFERENCES records(id),
    annotator  TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('label', 'skip', 'flag', 'unflag', 'undo')),
    value      TEXT,
    undoes     INTEGER REFERENCES annotations(id),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX annotations_by_record ON annotations(record_id, annotator);
CREATE INDEX annotations_by_annotator ON annotations(annotator, id);
CREATE INDEX annotations_by_undoes ON annotations(undoes) WHERE undoes IS NOT NULL;
CREATE TRIGGER annotations_no_update BEFORE UPDATE ON annotations
BEGIN SELECT RAISE(ABORT, 'the annotation log is append-only'); END;
CREATE TRIGGER annotations_no_delete BEFORE DELETE ON annotations
BEGIN SELECT RAISE(ABORT, 'the annotation log is append-only'); END;

-- Derived from the log (rebuildable): each annotator's current state of a record.
CREATE TABLE current_annotations (
    record_id     INTEGER NOT NULL REFERENCES records(id),
    annotator     TEXT NOT NULL,
    annotation_id INTEGER REFERENCES annotations(id),
    value         TEXT,
    skipped       INTEGER NOT NULL DEFAULT 0,
    flagged       INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (record_id, annotator)
) STRICT, WITHOUT ROWID;
CREATE INDEX current_by_annotation ON current_annotations(annotation_id);

-- Derived: the labels of each record's current value, for filtering and counting.
CREATE TABLE current_labels (
    record_id INTEGER NOT NULL REFERENCES records(id),
    annotator TEXT NOT NULL,
    label     TEXT NOT NULL,
    PRIMARY KEY (record_id, annotator, label)
) STRICT, WITHOUT ROWID;
CREATE INDEX current_labels_by_label ON current_labels(label, record_id);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT NOT NULL CHECK (status IN ('running', 'completed', 'cancelled', 'failed', 'interrupted')),
    family       TEXT NOT NULL,
    base_model   TEXT,
    device       TEXT NOT NULL,
    config       TEXT NOT NULL,
    data_hash    TEXT NOT NULL,
    n_train      INTEGER NOT NULL,
    n_dev        INTEGER NOT NULL,
    n_test       INTEGER NOT NULL,
    epochs       TEXT NOT NULL DEFAULT '[]',
    dev_report   TEXT,
    test_report  TEXT,
    model_dir    TEXT,
    pid          INTEGER,
    error        TEXT
) STRICT;

"#,
    // 2: each run's predictions, for drill-down from its charts (dev and test records, with the
    // gold value the run was scored against) and for suggestions (unlabeled records).
    r#"
CREATE TABLE predictions (
    run_id    TEXT NOT NULL REFERENCES runs(id),
    record_id INTEGER NOT NULL REFERENCES records(id),
    split     TEXT CHECK (split IN ('train', 'dev', 'test')),
    gold      TEXT,
    gold_labels TEXT NOT NULL DEFAULT '[]',
    value     TEXT NOT NULL,
    label     TEXT,
    labels    TEXT NOT NULL DEFAULT '[]',
    score     REAL,
    PRIMARY KEY (run_id, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX predictions_by_record ON predictions(record_id);
CREATE INDEX predictions_by_score ON predictions(run_id, score);
"#,
    // 3: splits are given in the transaction that makes a record labeled. A record remembers the
    // stratum (its label set) it was counted in when it got its split, so the proportions of a
    // stratum are read from an index instead of from every labeled record. A run records what
    // its training ended as (`completed` or `cancelled`) while its predictions are still being
    // stored: it takes that status only once they all are.
    r#"
ALTER TABLE records ADD COLUMN stratum TEXT;
CREATE INDEX records_by_stratum ON records(stratum, split) WHERE stratum IS NOT NULL;
CREATE INDEX records_split_unstratified ON records(id) WHERE split IS NOT NULL AND stratum IS NULL;
CREATE INDEX records_labeled_unsplit ON records(id) WHERE split IS NULL AND n_labeled > 0;
ALTER TABLE runs ADD COLUMN trained_status TEXT CHECK (trained_status IN ('completed', 'cancelled'));
"#,
    // 4: records made from one dialog (a generate project's record per agent turn) share a split
    // group: they share their opening turns, so they share their split too, or a test record's
    // context would be trained on.
    r#"
ALTER TABLE records ADD COLUMN split_group TEXT;
CREATE INDEX records_by_split_group ON records(split_group, split) WHERE split_group IS NOT NULL;
"#,
    // 5: the people who may sign in to `finelab serve` on this project, with their role and an
    // argon2 password hash (PHC string; never the password). `password_changed_at` ends the
    // sessions signed in with an older password.
    r#"
CREATE TABLE users (
    name                TEXT PRIMARY KEY,
    role                TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'annotator')),
    password_hash       TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
) STRICT;

-- A reviewer's decision where annotators disagree is a `label` entry of the log by the reviewer,
-- marked here as a decision (in the same transaction): it is the label the record trains on
-- while it is not undone. Append-only, as the log.
CREATE TABLE adjudications (
    annotation_id INTEGER PRIMARY KEY REFERENCES annotations(id)
) STRICT;
CREATE TRIGGER adjudications_no_update BEFORE UPDATE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;
CREATE TRIGGER adjudications_no_delete BEFORE DELETE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications are append-only'); END;

-- Slices of the project a lead gave to named people: a search (JSON of a SearchQuery) and the
-- people (a JSON list). A record in a slice is served only to the people of a slice it is in.
CREATE TABLE assignments (
    id         INTEGER PRIMARY KEY,
    query      TEXT NOT NULL,
    people     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
"#,
    // 3: generate projects. A label written from a model's draft keeps which run drafted it and
    // how many characters the annotator changed; blind comparisons of two output sources (two
    // runs, or a run and the references) hold their items as shown, and preferences between
    // them are an append-only log of their own (an undo is a row that names the row it undoes).
    r#"
CREATE TABLE draft_edits (
    annotation_id INTEGER PRIMARY KEY REFERENCES annotations(id),
    run_id        TEXT NOT NULL,
    draft_chars   INTEGER NOT NULL,
    distance      INTEGER NOT NULL
) STRICT;

CREATE TABLE comparisons (
    id         INTEGER PRIMARY KEY,
    source_a   TEXT NOT NULL,
    source_b   TEXT NOT NULL,
    seed       INTEGER NOT NULL,
    n_identical INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE comparison_items (
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    position      INTEGER NOT NULL,
    record_id     INTEGER NOT NULL REFERENCES records(id),
    output_a      TEXT NOT NULL,
    output_b      TEXT NOT NULL,
    a_left        INTEGER NOT NULL,
    PRIMARY KEY (comparison_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE preferences (
    id            INTEGER PRIMARY KEY,
    comparison_id INTEGER NOT NULL REFERENCES comparisons(id),
    position      INTEGER NOT NULL,
    annotator     TEXT NOT NULL,
    choice        TEXT CHECK (choice IN ('a', 'b', 'tie')),
    undoes        INTEGER REFERENCES preferences(id),
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX preferences_by_comparison ON preferences(comparison_id, annotator);
CREATE TRIGGER preferences_no_update BEFORE UPDATE ON preferences
BEGIN SELECT RAISE(ABORT, 'the preference log is append-only'); END;
CREATE TRIGGER preferences_no_delete BEFORE DELETE ON preferences
BEGIN SELECT RAISE(ABORT, 'the preference log is append-only'); END;
"#,
];

/// The migration list in `rusqlite_migration`'s form.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The schema version this program writes.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
