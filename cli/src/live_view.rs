//! The live terminal view of a monitored session: a progress bar over the session's (simulated
//! or recorded) time with heart rate and stress state, and alerts printed as they happen. When
//! stdout is not a terminal, plain lines instead (one per `PLAIN_EVERY_MS` of session time).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use stressbeat_core::monitor::{Callback, Degradation, MonitorEvent};

/// Plain output prints a status line this often (session time).
const PLAIN_EVERY_MS: i64 = 60_000;

/// Counts the summary needs. Every window the engine saw is in `scored` or in `unscored`.
#[derive(Debug, Default, Clone)]
pub struct LiveCounts {
    /// Windows the engine saw (scored or not).
    pub windows: u64,
    /// Windows with a score.
    pub scored: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Distinct degradations reported (model missing, storage failed …), in words.
    pub degraded: Vec<String>,
    /// Windows without a score by the reason's first words, in first-seen order.
    pub unscored: Vec<(String, u64)>,
}

impl LiveCounts {
    /// Windows without a score.
    pub fn unscored_total(&self) -> u64 {
        self.unscored.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug)]
struct State {
    bar: Option<ProgressBar>,
    start_ms: i64,
    length_ms: i64,
    last_plain_ms: i64,
    hr: Option<f64>,
    stress: String,
    counts: LiveCounts,
    /// Degradations said and still standing: not said again until they end.
    standing: Vec<Degradation>,
}

/// The view; its [`LiveView::callback`] is subscribed to every event kind.
#[derive(Debug, Clone)]
pub struct LiveView {
    state: Arc<Mutex<State>>,
}

fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl LiveView {
    /// A view of a session starting at `start_ms` (Unix) and lasting about `length_ms`.
    pub fn new(start_ms: i64, length_ms: i64) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let b = ProgressBar::new(length_ms.max(1) as u64 / 1000);
            let style = ProgressStyle::with_template("{spinner} [{bar:30}] {msg} ({elapsed} real)")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            b.set_style(style);
            b
        });
        Self {
            state: Arc::new(Mutex::new(State {
                bar,
                start_ms,
                length_ms,
                last_plain_ms: 0,
                hr: None,
                stress: "waiting for the first window".into(),
                counts: LiveCounts::default(),
                standing: Vec::new(),
            })),
        }
    }

    /// The listener to subscribe.
    pub fn callback(&self) -> Callback {
        let state = self.state.clone();
        Arc::new(move |ev: &MonitorEvent| {
            if let Ok(mut s) = state.lock() {
                s.on_event(ev);
            }
        })
    }

    /// Close the bar and return the counts.
    pub fn finish(&self) -> LiveCounts {
        match self.state.lock() {
            Ok(mut s) => {
                if let Some(b) = s.bar.take() {
                    b.finish_and_clear();
                }
                s.counts.clone()
            }
            Err(_) => LiveCounts::default(),
        }
    }
}

impl State {
    fn say(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }

    fn on_event(&mut self, ev: &MonitorEvent) {
        let at = match ev {
            MonitorEvent::HeartRate(hr) => {
                self.hr = Some(hr.bpm);
                hr.at_ms
            }
            MonitorEvent::Stress { update, .. } => {
                self.counts.windows += 1;
                if update.score.is_some() {
                    self.counts.scored += 1;
                } else {
                    let msg = update.message();
                    let kind = msg
                        .split([':', '('])
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    match self.counts.unscored.iter_mut().find(|(k, _)| *k == kind) {
                        Some((_, n)) => *n += 1,
                        None => self.counts.unscored.push((kind, 1)),
                    }
                }
                self.stress = match (update.score, update.state) {
                    (Some(score), Some(state)) => format!("stress {score} {}", state.name()),
                    (Some(score), None) => format!("stress {score}"),
                    _ => update.message(),
                };
                update.at_ms
            }
            MonitorEvent::Alert { alert: a, .. } => {
                self.counts.alerts += 1;
                self.say(&format!(
                    "  ! {} alert: {}",
                    clock(a.at_ms - self.start_ms),
                    a.reason
                ));
                a.at_ms
            }
            MonitorEvent::Gap { to_ms, .. } => {
                self.counts.gaps += 1;
                to_ms.round() as i64
            }
            MonitorEvent::Degraded(d) => {
                // once while it stands (the monitor reports one again when it recurs)
                if !self.standing.contains(d) {
                    let text = d.to_string();
                    self.say(&format!("  ! {text}"));
                    self.standing.push(d.clone());
                    if !self.counts.degraded.contains(&text) {
                        self.counts.degraded.push(text);
                    }
                }
                return;
            }
            MonitorEvent::EcgResumed { at_ms } => {
                let was_refused = self.standing.len();
                self.standing
                    .retain(|d| !matches!(d, Degradation::EcgUnusable { .. }));
                if self.standing.len() < was_refused {
                    self.say(&format!(
                        "  {} ECG streams again: stress comes from the ECG",
                        clock(at_ms - self.start_ms)
                    ));
                }
                return;
            }
            _ => return,
        };
        let t = at - self.start_ms;
        let msg = format!(
            "{}/{} HR {} | {} | alerts {}",
            clock(t),
            clock(self.length_ms),
            self.hr
                .map_or_else(|| "-".into(), |h| format!("{h:.0} bpm")),
            self.stress,
            self.counts.alerts
        );
        match &self.bar {
            Some(b) => {
                b.set_position((t.max(0) / 1000) as u64);
                b.set_message(msg);
            }
            None => {
                if t - self.last_plain_ms >= PLAIN_EVERY_MS {
                    self.last_plain_ms = t - t % PLAIN_EVERY_MS;
                    println!("{msg}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_degradation_is_a_sentence_reported_once() {
        let view = LiveView::new(0, 60_000);
        let callback = view.callback();
        let refused = Degradation::EcgUnusable {
            reason: "the strap refused the ECG stream (status 12)".into(),
        };
        for d in [
            refused.clone(),
            refused,
            Degradation::ModelUnavailable {
                task: stressbeat_core::model::Task::BeatType,
                reason: "missing model file".into(),
            },
        ] {
            callback(&MonitorEvent::Degraded(d));
        }
        assert_eq!(
            view.finish().degraded,
            [
                "ECG not analysed: the strap refused the ECG stream (status 12)",
                "beat-type model unavailable: missing model file"
            ]
        );
    }

    #[test]
    fn a_refusal_after_the_ecg_resumed_is_said_again() {
        let view = LiveView::new(0, 60_000);
        let callback = view.callback();
        let refused = MonitorEvent::Degraded(Degradation::EcgUnusable {
            reason: "the strap refused the ECG stream (status 12)".into(),
        });
        callback(&refused);
        callback(&refused);
        assert_eq!(view.state.lock().unwrap().standing.len(), 1);
        callback(&MonitorEvent::EcgResumed { at_ms: 30_000 });
        assert!(view.state.lock().unwrap().standing.is_empty());
        callback(&refused);
        assert_eq!(view.state.lock().unwrap().standing.len(), 1);
        assert_eq!(
            view.finish().degraded.len(),
            1,
            "counted once in the summary"
        );
    }
}
