//! `finelab optimize`: a smaller model made from a run (pruned encoder layers fine-tuned again,
//! distilled, the encoder quantized to int8, or a generator exported as GGUF), and the table of a project's runs by size, CPU speed, macro-F1 and agreement with their parent.

use crate::train_cmd;
use anyhow::Result;
use finelab_app::optimize::{self, OptimizeMethod, OptimizeRequest, RunCost};
use std::path::{Path, PathBuf};

/// The optimisation commands of `finelab` (flattened into its command list).
#[derive(clap::Subcommand)]
pub enum OptimizeCommand {
    /// Optimise run RUN into a new run that records its parent, scored on the same dev and test
    /// records: `int8` quantizes a transformer run's dense encoder weights to int8 per output
    /// channel for the CPU's integer kernels (nothing is trained); `prune` keeps the first
    /// --layers encoder layers (default half) and fine-tunes them again for --epochs (default
    /// 2); `distill` trains the same smaller encoder on the run's soft predictions over the
    /// train split and the unlabeled records (up to 20,000); `q8_0` and `q4_k_m` quantize a
    /// generator run into a GGUF file for llama.cpp and Ollama (`model-q8_0.gguf` in the new run's
    /// folder), whose dev and test answers Finelab then generates with the same quantized
    /// weights. Then prints the two runs' size, speed, macro-F1 and agreement. With --table, that
    /// table for every run.
    Optimize {
        /// The project folder.
        dir: PathBuf,
        /// The run to optimise.
        #[arg(long, required_unless_present = "table")]
        run: Option<String>,
        /// How.
        #[arg(long, default_value = "int8", value_parser = ["int8", "prune", "distill", "q8_0", "q4_k_m"])]
        method: String,
        /// Prune, distill: encoder layers to keep.
        #[arg(long)]
        layers: Option<usize>,
        /// Epochs of the new fine-tuning.
        #[arg(long)]
        epochs: Option<usize>,
        /// Print the table of the project's runs only.
        #[arg(long)]
        table: bool,
        /// Also time each model's CPU inference (on up to 256 texts of its scored split).
        #[arg(long)]
        speed: bool,
        /// Print the table as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an optimisation command.
pub fn run(command: OptimizeCommand) -> Result<()> {
    let OptimizeCommand::Optimize { dir, run, method, layers, epochs, table, speed, json } = command;
    let method = match method.as_str() {
        "prune" => OptimizeMethod::Prune,
        "distill" => OptimizeMethod::Distill,
        "q8_0" => OptimizeMethod::Q8_0,
        "q4_k_m" => OptimizeMethod::Q4KM,
        _ => OptimizeMethod::Int8,
    };
    let mut shown: Option<Vec<String>> = None;
    if let (Some(run), false) = (run, table) {
        let request = OptimizeRequest { run: run.clone(), method, layers, epochs };
        let train_request = optimize::plan(&dir, &request)?;
        train_cmd::train(train_cmd::TrainArgs { dir: dir.clone(), request: train_request, json_progress: false })?;
        let child = finelab_app::train::runs(&dir)?.first().map(|r| r.id.clone());
        shown = Some([Some(run), child].into_iter().flatten().collect());
    }
    print_table(&dir, shown.as_deref(), speed || shown.is_some(), json)
}

fn print_table(dir: &Path, only: Option<&[String]>, speed: bool, json: bool) -> Result<()> {
    let costs: Vec<RunCost> = optimize::run_costs(dir, speed, 256)?
        .into_iter()
        .filter(|c| only.is_none_or(|runs| runs.contains(&c.run)))
        .collect();
    if json {
        println!("{}", serde_json::to_string(&costs)?);
        return Ok(());
    }
    println!(
        "{:<28} {:<11} {:>6} {:>10} {:>10} {:>9} {:>9}  from",
        "run", "family", "layers", "size", "texts/s", "F1/chrF", "agrees"
    );
    for c in &costs {
        let opt = |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:<11} {:>6} {:>9.1}M {:>10} {:>9} {:>9}  {}",
            c.run,
            c.family,
            c.layers.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            c.size_bytes as f64 / 1e6,
            opt(c.samples_per_sec, 1),
            opt(c.macro_f1.or(c.chrf), 4),
            opt(c.agreement_with_parent.map(|a| a * 100.0), 1),
            c.optimized_from.as_ref().map(|f| format!("{} ({})", f.run, f.method)).unwrap_or_default()
        );
        if let Some(file) = &c.gguf {
            println!("{:<28} GGUF: {}", "", file.display());
        }
    }
    Ok(())
}
