//! HRV of the normal-to-normal intervals (`analysis::analyze`: beats typed by the embedded
//! beat-type model, intervals beside ectopic beats left out) against HRV of the reference NN
//! intervals: the intervals between two beats the cardiologists' annotations call normal (AAMI
//! N), successive differences only where three normal beats follow each other.
//!
//! Two sets: MIT-BIH DS1 (22 records, the beat model's training data: a check of the path) and
//! the QT Database's 50 patients from other databases (never trained on: the honest figure).
//! Each is also scored with the artefact correction instead (`hrv::analyze_rr`), the way HRV was
//! computed before beats were typed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use stressbeat_core::{
    analysis::{self, AnalysisOptions},
    hrv,
    io::{LoadOptions, load_recording},
    model_input::beat::{AamiClass, aami_class},
};
use stressbeat_e2e::median;

/// MIT-BIH DS1 (de Chazal et al. 2004; paced records excluded).
const DS1: [&str; 22] = [
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201",
    "203", "205", "207", "208", "209", "215", "220", "223", "230",
];

/// RMSSD and SDNN (ms) of the reference NN intervals of an annotated record.
fn reference_rmssd_sdnn(rec: &stressbeat_core::record::Recording) -> (f64, f64) {
    let beats: Vec<(f64, bool)> = rec
        .annotations
        .iter()
        .filter_map(|a| {
            let class = aami_class(&a.symbol)?;
            Some((
                a.sample as f64 / rec.annotation_rate_hz * 1000.0,
                class == AamiClass::N,
            ))
        })
        .collect();
    // (interval, whether it is NN)
    let intervals: Vec<(f64, bool)> = beats
        .windows(2)
        .map(|w| (w[1].0 - w[0].0, w[0].1 && w[1].1))
        .collect();
    let nn: Vec<f64> = intervals.iter().filter(|i| i.1).map(|i| i.0).collect();
    let mean = nn.iter().sum::<f64>() / nn.len() as f64;
    let sdnn = (nn.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nn.len() - 1) as f64).sqrt();
    let squares: Vec<f64> = intervals
        .windows(2)
        .filter(|w| w[0].1 && w[1].1)
        .map(|w| (w[1].0 - w[0].0).powi(2))
        .collect();
    let rmssd = (squares.iter().sum::<f64>() / squares.len() as f64).sqrt();
    (rmssd, sdnn)
}

/// Relative errors (%) against the reference: (RMSSD, SDNN) typed, and RMSSD corrected.
struct Errors {
    rmssd: f64,
    sdnn: f64,
    rmssd_corrected: f64,
}

fn errors(path: &Path) -> (String, Errors) {
    let rec = load_recording(path, &LoadOptions::default()).unwrap();
    let (ref_rmssd, ref_sdnn) = reference_rmssd_sdnn(&rec);
    let opts = AnalysisOptions::default();
    let typed = analysis::analyze(&rec, &opts).unwrap().hrv.unwrap();
    assert!(typed.left_out.is_some(), "{}: beats not typed", rec.name);
    let span = analysis::select_span(&rec, &opts).unwrap();
    let peaks: Vec<usize> = analysis::detect_peaks(&span)
        .unwrap()
        .iter()
        .map(|p| p - span.start_sample)
        .collect();
    let rr = hrv::rr_intervals_ms(&span.samples_mv, &peaks, span.sampling_rate_hz);
    let corrected = hrv::analyze_rr(&rr).unwrap();
    let pct = |x: f64, r: f64| (x - r) / r * 100.0;
    let e = Errors {
        rmssd: pct(typed.rmssd_ms, ref_rmssd),
        sdnn: pct(typed.sdnn_ms, ref_sdnn),
        rmssd_corrected: pct(corrected.rmssd_ms, ref_rmssd),
    };
    eprintln!(
        "{:>9}: RMSSD ref {ref_rmssd:6.1} typed {:6.1} ({:+6.1} %) corrected {:6.1} ({:+7.1} %); \
         SDNN ref {ref_sdnn:6.1} typed {:6.1} ({:+6.1} %)",
        rec.name,
        typed.rmssd_ms,
        e.rmssd,
        corrected.rmssd_ms,
        e.rmssd_corrected,
        typed.sdnn_ms,
        e.sdnn
    );
    (rec.name.clone(), e)
}

/// Median |error| (%) of each figure, and how many records are within 10 %.
struct Summary {
    rmssd_median: f64,
    rmssd_within_10: usize,
    rmssd_worst: f64,
    sdnn_median: f64,
    corrected_median: f64,
    corrected_worst: f64,
}

impl Summary {
    /// RMSSD's median error under 10 % with at least `within_10` records within 10 %, SDNN's
    /// median under `sdnn_median`, and RMSSD's median and worst error under these shares of the
    /// correction's.
    fn check(&self, within_10: usize, sdnn_median: f64, of_corrected: (f64, f64)) {
        assert!(
            self.rmssd_median < 10.0 && self.rmssd_within_10 >= within_10,
            "RMSSD"
        );
        assert!(self.sdnn_median < sdnn_median, "SDNN");
        assert!(
            self.rmssd_median < of_corrected.0 * self.corrected_median,
            "median against the correction"
        );
        assert!(
            self.rmssd_worst < of_corrected.1 * self.corrected_worst,
            "worst against the correction"
        );
    }
}

fn summary(errors: &[(String, Errors)]) -> Summary {
    let abs =
        |f: fn(&Errors) -> f64| -> Vec<f64> { errors.iter().map(|(_, e)| f(e).abs()).collect() };
    let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (rmssd, sdnn, corrected) = (
        abs(|e| e.rmssd),
        abs(|e| e.sdnn),
        abs(|e| e.rmssd_corrected),
    );
    let s = Summary {
        rmssd_median: median(&mut rmssd.clone()),
        rmssd_within_10: rmssd.iter().filter(|&&v| v <= 10.0).count(),
        rmssd_worst: worst(&rmssd),
        sdnn_median: median(&mut sdnn.clone()),
        corrected_median: median(&mut corrected.clone()),
        corrected_worst: worst(&corrected),
    };
    eprintln!(
        "{} records: RMSSD |error| median {:.1} %, {} within 10 %, worst {:.1} %; SDNN median \
         {:.1} %; corrected instead: RMSSD median {:.1} %, worst {:.1} %",
        errors.len(),
        s.rmssd_median,
        s.rmssd_within_10,
        s.rmssd_worst,
        s.sdnn_median,
        s.corrected_median,
        s.corrected_worst
    );
    s
}

/// Bigeminy (119) and frequent PVCs (106): the correction made RMSSD 8-13 times the reference.
#[test]
fn mitdb_ds1_nn_hrv_matches_the_reference_nn_intervals() {
    let Some(dir) = stressbeat_e2e::dataset("mitdb") else {
        return;
    };
    let errors: Vec<(String, Errors)> = DS1
        .iter()
        .map(|r| errors(&dir.join(format!("{r}.hea"))))
        .collect();
    let s = summary(&errors);
    for record in ["106", "119"] {
        let e = &errors.iter().find(|(n, _)| n == record).unwrap().1;
        assert!(e.rmssd.abs() < 5.0 && e.sdnn.abs() < 5.0, "{record}");
        assert!(e.rmssd_corrected > 500.0, "{record}: {}", e.rmssd_corrected);
    }
    s.check(12, 5.0, (0.5, 0.2));
}

/// Patients the beat model never saw, on leads other than MLII.
#[test]
fn qtdb_other_patients_nn_hrv_matches_the_reference_nn_intervals() {
    let Some(dir) = stressbeat_e2e::dataset("qtdb") else {
        return;
    };
    let errors: Vec<(String, Errors)> = stressbeat_e2e::files_with_extension(&dir, "atr")
        .into_iter()
        .filter(|p| {
            // not an excerpt of an MIT-BIH Arrhythmia record (sel100-sel234)
            let name = p.file_stem().unwrap().to_string_lossy();
            !name[3..]
                .parse::<u32>()
                .is_ok_and(|n| (100..300).contains(&n))
        })
        .map(|p| errors(&p.with_extension("hea")))
        .collect();
    assert_eq!(errors.len(), 50);
    let s = summary(&errors);
    s.check(25, 4.0, (0.7, 0.5));
}
