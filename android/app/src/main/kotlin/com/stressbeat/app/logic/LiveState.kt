package com.stressbeat.app.logic

import com.stressbeat.core.AlertKind
import com.stressbeat.core.CalibrationProgress
import com.stressbeat.core.ConnectionStateRecord
import com.stressbeat.core.ConnectionUpdate
import com.stressbeat.core.HeartRateUpdate
import com.stressbeat.core.ModelTask
import com.stressbeat.core.MonitorAlert
import com.stressbeat.core.MonitorStatus
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.SignalIssue
import com.stressbeat.core.SignalQualityUpdate
import com.stressbeat.core.StressLevel
import com.stressbeat.core.StressUpdate

// UI models of the live screen. The generated types stop here (mapped in `LiveReducer`); the
// screens, the notification and the service only see these, and the core's plain enums that an
// app enum would only copy (`AlertKind`, `SessionEndReason`).

sealed interface Connection {
    data object Idle : Connection
    data object Connecting : Connection
    data object Configuring : Connection
    data object Streaming : Connection
    data class Reconnecting(val attempt: Int) : Connection
    data object Stopped : Connection
    data class Failed(val reason: String) : Connection
}

enum class HeartRateSource { ECG, STRAP }

data class HeartRate(val bpm: Int, val source: HeartRateSource, val atMs: Long, val contact: Boolean?) {
    fun ageMs(nowMs: Long): Long = (nowMs - atMs).coerceAtLeast(0)
    /** Older than [STALE_AFTER_MS]: show it greyed out, not as the current value. */
    fun isStale(nowMs: Long): Boolean = ageMs(nowMs) > STALE_AFTER_MS

    companion object {
        /** The strap reports about every second; ECG-derived heart rate a few times per second. */
        const val STALE_AFTER_MS = 10_000L
    }
}

enum class Level { CALM, ELEVATED, HIGH }

data class Stress(
    /** 0–100, `null` for an unscored window (then [noScoreReason] says why). */
    val score: Int?,
    /** Held across unscored windows; `null` before the first score. */
    val level: Level?,
    val confidence: Float,
    val noScoreReason: String?,
    val fromHrvFallback: Boolean,
    val rrOnly: Boolean,
    val atMs: Long,
)

sealed interface Calibration {
    /** [durationS]: the calibration's whole length as the core runs it (whoever asked for it). */
    data class Running(val acceptedWindows: Int, val poorSignalWindows: Int, val irregularWindows: Int,
                       val remainingS: Int, val durationS: Int) : Calibration {
        /** 0–1, how much of the calibration has passed: for a progress bar; clamped. */
        fun progress(): Float =
            if (durationS <= 0) 1f else (1f - remainingS.toFloat() / durationS).coerceIn(0f, 1f)
    }
    data class Completed(val windows: Int) : Calibration
    data class Failed(val acceptedWindows: Int, val neededWindows: Int, val poorSignalWindows: Int,
                      val irregularWindows: Int) : Calibration

    companion object {
        /**
         * The calibration the app asks for (`startCalibration`, the button's text): 3 min, within
         * the core's advice of 2–5 min, above its minimum (85 s before a session, 60 s during
         * one). Asked for before a session it is timed from that session's start. The progress
         * bar does not use it: the core reports each calibration's own length ([Running.durationS]).
         */
        const val DURATION_S = 180

        /**
         * Whether the screen offers "Cancel": a calibration runs, or one was asked for before a
         * session ([requestedBeforeSession]) and has not reported yet (the core cancels a
         * requested one too).
         */
        fun cancellable(c: Calibration?, requestedBeforeSession: Boolean): Boolean =
            c is Running || (requestedBeforeSession && c == null)
    }
}

enum class Issue { GOOD, NOISE, SATURATION, LEAD_OFF }

data class Signal(val score: Float, val usable: Boolean, val issue: Issue, val atMs: Long)

data class Alert(val id: Long?, val atMs: Long, val kind: AlertKind, val warning: Boolean, val reason: String)

sealed interface SessionStatus {
    data object NotStarted : SessionStatus
    /** `sessionId` 0: the history could not open it yet. */
    data class Running(val sessionId: Long) : SessionStatus
    /** [endReason]: never `INTERRUPTED` live (that one is found in the history at the next start). */
    data class Finished(val sessionId: Long, val windows: Long, val endReason: SessionEndReason) : SessionStatus
}

/** Something degraded but the session goes on. */
enum class Notice {
    /** The stress model: scores come from the HRV fallback. */
    STRESS_MODEL_UNAVAILABLE,
    /** The beat-type model: beats are not classified (all counted as normal). */
    BEAT_MODEL_UNAVAILABLE,
    STORAGE_FAILED,
    ECG_UNUSABLE,
}

/** Everything the live screen shows; immutable, built by [LiveReducer]. */
data class LiveState(
    val connection: Connection = Connection.Idle,
    val heartRate: HeartRate? = null,
    val stress: Stress? = null,
    val calibration: Calibration? = null,
    val signal: Signal? = null,
    val batteryPercent: Int? = null,
    val latestAlert: Alert? = null,
    val session: SessionStatus = SessionStatus.NotStarted,
    val notices: Set<Notice> = emptySet(),
    /** ECG gaps in this session (lost frames, a short disconnection). */
    val gaps: Int = 0,
) {
    val isRunning: Boolean get() = session is SessionStatus.Running
}

/** One listener record, in the order the monitor delivered it. */
sealed interface LiveEvent {
    data class HeartRateEvent(val update: HeartRateUpdate) : LiveEvent
    data class StressEvent(val update: StressUpdate) : LiveEvent
    data class SignalEvent(val update: SignalQualityUpdate) : LiveEvent
    data class AlertEvent(val alert: MonitorAlert) : LiveEvent
    data class ConnectionEvent(val update: ConnectionUpdate) : LiveEvent
    data class StatusEvent(val status: MonitorStatus) : LiveEvent
}

/** The pure reducer: `(state, event) -> state` (ferrostar's shape). */
object LiveReducer {
    /** ECG-derived heart rate is preferred; the strap's value shows when the ECG's is older than this. */
    const val ECG_PREFERRED_MS = 5_000L

    fun reduce(state: LiveState, event: LiveEvent): LiveState = when (event) {
        is LiveEvent.HeartRateEvent -> heartRate(state, event.update)
        is LiveEvent.StressEvent -> stress(state, event.update)
        is LiveEvent.SignalEvent -> event.update.let {
            state.copy(signal = Signal(it.score, it.usable, issue(it.issue), it.atMs))
        }
        is LiveEvent.AlertEvent -> state.copy(latestAlert = alert(event.alert))
        is LiveEvent.ConnectionEvent -> state.copy(connection = connection(event.update.state))
        is LiveEvent.StatusEvent -> status(state, event.status)
    }

    private fun heartRate(state: LiveState, u: HeartRateUpdate): LiveState {
        val source = if (u.fromEcg) HeartRateSource.ECG else HeartRateSource.STRAP
        val cur = state.heartRate
        if (source == HeartRateSource.STRAP && cur != null && cur.source == HeartRateSource.ECG &&
            u.atMs - cur.atMs < ECG_PREFERRED_MS) {
            // keep the ECG's value; the strap's contact flag is still news
            return if (u.contact != null) state.copy(heartRate = cur.copy(contact = u.contact)) else state
        }
        if (!u.bpm.isFinite() || u.bpm <= 0.0) return state
        return state.copy(heartRate = HeartRate(Math.round(u.bpm).toInt(), source, u.atMs, u.contact ?: cur?.contact))
    }

    private fun stress(state: LiveState, u: StressUpdate): LiveState {
        val s = Stress(
            score = u.score?.toInt(),
            level = u.level?.let(::level),
            confidence = u.confidence,
            noScoreReason = u.noScoreReason,
            fromHrvFallback = u.fromHrvFallback,
            rrOnly = u.rrOnly,
            atMs = u.atMs,
        )
        val calibration = when (val c = u.calibration) {
            null -> state.calibration.takeUnless { it is Calibration.Running } // cancelled: gone
            else -> calibration(c)
        }
        return state.copy(stress = s, calibration = calibration)
    }

    private fun status(state: LiveState, st: MonitorStatus): LiveState = when (st) {
        // a new session: nothing of the previous one is live any more
        is MonitorStatus.SessionStarted -> LiveState(connection = state.connection,
            session = SessionStatus.Running(st.sessionId))
        is MonitorStatus.Battery -> state.copy(batteryPercent = st.percent.toInt())
        is MonitorStatus.Gap -> state.copy(gaps = state.gaps + 1)
        is MonitorStatus.ModelUnavailable -> state.copy(notices = state.notices + when (st.task) {
            ModelTask.STRESS -> Notice.STRESS_MODEL_UNAVAILABLE
            ModelTask.BEAT_TYPE -> Notice.BEAT_MODEL_UNAVAILABLE
        })
        is MonitorStatus.StorageFailed -> state.copy(notices = state.notices + Notice.STORAGE_FAILED)
        is MonitorStatus.EcgUnusable -> state.copy(notices = state.notices + Notice.ECG_UNUSABLE)
        is MonitorStatus.EcgResumed -> state.copy(notices = state.notices - Notice.ECG_UNUSABLE)
        // one still running when the session ended: its outcome, just before Finished
        is MonitorStatus.CalibrationEnded -> state.copy(calibration = calibration(st.outcome))
        is MonitorStatus.Finished -> state.copy(
            session = SessionStatus.Finished(st.sessionId, st.windows.toLong(), st.endReason),
            calibration = state.calibration.takeUnless { it is Calibration.Running },
        )
    }

    fun connection(s: ConnectionStateRecord): Connection = when (s) {
        is ConnectionStateRecord.Idle -> Connection.Idle
        is ConnectionStateRecord.Connecting -> Connection.Connecting
        is ConnectionStateRecord.Configuring -> Connection.Configuring
        is ConnectionStateRecord.Streaming -> Connection.Streaming
        is ConnectionStateRecord.Reconnecting -> Connection.Reconnecting(s.attempt.toInt())
        is ConnectionStateRecord.Stopped -> Connection.Stopped
        is ConnectionStateRecord.Failed -> Connection.Failed(s.reason)
    }

    fun level(l: StressLevel): Level = when (l) {
        StressLevel.CALM -> Level.CALM
        StressLevel.ELEVATED -> Level.ELEVATED
        StressLevel.HIGH -> Level.HIGH
    }

    fun issue(i: SignalIssue): Issue = when (i) {
        SignalIssue.GOOD -> Issue.GOOD
        SignalIssue.NOISE -> Issue.NOISE
        SignalIssue.SATURATION -> Issue.SATURATION
        SignalIssue.LEAD_OFF -> Issue.LEAD_OFF
    }

    fun alert(a: MonitorAlert) = Alert(a.id, a.atMs, a.kind, a.warning, a.reason)

    fun calibration(c: CalibrationProgress): Calibration = when (c) {
        is CalibrationProgress.Running -> Calibration.Running(c.acceptedWindows.toInt(),
            c.poorSignalWindows.toInt(), c.irregularRhythmWindows.toInt(), c.remainingS.toInt(), c.durationS.toInt())
        is CalibrationProgress.Completed -> Calibration.Completed(c.windows.toInt())
        is CalibrationProgress.Failed -> Calibration.Failed(c.acceptedWindows.toInt(), c.neededWindows.toInt(),
            c.poorSignalWindows.toInt(), c.irregularRhythmWindows.toInt())
    }
}
