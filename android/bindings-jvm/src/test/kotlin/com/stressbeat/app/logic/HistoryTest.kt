package com.stressbeat.app.logic

import com.stressbeat.core.AlertConfig
import com.stressbeat.core.AlertKind
import com.stressbeat.core.ExportFormat
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.SimulatedStress
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import com.stressbeat.core.TimelinePoint
import java.io.File
import java.nio.file.Files
import java.time.Duration
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * History charts, days and alerts from a real history: one simulated session (as fast as
 * possible, stored so that it ends now) with a stress episode and a strap that drops out for
 * 80 s, so the timeline has a hole and the alerts list has the disconnection and the return.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HistoryTest {
    private val berlin = ZoneId.of("Europe/Berlin")
    private val dir: File = Files.createTempDirectory("stressbeat-history").toFile()
    private lateinit var monitor: StressMonitor
    private lateinit var history: HistoryRepository
    private var sessionStart = 0L
    private var sessionEnd = 0L
    private var windows = 0

    @BeforeAll
    fun fill() {
        monitor = StressMonitor(StressMonitorConfig(File(dir, "h.db").path,
            alerts = AlertConfig(disconnectedAfterS = 20u)))
        monitor.start(MonitorSource.Simulator(minutes = 6.0, seed = 5uL,
            stress = listOf(SimulatedStress(60.0, 120.0, 1.0)), faults = "disconnect=3m/80s", realtime = false))
        monitor.waitUntilFinished()
        history = HistoryRepository(monitor)
        val s = monitor.sessions(1u).single()
        sessionStart = s.startedAtMs
        sessionEnd = s.endedAtMs!!
        windows = s.windows.toInt()
    }

    @AfterAll
    fun close() {
        monitor.shutdown()
        dir.deleteRecursively()
    }

    @Test
    fun timelineSeriesBreaksWhereTheStrapWasGone() {
        // 5-s buckets over the session and a minute either side (empty buckets are not returned)
        val from = sessionStart - 60_000
        val to = sessionEnd + 60_000
        val points = monitor.timeline(from, to, ((to - from) / 5_000).toUInt())
        val hr = HistoryCharts.series(points, from, to) { it.meanHrBpm }
        assertEquals(windows, points.sumOf { it.windows.toInt() })
        assertTrue(hr.segments.size >= 2, "a hole where the strap was gone: ${hr.segments.map { it.size }}")
        // the hole: after the drop at 3 min, at least the 80 s without a strap (less a window's overlap)
        val holes = hr.segments.zipWithNext().map { (a, b) -> b.first().startMs - a.last().endMs }
        val hole = holes.max()
        assertTrue(hole >= 50_000, "longest hole $hole ms")
        val (before, after) = hr.segments.zipWithNext()[holes.indexOf(hole)]
        // the last window touching data before the drop (at 3 min) ends up to a window (30 s) later;
        // data comes back after the 80 s outage and a reconnection
        val holeFrom = before.last().endMs - sessionStart
        val holeTo = after.first().startMs - sessionStart
        assertTrue(holeFrom in 180_000L..215_000L && holeTo >= 255_000L, "hole $holeFrom..$holeTo ms")
        assertTrue(hr.points.all { it.value in 40.0..180.0 })
        assertTrue(hr.points.all { it.startMs >= from && it.endMs <= to })
        // within a segment the buckets touch: a line may be drawn
        assertTrue(hr.segments.all { seg -> seg.zipWithNext().all { (a, b) -> a.endMs == b.startMs } })
    }

    @Test
    fun seriesRulesOnBuckets() {
        fun p(s: Long, w: Int, score: Double?) = TimelinePoint(s, s + 10, w.toUInt(), 70.0, score, score)
        val pts = listOf(p(0, 2, 10.0), p(10, 2, 20.0), p(20, 1, null), p(30, 2, 40.0), p(50, 2, 50.0), p(60, 0, null))
        val s = HistoryCharts.series(pts, 0, 70)
        assertEquals(listOf(listOf(0L, 10L), listOf(30L), listOf(50L)), s.segments.map { seg -> seg.map { it.startMs } })
        assertEquals(50.0, s.maxValue)
        assertTrue(HistoryCharts.series(emptyList(), 0, 1).isEmpty)
    }

    @Test
    fun daysFollowTheCalendarAcrossDaylightSavingChanges() {
        // pure java.time: 2026-03-29 has 23 h in Berlin, 2026-10-25 has 25 h
        val spring = HistoryCharts.lastDays(3, LocalDate.of(2026, 3, 30), berlin)
        assertEquals(listOf("2026-03-28", "2026-03-29", "2026-03-30"), spring.map { it.date })
        assertEquals(listOf(24L, 23L, 24L), spring.map { (it.endMs - it.startMs) / 3_600_000 })
        val autumn = HistoryCharts.lastDays(2, LocalDate.of(2026, 10, 25), berlin)
        assertEquals(listOf(24L, 25L), autumn.map { (it.endMs - it.startMs) / 3_600_000 })

        // a year of days up to the session's (both 2026 changes are in it), from the real history
        val today = Instant.ofEpochMilli(sessionEnd).atZone(berlin).toLocalDate()
        val days = HistoryCharts.lastDays(400, today, berlin)
        assertTrue(days.zipWithNext().all { (a, b) -> a.endMs == b.startMs }, "days touch")
        val hours = days.map { Duration.ofMillis(it.endMs - it.startMs).toHours() }
        assertEquals(setOf(23L, 24L, 25L), hours.toSet())
        // EU rule: the short day is the last Sunday of March, the long one the last Sunday of October
        fun lastSunday(d: LocalDate) = d.dayOfWeek == java.time.DayOfWeek.SUNDAY && d.plusWeeks(1).month != d.month
        val short = days.filterIndexed { i, _ -> hours[i] == 23L }.map { LocalDate.parse(it.date) }
        val long = days.filterIndexed { i, _ -> hours[i] == 25L }.map { LocalDate.parse(it.date) }
        assertTrue(short.all { it.monthValue == 3 && lastSunday(it) }, "$short")
        assertTrue(long.all { it.monthValue == 10 && lastSunday(it) }, "$long")
        val bars = HistoryCharts.bars(monitor.dailySummariesForDays(days))
        assertEquals(days.map { LocalDate.parse(it.date) }, bars.map { it.date }, "one bar per day, in order")
        assertEquals(windows, bars.sumOf { it.windows })
        val withData = bars.filter { it.windows > 0 }
        assertTrue(withData.all { it.date >= today.minusDays(1) }, "$withData")
        assertTrue(withData.all { (it.meanHrBpm ?: 0.0) in 40.0..180.0 })
        assertTrue(withData.sumOf { it.alerts } >= 2)
    }

    @Test
    fun alertsAreListedAndAcknowledged() {
        val now = System.currentTimeMillis()
        val alerts = history.alerts(now)
        val kinds = alerts.map { it.kind }
        assertTrue(AlertKind.STRAP_DISCONNECTED in kinds && AlertKind.STRAP_RECONNECTED in kinds, "$kinds")
        assertTrue(alerts.zipWithNext().all { (a, b) -> a.atMs >= b.atMs }, "newest first")
        assertTrue(alerts.none { it.acknowledged })
        val lost = alerts.first { it.kind == AlertKind.STRAP_DISCONNECTED }
        assertTrue(lost.warning && lost.reason.isNotBlank())
        assertFalse(alerts.first { it.kind == AlertKind.STRAP_RECONNECTED }.warning, "a return is information")
        assertTrue(history.acknowledge(lost.id))
        val again = history.alerts(now)
        assertEquals(listOf(lost.id), again.filter { it.acknowledged }.map { it.id })
        assertFalse(history.acknowledge(-42), "no such alert")
    }

    /** The Alerts screen's span: [HistoryRepository.ALERT_DAYS] back from now, said in its empty text. */
    @Test
    fun alertsAreListedForAlertDaysOnly() {
        val day = 86_400_000L
        val now = System.currentTimeMillis()
        val first = history.alerts(now).minOf { it.atMs }
        assertTrue(history.alerts(first + HistoryRepository.ALERT_DAYS * day - 1_000).isNotEmpty())
        assertTrue(history.alerts(first + HistoryRepository.ALERT_DAYS * day + 1_000).none { it.atMs == first })
        assertTrue(history.alerts(now + (HistoryRepository.ALERT_DAYS + 1) * day).isEmpty())
        assertEquals("No alerts in the last ${HistoryRepository.ALERT_DAYS} days.", UserText.noAlerts())
    }

    @Test
    fun loadGathersEveryPartOfTheScreenAndExports() {
        val now = sessionEnd + 1_000
        val today = Instant.ofEpochMilli(now).atZone(berlin).toLocalDate()
        val state = history.load(now, today, berlin)
        assertEquals(7, state.days.size)
        assertEquals(today, state.days.last().date)
        assertEquals(windows, state.days.sumOf { it.windows })
        val s = state.sessions.single()
        assertEquals("simulator", s.source)
        assertEquals(SessionEndReason.SOURCE_ENDED, s.endReason)
        assertEquals(UserText.endReason(SessionEndReason.SOURCE_ENDED), UserText.sessionEnd(s))
        assertFalse(state.score.isEmpty)
        assertTrue(state.unacknowledgedAlerts >= 1)
        val csv = File(dir, HistoryCharts.exportFileName(s.id, ExportFormat.WINDOWS_CSV))
        assertEquals(windows.toLong(), history.export(s.id, ExportFormat.WINDOWS_CSV, csv.path))
        assertEquals(windows + 1, csv.readLines().size)
    }
}
