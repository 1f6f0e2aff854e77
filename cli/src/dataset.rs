//! `stressbeat dataset`: exports model inputs, computed by the core exactly as on the phone
//! (`stressbeat_core::model_input`), as `.npy` files plus a `meta.json` for training.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::json;
use stressbeat_core::{
    analysis::{self, AnalysisOptions, EcgSpan},
    dsp::{
        beats::{KACHUEE_LEN, kachuee_beats},
        quality::{QualityConfig, assess_quality},
    },
    eval::vf_spans,
    imaging::{Channel, IMAGE_PIXELS, IMAGE_SIZE},
    io::{LoadOptions, load_recording},
    model::ModelSignal,
    model_input::{
        MODEL_RATE_HZ,
        beat::{
            AAMI_LABELS, AamiClass, BEAT_CHANNELS, BEAT_INPUTS_REVISION, BEAT_LEN, BEAT_PRE,
            CLASSIFIED_N_STALE, IRREGULARITY_BEATS, LONG_RR_BEATS, LONGER_RR_BEATS,
            RR_FEATURE_NAMES, TEMPLATE_BEATS, TemplateOfN, aami_class, beat_inputs,
        },
        stress::{
            HRV_FEATURE_NAMES, MIN_USABLE_FRACTION, StressWindowConfig, WindowRenderer,
            stress_windows,
        },
    },
    record::Recording,
};

use crate::npy::write_npy;

/// Which dataset to export.
#[derive(Subcommand, Debug)]
pub enum DatasetCommand {
    /// EEGMAT (rest vs mental arithmetic): stress windows with HRV features and images.
    Stress(DatasetArgs),
    /// Annotated beats (default: MIT-BIH Arrhythmia DS1): beat windows, RR features, AAMI labels.
    Beats(BeatDatasetArgs),
}

/// Input folder and output folder.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Folder with the recordings (EEGMAT `SubjectNN_R.edf`, or MIT-BIH `.hea/.dat/.atr`).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// Input and output folders, and which annotated records to export.
#[derive(Args, Debug)]
pub struct BeatDatasetArgs {
    #[command(flatten)]
    pub io: DatasetArgs,
    /// Records: `ds1` (MIT-BIH DS1), `qtdb-other` (every QT Database record with reference beat
    /// annotations that is not an excerpt of an MIT-BIH Arrhythmia record: other patients), or
    /// comma-separated record names.
    #[arg(long, default_value = "ds1")]
    pub records: String,
}

/// The record names `--records` selects in `data`, sorted.
fn select_records(data: &Path, records: &str) -> Result<Vec<String>, String> {
    match records {
        "ds1" => Ok(DS1.iter().map(|s| s.to_string()).collect()),
        "qtdb-other" => {
            let mut names: Vec<String> = std::fs::read_dir(data)
                .map_err(|e| format!("{}: {e}", data.display()))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|f| f.strip_suffix(".atr").map(str::to_string))
                .filter(|n| n.starts_with("sel") && !is_mitdb_excerpt(n))
                .collect();
            names.sort();
            Ok(names)
        }
        list => Ok(list.split(',').map(|s| s.trim().to_string()).collect()),
    }
}

/// A QT Database record cut from an MIT-BIH Arrhythmia record (`sel100`-`sel234`): a DS1 or DS2
/// patient.
fn is_mitdb_excerpt(name: &str) -> bool {
    name.strip_prefix("sel")
        .and_then(|d| d.parse::<u32>().ok())
        .is_some_and(|n| (100..300).contains(&n))
}

/// A numeric id for a record name: its digits (`101`, `sel803` → 803), plus 900000 for the
/// European ST-T excerpts (`sele0104` → 900104) so that no two sources collide.
fn record_id(name: &str) -> Result<i32, String> {
    let digits: String = name.chars().filter(char::is_ascii_digit).collect();
    let n: i32 = digits
        .parse()
        .map_err(|_| format!("record name {name} has no number"))?;
    Ok(if name.starts_with("sele") {
        900_000 + n
    } else {
        n
    })
}

/// MIT-BIH records of the de Chazal et al. (2004) training set DS1 (paced records excluded).
pub const DS1: [&str; 22] = [
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201",
    "203", "205", "207", "208", "209", "215", "220", "223", "230",
];

/// Matching tolerance between a detected R-peak and a reference beat annotation (s).
const MATCH_TOLERANCE_S: f64 = 0.15;

/// Runs a dataset export.
pub fn run(cmd: &DatasetCommand) -> Result<(), String> {
    let out = match cmd {
        DatasetCommand::Stress(a) => &a.out,
        DatasetCommand::Beats(a) => &a.io.out,
    };
    let created = !out.exists();
    let done = match cmd {
        DatasetCommand::Stress(a) => stress(a),
        DatasetCommand::Beats(a) => beats(&a.io, &a.records),
    };
    if done.is_err() && created {
        // a folder this run created holds only its partial output
        let _ = std::fs::remove_dir_all(out);
    }
    done
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn create_out(out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), String> {
    let s = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, s).map_err(|e| format!("{}: {e}", path.display()))
}

/// The default ECG channel of `rec` and its analysis at the model rate (as the phone computes).
fn model_signal(rec: &Recording) -> Result<(EcgSpan, ModelSignal), String> {
    let span =
        analysis::select_span(rec, &AnalysisOptions::default()).map_err(|e| e.to_string())?;
    let signal = ModelSignal::from_span(&span).map_err(|e| e.to_string())?;
    Ok((span, signal))
}

/// One-to-one matching of detections to reference beats: each detection takes the nearest
/// reference within `tol` (same units) unless an earlier detection already took it.
/// Returns, per detection, the index of its reference, and the number of detections that found
/// their nearest reference already taken.
fn match_to_reference(
    detections: &[i64],
    reference: &[i64],
    tol: i64,
) -> (Vec<Option<usize>>, usize) {
    let mut taken = vec![false; reference.len()];
    let mut duplicates = 0;
    let matched = detections
        .iter()
        .map(|&d| {
            let j = reference.partition_point(|&r| r < d);
            let best = [j.checked_sub(1), (j < reference.len()).then_some(j)]
                .into_iter()
                .flatten()
                .min_by_key(|&k| (reference[k] - d).abs())
                .filter(|&k| (reference[k] - d).abs() <= tol)?;
            if taken[best] {
                duplicates += 1;
                return None;
            }
            taken[best] = true;
            Some(best)
        })
        .collect();
    (matched, duplicates)
}

fn beats(args: &DatasetArgs, records_arg: &str) -> Result<(), String> {
    let names = select_records(&args.data, records_arg)?;
    create_out(&args.out)?;
    let (mut beats, mut rr, mut labels, mut records, mut peaks, mut ref_samples) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut quality_scores = Vec::new();
    let mut templates_of_n = Vec::new();
    let (mut k_beats, mut k_labels, mut k_records) = (Vec::new(), Vec::new(), Vec::new());
    let mut extra = ExtraDetections::default();
    let mut per_record = Vec::new();
    let mut missing = Vec::new();
    for name in &names {
        let hea = args.data.join(format!("{name}.hea"));
        if !hea.is_file() || !hea.with_extension("atr").is_file() {
            missing.push(name);
            continue;
        }
        let rec = load_recording(&hea, &LoadOptions::default()).map_err(|e| e.to_string())?;
        let (span, signal) = model_signal(&rec)?;
        let (x, detected) = (&signal.samples_130hz, &signal.peaks_130hz);
        let record_id = record_id(name)?;
        let ann_fs = rec.annotation_rate_hz;
        let reference: Vec<(i64, usize)> = rec
            .annotations
            .iter()
            .filter_map(|a| aami_class(&a.symbol).map(|c| (a.sample, c as usize)))
            .collect();
        let ref_pos: Vec<i64> = reference.iter().map(|r| r.0).collect();
        let tol = (MATCH_TOLERANCE_S * ann_fs).round() as i64;

        let bi = beat_inputs(x, detected);
        let quality = assess_quality(x, MODEL_RATE_HZ, QualityConfig::default())
            .map_err(|e| e.to_string())?;
        let quality_at = |p: usize| quality.window_at(p as u64).map_or(0.0, |q| q.score);
        let det_ann: Vec<i64> = bi
            .peaks
            .iter()
            .map(|&p| (p as f64 * ann_fs / MODEL_RATE_HZ).round() as i64)
            .collect();
        let (matched, duplicates) = match_to_reference(&det_ann, &ref_pos, tol);
        let vf = vf_spans(&rec.annotations);
        let in_vf = |sample: i64| vf.iter().any(|&(from, to)| (from..to).contains(&sample));
        let mut class_counts = [0usize; 5];
        let mut kept = 0usize;
        let mut extra_in_vf = 0usize;
        let mut reference_matched = vec![false; reference.len()];
        // the classified-N template fed by the reference classes (what training sees)
        let mut ring = TemplateOfN::new(CLASSIFIED_N_STALE);
        let mut template = [0.0f32; BEAT_LEN];
        for (i, m) in matched.iter().enumerate() {
            template.copy_from_slice(bi.template(i).unwrap_or(&[0.0; BEAT_LEN]));
            ring.apply(&mut template);
            let is_n = m.is_some_and(|m| reference[m].1 == AamiClass::N as usize);
            ring.record(bi.beat(i).unwrap_or(&[]), is_n);
            let Some(m) = *m else {
                if in_vf(det_ann[i]) {
                    extra_in_vf += 1;
                } else {
                    extra.beats.extend_from_slice(bi.row(i).unwrap_or(&[]));
                    extra.rr.extend_from_slice(bi.rr_features(i).unwrap_or(&[]));
                    extra.records.push(record_id);
                    extra.peaks.push(bi.peaks[i] as i64);
                    extra.quality.push(quality_at(bi.peaks[i]));
                }
                continue;
            };
            reference_matched[m] = true;
            let class = reference[m].1;
            class_counts[class] += 1;
            kept += 1;
            beats.extend_from_slice(bi.row(i).unwrap_or(&[]));
            templates_of_n.extend_from_slice(&template);
            rr.extend_from_slice(bi.rr_features(i).unwrap_or(&[]));
            labels.push(class as i64);
            records.push(record_id);
            peaks.push(bi.peaks[i] as i64);
            ref_samples.push(reference[m].0);
            quality_scores.push(quality_at(bi.peaks[i]));
        }

        // reference beats without a labelled window: missed by the detector, or at a record edge
        let mut missed = [0usize; 5];
        for (&(sample, class), &hit) in reference.iter().zip(&reference_matched) {
            if !hit && !in_vf(sample) {
                missed[class] += 1;
            }
        }

        // Kachuee & al. (2018) beats on the original-rate signal, labelled the same way
        let (raw, fs) = (&span.samples_mv, span.sampling_rate_hz);
        let kb = kachuee_beats(raw, fs, true).map_err(|e| e.to_string())?;
        let k_pos: Vec<i64> = kb
            .iter()
            .map(|b| (b.r_index_input as f64 * ann_fs / fs).round() as i64)
            .collect();
        let (k_matched, _) = match_to_reference(&k_pos, &ref_pos, tol);
        let mut k_kept = 0usize;
        for (b, m) in kb.iter().zip(&k_matched) {
            let Some(m) = *m else { continue };
            k_beats.extend_from_slice(&b.samples);
            k_labels.push(reference[m].1 as i64);
            k_records.push(record_id);
            k_kept += 1;
        }
        eprintln!(
            "{name}: {} detected, {kept} labelled beats, {} Kachuee beats labelled of {}",
            detected.len(),
            k_kept,
            kb.len()
        );
        per_record.push(json!({
            "record": name,
            "record_id": record_id,
            "channel": span.label,
            "sampling_rate_hz": span.sampling_rate_hz,
            "reference_beats": reference.len(),
            "detected_peaks": detected.len(),
            "beats_with_window_and_neighbours": bi.len(),
            "labelled": kept,
            "unmatched_dropped": bi.len() - kept,
            "duplicate_matches_dropped": duplicates,
            "class_counts": class_counts,
            "missed_reference_class_counts": missed,
            "extra_detections": bi.len() - kept - extra_in_vf,
            "extra_detections_in_vf": extra_in_vf,
            "kachuee_beats": kb.len(),
            "kachuee_labelled": k_kept,
        }));
    }
    if records.is_empty() {
        return Err(format!(
            "{}: none of the records ({records_arg}) found with beat annotations",
            args.data.display()
        ));
    }
    let n = labels.len();
    let out = &args.out;
    write_npy(
        &out.join("beats.npy"),
        &beats,
        &[n, BEAT_CHANNELS, BEAT_LEN],
    )?;
    write_npy(
        &out.join("templates_of_n.npy"),
        &templates_of_n,
        &[n, BEAT_LEN],
    )?;
    write_npy(&out.join("rr.npy"), &rr, &[n, RR_FEATURE_NAMES.len()])?;
    write_npy(&out.join("labels.npy"), &labels, &[n])?;
    write_npy(&out.join("records.npy"), &records, &[n])?;
    write_npy(&out.join("peaks.npy"), &peaks, &[n])?;
    write_npy(&out.join("reference_samples.npy"), &ref_samples, &[n])?;
    write_npy(&out.join("quality.npy"), &quality_scores, &[n])?;
    let e = extra.records.len();
    write_npy(
        &out.join("extra_beats.npy"),
        &extra.beats,
        &[e, BEAT_CHANNELS, BEAT_LEN],
    )?;
    write_npy(
        &out.join("extra_rr.npy"),
        &extra.rr,
        &[e, RR_FEATURE_NAMES.len()],
    )?;
    write_npy(&out.join("extra_records.npy"), &extra.records, &[e])?;
    write_npy(&out.join("extra_peaks.npy"), &extra.peaks, &[e])?;
    write_npy(&out.join("extra_quality.npy"), &extra.quality, &[e])?;
    let k = k_labels.len();
    write_npy(&out.join("kachuee_beats.npy"), &k_beats, &[k, KACHUEE_LEN])?;
    write_npy(&out.join("kachuee_labels.npy"), &k_labels, &[k])?;
    write_npy(&out.join("kachuee_records.npy"), &k_records, &[k])?;
    let mut totals = [0usize; 5];
    for &l in &labels {
        totals[l as usize] += 1;
    }
    write_json(
        &out.join("meta.json"),
        &json!({
            "dataset": "beats",
            "source": match records_arg {
                "ds1" => "MIT-BIH Arrhythmia Database, DS1 (de Chazal et al. 2004), MLII".to_string(),
                "qtdb-other" => "QT Database records not cut from MIT-BIH Arrhythmia records (other patients), first lead".to_string(),
                other => format!("records {other} of {}", args.data.display()),
            },
            "record_names": names,
            "sampling_rate_hz": MODEL_RATE_HZ,
            "beat": {"length": BEAT_LEN, "pre": BEAT_PRE, "rr_features": RR_FEATURE_NAMES,
                     "inputs_revision": BEAT_INPUTS_REVISION,
                     "normalisation": "window median subtracted, mV",
                     "channels": ["beat", "template"],
                     "template_beats": TEMPLATE_BEATS, "classified_n_stale": CLASSIFIED_N_STALE,
                     "long_rr_beats": LONG_RR_BEATS,
                     "longer_rr_beats": LONGER_RR_BEATS, "irregularity_beats": IRREGULARITY_BEATS},
            "labels": AAMI_LABELS,
            "label_counts": totals,
            "count": n,
            "match_tolerance_s": MATCH_TOLERANCE_S,
            "files": {
                "beats.npy": "[n, channels, length] f32", "rr.npy": "[n, R] f32",
                "templates_of_n.npy": "[n, length] f32: the template of the beats classified N (template rule classified_n), fed by the reference classes; detections without a reference beat never enter",
                "labels.npy": "[n] i64 (index into labels)", "records.npy": "[n] i32 record number",
                "peaks.npy": "[n] i64 R-peak sample at 130 Hz",
                "reference_samples.npy": "[n] i64 matched annotation sample (360 Hz)",
                "kachuee_beats.npy": "[k, 187] f32 (Kachuee et al. 2018, 125 Hz)",
                "kachuee_labels.npy": "[k] i64", "kachuee_records.npy": "[k] i32",
                "extra_beats.npy": "[e, channels, length] f32: detections matching no reference beat, outside VF",
                "extra_rr.npy": "[e, R] f32", "extra_records.npy": "[e] i32",
                "extra_peaks.npy": "[e] i64 R-peak sample at 130 Hz",
                "quality.npy": "[n] f32 signal-quality score (0..1) of the 4 s window holding the beat",
                "extra_quality.npy": "[e] f32"
            },
            "extra_count": e,
            "kachuee_count": k,
            "records": per_record,
            "missing_records": missing,
            "git_commit": git_commit(),
        }),
    )?;
    println!(
        "beats: {n} labelled beats (N/S/V/F/Q = {totals:?}), {k} Kachuee beats -> {}",
        out.display()
    );
    Ok(())
}

/// Detections that match no reference beat (outside ventricular flutter/fibrillation): the
/// classifier's inputs for them, so that evaluation can count what it calls them, as `bxb` does.
#[derive(Default)]
struct ExtraDetections {
    beats: Vec<f32>,
    rr: Vec<f32>,
    records: Vec<i32>,
    peaks: Vec<i64>,
    quality: Vec<f32>,
}

/// Subject number and recording number (1 = rest, 2 = mental arithmetic) of `SubjectNN_R.edf`.
fn eegmat_name(path: &Path) -> Option<(i32, i32)> {
    let stem = path.file_stem()?.to_str()?;
    let (s, r) = stem.strip_prefix("Subject")?.split_once('_')?;
    Some((s.parse().ok()?, r.parse().ok()?))
}

/// Per-window columns of the stress export.
#[derive(Default)]
struct StressRows {
    subject: Vec<i32>,
    recording: Vec<i32>,
    label: Vec<i64>,
    start_s: Vec<f32>,
    end_s: Vec<f32>,
    usable: Vec<f32>,
    scorable: Vec<u8>,
    n_peaks: Vec<i32>,
    features: Vec<f32>,
    images: Vec<u8>,
}

/// Per-beat columns of the stress export (single-beat images).
#[derive(Default)]
struct BeatRows {
    subject: Vec<i32>,
    recording: Vec<i32>,
    label: Vec<i64>,
    time_s: Vec<f32>,
    /// Row of the first window containing the beat, -1 if none.
    window: Vec<i64>,
    /// Whether the beat lies in a usable 4 s quality window.
    usable: Vec<u8>,
    images: Vec<u8>,
}

fn stress(args: &DatasetArgs) -> Result<(), String> {
    create_out(&args.out)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.data)
        .map_err(|e| format!("{}: {e}", args.data.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "edf") && eegmat_name(p).is_some())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: no EEGMAT SubjectNN_R.edf files",
            args.data.display()
        ));
    }
    let cfg = StressWindowConfig::default();
    let mut rows = StressRows::default();
    let mut beat_rows = BeatRows::default();
    let mut renderer = WindowRenderer::new();
    let channels = Channel::ALL;
    let mut img = vec![0u8; IMAGE_PIXELS];
    let mut per_record = Vec::new();
    for path in &files {
        let Some((subject, recording)) = eegmat_name(path) else {
            continue;
        };
        let rec = load_recording(path, &LoadOptions::default()).map_err(|e| e.to_string())?;
        let (span, signal) = model_signal(&rec)?;
        let (x, peaks) = (&signal.samples_130hz, &signal.peaks_130hz);
        let windows = stress_windows(x, peaks, &cfg).map_err(|e| e.to_string())?;
        let quality = assess_quality(x, MODEL_RATE_HZ, QualityConfig::default())
            .map_err(|e| e.to_string())?;
        let first_row = rows.label.len();
        for w in &windows {
            let at = rows.images.len();
            rows.images.resize(at + channels.len() * IMAGE_PIXELS, 0);
            renderer
                .render_window(x, w, &channels, &mut rows.images[at..])
                .map_err(|e| e.to_string())?;
            rows.subject.push(subject);
            rows.recording.push(recording);
            rows.label.push(i64::from(recording == 2));
            rows.start_s.push(w.start_s as f32);
            rows.end_s.push(w.end_s as f32);
            rows.usable.push(w.usable_fraction);
            rows.scorable.push(u8::from(w.is_scorable()));
            rows.n_peaks.push(w.peaks.len() as i32);
            rows.features.extend_from_slice(&w.features);
        }
        for &p in peaks {
            if !renderer
                .render_single_beat(x, p, &mut img)
                .map_err(|e| e.to_string())?
            {
                continue;
            }
            beat_rows.images.extend_from_slice(&img);
            beat_rows.subject.push(subject);
            beat_rows.recording.push(recording);
            beat_rows.label.push(i64::from(recording == 2));
            beat_rows.time_s.push((p as f64 / MODEL_RATE_HZ) as f32);
            let window = windows
                .iter()
                .position(|w| (w.start_sample..w.end_sample).contains(&p))
                .map_or(-1, |i| (first_row + i) as i64);
            beat_rows.window.push(window);
            let usable = quality.window_at(p as u64).is_some_and(|q| q.usable);
            beat_rows.usable.push(u8::from(usable));
        }
        let duration_s = x.len() as f64 / MODEL_RATE_HZ;
        let scorable = windows.iter().filter(|w| w.is_scorable()).count();
        eprintln!(
            "Subject{subject:02}_{recording}: {duration_s:.0} s, {} peaks ({:.1} bpm), {:.0} % usable, {scorable}/{} windows scorable",
            peaks.len(),
            peaks.len().saturating_sub(1) as f64 * 60.0
                / ((peaks.last().copied().unwrap_or(0) - peaks.first().copied().unwrap_or(0)).max(1)
                    as f64
                    / MODEL_RATE_HZ),
            quality.usable_fraction * 100.0,
            windows.len()
        );
        let mut hr: Vec<f32> = windows
            .iter()
            .map(|w| w.features[0])
            .filter(|v| v.is_finite())
            .collect();
        hr.sort_by(f32::total_cmp);
        let median_hr = hr.get(hr.len() / 2).copied();
        per_record.push(json!({
            "subject": subject,
            "median_window_hr_bpm": median_hr,
            "recording": recording,
            "channel": span.label,
            "sampling_rate_hz": span.sampling_rate_hz,
            "duration_s": duration_s,
            "peaks": peaks.len(),
            "usable_fraction": quality.usable_fraction,
            "windows": windows.len(),
            "scorable_windows": scorable,
        }));
    }
    let n = rows.label.len();
    let f = HRV_FEATURE_NAMES.len();
    let out = &args.out;
    write_npy(&out.join("subject.npy"), &rows.subject, &[n])?;
    write_npy(&out.join("recording.npy"), &rows.recording, &[n])?;
    write_npy(&out.join("label.npy"), &rows.label, &[n])?;
    write_npy(&out.join("start_s.npy"), &rows.start_s, &[n])?;
    write_npy(&out.join("end_s.npy"), &rows.end_s, &[n])?;
    write_npy(&out.join("usable_fraction.npy"), &rows.usable, &[n])?;
    write_npy(&out.join("scorable.npy"), &rows.scorable, &[n])?;
    write_npy(&out.join("n_peaks.npy"), &rows.n_peaks, &[n])?;
    write_npy(&out.join("features.npy"), &rows.features, &[n, f])?;
    write_npy(
        &out.join("images.npy"),
        &rows.images,
        &[n, channels.len(), IMAGE_SIZE, IMAGE_SIZE],
    )?;
    let m = beat_rows.label.len();
    write_npy(
        &out.join("beat_images.npy"),
        &beat_rows.images,
        &[m, IMAGE_SIZE, IMAGE_SIZE],
    )?;
    write_npy(&out.join("beat_subject.npy"), &beat_rows.subject, &[m])?;
    write_npy(&out.join("beat_recording.npy"), &beat_rows.recording, &[m])?;
    write_npy(&out.join("beat_label.npy"), &beat_rows.label, &[m])?;
    write_npy(&out.join("beat_time_s.npy"), &beat_rows.time_s, &[m])?;
    write_npy(&out.join("beat_window.npy"), &beat_rows.window, &[m])?;
    write_npy(&out.join("beat_usable.npy"), &beat_rows.usable, &[m])?;
    let channel_names: Vec<&str> = channels.iter().map(|c| c.name()).collect();
    write_json(
        &out.join("meta.json"),
        &json!({
            "dataset": "stress",
            "source": "EEGMAT (PhysioNet eegmat 1.0.0): SubjectNN_1 rest, SubjectNN_2 mental arithmetic; channel 'ECG ECG'",
            "sampling_rate_hz": MODEL_RATE_HZ,
            "window": {"window_s": cfg.window_s, "step_s": cfg.step_s},
            "min_usable_fraction": MIN_USABLE_FRACTION,
            "features": HRV_FEATURE_NAMES,
            "image_channels": channel_names,
            "image_size": IMAGE_SIZE,
            "labels": ["calm", "stress"],
            "count": n,
            "beat_count": m,
            "files": {
                "subject.npy": "[n] i32", "recording.npy": "[n] i32 (1 rest, 2 task)",
                "label.npy": "[n] i64 (0 rest, 1 task)", "start_s.npy": "[n] f32",
                "end_s.npy": "[n] f32", "usable_fraction.npy": "[n] f32",
                "scorable.npy": "[n] u8 (usable and all features finite)",
                "n_peaks.npy": "[n] i32", "features.npy": "[n, F] f32 (NaN = not computable)",
                "images.npy": "[n, C, 128, 128] u8 (channels in image_channels order)",
                "beat_images.npy": "[m, 128, 128] u8 single-beat 'beat' channel, every detected beat",
                "beat_subject.npy": "[m] i32", "beat_recording.npy": "[m] i32",
                "beat_label.npy": "[m] i64", "beat_time_s.npy": "[m] f32 R-peak time",
                "beat_window.npy": "[m] i64 row of the first window holding the beat, -1 none",
                "beat_usable.npy": "[m] u8 beat in a usable 4 s quality window"
            },
            "records": per_record,
            "git_commit": git_commit(),
        }),
    )?;
    println!(
        "stress: {n} windows, {m} single beats from {} recordings -> {}",
        per_record.len(),
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_one_to_one_and_within_tolerance() {
        let reference = [100, 200, 300];
        let (m, dup) = match_to_reference(&[95, 104, 160, 290, 400], &reference, 10);
        assert_eq!(m, vec![Some(0), None, None, Some(2), None]);
        assert_eq!(dup, 1);
        assert_eq!(match_to_reference(&[5], &[], 10).0, vec![None]);
    }

    #[test]
    fn eegmat_names() {
        assert_eq!(eegmat_name(Path::new("x/Subject07_2.edf")), Some((7, 2)));
        assert_eq!(eegmat_name(Path::new("subject-info.csv")), None);
        assert_eq!(eegmat_name(Path::new("Subject07.edf")), None);
    }

    #[test]
    fn record_selection_and_ids() {
        // QT Database excerpts of MIT-BIH Arrhythmia records are DS1/DS2 patients: never "other"
        assert!(is_mitdb_excerpt("sel100") && is_mitdb_excerpt("sel233"));
        assert!(!is_mitdb_excerpt("sel803") && !is_mitdb_excerpt("sel14046"));
        assert!(!is_mitdb_excerpt("sele0104") && !is_mitdb_excerpt("sel301"));
        assert_eq!(record_id("101"), Ok(101));
        assert_eq!(record_id("sel803"), Ok(803));
        assert_eq!(record_id("sele0104"), Ok(900_104));
        assert!(record_id("abc").is_err());
        let dir = std::env::temp_dir().join(format!("sb-select-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "sel803.atr",
            "sel116.atr",
            "sele0104.atr",
            "sel803.hea",
            "x.atr",
        ] {
            std::fs::write(dir.join(f), b"").unwrap();
        }
        assert_eq!(
            select_records(&dir, "qtdb-other").unwrap(),
            ["sel803", "sele0104"]
        );
        assert_eq!(select_records(&dir, "ds1").unwrap().len(), 22);
        assert_eq!(select_records(&dir, "101, 207").unwrap(), ["101", "207"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
