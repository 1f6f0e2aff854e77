//! `stressbeat simulate`: a simulated Polar H10 (ECGSYN ECG, McSharry et al. 2003) driven by a
//! minimal phone, written as a PMD capture (or the ECG itself as CSV), with the ground truth in
//! side files: `FILE.peaks.csv` (true R-peaks) and `FILE.faults.csv` (injected faults).

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use stressbeat_core::formats::pmd_capture::CaptureWriter;
use stressbeat_core::sensor::transport::{Characteristic, TransportEventKind};
use stressbeat_core::sim::ecgsyn::{EcgConfig, EcgSynth, NoiseConfig, StressEpisode, TrueBeat};
use stressbeat_core::sim::faults::{FaultConfig, FaultRecord, SPEC_HELP};
use stressbeat_core::sim::strap::{BasicPhone, SimStrap, StrapConfig};
use stressbeat_core::text::compact_number;

use crate::args::in_range;

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  stressbeat simulate --minutes 30 --out sim.bin\n  \
stressbeat simulate --minutes 60 --stress-at 20 --stress-minutes 10 --out sim.csv\n  \
stressbeat simulate --minutes 1440 --faults loss=5%,disconnect=2m/10s,leadoff=5m/20s --out day.bin\n\n\
Side files: FILE.peaks.csv (true R-peaks: time_s,sample,label,flag; flag lead_off when the beat\n\
fell in a lead-off fault), FILE.faults.csv (injected faults);\n\
their samples (and the beats' times) count from FILE's first sample, as `peaks` and `replay`\n\
count them; a fault's at_ms is from the start of the simulation.\n\
Capture files hold the PMD data notifications as received by the phone (faults included), not\n\
the heart-rate notifications."
)]
pub struct SimulateArgs {
    /// Length of the simulation in minutes.
    #[arg(long, default_value_t = 10.0, value_parser = crate::args::positive, allow_negative_numbers = true)]
    minutes: f64,
    /// Faults to inject (capture output; for CSV only lead-off applies).
    #[arg(long, value_name = "SPEC", default_value = "", long_help = format!("Faults to inject: {SPEC_HELP}.\nExample: loss=5%,dup=1%,reorder=0.5%,corrupt=0.1%,jump=30m,drift=50ppm,disconnect=2m/10s,leadoff=5m/20s,silent=10m/30s"))]
    faults: String,
    /// Random seed (same seed, same output).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean heart rate at rest, bpm (25-220).
    #[arg(long, default_value_t = 65.0, value_parser = in_range(25.0, 220.0, " bpm"), allow_negative_numbers = true)]
    hr: f64,
    /// Standard deviation of the RR intervals at rest, ms (0-200).
    #[arg(long, value_name = "MS", default_value_t = 50.0, value_parser = in_range(0.0, MAX_HRV_MS, " ms"), allow_negative_numbers = true)]
    hrv: f64,
    /// LF/HF power ratio at rest (0.05-20).
    #[arg(long, default_value_t = 1.5, value_parser = in_range(0.05, 20.0, ""), allow_negative_numbers = true)]
    lf_hf: f64,
    /// Start of a stress episode, minutes from the start (HR +20 bpm, RR std halved, LF/HF ×3).
    #[arg(long, value_name = "MIN", value_parser = crate::args::non_negative, allow_negative_numbers = true)]
    stress_at: Option<f64>,
    /// Length of the stress episode, minutes.
    #[arg(long, value_name = "M", default_value_t = 10.0, value_parser = crate::args::non_negative, allow_negative_numbers = true)]
    stress_minutes: f64,
    /// Premature ventricular beats per minute (0-30; with --pac-per-min at most half the heart
    /// rate: only a normal beat is followed by a premature one).
    #[arg(long, default_value_t = 0.0, value_parser = in_range(0.0, MAX_ECTOPIC_PER_MIN, " per minute"), allow_negative_numbers = true)]
    pvc_per_min: f64,
    /// Premature atrial beats per minute (0-30; see --pvc-per-min).
    #[arg(long, default_value_t = 0.0, value_parser = in_range(0.0, MAX_ECTOPIC_PER_MIN, " per minute"), allow_negative_numbers = true)]
    pac_per_min: f64,
    /// Noise level: 0 = clean, 1 = a strap at rest (wander, EMG, motion bursts), higher = worse
    /// (up to 10: no ECG left to see).
    #[arg(long, default_value_t = 1.0, value_parser = in_range(0.0, MAX_NOISE_LEVEL, ""), allow_negative_numbers = true)]
    noise: f64,
    /// Add 50 Hz mains interference of this amplitude (µV, 0-5000).
    #[arg(long, value_name = "UV", default_value_t = 0.0, value_parser = in_range(0.0, MAX_MAINS_UV, " µV"), allow_negative_numbers = true)]
    mains: f64,
    /// Output: a PMD capture (`H10 ECG v1.0 binary data` + length-prefixed notifications), or a
    /// CSV `time_s,ecg_uv` when the name ends in .csv.
    #[arg(long)]
    out: PathBuf,
    /// Output format (default: from the file name).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Largest RR standard deviation, ms: more than any resting adult's, and at most heart rates
/// still inside the 0.25-2.4 s the simulator's RR intervals are clamped to.
const MAX_HRV_MS: f64 = 200.0;
/// Largest rate of each kind of premature beat, per minute (bigeminy at 60 bpm).
const MAX_ECTOPIC_PER_MIN: f64 = 30.0;
/// Largest noise level (10 × a strap at rest: the ECG is buried).
const MAX_NOISE_LEVEL: f64 = 10.0;
/// Largest mains interference, µV (5 mV: several times an R wave).
const MAX_MAINS_UV: f64 = 5000.0;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Capture,
    Csv,
}

fn side(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The output files, written under temporary names and renamed into place only once all are
/// complete; removed when the simulation fails (a cut-off capture would read as a complete,
/// shorter one).
#[derive(Default)]
struct Outputs {
    /// (temporary, final) paths.
    files: Vec<(PathBuf, PathBuf)>,
    done: bool,
}

impl Outputs {
    fn create(&mut self, path: &Path) -> Result<BufWriter<File>, String> {
        let (file, partial) = stressbeat_core::io::create_partial(path).map_err(io_err(path))?;
        self.files.push((partial, path.to_path_buf()));
        Ok(BufWriter::new(file))
    }

    /// Move every (flushed) file into place.
    fn commit(mut self) -> Result<(), String> {
        for (partial, path) in &self.files {
            std::fs::rename(partial, path).map_err(io_err(path))?;
        }
        self.done = true;
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        if !self.done {
            for (partial, _) in &self.files {
                let _ = std::fs::remove_file(partial);
            }
        }
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

impl SimulateArgs {
    fn ecg_config(&self) -> Result<EcgConfig, String> {
        if !(self.minutes.is_finite() && self.minutes > 0.0 && self.minutes <= 7.0 * 1440.0) {
            return Err("--minutes must be in (0, 10080]".into());
        }
        // only a normal beat can be followed by a premature one: at most every other beat
        let ectopic = self.pvc_per_min + self.pac_per_min;
        if ectopic > self.hr / 2.0 {
            return Err(format!(
                "--pvc-per-min + --pac-per-min = {} per minute: more than half the heart rate \
                 ({} bpm), and at most every other beat can be premature",
                compact_number(ectopic),
                compact_number(self.hr)
            ));
        }
        if let Some(at) = self.stress_at.filter(|&at| at >= self.minutes) {
            return Err(format!(
                "--stress-at {} min is not before the end of the {} min simulation",
                compact_number(at),
                compact_number(self.minutes)
            ));
        }
        let mut noise = if self.noise == 0.0 {
            NoiseConfig::clean()
        } else {
            NoiseConfig::scaled(self.noise)
        };
        noise.mains_uv = self.mains;
        let stress = self
            .stress_at
            .map(|m| StressEpisode {
                start_s: m * 60.0,
                duration_s: self.stress_minutes.max(0.0) * 60.0,
                intensity: 1.0,
            })
            .into_iter()
            .collect();
        Ok(EcgConfig {
            hr_bpm: self.hr,
            hrv_std_ms: self.hrv,
            lf_hf: self.lf_hf,
            stress,
            pvc_per_min: self.pvc_per_min,
            pac_per_min: self.pac_per_min,
            noise,
            seed: self.seed,
            ..EcgConfig::default()
        })
    }
}

fn progress(total: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} simulated min {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The true beats, counted from the output's first sample, `origin` in the generator's samples
/// (a capture starts where the phone started the stream); beats before it are not in the output.
fn write_beats(
    w: &mut impl Write,
    beats: &[TrueBeat],
    origin: u64,
    fs: f64,
) -> std::io::Result<()> {
    for b in beats.iter().filter(|b| b.sample >= origin) {
        writeln!(
            w,
            "{:.4},{},{}{}",
            b.time_s - origin as f64 / fs,
            b.sample - origin,
            b.label.symbol(),
            if b.lead_off { ",lead_off" } else { "," }
        )?;
    }
    Ok(())
}

/// The injected faults; their samples counted from `origin`, as in [`write_beats`] (a fault
/// over samples wholly before it is left out, one across it clipped).
fn write_faults(w: &mut impl Write, faults: &[FaultRecord], origin: u64) -> std::io::Result<()> {
    for f in faults {
        let (first, n) = match f.first_sample {
            Some(s) if s + f.n_samples <= origin && f.n_samples > 0 => continue,
            Some(s) => (
                (s.max(origin) - origin).to_string(),
                f.n_samples - origin.saturating_sub(s).min(f.n_samples),
            ),
            None => (String::new(), f.n_samples),
        };
        writeln!(w, "{:?},{},{},{first},{n}", f.kind, f.at_ms, f.len_ms)?;
    }
    Ok(())
}

pub fn simulate(args: &SimulateArgs) -> Result<(), String> {
    let faults = FaultConfig::parse(&args.faults).map_err(|e| e.to_string())?;
    let ecg = args.ecg_config()?;
    let csv = match args.format {
        Some(f) => f == Format::Csv,
        None => args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    if csv {
        simulate_csv(args, ecg, &faults)
    } else {
        simulate_capture(args, ecg, faults)
    }
}

/// The ECG itself: `time_s,ecg_uv` (lead-off windows applied; link faults do not apply).
fn simulate_csv(args: &SimulateArgs, ecg: EcgConfig, faults: &FaultConfig) -> Result<(), String> {
    if faults.has_link_faults()
        || faults.disconnect.is_some()
        || faults.silent.is_some()
        || faults.power_down.is_some()
        || faults.jump_every_ms.is_some()
    {
        eprintln!("stressbeat: note: CSV output is the ECG itself; only lead-off faults apply");
    }
    let peaks_path = side(&args.out, ".peaks.csv");
    let mut files = Outputs::default();
    let mut out = files.create(&args.out)?;
    let mut peaks = files.create(&peaks_path)?;
    let e_out = io_err(&args.out);
    let e_pk = io_err(&peaks_path);
    writeln!(out, "time_s,ecg_uv").map_err(&e_out)?;
    writeln!(peaks, "time_s,sample,label,flag").map_err(&e_pk)?;
    let mut g = EcgSynth::new(ecg);
    let fs = g.fs_hz();
    let n = (args.minutes * 60.0 * fs).round() as u64;
    let bar = progress(args.minutes.ceil() as u64, args.quiet);
    let mut buf = vec![0f32; 1300];
    let mut beats = Vec::new();
    let mut k = 0u64;
    while k < n {
        let m = (buf.len() as u64).min(n - k) as usize;
        for (i, v) in buf[..m].iter_mut().enumerate() {
            let t_ms = ((k + i as u64) as f64 * 1000.0 / fs) as i64;
            let off = faults.leadoff.is_some_and(|p| p.active(t_ms));
            g.set_lead_off(off.then_some(stressbeat_core::sim::ecgsyn::LeadOff::Flat));
            *v = g.next_sample();
        }
        for (i, v) in buf[..m].iter().enumerate() {
            writeln!(out, "{:.4},{:.1}", (k + i as u64) as f64 / fs, v).map_err(&e_out)?;
        }
        k += m as u64;
        g.drain_beats_into(&mut beats);
        write_beats(&mut peaks, &beats, 0, fs).map_err(&e_pk)?;
        beats.clear();
        bar.set_position((k as f64 / fs / 60.0) as u64);
    }
    out.flush().map_err(&e_out)?;
    peaks.flush().map_err(&e_pk)?;
    drop((out, peaks));
    files.commit()?;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} samples at {fs} Hz) and {}",
        args.out.display(),
        n,
        peaks_path.display()
    );
    Ok(())
}

/// The strap as the phone receives it: a PMD capture of every data notification.
fn simulate_capture(
    args: &SimulateArgs,
    ecg: EcgConfig,
    faults: FaultConfig,
) -> Result<(), String> {
    let fs = ecg.fs_hz;
    let peaks_path = side(&args.out, ".peaks.csv");
    let faults_path = side(&args.out, ".faults.csv");
    let e_out = io_err(&args.out);
    let e_pk = io_err(&peaks_path);
    let e_f = io_err(&faults_path);
    let mut files = Outputs::default();
    let mut cap = CaptureWriter::new(files.create(&args.out)?).map_err(&e_out)?;
    let mut peaks = files.create(&peaks_path)?;
    let mut flog = files.create(&faults_path)?;
    writeln!(peaks, "time_s,sample,label,flag").map_err(&e_pk)?;
    writeln!(flog, "kind,at_ms,len_ms,first_sample,n_samples").map_err(&e_f)?;
    let mut strap = SimStrap::new(StrapConfig {
        ecg,
        faults,
        seed: args.seed,
        ..StrapConfig::default()
    });
    let mut phone = BasicPhone::new();
    let end_ms = (args.minutes * 60_000.0).round() as i64;
    let bar = progress(args.minutes.ceil() as u64, args.quiet);
    let (mut frames, mut hr, mut lost, mut disconnects) = (0u64, 0u64, 0u64, 0u64);
    // ECG missing: the samples of the span the strap produced frames for that no delivered
    // frame covers (lost frames, also before the first delivered one; silent stretches)
    let (mut produced, mut covered, mut covered_to) = (None::<(u64, u64)>, 0u64, None::<u64>);
    // the generator's index of the capture's first sample (known once a frame arrived), and
    // the ground truth waiting for it
    let mut origin: Option<u64> = None;
    let (mut beats, mut fault_log) = (Vec::new(), Vec::new());
    let mut t = 0i64;
    while t <= end_ms {
        for e in phone.step(&mut strap, t) {
            match &e.kind {
                TransportEventKind::Notification {
                    characteristic: Characteristic::PmdData,
                    value,
                } => {
                    cap.write_record(value).map_err(&e_out)?;
                    frames += 1;
                }
                TransportEventKind::Notification {
                    characteristic: Characteristic::HeartRateMeasurement,
                    ..
                } => hr += 1,
                TransportEventKind::Disconnected { .. } => disconnects += 1,
                _ => {}
            }
        }
        if t % 60_000 == 0 || t + 20 > end_ms {
            // drain the ground truth every simulated minute (24-hour runs stay small)
            let truth = strap.take_truth();
            if origin.is_none() {
                // the capture's first frame (a corrupted one too: it is in the file)
                origin = truth
                    .frames
                    .iter()
                    .filter(|f| f.delivered_ms.is_some())
                    .min_by_key(|f| (f.delivered_ms, f.first_sample))
                    .map(|f| f.first_sample);
            }
            beats.extend_from_slice(&truth.beats);
            fault_log.extend_from_slice(&truth.faults);
            if let Some(origin) = origin {
                write_beats(&mut peaks, &beats, origin, fs).map_err(&e_pk)?;
                write_faults(&mut flog, &fault_log, origin).map_err(&e_f)?;
                beats.clear();
                fault_log.clear();
            }
            lost += truth
                .frames
                .iter()
                .filter(|f| f.delivered_ms.is_none())
                .count() as u64;
            for f in &truth.frames {
                let end = f.first_sample + u64::from(f.n_samples);
                produced = Some(produced.map_or((f.first_sample, end), |(a, b)| {
                    (a.min(f.first_sample), b.max(end))
                }));
            }
            let mut fr = truth.delivered_frames();
            fr.sort_by_key(|f| f.first_sample);
            for f in fr {
                let end = f.first_sample + u64::from(f.n_samples);
                let start = covered_to.map_or(f.first_sample, |c| c.max(f.first_sample));
                covered += end.saturating_sub(start);
                covered_to = Some(covered_to.map_or(end, |c| c.max(end)));
            }
            bar.set_position((t / 60_000) as u64);
        }
        t += 20;
    }
    if origin.is_none() {
        // no frame reached the phone: the capture is empty, the faults say why
        write_faults(&mut flog, &fault_log, 0).map_err(&e_f)?;
    }
    cap.flush().map_err(&e_out)?;
    peaks.flush().map_err(&e_pk)?;
    flog.flush().map_err(&e_f)?;
    drop((cap, peaks, flog));
    files.commit()?;
    bar.finish_and_clear();
    println!(
        "wrote {}: {frames} ECG notifications, {hr} heart-rate notifications, {disconnects} disconnects, \
{lost} frames not delivered, {:.1} s of ECG missing",
        args.out.display(),
        produced.map_or(0, |(a, b)| b - a).saturating_sub(covered) as f64 / 130.0
    );
    println!(
        "ground truth: {} (R-peaks), {} (faults)",
        peaks_path.display(),
        faults_path.display()
    );
    Ok(())
}
