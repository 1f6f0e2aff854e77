package com.stressbeat.core

import java.io.File
import java.nio.file.Files
import java.util.Collections
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The live monitor through the bindings, as an app would use it: a simulated strap session
 * (as fast as possible) observed through Kotlin listeners, then the history queried.
 */
class StressMonitorTest {
    private val dir: File = Files.createTempDirectory("stressbeat-monitor").toFile()

    @AfterEach
    fun cleanup() {
        dir.deleteRecursively()
    }

    private fun config(db: String = File(dir, "history.db").path) = StressMonitorConfig(
        databasePath = db,
        stressModelPath = null,
        beatModelPath = null,
        strictModels = false,
        alerts = null,
        utcOffsetMinutes = 0,
    )

    private fun simulator(minutes: Double, stress: List<SimulatedStress> = emptyList()) =
        MonitorSource.Simulator(minutes = minutes, seed = 7uL, stress = stress, faults = "", realtime = false)

    /** Every event of every kind, in arrival order. */
    class Recorder : HeartRateListener, EcgListener, SignalQualityListener, StressListener,
        AlertListener, ConnectionListener, StatusListener {
        val events: MutableList<Any> = Collections.synchronizedList(mutableListOf())
        override fun onHeartRate(update: HeartRateUpdate) { events += update }
        override fun onEcg(batch: EcgBatch) { events += batch }
        override fun onSignalQuality(update: SignalQualityUpdate) { events += update }
        override fun onStress(update: StressUpdate) { events += update }
        override fun onAlert(alert: MonitorAlert) { events += alert }
        override fun onConnection(update: ConnectionUpdate) { events += update }
        override fun onStatus(status: MonitorStatus) { events += status }

        fun subscribeAll(m: StressMonitor) = listOf(
            m.subscribeHeartRate(this), m.subscribeEcg(this), m.subscribeSignalQuality(this),
            m.subscribeStress(this), m.subscribeAlerts(this), m.subscribeConnection(this),
            m.subscribeStatus(this),
        )
    }

    @Test
    fun simulatedSessionThroughListenersThenHistory() {
        val monitor = StressMonitor(config())
        val rec = Recorder()
        val subs = rec.subscribeAll(monitor)
        monitor.start(simulator(4.0, listOf(SimulatedStress(120.0, 90.0, 1.0))))
        monitor.waitUntilFinished()
        assertFalse(monitor.isRunning())
        val events = rec.events.toList()

        // Started first, finished last.
        val started = events.first()
        assertTrue(started is MonitorStatus.SessionStarted, "first event $started")
        val finished = events.last()
        assertTrue(finished is MonitorStatus.Finished, "last event $finished")
        finished as MonitorStatus.Finished
        assertEquals((started as MonitorStatus.SessionStarted).sessionId, finished.sessionId)
        assertEquals(SessionEndReason.SOURCE_ENDED, finished.endReason)

        // The connection comes up, then stops.
        val states = events.filterIsInstance<ConnectionUpdate>().map { it.state }
        assertTrue(ConnectionStateRecord.Streaming in states, "$states")
        assertEquals(ConnectionStateRecord.Stopped, states.last())

        // In order: ECG batches and stress updates move forward in time.
        val ecg = events.filterIsInstance<EcgBatch>()
        assertTrue(ecg.size > 4 * 60, "${ecg.size} ECG batches")
        assertTrue(ecg.zipWithNext().all { (a, b) -> b.firstSampleMs > a.firstSampleMs }, "ECG out of order")
        assertTrue(ecg.all { it.samplesMv.size in 20..200 }, "batches, never single samples")
        val stress = events.filterIsInstance<StressUpdate>()
        assertEquals(finished.windows, stress.size.toULong())
        assertTrue(stress.size > 30, "${stress.size} windows")
        assertTrue(stress.zipWithNext().all { (a, b) -> b.atMs - a.atMs == 5000L || b.atMs - a.atMs in 4990L..5010L })
        assertTrue(stress.any { it.score != null }, "some windows scored")
        assertTrue(events.filterIsInstance<HeartRateUpdate>().any { !it.fromEcg && it.bpm > 30 }, "strap heart rate")
        assertTrue(events.filterIsInstance<SignalQualityUpdate>().isNotEmpty())

        // The history has the session with every window.
        val sessions = monitor.sessions(10u)
        assertEquals(1, sessions.size)
        val s = sessions[0]
        assertEquals(finished.sessionId, s.id)
        assertEquals(stress.size.toUInt(), s.windows)
        assertEquals(SessionSource.Simulator, s.source)
        assertEquals(SessionEndReason.SOURCE_ENDED, s.endReason)
        val timeline = monitor.timeline(stress.first().windowStartMs, stress.last().atMs + 1, 10u)
        assertTrue(timeline.isNotEmpty() && timeline.size <= 10, "$timeline")
        assertEquals(stress.size.toUInt(), timeline.sumOf { it.windows })
        // days as the app's calendar bounds them (a DST day lasts 23 or 25 hours)
        val t = s.startedAtMs
        val days = monitor.dailySummariesForDays(listOf(
            LocalDay("before", t - 86_400_000, t), LocalDay("today", t, t + 86_400_000)))
        assertEquals(listOf("before" to 0u, "today" to stress.size.toUInt()), days.map { it.date to it.windows })
        val csv = File(dir, "windows.csv")
        assertEquals(stress.size.toULong(), monitor.exportSession(s.id, ExportFormat.WINDOWS_CSV, csv.path))
        assertTrue(csv.readLines().size == stress.size + 1, "header + one row per window")

        subs.forEach { it.close() }
        monitor.shutdown()
        assertThrows<StressBeatException.InvalidState> { monitor.sessions(1u) }
    }

    @Test
    fun currentStateAtOnceAndCancelledSubscriptionGetsNothing() {
        val monitor = StressMonitor(config())
        val seen = Collections.synchronizedList(mutableListOf<EcgBatch>())
        lateinit var sub: Subscription
        sub = monitor.subscribeEcg(object : EcgListener {
            override fun onEcg(batch: EcgBatch) {
                seen += batch
                if (seen.size == 5) sub.cancel() // from inside the listener, on the monitor's thread
            }
        })
        monitor.start(simulator(1.5))
        monitor.waitUntilFinished()
        assertEquals(5, seen.size, "no event after cancel()")
        assertFalse(sub.isActive())

        // A new listener gets the current state at once (the session's last state: stopped).
        val now = mutableListOf<ConnectionUpdate>()
        val s2 = monitor.subscribeConnection(object : ConnectionListener {
            override fun onConnection(update: ConnectionUpdate) { now += update }
        })
        assertEquals(ConnectionStateRecord.Stopped, now.single().state)
        s2.close()
        monitor.shutdown()
    }

    @Test
    fun heartRateOnlySimulatorIsScoredFromItsRrIntervals() {
        val monitor = StressMonitor(config())
        val rec = Recorder()
        val subs = rec.subscribeAll(monitor)
        monitor.start(MonitorSource.Simulator(minutes = 3.0, seed = 7uL, stress = emptyList(), faults = "",
            realtime = false, heartRateOnly = true))
        monitor.waitUntilFinished()
        assertTrue(rec.events.none { it is EcgBatch }, "no ECG stream from a heart-rate-only strap")
        val stress = rec.events.filterIsInstance<StressUpdate>()
        // (180 s - 30 s window - connection set-up) / 5 s
        assertTrue(stress.size in 24..31, "${stress.size} windows")
        val scored = stress.count { it.score != null && !it.fromHrvFallback }
        assertTrue(scored * 10 >= stress.size * 8, "$scored of ${stress.size} scored by the model")
        assertTrue(stress.all { it.rrOnly }, "every window from the strap's RR intervals")
        subs.forEach { it.close() }
        monitor.shutdown()
    }

    @Test
    fun refusedEcgIsReportedThenItsReturn() {
        val monitor = StressMonitor(config())
        val rec = Recorder()
        val subs = rec.subscribeAll(monitor)
        // refused from 3:00 to 4:40 and from 6:00 on; the strap's start is retried every minute
        monitor.start(MonitorSource.Simulator(minutes = 7.0, seed = 7uL, stress = emptyList(),
            faults = "ecgrefused=3m/100s", realtime = false))
        monitor.waitUntilFinished()
        val ecgStatus = rec.events.filterIsInstance<MonitorStatus>()
            .filter { it is MonitorStatus.EcgUnusable || it is MonitorStatus.EcgResumed }
        assertEquals(3, ecgStatus.size, "$ecgStatus")
        assertTrue(ecgStatus[0] is MonitorStatus.EcgUnusable && ecgStatus[2] is MonitorStatus.EcgUnusable)
        val resumed = ecgStatus[1] as MonitorStatus.EcgResumed
        val refusedAt = rec.events.filterIsInstance<StressUpdate>().filter { it.rrOnly }.map { it.atMs }
        assertTrue(refusedAt.isNotEmpty() && resumed.atMs > refusedAt.first(), "resumed after RR-only windows")
        subs.forEach { it.close() }
        monitor.shutdown()
    }

    @Test
    fun calibrationReportsProgressThenTheBaseline() {
        val monitor = StressMonitor(config())
        assertEquals(null, monitor.personalBaseline())
        val rec = Recorder()
        val sub = monitor.subscribeStress(rec)
        assertThrows<StressBeatException.InvalidArgument> { monitor.startCalibration(60u) }
        monitor.startCalibration(120u)
        monitor.start(simulator(4.0))
        monitor.waitUntilFinished()
        val stress = rec.events.filterIsInstance<StressUpdate>()
        val running = stress.mapNotNull { it.calibration as? CalibrationProgress.Running }
        assertTrue(running.size >= 10, "${running.size} progress updates")
        assertTrue(running.zipWithNext().all { (a, b) -> b.remainingS <= a.remainingS }, "time left only falls")
        // the whole length as asked for, on every update (an app needs no copy of it for a progress bar)
        assertEquals(setOf(120u), running.map { it.durationS }.toSet())
        assertTrue(running.all { it.remainingS <= it.durationS }, "$running")
        // every calibration window is counted once: accepted, or left out for a reason
        assertEquals(
            (1..running.size).map { it.toUInt() },
            running.map { it.acceptedWindows + it.poorSignalWindows + it.irregularRhythmWindows },
        )
        val done = stress.mapNotNull { it.calibration as? CalibrationProgress.Completed }.single()
        assertTrue(done.windows >= 12u, "${done.windows} windows")
        assertTrue(stress.takeWhile { it.score == null }.all { it.calibration != null }, "no score while calibrating")
        val b = monitor.personalBaseline()
        assertNotNull(b)
        assertTrue(b!!.calibrated && b.mature, "$b")
        assertTrue(b.hrBpm!! in 45.0..110.0, "$b")
        monitor.startCalibration(600u)
        monitor.cancelCalibration()
        sub.close()
        monitor.shutdown()
        assertThrows<StressBeatException.InvalidState> { monitor.personalBaseline() }
    }

    @Test
    fun typedErrors() {
        // A database in a directory that does not exist.
        val e = assertThrows<StressBeatException.Storage> {
            StressMonitor(config(db = File(dir, "no/such/dir/history.db").path))
        }
        assertFalse(e.message!!.contains(dir.path), "no paths in messages: ${e.message}")

        // One session at a time.
        val monitor = StressMonitor(config())
        monitor.start(MonitorSource.Simulator(30.0, 1uL, emptyList(), "", true))
        assertThrows<StressBeatException.InvalidState> { monitor.start(simulator(1.0)) }
        monitor.stop()
        assertThrows<StressBeatException.InvalidArgument> {
            monitor.start(MonitorSource.Simulator(1.0, 1uL, emptyList(), "loss=lots", false))
        }
        assertThrows<StressBeatException.FileNotFound> {
            monitor.start(MonitorSource.ReplayFile(File(dir, "missing.hea").path, null))
        }
        monitor.shutdown()

        // A corrupt model file: an error when strict, else reported and scored from HRV.
        val bad = File(dir, "stress.onnx").apply { writeBytes(ByteArray(100) { it.toByte() }) }
        File(dir, "stress.json").writeText("{not json")
        assertThrows<StressBeatException.Model> {
            StressMonitor(config().copy(stressModelPath = bad.path, strictModels = true))
        }
        val lenient = StressMonitor(config().copy(stressModelPath = bad.path))
        val rec = Recorder()
        val subs = listOf(lenient.subscribeStatus(rec), lenient.subscribeStress(rec))
        lenient.start(simulator(2.0))
        lenient.waitUntilFinished()
        val problem = rec.events.filterIsInstance<MonitorStatus.ModelUnavailable>().firstOrNull()
        assertNotNull(problem, "the corrupt model is reported")
        assertEquals(ModelTask.STRESS, problem!!.task)
        assertEquals(listOf(ModelTask.STRESS), rec.events.filterIsInstance<MonitorStatus.ModelUnavailable>()
            .map { it.task }.distinct(), "the built-in beat-type model still loads")
        val scored = rec.events.filterIsInstance<StressUpdate>().filter { it.score != null }
        assertTrue(scored.isNotEmpty() && scored.all { it.fromHrvFallback }, "scores from the HRV fallback")
        subs.forEach { it.close() }
        lenient.shutdown()
    }

    /** A thread waiting for the session does not hide it: `stop` from another thread ends it. */
    @Test
    fun stopEndsASessionAnotherThreadWaitsFor() {
        val monitor = StressMonitor(config())
        monitor.start(MonitorSource.Simulator(30.0, 1uL, emptyList(), "", true))
        val waiter = Thread { monitor.waitUntilFinished() }.apply { start() }
        Thread.sleep(300)
        assertTrue(monitor.isRunning())
        assertThrows<StressBeatException.InvalidState> { monitor.start(simulator(1.0)) }
        monitor.stop()
        waiter.join(5_000)
        assertFalse(waiter.isAlive, "waitUntilFinished returned")
        assertEquals(SessionEndReason.STOPPED, monitor.sessions(1u).single().endReason)
        monitor.shutdown()
    }

    /** The alert the app shows carries the id to acknowledge it; stored alerts say which were. */
    @Test
    fun liveAlertIsAcknowledgedByItsId() {
        val monitor = StressMonitor(config())
        val rec = Recorder()
        val sub = monitor.subscribeAlerts(rec)
        // the strap away for 90 s: "disconnected" after 60 s, then "reconnected"
        monitor.start(MonitorSource.Simulator(4.0, 7uL, emptyList(), "disconnect=2m/90s", false))
        monitor.waitUntilFinished()
        val live = rec.events.filterIsInstance<MonitorAlert>()
        assertTrue(live.size >= 2, "$live")
        val first = live.first().id!!
        assertTrue(monitor.alerts(0, Long.MAX_VALUE, 100u).none { it.acknowledged })
        assertTrue(monitor.acknowledgeAlert(first))
        val stored = monitor.alerts(0, Long.MAX_VALUE, 100u)
        assertEquals(listOf(first), stored.filter { it.acknowledged }.map { it.id })
        // the stored alerts are the live ones, with the same kind and weight
        assertTrue(live.any { it.warning } && live.any { !it.warning }, "$live")
        assertEquals(live.map { Triple(it.id, it.kind, it.warning) }.toSet(),
            stored.map { Triple(it.id, it.kind, it.warning) }.toSet())
        sub.close()
        monitor.shutdown()
    }

    /** One monitor per history: a second is refused until the first is shut down. */
    @Test
    fun aSecondMonitorOnTheSameHistoryIsRefusedUntilTheFirstIsShutDown() {
        val first = StressMonitor(config())
        val e = assertThrows<StressBeatException.InvalidState> { StressMonitor(config()) }
        assertTrue(e.message!!.contains("another StressMonitor"), e.message)
        first.shutdown()
        StressMonitor(config()).use { it.shutdown() }
    }

    /** A newer app's history and a damaged file are told apart from a storage problem. */
    @Test
    fun newerAndDamagedHistoriesAreTyped() {
        val db = File(dir, "history.db")
        StressMonitor(config()).shutdown()
        // the SQLite header's user_version (bytes 60..64, big-endian): the schema version
        val bytes = db.readBytes()
        bytes[63] = 99
        db.writeBytes(bytes)
        assertThrows<StressBeatException.HistoryFromNewerApp> { StressMonitor(config()) }
        assertTrue(db.readBytes().contentEquals(bytes), "left as it was")
        val junk = File(dir, "junk.db").apply { writeBytes(ByteArray(8192) { 0x5a }) }
        assertThrows<StressBeatException.HistoryDamaged> { StressMonitor(config(db = junk.path)) }
    }
}
