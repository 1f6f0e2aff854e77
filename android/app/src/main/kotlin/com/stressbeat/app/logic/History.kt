package com.stressbeat.app.logic

import com.stressbeat.core.AlertKind
import com.stressbeat.core.DailySummary
import com.stressbeat.core.ExportFormat
import com.stressbeat.core.LocalDay
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.SessionSource
import com.stressbeat.core.SessionSummary
import com.stressbeat.core.StoredAlert
import com.stressbeat.core.StressMonitorInterface
import com.stressbeat.core.TimelinePoint
import java.time.LocalDate
import java.time.ZoneId

/** One chart point: a timeline bucket `[startMs, endMs)` and its value. */
data class ChartPoint(val startMs: Long, val endMs: Long, val value: Double)

/**
 * A chart series: runs of consecutive buckets, drawn as separate lines. A new run starts where a
 * bucket had no windows (the core omits those buckets, so `end != next start`) or no value
 * (windows but none scored): never draw a line across a gap.
 */
data class ChartSeries(val segments: List<List<ChartPoint>>, val fromMs: Long, val toMs: Long) {
    val points: List<ChartPoint> get() = segments.flatten()
    val isEmpty: Boolean get() = segments.isEmpty()
    val maxValue: Double? get() = points.maxOfOrNull { it.value }
}

/** The daily bar of one local day (zero windows: no bar, the day stays on the axis). */
data class DailyBar(val date: LocalDate, val windows: Int, val meanScore: Double?, val maxScore: Double?,
                    val highMinutes: Double, val alerts: Int, val meanHrBpm: Double?)

/**
 * A stored session. [endReason] `null`: still running, or ended for a reason this version does
 * not know (a newer one wrote it): [ended] tells them apart.
 */
data class SessionItem(val id: Long, val startedAtMs: Long, val endedAtMs: Long?, val endReason: SessionEndReason?,
                       val source: String, val windows: Int, val alerts: Int) {
    val ended: Boolean get() = endedAtMs != null || endReason != null
}

/** A stored alert (the core leaves out kinds this version does not know). */
data class AlertItem(val id: Long, val atMs: Long, val kind: AlertKind, val warning: Boolean, val reason: String,
                     val acknowledged: Boolean)

object HistoryCharts {
    /** Split timeline buckets into drawable segments of `value` (mean score, max score, mean HR). */
    fun series(points: List<TimelinePoint>, fromMs: Long, toMs: Long,
               value: (TimelinePoint) -> Double? = { it.meanScore }): ChartSeries {
        val segments = mutableListOf<List<ChartPoint>>()
        var run = mutableListOf<ChartPoint>()
        var prevEnd: Long? = null
        for (p in points.sortedBy { it.startMs }) {
            val v = if (p.windows == 0u) null else value(p)?.takeIf { it.isFinite() }
            if (v == null || (prevEnd != null && p.startMs != prevEnd)) {
                if (run.isNotEmpty()) segments += run
                run = mutableListOf()
            }
            if (v != null) run += ChartPoint(p.startMs, p.endMs, v)
            prevEnd = p.endMs
        }
        if (run.isNotEmpty()) segments += run
        return ChartSeries(segments, fromMs, toMs)
    }

    /**
     * The last `n` local days up to `today`, oldest first, bounded by the calendar of `zone`
     * (a day across a daylight-saving change lasts 23 or 25 hours): for `dailySummariesForDays`.
     */
    fun lastDays(n: Int, today: LocalDate, zone: ZoneId): List<LocalDay> {
        require(n >= 1) { "n must be at least 1" }
        return (n - 1 downTo 0).map { back -> localDay(today.minusDays(back.toLong()), zone) }
    }

    fun localDay(date: LocalDate, zone: ZoneId) = LocalDay(
        date.toString(),
        date.atStartOfDay(zone).toInstant().toEpochMilli(),
        date.plusDays(1).atStartOfDay(zone).toInstant().toEpochMilli(),
    )

    fun bars(summaries: List<DailySummary>): List<DailyBar> = summaries.map {
        DailyBar(LocalDate.parse(it.date), it.windows.toInt(), it.meanScore, it.maxScore, it.highMinutes,
            it.alerts.toInt(), it.meanHrBpm)
    }

    fun session(s: SessionSummary) = SessionItem(
        s.id, s.startedAtMs, s.endedAtMs, s.endReason,
        when (val src = s.source) {
            is SessionSource.Ble, is SessionSource.PlatformBridge -> s.deviceModel ?: "chest strap"
            is SessionSource.Simulator -> "simulator"
            is SessionSource.Replay -> src.fileName
        },
        s.windows.toInt(), s.alerts.toInt(),
    )

    fun alert(a: StoredAlert) = AlertItem(a.id, a.atMs, a.kind, a.warning, a.reason, a.acknowledged)

    /** A file name for an export (no personal data): `stressbeat-<id>-windows.csv`. */
    fun exportFileName(sessionId: Long, format: ExportFormat): String = when (format) {
        ExportFormat.WINDOWS_CSV -> "stressbeat-$sessionId-windows.csv"
        ExportFormat.RR_CSV -> "stressbeat-$sessionId-rr.csv"
        ExportFormat.EDF -> "stressbeat-$sessionId-ecg.edf"
    }

    fun exportMimeType(format: ExportFormat): String =
        if (format == ExportFormat.EDF) "application/octet-stream" else "text/csv"
}

/** What the History screen shows. */
data class HistoryState(
    val days: List<DailyBar> = emptyList(),
    val score: ChartSeries = ChartSeries(emptyList(), 0, 0),
    val heartRate: ChartSeries = ChartSeries(emptyList(), 0, 0),
    val sessions: List<SessionItem> = emptyList(),
    val alerts: List<AlertItem> = emptyList(),
) {
    val unacknowledgedAlerts: Int get() = alerts.count { !it.acknowledged }
}

/**
 * The history queries of the History and Alerts screens. Blocking (SQLite): call off the main
 * thread. `now` and `zone` come from the caller (tests use fixed ones).
 */
class HistoryRepository(private val monitor: StressMonitorInterface) {
    fun load(nowMs: Long, today: LocalDate, zone: ZoneId, days: Int = 7, timelineHours: Int = 24,
              points: Int = 96, sessions: Int = 50, alerts: Int = 100): HistoryState {
        val from = nowMs - timelineHours * 3_600_000L
        val to = nowMs + 1
        val timeline = monitor.timeline(from, to, points.toUInt())
        return HistoryState(
            days = HistoryCharts.bars(monitor.dailySummariesForDays(HistoryCharts.lastDays(days, today, zone))),
            score = HistoryCharts.series(timeline, from, to) { it.meanScore },
            heartRate = HistoryCharts.series(timeline, from, to) { it.meanHrBpm },
            sessions = monitor.sessions(sessions.toUInt()).map(HistoryCharts::session),
            alerts = alerts(nowMs, alerts),
        )
    }

    /** Stored alerts of the last [ALERT_DAYS] days, newest first. */
    fun alerts(nowMs: Long, limit: Int = 100): List<AlertItem> =
        monitor.alerts(nowMs - ALERT_DAYS * 86_400_000L, nowMs + 1, limit.toUInt()).map(HistoryCharts::alert)

    /** Mark an alert as seen; `false` when it no longer exists (retention deleted it). */
    fun acknowledge(alertId: Long): Boolean = monitor.acknowledgeAlert(alertId)

    /** Export to `path` (a cache file, or `/proc/self/fd/N` of a picked document). */
    fun export(sessionId: Long, format: ExportFormat, path: String): Long =
        monitor.exportSession(sessionId, format, path).toLong()

    companion object {
        /** How far back the Alerts screen lists alerts (its empty text says so: [UserText.noAlerts]). */
        const val ALERT_DAYS = 30
    }
}
