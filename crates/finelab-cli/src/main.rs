//! `finelab`: the command line over finelab-app.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use finelab_app::project;
use finelab_store::export::{ExportFormat, ExportOptions};
use finelab_store::search::{SearchQuery, Status};
use finelab_store::{ProjectKind, Split};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;

/// mimalloc keeps the freed buffers of candle's CPU ops for reuse instead of returning them to
/// the kernel (see the workspace Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cluster_cmd;
mod generation_cmd;
mod import_cmd;
mod label_cmd;
mod loop_cmd;
mod metrics_cmd;
mod optimize_cmd;
mod serve;
mod serve_model_cmd;
mod teams_cmd;
mod train_cmd;
mod users_cmd;

use generation_cmd::GenerationCommand;
use optimize_cmd::OptimizeCommand;
use teams_cmd::TeamCommand;
use users_cmd::UserCommand;

#[derive(Parser)]
#[command(
    name = "finelab",
    version,
    about = "Label text, fine-tune models, read per-label results — all on your machine."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of its largest variant (Import's options) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Create a project folder.
    New {
        /// The project folder (created).
        dir: PathBuf,
        /// Task kind: one label a record, several, labeled spans, or text to text (`generate`:
        /// the output written for each input).
        #[arg(long, value_parser = ["single", "multi", "spans", "generate"])]
        kind: String,
        /// Comma-separated label names (more can be added by imports with --add-labels).
        #[arg(long, default_value = "")]
        labels: String,
        /// Display name (default: the folder name).
        #[arg(long)]
        name: Option<String>,
        /// Guidelines: a Markdown file.
        #[arg(long)]
        guidelines: Option<PathBuf>,
        /// Seed of the train/dev/test assignment.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Split ratios train,dev,test.
        #[arg(long, default_value = "0.8,0.1,0.1")]
        split: String,
    },
    /// Import a file: CSV/TSV, JSONL/JSON, Excel .xlsx, plain text, CoNLL.
    Import(import_cmd::ImportArgs),
    /// Export the project's records.
    Export {
        /// The project folder.
        dir: PathBuf,
        /// jsonl, csv, conll (spans), openai (generate: chat fine-tuning `messages`) or
        /// preferences (generate: the judged pairs of comparisons as `{"prompt", "chosen",
        /// "rejected"}` lines for preference training such as DPO).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Output file (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Only this split.
        #[arg(long)]
        split: Option<String>,
        /// Only labeled records.
        #[arg(long)]
        labeled_only: bool,
        /// Also write every annotator's own label beside the final one (JSON Lines
        /// `"annotations": {name: label}`, CSV an `annotations` column). The final label is the
        /// one runs train on: a reviewer's decision, else the majority, else per `--tie-rule`.
        #[arg(long)]
        annotations: bool,
    },
    /// Show counts: records, labels, splits, annotators, runs.
    Stats {
        /// The project folder.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give labeled records without a split their split (stratified, seeded; existing splits never move).
    Split {
        /// The project folder.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search records (substring, Chinese or English) and filter them.
    Search {
        /// The project folder.
        dir: PathBuf,
        /// Text to find.
        query: Option<String>,
        /// Only records with this label.
        #[arg(long)]
        label: Option<String>,
        /// Only this split.
        #[arg(long)]
        split: Option<String>,
        /// Only records this annotator labeled.
        #[arg(long)]
        annotator: Option<String>,
        /// unlabeled, labeled, skipped or flagged.
        #[arg(long)]
        status: Option<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Train a model on the project's labeled data and record the run under runs/.
    Train {
        /// The project folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: TrainFlags,
        /// Print progress events as JSON lines on stdout, the last one {"event": "done", ...}.
        #[arg(long)]
        json_progress: bool,
    },
    /// Write the project's training job for a cluster (Hugging Face Accelerate + transformers'
    /// Trainer): the exact data snapshot, the recipe, train.py, an Accelerate config and a README
    /// with the launch commands. `finelab import-run` brings the trained model back as a run.
    ExportJob {
        /// The project folder.
        dir: PathBuf,
        #[command(flatten)]
        flags: TrainFlags,
        /// The job folder to write (new or empty) [default: DIR/jobs/<time>-<family>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The labeled records whose label is likely wrong, most suspect first: out-of-fold
    /// probabilities by stratified K-fold cross-validation of the instant family, then confident
    /// learning (per-label thresholds, Northcutt et al. 2021). Single-label projects.
    Suspects {
        /// The project folder.
        dir: PathBuf,
        /// Folds of the cross-validation.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Seed of the folds and models.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// How suspects are ranked.
        #[arg(long, default_value = "self_confidence", value_parser = ["self_confidence", "normalized_margin"])]
        rank_by: String,
        /// List at most N suspects.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON: {"n_records", "folds", "n_suspects", "per_label", "per_annotator", "suspects":
        /// [{"id", "seq", "label", "suggested", "score", "text", "annotator", "confirmed"}]}
        /// ("confirmed": a second look already kept the label).
        #[arg(long)]
        json: bool,
    },
    /// Which labels need more data: dev F1 per label of models trained on growing shares of the
    /// train split (stratified by label, several seeds), with a verdict per label.
    TrainCurve {
        /// The project folder.
        dir: PathBuf,
        /// `instant` or a model folder, as for `finelab train`.
        #[arg(long, default_value = "instant")]
        model: String,
        /// Shares of the train split, increasing.
        #[arg(long, value_delimiter = ',', default_value = "0.25,0.5,0.75,1")]
        fractions: Vec<f64>,
        /// Trainings per share (seeds 1, 2...).
        #[arg(long, default_value_t = 3)]
        seeds: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import the model a job exported by `finelab export-job` trained elsewhere (its output
    /// folder): checks the data snapshot, evaluates it on the same dev and test records, stores
    /// its predictions and lists it as a run.
    ImportRun {
        /// The project folder.
        dir: PathBuf,
        /// The job's output folder (JOBDIR/output).
        output: PathBuf,
        /// Print the imported run as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a base model by name from the Hugging Face hub (HF_ENDPOINT selects a mirror) into
    /// the Hugging Face cache (HF_HOME / HF_HUB_CACHE): only what fine-tuning needs. Prints the folder.
    Download {
        /// `org/name`, optionally `org/name@revision`.
        name: String,
        /// A branch, tag or commit [default: main].
        #[arg(long)]
        revision: Option<String>,
        /// Print the model as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the project's training runs, newest first.
    Runs {
        /// The project folder.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a run's report on the dev or test split (default: the latest completed run, test).
    Eval {
        /// The project folder.
        dir: PathBuf,
        /// The run id (see `finelab runs`).
        #[arg(long)]
        run: Option<String>,
        /// dev, test (or train: recomputed with the run's model).
        #[arg(long, default_value = "test")]
        split: String,
        /// Print the report as scikit-learn's classification_report dictionary (+ "confusion").
        #[arg(long)]
        json: bool,
    },
    /// Predict with a trained model: JSON Lines in ({"id"?, "text"}), JSON Lines out with scores.
    Predict {
        /// The model folder (runs/<run-id>/model, or the run folder).
        model_dir: PathBuf,
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Score predictions against gold labels, as scikit-learn / seqeval do, or generated outputs
    /// against gold outputs, as sacrebleu (chrF, BLEU) and rouge-score (ROUGE-L) do.
    Metrics {
        /// single, multi, spans or generate.
        #[arg(long, value_parser = ["single", "multi", "spans", "generate"])]
        kind: String,
        /// Gold JSONL: {"id"?, "label"} / {"id"?, "labels"} / {"id"?, "text"?, "spans"} /
        /// {"id"?, "output"} (generate).
        #[arg(long)]
        gold: PathBuf,
        /// Predictions in the same shape (`finelab predict` output qualifies).
        #[arg(long)]
        pred: PathBuf,
        /// The label set, comma-separated, in report order; any other label is an error
        /// (default: the labels found in both files).
        #[arg(long)]
        labels: Option<String>,
        /// generate: BLEU's and ROUGE-L's conventions (auto: Chinese when the references hold CJK).
        #[arg(long, value_parser = ["auto", "zh", "en"], default_value = "auto")]
        lang: String,
        /// generate: also score per category, read from `meta.FIELD` (or `FIELD`) of the gold lines.
        #[arg(long, value_name = "FIELD")]
        category: Option<String>,
        /// Print scikit-learn's classification_report dictionary (+ "confusion" for single); for
        /// generate, the corpus, category and record scores.
        #[arg(long)]
        json: bool,
    },
    /// Serve the UI and the API over HTTP (127.0.0.1 only, unless given another address and a token).
    Serve(serve::ServeArgs),
    /// Serve model folders over HTTP: classify and tag for classifiers and taggers, the
    /// OpenAI-compatible chat completions for generators (127.0.0.1 unless given an address).
    ServeModel(serve_model_cmd::ServeModelArgs),
    /// Write a tiny random model folder in Hugging Face's layout, with a vocabulary built from a
    /// corpus: a BERT encoder, or a qwen2 / qwen3 / llama decoder with a chat template (byte-level
    /// BPE), for tests and demos without a download.
    MakeTinyModel {
        /// The folder to write.
        out: PathBuf,
        /// bert (the transformer family), or qwen2, qwen3, llama (the generator family).
        #[arg(long, default_value = "bert", value_parser = ["bert", "qwen2", "qwen3", "llama"])]
        arch: String,
        /// A project folder (its records' texts) or a text / JSONL file.
        #[arg(long)]
        corpus: PathBuf,
        /// Hidden width [default: 32 for bert, 64 for the decoders (a multiple of 32)].
        #[arg(long)]
        hidden: Option<usize>,
        /// Layers [default: 2].
        #[arg(long)]
        layers: Option<usize>,
        /// BPE vocabulary size of a decoder [default: 400].
        #[arg(long)]
        vocab: Option<usize>,
        /// Seed of the random weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Bring the search index up to date.
    Index {
        /// The project folder.
        dir: PathBuf,
    },
    /// The records the label screen would show next, in that order (with the model's suggestion).
    Next {
        /// The project folder.
        dir: PathBuf,
        /// Who labels [default: the login name].
        #[arg(long)]
        annotator: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 10)]
        n: usize,
        /// sequential (import order), random (seeded), uncertain (the newest model's least
        /// confident first), diverse (uncertain, near-duplicates spread out) or production (only
        /// texts a deployed model answered, the ones it was least sure of first).
        #[arg(long, default_value = "sequential", value_parser = ["sequential", "random", "uncertain", "diverse", "production"])]
        strategy: String,
        /// Seed of the random order.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Only records the newest trained model predicts as this label.
        #[arg(long)]
        label: Option<String>,
        /// Print JSON lines (the record, and the model's uncertainty about it).
        #[arg(long)]
        json: bool,
    },
    /// Apply labels made elsewhere to existing records: a JSON Lines file of {"id", "label"} /
    /// {"id", "labels"} / {"id", "spans"}, one annotation-log entry a line, reported by line.
    Annotate {
        /// The project folder.
        dir: PathBuf,
        /// The JSON Lines file.
        file: PathBuf,
        /// Who made the labels [default: the login name].
        #[arg(long)]
        annotator: Option<String>,
        /// The labels are a reviewer's decisions where annotators disagree (adjudication): the
        /// records train on them.
        #[arg(long)]
        decisions: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Undo the annotator's last action (a new log entry; nothing is deleted).
    Undo {
        /// The project folder.
        dir: PathBuf,
        /// Whose action [default: the login name].
        #[arg(long)]
        annotator: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Skip a record for now (the label screen moves past it for this annotator).
    Skip {
        /// The project folder.
        dir: PathBuf,
        /// The record's id.
        id: String,
        /// Who [default: the login name].
        #[arg(long)]
        annotator: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Flag a record for review (or remove the flag with --unflag).
    Flag {
        /// The project folder.
        dir: PathBuf,
        /// The record's id.
        id: String,
        /// Who [default: the login name].
        #[arg(long)]
        annotator: Option<String>,
        /// Remove this annotator's flag instead.
        #[arg(long)]
        unflag: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the project's settings, or change them.
    Settings {
        /// The project folder.
        dir: PathBuf,
        /// Labels between two background retrains of the instant model while the window or
        /// `finelab serve` is labeling (0: never).
        #[arg(long)]
        retrain_every: Option<u64>,
        /// How many annotators label each record (1 to 20): each is served records they have not
        /// labeled that fewer than this many people labeled, and `finelab serve` never hands one
        /// record to more people at once.
        #[arg(long, value_name = "K")]
        overlap: Option<u32>,
        /// Whether annotators signed in to `finelab serve` see the labels of others.
        #[arg(long, value_name = "BOOL")]
        annotators_see_others: Option<bool>,
        /// What a record trains on when its annotators tie and no reviewer decided: the latest
        /// of the tied labels, or nothing until a reviewer decides.
        #[arg(long, value_parser = ["latest", "skip"])]
        tie_rule: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Teams(TeamCommand),
    #[command(flatten)]
    Generation(GenerationCommand),
    #[command(flatten)]
    Optimize(OptimizeCommand),
    /// The people who may sign in to a shared `finelab serve` of the project.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the project's labeling guidelines, or replace them with a Markdown file.
    Guidelines {
        /// The project folder.
        dir: PathBuf,
        /// A Markdown file to set as the guidelines.
        #[arg(long)]
        set: Option<PathBuf>,
    },
    /// Copy a run's model out (a Hugging Face folder for a transformer run; for a generator, the
    /// folder with its LoRA adapters merged into the weights, or with --adapter the PEFT adapter).
    ExportModel {
        /// The project folder.
        dir: PathBuf,
        /// The run id (see `finelab runs`).
        run: String,
        /// The folder to write (must not exist or be empty).
        dest: PathBuf,
        /// Generator runs: write the PEFT LoRA adapter (adapter_config.json,
        /// adapter_model.safetensors, tokenizer) instead of the merged model.
        #[arg(long)]
        adapter: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resume a run that did not finish: train it again with its settings, or finish storing the
    /// predictions of a run interrupted after it trained.
    Resume {
        /// The project folder.
        dir: PathBuf,
        /// The run id (see `finelab runs`).
        run: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints the first 20 of `n` lines a command could not use, as `FILE:LINE: reason`.
fn print_line_errors(path: &str, what: &str, errors: &[finelab_store::import::RowError], n: u64) {
    if n == 0 {
        return;
    }
    println!("  {n} {what}:");
    for e in errors.iter().take(20) {
        println!("    {path}:{}: {}", e.line, e.reason);
    }
    if n > 20 {
        println!("    ... {} more (use --json for the full list)", n - 20);
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:40}] {percent:>3}% {human_pos}/{human_len} {elapsed} eta {eta}")
            .unwrap()
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// The training flags `finelab train` and `finelab export-job` share.
#[derive(clap::Args, Debug)]
struct TrainFlags {
    /// `instant` (hashed n-grams + linear model, seconds on a CPU), a transformer model
    /// folder, or a Hugging Face hub name `org/name` (downloaded first unless in the cache).
    #[arg(long)]
    model: String,
    /// Maximum number of epochs (early stopping on dev macro-F1 may stop sooner) [default:
    /// 15 for instant, 3 for a transformer].
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per gradient step [default: 8 for instant, 16 for a transformer].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate: AdaGrad's for instant, AdamW's peak for a transformer [default: 0.2 for
    /// instant, 5e-5 for a transformer].
    #[arg(long)]
    lr: Option<f64>,
    /// Longest input in tokens [default: 128] (recorded; the instant family reads whole texts).
    #[arg(long)]
    max_len: Option<usize>,
    /// Seed: the same data, options and seed give the same model [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// auto, cpu, cuda or metal.
    #[arg(long, default_value = "auto", value_parser = ["auto", "cpu", "cuda", "metal"])]
    device: String,
    /// Epochs without a better dev score before training stops early [default: 2 for the
    /// neural families].
    #[arg(long)]
    patience: Option<usize>,
    /// Generator: the rank of the LoRA adapters [default: 16].
    #[arg(long)]
    lora_rank: Option<usize>,
    /// Generator: LoRA's alpha [default: 32].
    #[arg(long)]
    lora_alpha: Option<f64>,
    /// Generator: dropout on the adapters' input [default: 0.05].
    #[arg(long)]
    lora_dropout: Option<f64>,
    /// Generator: the projections that get adapters, comma-separated (q_proj,k_proj,v_proj,
    /// o_proj,gate_proj,up_proj,down_proj) [default: all of them].
    #[arg(long, value_delimiter = ',')]
    lora_targets: Option<Vec<String>>,
    /// Generator: train every weight instead of LoRA adapters (small models only).
    #[arg(long)]
    full_finetune: bool,
    /// Generator: the most tokens generated per dev and test record after training
    /// [default: 256].
    #[arg(long)]
    max_new_tokens: Option<usize>,
}

impl TrainFlags {
    /// The request these flags make.
    fn request(self) -> finelab_app::train::TrainRequest {
        finelab_app::train::TrainRequest {
            model: self.model,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            max_len: self.max_len,
            seed: self.seed,
            device: Some(self.device),
            patience: self.patience,
            lora_rank: self.lora_rank,
            lora_alpha: self.lora_alpha,
            lora_dropout: self.lora_dropout,
            lora_targets: self.lora_targets,
            full_finetune: self.full_finetune.then_some(true),
            max_new_tokens: self.max_new_tokens,
            background: None,
            optimized_from: None,
        }
    }
}

fn main() {
    restore_sigpipe();
    let cli = Cli::parse();
    if let Err(err) = run(cli) {
        eprintln!("error: {err}");
        for cause in err.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

/// Rust ignores SIGPIPE, so `finelab import ... | head -1` would panic with "Broken pipe" once
/// `head` exits. Like any Unix filter, `finelab` should simply end then: restore the default.
/// The project is safe either way (imports commit per file; a killed import leaves it as it was).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::New { dir, kind, labels, name, guidelines, seed, split } => {
            let kind: ProjectKind = kind.parse()?;
            let guidelines = guidelines
                .map(|p| std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display())))
                .transpose()?;
            let labels: Vec<String> =
                labels.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
            let req = project::CreateProject {
                name,
                kind,
                labels,
                label_defs: None,
                guidelines,
                split_seed: Some(seed),
                split_ratios: Some(project::parse_ratios(&split)?),
            };
            let stats =
                project::create(&dir, &req).with_context(|| format!("creating a project in {}", dir.display()))?;
            let labels = stats.labels.keys().cloned().collect::<Vec<_>>().join(", ");
            let what = if kind == ProjectKind::Generate { String::new() } else { format!(" with labels: {labels}") };
            println!("created {} project {:?} in {}{what}", kind.as_str(), stats.name, dir.display());
        }
        Command::Import(args) => import_cmd::run(args)?,
        Command::Export { dir, format, output, .. } if format == "preferences" => {
            let store = finelab_store::Store::open(&dir)?;
            let n = match &output {
                Some(path) => finelab_app::generation::export_preferences(&store, path)?,
                None => store.export_preferences(&mut std::io::BufWriter::new(std::io::stdout().lock()))?,
            };
            if let Some(path) = output {
                eprintln!("exported {n} preference pair(s) to {}", path.display());
            }
        }
        Command::Export { dir, format, output, split, labeled_only, annotations } => {
            let options = ExportOptions {
                format: format.parse::<ExportFormat>()?,
                split: split.map(|s| s.parse::<Split>()).transpose()?,
                labeled_only,
                annotations,
            };
            let total = finelab_app::project::stats(&dir)?.records;
            let pb = if output.is_some() { bar(total, "export") } else { ProgressBar::hidden() };
            let mut progress = |done: u64, _total: u64| {
                pb.set_position(done);
                true
            };
            let summary = match &output {
                Some(path) => {
                    // Write next to the target and rename, so a failed export never leaves half a file.
                    let tmp = path.with_extension("finelab-tmp");
                    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                    let s = project::export(&dir, &options, &mut w, &mut progress)?;
                    w.flush()?;
                    drop(w);
                    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
                    s
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
                    project::export(&dir, &options, &mut w, &mut progress)?
                }
            };
            pb.finish_and_clear();
            if let Some(path) = output {
                eprintln!("exported {} records ({} labeled) to {}", summary.records, summary.labeled, path.display());
            }
        }
        Command::Stats { dir, json } => {
            let s = project::stats(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("{} ({} project)", s.name, s.kind.as_str());
                println!("records    {}", s.records);
                println!(
                    "labeled    {} ({:.1} %)",
                    s.labeled,
                    if s.records > 0 { 100.0 * s.labeled as f64 / s.records as f64 } else { 0.0 }
                );
                println!("labels");
                let width = s.labels.keys().map(|k| k.chars().count()).max().unwrap_or(0);
                for (name, n) in &s.labels {
                    println!("  {name:width$}  {n}");
                }
                println!(
                    "splits     train {} / dev {} / test {}",
                    s.splits["train"], s.splits["dev"], s.splits["test"]
                );
                println!("annotators {}", if s.annotators.is_empty() { "-".into() } else { s.annotators.join(", ") });
                println!("flagged    {}", s.flagged);
                println!("runs       {}", s.runs);
                if s.search_indexed < s.records {
                    println!(
                        "search     {} of {} records indexed (the rest are scanned; run `finelab index`)",
                        s.search_indexed, s.records
                    );
                }
            }
        }
        Command::Split { dir, json } => {
            let s = project::assign_splits(&dir)?;
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("assigned {} record(s); train {} / dev {} / test {}", s.assigned, s.train, s.dev, s.test);
            }
        }
        Command::Search { dir, query, label, split, annotator, status, limit, json } => {
            let status = status
                .map(|s| {
                    serde_json::from_value::<Status>(serde_json::Value::String(s.clone())).map_err(|_| {
                        anyhow::anyhow!("unknown status {s:?}; expected unlabeled, labeled, skipped or flagged")
                    })
                })
                .transpose()?;
            let q = SearchQuery {
                text: query,
                label,
                split: split.map(|s| s.parse::<Split>()).transpose()?,
                annotator,
                status,
                limit: Some(limit),
                ..SearchQuery::default()
            };
            let page = project::search(&dir, &q)?;
            for hit in &page.hits {
                if json {
                    println!("{}", serde_json::to_string(hit)?);
                } else {
                    let label =
                        hit.value.as_ref().map(finelab_store::search::describe_value).unwrap_or_else(|| "-".into());
                    let text: String = hit.record.text.chars().take(80).collect::<String>().replace('\n', " ⏎ ");
                    println!("{}\t{}\t{}", hit.record.id, label, text);
                }
            }
            if !json && page.next_after.is_some() {
                eprintln!("(more results; raise --limit)");
            }
        }
        Command::Train { dir, flags, json_progress } => {
            train_cmd::train(train_cmd::TrainArgs { dir, request: flags.request(), json_progress })?;
        }
        Command::ExportJob { dir, flags, out, json } => cluster_cmd::export_job(&dir, flags.request(), out, json)?,
        Command::ImportRun { dir, output, json } => cluster_cmd::import_run(&dir, &output, json)?,
        Command::TrainCurve { dir, model, fractions, seeds, json } => {
            loop_cmd::train_curve(&dir, model, fractions, seeds, json)?
        }
        Command::Suspects { dir, folds, seed, rank_by, limit, json } => {
            let request = finelab_app::suspects::SuspectsRequest {
                folds: Some(folds),
                seed: Some(seed),
                rank_by: Some(rank_by),
                limit,
            };
            loop_cmd::suspects(&dir, &request, json)?
        }
        Command::Download { name, revision, json } => {
            let entry = train_cmd::download(&name, revision.as_deref(), json)?;
            if json {
                println!("{}", serde_json::to_string(&entry)?);
            } else {
                println!("{}", entry.path);
            }
        }
        Command::Runs { dir, json } => train_cmd::runs(&dir, json)?,
        Command::Eval { dir, run, split, json } => train_cmd::eval(&dir, run.as_deref(), &split, json)?,
        Command::Predict { model_dir, file } => train_cmd::predict(&model_dir, file.as_deref())?,
        Command::Metrics { kind, gold, pred, lang, category, json, .. } if kind == "generate" => {
            metrics_cmd::generate(&gold, &pred, &lang, category.as_deref(), json)?
        }
        Command::Metrics { kind, gold, pred, labels, json, .. } => {
            train_cmd::metrics(&kind, gold, pred, labels.as_deref(), json)?
        }
        Command::Serve(args) => serve::run(args)?,
        Command::ServeModel(args) => serve_model_cmd::run(args)?,
        Command::MakeTinyModel { out, arch, corpus, hidden, layers, vocab, seed } => {
            let entry = if arch == "bert" {
                if vocab.is_some() {
                    anyhow::bail!(
                        "--vocab is for the decoders (qwen2, qwen3, llama); bert's vocabulary is the corpus's"
                    );
                }
                finelab_app::models::make_tiny_model(&out, &corpus, hidden.unwrap_or(32), layers.unwrap_or(2), seed)?
            } else {
                let shape = finelab_app::models::TinyShape { hidden, layers, vocab };
                finelab_app::models::make_tiny_generator(&out, &arch, &corpus, shape, seed)?
            };
            println!("{}", entry.path);
        }
        Command::Index { dir } => {
            let pb = bar(0, "index");
            let n = project::index_search(&dir, &mut |done, total| {
                pb.set_length(total);
                pb.set_position(done);
                true
            })?;
            pb.finish_and_clear();
            println!("indexed {n} record(s)");
        }
        Command::Next { dir, annotator, n, strategy, seed, label, json } => {
            let annotator = annotator.unwrap_or_else(label_cmd::default_annotator);
            label_cmd::next(&dir, &annotator, n, strategy.parse()?, seed, label.as_deref(), json)?
        }
        Command::Annotate { dir, file, annotator, decisions, json } => {
            let annotator = annotator.unwrap_or_else(label_cmd::default_annotator);
            label_cmd::annotate_file(&dir, &file, &annotator, decisions, json)?
        }
        Command::Teams(command) => teams_cmd::run(command)?,
        Command::Generation(command) => generation_cmd::run(command)?,
        Command::Optimize(command) => optimize_cmd::run(command)?,
        Command::Undo { dir, annotator, json } => {
            label_cmd::undo(&dir, &annotator.unwrap_or_else(label_cmd::default_annotator), json)?
        }
        Command::Skip { dir, id, annotator, json } => {
            let annotator = annotator.unwrap_or_else(label_cmd::default_annotator);
            label_cmd::mark(&dir, &id, &annotator, finelab_store::Action::Skip, json)?
        }
        Command::Flag { dir, id, annotator, unflag, json } => {
            let annotator = annotator.unwrap_or_else(label_cmd::default_annotator);
            let action = if unflag { finelab_store::Action::Unflag } else { finelab_store::Action::Flag };
            label_cmd::mark(&dir, &id, &annotator, action, json)?
        }
        Command::Settings { dir, retrain_every, overlap, annotators_see_others, tie_rule, json } => {
            let tie_rule = tie_rule.map(|t| t.parse()).transpose()?;
            let change =
                finelab_app::project::SettingsChange { retrain_every, overlap, annotators_see_others, tie_rule };
            label_cmd::settings(&dir, &change, json)?
        }
        Command::User { command } => users_cmd::run(command)?,
        Command::Guidelines { dir, set } => label_cmd::guidelines(&dir, set.as_deref())?,
        Command::ExportModel { dir, run, dest, adapter, json } => {
            label_cmd::export_model(&dir, &run, &dest, adapter, json)?
        }
        Command::Resume { dir, run, json } => label_cmd::resume(&dir, &run, json)?,
    }
    Ok(())
}
