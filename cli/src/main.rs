//! `stressbeat`: the StressBeat core on a laptop. Not a medical device.

mod args;
mod beats;
mod bench_model;
mod ble;
mod dataset;
mod decode;
mod demo;
mod history;
mod images;
mod live_view;
mod npy;
mod peaks;
mod plot;
mod recording;
mod report;
mod simulate;
mod soak;
mod stress;
mod table;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use stressbeat_core::{
    analysis::{self, AnalysisOptions},
    eval::{self, EvalOptions},
    io::{Input, LoadOptions, load_recording},
    record::Recording,
};

const NOT_MEDICAL: &str = "StressBeat is not a medical device; do not use it for diagnosis.";

#[derive(Parser, Debug)]
#[command(name = "stressbeat", version, about = "StressBeat: ECG R-peaks, HRV and stress on a laptop", after_help = NOT_MEDICAL)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a simulated strap with a stress episode through the whole monitor: live view,
    /// history, summary and a PNG report. Start here.
    Demo(demo::DemoArgs),
    /// Run a recording (WFDB, EDF, CSV, Polar capture, RR-interval log) through the monitor
    /// like the demo.
    Replay(demo::ReplayArgs),
    /// Detect R-peaks in a recording (WFDB .hea, EDF/EDF+ or CSV).
    Peaks(peaks::PeaksArgs),
    /// HRV metrics and signal quality of a recording, or of an RR-interval log.
    Hrv(RecordingArgs),
    /// Draw the model's input images of a recording into PNG files (one per beat / 30 s window).
    Images(images::ImagesArgs),
    /// Score the R-peak detector on every annotated WFDB record in a folder.
    EvalPeaks {
        /// Folder with .hea/.dat/.atr records.
        dir: PathBuf,
        /// Detect on each record resampled to 130 Hz (a Polar H10's rate, the models' input) by
        /// the core's anti-aliased resampler; peaks are mapped back to the record's rate.
        #[arg(long)]
        strap_rate: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Decode one BLE value given in hex (Heart Rate Measurement, Polar PMD frame or reply).
    #[command(subcommand)]
    Decode(decode::DecodeCommand),
    /// Simulate a Polar H10 (synthetic ECG, BLE notifications, faults) into a capture or CSV.
    Simulate(simulate::SimulateArgs),
    /// List nearby heart-rate straps (Bluetooth).
    Scan(ble::ScanArgs),
    /// Record ECG from a strap (Polar H10) into a capture file and an EDF.
    Record(ble::RecordArgs),
    /// Sessions, daily summaries and recent alerts in the history.
    History(history::HistoryArgs),
    /// Export a session from the history as CSV (windows or RR) or EDF+ (raw ECG).
    Export(history::ExportArgs),
    /// Long simulated session with faults, checked against the simulator's ground truth
    /// (see docs/soak.md).
    #[command(hide = true)]
    Soak(soak::SoakArgs),
    /// AAMI class (N, S, V, F, Q) of every beat of a recording (beat-type model).
    Beats(beats::BeatsArgs),
    /// Stress probability per 30 s window of a recording or RR-interval log (stress model).
    Stress(stress::StressArgs),
    /// Latency of an ONNX model in tract (one thread, random inputs).
    BenchModel(bench_model::BenchModelArgs),
    /// Export model inputs (computed as on the phone) as .npy files for training.
    #[command(subcommand)]
    Dataset(dataset::DatasetCommand),
}

#[derive(Args, Debug, Clone)]
struct RecordingArgs {
    /// Recording: a WFDB header (.hea), an EDF/EDF+ file (.edf), a CSV file (.csv) or a Polar H10
    /// capture (raw PMD frames, as `stressbeat record` writes); `hrv` and `stress` also read an
    /// RR-interval log (a CSV with an `rr`, `rri`, `ibi` or `nn` column: a strap without ECG).
    path: PathBuf,
    /// Channel index (default: a CSV's ECG column, else the first ECG-like lead, MLII where
    /// present; never one labelled as another signal, e.g. EEG or Resp). A CSV's channels are
    /// its signal columns in file order, from 0.
    #[arg(long)]
    channel: Option<usize>,
    /// Start of the analysed span, seconds from the start of the recording.
    #[arg(long, value_name = "S", value_parser = args::non_negative, allow_negative_numbers = true)]
    from: Option<f64>,
    /// End of the analysed span, seconds from the start of the recording.
    #[arg(long, value_name = "S", value_parser = args::non_negative, allow_negative_numbers = true)]
    to: Option<f64>,
    /// CSV only: sampling rate in Hz (otherwise taken from a time column; warns if they differ).
    #[arg(long, value_name = "HZ", value_parser = args::sampling_rate, allow_negative_numbers = true)]
    fs: Option<f64>,
    /// CSV only: unit of the samples (default: the unit the file states, else µV or mV by amplitude).
    #[arg(long, value_enum)]
    unit: Option<Unit>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Prefix of the options as the user gave them (`baseline-` for a `--baseline` recording).
    #[arg(skip)]
    option_prefix: &'static str,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Unit {
    #[value(name = "mV")]
    MV,
    #[value(name = "uV")]
    UV,
}

/// How to read a CSV recording: `--fs` and `--unit`.
fn load_options(fs: Option<f64>, unit: Option<Unit>) -> LoadOptions {
    LoadOptions {
        csv_sampling_rate_hz: fs,
        csv_unit: unit.map(|u| match u {
            Unit::MV => "mV".into(),
            Unit::UV => "uV".into(),
        }),
    }
}

/// The warnings for CSV-only options (`(flag, given)`) given with `path`, a file they do not
/// apply to (empty for a CSV file).
fn csv_only_warnings(path: &Path, options: &[(&str, bool)]) -> Vec<String> {
    let (files, what) = if !stressbeat_core::io::takes_csv_options(path) {
        ("CSV files", "")
    } else if stressbeat_core::io::is_rr_log_file(path) {
        ("ECG CSV files", " (an RR-interval log)")
    } else {
        return Vec::new();
    };
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    options
        .iter()
        .filter(|(_, given)| *given)
        .map(|(flag, _)| format!("{flag} applies to {files} only; ignored for {name}{what}"))
        .collect()
}

/// Print [`csv_only_warnings`] to stderr.
fn warn_csv_only(path: &Path, options: &[(&str, bool)]) {
    for w in csv_only_warnings(path, options) {
        eprintln!("stressbeat: warning: {w}");
    }
}

impl RecordingArgs {
    /// `--fs` and `--unit`, with a warning when given for a file that is not CSV.
    fn load_options(&self) -> LoadOptions {
        let (fs, unit) = (
            format!("--{}fs", self.option_prefix),
            format!("--{}unit", self.option_prefix),
        );
        warn_csv_only(
            &self.path,
            &[(&fs, self.fs.is_some()), (&unit, self.unit.is_some())],
        );
        load_options(self.fs, self.unit)
    }

    fn load(&self) -> Result<Recording, String> {
        load_recording(&self.path, &self.load_options()).map_err(|e| e.to_string())
    }

    /// The recording, or the RR-interval log the file holds instead of ECG.
    fn load_input(&self) -> Result<Input, String> {
        stressbeat_core::io::load_input(&self.path, &self.load_options()).map_err(|e| e.to_string())
    }

    /// The core's error about this recording, naming the file where the message does not.
    fn error(&self, e: stressbeat_core::Error) -> String {
        recording_error(&self.path, e)
    }

    /// The analysed span of `rec` (this recording, loaded): channel, time range, mV.
    fn select_span(&self, rec: &Recording) -> Result<analysis::EcgSpan, String> {
        analysis::select_span(rec, &self.analysis_options()).map_err(|e| self.error(e))
    }

    fn analysis_options(&self) -> AnalysisOptions {
        AnalysisOptions {
            channel: self.channel,
            from_s: self.from,
            to_s: self.to,
        }
    }
}

/// The core's error about the recording at `path`, naming the file where the message does not.
fn recording_error(path: &Path, e: stressbeat_core::Error) -> String {
    use stressbeat_core::Error as E;
    match e {
        E::Io { .. } | E::Format { .. } | E::Unsupported { .. } | E::FileOption { .. } => {
            e.to_string()
        }
        e => format!("{}: {e}", path.display()),
    }
}

/// A model file's load error, naming the file (the core's model errors name what is wrong with
/// it, not the file).
fn model_file_error(path: &Path, e: stressbeat_core::Error) -> String {
    match e {
        stressbeat_core::Error::Model(m) => format!("{}: model: {m}", path.display()),
        e => e.to_string(),
    }
}

/// Exit status of a process killed by SIGPIPE (128 + 13), as shells report it.
const BROKEN_PIPE_EXIT: i32 = 141;

/// `stressbeat … | head` closes stdout early; Rust ignores SIGPIPE, so the next `println!`
/// panics. End quietly instead, with the status a SIGPIPE would give.
fn exit_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if payload.contains("failed printing to stdout") && payload.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default_hook(info);
    }));
}

/// Prints the core's warnings about input files and models to stderr (they name no person and
/// hold no health data); the monitor's own warnings are shown by the live view instead.
struct WarningLogger;

impl log::Log for WarningLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
            && [
                "stressbeat_core::formats",
                "stressbeat_core::model",
                "stressbeat_core::sensor::replay",
            ]
            .iter()
            .any(|t| metadata.target().starts_with(t))
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("stressbeat: warning: {}", record.args());
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    if log::set_logger(&WarningLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Peaks(args) => peaks::peaks(&args),
        Command::Hrv(args) => hrv(&args),
        Command::Images(args) => images::images(&args),
        Command::EvalPeaks {
            dir,
            strap_rate,
            json,
        } => eval_peaks(&dir, strap_rate, json),
        Command::Decode(cmd) => decode::run(&cmd),
        Command::Simulate(args) => simulate::simulate(&args),
        Command::Scan(args) => ble::scan(&args),
        Command::Record(args) => ble::record(&args),
        Command::Demo(args) => demo::demo(&args),
        Command::Replay(args) => demo::replay(&args),
        Command::History(args) => history::history(&args),
        Command::Export(args) => history::export(&args),
        Command::Soak(args) => soak::soak(&args),
        Command::Beats(args) => beats::beats(&args),
        Command::Stress(args) => stress::stress(&args),
        Command::BenchModel(args) => bench_model::bench_model(&args),
        Command::Dataset(cmd) => dataset::run(&cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("stressbeat: error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// A sampling rate for people: at most 3 decimals, no trailing zeros (an estimated 256.0000001
/// prints as 256).
fn fmt_hz(fs: f64) -> String {
    let s = format!("{fs:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let s = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}

/// An analysis of someone's ECG as JSON, with the note the text output prints (`"note"`).
fn print_result_json<T: Serialize>(result: &T) -> Result<(), String> {
    #[derive(Serialize)]
    struct WithNote<'a, T> {
        #[serde(flatten)]
        result: &'a T,
        note: &'static str,
    }
    print_json(&WithNote {
        result,
        note: NOT_MEDICAL,
    })
}

fn hrv(args: &RecordingArgs) -> Result<(), String> {
    let opts = args.analysis_options();
    let (summary, rr_log) = match args.load_input()? {
        Input::Recording(rec) => (analysis::analyze(&rec, &opts), false),
        Input::RrLog(log) => {
            let name = args.path.file_stem().map(|n| n.to_string_lossy());
            let name = name.as_deref().unwrap_or_default();
            (analysis::analyze_rr_log(name, &log, &opts), true)
        }
    };
    let summary = summary.map_err(|e| args.error(e))?;
    if args.json {
        return print_result_json(&summary);
    }
    if !rr_log {
        println!(
            "{}: {} at {} Hz, {:.1} s analysed, {} beats, {:.0} % of the signal usable",
            summary.record_name,
            summary.channel_label,
            fmt_hz(summary.sampling_rate_hz),
            summary.duration_s,
            summary.beat_count,
            summary.usable_fraction * 100.0
        );
    } else {
        println!(
            "{}: RR-interval log (no ECG), {:.1} s analysed, {} intervals, {:.0} % of the time \
             covered by clean intervals",
            summary.record_name,
            summary.duration_s,
            summary.beat_count,
            summary.usable_fraction * 100.0
        );
    }
    match &summary.hrv {
        Some(h) => print!("{}", hrv_table(h)),
        None => println!("Not enough clean RR intervals for HRV."),
    }
    for w in &summary.warnings {
        println!("Warning: {w}.");
    }
    println!("{NOT_MEDICAL}");
    Ok(())
}

fn hrv_table(h: &stressbeat_core::hrv::HrvMetrics) -> table::Table {
    let opt = |v: Option<f64>, prec: usize| v.map_or("n/a".to_string(), |x| format!("{x:.prec$}"));
    let c = &h.correction;
    let basis = if h.left_out.is_some() {
        "NN intervals (normal-to-normal)"
    } else {
        "NN intervals (after correction)"
    };
    let mut t = table::Table::new(&["metric", "value", "unit"]);
    for (name, value, unit) in [
        (basis, h.n_intervals.to_string(), ""),
        ("mean NN", format!("{:.1}", h.mean_nn_ms), "ms"),
        ("SDNN", format!("{:.1}", h.sdnn_ms), "ms"),
        ("RMSSD", format!("{:.1}", h.rmssd_ms), "ms"),
        ("pNN50", format!("{:.1}", h.pnn50_pct), "%"),
        (
            "mean HR (of 60000 / NN)",
            format!("{:.1}", h.mean_hr_bpm),
            "bpm",
        ),
        ("LF (0.04-0.15 Hz)", opt(h.lf_ms2, 0), "ms²"),
        ("HF (0.15-0.4 Hz)", opt(h.hf_ms2, 0), "ms²"),
        ("LF/HF", opt(h.lf_hf, 2), ""),
        ("SD1", opt(h.sd1_ms, 1), "ms"),
        ("SD2", opt(h.sd2_ms, 1), "ms"),
        ("Baevsky stress index", opt(h.baevsky_stress_index, 1), ""),
    ] {
        t.row(vec![name.to_string(), value, unit.to_string()]);
    }
    match h.left_out {
        Some(l) => t.row(vec![
            "left out (beside beats not normal/errors/outliers)".into(),
            format!("{}/{}/{}", l.not_normal, l.artefacts, l.outliers),
            "intervals".into(),
        ]),
        None => t.row(vec![
            "corrected (ectopic/missed/extra/artefact)".into(),
            format!("{}/{}/{}/{}", c.ectopic, c.missed, c.extra, c.artefacts),
            "beats".into(),
        ]),
    }
    t
}

fn annotated_records(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut headers: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "hea") && p.with_extension("atr").is_file())
        .collect();
    headers.sort();
    if headers.is_empty() {
        return Err(format!(
            "{}: no annotated WFDB records (.hea with .atr)",
            dir.display()
        ));
    }
    Ok(headers)
}

#[derive(Serialize)]
struct EvalJson {
    tolerance_ms: f64,
    /// Detected on the records resampled to 130 Hz (`--strap-rate`).
    resampled_to_130_hz: bool,
    records: Vec<ScoreJson>,
    total: ScoreJson,
    /// Records that could not be evaluated, with why.
    skipped: Vec<SkippedJson>,
}

#[derive(Serialize)]
struct SkippedJson {
    record: String,
    error: String,
}

#[derive(Serialize)]
struct ScoreJson {
    record: String,
    reference_beats: usize,
    true_positives: usize,
    false_negatives: usize,
    false_positives: usize,
    /// NaN (JSON null) when undefined, e.g. a record without reference beats.
    sensitivity: f64,
    positive_predictivity: f64,
    f1: f64,
    median_error_ms: f64,
    p95_error_ms: f64,
    /// Of detected RR − reference RR (consecutive beats both matched).
    p95_rr_error_ms: f64,
    rr_errors_over_20_ms: usize,
    /// RMSSD of the reference's NN intervals, by the reference times and by their detections.
    rmssd_reference_ms: f64,
    rmssd_detected_ms: f64,
}

impl From<&eval::Score> for ScoreJson {
    fn from(s: &eval::Score) -> Self {
        ScoreJson {
            record: s.name.clone(),
            reference_beats: s.tp + s.fn_,
            true_positives: s.tp,
            false_negatives: s.fn_,
            false_positives: s.fp,
            sensitivity: s.sensitivity(),
            positive_predictivity: s.positive_predictivity(),
            f1: s.f1(),
            median_error_ms: s.median_abs_error_ms(),
            p95_error_ms: s.p95_abs_error_ms(),
            p95_rr_error_ms: s.p95_abs_rr_error_ms(),
            rr_errors_over_20_ms: s.rr_errors_over(20.0),
            rmssd_reference_ms: s.rmssd_reference_ms(),
            rmssd_detected_ms: s.rmssd_detected_ms(),
        }
    }
}

/// `value` with `precision` decimals; "n/a" when undefined (NaN).
fn or_na(value: f64, precision: usize) -> String {
    if value.is_nan() {
        "n/a".into()
    } else {
        format!("{value:.precision$}")
    }
}

fn eval_peaks(dir: &Path, strap_rate: bool, json: bool) -> Result<(), String> {
    let headers = annotated_records(dir)?;
    let bar = ProgressBar::new(headers.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} records {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut records = Vec::with_capacity(headers.len());
    let mut skipped = Vec::new();
    for h in &headers {
        let name = h
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(name.clone());
        // one bad record (a corrupt .atr, a missing .dat) does not stop the others
        match load_recording(h, &LoadOptions::default())
            .and_then(|rec| analysis::evaluate_record(&rec, strap_rate))
        {
            Ok(score) => records.push(score),
            Err(e) => {
                let error = recording_error(h, e);
                bar.suspend(|| eprintln!("stressbeat: warning: skipped record {name}: {error}"));
                skipped.push(SkippedJson {
                    record: name,
                    error,
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if records.is_empty() {
        return Err(format!(
            "{}: none of its {} annotated records could be evaluated",
            dir.display(),
            skipped.len()
        ));
    }
    let total = eval::gross("TOTAL", &records);
    let tolerance_ms = EvalOptions::default().tolerance_s * 1000.0;
    if json {
        return print_json(&EvalJson {
            tolerance_ms,
            resampled_to_130_hz: strap_rate,
            records: records.iter().map(ScoreJson::from).collect(),
            total: ScoreJson::from(&total),
            skipped,
        });
    }
    let mut t = table::Table::new(&[
        "record",
        "beats",
        "TP",
        "FN",
        "FP",
        "Se %",
        "+P %",
        "F1 %",
        "median ms",
        "p95 ms",
        "RR p95 ms",
        "RR >20 ms",
        "RMSSD ref / det ms",
    ]);
    let row = |s: &eval::Score| {
        vec![
            s.name.clone(),
            (s.tp + s.fn_).to_string(),
            s.tp.to_string(),
            s.fn_.to_string(),
            s.fp.to_string(),
            or_na(s.sensitivity() * 100.0, 2),
            or_na(s.positive_predictivity() * 100.0, 2),
            or_na(s.f1() * 100.0, 2),
            or_na(s.median_abs_error_ms(), 1),
            or_na(s.p95_abs_error_ms(), 1),
            or_na(s.p95_abs_rr_error_ms(), 1),
            s.rr_errors_over(20.0).to_string(),
            format!(
                "{} / {}",
                or_na(s.rmssd_reference_ms(), 1),
                or_na(s.rmssd_detected_ms(), 1)
            ),
        ]
    };
    for r in &records {
        t.row(row(r));
    }
    t.row(row(&total));
    print!("{t}");
    if strap_rate {
        println!("Detected on the records resampled to 130 Hz (a Polar H10's rate).");
    }
    println!(
        "Matching window ±{tolerance_ms} ms, beat annotations only, each matched once; \
         ventricular flutter episodes ([ … ]) excluded.\n\
         Detections are timed between samples (the parabola through each R-peak sample and \
         its neighbours), as HRV uses them; reference marks are whole samples.\n\
         median / p95 ms: |detection − reference|.\n\
         RR p95 ms / RR >20 ms: |detected RR − reference RR| of consecutive beats both found \
         (its 95th percentile; how many exceed 20 ms, a fiducial that jumped).\n\
         RMSSD ref / det: of the reference's NN intervals (N beats, both found) by the reference \
         times / by their detections (TOTAL: pooled)."
    );
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(|s| s.record.as_str()).collect();
        println!(
            "Skipped, not in the total: {} (see the warnings).",
            names.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{csv_only_warnings, fmt_hz, or_na};
    use std::path::Path;

    #[test]
    fn csv_only_options_are_flagged_for_other_files_only() {
        let given = [("--fs", true), ("--unit", false)];
        assert_eq!(
            csv_only_warnings(Path::new("mitdb/101.hea"), &given),
            ["--fs applies to CSV files only; ignored for 101.hea"]
        );
        assert!(csv_only_warnings(Path::new("rec.csv"), &given).is_empty());
        assert!(csv_only_warnings(Path::new("rec.edf"), &[("--unit", false)]).is_empty());
        // an RR-interval log is a CSV file without samples
        let dir = std::env::temp_dir().join(format!("stressbeat-rr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (rr, ecg) = (dir.join("rr.csv"), dir.join("ecg.csv"));
        std::fs::write(&rr, "timestamp,rr_ms\n0,800\n800,810\n").unwrap();
        std::fs::write(&ecg, "time_s,ecg_mv\n0,0.1\n").unwrap();
        assert_eq!(
            csv_only_warnings(&rr, &given),
            ["--fs applies to ECG CSV files only; ignored for rr.csv (an RR-interval log)"]
        );
        assert!(csv_only_warnings(&ecg, &given).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rates_and_undefined_figures_print_for_people() {
        assert_eq!(fmt_hz(256.000_000_103_832_63), "256");
        assert_eq!(fmt_hz(130.0), "130");
        assert_eq!(fmt_hz(128.5), "128.5");
        assert_eq!(or_na(f64::NAN, 2), "n/a");
        assert_eq!(or_na(99.5, 2), "99.50");
    }
}
