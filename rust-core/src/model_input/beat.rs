//! Beat-type model inputs: a fixed window of the 130 Hz ECG around each R-peak plus RR features,
//! and the AAMI (ANSI/AAMI EC57) grouping of MIT-BIH beat labels.
//!
//! Window: [`BEAT_PRE`] = 36 samples (0.277 s) before the R-peak to 59 samples (0.454 s) after it,
//! [`BEAT_LEN`] = 96 samples at 130 Hz: P wave, QRS and T wave at rates up to ~130 bpm.
//! Normalisation: the window's median is subtracted (it sits on the isoelectric line for most
//! beats, removing baseline offset and wander); amplitudes stay in mV, because amplitude itself
//! separates classes (ventricular beats are larger and wider).
//!
//! RR features ([`RR_FEATURE_NAMES`], seconds and ratios): the RR before and after the beat, the
//! local mean RR (mean of up to 10 RR intervals ending at this beat, the pre-RR included), and
//! pre/local and post/pre (prematurity and compensatory pause, which mark S and V beats), and
//! pre/long: the pre-RR over the median pre-RR of this beat and the previous [`LONG_RR_BEATS`]
//! beats, the same over the previous [`LONGER_RR_BEATS`] (about 3-4 minutes: a run of ectopic
//! beats can fill the shorter reference but not this one), and the rhythm's irregularity: the
//! median absolute successive difference of the pre-RRs of this beat and the previous
//! [`IRREGULARITY_BEATS`] beats over their median (near 0 in sinus rhythm, with or without
//! occasional ectopic beats; high in atrial fibrillation, where prematurity does not mark an S
//! beat), and the onset ratio: the smallest, over this beat and the previous
//! [`ONSET_BEATS`] - 1, of a beat's pre-RR over the median of the [`ONSET_LOCAL_BEATS`] pre-RRs
//! before it (1 without history). A run of ectopic beats starts with an abrupt step (about
//! 0.5-0.8); a sinus rate rising with stress or exercise shortens each interval by a few percent
//! only, so its steps stay near 1 although its RR ends far below the long references.
//!
//! Per-person reference ([`BeatContext`]): each beat comes with a second channel, its template,
//! the element-wise median of the windows of the previous [`TEMPLATE_BEATS`] beats of the same
//! recording (same normalisation). "Previous beats" are the earlier rows of the same context, i.e.
//! the beats that got inputs; the first beat's template is its own window, and until 16 beats
//! exist the template is the median of those that do (likewise the long RR medians and the
//! irregularity, 0 for the first beat). All are causal, so a live session computes them with one
//! [`BeatContext`] fed beat by beat.
//!
//! Only beats in clean signal enter the long rhythm history (the pre-RRs behind the long ratios
//! and the onset steps): a beat whose 4 s signal-quality window
//! ([`crate::dsp::quality`], aligned to the start of the recording or session) is not usable gets
//! its features like any other but its interval is not remembered, so detections in noise or
//! ventricular flutter do not become the person's rhythm reference (MIT-BIH 207: 280 flutter
//! detections filled the 256-beat reference and hid the supraventricular run that followed). The
//! template and the irregularity take every beat: they follow what the signal shows now, and
//! chaotic detections in noise make the rhythm irregular, where the rhythm stage does not trust
//! prematurity.

use super::MODEL_RATE_HZ;
use crate::dsp::quality::{QualityConfig, assess_quality};

/// Longer intervals (130 Hz samples, 8 s) are not RR intervals but a stretch without detected
/// beats (lead off, lost signal). The longest between detected beats in the MIT-BIH records
/// here is 7.4 s (116), so their inputs are unchanged.
const MAX_RR_SAMPLES: usize = 8 * MODEL_RATE_HZ as usize;
/// Samples per beat window (130 Hz).
pub const BEAT_LEN: usize = 96;
/// Samples before the R-peak; the R-peak is at index `BEAT_PRE` of the window.
pub const BEAT_PRE: usize = 36;
/// RR feature names, in column order.
pub const RR_FEATURE_NAMES: [&str; 9] = [
    "pre_rr_s",
    "post_rr_s",
    "local_rr_s",
    "pre_local_ratio",
    "post_pre_ratio",
    "pre_long_ratio",
    "pre_longer_ratio",
    "rr_irregularity",
    "onset_ratio",
];
/// Channels per beat row: the beat window, then its template.
pub const BEAT_CHANNELS: usize = 2;

/// Revision of the rules by which a beat's inputs depend on the beats before it, recorded in a
/// beat-type model's metadata (`beat.inputs_revision`). At load a newer revision than this is a
/// mismatch; an older one loads (the rules differ only in unusable signal) and callers say so.
/// - 1 (models up to 7.x): every beat enters the RR references and onset steps.
/// - 2 (8.x): beats in signal the quality index calls unusable stay out of the long RR
///   references and the onset steps. Since 2026-11-23 also: an interval across missing
///   (non-finite) signal or over 8 s is not an RR interval. The revision stayed 2: no training
///   record has either, so the exports and the 8.x models are the same.
/// - 3 (2026-11-25): the model's metadata names its template rule ([`TemplateRule`]); a model
///   of revision 2 or less has [`TemplateRule::Previous`] and the same inputs as under 3.
pub const BEAT_INPUTS_REVISION: u32 = 3;
/// Previous beats whose median is the template.
pub const TEMPLATE_BEATS: usize = 16;
/// Detections without an N call after which [`TemplateRule::ClassifiedN`] gives up its ring
/// in `stressbeat dataset beats`' export (and in the shipped model, v10).
pub const CLASSIFIED_N_STALE: usize = 16;
/// Previous beats whose pre-RR (with this beat's) give the median of `pre_long_ratio`.
pub const LONG_RR_BEATS: usize = 64;
/// Previous beats whose pre-RR (with this beat's) give the median of `pre_longer_ratio`.
pub const LONGER_RR_BEATS: usize = 256;
/// Previous beats whose pre-RR (with this beat's) give `rr_irregularity`.
pub const IRREGULARITY_BEATS: usize = 16;
/// Beats (this one and the previous ones) over which `onset_ratio` takes its minimum.
pub const ONSET_BEATS: usize = 128;
/// Previous pre-RRs whose median a beat's pre-RR is compared with for `onset_ratio`.
pub const ONSET_LOCAL_BEATS: usize = 8;
const N_RR: usize = RR_FEATURE_NAMES.len();
/// RR features that need no history: all but the last four, which [`BeatContext`] adds.
const N_RR_PLAIN: usize = N_RR - 4;
/// Columns [`BeatContext::push`] writes.
const LONG: usize = N_RR - 4;
const LONGER: usize = N_RR - 3;
const IRREGULARITY: usize = N_RR - 2;
const ONSET: usize = N_RR - 1;
/// Number of RR intervals averaged for `local_rr_s`.
pub const LOCAL_RR_BEATS: usize = 10;

/// Beat inputs of a signal; row `i` of `beats` and `rr` belongs to `peaks[i]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BeatInputs {
    /// R-peak index (in the 130 Hz signal) of each row.
    pub peaks: Vec<usize>,
    /// `peaks.len() × BEAT_CHANNELS × BEAT_LEN`, row-major: the window (mV minus the window
    /// median), then its template.
    pub beats: Vec<f32>,
    /// `peaks.len() × RR_FEATURE_NAMES.len()`, row-major.
    pub rr: Vec<f32>,
}

impl BeatInputs {
    /// Number of beats.
    pub fn len(&self) -> usize {
        self.peaks.len()
    }

    /// Whether there are no beats.
    pub fn is_empty(&self) -> bool {
        self.peaks.is_empty()
    }

    /// Both channels of beat `i` (`BEAT_CHANNELS × BEAT_LEN` samples); `None` out of range.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        let row = BEAT_CHANNELS * BEAT_LEN;
        self.beats.get(i * row..(i + 1) * row)
    }

    /// The window of beat `i` (`BEAT_LEN` samples); `None` out of range.
    pub fn beat(&self, i: usize) -> Option<&[f32]> {
        self.row(i).map(|r| &r[..BEAT_LEN])
    }

    /// The template of beat `i` (`BEAT_LEN` samples); `None` out of range.
    pub fn template(&self, i: usize) -> Option<&[f32]> {
        self.row(i).map(|r| &r[BEAT_LEN..])
    }

    /// The RR features of beat `i`; `None` out of range.
    pub fn rr_features(&self, i: usize) -> Option<&[f32]> {
        self.rr.get(i * N_RR..(i + 1) * N_RR)
    }
}

/// The per-recording history behind the template channel, `pre_long_ratio`, `pre_longer_ratio`,
/// `rr_irregularity` and `onset_ratio`: the windows of the last [`TEMPLATE_BEATS`] beats, the
/// pre-RR of the last [`LONGER_RR_BEATS`] beats and the step ratios of the last [`ONSET_BEATS`].
/// Fixed size, allocation-free after [`BeatContext::new`]; one per recording or live session.
#[derive(Debug, Clone)]
pub struct BeatContext {
    windows: Vec<f32>,
    n_windows: usize,
    next_window: usize,
    /// Pre-RRs of the last [`LONGER_RR_BEATS`] beats in clean signal (the long references, onset).
    pre_rr: RrRing,
    /// Pre-RRs of the last [`IRREGULARITY_BEATS`] beats, clean or not (the irregularity: chaotic
    /// detections in noise make the rhythm irregular, so their prematurity is not trusted).
    recent_rr: RrRing,
    /// Ring of the last [`ONSET_BEATS`] step ratios (pre-RR over the median of the previous
    /// [`ONSET_LOCAL_BEATS`]); unused slots hold 1.
    steps: Vec<f32>,
    next_step: usize,
    scratch: Vec<f32>,
    diffs: Vec<f32>,
}

impl Default for BeatContext {
    fn default() -> Self {
        Self::new()
    }
}

impl BeatContext {
    /// An empty history.
    pub fn new() -> Self {
        Self {
            windows: vec![0.0; TEMPLATE_BEATS * BEAT_LEN],
            n_windows: 0,
            next_window: 0,
            pre_rr: RrRing::new(LONGER_RR_BEATS),
            recent_rr: RrRing::new(IRREGULARITY_BEATS),
            steps: vec![1.0; ONSET_BEATS],
            next_step: 0,
            scratch: Vec::with_capacity(LONGER_RR_BEATS + 1),
            diffs: Vec::with_capacity(IRREGULARITY_BEATS),
        }
    }

    /// Completes the row of the next beat and adds the beat to the history: its window always,
    /// its pre-RR and step only if `remember_rr`. `window`: its normalised window; `rr`: its RR
    /// features with all but the last four set (`pre_long_ratio`, `pre_longer_ratio`,
    /// `rr_irregularity` and `onset_ratio` are written here); `template`: receives the template
    /// (`BEAT_LEN` samples). Returns false, changing nothing, on wrong lengths.
    pub fn push(
        &mut self,
        window: &[f32],
        rr: &mut [f32],
        template: &mut [f32],
        remember_rr: bool,
    ) -> bool {
        if window.len() != BEAT_LEN || template.len() != BEAT_LEN || rr.len() != N_RR {
            return false;
        }
        if self.n_windows == 0 {
            template.copy_from_slice(window);
        } else {
            for (k, t) in template.iter_mut().enumerate() {
                self.scratch.clear();
                self.scratch
                    .extend((0..self.n_windows).map(|j| self.windows[j * BEAT_LEN + k]));
                *t = median_in_place(&mut self.scratch);
            }
        }
        let slot = self.next_window * BEAT_LEN;
        self.windows[slot..slot + BEAT_LEN].copy_from_slice(window);
        self.next_window = (self.next_window + 1) % TEMPLATE_BEATS;
        self.n_windows = (self.n_windows + 1).min(TEMPLATE_BEATS);

        let pre = rr[0];
        rr[LONG] = pre / self.median_with_previous(pre, LONG_RR_BEATS);
        rr[LONGER] = pre / self.median_with_previous(pre, LONGER_RR_BEATS);
        rr[IRREGULARITY] = self.irregularity(pre);
        self.recent_rr.push(pre);
        let step = self.step(pre);
        rr[ONSET] = self.steps.iter().copied().fold(step, f32::min);
        if !remember_rr {
            return true;
        }
        self.steps[self.next_step] = step;
        self.next_step = (self.next_step + 1) % ONSET_BEATS;
        self.pre_rr.push(pre);
        true
    }

    /// Fills `scratch` with the previous up to `n` clean pre-RRs, oldest first, then `pre`.
    fn recent_with(&mut self, pre: f32, n: usize) {
        self.pre_rr.latest(n, &mut self.scratch);
        self.scratch.push(pre);
    }

    /// Median of `pre` and the previous up to `n` pre-RRs. Call before storing `pre`.
    fn median_with_previous(&mut self, pre: f32, n: usize) -> f32 {
        self.recent_with(pre, n);
        median_in_place(&mut self.scratch)
    }

    /// This beat's step ratio: `pre` over the median of the previous [`ONSET_LOCAL_BEATS`]
    /// pre-RRs (1 without history). `onset_ratio` is the smallest of it and the previous
    /// [`ONSET_BEATS`] - 1 remembered steps. Call before storing `pre`.
    fn step(&mut self, pre: f32) -> f32 {
        if self.pre_rr.is_empty() {
            return 1.0;
        }
        self.recent_with(pre, ONSET_LOCAL_BEATS);
        self.scratch.pop();
        let level = median_in_place(&mut self.scratch);
        if level > 0.0 { pre / level } else { 1.0 }
    }

    /// Median |successive difference| over the median of `pre` and the previous up to
    /// [`IRREGULARITY_BEATS`] pre-RRs of any beat (0 without a previous one). Call before storing
    /// `pre`.
    fn irregularity(&mut self, pre: f32) -> f32 {
        if self.recent_rr.is_empty() {
            return 0.0;
        }
        self.recent_rr.latest(IRREGULARITY_BEATS, &mut self.scratch);
        self.scratch.push(pre);
        self.diffs.clear();
        self.diffs
            .extend(self.scratch.windows(2).map(|w| (w[1] - w[0]).abs()));
        let spread = median_in_place(&mut self.diffs);
        let level = median_in_place(&mut self.scratch);
        if level > 0.0 { spread / level } else { 0.0 }
    }
}

/// The last `capacity` RR intervals (fixed size, no allocation after [`RrRing::new`]).
#[derive(Debug, Clone)]
struct RrRing {
    values: Vec<f32>,
    len: usize,
    next: usize,
}

impl RrRing {
    fn new(capacity: usize) -> Self {
        Self {
            values: vec![0.0; capacity],
            len: 0,
            next: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, rr: f32) {
        let capacity = self.values.len();
        self.values[self.next] = rr;
        self.next = (self.next + 1) % capacity;
        self.len = (self.len + 1).min(capacity);
    }

    /// Replaces `out` with the latest up to `n` values, oldest first.
    fn latest(&self, n: usize, out: &mut Vec<f32>) {
        let capacity = self.values.len();
        let n = self.len.min(n);
        let oldest = (self.next + capacity - n) % capacity;
        out.clear();
        out.extend((0..n).map(|k| self.values[(oldest + k) % capacity]));
    }
}

/// Which beats a beat's template is the median of (a beat-type model's `beat.template`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum TemplateRule {
    /// The previous [`TEMPLATE_BEATS`] beats, whatever they were ([`BeatContext`]; beat models
    /// up to v8.0.1).
    #[default]
    Previous,
    /// The last [`TEMPLATE_BEATS`] beats the model classified N ([`TemplateOfN`]; the shipped
    /// model since v10), so that in a ventricular run or bigeminy the template stays the
    /// person's normal beat. After `stale`
    /// detections without an N call the ring is emptied and the [`Previous`](Self::Previous)
    /// template is used until a beat is called N again (a new morphology cannot freeze a stale
    /// template). Each beat's inputs then depend on the classes of the beats before it: callers
    /// classify beat by beat ([`TemplateOfN::classify_in_order`]).
    ClassifiedN {
        /// Detections without an N call before the ring is given up.
        stale: usize,
    },
}

impl TemplateRule {
    /// The ring this rule needs, `None` for [`TemplateRule::Previous`].
    pub fn ring(self) -> Option<TemplateOfN> {
        match self {
            TemplateRule::Previous => None,
            TemplateRule::ClassifiedN { stale } => Some(TemplateOfN::new(stale)),
        }
    }
}

/// The windows of the last [`TEMPLATE_BEATS`] beats classified N and the detections since the
/// last one ([`TemplateRule::ClassifiedN`]). Fixed size, allocation-free after
/// [`TemplateOfN::new`]; one per recording or live session, next to its [`BeatContext`].
#[derive(Debug, Clone)]
pub struct TemplateOfN {
    windows: Vec<f32>,
    n_windows: usize,
    next_window: usize,
    since_n: usize,
    stale: usize,
    scratch: Vec<f32>,
}

impl TemplateOfN {
    /// An empty ring given up after `stale` detections without an N call.
    pub fn new(stale: usize) -> Self {
        Self {
            windows: vec![0.0; TEMPLATE_BEATS * BEAT_LEN],
            n_windows: 0,
            next_window: 0,
            since_n: 0,
            stale,
            scratch: Vec::with_capacity(TEMPLATE_BEATS),
        }
    }

    /// Replaces `template` (on entry the [`TemplateRule::Previous`] template of the next beat)
    /// with the median of the ring's windows; leaves it as it is while the ring is empty. Empties
    /// a ring that went `stale` detections without an N call.
    pub fn apply(&mut self, template: &mut [f32]) {
        if self.since_n >= self.stale {
            self.n_windows = 0;
            self.next_window = 0;
        }
        if self.n_windows == 0 || template.len() != BEAT_LEN {
            return;
        }
        for (k, t) in template.iter_mut().enumerate() {
            self.scratch.clear();
            self.scratch
                .extend((0..self.n_windows).map(|j| self.windows[j * BEAT_LEN + k]));
            *t = median_in_place(&mut self.scratch);
        }
    }

    /// Counts a detection; its window enters the ring when it was classified N (`is_n`). A beat
    /// without a class counts as not N.
    pub fn record(&mut self, window: &[f32], is_n: bool) {
        self.since_n += 1;
        if !is_n || window.len() != BEAT_LEN {
            return;
        }
        let slot = self.next_window * BEAT_LEN;
        self.windows[slot..slot + BEAT_LEN].copy_from_slice(window);
        self.next_window = (self.next_window + 1) % TEMPLATE_BEATS;
        self.n_windows = (self.n_windows + 1).min(TEMPLATE_BEATS);
        self.since_n = 0;
    }

    /// Classifies the rows of `inputs` in order, each as a batch of one: its template channel is
    /// replaced by the ring's ([`TemplateOfN::apply`]), then `classify(row, rr)` gives its class,
    /// whose `is_n` decides whether its window enters the ring for the next beats. On an error
    /// the rows before it are classified and the ring holds them.
    pub fn classify_in_order<T, E>(
        &mut self,
        inputs: &mut BeatInputs,
        mut classify: impl FnMut(&[f32], &[f32]) -> Result<T, E>,
        is_n: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, E> {
        let mut out = Vec::with_capacity(inputs.len());
        let row_len = BEAT_CHANNELS * BEAT_LEN;
        for (row, rr) in inputs
            .beats
            .chunks_exact_mut(row_len)
            .zip(inputs.rr.chunks_exact(N_RR))
        {
            self.apply(&mut row[BEAT_LEN..]);
            let class = classify(row, rr)?;
            self.record(&row[..BEAT_LEN], is_n(&class));
            out.push(class);
        }
        Ok(out)
    }
}

/// Writes the normalised window of the beat at R-peak `peak` into `out` (`BEAT_LEN` samples).
/// Returns false (and leaves `out` unspecified) when the window does not fit in `samples`,
/// contains a non-finite sample, or `out` has the wrong length. `scratch` (any length; resized
/// once) holds a copy for the median. Allocation-free after the first call.
pub fn beat_window(samples: &[f32], peak: usize, out: &mut [f32], scratch: &mut Vec<f32>) -> bool {
    if out.len() != BEAT_LEN || peak < BEAT_PRE {
        return false;
    }
    let start = peak - BEAT_PRE;
    let Some(w) = samples.get(start..start + BEAT_LEN) else {
        return false;
    };
    if w.iter().any(|v| !v.is_finite()) {
        return false;
    }
    scratch.clear();
    scratch.extend_from_slice(w);
    let med = median_in_place(scratch);
    for (o, v) in out.iter_mut().zip(w) {
        *o = v - med;
    }
    true
}

/// Median of finite values (reorders them, linear time); 0 for an empty slice.
pub(crate) fn median_in_place(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (lower, &mut upper_mid, _) = v.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        upper_mid
    } else {
        // the lower middle is the largest value left of the upper one
        let lower_mid = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (lower_mid + upper_mid)
    }
}

/// The RR features of beat `i` of `peaks` (130 Hz indices) that need no history (all of
/// [`RR_FEATURE_NAMES`] but the last four, `pre_long_ratio`, `pre_longer_ratio`,
/// `rr_irregularity` and `onset_ratio`, which [`BeatContext::push`] adds) into `out`
/// (`RR_FEATURE_NAMES.len() - 4` values). Returns false when the beat lacks a neighbour on
/// either side, the peaks around it are not increasing, or `out` has the wrong length.
pub fn rr_features(peaks: &[usize], i: usize, out: &mut [f32]) -> bool {
    rr_features_around_gaps(peaks, i, |_| false, out)
}

/// [`rr_features`] where `spans_gap(j)` says whether the interval ending at peak `j` crosses
/// missing signal (a lost frame may hide a beat): such an interval is not an RR interval. A beat
/// whose own interval before or after crosses a gap gets no features (false); one in the local
/// mean is left out of it.
pub fn rr_features_around_gaps(
    peaks: &[usize],
    i: usize,
    spans_gap: impl Fn(usize) -> bool,
    out: &mut [f32],
) -> bool {
    if out.len() != N_RR_PLAIN || i == 0 || i + 1 >= peaks.len() {
        return false;
    }
    if spans_gap(i) || spans_gap(i + 1) {
        return false;
    }
    let rr = |j: usize| -> Option<f64> {
        // interval ending at peak j
        (peaks[j] > peaks[j - 1]).then(|| (peaks[j] - peaks[j - 1]) as f64 / MODEL_RATE_HZ)
    };
    let (Some(pre), Some(post)) = (rr(i), rr(i + 1)) else {
        return false;
    };
    let first = i.saturating_sub(LOCAL_RR_BEATS - 1).max(1);
    let (mut sum, mut n) = (0.0, 0usize);
    for j in (first..=i).filter(|&j| !spans_gap(j)) {
        let Some(r) = rr(j) else { return false };
        sum += r;
        n += 1;
    }
    let local = sum / n as f64; // n ≥ 1: the pre interval is in
    out.copy_from_slice(&[
        pre as f32,
        post as f32,
        local as f32,
        (pre / local) as f32,
        (post / pre) as f32,
    ]);
    true
}

/// Beat inputs of every R-peak of a 130 Hz signal (mV) that has a full window and both
/// neighbours (see [`beat_window`], [`rr_features`]; others are skipped), with a fresh
/// [`BeatContext`]: the whole signal is one recording, its quality assessed from its first sample.
pub fn beat_inputs(samples_130hz: &[f32], peaks: &[usize]) -> BeatInputs {
    let clean = peaks_in_clean_signal(samples_130hz, peaks);
    beat_inputs_after(samples_130hz, peaks, 0, &mut BeatContext::new(), &clean)
}

/// Per peak: whether its 4 s signal-quality window of `samples_130hz` (windows from the first
/// sample, [`QualityConfig::default`]) is usable; true where no window was assessed.
pub fn peaks_in_clean_signal(samples_130hz: &[f32], peaks: &[usize]) -> Vec<bool> {
    let Ok(report) = assess_quality(samples_130hz, MODEL_RATE_HZ, QualityConfig::default()) else {
        return vec![true; peaks.len()];
    };
    peaks
        .iter()
        .map(|&p| report.window_at(p as u64).is_none_or(|q| q.usable))
        .collect()
}

/// Like [`beat_inputs`], continuing `context`, for the peaks at index `from` or later only
/// (earlier ones went through `context` before). A live session calls it on each new stretch of
/// signal with `from` just past the last peak it fed, so every beat enters `context` once, in
/// order. `clean[i]`: whether `peaks[i]` lies in usable signal (its interval then enters the
/// rhythm history; missing entries count as clean).
pub fn beat_inputs_after(
    samples_130hz: &[f32],
    peaks: &[usize],
    from: usize,
    context: &mut BeatContext,
    clean: &[bool],
) -> BeatInputs {
    let mut out = BeatInputs::default();
    let mut row = [0.0f32; BEAT_CHANNELS * BEAT_LEN];
    let mut feats = [0.0f32; N_RR];
    let mut scratch = Vec::with_capacity(BEAT_LEN);
    out.beats.reserve(peaks.len() * BEAT_CHANNELS * BEAT_LEN);
    out.rr.reserve(peaks.len() * N_RR);
    for (i, &p) in peaks.iter().enumerate() {
        if p < from {
            continue;
        }
        let (win, template) = row.split_at_mut(BEAT_LEN);
        let spans_gap = |j: usize| {
            peaks[j].saturating_sub(peaks[j - 1]) > MAX_RR_SAMPLES
                || samples_130hz
                    .get(peaks[j - 1]..peaks[j])
                    .is_some_and(|between| between.iter().any(|v| !v.is_finite()))
        };
        if rr_features_around_gaps(peaks, i, spans_gap, &mut feats[..N_RR_PLAIN])
            && beat_window(samples_130hz, p, win, &mut scratch)
            && context.push(
                win,
                &mut feats,
                template,
                clean.get(i).copied().unwrap_or(true),
            )
        {
            out.peaks.push(p);
            out.beats.extend_from_slice(&row);
            out.rr.extend_from_slice(&feats);
        }
    }
    out
}

/// AAMI EC57 beat classes, in the label order of beat-type models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AamiClass {
    /// Normal and bundle-branch-block beats (N, L, R, e, j).
    N = 0,
    /// Supraventricular ectopic (A, a, J, S).
    S = 1,
    /// Ventricular ectopic (V, E).
    V = 2,
    /// Fusion of ventricular and normal (F).
    F = 3,
    /// Paced, fusion of paced and normal, unclassifiable and other beats (/, f, Q, ...).
    Q = 4,
}

/// Label order of beat-type models (`AamiClass as usize` indexes it).
pub const AAMI_LABELS: [&str; 5] = ["N", "S", "V", "F", "Q"];

/// The AAMI class of a WFDB beat annotation symbol; `None` for non-beat annotations (rhythm,
/// noise, comments; see [`crate::record::is_beat_symbol`]). Beat symbols outside the N/S/V/F lists
/// (`/`, `f`, `Q`, `?`, `B`, `r`, `n`) are Q.
pub fn aami_class(symbol: &str) -> Option<AamiClass> {
    if !crate::record::is_beat_symbol(symbol) {
        return None;
    }
    Some(match symbol {
        "N" | "L" | "R" | "e" | "j" => AamiClass::N,
        "A" | "a" | "J" | "S" => AamiClass::S,
        "V" | "E" => AamiClass::V,
        "F" => AamiClass::F,
        _ => AamiClass::Q,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_median_free_and_centred_on_r() {
        let mut x: Vec<f32> = vec![0.5; 1000];
        x[300] = 2.5; // R 2 mV above a 0.5 mV baseline
        let peaks = [100usize, 200, 300, 430, 560];
        let b = beat_inputs(&x, &peaks);
        assert_eq!(b.peaks, vec![200, 300, 430]);
        assert_eq!(b.beats.len(), 3 * BEAT_CHANNELS * BEAT_LEN);
        let w = b.beat(1).unwrap();
        assert_eq!(w[BEAT_PRE], 2.0);
        assert!(
            w.iter()
                .enumerate()
                .all(|(i, &v)| i == BEAT_PRE || v == 0.0)
        );
        assert!(b.beat(3).is_none());
    }

    /// [`beat_inputs`] with every beat entering the history (spike trains are not ECG-like
    /// enough for the quality index).
    fn remembering_every_beat(x: &[f32], peaks: &[usize]) -> BeatInputs {
        beat_inputs_after(x, peaks, 0, &mut BeatContext::new(), &[])
    }

    /// Beats every 100 samples, the R of beat k `amp(k)` mV above a flat baseline.
    fn spikes(n: usize, amp: impl Fn(usize) -> f32) -> (Vec<f32>, Vec<usize>) {
        let peaks: Vec<usize> = (1..=n).map(|k| k * 100).collect();
        let mut x = vec![0.0f32; (n + 2) * 100];
        for (k, &p) in peaks.iter().enumerate() {
            x[p] = amp(k);
        }
        (x, peaks)
    }

    #[test]
    fn template_is_the_median_of_the_previous_sixteen_beats() {
        let (x, peaks) = spikes(40, |k| k as f32);
        let b = remembering_every_beat(&x, &peaks);
        // rows are beats 1..=38 (amplitude = row + 1)
        assert_eq!(b.len(), 38);
        assert_eq!(b.template(0).unwrap(), b.beat(0).unwrap());
        for row in 1..b.len() {
            let prev: Vec<f32> = (row.saturating_sub(TEMPLATE_BEATS)..row)
                .map(|j| (j + 1) as f32)
                .collect();
            let mut sorted = prev.clone();
            let want = median_in_place(&mut sorted);
            let t = b.template(row).unwrap();
            assert_eq!(t[BEAT_PRE], want, "row {row}");
            assert!(
                t.iter()
                    .enumerate()
                    .all(|(i, &v)| i == BEAT_PRE || v == 0.0)
            );
        }
        assert_eq!(b.template(37).unwrap()[BEAT_PRE], 29.5); // median of 22..=37
    }

    #[test]
    fn long_ratio_uses_the_median_of_this_and_sixty_four_previous_pre_rrs() {
        // 70 intervals of 1 s, one premature 0.5 s, then 1 s again
        let mut peaks: Vec<usize> = (0..=70).map(|k| k * 130).collect();
        peaks.push(70 * 130 + 65);
        peaks.push(71 * 130 + 65);
        peaks.push(72 * 130 + 65);
        let x = vec![0.0f32; 80 * 130];
        let b = remembering_every_beat(&x, &peaks);
        let ratio = |p: usize| {
            let i = b.peaks.iter().position(|&q| q == p).unwrap();
            b.rr_features(i).unwrap()[LONG]
        };
        assert_eq!(ratio(70 * 130 + 65), 0.5);
        assert_eq!(ratio(71 * 130 + 65), 1.0);
        let mut ctx = BeatContext::new();
        assert_eq!(push_pre_rr(&mut ctx, 0.8)[LONG], 1.0); // first beat: its own pre-RR
        let long = push_pre_rr(&mut ctx, 0.4)[LONG];
        assert!((long - 0.4 / 0.6).abs() < 1e-6); // median of 0.8 and 0.4
        let (w, mut t) = ([0.0f32; BEAT_LEN], [0.0f32; BEAT_LEN]);
        assert!(!ctx.push(&w[..3], &mut [0.4; N_RR], &mut t, true));
    }

    /// Pushes a flat beat with pre-RR `pre` into `ctx`; its completed RR features.
    fn push_pre_rr(ctx: &mut BeatContext, pre: f32) -> [f32; N_RR] {
        let (w, mut t) = ([0.0f32; BEAT_LEN], [0.0f32; BEAT_LEN]);
        let mut rr = [1.0; N_RR];
        rr[0] = pre;
        assert!(ctx.push(&w, &mut rr, &mut t, true));
        rr
    }

    #[test]
    fn beats_in_unusable_signal_stay_out_of_the_rhythm_history() {
        let mut ctx = BeatContext::new();
        for _ in 0..20 {
            push_pre_rr(&mut ctx, 1.0);
        }
        // 300 flutter-like detections at 0.25 s, not remembered: each is read against 1.0 s
        let (mut t, mut rr) = ([0.0f32; BEAT_LEN], [1.0f32; N_RR]);
        for _ in 0..300 {
            rr[0] = 0.25;
            assert!(ctx.push(&[5.0; BEAT_LEN], &mut rr, &mut t, false));
            assert_eq!((rr[LONG], rr[LONGER]), (0.25, 0.25));
        }
        // the run after it is early against references the flutter did not fill
        let after = push_pre_rr(&mut ctx, 0.5);
        assert_eq!((after[LONG], after[LONGER], after[ONSET]), (0.5, 0.5, 0.5));
        let mut remembered = BeatContext::new();
        for _ in 0..20 {
            push_pre_rr(&mut remembered, 1.0);
        }
        for _ in 0..300 {
            push_pre_rr(&mut remembered, 0.25);
        }
        assert_eq!(push_pre_rr(&mut remembered, 0.5)[LONGER], 2.0);
    }

    #[test]
    fn noise_marks_its_peaks_unclean() {
        // an ECG-like train: a 1.5 mV QRS (Gaussian, 15 ms) and a 0.3 mV T wave every 100 samples
        let peaks: Vec<usize> = (1..=40).map(|k| k * 100).collect();
        let mut x = vec![0.0f32; 4200];
        for (i, v) in x.iter_mut().enumerate() {
            for &p in &peaks {
                let d = i as f32 - p as f32;
                *v += 1.5 * (-0.5 * (d / 2.0).powi(2)).exp()
                    + 0.3 * (-0.5 * ((d - 30.0) / 8.0).powi(2)).exp();
            }
        }
        // 8 s of broadband noise in the middle (samples 1560..2600, quality windows 3 and 4)
        let mut seed = 1u32;
        for v in &mut x[1560..2600] {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        let clean = peaks_in_clean_signal(&x, &peaks);
        for (&p, &c) in peaks.iter().zip(&clean) {
            assert_eq!(c, !(1560..2600).contains(&p), "peak {p}");
        }
    }

    #[test]
    fn a_run_of_early_beats_fills_the_long_reference_but_not_the_longer_one() {
        let mut ctx = BeatContext::new();
        let mut push = |pre: f32| {
            let rr = push_pre_rr(&mut ctx, pre);
            (rr[LONG], rr[LONGER])
        };
        for _ in 0..300 {
            assert_eq!(push(1.0), (1.0, 1.0));
        }
        assert_eq!(push(0.5), (0.5, 0.5)); // first beat of the run
        let mut last = (0.0, 0.0);
        for _ in 1..100 {
            last = push(0.5);
        }
        // 100th beat of the run: the last 65 pre-RRs are all 0.5 s; of the last 257, 157 are 1 s
        assert_eq!(last, (1.0, 0.5));
    }

    #[test]
    fn onset_ratio_marks_an_abrupt_run_but_not_a_gradual_speed_up() {
        let mut ctx = BeatContext::new();
        assert_eq!(push_pre_rr(&mut ctx, 1.0)[ONSET], 1.0); // no history
        for _ in 0..200 {
            assert_eq!(push_pre_rr(&mut ctx, 1.0)[ONSET], 1.0);
        }
        // sinus speed-up: 3 % shorter each beat, from 60 to ~130 bpm
        let mut pre = 1.0f32;
        let mut rr = [0.0; N_RR];
        for _ in 0..25 {
            pre *= 0.97;
            rr = push_pre_rr(&mut ctx, pre);
        }
        assert!(rr[LONG] < 0.6, "{rr:?}"); // far above the long reference ...
        assert!(rr[ONSET] > 0.85, "{rr:?}"); // ... without an abrupt step
        // steady at that rate, then an abrupt run: 0.6 of the previous eight's median
        let level = pre;
        for _ in 0..ONSET_LOCAL_BEATS {
            push_pre_rr(&mut ctx, level);
        }
        assert!((push_pre_rr(&mut ctx, 0.6 * level)[ONSET] - 0.6).abs() < 1e-5);
        for k in 1..ONSET_BEATS {
            let onset = push_pre_rr(&mut ctx, 0.6 * level)[ONSET];
            assert!((onset - 0.6).abs() < 1e-5, "beat {k} of the run: {onset}");
        }
        // the run's first beats step down from the old rate's median (about 4 of them, until
        // the median of the previous eight is the run's rate); ONSET_BEATS later they are gone
        for _ in 0..ONSET_LOCAL_BEATS {
            push_pre_rr(&mut ctx, 0.6 * level);
        }
        assert_eq!(push_pre_rr(&mut ctx, 0.6 * level)[ONSET], 1.0);
    }

    #[test]
    fn irregularity_is_the_median_successive_difference_over_the_median_rr() {
        let mut ctx = BeatContext::new();
        let mut push = |pre: f32| push_pre_rr(&mut ctx, pre)[IRREGULARITY];
        assert_eq!(push(1.0), 0.0); // no previous beat
        assert_eq!(push(1.0), 0.0);
        // 1.0, 1.0, 0.5: differences 0, 0.5 (median 0.25), median RR 1.0
        assert!((push(0.5) - 0.25).abs() < 1e-6);
        // sinus rhythm with one premature beat: the median ignores it
        for _ in 0..20 {
            push(1.0);
        }
        assert_eq!(push(0.6), 0.0);
        // alternating 0.6 / 1.0 (every successive difference 0.4), 17 values: median RR 1.0 or 0.6
        let mut last = 0.0;
        for k in 0..IRREGULARITY_BEATS + 1 {
            last = push(if k % 2 == 0 { 1.0 } else { 0.6 });
        }
        assert!((last - 0.4).abs() < 1e-6, "{last}");
    }

    /// A window whose R-peak is `amp` mV, zero elsewhere.
    fn spike_window(amp: f32) -> [f32; BEAT_LEN] {
        let mut w = [0.0; BEAT_LEN];
        w[BEAT_PRE] = amp;
        w
    }

    #[test]
    fn template_of_n_is_the_median_of_the_last_sixteen_beats_called_n() {
        let mut ring = TemplateOfN::new(4);
        let mut t = spike_window(9.0);
        ring.apply(&mut t);
        assert_eq!(t[BEAT_PRE], 9.0); // empty ring: the previous-beats template stays
        for amp in 1..=20 {
            ring.record(&spike_window(amp as f32), true);
            ring.record(&spike_window(100.0), false); // bigeminy: never enters
        }
        ring.apply(&mut t);
        assert_eq!(t[BEAT_PRE], 12.5); // median of 5..=20
        assert!(
            t.iter()
                .enumerate()
                .all(|(i, &v)| i == BEAT_PRE || v == 0.0)
        );
        // three more non-N detections (four since the last N): stale, given up
        for _ in 0..3 {
            ring.record(&spike_window(100.0), false);
        }
        let mut t = spike_window(7.0);
        ring.apply(&mut t);
        assert_eq!(t[BEAT_PRE], 7.0);
        // a new N call starts the ring again, without the windows before the stale stretch
        ring.record(&spike_window(3.0), true);
        ring.apply(&mut t);
        assert_eq!(t[BEAT_PRE], 3.0);
    }

    #[test]
    fn classify_in_order_feeds_each_class_to_the_next_beats_template() {
        // bigeminy: amplitude 1 (normal) and 4 (ventricular) alternate, from a normal first row
        let (x, peaks) = spikes(60, |k| if k % 2 == 1 { 1.0 } else { 4.0 });
        let plain = remembering_every_beat(&x, &peaks);
        let mut fed = plain.clone();
        let mut ring = TemplateRule::ClassifiedN { stale: 16 }.ring().unwrap();
        let mut seen = Vec::new();
        let classes = ring
            .classify_in_order(
                &mut fed,
                |row: &[f32], rr: &[f32]| {
                    assert_eq!((row.len(), rr.len()), (BEAT_CHANNELS * BEAT_LEN, N_RR));
                    seen.push(row[BEAT_LEN + BEAT_PRE]);
                    Ok::<_, ()>(row[BEAT_PRE] < 2.0)
                },
                |&is_n| is_n,
            )
            .unwrap();
        assert_eq!(classes.len(), plain.len());
        assert_eq!(fed.rr, plain.rr);
        for (i, &template) in seen.iter().enumerate() {
            assert_eq!(fed.beat(i), plain.beat(i));
            assert_eq!(fed.template(i).unwrap()[BEAT_PRE], template);
        }
        // the first beat (normal) keeps its own window; from then on the template is the normal beat
        assert_eq!(seen[0], 1.0);
        assert!(seen[1..].iter().all(|&t| t == 1.0), "{seen:?}");
        // the previous-beats template of a bigeminy is half ventricular
        assert_eq!(plain.template(40).unwrap()[BEAT_PRE], 2.5);
        assert!(TemplateRule::Previous.ring().is_none());
        // an error stops the loop at that beat
        let mut calls = 0;
        let failed = TemplateOfN::new(16).classify_in_order(
            &mut plain.clone(),
            |_: &[f32], _: &[f32]| {
                calls += 1;
                if calls == 3 { Err("broken") } else { Ok(true) }
            },
            |&n| n,
        );
        assert_eq!((failed, calls), (Err("broken"), 3));
    }

    #[test]
    fn streaming_in_pieces_matches_one_pass() {
        let (x, peaks) = spikes(60, |k| 1.0 + (k % 7) as f32);
        let whole = remembering_every_beat(&x, &peaks);
        let mut ctx = BeatContext::new();
        let mut streamed = BeatInputs::default();
        let mut from = 0usize;
        // overlapping stretches of signal, as a live session sees them
        for end in [1500usize, 3000, 4500, x.len()] {
            let start = end.saturating_sub(2500);
            let local: Vec<usize> = peaks
                .iter()
                .filter(|&&p| p >= start && p < end)
                .map(|&p| p - start)
                .collect();
            let clean = vec![true; local.len()];
            let part = beat_inputs_after(
                &x[start..end],
                &local,
                from.saturating_sub(start),
                &mut ctx,
                &clean,
            );
            if let Some(&last) = part.peaks.last() {
                from = start + last + 1;
            }
            streamed.peaks.extend(part.peaks.iter().map(|&p| p + start));
            streamed.beats.extend_from_slice(&part.beats);
            streamed.rr.extend_from_slice(&part.rr);
        }
        assert_eq!(streamed, whole);
    }

    #[test]
    fn rr_features_hand_computed() {
        // RR 130, 130, 65 samples = 1, 1, 0.5 s; then 195 (1.5 s)
        let peaks = [0usize, 130, 260, 325, 520];
        let mut f = [0.0f32; 5];
        assert!(rr_features(&peaks, 3, &mut f));
        let local = (1.0 + 1.0 + 0.5) / 3.0;
        let want = [0.5, 1.5, local, 0.5 / local, 3.0];
        for (a, b) in f.iter().zip(want) {
            assert!((a - b as f32).abs() < 1e-6, "{f:?}");
        }
        assert!(!rr_features(&peaks, 0, &mut f));
        assert!(!rr_features(&peaks, 4, &mut f));
        assert!(!rr_features(&[0, 10, 10], 1, &mut f)); // not increasing
        assert!(!rr_features(&peaks, 2, &mut [0.0; 3]));
    }

    #[test]
    fn local_rr_uses_at_most_ten_intervals() {
        let mut peaks: Vec<usize> = (0..12).map(|i| i * 260).collect(); // 2 s intervals
        peaks.extend((1..=10).map(|i| 11 * 260 + i * 130)); // then 10 × 1 s
        let mut f = [0.0f32; 5];
        assert!(rr_features(&peaks, 21 - 1, &mut f)); // 9 × 1 s + 1 × 2 s
        assert!((f[2] - 1.1).abs() < 1e-6, "{f:?}");
    }

    /// A lost frame (NaN) that hid a beat: the beats on either side of it get no features, and
    /// the doubled interval does not enter the next beats' local mean (it made them look
    /// premature: runs of S after a lost frame). The same for a stretch of over 8 s without
    /// beats (lead off).
    #[test]
    fn intervals_across_missing_signal_are_not_rr_intervals() {
        let mut x = vec![0.0f32; 130 * 30];
        let peaks: Vec<usize> = (1..29).filter(|&k| k != 15).map(|k| k * 130).collect();
        x[15 * 130 - 30..15 * 130 + 40].fill(f32::NAN); // beat 15 lost with its frame
        for &p in &peaks {
            x[p] = 1.0;
        }
        let b = beat_inputs(&x, &peaks);
        assert!(!b.peaks.contains(&(14 * 130)) && !b.peaks.contains(&(16 * 130)));
        assert!(b.peaks.contains(&(13 * 130)) && b.peaks.contains(&(17 * 130)));
        for i in 0..b.peaks.len() {
            let f = b.rr_features(i).unwrap();
            assert!(
                (f[0] - 1.0).abs() < 1e-6 && (f[2] - 1.0).abs() < 1e-6,
                "{f:?}"
            );
        }
        // without the gap flag the same peaks would give beat 17 a local mean over a 2 s interval
        let mut f = [0.0f32; 5];
        let i17 = peaks.iter().position(|&p| p == 17 * 130).unwrap();
        assert!(rr_features(&peaks, i17, &mut f) && f[2] > 1.05);

        // 10 s without detected beats in finite signal (lead off): the same
        let x = vec![0.0f32; 130 * 40];
        let peaks: Vec<usize> = (1..10).chain(20..39).map(|k| k * 130).collect();
        let b = beat_inputs(&x, &peaks);
        assert!(!b.peaks.contains(&(9 * 130)) && !b.peaks.contains(&(20 * 130)));
        for i in 0..b.peaks.len() {
            let f = b.rr_features(i).unwrap();
            assert!((f[2] - 1.0).abs() < 1e-6, "{f:?}");
        }
    }

    #[test]
    fn beats_without_room_or_with_nan_are_skipped() {
        let mut x = vec![0.0f32; 400];
        x[250] = f32::NAN;
        let b = beat_inputs(&x, &[10, 30, 200, 280, 360, 399]);
        // 30: window starts before 0; 200 and 280: NaN inside; 360: ends past the signal
        assert!(b.is_empty());
        assert!(beat_inputs(&x, &[]).is_empty());
        let mut s = Vec::new();
        assert!(!beat_window(&x, 100, &mut [0.0; 10], &mut s));
    }

    #[test]
    fn aami_mapping() {
        for (s, c) in [
            ("N", AamiClass::N),
            ("j", AamiClass::N),
            ("A", AamiClass::S),
            ("J", AamiClass::S),
            ("E", AamiClass::V),
            ("F", AamiClass::F),
            ("/", AamiClass::Q),
            ("f", AamiClass::Q),
            ("Q", AamiClass::Q),
        ] {
            assert_eq!(aami_class(s), Some(c), "{s}");
            assert_eq!(AAMI_LABELS[c as usize], format!("{c:?}"));
        }
        for s in ["+", "~", "|", "[", "x"] {
            assert_eq!(aami_class(s), None, "{s}");
        }
    }
}
