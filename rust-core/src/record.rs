//! The in-memory recording every reader produces: signals in physical units plus annotations.

/// One channel of a recording, in physical units.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Lead or channel label as written in the file (e.g. "MLII", "ECG", "V5").
    pub label: String,
    /// Physical unit as written in the file (e.g. "mV", "uV").
    pub unit: String,
    /// Samples per second of this channel.
    pub sampling_rate_hz: f64,
    /// Samples in `unit`. Invalid/missing samples (WFDB "invalid sample") are NaN.
    pub samples: Vec<f32>,
}

impl Signal {
    /// Factor that turns this signal's unit into millivolts, if the unit is a voltage.
    pub fn millivolt_factor(&self) -> Option<f32> {
        millivolt_factor(&self.unit)
    }

    /// [`Self::millivolt_factor`], or, for a unit that is not a voltage, the error every analysis
    /// and replay gives (this is channel `channel` of its recording).
    pub fn require_millivolt_factor(&self, channel: usize) -> crate::Result<f32> {
        self.millivolt_factor().ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "channel {channel} ({}) is in {:?}, not a voltage: use an ECG channel or, for \
                 a CSV file, state its unit (the CLI's --unit mV or --unit uV)",
                self.label, self.unit
            ))
        })
    }

    /// The samples in millivolts (a copy), or `None` if the unit is not a voltage.
    pub fn to_millivolts(&self) -> Option<Vec<f32>> {
        let k = self.millivolt_factor()?;
        Some(self.samples.iter().map(|&x| x * k).collect())
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / self.sampling_rate_hz
    }

    /// Whether the label looks like an ECG lead.
    pub fn is_ecg_like(&self) -> bool {
        is_ecg_label(&self.label)
    }

    /// Whether the label names another kind of signal ([`is_non_ecg_label`]).
    pub fn is_known_non_ecg(&self) -> bool {
        is_non_ecg_label(&self.label)
    }
}

/// Factor from `unit` to millivolts; `None` for non-voltage units.
pub fn millivolt_factor(unit: &str) -> Option<f32> {
    match unit.trim().to_lowercase().as_str() {
        "mv" | "millivolt" | "millivolts" => Some(1.0),
        "uv" | "µv" | "μv" | "microvolt" | "microvolts" => Some(1e-3),
        "nv" => Some(1e-6),
        "v" | "volt" | "volts" => Some(1e3),
        _ => None,
    }
}

/// Most missing time a recording's holes (read as NaN) may add up to, s (48 h, ~90 MB of NaN at
/// 130 Hz): beyond it, a damaged or crafted file.
pub const MAX_HOLES_S: f64 = 48.0 * 3600.0;

/// Typical 2 s peak-to-peak, in file units, from which a file is read as µV rather than mV: an
/// ECG in mV spans a few mV (R waves 0.5-3 mV), the same ECG in µV hundreds to thousands.
pub const MICROVOLT_PEAK_TO_PEAK: f32 = 50.0;

/// The unit of an ECG column that states none: `"uV"` when the median peak-to-peak of its 2 s
/// blocks is at least [`MICROVOLT_PEAK_TO_PEAK`], else `"mV"`. Blocks keep baseline drift out;
/// the median keeps out artefacts and flat stretches.
pub fn infer_unit(samples: &[f32], sampling_rate_hz: f64) -> &'static str {
    let block = ((2.0 * sampling_rate_hz) as usize).max(2);
    let mut spans: Vec<f32> = samples
        .chunks(block)
        .filter_map(|c| {
            let (lo, hi) = c
                .iter()
                .filter(|x| x.is_finite())
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            (hi >= lo).then_some(hi - lo)
        })
        .collect();
    if spans.is_empty() {
        return "mV";
    }
    let mid = spans.len() / 2;
    let (_, median, _) = spans.select_nth_unstable_by(mid, f32::total_cmp);
    if *median >= MICROVOLT_PEAK_TO_PEAK {
        log::info!("no unit stated; the amplitude says µV");
        "uV"
    } else {
        "mV"
    }
}

/// Lead names a channel label may be (after an optional "Lead"): MIT-BIH's and the 12 leads.
const LEAD_NAMES: &[&str] = &[
    "MLI", "MLII", "MLIII", "ML2", "I", "II", "III", "AVR", "AVL", "AVF", "V", "V1", "V2", "V3",
    "V4", "V5", "V6", "D3", "CM5", "CM2", "CM4", "CC5", "MV2", "ML5", "MV1",
];

/// First words of channel labels that name a signal other than an ECG: EEG, EOG, EMG,
/// respiration, oximetry and pulse, blood pressure, temperature, skin conductance, motion,
/// markers, and the MIT-BIH noise stress test's noise records.
const NON_ECG_WORDS: &[&str] = &[
    "EEG",
    "EOG",
    "EMG",
    "RESP",
    "RESPIRATION",
    "THOR",
    "THORAX",
    "ABDO",
    "ABDOMEN",
    "AIRFLOW",
    "FLOW",
    "SPO2",
    "SAO2",
    "PLETH",
    "PPG",
    "PULSE",
    "ABP",
    "ART",
    "BP",
    "NBP",
    "PAP",
    "CVP",
    "ICP",
    "TEMP",
    "TEMPERATURE",
    "GSR",
    "EDA",
    "SCL",
    "ACC",
    "ACCEL",
    "GYRO",
    "NOISE",
    "NOISE1",
    "NOISE2",
    "EVENT",
    "MARKER",
    "STATUS",
    "POSITION",
    "LIGHT",
    "SNORE",
];

/// Whether a channel label names a signal that is not an ECG: its first word is one of
/// [`NON_ECG_WORDS`] ("EEG Fp1-Ref", "Resp chest", "noise1"), and it names no ECG lead.
pub fn is_non_ecg_label(label: &str) -> bool {
    let upper = label.trim().to_ascii_uppercase();
    let first = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| !w.is_empty());
    first.is_some_and(|w| NON_ECG_WORDS.contains(&w)) && !is_ecg_label(label)
}

/// Whether a channel label names an ECG lead: a word starting with ECG or EKG ("ECG",
/// "ECG1", "Chest ECG", "EKG II"), or a lead name, alone or after "Lead" ("MLII", "V5",
/// "Lead II").
pub fn is_ecg_label(label: &str) -> bool {
    let upper = label.trim().to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words
        .iter()
        .any(|w| w.starts_with("ECG") || w.starts_with("EKG"))
    {
        return true;
    }
    let joined = words.concat();
    let lead = joined.strip_prefix("LEAD").unwrap_or(&joined);
    LEAD_NAMES.contains(&lead)
}

/// One annotation. For WFDB: one entry of an annotation file; for EDF+: one TAL entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// Position in samples of the recording's `annotation_rate_hz`.
    pub sample: i64,
    /// Mnemonic (WFDB: "N", "V", "+", …; EDF+: the annotation text).
    pub symbol: String,
    /// WFDB annotation code (0 for EDF+ annotations).
    pub code: u8,
    pub subtype: i8,
    pub chan: u8,
    pub num: i8,
    /// WFDB aux string (e.g. rhythm "(AFIB"), EDF+ has none.
    pub aux: Option<String>,
    /// EDF+ duration in seconds, if given.
    pub duration_s: Option<f64>,
}

/// A whole recording: any number of channels (possibly at different rates) and annotations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    /// Record name (file stem), never a person's name.
    pub name: String,
    pub signals: Vec<Signal>,
    pub annotations: Vec<Annotation>,
    /// Rate in which [`Annotation::sample`] counts (WFDB: the frame rate; EDF: the fastest signal).
    pub annotation_rate_hz: f64,
    /// The channel the file itself marks as its ECG (a CSV's ECG column), analysed by default;
    /// `None` where the labels decide ([`Self::default_ecg_channel`]).
    pub ecg_channel_hint: Option<usize>,
}

/// WFDB beat annotation symbols (the beat labels `bxb` scores; everything else is a non-beat).
pub const BEAT_SYMBOLS: &[&str] = &[
    "N", "L", "R", "B", "A", "a", "J", "S", "V", "r", "F", "e", "j", "n", "E", "/", "f", "Q", "?",
];

/// Whether an annotation symbol marks a beat.
pub fn is_beat_symbol(symbol: &str) -> bool {
    BEAT_SYMBOLS.contains(&symbol)
}

impl Recording {
    /// The channel to analyse: `channel` when the recording has it, else
    /// [`Self::ecg_channel_hint`], else [`Self::default_ecg_channel`]. Errors: a channel it lacks
    /// ([`Error::InvalidArgument`]), no channels at all ([`Error::InsufficientSignal`]), only
    /// channels whose labels name other signals ([`Error::FileOption`]: the caller may still name
    /// one).
    pub fn channel_or_default(&self, channel: Option<usize>) -> crate::Result<usize> {
        match channel {
            Some(c) if c < self.signals.len() => Ok(c),
            Some(c) => Err(crate::Error::InvalidArgument(match self.signals.len() {
                0 => format!("channel {c} does not exist (the recording has no channels)"),
                1 => format!("channel {c} does not exist (the recording has one channel, 0)"),
                n => format!(
                    "channel {c} does not exist (the recording has {n} channels, 0 to {})",
                    n - 1
                ),
            })),
            None if self.signals.is_empty() => Err(crate::Error::InsufficientSignal(
                "the recording has no channels".into(),
            )),
            None => self.hinted_or_default_channel().ok_or_else(|| {
                let labels: Vec<String> = self
                    .signals
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("{i}: {:?}", s.label))
                    .collect();
                crate::Error::FileOption {
                    file: self.name.clone(),
                    what: format!(
                        "no ECG channel (channels {}); name one with --channel to analyse it anyway",
                        labels.join(", ")
                    ),
                }
            }),
        }
    }

    /// [`Self::ecg_channel_hint`] when the recording has that channel, else
    /// [`Self::default_ecg_channel`].
    fn hinted_or_default_channel(&self) -> Option<usize> {
        self.ecg_channel_hint
            .filter(|&c| c < self.signals.len())
            .or_else(|| self.default_ecg_channel())
    }

    /// Index of the default analysis channel: MLII when present, else the first ECG-like label,
    /// else the first channel whose label does not name another signal (EEG, respiration, …);
    /// `None` without such a channel.
    pub fn default_ecg_channel(&self) -> Option<usize> {
        if self.signals.is_empty() {
            return None;
        }
        let mlii = self.signals.iter().position(|s| {
            let l = s.label.trim().to_ascii_uppercase();
            l == "MLII" || l == "ML2" || l == "II" || l == "ECG II" || l == "ECG LEAD II"
        });
        let channel = mlii.or_else(|| self.signals.iter().position(Signal::is_ecg_like));
        if channel.is_some() {
            return channel;
        }
        let unknown = self.signals.iter().position(|s| !s.is_known_non_ecg())?;
        if self.signals.len() > 1 {
            log::warn!(
                "no channel label names an ECG lead; analysing channel {unknown} of {}",
                self.signals.len()
            );
        }
        Some(unknown)
    }

    /// Beat annotations (see [`BEAT_SYMBOLS`]).
    pub fn beat_annotations(&self) -> impl Iterator<Item = &Annotation> {
        self.annotations
            .iter()
            .filter(|a| is_beat_symbol(&a.symbol))
    }

    /// Duration in seconds of the longest channel.
    pub fn duration_s(&self) -> f64 {
        self.signals
            .iter()
            .map(Signal::duration_s)
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ecg_labels() {
        for l in [
            "EEG Fp1-Ref",
            "Resp chest",
            "noise1",
            "SpO2",
            "ABP",
            "EMG",
            "acc_x",
            "GSR",
        ] {
            assert!(is_non_ecg_label(l), "{l}");
        }
        for l in [
            "MLII", "ECG", "Fp1", "ch1", "", "column 2", "A1", "HR", "EEG/ECG",
        ] {
            assert!(!is_non_ecg_label(l), "{l}");
        }
    }

    /// The default channel skips channels named as other signals; with nothing else, there is
    /// none, and the error says how to name one (a named one is analysed as asked).
    #[test]
    fn default_channel_is_never_a_named_non_ecg_signal() {
        let rec = |labels: &[&str]| Recording {
            name: "r".into(),
            signals: labels
                .iter()
                .map(|l| Signal {
                    label: (*l).into(),
                    unit: "mV".into(),
                    sampling_rate_hz: 130.0,
                    samples: Vec::new(),
                })
                .collect(),
            ..Recording::default()
        };
        assert_eq!(rec(&["EEG Fz", "ECG"]).default_ecg_channel(), Some(1));
        assert_eq!(rec(&["Resp", "ch2"]).default_ecg_channel(), Some(1));
        assert_eq!(rec(&["ch1"]).default_ecg_channel(), Some(0));
        let eeg = rec(&["EEG Fp1", "noise1"]);
        assert_eq!(eeg.default_ecg_channel(), None);
        let err = eeg.channel_or_default(None).unwrap_err().to_string();
        assert!(
            err.contains("no ECG channel") && err.contains("--channel"),
            "{err}"
        );
        assert_eq!(eeg.channel_or_default(Some(1)).unwrap(), 1);
        // a channel the recording lacks: the error names the ones it has (numbered from 0)
        let missing = |r: &Recording| r.channel_or_default(Some(2)).unwrap_err().to_string();
        assert!(missing(&eeg).ends_with("(the recording has 2 channels, 0 to 1)"));
        assert!(missing(&rec(&["ECG"])).ends_with("(the recording has one channel, 0)"));
        assert!(missing(&rec(&[])).ends_with("(the recording has no channels)"));
        // the file's own mark (a CSV's ECG column) comes before the labels, a named one first
        let marked = Recording {
            ecg_channel_hint: Some(1),
            ..rec(&["ECG", "ch2"])
        };
        assert_eq!(marked.channel_or_default(None).unwrap(), 1);
        assert_eq!(marked.channel_or_default(Some(0)).unwrap(), 0);
        let beyond = Recording {
            ecg_channel_hint: Some(5),
            ..rec(&["ECG", "ch2"])
        };
        assert_eq!(beyond.channel_or_default(None).unwrap(), 0);
    }

    #[test]
    fn ecg_labels() {
        for l in [
            "MLII",
            "V1",
            "ECG",
            "ECG ECG",
            "EKG",
            "ECG1",
            "II",
            "Lead II",
            "ECG Lead II",
            "Chest ECG",
            "ecg_raw",
            "ML II",
        ] {
            assert!(is_ecg_label(l), "{l}");
        }
        for l in [
            "EEG Fp1",
            "Resp",
            "ABP",
            "EDF Annotations",
            "EDA",
            "acc_x",
            "HR",
            "Lead",
        ] {
            assert!(!is_ecg_label(l), "{l}");
        }
    }

    #[test]
    fn unit_factors() {
        assert_eq!(millivolt_factor("uV"), Some(1e-3));
        assert_eq!(millivolt_factor("mV"), Some(1.0));
        assert_eq!(millivolt_factor("UV"), Some(1e-3));
        assert_eq!(millivolt_factor("µV"), Some(1e-3));
        assert_eq!(millivolt_factor("degC"), None);
    }
}
