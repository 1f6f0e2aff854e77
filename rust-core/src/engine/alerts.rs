//! Alert policy (pure): sustained high stress, lost signal, strap battery low, strap disconnected.
//!
//! Times are Unix epoch milliseconds (quiet hours need the local time of day: the caller sets the
//! local UTC offset with [`AlertEngine::set_utc_offset_minutes`]). Each call returns an
//! [`AlertOutput`]: the alerts to show and the ones suppressed (quiet hours, cooldown, rate limit),
//! which are also counted in [`AlertEngine::suppression_counts`]; nothing is dropped silently.
//!
//! Rules:
//! - High stress: the stress state stays `High` for `sustained_high_ms` → alert. While it stays
//!   high, at most one reminder per `stress_cooldown_ms`; a new episode inside the cooldown is
//!   suppressed (counted) and fires when the cooldown ends if still high.
//! - Lost signal: while streaming, no window with usable signal for `lost_signal_after_ms` → alert;
//!   the next usable window resolves it with `SignalBack`.
//! - Strap disconnected for `disconnected_after_ms` → alert; reconnection resolves it.
//! - Battery at or below `battery_low_percent` → one alert per session; re-armed only after it
//!   reads at least `battery_rearm_percent` (hysteresis). Suppressed at night, it fires at the
//!   first reading or tick after the quiet hours.
//! - Quiet hours, cooldown (per kind) and the rate limit (rolling hour and day, all kinds together)
//!   apply to every alert except resolutions, which only follow an alert that was shown. They
//!   count the alerts shown in the span before the alert's time: alerts ahead of it (shown in a
//!   session stored later, when this one is a replay stamped in the past) are not counted, nor
//!   forgotten.

use serde::{Deserialize, Serialize};

use super::StressUpdate;
use super::score::StressState;
use crate::error::{Error, Result};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Shown with every stress alert.
pub const NOT_MEDICAL: &str = "StressBeat is not a medical device.";

/// A local time-of-day window `[start, end)` in minutes after midnight; wraps midnight when
/// `start > end` (e.g. 22:00-07:00); empty when `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, minutes after local midnight (0-1439).
    pub start_minute: u16,
    /// End (exclusive), minutes after local midnight (0-1439).
    pub end_minute: u16,
}

impl QuietHours {
    /// Whether Unix time `at_ms` falls inside the window for a local UTC offset in minutes.
    pub fn contains(&self, at_ms: i64, utc_offset_minutes: i32) -> bool {
        let local = (at_ms.div_euclid(MINUTE_MS) + i64::from(utc_offset_minutes)).rem_euclid(1440);
        let (s, e) = (i64::from(self.start_minute), i64::from(self.end_minute));
        if s <= e {
            (s..e).contains(&local)
        } else {
            local >= s || local < e
        }
    }
}

/// Alert policy parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPolicy {
    /// High stress must last this long, ms (default 5 min).
    pub sustained_high_ms: i64,
    /// Minimum time between two stress alerts, ms (default 30 min).
    pub stress_cooldown_ms: i64,
    /// Minimum time between two lost-signal or two disconnection alerts, ms (default 10 min).
    pub signal_cooldown_ms: i64,
    /// At most this many alerts in any rolling hour (default 4).
    pub max_per_hour: u32,
    /// At most this many alerts in any rolling 24 h (default 12).
    pub max_per_day: u32,
    /// No alerts shown in this local window (default none).
    pub quiet_hours: Option<QuietHours>,
    /// No usable signal while streaming for this long → alert, ms (default 2 min).
    pub lost_signal_after_ms: i64,
    /// Battery at or below this → alert (default 15 %).
    pub battery_low_percent: u8,
    /// Battery must read at least this to re-arm (default 25 %).
    pub battery_rearm_percent: u8,
    /// Disconnected for this long → alert, ms (default 1 min).
    pub disconnected_after_ms: i64,
}

impl Default for AlertPolicy {
    fn default() -> Self {
        Self {
            sustained_high_ms: 5 * MINUTE_MS,
            stress_cooldown_ms: 30 * MINUTE_MS,
            signal_cooldown_ms: 10 * MINUTE_MS,
            max_per_hour: 4,
            max_per_day: 12,
            quiet_hours: None,
            lost_signal_after_ms: 2 * MINUTE_MS,
            battery_low_percent: 15,
            battery_rearm_percent: 25,
            disconnected_after_ms: MINUTE_MS,
        }
    }
}

impl AlertPolicy {
    /// Checks ranges; [`Error::InvalidArgument`] says which field is wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidArgument(format!("alert policy: {what}")));
        let times = [
            self.sustained_high_ms,
            self.stress_cooldown_ms,
            self.signal_cooldown_ms,
            self.lost_signal_after_ms,
            self.disconnected_after_ms,
        ];
        if times.iter().any(|t| *t < 0) {
            return bad("durations must not be negative");
        }
        if self.battery_rearm_percent > 100
            || self.battery_low_percent >= self.battery_rearm_percent
        {
            return bad("battery_low_percent < battery_rearm_percent ≤ 100 required");
        }
        if let Some(q) = self.quiet_hours
            && (q.start_minute >= 1440 || q.end_minute >= 1440)
        {
            return bad("quiet hours are minutes 0-1439");
        }
        Ok(())
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertKind {
    /// Stress stayed high.
    SustainedHighStress,
    /// No usable ECG while the strap streams.
    SignalLost,
    /// Usable ECG is back (resolves `SignalLost`).
    SignalBack,
    /// Strap battery low.
    BatteryLow,
    /// The strap has been disconnected for a while.
    StrapDisconnected,
    /// The strap is back (resolves `StrapDisconnected`).
    StrapReconnected,
}

impl AlertKind {
    /// Every kind, in declaration order.
    pub const ALL: [Self; 6] = [
        Self::SustainedHighStress,
        Self::SignalLost,
        Self::SignalBack,
        Self::BatteryLow,
        Self::StrapDisconnected,
        Self::StrapReconnected,
    ];

    /// Whether it resolves an earlier alert.
    pub fn is_resolution(self) -> bool {
        matches!(self, AlertKind::SignalBack | AlertKind::StrapReconnected)
    }

    /// Its severity.
    pub fn severity(self) -> Severity {
        if self.is_resolution() {
            Severity::Info
        } else {
            Severity::Warning
        }
    }
}

/// How prominently to show an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// A resolution or status note.
    Info,
    /// Needs attention.
    Warning,
}

/// An alert to show. `reason` is a human sentence without personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// When it was raised, ms.
    pub at_ms: i64,
    /// What it is about.
    pub kind: AlertKind,
    /// How prominent.
    pub severity: Severity,
    /// Why, in words.
    pub reason: String,
    /// Start of the time range it is about, ms.
    pub from_ms: i64,
    /// End of that range, ms.
    pub to_ms: i64,
}

/// Why an alert was not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuppressionCause {
    /// Inside the quiet hours.
    QuietHours,
    /// Too soon after the previous alert of the same kind.
    Cooldown,
    /// The hourly or daily limit was reached.
    RateLimit,
}

/// An alert that was due but not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedAlert {
    /// When it was due, ms.
    pub at_ms: i64,
    /// What it was about.
    pub kind: AlertKind,
    /// Why it was not shown.
    pub cause: SuppressionCause,
}

/// Suppressed alerts by cause since the engine was created (or restored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SuppressionCounts {
    /// Quiet hours.
    pub quiet_hours: u32,
    /// Cooldown.
    pub cooldown: u32,
    /// Rate limit.
    pub rate_limit: u32,
}

impl SuppressionCounts {
    /// All causes.
    pub fn total(&self) -> u32 {
        self.quiet_hours + self.cooldown + self.rate_limit
    }
}

/// The result of one call: alerts to show and alerts suppressed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertOutput {
    /// Alerts to show, in time order.
    pub alerts: Vec<Alert>,
    /// Alerts that were due but suppressed.
    pub suppressed: Vec<SuppressedAlert>,
}

/// The strap link as the alert engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkStatus {
    /// ECG is streaming.
    Streaming,
    /// Connecting, configuring or reconnecting: no data expected.
    Disconnected,
    /// Stopped by the user (or failed): no alerts about the strap.
    Stopped,
}

/// An open condition (lost signal, disconnection) awaiting its alert or resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Open {
    since_ms: i64,
    /// The alert was decided (shown or suppressed).
    decided: bool,
    /// The alert was shown (so the resolution is shown too).
    shown: bool,
}

/// Everything the alert engine remembers (serialisable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    /// Local UTC offset, minutes.
    pub utc_offset_minutes: i32,
    /// Suppressed alerts by cause.
    pub counts: SuppressionCounts,
    /// Alerts shown (resolutions aside): kind and time. Kept for as long as a cooldown or the
    /// rate limit can count them (see `AlertEngine::forget_shown`).
    #[serde(default)]
    shown: Vec<(AlertKind, i64)>,
    high_since: Option<i64>,
    /// Windows of the current high episode, and how many of them were scored.
    #[serde(default)]
    high_windows: u32,
    #[serde(default)]
    high_scored: u32,
    next_stress_due: Option<i64>,
    link: LinkStatus,
    streaming_since: Option<i64>,
    last_usable_ms: Option<i64>,
    signal_lost: Option<Open>,
    disconnected: Option<Open>,
    battery_armed: bool,
    battery_shown_this_session: bool,
    battery_pending: Option<u8>,
}

impl AlertState {
    fn end_high_episode(&mut self) {
        self.high_since = None;
        self.high_windows = 0;
        self.high_scored = 0;
        self.next_stress_due = None;
    }
}

impl Default for AlertState {
    fn default() -> Self {
        Self {
            utc_offset_minutes: 0,
            counts: SuppressionCounts::default(),
            shown: Vec::new(),
            high_since: None,
            high_windows: 0,
            high_scored: 0,
            next_stress_due: None,
            link: LinkStatus::Stopped,
            streaming_since: None,
            last_usable_ms: None,
            signal_lost: None,
            disconnected: None,
            battery_armed: true,
            battery_shown_this_session: false,
            battery_pending: None,
        }
    }
}

/// The alert engine. See the module docs.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    policy: AlertPolicy,
    state: AlertState,
}

impl AlertEngine {
    /// A new engine. Errors: an invalid policy.
    pub fn new(policy: AlertPolicy) -> Result<Self> {
        Self::restore(policy, AlertState::default())
    }

    /// Resume from a saved state. Errors: an invalid policy.
    pub fn restore(policy: AlertPolicy, state: AlertState) -> Result<Self> {
        policy.validate()?;
        Ok(Self { policy, state })
    }

    /// The policy.
    pub fn policy(&self) -> &AlertPolicy {
        &self.policy
    }

    /// The state to persist.
    pub fn state(&self) -> &AlertState {
        &self.state
    }

    /// Suppressed alerts by cause.
    pub fn suppression_counts(&self) -> SuppressionCounts {
        self.state.counts
    }

    /// Set the local UTC offset (minutes, −18 h … +18 h) used for quiet hours.
    pub fn set_utc_offset_minutes(&mut self, minutes: i32) -> Result<()> {
        if !(-18 * 60..=18 * 60).contains(&minutes) {
            return Err(Error::InvalidArgument(format!(
                "UTC offset {minutes} min out of range"
            )));
        }
        self.state.utc_offset_minutes = minutes;
        Ok(())
    }

    /// A new monitoring session: the battery alert may fire again; stress, signal and link
    /// tracking restart (cooldowns, rate-limit history and counts stay; a session stored before
    /// an earlier one, such as a replay, or a clock set back, is not held back by the alerts in
    /// its future, which still count for a later session).
    pub fn start_session(&mut self, at_ms: i64) {
        let s = &mut self.state;
        s.battery_shown_this_session = false;
        s.battery_armed = true;
        s.battery_pending = None;
        s.end_high_episode();
        s.signal_lost = None;
        s.disconnected = None;
        s.last_usable_ms = None;
        s.link = LinkStatus::Stopped;
        s.streaming_since = Some(at_ms);
    }

    /// A stress update from the [`super::StressEngine`].
    pub fn on_stress(&mut self, u: &StressUpdate) -> AlertOutput {
        let mut out = AlertOutput::default();
        let now = u.at_ms;
        if u.reason == Some(super::NoScoreReason::OutOfOrder) {
            return out;
        }
        if u.has_usable_signal() {
            self.state.last_usable_ms = Some(now);
            if let Some(open) = self.state.signal_lost.take()
                && open.shown
            {
                let reason = format!(
                    "Usable ECG is back after {}.",
                    duration(now - open.since_ms)
                );
                self.emit(&mut out, AlertKind::SignalBack, now, open.since_ms, reason);
            }
        }
        if u.state == Some(StressState::High) {
            let s = &mut self.state;
            let since = *s.high_since.get_or_insert(now);
            s.high_windows = s.high_windows.saturating_add(1);
            s.high_scored = s.high_scored.saturating_add(u.score.is_some().into());
            let due = s
                .next_stress_due
                .unwrap_or(since.saturating_add(self.policy.sustained_high_ms));
            // The held state outlives unscored windows (poor signal, irregular beats): "high
            // for 5 min" needs at least half of the episode's windows scored.
            let scored_through = u64::from(s.high_scored) * 2 >= u64::from(s.high_windows);
            if now >= due && scored_through {
                self.decide_stress(&mut out, since, now);
            }
        } else {
            self.state.end_high_episode();
        }
        self.check_time(&mut out, now);
        out
    }

    /// The strap link changed.
    pub fn on_link(&mut self, at_ms: i64, status: LinkStatus) -> AlertOutput {
        let mut out = AlertOutput::default();
        let s = &mut self.state;
        match status {
            LinkStatus::Streaming => {
                if s.link != LinkStatus::Streaming {
                    s.streaming_since = Some(at_ms);
                }
                if let Some(open) = s.disconnected.take()
                    && open.shown
                {
                    let reason = format!(
                        "The strap is connected again after {}.",
                        duration(at_ms - open.since_ms)
                    );
                    self.emit(
                        &mut out,
                        AlertKind::StrapReconnected,
                        at_ms,
                        open.since_ms,
                        reason,
                    );
                }
            }
            LinkStatus::Disconnected => {
                if s.disconnected.is_none() {
                    s.disconnected = Some(Open {
                        since_ms: at_ms,
                        decided: false,
                        shown: false,
                    });
                }
            }
            LinkStatus::Stopped => {
                s.disconnected = None;
                s.signal_lost = None;
                s.end_high_episode();
            }
        }
        self.state.link = status;
        self.check_time(&mut out, at_ms);
        out
    }

    /// A battery reading from the strap.
    pub fn on_battery(&mut self, at_ms: i64, percent: u8) -> AlertOutput {
        let mut out = AlertOutput::default();
        let s = &mut self.state;
        if percent >= self.policy.battery_rearm_percent {
            s.battery_armed = true;
            s.battery_pending = None;
        } else if percent <= self.policy.battery_low_percent
            && s.battery_armed
            && !s.battery_shown_this_session
        {
            s.battery_armed = false;
            let shown = self.decide(&mut out, AlertKind::BatteryLow, at_ms, at_ms, |p| {
                battery_reason(percent, p)
            });
            if !shown {
                self.state.battery_pending = Some(percent);
            }
        }
        self.check_time(&mut out, at_ms);
        out
    }

    /// Evaluate time-based conditions (disconnection, lost signal, a pending battery alert) at
    /// `now_ms` when no other event arrives.
    pub fn tick(&mut self, now_ms: i64) -> AlertOutput {
        let mut out = AlertOutput::default();
        self.check_time(&mut out, now_ms);
        out
    }

    fn check_time(&mut self, out: &mut AlertOutput, now: i64) {
        let p = self.policy.clone();
        if let Some(open) = self.state.disconnected
            && !open.decided
            && now - open.since_ms >= p.disconnected_after_ms
        {
            let reason = format!(
                "The strap has been disconnected for {}: check that it is worn and in range.",
                duration(now - open.since_ms)
            );
            let shown = self.decide(
                out,
                AlertKind::StrapDisconnected,
                now,
                open.since_ms,
                |_| reason.clone(),
            );
            self.state.disconnected = Some(Open {
                decided: true,
                shown,
                ..open
            });
        }
        if self.state.link == LinkStatus::Streaming && self.state.signal_lost.is_none() {
            let reference = self
                .state
                .last_usable_ms
                .max(self.state.streaming_since)
                .unwrap_or(now);
            if now - reference >= p.lost_signal_after_ms {
                let reason = format!(
                    "No usable ECG for {} while the strap is connected: check its contact and \
                     moisten the electrodes.",
                    duration(now - reference)
                );
                let shown = self.decide(out, AlertKind::SignalLost, now, reference, |_| {
                    reason.clone()
                });
                self.state.signal_lost = Some(Open {
                    since_ms: reference,
                    decided: true,
                    shown,
                });
            }
        }
        if let Some(percent) = self.state.battery_pending
            && !self.state.battery_shown_this_session
            && self.suppression(AlertKind::BatteryLow, now).is_none()
        {
            self.state.battery_pending = None;
            self.decide(out, AlertKind::BatteryLow, now, now, |p| {
                battery_reason(percent, p)
            });
        }
    }

    fn decide_stress(&mut self, out: &mut AlertOutput, since: i64, now: i64) {
        let p = &self.policy;
        let reminder = p.stress_cooldown_ms.max(p.sustained_high_ms);
        let shown = self.decide(out, AlertKind::SustainedHighStress, now, since, |_| {
            format!(
                "Stress has stayed high for {} (score in the high band without a break). \
                 Consider a short pause or slow breathing. {NOT_MEDICAL}",
                duration(now - since)
            )
        });
        let last = self.last_shown(AlertKind::SustainedHighStress, now);
        self.state.next_stress_due = Some(match (shown, last) {
            (false, Some(t)) if now < t + self.policy.stress_cooldown_ms => {
                t + self.policy.stress_cooldown_ms
            }
            _ => now + reminder,
        });
    }

    /// Why an alert of `kind` at `now` would be suppressed, if it would.
    fn suppression(&self, kind: AlertKind, now: i64) -> Option<SuppressionCause> {
        let p = &self.policy;
        if p.quiet_hours
            .is_some_and(|q| q.contains(now, self.state.utc_offset_minutes))
        {
            return Some(SuppressionCause::QuietHours);
        }
        let cooldown = match kind {
            AlertKind::SustainedHighStress => p.stress_cooldown_ms,
            AlertKind::SignalLost | AlertKind::StrapDisconnected => p.signal_cooldown_ms,
            _ => 0,
        };
        if self.shown_within(Some(kind), now, cooldown) > 0 {
            return Some(SuppressionCause::Cooldown);
        }
        if self.shown_within(None, now, HOUR_MS) >= p.max_per_hour as usize
            || self.shown_within(None, now, DAY_MS) >= p.max_per_day as usize
        {
            return Some(SuppressionCause::RateLimit);
        }
        None
    }

    /// Alerts of `kind` (`None`: of any kind) shown in the `span_ms` up to `now`; those after
    /// `now` do not count.
    fn shown_within(&self, kind: Option<AlertKind>, now: i64, span_ms: i64) -> usize {
        self.state
            .shown
            .iter()
            .filter(|&&(k, t)| {
                kind.is_none_or(|kind| kind == k) && (0..span_ms).contains(&now.saturating_sub(t))
            })
            .count()
    }

    /// The latest alert of `kind` shown at or before `now`.
    fn last_shown(&self, kind: AlertKind, now: i64) -> Option<i64> {
        self.state
            .shown
            .iter()
            .filter(|&&(k, t)| k == kind && t <= now)
            .map(|&(_, t)| t)
            .max()
    }

    /// Forget the shown alerts no cooldown or rate limit can count any more: those a day (or the
    /// longest cooldown) before `now` and, ahead of `now` (a session stored before an earlier
    /// one), before the latest one. Sessions stamped back and forth could still pile them up: at
    /// most twice what the hourly limit lets through in that span stay, the oldest forgotten
    /// first.
    fn forget_shown(&mut self, now: i64) {
        let p = &self.policy;
        let keep = DAY_MS.max(p.stress_cooldown_ms).max(p.signal_cooldown_ms);
        let shown = &mut self.state.shown;
        let latest = shown.iter().map(|&(_, t)| t).fold(now, i64::max);
        shown.retain(|&(_, t)| {
            let reference = if t <= now { now } else { latest };
            reference.saturating_sub(t) < keep
        });
        let hours = keep.unsigned_abs().div_ceil(HOUR_MS.unsigned_abs());
        let most = hours
            .saturating_mul(2)
            .saturating_mul(p.max_per_hour.into());
        if shown.len() as u64 > most {
            shown.sort_unstable_by_key(|&(_, t)| t);
            shown.drain(..shown.len() - most as usize);
        }
    }

    /// Show or suppress an alert; returns whether it was shown.
    fn decide(
        &mut self,
        out: &mut AlertOutput,
        kind: AlertKind,
        now: i64,
        from: i64,
        reason: impl FnOnce(&AlertPolicy) -> String,
    ) -> bool {
        if let Some(cause) = self.suppression(kind, now) {
            let c = &mut self.state.counts;
            match cause {
                SuppressionCause::QuietHours => c.quiet_hours += 1,
                SuppressionCause::Cooldown => c.cooldown += 1,
                SuppressionCause::RateLimit => c.rate_limit += 1,
            }
            out.suppressed.push(SuppressedAlert {
                at_ms: now,
                kind,
                cause,
            });
            return false;
        }
        self.state.shown.push((kind, now));
        self.forget_shown(now);
        if kind == AlertKind::BatteryLow {
            self.state.battery_shown_this_session = true;
        }
        let text = reason(&self.policy);
        self.emit(out, kind, now, from, text);
        true
    }

    fn emit(&self, out: &mut AlertOutput, kind: AlertKind, now: i64, from: i64, reason: String) {
        out.alerts.push(Alert {
            at_ms: now,
            kind,
            severity: kind.severity(),
            reason,
            from_ms: from.min(now),
            to_ms: now,
        });
    }
}

fn battery_reason(percent: u8, p: &AlertPolicy) -> String {
    format!(
        "Strap battery at {percent} % (alert at {} % or less): charge or replace it soon.",
        p.battery_low_percent
    )
}

/// "45 s" or "5 min".
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s} s")
    } else {
        format!("{} min", s / 60)
    }
}
