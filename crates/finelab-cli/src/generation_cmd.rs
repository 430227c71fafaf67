//! `finelab compare`: blind comparisons of two generator runs (or a run and the references), and
//! their win rates. The judging happens in the window (Label → Compare) or a browser on
//! `finelab serve`; the terminal starts comparisons and reads their outcome.

use anyhow::Result;
use finelab_app::generation::{self, ComparisonReport, ComparisonRequest};
use finelab_store::Store;
use std::path::PathBuf;

/// The generation commands of `finelab` (flattened into its command list).
#[derive(clap::Subcommand)]
pub enum GenerationCommand {
    /// Blind comparisons of two output sources of a generate project. With --a and --b, start
    /// one on a seeded sample of the records both wrote different outputs for; with --report ID,
    /// its tally (the win rate of A over the judgements that preferred a side, with its 95 %
    /// Wilson interval); with neither, list them.
    Compare {
        /// The project folder.
        dir: PathBuf,
        /// One source: a generator run id (or `run:ID`), or `reference`.
        #[arg(long)]
        a: Option<String>,
        /// The other source.
        #[arg(long)]
        b: Option<String>,
        /// Records in the sample.
        #[arg(short, long, default_value_t = generation::DEFAULT_COMPARISON_SIZE)]
        n: usize,
        /// Seed of the sample and of the sides.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Who starts it (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// The tally of this comparison.
        #[arg(long)]
        report: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a generation command.
pub fn run(command: GenerationCommand) -> Result<()> {
    match command {
        GenerationCommand::Compare { dir, a, b, n, seed, by, report, json } => {
            let mut store = Store::open(&dir)?;
            match (a, b, report) {
                (Some(a), Some(b), None) => {
                    let by = by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
                    let request = ComparisonRequest { a, b, n: Some(n), seed: Some(seed) };
                    let c = generation::start_comparison(&mut store, &request, &by)?;
                    if json {
                        println!("{}", serde_json::to_string(&c)?);
                    } else {
                        println!(
                            "comparison {}: {} vs {} on {} record(s) ({} with the same output left out); judge them \
                             in Label → Compare",
                            c.id, c.source_a, c.source_b, c.n_items, c.n_identical
                        );
                    }
                }
                (None, None, Some(id)) => {
                    let r = generation::comparison_report(&store, id)?;
                    if json {
                        println!("{}", serde_json::to_string(&r)?);
                    } else {
                        print_report(&r);
                    }
                }
                (None, None, None) => {
                    let reports: Vec<ComparisonReport> = store
                        .comparisons()?
                        .iter()
                        .map(|c| generation::comparison_report(&store, c.id))
                        .collect::<finelab_app::Result<_>>()?;
                    if json {
                        println!("{}", serde_json::to_string(&reports)?);
                    } else if reports.is_empty() {
                        println!("no comparisons yet: start one with --a RUN --b RUN|reference");
                    } else {
                        reports.iter().for_each(print_report);
                    }
                }
                _ => anyhow::bail!(
                    "give --a and --b to start a comparison, --report ID for one's tally, or neither to list them"
                ),
            }
        }
    }
    Ok(())
}

fn print_report(r: &ComparisonReport) {
    let c = &r.comparison;
    println!(
        "comparison {}: A = {}, B = {}; {}/{} judged: A {} · B {} · tie {}",
        c.id, c.source_a, c.source_b, c.n_judged, c.n_items, r.wins_a, r.wins_b, r.ties
    );
    match (r.win_rate_a, r.ci_low, r.ci_high) {
        (Some(rate), Some(low), Some(high)) => println!(
            "  A wins {:.1} % of the decided judgements (95 % CI {:.1}–{:.1} %)",
            rate * 100.0,
            low * 100.0,
            high * 100.0
        ),
        _ => println!("  no judgement prefers a side yet"),
    }
}
