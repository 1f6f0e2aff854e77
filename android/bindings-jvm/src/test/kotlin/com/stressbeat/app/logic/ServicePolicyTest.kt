package com.stressbeat.app.logic

import com.stressbeat.core.AlertConfig
import com.stressbeat.core.AlertKind
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import java.io.File
import java.nio.file.Files
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.asFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.flowOf
import kotlinx.coroutines.flow.scan
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.flow.transformWhile
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The monitor service's decisions (ServicePolicy): start commands, foreground types, notifications. */
class ServicePolicyTest {
    private val dir: File = Files.createTempDirectory("stressbeat-service").toFile()

    @AfterEach
    fun cleanup() {
        dir.deleteRecursively()
    }

    private val strap = ServicePolicy.Request(ServicePolicy.ACTION_STRAP, hasDevice = true)
    private val simulator = ServicePolicy.Request(ServicePolicy.ACTION_SIMULATOR)
    private val replay = ServicePolicy.Request(ServicePolicy.ACTION_REPLAY, hasPath = true)
    private val stop = ServicePolicy.Request(ServicePolicy.ACTION_STOP)

    private fun decide(r: ServicePolicy.Request?, active: Boolean = false, bt: Boolean = true, sdk: Int = 35,
                       core: Boolean = true) = ServicePolicy.decide(r, active, bt, sdk, core)

    @Test
    fun startCommandsAreDecidedInOrder() {
        // a stop is a stop, with or without a session, even without the core
        assertEquals(StartDecision.Stop, decide(stop))
        assertEquals(StartDecision.Stop, decide(stop, active = true))
        assertEquals(StartDecision.Stop, decide(stop, core = false))
        // a session runs: every other command leaves it alone (no refusal that would take its
        // foreground state), whatever it lacks
        for (r in listOf(strap, simulator, replay, null, ServicePolicy.Request("com.example.OTHER"),
            strap.copy(hasDevice = false), replay.copy(hasPath = false))) {
            assertEquals(StartDecision.IgnoreRunning, decide(r, active = true, bt = false), "$r")
        }
        // refusals: the app's own mistakes say nothing to the user, a missing permission does
        assertEquals(StartDecision.Refuse("no intent", null), decide(null))
        assertEquals(StartDecision.Refuse("unknown action", null), decide(ServicePolicy.Request("com.example.OTHER")))
        assertEquals(StartDecision.Refuse("unknown action", null), decide(ServicePolicy.Request(null)))
        assertEquals(StartDecision.Refuse("strap start without a device", null), decide(strap.copy(hasDevice = false)))
        assertEquals(StartDecision.Refuse("replay without a path", null), decide(replay.copy(hasPath = false)))
        val noBt = decide(strap, bt = false)
        assertTrue(noBt is StartDecision.Refuse && noBt.problem == UserText.BLUETOOTH_PERMISSION_PROBLEM, "$noBt")
        // the simulator and a replay need no Bluetooth permission
        assertEquals(StartDecision.Start(SourceKind.SIMULATOR, ForegroundType.SPECIAL_USE), decide(simulator, bt = false))
        assertEquals(StartDecision.Start(SourceKind.REPLAY, ForegroundType.SPECIAL_USE), decide(replay, bt = false))
        assertEquals(StartDecision.Start(SourceKind.STRAP, ForegroundType.CONNECTED_DEVICE), decide(strap))
        // no native library: every start refused with the problem screen's text
        for (r in listOf(strap, simulator, replay)) {
            assertEquals(StartDecision.Refuse("native library not loaded", UserText.NATIVE_LIBRARY_MISSING), decide(r, core = false))
        }
    }

    @Test
    fun foregroundTypeFollowsTheSdkAndTheSource() {
        fun row(sdk: Int) = ServicePolicy.foregroundType(sdk, bluetooth = true) to ServicePolicy.foregroundType(sdk, bluetooth = false)
        assertEquals(ForegroundType.NONE to ForegroundType.NONE, row(26))
        assertEquals(ForegroundType.NONE to ForegroundType.NONE, row(28))
        assertEquals(ForegroundType.CONNECTED_DEVICE to ForegroundType.NONE, row(29))
        assertEquals(ForegroundType.CONNECTED_DEVICE to ForegroundType.NONE, row(33)) // specialUse is API 34
        assertEquals(ForegroundType.CONNECTED_DEVICE to ForegroundType.SPECIAL_USE, row(34))
        assertEquals(ForegroundType.CONNECTED_DEVICE to ForegroundType.SPECIAL_USE, row(35))
        // a refusal never asks for a type that needs a permission
        for (sdk in 26..36) assertFalse(ServicePolicy.refusalType(sdk) == ForegroundType.CONNECTED_DEVICE, "$sdk")
        assertEquals(StartDecision.Start(SourceKind.SIMULATOR, ForegroundType.NONE), decide(simulator, sdk = 33))
        assertEquals(StartDecision.Start(SourceKind.STRAP, ForegroundType.NONE), decide(strap, sdk = 26))
    }

    private val old = SessionStatus.Finished(1, 30, SessionEndReason.STOPPED)
    private val oldAlert = Alert(5, 1_000, AlertKind.STRAP_DISCONNECTED, true, "lost")
    private val stale = LiveState(heartRate = HeartRate(88, HeartRateSource.ECG, 2_000, true), latestAlert = oldAlert,
        connection = Connection.Stopped, session = old)

    @Test
    fun theNotificationShowsNothingOfThePreviousSession() {
        assertEquals(LiveState(), ServicePolicy.notificationState(stale, old))
        assertEquals(LiveState(), ServicePolicy.notificationState(LiveState(), SessionStatus.NotStarted))
        // a late Finished of the previous session is not the new one
        assertEquals(LiveState(), ServicePolicy.notificationState(stale.copy(session = old.copy()), old))
        val running = LiveState(session = SessionStatus.Running(2), connection = Connection.Connecting)
        assertEquals(running, ServicePolicy.notificationState(running, old))
        val ended = running.copy(session = SessionStatus.Finished(2, 4, SessionEndReason.STOPPED))
        assertEquals(ended, ServicePolicy.notificationState(ended, old))
        assertEquals(running, ServicePolicy.notificationState(running, SessionStatus.NotStarted))
    }

    @Test
    fun onlyTheNewSessionsWarningsBecomeNotificationsOnce() = runBlocking {
        val s2 = SessionStatus.Running(2)
        val lost = Alert(9, 5_000, AlertKind.STRAP_DISCONNECTED, true, "lost again")
        val back = Alert(10, 6_000, AlertKind.STRAP_RECONNECTED, false, "back")
        val high = Alert(11, 7_000, AlertKind.SUSTAINED_HIGH_STRESS, true, "high")
        val states = listOf(
            stale, // what the repository holds when the service subscribes: not notified
            LiveState(session = s2),
            LiveState(session = s2, latestAlert = lost),
            LiveState(session = s2, latestAlert = lost, batteryPercent = 50), // the same alert: once
            LiveState(session = s2, latestAlert = back), // not a warning
            LiveState(session = s2, latestAlert = high),
            LiveState(session = SessionStatus.Finished(2, 9, SessionEndReason.STOPPED), latestAlert = high),
        )
        assertEquals(listOf(lost, high), ServicePolicy.alertNotifications(states.asFlow(), old).toList())
        // the new session's first state seen already carries an alert (StateFlow conflation): notified
        assertEquals(listOf(lost), ServicePolicy.alertNotifications(flowOf(stale, LiveState(session = s2, latestAlert = lost)), old).toList())
        assertTrue(ServicePolicy.notifies(lost) && !ServicePolicy.notifies(back))
    }

    /**
     * A real monitor, two simulated sessions (as fast as possible), the first with a strap
     * outage (alerts): the second one's live notification starts neutral (never the first
     * session's heart rate), none of the first session's alerts is notified again, and a
     * calibration of the app's length asked for before it is timed from its start (progress from
     * near 0, never falling).
     */
    @Test
    fun aSecondSessionNotifiesOnlyItsOwnValuesAndAlerts() = runBlocking {
        val monitor = StressMonitor(StressMonitorConfig(File(dir, "h.db").path,
            alerts = AlertConfig(disconnectedAfterS = 20u)))
        val repo = MonitorRepository(monitor)
        repo.start(MonitorSource.Simulator(minutes = 4.0, seed = 21uL, stress = emptyList(),
            faults = "disconnect=2m/60s", realtime = false))
        val first = withTimeout(60_000) { repo.state.first { it.session is SessionStatus.Finished } }
        assertNotNull(first.heartRate, "the first session left a heart rate in the state")
        assertNotNull(first.latestAlert)

        val mark = repo.state.value.session
        repo.startCalibration(Calibration.DURATION_S) // before the session: accepted, timed from its start
        // the repository's state as the service sees it (from the stale state on), unconflated
        val subscribed = CompletableDeferred<Unit>()
        val collected = async(Dispatchers.Default) {
            liveEvents(monitor) { subscribed.complete(Unit) }
                .scan(repo.state.value, LiveReducer::reduce)
                .transformWhile { emit(it); !(it.session is SessionStatus.Finished && ServicePolicy.isNewSession(mark, it.session)) }
                .toList()
        }
        subscribed.await()
        repo.start(MonitorSource.Simulator(minutes = 5.0, seed = 22uL, stress = emptyList(),
            faults = "", realtime = false))
        val states = withTimeout(120_000) { collected.await() }

        val shown = states.map { ServicePolicy.notificationState(it, mark) }
        assertEquals(LiveState(), shown.first(), "neutral until the new session runs")
        assertTrue(shown.none { it.heartRate == first.heartRate }, "never the first session's heart rate")
        assertTrue(shown.filter { it != LiveState() }.all { ServicePolicy.isNewSession(mark, it.session) })
        assertTrue(shown.any { it.heartRate != null }, "the new session's heart rate shows")

        // a calm second session raises no alert: nothing of the first one's is notified again
        // (the rule for the new session's own warnings: onlyTheNewSessionsWarningsBecomeNotificationsOnce)
        assertEquals(first.latestAlert, states.first().latestAlert)
        assertEquals(emptyList<Alert>(), ServicePolicy.alertNotifications(states.asFlow(), mark).toList())

        val running = states.mapNotNull { it.calibration as? Calibration.Running }
        assertEquals(setOf(Calibration.DURATION_S), running.map { it.durationS }.toSet(), "the app's length")
        val cal = running.map { it.progress() }
        assertTrue(cal.size >= 5, "${cal.size} calibration updates")
        assertTrue(cal.first() < 0.35f && cal.all { it in 0f..1f }, "$cal")
        assertTrue(cal.zipWithNext().all { (a, b) -> b >= a }, "$cal")
        assertTrue(states.last().calibration !is Calibration.Running)
        repo.closeAndJoin()
        monitor.shutdown()
    }
}
