//! `stressbeat stress`: stress probability per 30 s window (stress model, tract), optionally
//! relative to a calm recording of the same person.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use stressbeat_core::{
    analysis,
    engine::{EngineConfig, NoScoreReason},
    io::Input,
    model::{BeatClass, BeatClassifier, HrvFallback, ModelSignal, StressModel},
    model_input::stress::{StressWindow, StressWindowConfig, select_baseline, stress_windows},
    monitor::{PipelineConfig, rr_windows::log_windows},
};

use image::{Rgb, RgbImage};

use crate::{
    NOT_MEDICAL, RecordingArgs, args, model_file_error,
    plot::{self, ALERT, Canvas, GAP, GRID, HR_LINE, INK, MUTED, PlotArea, SCORE_LINE},
    print_result_json, table,
};

/// Arguments of `stressbeat stress`.
#[derive(Args, Debug)]
#[command(
    after_help = "A window gets no score (stress_probability null, with a note) when its signal is \
too poor, or, as in the app, when its rhythm is too irregular for heart rate variability: more \
than 20 % of its beats not normal (beat-type model), or irregular intervals (e.g. atrial \
fibrillation). StressBeat is not a medical device."
)]
pub struct StressArgs {
    #[command(flatten)]
    recording: RecordingArgs,
    /// The same person's calm recording (WFDB, EDF, CSV, Polar capture or RR-interval log): the
    /// mean features of its clean windows (as the app's calibration admits them: good signal, at
    /// most 10 % ectopic beats, regular intervals) are the personal baseline.
    #[arg(long, value_name = "PATH")]
    baseline: Option<PathBuf>,
    /// Start of the baseline span, seconds from the start of the baseline recording.
    #[arg(long, value_name = "S", requires = "baseline", value_parser = args::non_negative, allow_negative_numbers = true)]
    baseline_from: Option<f64>,
    /// End of the baseline span, seconds from the start of the baseline recording.
    #[arg(long, value_name = "S", requires = "baseline", value_parser = args::non_negative, allow_negative_numbers = true)]
    baseline_to: Option<f64>,
    /// The baseline's channel (`--channel` applies to PATH only).
    #[arg(long, value_name = "N", requires = "baseline")]
    baseline_channel: Option<usize>,
    /// CSV baseline only: its sampling rate in Hz (`--fs` applies to PATH only).
    #[arg(long, value_name = "HZ", requires = "baseline", value_parser = args::positive, allow_negative_numbers = true)]
    baseline_fs: Option<f64>,
    /// CSV baseline only: the unit of its samples (`--unit` applies to PATH only).
    #[arg(long, value_enum, requires = "baseline")]
    baseline_unit: Option<crate::Unit>,
    /// A stress model (`.onnx` with its `.json` beside it) instead of the embedded one.
    #[arg(long, value_name = "FILE.onnx")]
    model: Option<PathBuf>,
    /// Also draw the windows as a PNG: heart rate and stress probability over time, the
    /// threshold, and which windows have no score and why.
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
}

#[derive(Serialize)]
struct WindowJson {
    start_s: f64,
    end_s: f64,
    stress_probability: Option<f32>,
    stressed: Option<bool>,
    /// Why the window has no score.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize)]
struct SummaryJson {
    /// Mean over the scored windows.
    stress_probability: Option<f32>,
    /// None when under [`MIN_SCORED_FRACTION`] of the windows could be scored.
    stressed: Option<bool>,
    scored_windows: usize,
    windows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The share of windows that must be scored for the summary to give a verdict: a recording
/// mostly of noise says little about the person, whatever its few clean windows say.
const MIN_SCORED_FRACTION: f64 = 0.5;

#[derive(Serialize)]
struct StressJson {
    windows: Vec<WindowJson>,
    summary: SummaryJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<BaselineJson>,
}

const UNSCORED: &str = "too little usable signal (noise, lead off or too few beats)";

/// Why a window has no score.
#[derive(Debug, Clone, PartialEq)]
enum NoScore {
    /// Too little usable signal (quality, a feature that could not be computed), or the
    /// monitor's signal gate (too few beats, an implausible heart rate).
    Signal(Option<NoScoreReason>),
    /// The monitor's rhythm gate: too many non-N beats, or too irregular intervals.
    Rhythm(NoScoreReason),
}

impl NoScore {
    fn message(&self) -> String {
        match self {
            NoScore::Signal(None) => UNSCORED.into(),
            NoScore::Signal(Some(reason)) => reason.message(),
            NoScore::Rhythm(reason) => reason.message(),
        }
    }
}

/// One window: start and end (s from the start of the recording), and its probability or why it
/// has none.
#[derive(Debug, Clone, PartialEq)]
struct WindowScore {
    start_s: f64,
    end_s: f64,
    probability: Result<f32, NoScore>,
}

/// How windows are scored: the model, or (when the embedded model cannot be used) its HRV-only
/// fallback.
enum Scorer {
    Model(Box<StressModel>),
    Embedded(&'static StressModel),
    Fallback(HrvFallback),
}

impl Scorer {
    fn new(model: Option<&PathBuf>) -> Result<Self, String> {
        if let Some(path) = model {
            let m = StressModel::load_from_path(path).map_err(|e| model_file_error(path, e))?;
            return Ok(Scorer::Model(Box::new(m)));
        }
        match StressModel::embedded() {
            Ok(m) => Ok(Scorer::Embedded(m)),
            Err(e) => {
                let fallback = HrvFallback::embedded().map_err(|f| format!("{e}; {f}"))?;
                eprintln!("stressbeat: warning: {e}; using the HRV-only fallback");
                Ok(Scorer::Fallback(fallback))
            }
        }
    }

    fn threshold(&self) -> f32 {
        match self {
            Scorer::Model(m) => m.threshold(),
            Scorer::Embedded(m) => m.threshold(),
            Scorer::Fallback(f) => f.threshold(),
        }
    }

    /// Whether it scores windows of RR intervals alone (an RR log).
    fn scores_rr_windows(&self) -> bool {
        match self {
            Scorer::Model(m) => m.scores_rr_windows(),
            Scorer::Embedded(m) => m.scores_rr_windows(),
            // the fallback's regression reads the R/T amplitudes
            Scorer::Fallback(_) => false,
        }
    }

    fn score(&self, input: &Analysed, baseline: Option<&[f32]>) -> Result<Scored, String> {
        let samples = input
            .signal
            .as_ref()
            .map_or(&[][..], |s| &s.samples_130hz[..]);
        let windows = &input.windows;
        let probabilities = match self {
            Scorer::Model(m) => m.score_windows(samples, windows, baseline),
            Scorer::Embedded(m) => m.score_windows(samples, windows, baseline),
            Scorer::Fallback(f) => Ok(windows
                .iter()
                .map(|w| {
                    w.is_scorable()
                        .then(|| f.probability(&w.features, baseline))
                        .flatten()
                })
                .collect()),
        }
        .map_err(|e| e.to_string())?;
        Ok(windows
            .iter()
            .zip(probabilities)
            .map(|(w, p)| WindowScore {
                start_s: w.start_s,
                end_s: w.end_s,
                probability: p.ok_or(NoScore::Signal(None)),
            })
            .collect())
    }
}

/// The stress windows of a recording's ECG, or of an RR log's intervals.
struct Analysed {
    /// Times in s from the start of the recording (of the log's first interval).
    windows: Vec<StressWindow>,
    /// The ECG span (130 Hz) the windows are cut from; `None` for an RR log.
    signal: Option<ModelSignal>,
}

/// The windows of `args`: an ECG recording's span, or an RR-interval log's windows inside
/// `--from`/`--to` (cut as the monitor cuts a heart-rate-only strap's).
fn analysed(args: &RecordingArgs) -> Result<Analysed, String> {
    match args.load_input()? {
        Input::Recording(rec) => {
            let span = args.select_span(&rec)?;
            let signal = ModelSignal::from_span(&span).map_err(|e| args.error(e))?;
            let mut windows = stress_windows(
                &signal.samples_130hz,
                &signal.peaks_130hz,
                &StressWindowConfig::default(),
            )
            .map_err(|e| e.to_string())?;
            for w in &mut windows {
                w.start_s = signal.record_time_s(w.start_sample);
                w.end_s = signal.record_time_s(w.end_sample);
            }
            Ok(Analysed {
                windows,
                signal: Some(signal),
            })
        }
        Input::RrLog(log) => {
            if args.channel.is_some_and(|c| c != 0) {
                return Err(format!(
                    "{}: an RR log has one series (channel 0)",
                    args.path.display()
                ));
            }
            analysis::check_times(&args.analysis_options()).map_err(|e| args.error(e))?;
            let (from, to) = (args.from.unwrap_or(0.0), args.to.unwrap_or(f64::INFINITY));
            let windows = log_windows(&log, &PipelineConfig::default())
                .into_iter()
                .filter(|w| w.start_s >= from - 1e-9 && w.end_s <= to + 1e-9)
                .collect();
            Ok(Analysed {
                windows,
                signal: None,
            })
        }
    }
}

type Scored = Vec<WindowScore>;

/// The monitor's scoring gate on scored windows ([`EngineConfig::stress_window_gate`]): one with
/// too few beats, an implausible heart rate, too many non-N beats (`peak_classes`, 130 Hz R-peaks
/// with their class; empty: not checked) or too irregular intervals gets no score, as on the
/// phone.
fn apply_engine_gate(
    scored: &mut Scored,
    windows: &[StressWindow],
    peak_classes: &[(usize, BeatClass)],
) {
    let config = EngineConfig::default();
    for (score, w) in scored.iter_mut().zip(windows) {
        if score.probability.is_err() {
            continue;
        }
        match config.stress_window_gate(w, &w.beat_counts(peak_classes)) {
            Some(reason) if reason.is_signal_problem() => {
                score.probability = Err(NoScore::Signal(Some(reason)));
            }
            Some(reason) => score.probability = Err(NoScore::Rhythm(reason)),
            None => {}
        }
    }
}

/// The recording's verdict: the mean probability of its scored windows, and a verdict only
/// when at least [`MIN_SCORED_FRACTION`] of its windows were scored.
fn summarize(scored: &Scored, threshold: f32) -> SummaryJson {
    let probs: Vec<f32> = scored
        .iter()
        .filter_map(|w| w.probability.as_ref().ok().copied())
        .collect();
    let rhythm = scored
        .iter()
        .filter(|w| matches!(w.probability, Err(NoScore::Rhythm(_))))
        .count();
    let mean = (!probs.is_empty()).then(|| probs.iter().sum::<f32>() / probs.len() as f32);
    let enough = probs.len() as f64 >= MIN_SCORED_FRACTION * scored.len() as f64;
    let note = if scored.is_empty() {
        Some("the analysed span is shorter than one 30 s window".to_string())
    } else if mean.is_none() && rhythm == 0 {
        Some(UNSCORED.to_string())
    } else if mean.is_none() {
        let others = if rhythm < scored.len() {
            ", the others have too little usable signal"
        } else {
            ""
        };
        Some(format!(
            "no window could be scored: in {rhythm} of {} windows the heart rhythm is too \
             irregular for a stress estimate{others}",
            scored.len()
        ))
    } else if !enough {
        Some(format!(
            "only {} of {} windows could be scored ({rhythm} with an irregular rhythm; a \
             verdict needs {:.0} %)",
            probs.len(),
            scored.len(),
            MIN_SCORED_FRACTION * 100.0
        ))
    } else {
        None
    };
    SummaryJson {
        stress_probability: mean,
        stressed: mean.filter(|_| enough).map(|p| p >= threshold),
        scored_windows: probs.len(),
        windows: scored.len(),
        note,
    }
}

/// How the `--baseline` recording's windows went into the personal baseline.
#[derive(Serialize)]
struct BaselineJson {
    /// Windows of the baseline span.
    windows: usize,
    /// Windows admitted (their mean features are the baseline).
    admitted: usize,
    /// Left out: poor signal, a feature that could not be computed, too few beats or an
    /// implausible heart rate.
    poor_signal: usize,
    /// Left out: more than 10 % of beats not N (beat-type model), or RR intervals too irregular
    /// (e.g. atrial fibrillation).
    irregular_rhythm: usize,
}

/// The personal baseline of `--baseline`: its windows admitted by the rule the monitor's
/// calibration uses (signal quality, beats and heart rate, at most 10 % non-N beats).
fn personal_baseline(args: &StressArgs, path: &Path) -> Result<(Vec<f32>, BaselineJson), String> {
    // A recording of its own: PATH's channel, rate and unit do not apply to it.
    let base_args = RecordingArgs {
        path: path.to_path_buf(),
        channel: args.baseline_channel,
        from: args.baseline_from,
        to: args.baseline_to,
        fs: args.baseline_fs,
        unit: args.baseline_unit,
        json: args.recording.json,
        option_prefix: "baseline-",
    };
    let base = analysed(&base_args).map_err(|e| baseline_error(&e))?;
    let classes = peak_classes(&base, "the baseline's");
    let windows = base.windows;
    let config = EngineConfig::default();
    let selection = select_baseline(&windows, &classes, &config);
    let report = BaselineJson {
        windows: windows.len(),
        admitted: selection.admitted,
        poor_signal: selection.poor_signal,
        irregular_rhythm: selection.irregular_rhythm,
    };
    let features = selection.features.ok_or_else(|| {
        format!(
            "{}: no 30 s window fit for a baseline ({} windows: {} with poor signal or too few beats, \
             {} with more than {:.0} % ectopic beats or too irregular intervals)",
            path.display(),
            report.windows,
            report.poor_signal,
            report.irregular_rhythm,
            config.baseline.max_ectopic_fraction * 100.0
        )
    })?;
    Ok((features, report))
}

/// A load error about the `--baseline` recording: says so, and names the baseline's own options
/// where the core's hint names PATH's (`--fs`, `--unit`, `--channel`).
fn baseline_error(message: &str) -> String {
    let hinted = message
        .replace("--fs", "--baseline-fs")
        .replace("--unit", "--baseline-unit")
        .replace("--channel", "--baseline-channel");
    format!("baseline recording: {hinted}")
}

/// The class of each 130 Hz R-peak of `input`'s ECG (empty for an RR log, whose windows count the
/// intervals the artefact correction changed instead, or when the beat model fails).
fn peak_classes(input: &Analysed, whose: &str) -> Vec<(usize, BeatClass)> {
    let Some(signal) = &input.signal else {
        return Vec::new();
    };
    match BeatClassifier::embedded().and_then(|m| m.classify_signal(signal)) {
        Ok(beats) => beats.into_iter().map(|(p, b)| (p, b.class)).collect(),
        Err(e) => {
            eprintln!("stressbeat: warning: {e}; {whose} beats are not checked for ectopy");
            Vec::new()
        }
    }
}

/// Score the recording's windows and print them with a summary.
pub fn stress(args: &StressArgs) -> Result<(), String> {
    let scorer = Scorer::new(args.model.as_ref())?;
    let input = analysed(&args.recording)?;
    if input.signal.is_none() && !scorer.scores_rr_windows() {
        return Err(format!(
            "{}: an RR-interval log, and this stress model needs ECG (R/T amplitudes or beat \
             images): no window can be scored",
            args.recording.path.display()
        ));
    }
    let (baseline, baseline_report) = match &args.baseline {
        Some(path) => {
            let (features, report) = personal_baseline(args, path)?;
            (Some(features), Some(report))
        }
        None => (None, None),
    };
    let mut scored = scorer.score(&input, baseline.as_deref())?;
    let classes = peak_classes(&input, "the recording's");
    apply_engine_gate(&mut scored, &input.windows, &classes);
    let threshold = scorer.threshold();
    let summary = summarize(&scored, threshold);
    let windows: Vec<WindowJson> = scored
        .iter()
        .map(|w| {
            let p = w.probability.as_ref().ok().copied();
            WindowJson {
                start_s: w.start_s,
                end_s: w.end_s,
                stress_probability: p,
                stressed: p.map(|p| p >= threshold),
                note: w.probability.as_ref().err().map(NoScore::message),
            }
        })
        .collect();
    if let Some(path) = &args.plot {
        let title = args.recording.path.file_name().map(|n| n.to_string_lossy());
        plot::save_png(
            &render_figure(&StressFigure {
                title: title.unwrap_or_default().into_owned(),
                baseline: baseline_text(baseline_report.as_ref()),
                summary: summary_text(&summary),
                scored: &scored,
                hr_bpm: (input.windows.iter())
                    .map(|w| w.heart_rate_bpm(&w.beat_counts(&classes)))
                    .collect(),
                threshold,
            }),
            path,
        )?;
    }
    if args.recording.json {
        return print_result_json(&StressJson {
            windows,
            summary,
            baseline: baseline_report,
        });
    }
    let mut t = table::Table::new(&["from (s)", "to (s)", "stress probability", "stressed"]);
    for w in &scored {
        t.row(vec![
            format!("{:.1}", w.start_s),
            format!("{:.1}", w.end_s),
            w.probability
                .as_ref()
                .map_or_else(|_| "n/a".into(), |p| format!("{p:.2}")),
            match &w.probability {
                Ok(p) => if *p >= threshold { "yes" } else { "no" }.into(),
                Err(NoScore::Signal(Some(NoScoreReason::ImplausibleHeartRate { .. }))) => {
                    "no score (implausible heart rate)".into()
                }
                Err(NoScore::Signal(_)) => "no score (too little usable signal)".into(),
                Err(NoScore::Rhythm(_)) => "no score (irregular rhythm)".into(),
            },
        ]);
    }
    print!("{t}");
    println!(
        "Baseline: {}. Windows of 30 s every 5 s; stressed means probability ≥ {threshold}.",
        baseline_text(baseline_report.as_ref())
    );
    println!("{}", summary_text(&summary));
    if let Some(path) = &args.plot {
        println!("Plot: {}", path.display());
    }
    println!("{NOT_MEDICAL}");
    Ok(())
}

/// Which baseline scored the windows.
fn baseline_text(report: Option<&BaselineJson>) -> String {
    match report {
        Some(b) => format!(
            "personal (from --baseline: {} of {} windows; left out: {} for poor signal, {} for \
             an irregular rhythm)",
            b.admitted, b.windows, b.poor_signal, b.irregular_rhythm
        ),
        None => "population (no --baseline given)".into(),
    }
}

/// The recording's verdict in words.
fn summary_text(summary: &SummaryJson) -> String {
    match (summary.stress_probability, summary.stressed) {
        (Some(p), Some(stressed)) => format!(
            "Summary: mean stress probability {p:.2} over {} of {} windows: {}.",
            summary.scored_windows,
            summary.windows,
            if stressed { "stressed" } else { "not stressed" }
        ),
        (Some(p), None) => format!(
            "Summary: no verdict: {} (mean stress probability of those windows {p:.2}).",
            summary.note.as_deref().unwrap_or(UNSCORED)
        ),
        (None, _) => format!(
            "Summary: no score: {}.",
            summary.note.as_deref().unwrap_or(UNSCORED)
        ),
    }
}

/// What `--plot` draws.
struct StressFigure<'a> {
    /// The recording's file name.
    title: String,
    /// [`baseline_text`].
    baseline: String,
    /// [`summary_text`].
    summary: String,
    scored: &'a [WindowScore],
    /// Each window's heart rate (bpm), as `scored`.
    hr_bpm: Vec<Option<f32>>,
    threshold: f32,
}

const FIGURE_WIDTH: u32 = 1200;
const FIGURE_HEIGHT: u32 = 860;
/// Under the title and up to five lines of baseline and summary.
const HR_AREA: PlotArea = PlotArea {
    x: 90,
    y: 220,
    w: 1070,
    h: 180,
};
const PROBABILITY_AREA: PlotArea = PlotArea {
    x: 90,
    y: 470,
    w: 1070,
    h: 220,
};
/// Background of a window refused for its rhythm (a poor-signal one is [`plot::GAP`]).
const RHYTHM_BAND: Rgb<u8> = Rgb([250, 226, 196]);

/// Draw the windows: heart rate, then the stress probability with the threshold, each window's
/// 5 s slot shaded where it has no score (grey: poor signal, amber: irregular rhythm).
fn render_figure(f: &StressFigure<'_>) -> RgbImage {
    let mut c = Canvas::new(FIGURE_WIDTH, FIGURE_HEIGHT);
    let right = FIGURE_WIDTH - 20;
    c.text(20, 16, &format!("StressBeat stress: {}", f.title), 3, INK);
    let y = c.text_wrapped(20, 54, right, &format!("Baseline: {}", f.baseline), 2, INK);
    c.text_wrapped(20, y, right, &f.summary, 2, MUTED);
    let ms = |s: f64| (s * 1000.0).round() as i64;
    let (Some(first), Some(last)) = (f.scored.first(), f.scored.last()) else {
        c.text(HR_AREA.x, HR_AREA.y, "no 30 s window in this span", 2, INK);
        c.footer();
        return c.into_image();
    };
    let (t0, t1) = (ms(first.start_s), ms(last.end_s).max(ms(first.start_s) + 1));
    let mids: Vec<i64> = f
        .scored
        .iter()
        .map(|w| ms((w.start_s + w.end_s) / 2.0))
        .collect();
    let step = window_step_ms(&mids);

    let hr: Vec<(i64, f64)> = mids
        .iter()
        .zip(&f.hr_bpm)
        .filter_map(|(&t, hr)| Some((t, f64::from((*hr)?))))
        .collect();
    let (lo, hi) = plot::hr_range(&hr);
    c.text(
        HR_AREA.x,
        HR_AREA.y - 26,
        "Heart rate of each window (bpm)",
        2,
        INK,
    );
    // the heart rate of a window without a score is shaded as its probability is
    shade_unscored(&mut c, HR_AREA, f.scored, &mids, step, (t0, t1));
    c.frame(HR_AREA, GRID);
    plot::value_axis(&mut c, HR_AREA, &plot::ticks(lo, hi), (lo, hi), 0, true);
    plot::plot_series(&mut c, HR_AREA, &hr, t0, t1, lo, hi, 2 * step, HR_LINE);
    plot::time_axis(&mut c, HR_AREA, t0, t1, 0);

    let a = PROBABILITY_AREA;
    c.text(
        a.x,
        a.y - 26,
        "Stress probability of each 30 s window (at its middle)",
        2,
        INK,
    );
    shade_unscored(&mut c, a, f.scored, &mids, step, (t0, t1));
    c.frame(a, GRID);
    let quarters = [0.0, 0.25, 0.5, 0.75, 1.0];
    plot::value_axis(&mut c, a, &quarters, (0.0, 1.0), 2, true);
    let threshold = f64::from(f.threshold);
    let y = plot::y_of(a, threshold, 0.0, 1.0);
    c.hline(a.x, a.x + a.w, y, ALERT);
    let label = format!("stressed at >= {threshold:.2}");
    c.text_right(a.x + a.w - 6, y.saturating_sub(20), &label, 2, ALERT);
    let p: Vec<(i64, f64)> = f
        .scored
        .iter()
        .zip(&mids)
        .filter_map(|(w, &t)| Some((t, f64::from(*w.probability.as_ref().ok()?))))
        .collect();
    // a window without a score breaks the line
    plot::plot_series(&mut c, a, &p, t0, t1, 0.0, 1.0, step * 3 / 2, SCORE_LINE);
    for &(t, v) in &p {
        let (x, y) = (plot::x_of(a, t, t0, t1), plot::y_of(a, v, 0.0, 1.0));
        c.fill_rect(x.saturating_sub(1), y.saturating_sub(1), 4, 4, SCORE_LINE);
    }
    plot::time_axis(&mut c, a, t0, t1, 0);

    let mut x = a.x;
    let legend_y = a.y + a.h + 44;
    for (color, text) in [
        (SCORE_LINE, "stress probability"),
        (GAP, "no score (signal)"),
        (RHYTHM_BAND, "no score (rhythm)"),
    ] {
        c.fill_rect(x, legend_y, 16, 16, color);
        c.text(x + 24, legend_y, text, 2, MUTED);
        x += 24 + 16 * text.len() as u32 + 32;
    }
    c.text(
        a.x,
        legend_y + 30,
        "time: m:ss (h:mm:ss) from the start of the recording",
        2,
        MUTED,
    );
    c.footer();
    c.into_image()
}

/// Shade the `step`-wide slot around each window's middle where it has no score: grey for poor
/// signal, amber for an irregular rhythm.
fn shade_unscored(
    c: &mut Canvas,
    a: PlotArea,
    scored: &[WindowScore],
    mids: &[i64],
    step: i64,
    (t0, t1): (i64, i64),
) {
    for (w, &mid) in scored.iter().zip(mids) {
        let shade = match w.probability {
            Ok(_) => continue,
            Err(NoScore::Rhythm(_)) => RHYTHM_BAND,
            Err(NoScore::Signal(_)) => GAP,
        };
        let x0 = plot::x_of(a, mid - step / 2, t0, t1);
        let x1 = plot::x_of(a, mid + step / 2, t0, t1).max(x0 + 1);
        c.fill_rect(x0, a.y + 1, x1 - x0, a.h - 2, shade);
    }
}

/// The usual step between windows (the median; 5 s with fewer than two).
fn window_step_ms(mids: &[i64]) -> i64 {
    let mut steps: Vec<i64> = mids
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied().unwrap_or(5_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stressbeat_core::model_input::stress::HRV_FEATURE_NAMES;

    #[test]
    fn baseline_errors_name_the_baseline_options() {
        assert_eq!(
            baseline_error("calm.csv: no sampling rate: the file has no time column; pass --fs HZ"),
            "baseline recording: calm.csv: no sampling rate: the file has no time column; pass \
             --baseline-fs HZ"
        );
        assert!(baseline_error("(… --unit mV or --unit uV)").contains("--baseline-unit uV"));
    }

    #[test]
    fn the_engines_gate_refuses_an_implausible_heart_rate() {
        // two scorable 30 s windows, 70 and 250 bpm (beats 0.857 and 0.24 s apart)
        let window = |rr_s: f32| {
            let beats = (30.0 / rr_s) as usize;
            let mut features = vec![0.0; HRV_FEATURE_NAMES.len()];
            features[0] = 60.0 / rr_s;
            StressWindow {
                start_s: 0.0,
                end_s: 30.0,
                start_sample: 0,
                end_sample: 3900,
                usable_fraction: 1.0,
                features,
                peaks: (0..beats)
                    .map(|k| (k as f32 * rr_s * 130.0) as usize)
                    .collect(),
                rr_s: vec![rr_s; beats - 1],
                rr_beat_counts: None,
                rr_irregularity: Some(0.0),
                beat_rate_bpm: Some(60.0 / rr_s),
            }
        };
        let windows = [window(0.857), window(0.24)];
        assert!(windows.iter().all(StressWindow::is_scorable));
        let mut scored: Scored = windows
            .iter()
            .map(|w| WindowScore {
                start_s: w.start_s,
                end_s: w.end_s,
                probability: Ok(0.5),
            })
            .collect();
        apply_engine_gate(&mut scored, &windows, &[]);
        assert_eq!(scored[0].probability, Ok(0.5));
        assert!(matches!(
            scored[1].probability,
            Err(NoScore::Signal(Some(
                NoScoreReason::ImplausibleHeartRate { .. }
            )))
        ));
        // and the baseline leaves it out as poor signal, as the live calibration does
        let base = select_baseline(&windows, &[], &EngineConfig::default());
        assert_eq!((base.admitted, base.poor_signal), (1, 1));
    }

    #[test]
    fn a_verdict_needs_half_the_windows_scored() {
        let window = |i: usize, p: Option<f32>| WindowScore {
            start_s: i as f64 * 5.0,
            end_s: i as f64 * 5.0 + 30.0,
            probability: p.ok_or(NoScore::Signal(None)),
        };
        let mostly_noise: Scored = (0..10).map(|i| window(i, (i < 4).then_some(0.9))).collect();
        let s = summarize(&mostly_noise, 0.5);
        assert_eq!((s.stress_probability, s.stressed), (Some(0.9), None));
        assert_eq!((s.scored_windows, s.windows), (4, 10));
        assert!(s.note.unwrap().contains("only 4 of 10"));
        let half: Scored = (0..10).map(|i| window(i, (i < 5).then_some(0.2))).collect();
        let s = summarize(&half, 0.5);
        assert_eq!((s.stressed, s.note), (Some(false), None));
        assert_eq!(summarize(&vec![window(0, None)], 0.5).stressed, None);
        assert!(
            summarize(&Vec::new(), 0.5)
                .note
                .unwrap()
                .contains("shorter")
        );
    }

    #[test]
    fn the_figure_shows_each_windows_probability_or_why_it_has_none() {
        let rhythm = NoScore::Rhythm(NoScoreReason::IrregularRhythm {
            ectopic_fraction: 0.3,
            allowed: 0.2,
        });
        let outcomes = [
            Ok(0.8),
            Ok(0.7),
            Err(rhythm),
            Err(NoScore::Signal(None)),
            Ok(0.2),
            Ok(0.3),
        ];
        let scored: Scored = outcomes
            .into_iter()
            .enumerate()
            .map(|(i, probability)| WindowScore {
                start_s: 100.0 + i as f64 * 5.0,
                end_s: 130.0 + i as f64 * 5.0,
                probability,
            })
            .collect();
        let f = StressFigure {
            title: "x.edf".into(),
            baseline: baseline_text(None),
            summary: "Summary: -".into(),
            scored: &scored,
            hr_bpm: vec![Some(70.0); scored.len()],
            threshold: 0.5,
        };
        let img = render_figure(&f);
        assert_eq!(img.dimensions(), (FIGURE_WIDTH, FIGURE_HEIGHT));
        let a = PROBABILITY_AREA;
        let (t0, t1) = (100_000, 155_000);
        for w in &scored {
            let x = plot::x_of(a, ((w.start_s + w.end_s) * 500.0) as i64, t0, t1);
            let px = |y: u32| *img.get_pixel(x, y);
            match &w.probability {
                Ok(p) => {
                    assert_eq!(px(plot::y_of(a, f64::from(*p), 0.0, 1.0)), SCORE_LINE);
                    assert_eq!(px(a.y + 5), plot::WHITE);
                }
                Err(NoScore::Rhythm(_)) => assert_eq!(px(a.y + 5), RHYTHM_BAND),
                Err(NoScore::Signal(_)) => assert_eq!(px(a.y + 5), GAP),
            }
        }
        assert_eq!(*img.get_pixel(a.x + 3, plot::y_of(a, 0.5, 0.0, 1.0)), ALERT);
        // no windows: a figure that says so
        let empty = StressFigure {
            scored: &[],
            hr_bpm: Vec::new(),
            ..f
        };
        assert_eq!(
            render_figure(&empty).dimensions(),
            (FIGURE_WIDTH, FIGURE_HEIGHT)
        );
    }
}
