//! `finelab import`: a file into a project, validated as the window's import form is, with a
//! progress bar (or JSON progress lines), the rows it could not use by file and line, and the
//! search index brought up to date.

use anyhow::{Context, Result};
use finelab_app::project;
use finelab_store::import::{ColumnMap, ImportOptions};
use indicatif::ProgressBar;
use std::io::Write;
use std::path::PathBuf;

use crate::{bar, print_line_errors};

/// `finelab import`'s arguments.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The project folder.
    dir: PathBuf,
    /// The file.
    file: PathBuf,
    /// Format (default: from the extension).
    #[arg(long)]
    format: Option<String>,
    /// Text column (name or 1-based number) or JSON key.
    #[arg(long)]
    text_col: Option<String>,
    /// Label column or JSON key.
    #[arg(long)]
    label_col: Option<String>,
    /// Id column or JSON key.
    #[arg(long)]
    id_col: Option<String>,
    /// Conversation-id column: rows sharing it become one dialog.
    #[arg(long)]
    group_col: Option<String>,
    /// Speaker column of dialog rows.
    #[arg(long)]
    speaker_col: Option<String>,
    /// Output column of a generate project (default: found by name: output, completion,
    /// answer, target, response, 回答, 答案...).
    #[arg(long)]
    output_col: Option<String>,
    /// Generate projects, dialogs: `last` (the last agent turn is the output of the turns
    /// before it: one record a dialog) or `each` (every agent turn becomes a record).
    #[arg(long, default_value = "last", value_parser = ["last", "each"])]
    dialog_targets: String,
    /// Generate projects: a speaker whose turns are the agent's (repeatable; default:
    /// assistant, agent, bot, gpt, 客服, 坐席, 助手...).
    #[arg(long = "agent")]
    agents: Vec<String>,
    /// auto, utf-8, gb18030, gbk, big5, utf-16le...
    #[arg(long, default_value = "auto")]
    encoding: String,
    /// CSV delimiter (default: detected). Use '\t' for tab.
    #[arg(long)]
    delimiter: Option<String>,
    /// Give every record without a label this label (e.g. `pos` for a file of positive reviews).
    #[arg(long)]
    label: Option<String>,
    /// Add labels found in the file to the label set instead of rejecting their rows.
    #[arg(long)]
    add_labels: bool,
    /// Import nothing if any row is bad.
    #[arg(long)]
    strict: bool,
    /// Import records whose text is already in the project.
    #[arg(long)]
    keep_duplicates: bool,
    /// Annotator name for labels found in the file.
    #[arg(long)]
    annotator: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Print progress events as JSON lines on stdout.
    #[arg(long)]
    json_progress: bool,
    /// Do not build the search index now (it is built by the next `finelab index` or import).
    #[arg(long)]
    no_index: bool,
}

pub fn run(args: ImportArgs) -> Result<()> {
    let ImportArgs {
        dir,
        file,
        format,
        text_col,
        label_col,
        id_col,
        group_col,
        speaker_col,
        output_col,
        dialog_targets,
        agents,
        encoding,
        delimiter,
        label,
        add_labels,
        strict,
        keep_duplicates,
        annotator,
        json,
        json_progress,
        no_index,
    } = args;
    // The same request the window's import form sends, validated the same way.
    let request = finelab_app::api::ImportRequest {
        format,
        encoding: Some(encoding),
        delimiter,
        columns: ColumnMap {
            text: text_col,
            label: label_col,
            id: id_col,
            group: group_col,
            speaker: speaker_col,
            output: output_col,
        },
        fixed_label: label,
        add_labels,
        strict,
        keep_duplicates,
        dialog_targets: Some(dialog_targets.parse()?),
        agents: Some(agents),
    };
    let options = ImportOptions { annotator, skip_search_index: no_index, ..request.to_options()? };
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let pb = if json_progress { ProgressBar::hidden() } else { bar(size, "import") };
    let mut stdout = std::io::stdout();
    let outcome = project::import(&dir, &file, &options, &mut |p| {
        if json_progress {
            let _ = writeln!(stdout, "{}", serde_json::json!({"event": "progress", "rows": p.rows, "bytes_read": p.bytes_read, "bytes_total": p.bytes_total}));
            let _ = stdout.flush();
        }
        pb.set_position(p.bytes_read);
        true
    })
    .with_context(|| format!("importing {} into {}", file.display(), dir.display()))?;
    pb.finish_and_clear();
    // Normally the import indexed its records itself; this catches up earlier gaps. The
    // records are committed: an index that cannot be brought up to date now (another
    // process holds it) is a warning, never a failed import.
    let indexed = if no_index {
        0
    } else {
        let pb = ProgressBar::hidden();
        let mut first = true;
        let indexed = project::index_search(&dir, &mut |done, total| {
            if first && !json_progress {
                pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                pb.set_style(bar(total, "index").style());
                pb.set_length(total);
                pb.set_message("index");
                first = false;
            }
            pb.set_position(done);
            true
        });
        indexed.unwrap_or_else(|e| {
            eprintln!("warning: the records are imported, but the search index is not up to date ({e}); `finelab index` catches up, and search scans them meanwhile");
            0
        })
    };
    pb.finish_and_clear();
    let r = &outcome.report;
    if json || json_progress {
        let mut v = serde_json::to_value(&outcome)?;
        v["event"] = "done".into();
        v["indexed"] = indexed.into();
        println!("{v}");
    } else {
        println!(
            "{}: imported {} records ({} labeled) from {} rows in {:.1} s [{} , {}{}]",
            r.path,
            r.imported,
            r.labeled,
            r.rows,
            r.seconds,
            r.format.as_str(),
            r.encoding,
            r.delimiter.as_ref().map(|d| format!(", delimiter {d:?}")).unwrap_or_default()
        );
        if r.duplicates > 0 {
            let lines: Vec<String> =
                r.duplicate_examples.iter().take(5).map(|d| format!("line {} = {}", d.line, d.existing_id)).collect();
            println!(
                "  {} duplicate(s) skipped (e.g. {}); use --keep-duplicates to import them",
                r.duplicates,
                lines.join(", ")
            );
        }
        if !r.added_labels.is_empty() {
            println!("  labels added: {}", r.added_labels.join(", "));
        }
        if r.n_skipped > 0 {
            println!("  {} row(s) skipped as the file asks:", r.n_skipped);
            for e in r.skipped.iter().take(5) {
                println!("    {}:{}: {}", r.path, e.line, e.reason);
            }
        }
        print_line_errors(&r.path, "row(s) rejected", &r.rejected, r.n_rejected);
        if outcome.splits.assigned > 0 {
            println!(
                "  splits: {} new labeled record(s) assigned; train {} / dev {} / test {}",
                outcome.splits.assigned, outcome.splits.train, outcome.splits.dev, outcome.splits.test
            );
        }
    }
    Ok(())
}
