package com.stressbeat.app.logic

import com.stressbeat.core.CalibrationProgress
import com.stressbeat.core.ConnectionStateRecord
import com.stressbeat.core.ConnectionUpdate
import com.stressbeat.core.HeartRateUpdate
import com.stressbeat.core.ModelTask
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.MonitorStatus
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.SimulatedStress
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.scan
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.flow.transformWhile
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The live screen's state: the pure reducer, then a real monitor's simulated session through the Flows. */
class LiveStateTest {
    private val dir: File = Files.createTempDirectory("stressbeat-live").toFile()

    @AfterEach
    fun cleanup() {
        dir.deleteRecursively()
    }

    private fun monitor() = StressMonitor(StressMonitorConfig(File(dir, "h.db").path))

    @Test
    fun ecgHeartRateIsPreferredAndAgesIntoStale() {
        var s = LiveState()
        s = LiveReducer.reduce(s, LiveEvent.HeartRateEvent(HeartRateUpdate(10_000, 72.4, listOf(830.0), null, true)))
        assertEquals(HeartRate(72, HeartRateSource.ECG, 10_000, null), s.heartRate)
        // the strap's own value 2 s later does not replace the ECG's, its contact flag is kept
        s = LiveReducer.reduce(s, LiveEvent.HeartRateEvent(HeartRateUpdate(12_000, 75.0, emptyList(), true, false)))
        assertEquals(72, s.heartRate!!.bpm)
        assertEquals(true, s.heartRate!!.contact)
        // no ECG for 5 s: the strap's value shows
        s = LiveReducer.reduce(s, LiveEvent.HeartRateEvent(HeartRateUpdate(16_000, 75.0, emptyList(), true, false)))
        assertEquals(HeartRate(75, HeartRateSource.STRAP, 16_000, true), s.heartRate)
        assertTrue(!s.heartRate!!.isStale(26_000))
        assertTrue(s.heartRate!!.isStale(26_001))
        assertEquals("— bpm (last 75 bpm, 14 s ago)", UserText.heartRate(s.heartRate, 30_000))
    }

    @Test
    fun aNewSessionClearsTheLastOnesValuesAndFinishedKeepsThem() {
        var s = LiveState()
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.SessionStarted(1)))
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.Battery(5, 40u)))
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.EcgUnusable("refused")))
        s = LiveReducer.reduce(s, LiveEvent.ConnectionEvent(ConnectionUpdate(6, ConnectionStateRecord.Reconnecting(2u))))
        assertEquals(Connection.Reconnecting(2), s.connection)
        assertEquals(setOf(Notice.ECG_UNUSABLE), s.notices)
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.EcgResumed(7)))
        assertEquals(emptySet<Notice>(), s.notices)
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.ModelUnavailable(ModelTask.BEAT_TYPE, "damaged")))
        assertEquals(setOf(Notice.BEAT_MODEL_UNAVAILABLE), s.notices)
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.ModelUnavailable(ModelTask.STRESS, "damaged")))
        assertEquals(setOf(Notice.BEAT_MODEL_UNAVAILABLE, Notice.STRESS_MODEL_UNAVAILABLE), s.notices)
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.Finished(1, 12u, SessionEndReason.DISCONNECTED)))
        assertEquals(SessionStatus.Finished(1, 12, SessionEndReason.DISCONNECTED), s.session)
        assertEquals(40, s.batteryPercent, "the last values stay visible after the end")
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.SessionStarted(2)))
        assertEquals(LiveState(connection = Connection.Reconnecting(2), session = SessionStatus.Running(2)), s)
    }

    @Test
    fun calibrationProgressAndCancel() {
        fun running(remaining: Int, duration: Int = 180) = Calibration.Running(3, 0, 0, remaining, duration)
        assertEquals(0f, running(180).progress())
        assertEquals(0.5f, running(90).progress())
        assertEquals(1f, running(0).progress())
        assertEquals(0.75f, running(30, duration = 120).progress(), "the core's length, not the app's")
        assertEquals(0f, running(300, duration = 300).progress())
        assertEquals(0f, running(200).progress(), "clamped")
        assertEquals(1f, running(10, duration = 0).progress())
        // the core's progress record keeps its length
        val reported = LiveReducer.calibration(CalibrationProgress.Running(4u, 1u, 0u, 45u, 300u))
        assertEquals(Calibration.Running(4, 1, 0, 45, 300), reported)
        assertEquals(0.85f, (reported as Calibration.Running).progress(), 1e-6f)
        // the app's length is within the core's advice (2–5 min) and above its minimum before a session
        assertTrue(Calibration.DURATION_S in 120..300)
        // Cancel: a running calibration, or one asked for before a session that has not reported yet
        assertTrue(Calibration.cancellable(running(10), requestedBeforeSession = false))
        assertTrue(Calibration.cancellable(null, requestedBeforeSession = true))
        assertFalse(Calibration.cancellable(null, requestedBeforeSession = false))
        assertFalse(Calibration.cancellable(Calibration.Completed(12), requestedBeforeSession = true))
        assertFalse(Calibration.cancellable(Calibration.Failed(3, 12, 9, 0), requestedBeforeSession = false))
        // one the session's end cut short: its outcome, which Finished keeps
        var s = LiveState(calibration = running(100))
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(
            MonitorStatus.CalibrationEnded(CalibrationProgress.Failed(2u, 12u, 0u, 0u))))
        s = LiveReducer.reduce(s, LiveEvent.StatusEvent(MonitorStatus.Finished(4, 9u, SessionEndReason.STOPPED)))
        assertEquals(Calibration.Failed(2, 12, 0, 0), s.calibration)
    }

    /**
     * A real monitor, a simulated wearer (as fast as possible) with a stress episode from 3 to
     * 6 min, a calibration first: the reduced state sequence goes through set-up, calibration,
     * plausible heart rates, a stress level that rises during the episode, and ends with the
     * simulation's end reason.
     */
    @Test
    fun simulatedSessionGivesASensibleStateSequence() = runBlocking {
        val monitor = monitor()
        val subscribed = CompletableDeferred<Unit>()
        val collected = async(Dispatchers.Default) {
            liveEvents(monitor) { subscribed.complete(Unit) }
                .scan(LiveState(), LiveReducer::reduce)
                .transformWhile { emit(it); it.session !is SessionStatus.Finished }
                .toList()
        }
        subscribed.await()
        monitor.startCalibration(120u)
        monitor.start(MonitorSource.Simulator(minutes = 8.0, seed = 11uL,
            stress = listOf(SimulatedStress(startS = 180.0, durationS = 180.0, intensity = 1.0)),
            faults = "", realtime = false))
        val states = withTimeout(120_000) { collected.await() }
        val session = monitor.sessions(1u).single()
        monitor.shutdown()

        assertEquals(LiveState(), states.first())
        val end = states.last().session
        assertTrue(end is SessionStatus.Finished, "$end")
        end as SessionStatus.Finished
        assertEquals(SessionEndReason.SOURCE_ENDED, end.endReason)
        assertEquals(session.id, end.sessionId)
        assertEquals(session.windows.toLong(), end.windows)
        // Running(id) before, with the same id
        assertTrue(states.any { it.session == SessionStatus.Running(session.id) })
        // the connection came up and went down in order
        val conns = states.map { it.connection }.distinct()
        assertTrue(conns.indexOf(Connection.Streaming) in 1 until conns.indexOf(Connection.Stopped), "$conns")

        val hrs = states.mapNotNull { it.heartRate }.distinct()
        assertTrue(hrs.size > 100, "${hrs.size} heart rates")
        assertTrue(hrs.all { it.bpm in 40..180 }, "${hrs.map { it.bpm }.filter { it !in 40..180 }}")
        assertTrue(hrs.any { it.source == HeartRateSource.ECG })

        // calibration: progress whose time left only falls, then an outcome (or nothing running at the end)
        val cal = states.mapNotNull { it.calibration as? Calibration.Running }.distinct()
        assertTrue(cal.size >= 5, "${cal.size} calibration updates")
        assertTrue(cal.zipWithNext().all { (a, b) -> b.remainingS <= a.remainingS })
        assertEquals(setOf(120), cal.map { it.durationS }.toSet(), "the length asked for")
        assertTrue(states.last().calibration !is Calibration.Running)

        // stress: the episode (stored times: the session start + 180…360 s) scores above the calm stretch
        val stress = states.mapNotNull { it.stress }.distinctBy { it.atMs }
        assertEquals(session.windows.toInt(), stress.size)
        val t0 = session.startedAtMs
        fun inSpan(s: Stress, a: Int, b: Int) = s.atMs - t0 in a * 1000L..b * 1000L
        val calm = stress.filter { inSpan(it, 130, 180) && it.score != null }
        val episode = stress.filter { inSpan(it, 240, 360) && it.score != null }
        assertTrue(calm.isNotEmpty() && episode.isNotEmpty(), "calm ${calm.size}, episode ${episode.size}")
        val calmMean = calm.map { it.score!! }.average()
        val episodeMean = episode.map { it.score!! }.average()
        assertTrue(episodeMean > calmMean + 15, "episode $episodeMean vs calm $calmMean")
        assertTrue(calm.all { it.level == Level.CALM }, "${calm.map { it.level }}")
        assertTrue(episode.any { it.level == Level.HIGH || it.level == Level.ELEVATED }, "${episode.map { it.level }}")
        assertEquals(listOf("Monitoring"), states.filter { it.isRunning }.map { UserText.session(it.session) }.distinct())
    }

    /** The repository's StateFlow follows a session; after close its Subscriptions hear nothing. */
    @Test
    fun repositoryStateFollowsTheMonitorAndCloseCancelsTheSubscriptions() = runBlocking {
        val monitor = monitor()
        val repo = MonitorRepository(monitor)
        repo.start(MonitorSource.Simulator(minutes = 1.5, seed = 3uL, stress = emptyList(), faults = "", realtime = false))
        val done = withTimeout(60_000) { repo.state.first { it.session is SessionStatus.Finished } }
        val first = done.session as SessionStatus.Finished
        assertEquals(SessionEndReason.SOURCE_ENDED, first.endReason)
        assertTrue(first.windows > 0)
        assertEquals(Connection.Stopped, done.connection)

        repo.closeAndJoin()
        monitor.start(MonitorSource.Simulator(minutes = 1.0, seed = 4uL, stress = emptyList(), faults = "", realtime = false))
        monitor.waitUntilFinished()
        assertEquals(2, monitor.sessions(5u).size)
        assertEquals(done, repo.state.value, "a closed repository hears nothing of the second session")
        monitor.shutdown()
    }

    /**
     * The repository outlives sessions: its state still holds the last session's Finished when
     * the service starts the next one. awaitFinished(mark) waits for the new session's end, not
     * the stale one (the service used to stop itself at once on the second start).
     */
    @Test
    fun awaitFinishedIgnoresThePreviousSessionsEnd() = runBlocking {
        val monitor = monitor()
        val repo = MonitorRepository(monitor)
        repo.start(MonitorSource.Simulator(minutes = 1.0, seed = 5uL, stress = emptyList(), faults = "", realtime = false))
        val stale = withTimeout(60_000) { repo.state.first { it.session is SessionStatus.Finished } }.session
        stale as SessionStatus.Finished

        val mark = repo.state.value.session
        assertEquals(stale, mark)
        val end = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) { repo.awaitFinished(mark) }
        delay(200)
        assertFalse(end.isCompleted, "the previous session's Finished is not the end of the next one")
        repo.start(MonitorSource.Simulator(minutes = 1.0, seed = 6uL, stress = emptyList(), faults = "", realtime = false))
        val next = withTimeout(60_000) { end.await() }
        assertNotEquals(stale.sessionId, next.sessionId)
        assertEquals(setOf(stale.sessionId, next.sessionId), monitor.sessions(5u).map { it.id }.toSet())
        assertEquals(SessionEndReason.SOURCE_ENDED, next.endReason)

        // the rule itself: a late Finished of the marked session, or the mark itself, is not it
        val running = SessionStatus.Running(7)
        assertFalse(MonitorRepository.endsSessionAfter(running, SessionStatus.Finished(7, 3, SessionEndReason.STOPPED)))
        assertTrue(MonitorRepository.endsSessionAfter(running, SessionStatus.Finished(8, 3, SessionEndReason.STOPPED)))
        assertFalse(MonitorRepository.endsSessionAfter(stale, stale))
        assertFalse(MonitorRepository.endsSessionAfter(SessionStatus.NotStarted, running))
        assertTrue(MonitorRepository.endsSessionAfter(SessionStatus.NotStarted, SessionStatus.Finished(1, 0, SessionEndReason.STOPPED)))
        repo.closeAndJoin()
        monitor.shutdown()
    }
}
