//! The recording pipeline (pure): a loaded [`Recording`] in, R-peaks, quality and HRV out.

use crate::{
    dsp::{
        filter::validate_sampling_rate,
        quality::{QualityConfig, assess_quality},
        rpeak::{DetectorConfig, detect_peaks_with, refined_position},
    },
    engine::baseline::DEFAULT_MAX_RR_IRREGULARITY,
    error::{Error, Result},
    eval::{self, EvalOptions, Score},
    formats::rr_log,
    hrv::{self, HrvMetrics, NnSelection},
    model::{BeatClass, BeatClassifier, ModelSignal},
    model_input::Resampler,
    record::Recording,
    text::compact_number,
};

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Channel index; `None` = the default ECG channel (MLII where present).
    pub channel: Option<usize>,
    /// Start, seconds from the beginning of the recording.
    pub from_s: Option<f64>,
    /// End, seconds from the beginning of the recording.
    pub to_s: Option<f64>,
}

/// The stretch of one channel an analysis runs on, in millivolts.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgSpan {
    pub channel: usize,
    pub label: String,
    pub sampling_rate_hz: f64,
    /// Index in the channel of `samples_mv[0]`.
    pub start_sample: usize,
    pub samples_mv: Vec<f32>,
}

impl EcgSpan {
    pub fn duration_s(&self) -> f64 {
        self.samples_mv.len() as f64 / self.sampling_rate_hz
    }

    /// The R-peak at channel sample `peak` (as [`detect_peaks`] gives it), refined between
    /// samples ([`refined_position`]), as a fractional channel sample.
    pub fn refined_peak(&self, peak: usize) -> f64 {
        refined_position(&self.samples_mv, peak - self.start_sample) + self.start_sample as f64
    }
}

/// Pick the channel and time range of `opts`, converted to millivolts.
pub fn select_span(rec: &Recording, opts: &AnalysisOptions) -> Result<EcgSpan> {
    let channel = rec.channel_or_default(opts.channel)?;
    let sig = &rec.signals[channel];
    let fs = sig.sampling_rate_hz;
    validate_sampling_rate(fs)?;
    let k = sig.require_millivolt_factor(channel)?;
    check_times(opts)?;
    let n = sig.samples.len();
    let to_index = |t: f64| ((t * fs).round() as usize).min(n);
    let start = opts.from_s.map_or(0, to_index);
    let end = opts.to_s.map_or(n, to_index);
    if start >= end {
        return Err(Error::InvalidArgument(format!(
            "the time range is empty (the recording lasts {:.1} s)",
            sig.duration_s()
        )));
    }
    Ok(EcgSpan {
        channel,
        label: sig.label.clone(),
        sampling_rate_hz: fs,
        start_sample: start,
        samples_mv: sig.samples[start..end].iter().map(|&x| x * k).collect(),
    })
}

/// R-peaks of a span, as sample indices of the whole channel (the record's own sampling).
pub fn detect_peaks(span: &EcgSpan) -> Result<Vec<usize>> {
    let peaks = detect_peaks_with(
        &span.samples_mv,
        span.sampling_rate_hz,
        DetectorConfig::default(),
    )?;
    Ok(peaks.into_iter().map(|p| p + span.start_sample).collect())
}

/// The summary of one analysed recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordingSummary {
    pub record_name: String,
    pub channel_label: String,
    pub sampling_rate_hz: f64,
    pub duration_s: f64,
    /// Detected beats (R-peaks) in the analysed span.
    pub beat_count: u32,
    /// Fraction (0–1) of the analysed span judged usable by the signal-quality index.
    pub usable_fraction: f64,
    /// HRV over the span's normal-to-normal intervals (see [`analyze_with`]); `None` if too few.
    pub hrv: Option<HrvMetrics>,
    /// Why these figures may be unreliable, in plain sentences (empty when nothing stands out).
    pub warnings: Vec<String>,
}

/// Under this usable fraction the figures of a recording are unreliable.
pub const MIN_RELIABLE_USABLE_FRACTION: f64 = 0.5;

/// The warning for a span with under [`MIN_RELIABLE_USABLE_FRACTION`] usable signal, saying
/// that `what` (e.g. "these figures are") unreliable; `None` above it.
pub fn little_usable_signal(usable_fraction: f64, what: &str) -> Option<String> {
    (usable_fraction < MIN_RELIABLE_USABLE_FRACTION).then(|| {
        format!(
            "only {:.0} % of the signal is usable (noise, lead off or a wrong unit): {what} \
             unreliable",
            usable_fraction * 100.0
        )
    })
}

/// Fewer RR intervals than this make HRV figures unreliable (SDNN and the spectrum need minutes;
/// RMSSD holds from about 30 beats).
pub const MIN_RELIABLE_INTERVALS: u32 = 30;

/// Why a recording's figures may be unreliable: a span shorter than the signal-quality window
/// (`ecg_span_s`, ECG only), little usable signal, few RR intervals
/// ([`MIN_RELIABLE_INTERVALS`]), many corrected or left-out ones
/// ([`hrv::MAX_RELIABLE_CORRECTED_FRACTION`]), or a rhythm more `irregular` than sinus rhythm
/// (the scoring gate's limit, [`DEFAULT_MAX_RR_IRREGULARITY`]).
fn reliability_warnings(
    ecg_span_s: Option<f64>,
    usable_fraction: f64,
    irregularity: Option<f64>,
    hrv: Option<&HrvMetrics>,
) -> Vec<String> {
    let mut out = Vec::new();
    let quality_window_s = QualityConfig::default().window_s;
    match ecg_span_s {
        Some(s) if s < quality_window_s => out.push(format!(
            "the span ({s:.1} s) is shorter than the {quality_window_s:.0} s the signal quality \
             is judged over: these figures are unreliable"
        )),
        _ => out.extend(little_usable_signal(usable_fraction, "these figures are")),
    }
    if let Some(h) = hrv.filter(|h| h.n_intervals < MIN_RELIABLE_INTERVALS) {
        out.push(format!(
            "only {} RR intervals: HRV figures from fewer than {MIN_RELIABLE_INTERVALS} are \
             unreliable",
            h.n_intervals
        ));
    }

    if let Some(h) = hrv.filter(|h| h.corrected_fraction() > hrv::MAX_RELIABLE_CORRECTED_FRACTION) {
        out.push(format!(
            "{:.1} % of the RR intervals needed correction (ectopic beats, missed or extra \
             detections); above {:.0} % HRV figures are unreliable: they assume sinus rhythm, \
             and runs of ectopic beats partly escape correction",
            h.corrected_fraction() * 100.0,
            hrv::MAX_RELIABLE_CORRECTED_FRACTION * 100.0
        ));
    }
    if let Some((h, left_out)) = hrv.and_then(|h| Some((h, h.left_out?))) {
        let share = f64::from(left_out.total()) / f64::from(left_out.total() + h.n_intervals);
        if share > hrv::MAX_RELIABLE_CORRECTED_FRACTION {
            out.push(format!(
                "{:.1} % of the RR intervals were left out (beside beats not of normal type: {}; \
                 detection errors: {}; outliers: {}): HRV figures are of the {} \
                 normal-to-normal intervals left",
                share * 100.0,
                left_out.not_normal,
                left_out.artefacts,
                left_out.outliers,
                h.n_intervals
            ));
        }
    }
    // a regular run of ectopic beats (bigeminy, trigeminy) can escape the correction whole; in
    // noise (warned above) the detections, not the rhythm, are irregular
    let irregular = irregularity
        .filter(|&v| v > f64::from(DEFAULT_MAX_RR_IRREGULARITY))
        .filter(|_| usable_fraction >= MIN_RELIABLE_USABLE_FRACTION);
    if let Some(v) = irregular {
        out.push(format!(
            "successive RR intervals differ by {:.0} % of the interval (median; sinus rhythm stays \
             under {:.0} %): the rhythm is irregular (frequent ectopic beats or atrial \
             fibrillation), and HRV figures, which assume sinus rhythm, are unreliable",
            v * 100.0,
            DEFAULT_MAX_RR_IRREGULARITY * 100.0
        ));
    }
    out
}

/// How far a model-rate R-peak may be from the recording-rate one it is taken for.
pub const SAME_BEAT_S: f64 = 0.05;

/// Index in `peaks` (increasing channel samples at `fs`) of the peak nearest `sample`, if one
/// lies within [`SAME_BEAT_S`].
pub fn nearest_peak(peaks: &[usize], sample: usize, fs: f64) -> Option<usize> {
    let i = peaks.partition_point(|&p| p < sample);
    [i.checked_sub(1), Some(i)]
        .into_iter()
        .flatten()
        .filter(|&j| j < peaks.len())
        .min_by_key(|&j| peaks[j].abs_diff(sample))
        .filter(|&j| peaks[j].abs_diff(sample) as f64 <= SAME_BEAT_S * fs)
}

/// Whether each of `peaks` (channel samples, as [`detect_peaks`] gives them for `span`) is a
/// beat `model` calls N. The model reads the span at its own rate with its own R-peaks
/// ([`ModelSignal`]); a peak it has no class for (no model-rate peak within [`SAME_BEAT_S`],
/// or one without a full window and both neighbours) is not normal.
pub fn normal_beats(span: &EcgSpan, peaks: &[usize], model: &BeatClassifier) -> Result<Vec<bool>> {
    let signal = ModelSignal::from_span(span)?;
    let mut normal = vec![false; peaks.len()];
    for (p, prediction) in model.classify_signal(&signal)? {
        if let Some(i) = nearest_peak(peaks, signal.record_sample(p), span.sampling_rate_hz) {
            normal[i] = prediction.class == BeatClass::N;
        }
    }
    Ok(normal)
}

/// The NN intervals of a span's R-peaks (`in_span`: indices into its samples), refined between
/// samples, with `normal` telling each beat's type ([`hrv::normal_to_normal`]).
fn nn_intervals(span: &EcgSpan, in_span: &[usize], normal: &[bool]) -> NnSelection {
    let samples = &span.samples_mv;
    let ms_per_sample = 1000.0 / span.sampling_rate_hz;
    let beat_ms: Vec<f64> = in_span
        .iter()
        .map(|&p| refined_position(samples, p) * ms_per_sample)
        .collect();
    let seen: Vec<bool> = in_span
        .windows(2)
        .map(|w| hrv::spans_only_signal(samples, w[0], w[1]))
        .collect();
    hrv::normal_to_normal(&beat_ms, normal, &seen)
}

/// [`analyze_with`] the embedded beat-type model.
pub fn analyze(rec: &Recording, opts: &AnalysisOptions) -> Result<RecordingSummary> {
    analyze_with(rec, opts, BeatClassifier::embedded()?)
}

/// Detect, score quality, and compute HRV over the selected span. HRV is of the
/// normal-to-normal intervals: `model` types each beat, and intervals beside a beat not of
/// normal type, or that are detection errors, are left out ([`hrv::normal_to_normal`]). Where
/// the beats cannot be typed (a span too short for the model's input), HRV is of all intervals
/// after artefact correction ([`hrv::analyze_rr`]), with a warning saying so.
pub fn analyze_with(
    rec: &Recording,
    opts: &AnalysisOptions,
    model: &BeatClassifier,
) -> Result<RecordingSummary> {
    let span = select_span(rec, opts)?;
    let peaks = detect_peaks(&span)?;
    let usable_fraction = assess_quality(
        &span.samples_mv,
        span.sampling_rate_hz,
        QualityConfig::default(),
    )?
    .usable_fraction;
    // the peaks are channel indices; the span's samples start at `start_sample`
    let in_span: Vec<usize> = peaks.iter().map(|p| p - span.start_sample).collect();
    let (hrv, irregularity, untyped) = match normal_beats(&span, &peaks, model) {
        Ok(normal) => {
            let nn = nn_intervals(&span, &in_span, &normal);
            let hrv = hrv::nn_metrics(&nn.series).ok().map(|h| HrvMetrics {
                left_out: Some(nn.left_out),
                ..h
            });
            (hrv, nn.irregularity, None)
        }
        Err(e) => {
            log::warn!("beat types unavailable, HRV of corrected RR intervals: {e}");
            let rr = hrv::rr_intervals_ms(&span.samples_mv, &in_span, span.sampling_rate_hz);
            (
                hrv::analyze_rr(&rr).ok(),
                hrv::rr_irregularity(&rr),
                Some(e),
            )
        }
    };
    let mut warnings = reliability_warnings(
        Some(span.duration_s()),
        usable_fraction,
        irregularity,
        hrv.as_ref(),
    );
    if let Some(e) = untyped {
        warnings.push(format!(
            "the beats could not be typed ({e}): HRV is of all RR intervals after artefact \
             correction, ectopic beats included"
        ));
    }
    Ok(RecordingSummary {
        record_name: rec.name.clone(),
        channel_label: span.label.clone(),
        sampling_rate_hz: span.sampling_rate_hz,
        duration_s: span.duration_s(),
        beat_count: peaks.len() as u32,
        usable_fraction,
        warnings,
        hrv,
    })
}

/// The span's times checked: each a number of seconds ≥ 0, the end after the start.
pub fn check_times(opts: &AnalysisOptions) -> Result<()> {
    for (what, t) in [("start", opts.from_s), ("end", opts.to_s)] {
        if let Some(t) = t
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "the span's {what} ({} s) must be a number of seconds ≥ 0",
                compact_number(t)
            )));
        }
    }
    if let (Some(a), Some(b)) = (opts.from_s, opts.to_s)
        && b <= a
    {
        return Err(Error::InvalidArgument(format!(
            "the span's end ({} s) must be after its start ({} s)",
            compact_number(b),
            compact_number(a)
        )));
    }
    Ok(())
}

/// [`analyze`] for an RR-interval log (a strap without ECG): HRV of the intervals lying in the
/// span (times from the start of the first interval, [`rr_log::interval_ends_ms`]); the usable
/// fraction is the span's coverage by intervals the correction kept
/// ([`hrv::rr_usable_fraction`]); `sampling_rate_hz` is 0 (no samples) and `beat_count` counts
/// intervals.
pub fn analyze_rr_log(
    name: &str,
    log: &[rr_log::RrEntry],
    opts: &AnalysisOptions,
) -> Result<RecordingSummary> {
    if opts.channel.is_some_and(|c| c != 0) {
        return Err(Error::InvalidArgument(
            "an RR log has one series (channel 0)".into(),
        ));
    }
    check_times(opts)?;
    let ends = rr_log::interval_ends_ms(log);
    let total_ms = ends.last().copied().unwrap_or(0.0);
    let from = opts.from_s.map_or(0.0, |t| t * 1000.0);
    let to = opts.to_s.map_or(total_ms, |t| (t * 1000.0).min(total_ms));
    if from >= to {
        return Err(Error::InvalidArgument(format!(
            "the time range is empty (the log lasts {:.1} s)",
            total_ms / 1000.0
        )));
    }
    let rr: Vec<f64> = log
        .iter()
        .zip(&ends)
        .filter(|&(e, &end)| end - e.rr_ms >= from - 1e-6 && end <= to + 1e-6)
        .map(|(e, _)| e.rr_ms)
        .collect();
    let hrv = hrv::analyze_rr(&rr).ok();
    let corrections = match &hrv {
        Some(h) => h.correction.total(),
        None => hrv::clean_rr(&rr).1.total(),
    };
    let usable_fraction = hrv::rr_usable_fraction(&rr, corrections, to - from);
    Ok(RecordingSummary {
        record_name: name.to_owned(),
        channel_label: "RR intervals".into(),
        sampling_rate_hz: 0.0,
        duration_s: (to - from) / 1000.0,
        beat_count: u32::try_from(rr.len()).unwrap_or(u32::MAX),
        usable_fraction,
        warnings: reliability_warnings(
            None,
            usable_fraction,
            hrv::rr_irregularity(&rr),
            hrv.as_ref(),
        ),
        hrv,
    })
}

/// Detect R-peaks on the default ECG channel of an annotated record and score them against its
/// beat annotations (see [`crate::eval`] for the rules). With `at_model_rate`, the channel is
/// first resampled to [`crate::model_input::MODEL_RATE_HZ`] by the core's anti-aliased
/// resampler, as the models see it and as a Polar H10 streams it, and the peaks are mapped back
/// to the record's rate.
pub fn evaluate_record(rec: &Recording, at_model_rate: bool) -> Result<Score> {
    let span = select_span(rec, &AnalysisOptions::default())?;
    let fs = span.sampling_rate_hz;
    // R-peak positions in the channel's samples, refined between samples as HRV uses them
    let positions: Vec<f64> = if at_model_rate {
        let mut resampler = Resampler::new(fs)?;
        let mut x = Vec::new();
        resampler.push(&span.samples_mv, &mut x);
        resampler.finish(&mut x);
        let step = resampler.ratio(); // channel samples per detector sample
        detect_peaks_with(&x, fs / step, DetectorConfig::default())?
            .iter()
            .map(|&p| refined_position(&x, p) * step + span.start_sample as f64)
            .collect()
    } else {
        detect_peaks(&span)?
            .iter()
            .map(|&p| span.refined_peak(p))
            .collect()
    };
    // annotations count in the record's frame rate, which differs from the channel's rate in
    // multi-frequency records
    let k = rec.annotation_rate_hz / fs;
    let detections: Vec<f64> = positions.iter().map(|&p| p * k).collect();
    Ok(eval::score_record(
        &rec.name,
        &rec.annotations,
        rec.annotation_rate_hz,
        &detections,
        &EvalOptions::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::nearest_peak;

    #[test]
    fn a_beat_takes_the_recording_rate_peak_within_50_ms() {
        let peaks = [100, 460, 820];
        assert_eq!(nearest_peak(&peaks, 101, 360.0), Some(0));
        assert_eq!(nearest_peak(&peaks, 458, 360.0), Some(1));
        assert_eq!(nearest_peak(&peaks, 830, 360.0), Some(2));
        // 20 samples at 360 Hz is 56 ms: not the same beat
        assert_eq!(nearest_peak(&peaks, 300, 360.0), None);
        assert_eq!(nearest_peak(&peaks, 840, 360.0), None);
        assert_eq!(nearest_peak(&[], 5, 360.0), None);
    }
}
