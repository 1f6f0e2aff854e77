package com.stressbeat.app.logic

import com.stressbeat.core.AlertKind
import com.stressbeat.core.ExportFormat
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.StressBeatException

/** What the user can do about a problem (a button in the UI). */
enum class UserAction { NONE, RETRY, PICK_FILE_AGAIN, CHECK_STRAP, UPDATE_APP, START_NEW_HISTORY, FREE_SPACE, REPORT_BUG, USE_OTHER_SOURCE }

/** A problem as the user reads it: short title, one sentence, one action. Never the raw core message. */
data class UserMessage(val title: String, val body: String, val action: UserAction)

/**
 * All user-facing text of the app's logic (English; the shell may move it to string resources).
 * Nothing here shows a number the user did not already see, an address or a file path.
 */
object UserText {
    /** Shown wherever heart rate, stress or alerts are (live, history, alerts, notifications). */
    const val DISCLAIMER = "StressBeat is not a medical device. Results are for personal insight, not diagnosis."
    /** For one-line places (notifications). */
    const val DISCLAIMER_SHORT = "Not a medical device."

    fun level(l: Level?): String = when (l) {
        Level.CALM -> "Calm"
        Level.ELEVATED -> "Elevated"
        Level.HIGH -> "High"
        null -> "Not yet known"
    }

    /** The stress line of the live screen and the notification. */
    fun stress(s: Stress?): String = when {
        s == null -> "Waiting for the first 30 s of data"
        s.score != null -> "${level(s.level)} · ${s.score}/100"
        s.level != null -> "${level(s.level)} (no score now: ${s.noScoreReason ?: "no usable window"})"
        else -> s.noScoreReason ?: "No score yet"
    }

    fun heartRate(hr: HeartRate?, nowMs: Long): String = when {
        hr == null -> "— bpm"
        hr.isStale(nowMs) -> "— bpm (last ${hr.bpm} bpm, ${hr.ageMs(nowMs) / 1000} s ago)"
        else -> "${hr.bpm} bpm"
    }

    fun heartRateSource(s: HeartRateSource): String = when (s) {
        HeartRateSource.ECG -> "from the ECG"
        HeartRateSource.STRAP -> "from the strap"
    }

    fun connection(c: Connection): String = when (c) {
        Connection.Idle -> "Not connected"
        Connection.Connecting -> "Connecting to the strap…"
        Connection.Configuring -> "Setting up the strap…"
        Connection.Streaming -> "Connected"
        is Connection.Reconnecting -> "Connection lost, reconnecting (attempt ${c.attempt})…"
        Connection.Stopped -> "Disconnected"
        is Connection.Failed -> "Could not connect to the strap. Check it is worn and nearby, then start again."
    }

    fun signal(s: Signal?): String = when {
        s == null -> "Signal: waiting"
        s.issue == Issue.GOOD && s.usable -> "Signal: good"
        else -> "Signal: " + when (s.issue) {
            Issue.GOOD -> "weak"
            Issue.NOISE -> "noisy — keep still or tighten the strap"
            Issue.SATURATION -> "overloaded — moisten the electrodes"
            Issue.LEAD_OFF -> "no contact — moisten the electrodes and check the strap"
        }
    }

    fun calibration(c: Calibration?): String? = when (c) {
        null -> null
        is Calibration.Running -> "Calibrating: sit calmly, ${c.remainingS} s left (${c.acceptedWindows} calm windows so far)"
        is Calibration.Completed -> "Calibration done: scores are now relative to your calm baseline."
        is Calibration.Failed -> when {
            c.poorSignalWindows >= c.irregularWindows && c.poorSignalWindows > 0 ->
                "Calibration failed: the signal was too poor. Moisten the electrodes, sit still and try again."
            c.irregularWindows > 0 ->
                "Calibration failed: the heart rhythm was too irregular to build a baseline."
            else -> "Calibration failed: not enough calm data (${c.acceptedWindows} of ${c.neededWindows}). Try a longer calibration."
        }
    }

    /** `null`: a reason this version does not know (written by a newer one). */
    fun endReason(r: SessionEndReason?): String = when (r) {
        SessionEndReason.STOPPED -> "You stopped the session."
        SessionEndReason.DISCONNECTED -> "The strap was lost and did not come back."
        SessionEndReason.SOURCE_ENDED -> "The recording or simulation ended."
        SessionEndReason.ERROR -> "The session stopped because of an error."
        SessionEndReason.INTERRUPTED -> "The app was closed before the session could end; data up to then is kept."
        null -> "The session ended."
    }

    /** A stored session's end, `null` while it runs. */
    fun sessionEnd(s: SessionItem): String? = if (s.ended) endReason(s.endReason) else null

    fun session(s: SessionStatus): String = when (s) {
        SessionStatus.NotStarted -> "No session running"
        is SessionStatus.Running -> "Monitoring"
        is SessionStatus.Finished -> "Session ended: ${endReason(s.endReason)}"
    }

    fun alertTitle(k: AlertKind): String = when (k) {
        AlertKind.SUSTAINED_HIGH_STRESS -> "Stress has stayed high"
        AlertKind.SIGNAL_LOST -> "No usable signal"
        AlertKind.SIGNAL_BACK -> "Signal is back"
        AlertKind.BATTERY_LOW -> "Strap battery low"
        AlertKind.STRAP_DISCONNECTED -> "Strap disconnected"
        AlertKind.STRAP_RECONNECTED -> "Strap reconnected"
    }

    fun notice(n: Notice): String = when (n) {
        Notice.STRESS_MODEL_UNAVAILABLE -> "The stress model could not be loaded; scores use a simpler heart-rate-variability method."
        Notice.BEAT_MODEL_UNAVAILABLE -> "The beat-type model could not be loaded; heartbeats are not classified (all count as normal)."
        Notice.STORAGE_FAILED -> "The history cannot be written right now; live results continue. Check free space."
        Notice.ECG_UNUSABLE -> "The strap's ECG is not available; stress is estimated from its heart beats."
    }

    /** Why a picked set of files cannot be replayed. */
    fun replayProblem(p: ReplayFiles.Problem): String = when (p) {
        ReplayFiles.Problem.NOTHING_PICKED -> "No file was picked."
        ReplayFiles.Problem.WFDB_HEADER_MISSING -> "A WFDB recording needs its .hea header: pick the .hea and the .dat together."
        ReplayFiles.Problem.WFDB_DATA_MISSING -> "A WFDB header needs its signal file: pick the .hea and the .dat together."
        ReplayFiles.Problem.SEVERAL_RECORDINGS -> "Pick one recording at a time (a WFDB record: its .hea and .dat)."
    }

    /** Bluetooth permission ("Nearby devices" on Android 12+, location before) denied. */
    const val BLUETOOTH_PERMISSION_NEEDED =
        "StressBeat needs the \"Nearby devices\" permission to find and connect to your strap. Allow it, then try again (Settings → Apps → StressBeat → Permissions)."

    /** A picked document could not be read (provider gone, permission revoked, I/O error). */
    const val PICKED_FILE_UNREADABLE = "The picked file could not be read. Pick it again."

    /** The export could not be written to the chosen document. */
    const val EXPORT_NOT_WRITTEN = "The export could not be saved there. Pick another place and try again."

    /** Scanning failed: Bluetooth is off (or the adapter is missing). */
    const val BLUETOOTH_OFF = "Turn Bluetooth on and allow nearby devices, then scan again."

    /** A strap start without the Bluetooth permission (the service's notification). */
    val BLUETOOTH_PERMISSION_PROBLEM =
        UserMessage("Bluetooth permission needed", BLUETOOTH_PERMISSION_NEEDED, UserAction.RETRY)

    /** The platform refused the foreground service ([bluetooth]: a strap session). */
    fun notStarted(bluetooth: Boolean): UserMessage = UserMessage("Monitoring not started",
        if (bluetooth) BLUETOOTH_PERMISSION_NEEDED else "Open StressBeat and start again.", UserAction.RETRY)

    /**
     * The core's native library (or JNA's) could not be loaded: a broken install, an ABI the APK
     * lacks, or a library not aligned for the device's 16 KB memory pages.
     */
    val NATIVE_LIBRARY_MISSING = UserMessage("StressBeat cannot run here",
        "A part of the app is missing or does not suit this device. Reinstall or update the app; if that does not help, please report it.",
        UserAction.UPDATE_APP)

    // --- the shell's labels (screens, notifications) ---

    const val OPENING_HISTORY = "Opening your history…"
    val TABS = listOf("Live", "History", "Alerts")

    const val FIND_STRAP = "Find my strap"
    const val SCANNING = "Scanning…"
    fun startWith(strapName: String) = "Start with $strapName"
    /** A strap that advertises no name. */
    const val UNNAMED_STRAP = "Heart rate strap"
    const val DEMO_SIMULATOR = "Demo: simulator"
    const val REPLAY_RECORDING = "Replay a recording"
    const val STOP = "Stop"
    const val CANCEL = "Cancel"
    fun strapBattery(percent: Int) = "Strap battery $percent %"
    fun alertLine(a: Alert) = "${alertTitle(a.kind)}: ${a.reason}"
    /** A live alert as a notification (the core's reason is already user text). */
    fun alertNotification(a: Alert) = UserMessage(alertTitle(a.kind), a.reason, UserAction.NONE)

    /** The calibration button: its length from [durationS] (whole minutes when it is one). */
    fun calibrateButton(durationS: Int = Calibration.DURATION_S): String =
        "Calibrate (${if (durationS % 60 == 0) "${durationS / 60} min" else "$durationS s"}, sit calmly)"

    /** A calibration asked for before a session: the core times it from the session's start. */
    const val CALIBRATION_REQUESTED =
        "Calibration requested: it starts with the next session. Sit calmly for its first minutes."

    const val STRESS_24H = "Stress, last 24 h"
    const val HEART_RATE_24H = "Heart rate, last 24 h"
    const val LAST_7_DAYS = "Last 7 days (mean stress)"
    const val SESSIONS = "Sessions"
    fun sessionLine(startedAt: String, s: SessionItem) =
        "$startedAt · ${s.source} · ${s.windows} windows · ${s.alerts} alerts"
    fun exportButton(f: ExportFormat) = "Export " + when (f) {
        ExportFormat.WINDOWS_CSV -> "CSV"
        ExportFormat.RR_CSV -> "RR"
        ExportFormat.EDF -> "EDF"
    }
    fun exported(rows: Long) = "Exported ($rows rows)."

    fun noAlerts(days: Int = HistoryRepository.ALERT_DAYS) = "No alerts in the last $days days."
    const val MARK_AS_SEEN = "Mark as seen"
    const val SEEN = "Seen"

    const val CHANNEL_LIVE = "Live monitoring"
    const val CHANNEL_ALERTS = "Alerts"
    /** The live notification: heart rate and stress (hidden on the lock screen). */
    fun liveTitle(s: LiveState, nowMs: Long) = "${heartRate(s.heartRate, nowMs)} · ${stress(s.stress)}"
    fun liveText(s: LiveState) = "${connection(s.connection)} · $DISCLAIMER_SHORT"
    /** What the lock screen shows instead of the live notification and of an alert. */
    const val LOCK_SCREEN_MONITORING = "StressBeat is monitoring"
    const val LOCK_SCREEN_ALERT_TITLE = "StressBeat"
    const val LOCK_SCREEN_ALERT_TEXT = "Open the app to see the alert"

    /** Every core error → what the user reads and can do. */
    fun error(e: StressBeatException): UserMessage = when (e) {
        is StressBeatException.FileNotFound ->
            UserMessage("File not found", "The recording could not be found. Pick it again.", UserAction.PICK_FILE_AGAIN)
        is StressBeatException.CannotReadFile ->
            UserMessage("Cannot open the file", "The file could not be read or written. Check the storage permission and try again.", UserAction.RETRY)
        is StressBeatException.UnsupportedFormat ->
            UserMessage("Unsupported file", "This file format is not supported (WFDB, EDF, CSV or a Polar capture).", UserAction.PICK_FILE_AGAIN)
        is StressBeatException.CorruptRecording ->
            UserMessage("Damaged recording", "The recording is damaged or incomplete. Export or record it again.", UserAction.PICK_FILE_AGAIN)
        is StressBeatException.InvalidArgument ->
            UserMessage("Something went wrong", "The app made an invalid request. Please report this.", UserAction.REPORT_BUG)
        is StressBeatException.NotEnoughSignal ->
            UserMessage("Not enough signal", "There is too little clean signal. Check the strap is worn snugly and record longer.", UserAction.CHECK_STRAP)
        is StressBeatException.Storage ->
            UserMessage("History unavailable", "The history could not be opened or written. Free some space and try again.", UserAction.FREE_SPACE)
        is StressBeatException.HistoryFromNewerApp ->
            UserMessage("Update the app", "Your history was written by a newer version of StressBeat. Update the app; your history is kept.", UserAction.UPDATE_APP)
        is StressBeatException.HistoryDamaged ->
            UserMessage("History damaged", "The history file is damaged. It is kept as it is; you can start a new history.", UserAction.START_NEW_HISTORY)
        is StressBeatException.Model ->
            UserMessage("Model missing", "A stress model file is missing or damaged. Reinstall or update the app.", UserAction.UPDATE_APP)
        is StressBeatException.InvalidState ->
            UserMessage("Not possible right now", "Stop the running session first, then try again.", UserAction.RETRY)
        is StressBeatException.Unsupported ->
            UserMessage("Not available", "This is not available on this device. Use a chest strap, the simulator or a recording.", UserAction.USE_OTHER_SOURCE)
        is StressBeatException.Internal ->
            UserMessage("Unexpected error", "Something went wrong inside StressBeat. Please report it.", UserAction.REPORT_BUG)
    }
}

/** Log lines without health data, values, addresses or paths: kinds and names only. */
object LogSafe {
    fun error(e: Throwable): String = when (e) {
        is StressBeatException -> "StressBeatException.${e.javaClass.simpleName}"
        else -> e.javaClass.simpleName
    }

    fun state(s: LiveState): String =
        "connection=${s.connection.javaClass.simpleName} session=${s.session.javaClass.simpleName}"
}
