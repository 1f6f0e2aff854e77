//! The PNG session report, drawn from the history alone (same history, same PNG): title, session
//! facts, heart rate and stress score over time (calm / elevated / high bands, alerts marked, gaps
//! shaded), example beat images, an HRV summary and the "not a medical device" footer.
//! Drawn with [`crate::plot`].

use std::path::Path;

use image::{Rgb, RgbImage};
use stressbeat_core::{
    dsp::rpeak::detect_peaks,
    engine::Hysteresis,
    formats::edf,
    history::{History, SessionDetail, SessionId, TimelinePoint, format_utc_iso},
    imaging::{IMAGE_PIXELS, IMAGE_SIZE, Imager},
};

use crate::plot::{
    ALERT, Canvas, GAP, GRID, HR_LINE, INK, MUTED, PlotArea, SCORE_LINE, clock_text,
    display_filtered, hr_range, plot_series, save_png, ticks, time_axis, value_axis, x_of, y_of,
};

/// Width of the report, pixels.
pub const WIDTH: u32 = 1200;
/// Height of the report, pixels.
pub const HEIGHT: u32 = 1250;
/// Beat images shown (spread evenly over the session).
const BEAT_IMAGES: usize = 4;
/// Beat images are drawn at this multiple of their 128 px size.
const BEAT_SCALE: u32 = 2;

const CALM_BAND: Rgb<u8> = Rgb([226, 243, 228]);
const ELEVATED_BAND: Rgb<u8> = Rgb([252, 244, 214]);
const HIGH_BAND: Rgb<u8> = Rgb([250, 222, 222]);

/// Heart-rate plot area.
pub const HR_PLOT: PlotArea = PlotArea {
    x: 90,
    y: 150,
    w: 1070,
    h: 200,
};
/// Stress-score plot area.
pub const SCORE_PLOT: PlotArea = PlotArea {
    x: 90,
    y: 410,
    w: 1070,
    h: 220,
};
/// Top of the beat-image row.
pub const BEATS_TOP: u32 = 690;

/// One example beat for the report.
#[derive(Debug, Clone)]
pub struct BeatImage {
    /// When the beat happened (ms, UTC).
    pub at_ms: i64,
    /// The 128×128 grayscale image (crate imaging).
    pub pixels: Vec<u8>,
}

/// Everything the report shows, read from the history.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The session, its aggregates, alerts and gaps.
    pub detail: SessionDetail,
    /// Heart rate and score over the session, downsampled to the plot width.
    pub timeline: Vec<TimelinePoint>,
    /// Example beats (empty when the session has no raw ECG).
    pub beats: Vec<BeatImage>,
    /// Why there are no beat images, when there are none.
    pub beats_note: Option<String>,
}

/// What [`write_report`] drew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSummary {
    /// Timeline points plotted.
    pub points: usize,
    /// Beat images drawn.
    pub beats: usize,
}

/// Read what the report needs for `session`.
pub fn collect(history: &History, session: SessionId) -> Result<ReportData, String> {
    let detail = history
        .session_detail(session)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no session {session} in the history"))?;
    let s = &detail.summary;
    let end = s.started_at_ms + s.duration_ms.max(1);
    let timeline = history
        .timeline(s.started_at_ms, end + 1, HR_PLOT.w)
        .map_err(|e| e.to_string())?;
    let (beats, beats_note) = if s.ecg_samples == 0 {
        let why = "no ECG in this session (a heart-rate-only strap: RR intervals only)";
        (Vec::new(), Some(why.to_string()))
    } else {
        match example_beats(history, session) {
            Ok(b) if b.is_empty() => (b, Some("no beats found in the stored ECG".to_string())),
            Ok(b) => (b, None),
            Err(why) => (Vec::new(), Some(why)),
        }
    };
    Ok(ReportData {
        detail,
        timeline,
        beats,
        beats_note,
    })
}

/// Beats at evenly spread times of the session's stored raw ECG (exported as EDF+ and read back,
/// so the report sees exactly what an export would; each dated by the export's timeline).
fn example_beats(history: &History, session: SessionId) -> Result<Vec<BeatImage>, String> {
    let mut bytes = Vec::new();
    let export = history
        .export_edf(session, &mut bytes)
        .map_err(|e| format!("no raw ECG stored ({e})"))?;
    let rec = edf::parse(&bytes).map_err(|e| format!("stored ECG unreadable ({e})"))?;
    let Some(sig) = rec.signals.iter().find(|s| !s.samples.is_empty()) else {
        return Ok(Vec::new());
    };
    let fs = sig.sampling_rate_hz;
    let mv: Vec<f32> = sig.to_millivolts().unwrap_or_else(|| sig.samples.clone());
    let peaks = detect_peaks(&mv, fs);
    let mut imager = Imager::with_sampling_rate(fs).map_err(|e| e.to_string())?;
    let (pre, post) = imager.beat_window();
    let usable: Vec<usize> = peaks
        .into_iter()
        .filter(|&p| p >= pre && p + post <= mv.len())
        .filter(|&p| {
            mv[p - pre..p + post]
                .iter()
                .all(|x| x.is_finite() && *x != 0.0)
        })
        .collect();
    // drawn without phase shift or baseline wander
    let mv = display_filtered(&mv, fs)?;
    let mut out = Vec::new();
    for k in 0..BEAT_IMAGES.min(usable.len()) {
        let p = usable[(2 * k + 1) * usable.len() / (2 * BEAT_IMAGES)];
        let mut pixels = vec![0u8; IMAGE_PIXELS];
        imager
            .render_beat(&mv[p - pre..p + post], &mut pixels)
            .map_err(|e| e.to_string())?;
        out.push(BeatImage {
            at_ms: export.timeline.sample_time_ms(p as u64),
            pixels,
        });
    }
    Ok(out)
}

/// Collect, draw and save the report of `session` as PNG at `path`.
pub fn write_report(
    history: &History,
    session: SessionId,
    path: &Path,
) -> Result<ReportSummary, String> {
    let data = collect(history, session)?;
    save_png(&render(&data), path)?;
    Ok(ReportSummary {
        points: data.timeline.len(),
        beats: data.beats.len(),
    })
}

/// Draw the report.
pub fn render(data: &ReportData) -> RgbImage {
    let mut c = Canvas::new(WIDTH, HEIGHT);
    let s = &data.detail.summary;
    let t0 = s.started_at_ms;
    let t1 = t0 + s.duration_ms.max(1);

    c.text(
        20,
        16,
        &format!("StressBeat session {} report", s.id),
        3,
        INK,
    );
    let source = match &s.source {
        stressbeat_core::history::SourceKind::Replay { file_name } => {
            format!("replay {file_name}")
        }
        other => other.as_str().to_string(),
    };
    c.text(
        20,
        54,
        &format!(
            "{}  |  {}  |  started {}Z",
            source,
            s.device_model.as_deref().unwrap_or("unknown device"),
            format_utc_iso(t0).get(..19).unwrap_or_default()
        ),
        2,
        INK,
    );
    c.text(
        20,
        78,
        &format!(
            "{}  |  {} windows  |  {} gaps  |  {} alerts  |  {} RR intervals",
            duration_text(s.duration_ms),
            s.windows,
            s.gaps,
            s.alerts,
            s.rr_intervals
        ),
        2,
        MUTED,
    );

    // Heart rate.
    let hr: Vec<(i64, f64)> = data
        .timeline
        .iter()
        .filter_map(|p| Some((mid(p), p.mean_hr_bpm?)))
        .collect();
    let (lo, hi) = hr_range(&hr);
    c.text(HR_PLOT.x, HR_PLOT.y - 26, "Heart rate (bpm)", 2, INK);
    c.frame(HR_PLOT, GRID);
    shade_gaps(&mut c, HR_PLOT, data, t0, t1);
    value_axis(&mut c, HR_PLOT, &ticks(lo, hi), (lo, hi), 0, true);
    plot_series(
        &mut c,
        HR_PLOT,
        &hr,
        t0,
        t1,
        lo,
        hi,
        max_step_ms(data),
        HR_LINE,
    );
    time_axis(&mut c, HR_PLOT, t0, t1, t0);

    // Stress score with bands and alerts.
    let h = Hysteresis::default();
    let bands = [
        (0.0, f64::from(h.elevated_enter), CALM_BAND, "calm"),
        (
            f64::from(h.elevated_enter),
            f64::from(h.high_enter),
            ELEVATED_BAND,
            "elevated",
        ),
        (f64::from(h.high_enter), 100.0, HIGH_BAND, "high"),
    ];
    c.text(
        SCORE_PLOT.x,
        SCORE_PLOT.y - 26,
        "Stress score (0-100) vs personal baseline; alerts marked",
        2,
        INK,
    );
    for (from, to, color, name) in bands {
        let top = y_of(SCORE_PLOT, to, 0.0, 100.0);
        let bottom = y_of(SCORE_PLOT, from, 0.0, 100.0);
        c.fill_rect(SCORE_PLOT.x, top, SCORE_PLOT.w, bottom - top, color);
        c.text(SCORE_PLOT.x + 6, top + 4, name, 2, MUTED);
    }
    c.frame(SCORE_PLOT, GRID);
    shade_gaps(&mut c, SCORE_PLOT, data, t0, t1);
    let quarters = [0.0, 25.0, 50.0, 75.0, 100.0];
    value_axis(&mut c, SCORE_PLOT, &quarters, (0.0, 100.0), 0, false);
    for a in &data.detail.alerts {
        let x = x_of(SCORE_PLOT, a.at_ms, t0, t1);
        c.vline(x, SCORE_PLOT.y, SCORE_PLOT.y + SCORE_PLOT.h, ALERT);
        c.fill_rect(x.saturating_sub(4), SCORE_PLOT.y, 9, 9, ALERT);
    }
    let score: Vec<(i64, f64)> = data
        .timeline
        .iter()
        .filter_map(|p| Some((mid(p), p.mean_score?)))
        .collect();
    plot_series(
        &mut c,
        SCORE_PLOT,
        &score,
        t0,
        t1,
        0.0,
        100.0,
        max_step_ms(data),
        SCORE_LINE,
    );
    if score.is_empty() {
        let msg = "no scored windows in this session";
        c.text(
            SCORE_PLOT.x + 200,
            SCORE_PLOT.y + SCORE_PLOT.h / 2,
            msg,
            2,
            INK,
        );
    }
    time_axis(&mut c, SCORE_PLOT, t0, t1, t0);

    // Example beats.
    c.text(
        20,
        BEATS_TOP,
        "Example beats (R-peak centred, shape only)",
        2,
        INK,
    );
    let img_px = IMAGE_SIZE as u32 * BEAT_SCALE;
    for (k, b) in data.beats.iter().enumerate() {
        let x = 20 + k as u32 * (img_px + 20);
        let y = BEATS_TOP + 26;
        c.gray_image(x, y, &b.pixels, BEAT_SCALE);
        c.text(
            x,
            y + img_px + 6,
            &format!("at {}", clock_text(b.at_ms - t0)),
            2,
            MUTED,
        );
    }
    if let Some(note) = &data.beats_note {
        c.text(20, BEATS_TOP + 30, note, 2, MUTED);
    }

    // HRV summary.
    let d = &data.detail;
    let sx = 20;
    let mut y = BEATS_TOP + 26 + img_px + 40;
    c.text(sx, y, "Summary", 2, INK);
    y += 26;
    let states = d
        .minutes_by_state
        .iter()
        .map(|m| format!("{} {:.1}", m.state, m.minutes))
        .collect::<Vec<_>>()
        .join(", ");
    let lines = [
        format!("mean HR     {}", opt(d.mean_hr_bpm, "bpm")),
        format!("mean RMSSD  {}", opt(d.mean_rmssd_ms, "ms")),
        format!("mean score  {}", opt(d.mean_score, "")),
        format!("max score   {}", opt(d.max_score, "")),
        if d.summary.ecg_samples == 0 {
            "beat types -  (no ECG)".to_string()
        } else {
            beat_classes(&d.beats)
        },
        "minutes by state:".to_string(),
        format!(
            " {}",
            if states.is_empty() {
                "-".into()
            } else {
                states
            }
        ),
    ];
    for l in &lines {
        c.text(sx, y, l, 2, INK);
        y += 22;
    }
    let ax = WIDTH / 2 + 20;
    let mut y = BEATS_TOP + 26 + img_px + 40;
    c.text(ax, y, &format!("Alerts ({})", d.alerts.len()), 2, INK);
    y += 26;
    for a in d.alerts.iter().take(7) {
        c.text(
            ax,
            y,
            &format!("{} {}", clock_text(a.at_ms - t0), a.kind),
            2,
            ALERT,
        );
        y += 22;
    }
    if d.alerts.len() > 7 {
        c.text(
            ax,
            y,
            &format!("... and {} more", d.alerts.len() - 7),
            2,
            MUTED,
        );
    }

    c.footer();
    c.into_image()
}

/// Beat classes as shares (windows overlap, so the stored counts are not beat counts).
fn beat_classes(b: &stressbeat_core::history::BeatCounts) -> String {
    let total = b.normal + b.supraventricular + b.ventricular + b.fusion + b.unknown;
    if total == 0 {
        return "beat classes -".into();
    }
    let pct = |n: u32| f64::from(n) * 100.0 / f64::from(total);
    format!(
        "beat classes N {:.1} %, S {:.1} %, V {:.1} %",
        pct(b.normal),
        pct(b.supraventricular),
        pct(b.ventricular)
    )
}

fn mid(p: &TimelinePoint) -> i64 {
    p.start_ms + (p.end_ms - p.start_ms) / 2
}

/// Longest step between points drawn as one line: a bucket plus a window step, or 15 s.
fn max_step_ms(data: &ReportData) -> i64 {
    let bucket = data.timeline.first().map_or(0, |p| p.end_ms - p.start_ms);
    (2 * bucket).max(15_000)
}

fn shade_gaps(c: &mut Canvas, a: PlotArea, data: &ReportData, t0: i64, t1: i64) {
    for g in &data.detail.gaps {
        let x0 = x_of(a, g.from_ms, t0, t1);
        let x1 = x_of(a, g.to_ms, t0, t1).max(x0 + 1);
        c.fill_rect(x0, a.y + 1, x1 - x0, a.h - 2, GAP);
    }
}

fn duration_text(ms: i64) -> String {
    let min = ms as f64 / 60_000.0;
    if min >= 120.0 {
        format!("{:.1} h", min / 60.0)
    } else {
        format!("{min:.1} min")
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.1} {unit}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use stressbeat_core::history::{
        EcgChunk, EndReason, HistoryOptions, HistorySink, SessionStart, SourceKind,
    };

    fn count(img: &RgbImage, a: PlotArea, color: Rgb<u8>) -> usize {
        (a.y..a.y + a.h)
            .flat_map(|y| (a.x..a.x + a.w).map(move |x| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) == color)
            .count()
    }

    #[test]
    fn report_of_a_short_simulated_session() {
        let history = History::open_in_memory(HistoryOptions::default()).unwrap();
        let run = crate::demo::simulate_into(history, 3.0, 11).unwrap();
        let w = run.history.lock().unwrap();
        let data = collect(&w, run.session).unwrap();
        assert!(data.timeline.len() >= 25, "{} points", data.timeline.len());
        assert_eq!(data.beats.len(), BEAT_IMAGES, "{:?}", data.beats_note);
        for b in &data.beats {
            assert!(b.pixels.iter().filter(|&&p| p > 128).count() > 100);
        }
        let img = render(&data);
        assert_eq!(img.dimensions(), (WIDTH, HEIGHT));
        // Both plots hold their line (a 3-minute series spans most of the width).
        assert!(count(&img, HR_PLOT, HR_LINE) > 600);
        assert!(count(&img, SCORE_PLOT, SCORE_LINE) > 600);
        // The beat images are drawn (dark pixels inside the first frame).
        let beat = PlotArea {
            x: 21,
            y: BEATS_TOP + 27,
            w: 254,
            h: 254,
        };
        let dark = (beat.y..beat.y + beat.h)
            .flat_map(|y| (beat.x..beat.x + beat.w).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count();
        assert!(dark > 300, "{dark} dark pixels in the first beat");
        // Deterministic for a given history.
        assert_eq!(render(&collect(&w, run.session).unwrap()), img);
        // An unknown session is an error.
        assert!(collect(&w, run.session + 1).is_err());
    }

    /// A beat image is dated by when its R-peak was taken: the ECG began a minute after the
    /// session (the strap took that long to stream) and stopped for two hours halfway (the
    /// export fills one hour only). Before, a beat was dated as the session's start plus its
    /// place in the export: a minute early, and an hour early after the gap.
    #[test]
    fn beats_are_dated_by_when_their_ecg_was_taken() {
        const FRAME: usize = 73;
        let history = History::open_in_memory(HistoryOptions::default()).unwrap();
        let run = crate::demo::simulate_into(history, 3.0, 11).unwrap();
        let mut w = run.history.lock().unwrap();
        // the simulated session's ECG, stored again in frames with known times
        let mut bytes = Vec::new();
        w.export_edf(run.session, &mut bytes).unwrap();
        let ecg = edf::parse(&bytes).unwrap().signals.remove(0);
        let fs = ecg.sampling_rate_hz;
        let uv: Vec<i32> = ecg.samples.iter().map(|&v| v.round() as i32).collect();
        let started = 1_900_000_000_000;
        let first_ecg_ms = started + 60_000;
        let half = uv.len() / FRAME / 2 * FRAME;
        let taken_ms = |i: usize| {
            let resumed = if i < half { 0.0 } else { 7_200_000.0 };
            first_ecg_ms as f64 + resumed + i as f64 * 1000.0 / fs
        };
        let session = w
            .begin_session(&SessionStart {
                started_at_ms: started,
                source: SourceKind::Simulator,
                device_model: None,
                device_identity: None,
            })
            .unwrap();
        for (k, frame) in uv.chunks(FRAME).enumerate() {
            let chunk = EcgChunk {
                first_sample_ms: taken_ms(k * FRAME).round() as i64,
                sampling_rate_hz: fs as u32,
                samples_uv: frame,
            };
            w.append_ecg(session, &chunk).unwrap();
        }
        let end = taken_ms(uv.len()).round() as i64;
        w.end_session(session, end, EndReason::Stopped).unwrap();
        let beats = collect(&w, session).unwrap().beats;
        assert_eq!(beats.len(), BEAT_IMAGES);
        // each beat within a sample of an R-peak's time, two of them after the gap
        let peaks: Vec<f64> = detect_peaks(&ecg.to_millivolts().unwrap(), fs)
            .into_iter()
            .map(taken_ms)
            .collect();
        for b in &beats {
            let off = peaks
                .iter()
                .map(|&t| (b.at_ms as f64 - t).abs())
                .fold(f64::INFINITY, f64::min);
            assert!(off <= 1000.0 / fs, "a beat {off} ms from any R-peak");
        }
        let after_gap = beats.iter().filter(|b| b.at_ms as f64 >= taken_ms(half));
        assert_eq!(after_gap.count(), BEAT_IMAGES / 2);
    }
}
