//! `stressbeat peaks`: the R-peaks of a recording, as a table (sample, time, RR) or JSON, and with
//! `--plot` drawn on an ECG strip for checking them by eye.

use std::path::PathBuf;

use clap::Args;
use image::RgbImage;
use serde::Serialize;
use stressbeat_core::analysis::{self, EcgSpan};
use stressbeat_core::dsp::rpeak::refined_interval;

use crate::{
    NOT_MEDICAL, RecordingArgs, fmt_hz,
    plot::{self, Canvas, GAP, GRID, HR_LINE, INK, MUTED, PlotArea, clock_text, display_filtered},
    print_result_json, table,
};

/// Arguments of `stressbeat peaks`.
#[derive(Args, Debug)]
pub struct PeaksArgs {
    #[command(flatten)]
    recording: RecordingArgs,
    /// Also draw the ECG with its R-peaks and RR intervals as a PNG strip: 10 s a row, at most
    /// 12 rows (the first 2 minutes of the span; choose it with --from/--to).
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
}

#[derive(Serialize)]
struct PeaksJson {
    sampling_rate_hz: f64,
    /// R-peaks, sample indices of the recording.
    peaks: Vec<usize>,
    /// Their times (s from the recording's start), refined between samples as RR intervals are.
    times_s: Vec<f64>,
}

pub fn peaks(args: &PeaksArgs) -> Result<(), String> {
    let rec_args = &args.recording;
    let rec = rec_args.load()?;
    let span = rec_args.select_span(&rec)?;
    let peaks = analysis::detect_peaks(&span).map_err(|e| rec_args.error(e))?;
    let fs = span.sampling_rate_hz;
    let rr_ms = rr_intervals_ms(&span, &peaks);
    let times_s: Vec<f64> = peaks.iter().map(|&p| span.refined_peak(p) / fs).collect();
    // (the file, the seconds it shows)
    let plotted = match &args.plot {
        Some(path) => {
            let (img, shown_s) = render_strip(&rec.name, &span, &peaks, &rr_ms)?;
            plot::save_png(&img, path)?;
            Some((path, shown_s))
        }
        None => None,
    };
    if rec_args.json {
        return print_result_json(&PeaksJson {
            sampling_rate_hz: fs,
            peaks,
            times_s,
        });
    }
    println!(
        "{}: channel {} ({}), {} Hz, {:.1} s, {} R-peaks",
        rec.name,
        span.channel,
        span.label,
        fmt_hz(fs),
        span.duration_s(),
        peaks.len()
    );
    let mut t = table::Table::new(&["#", "sample", "time (s)", "RR (ms)"]);
    for (i, ((&p, time_s), rr)) in peaks.iter().zip(&times_s).zip(&rr_ms).enumerate() {
        let rr = match rr {
            _ if i == 0 => String::new(),
            None => "gap".into(),
            Some(ms) => format!("{ms:.1}"),
        };
        t.row(vec![
            (i + 1).to_string(),
            p.to_string(),
            format!("{time_s:.3}"),
            rr,
        ]);
    }
    print!("{t}");
    let gaps = rr_ms.iter().skip(1).filter(|rr| rr.is_none()).count();
    if gaps > 0 {
        println!("gap: ECG missing between the two beats, so no RR interval ({gaps} in this span)");
    }
    if let Some((path, shown_s)) = plotted {
        let part = if shown_s + 1e-9 < span.duration_s() {
            format!(" (the first {shown_s:.0} s of the span)")
        } else {
            String::new()
        };
        println!("Plot: {}{part}", path.display());
    }
    println!("{NOT_MEDICAL}");
    Ok(())
}

/// The RR interval ending at each peak (ms); `None` for the first, and where ECG is missing
/// between the two beats (lost frames, a disconnection).
fn rr_intervals_ms(span: &EcgSpan, peaks: &[usize]) -> Vec<Option<f64>> {
    let at = |p: usize| p - span.start_sample;
    let intervals = peaks.windows(2).map(|w| {
        stressbeat_core::hrv::spans_only_signal(&span.samples_mv, at(w[0]), at(w[1])).then(|| {
            refined_interval(&span.samples_mv, at(w[0]), at(w[1])) * 1000.0 / span.sampling_rate_hz
        })
    });
    std::iter::once(None)
        .chain(intervals)
        .take(peaks.len())
        .collect()
}

/// Seconds of ECG per strip row.
const ROW_S: f64 = 10.0;
/// Rows at most (the strip shows the first `ROW_S × MAX_ROWS` seconds of the span).
const MAX_ROWS: usize = 12;
const STRIP_WIDTH: u32 = 1200;
/// Top of the first row.
const STRIP_TOP: u32 = 150;
const ROW_HEIGHT: u32 = 110;
/// From one row's top to the next's.
const ROW_PITCH: u32 = 130;

/// Draw the span's first [`MAX_ROWS`] × [`ROW_S`] seconds as an ECG strip: the signal band-passed
/// for display, each R-peak marked, each RR interval (ms) written above its beats, missing ECG
/// shaded. Returns the image and the seconds it shows.
fn render_strip(
    name: &str,
    span: &EcgSpan,
    peaks: &[usize],
    rr_ms: &[Option<f64>],
) -> Result<(RgbImage, f64), String> {
    let fs = span.sampling_rate_hz;
    let row_n = ((ROW_S * fs).round() as usize).max(1);
    let shown = span.samples_mv.len().min(row_n * MAX_ROWS);
    let rows = shown.div_ceil(row_n).max(1);
    let ecg = display_filtered(&span.samples_mv[..shown], fs)?;
    let (lo, hi) = amplitude_range(&ecg);

    let height = STRIP_TOP + rows as u32 * ROW_PITCH + 44 + 20;
    let mut c = Canvas::new(STRIP_WIDTH, height);
    let right = STRIP_WIDTH - 20;
    c.text(20, 16, &format!("StressBeat R-peaks: {name}"), 3, INK);
    let facts = format!(
        "channel {} ({}), {} Hz: {} R-peaks in {:.1} s from {:.1} s",
        span.channel,
        span.label,
        fmt_hz(fs),
        peaks.len(),
        span.duration_s(),
        span.start_sample as f64 / fs
    );
    let y = c.text_wrapped(20, 54, right, &facts, 2, INK);
    let how = format!(
        "ECG band-passed 0.5-40 Hz for display, {lo:.1} to {hi:.1} mV a row; grid 1 s; R-peaks \
         marked, RR intervals (ms) above; grey: no signal"
    );
    let y = c.text_wrapped(20, y, right, &how, 2, MUTED);
    if shown < span.samples_mv.len() {
        let note = format!(
            "showing the first {:.0} s of {:.1} s: choose the span with --from/--to",
            shown as f64 / fs,
            span.duration_s()
        );
        c.text_wrapped(20, y, right, &note, 2, HR_LINE);
    }

    for row in 0..rows {
        let a = PlotArea {
            x: 90,
            y: STRIP_TOP + row as u32 * ROW_PITCH,
            w: STRIP_WIDTH - 130,
            h: ROW_HEIGHT,
        };
        let (from, to) = (row * row_n, ((row + 1) * row_n).min(shown));
        // columns of the row in samples: a full row spans the whole width
        let x_of = |i: usize| plot::x_of(a, (i - from) as i64, 0, row_n as i64 - 1);
        for s in 1..ROW_S as usize {
            let x = x_of(from + (s as f64 * fs).round() as usize);
            c.vline(x, a.y, a.y + a.h, GRID);
        }
        c.hline(a.x, a.x + a.w, plot::y_of(a, 0.0, lo, hi), GRID);
        let row_start_ms = ((span.start_sample + from) as f64 * 1000.0 / fs).round() as i64;
        c.text_right(
            a.x - 8,
            a.y + a.h / 2 - 7,
            &clock_text(row_start_ms),
            2,
            MUTED,
        );
        let mut previous = None;
        for (i, &v) in ecg.iter().enumerate().take(to).skip(from) {
            let x = x_of(i);
            if !v.is_finite() {
                c.vline(x, a.y + 1, a.y + a.h - 1, GAP);
                previous = None;
                continue;
            }
            let y = plot::y_of(a, f64::from(v), lo, hi);
            let (px, py) = previous.unwrap_or((x, y));
            c.line(px, py, x, y, INK);
            previous = Some((x, y));
        }
        c.frame(a, GRID);
        let mut last_x: Option<u32> = None;
        for (&p, rr) in peaks.iter().zip(rr_ms) {
            let Some(i) = p
                .checked_sub(span.start_sample)
                .filter(|i| (from..to).contains(i))
            else {
                last_x = None;
                continue;
            };
            let x = x_of(i);
            let y = plot::y_of(a, f64::from(ecg[i]), lo, hi);
            c.fill_rect(x.saturating_sub(2), y.saturating_sub(2), 5, 5, HR_LINE);
            c.vline(x, a.y + 1, a.y + 8, HR_LINE);
            if let (Some(prev), Some(ms)) = (last_x, rr) {
                let label = format!("{ms:.0}");
                let w = 8 * label.len() as u32;
                if x - prev > w + 6 {
                    c.text((prev + x) / 2 - w / 2, a.y + 3, &label, 1, MUTED);
                }
            }
            last_x = Some(x);
        }
    }
    c.footer();
    Ok((c.into_image(), shown as f64 / fs))
}

/// The vertical range of a strip: the 0.5th to 99.5th percentile of the finite samples with a
/// margin, at least 1 mV (−1 to 1 mV without any).
fn amplitude_range(ecg: &[f32]) -> (f64, f64) {
    let mut v: Vec<f32> = ecg.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (-1.0, 1.0);
    }
    v.sort_unstable_by(f32::total_cmp);
    let at = |q: f64| f64::from(v[((v.len() - 1) as f64 * q).round() as usize]);
    let (lo, hi) = (at(0.005), at(0.995));
    let margin = 0.1 * (hi - lo);
    let (lo, hi) = (lo - margin, hi + margin);
    let short = (1.0 - (hi - lo)).max(0.0) / 2.0;
    (lo - short, hi + short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(samples_mv: Vec<f32>, start_sample: usize) -> EcgSpan {
        EcgSpan {
            channel: 0,
            label: "ECG".into(),
            sampling_rate_hz: 100.0,
            start_sample,
            samples_mv,
        }
    }

    #[test]
    fn rr_intervals_stop_at_missing_ecg() {
        let mut mv = vec![0.1; 500];
        mv[250] = f32::NAN;
        let s = span(mv, 1000);
        let rr = rr_intervals_ms(&s, &[1050, 1150, 1300, 1400]);
        assert_eq!(rr, [None, Some(1000.0), None, Some(1000.0)]);
        assert!(rr_intervals_ms(&s, &[]).is_empty());
    }

    #[test]
    fn the_amplitude_range_spans_at_least_one_millivolt() {
        assert_eq!(amplitude_range(&[f32::NAN]), (-1.0, 1.0));
        let (lo, hi) = amplitude_range(&[0.0; 10]);
        assert!((hi - lo - 1.0).abs() < 1e-9 && lo < 0.0 && hi > 0.0);
        // one huge artefact sample in 1000 does not flatten the strip
        let mut v: Vec<f32> = (0..1000).map(|i| (i % 100) as f32 / 50.0 - 1.0).collect();
        v[3] = 40.0;
        let (lo, hi) = amplitude_range(&v);
        assert!(lo > -1.5 && hi < 1.5, "{lo} {hi}");
    }

    #[test]
    fn the_strip_marks_every_peak_and_shades_missing_ecg() {
        // 25 s at 100 Hz: a spike a second, 2 s of missing ECG in the second row
        let mut mv: Vec<f32> = (0..2500)
            .map(|i| if i % 100 == 50 { 1.5 } else { 0.0 })
            .collect();
        for v in &mut mv[1300..1500] {
            *v = f32::NAN;
        }
        let s = span(mv, 500);
        let peaks: Vec<usize> = (0..25)
            .map(|k| 550 + 100 * k)
            .filter(|p| !(1800..2000).contains(p))
            .collect();
        let rr = rr_intervals_ms(&s, &peaks);
        let (img, shown_s) = render_strip("r", &s, &peaks, &rr).unwrap();
        assert_eq!(shown_s, 25.0);
        assert_eq!(img.height(), STRIP_TOP + 3 * ROW_PITCH + 64);
        for &p in &peaks {
            let i = p - 500;
            let (row, at) = (i / 1000, (i % 1000) as i64);
            let top = STRIP_TOP + row as u32 * ROW_PITCH;
            let a = PlotArea {
                x: 90,
                y: top,
                w: STRIP_WIDTH - 130,
                h: ROW_HEIGHT,
            };
            let x = plot::x_of(a, at, 0, 999);
            assert_eq!(*img.get_pixel(x, top + 4), HR_LINE, "peak {p}");
        }
        let gap_x = plot::x_of(
            PlotArea {
                x: 90,
                y: 0,
                w: STRIP_WIDTH - 130,
                h: 1,
            },
            400,
            0,
            999,
        );
        assert_eq!(*img.get_pixel(gap_x, STRIP_TOP + ROW_PITCH + 50), GAP);
        // a long span: the first two minutes only
        let long = span(vec![0.0; 100 * 300], 0);
        let (img, shown_s) = render_strip("r", &long, &[], &[]).unwrap();
        assert_eq!(shown_s, 120.0);
        assert_eq!(img.height(), STRIP_TOP + 12 * ROW_PITCH + 64);
    }
}
