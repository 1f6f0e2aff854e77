//! `stressbeat images`: the model's input images of a recording, as PNG files, for inspection.
//!
//! Drawn at the recording's own sampling rate from the signal as recorded (mV, unfiltered; each
//! beat's median is removed in the overlay), with R-peaks from the core's detector. The models
//! see the same channels computed at 130 Hz (`docs/model-format.md`); at another rate the beat
//! window holds more samples, which changes antialiasing slightly, not the scales.

use std::path::{Path, PathBuf};

use clap::Args;
use stressbeat_core::{
    analysis,
    imaging::{Channel, IMAGE_PIXELS, IMAGE_SIZE, Imager, WindowData},
};

use crate::{NOT_MEDICAL, RecordingArgs, Unit};

/// Length of one window image, seconds (the stress model's window).
const WINDOW_S: f64 = 30.0;

#[derive(Args, Debug)]
#[command(
    after_help = "Beats: 0.3 s before to 0.5 s after each detected R-peak, at the recording's own rate. \
Windows: consecutive full 30 s windows from --from.
Files are named by their sample in the recording (at its own rate, as `stressbeat beats` and \
`stressbeat peaks` report them): a beat by its R-peak, a window by its first sample."
)]
pub struct ImagesArgs {
    /// Recording: a WFDB header (.hea), an EDF/EDF+ file (.edf), a CSV file (.csv) or a Polar H10
    /// capture (raw PMD frames, as `stressbeat record` writes).
    path: PathBuf,
    /// Folder for the PNG files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Image channel to draw (repeatable): beat (one PNG per beat,
    /// beat_000012345.png), or beat_overlay, tachogram, poincare (one PNG per full 30 s window,
    /// tachogram_000021600.png). Default: all.
    #[arg(long = "channel", value_name = "NAME")]
    channels: Vec<String>,
    /// ECG lead index (default: the first ECG-like lead, MLII where present; never one labelled
    /// as another signal, e.g. EEG or Resp).
    #[arg(long)]
    lead: Option<usize>,
    /// Start of the span, seconds from the start of the recording.
    #[arg(long, value_name = "S", value_parser = crate::args::non_negative, allow_negative_numbers = true)]
    from: Option<f64>,
    /// End of the span, seconds from the start of the recording.
    #[arg(long, value_name = "S", value_parser = crate::args::non_negative, allow_negative_numbers = true)]
    to: Option<f64>,
    /// CSV only: sampling rate in Hz (otherwise taken from a time column; warns if they differ).
    #[arg(long, value_name = "HZ", value_parser = crate::args::sampling_rate, allow_negative_numbers = true)]
    fs: Option<f64>,
    /// CSV only: unit of the samples (default: the unit the file states, else µV or mV by amplitude).
    #[arg(long, value_enum)]
    unit: Option<Unit>,
}

/// Run `stressbeat images`.
pub fn images(args: &ImagesArgs) -> Result<(), String> {
    let mut channels: Vec<Channel> = Vec::new();
    for name in &args.channels {
        let c = Channel::from_name(name).map_err(|e| e.to_string())?;
        // a channel given twice is drawn once (its files would be written and counted twice)
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    if channels.is_empty() {
        channels = Channel::ALL.to_vec();
    }
    let recording = RecordingArgs {
        path: args.path.clone(),
        channel: args.lead,
        from: args.from,
        to: args.to,
        fs: args.fs,
        unit: args.unit,
        json: false,
        option_prefix: "",
    };
    let rec = recording.load()?;
    let span = recording.select_span(&rec)?;
    let peaks: Vec<usize> = analysis::detect_peaks(&span)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|p| p - span.start_sample)
        .collect();
    let fs = span.sampling_rate_hz;
    let signal = &span.samples_mv;
    let mut imager = Imager::with_sampling_rate(fs).map_err(|e| e.to_string())?;
    if args.out.exists() && !args.out.is_dir() {
        return Err(format!(
            "{}: exists and is not a folder (--out names the folder the PNGs go to)",
            args.out.display()
        ));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let mut img = vec![0u8; IMAGE_PIXELS];
    let mut written = 0usize;

    if channels.contains(&Channel::Beat) {
        let (pre, post) = imager.beat_window();
        for &p in &peaks {
            let Some(beat) = p.checked_sub(pre).and_then(|s| signal.get(s..p + post)) else {
                continue; // window runs off the span
            };
            imager
                .render_beat(beat, &mut img)
                .map_err(|e| e.to_string())?;
            let sample = span.start_sample + p;
            save_png(&args.out.join(format!("beat_{sample:09}.png")), &img)?;
            written += 1;
        }
    }

    let window_len = (WINDOW_S * fs).round() as usize;
    let windows = signal.len() / window_len.max(1);
    let mut rr_s = Vec::new();
    let mut window_peaks = Vec::new();
    for k in 0..windows {
        let (start, end) = (k * window_len, (k + 1) * window_len);
        window_peaks.clear();
        window_peaks.extend(
            peaks
                .iter()
                .filter(|&&p| (start..end).contains(&p))
                .map(|p| p - start),
        );
        rr_s.clear();
        rr_s.extend(
            window_peaks
                .windows(2)
                .map(|w| ((w[1] - w[0]) as f64 / fs) as f32),
        );
        let window = WindowData {
            signal: &signal[start..end],
            peaks: &window_peaks,
            rr_s: &rr_s,
        };
        for &channel in channels.iter().filter(|c| c.is_window_channel()) {
            imager
                .render(channel, &window, &mut img)
                .map_err(|e| e.to_string())?;
            let sample = span.start_sample + start;
            save_png(&args.out.join(format!("{channel}_{sample:09}.png")), &img)?;
            written += 1;
        }
    }
    println!(
        "{}: {} R-peaks, {windows} full {WINDOW_S:.0} s windows; wrote {written} PNG files to {}",
        rec.name,
        peaks.len(),
        args.out.display()
    );
    println!("{NOT_MEDICAL}");
    Ok(())
}

fn save_png(path: &Path, img: &[u8]) -> Result<(), String> {
    image::save_buffer(
        path,
        img,
        IMAGE_SIZE as u32,
        IMAGE_SIZE as u32,
        image::ExtendedColorType::L8,
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}
