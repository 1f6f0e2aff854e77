package com.stressbeat.app.logic

import com.stressbeat.core.BleCommand
import com.stressbeat.core.ConnectionStateRecord
import com.stressbeat.core.HeartRateListener
import com.stressbeat.core.HeartRateUpdate
import com.stressbeat.core.MonitorStatus
import com.stressbeat.core.SensorEventRecord
import com.stressbeat.core.SessionEndReason
import com.stressbeat.core.SessionSource
import com.stressbeat.core.StatusListener
import com.stressbeat.core.StressListener
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import com.stressbeat.core.StressUpdate
import java.io.File
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicReference
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test

/**
 * The app's GATT operation queue between a real core `StrapSession` and a fake Android GATT stack
 * answering like a Polar H10 (then real captured H10 frames, end to end into a `StressMonitor`).
 */
class GattQueueTest {
    private val clock = FakeClock(0)
    private val gatt = FakeGatt()
    private val log = Collections.synchronizedList(mutableListOf<String>())
    private val link = StrapLink(gatt, clock, ecg = true, log = { log += it }).also { gatt.queue = it.queue }

    @AfterEach
    fun cleanup() {
        link.close()
        gatt.shutdown()
    }

    /** What an H10 set-up looks like at the platform, in order (the core's flow, session.rs). */
    private val h10Setup = listOf(
        "connect", "discover", "mtu 512",
        "cccd hr 0100", "cccd battery 0100", "read battery",
        "cccd cp 0200", "cccd data 0100", "read cp",
        "write cp 0100", "write cp ${FakeGatt.hex(H10.START_ECG)}",
    )

    @Test
    fun handshakeRunsInOrderWithTheRightCccdValues() {
        link.session.start(clock())
        // synchronous completions: every callback re-enters the queue (and the session re-enters
        // execute) from inside a platform call
        assertEquals(h10Setup, gatt.calls)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        assertEquals(1, gatt.maxOutstanding, "one GATT operation at a time")
        assertNull(link.queue.current)
        assertTrue(link.queue.queued.isEmpty())
        assertEquals(512, link.queue.currentMtu)
    }

    @Test
    fun anMtuNegotiatedByThePlatformIsReportedAndNotAskedAgain() {
        gatt.linkMtu = 517
        gatt.mode = FakeGatt.Mode.MANUAL
        link.session.start(0)
        gatt.completeNext() // connected
        link.queue.onMtuChanged(517, true) // Android 14+ negotiates on its own
        gatt.mode = FakeGatt.Mode.SYNC
        gatt.completeNext() // services discovered → onConnected(517)
        assertTrue("mtu 512" !in gatt.calls, "${gatt.calls}")
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
    }

    @Test
    fun oneOperationAtATimeWhileTheCallbacksAreLate() {
        gatt.mode = FakeGatt.Mode.MANUAL
        link.session.start(0)
        val seen = mutableListOf<String>()
        var steps = 0
        while (gatt.pendingCompletions > 0) {
            assertEquals(1, gatt.pendingCompletions, "exactly one operation at the platform")
            assertTrue(link.queue.current != null)
            seen += gatt.calls.last()
            if (gatt.calls.last() == "cccd hr 0100") {
                // the session asked for its whole set-up at once: the rest waits in the queue
                assertTrue(link.queue.queued.size >= 5, "${link.queue.queued}")
            }
            clock.now += 30
            gatt.completeNext()
            steps++
        }
        assertEquals(h10Setup, seen)
        assertEquals(h10Setup.size, steps)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        assertEquals(1, gatt.maxOutstanding)
    }

    /** `execute` from several threads at once, completions on the platform's own thread. */
    @Test
    fun burstsFromManyThreadsAreSerialisedAndKeepEachCallersOrder() {
        gatt.mode = FakeGatt.Mode.ASYNC
        // the link must be up for writes: connect first (completes on the fake's thread)
        link.queue.execute(BleCommand.Connect)
        waitUntil { link.queue.isLinkUp && link.queue.current == null }
        val threads = 4
        val perThread = 50
        val go = CountDownLatch(1)
        val workers = (0 until threads).map { t ->
            Thread {
                go.await()
                for (i in 0 until perThread) {
                    link.queue.execute(BleCommand.Write(H10.HEART_RATE, byteArrayOf(t.toByte(), i.toByte())))
                }
            }.apply { start() }
        }
        go.countDown()
        workers.forEach { it.join(10_000) }
        waitUntil { link.queue.current == null && link.queue.queued.isEmpty() }
        val writes = gatt.calls.filter { it.startsWith("write") }
        assertEquals(threads * perThread, writes.size)
        for (t in 0 until threads) {
            val mine = writes.map { it.substringAfterLast(' ') }.filter { it.startsWith("%02x".format(t)) }
            assertEquals((0 until perThread).map { "%02x%02x".format(t, it) }, mine, "thread $t in order")
        }
        assertEquals(1, gatt.maxOutstanding, "never two operations at the platform")
    }

    @Test
    fun aStrapWithoutPmdStreamsHeartRateOnly() {
        gatt.noPmd = true // the control point's CCCD cannot be set: no such characteristic
        link.session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        assertTrue(gatt.calls.none { it.startsWith("write cp") }, "no ECG conversation: ${gatt.calls}")
        link.session.onNotification(H10.HEART_RATE, H10.bytes(0x10, 0x3C, 0x37, 0x04, 0x07, 0x03), 100)
        val hr = link.session.pollEvents().filterIsInstance<SensorEventRecord.HeartRate>().single()
        assertEquals(60.toUShort(), hr.bpm)
    }

    @Test
    fun refusedConnectAndFailedGattStatusAreReportedToTheSession() {
        gatt.refuse += "connect"
        link.session.start(0)
        assertEquals(listOf("connect", "close"), gatt.calls)
        val s = link.session.state()
        assertTrue(s is ConnectionStateRecord.Reconnecting && s.attempt == 1u, "$s")

        // the reconnect's link fails with GATT status 133 after connecting
        gatt.refuse.clear()
        gatt.calls.clear()
        gatt.mode = FakeGatt.Mode.MANUAL
        clock.now = 40_000
        link.tick()
        assertEquals(listOf("connect"), gatt.calls)
        link.queue.onConnectionStateChanged(false, 133)
        val s2 = link.session.state()
        assertTrue(s2 is ConnectionStateRecord.Reconnecting && s2.attempt == 2u, "$s2")
        assertNull(link.queue.current)
        // the connect's own completion, late: ignored
        gatt.completeNext()
        assertEquals(listOf("connect", "close", "close"), gatt.calls)
    }

    @Test
    fun aFailedReadIsReportedAndTheQueueMovesOn() {
        gatt.refuse += "read battery"
        link.session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state(), "a battery read is not fatal")
        assertTrue(gatt.calls.last().startsWith("write cp 02"), "ECG started after the failed read: ${gatt.calls}")
    }

    /**
     * An operation left unanswered past its timeout is link loss: Android's stack stays busy after
     * it (later operations would be refused) and its late callback must not complete anything.
     * The link is closed, the session told it is gone; it backs off and sets up a fresh link.
     */
    @Test
    fun aStuckOperationTimingOutIsTreatedAsLinkLoss() {
        gatt.silent += "read battery" // started, callback lost
        link.session.start(0)
        assertEquals("read battery", gatt.calls.last())
        assertTrue(link.queue.current is BleCommand.Read)
        assertTrue(link.queue.queued.isNotEmpty(), "the PMD set-up waits behind it")
        clock.now = 7_999
        link.queue.tick()
        assertEquals("read battery", gatt.calls.last(), "not yet")
        clock.now = 8_000
        link.queue.tick()
        assertTrue(log.any { it == "gatt: read timed out" }, "$log")
        assertEquals("close", gatt.calls.last(), "the wedged link is closed: ${gatt.calls}")
        assertFalse(link.queue.isLinkUp)
        assertNull(link.queue.current)
        assertTrue(link.queue.queued.isEmpty(), "nothing is sent on the dead link: ${link.queue.queued}")
        assertTrue(gatt.calls.none { it.startsWith("write cp") }, "${gatt.calls}")
        val s = link.session.state()
        assertTrue(s is ConnectionStateRecord.Reconnecting && s.attempt == 1u, "$s")
        // the read's late answer completes nothing and starts nothing
        val before = gatt.calls.size
        link.queue.onCharacteristicRead(H10.BATTERY, H10.bytes(87), true)
        assertEquals(before, gatt.calls.size)
        assertTrue(link.session.state() is ConnectionStateRecord.Reconnecting)

        // after the backoff: a new link, the whole set-up again
        gatt.silent.clear()
        gatt.calls.clear()
        clock.now = 40_000
        link.tick()
        assertEquals(h10Setup, gatt.calls)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
    }

    /** A repeated STATE_CONNECTED on the live link changes nothing (it used to close the link). */
    @Test
    fun aStrayConnectedCallbackOnTheLiveLinkIsIgnored() {
        link.session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        gatt.calls.clear()
        link.queue.onConnectionStateChanged(true, 0)
        assertTrue(gatt.calls.isEmpty(), "${gatt.calls}")
        assertTrue(link.queue.isLinkUp)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        // the link still works: a heart-rate notification reaches the session
        link.queue.onCharacteristicChanged(H10.HEART_RATE, H10.bytes(0x10, 0x3C, 0x37, 0x04))
        assertTrue(link.session.pollEvents().any { it is SensorEventRecord.HeartRate })
        assertTrue(log.any { it == "gatt: repeated connected callback ignored" }, "$log")
    }

    @Test
    fun theCoreGivingUpOnAConnectAbandonsItAtOnce() {
        gatt.silent += "connect" // a strap out of range: no callback ever
        link.session.start(0)
        clock.now = 15_000
        link.tick() // the core's connect timeout (15 s): Disconnect, then back off
        assertEquals(listOf("connect", "close"), gatt.calls, "the queue does not wait for the stuck connect")
        assertNull(link.queue.current)
        val s = link.session.state()
        assertTrue(s is ConnectionStateRecord.Reconnecting && s.attempt == 1u, "$s")
        // the abandoned connect's link comes up late: nobody waits for it, it is closed
        link.queue.onConnectionStateChanged(true, 0)
        assertEquals(listOf("connect", "close", "close"), gatt.calls)
        assertFalse(link.queue.isLinkUp)
    }

    /**
     * After a stop the session's ECG stop (`03 00`) and Disconnect are still queued: the
     * service waits with [GattQueue.awaitIdle] until they reached the strap before closing.
     */
    @Test
    fun awaitIdleWaitsUntilTheStopWriteAndTheDisconnectAreDone() = runBlocking {
        link.session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        assertTrue(link.queue.isIdle)
        gatt.calls.clear()
        gatt.mode = FakeGatt.Mode.MANUAL
        link.session.stop(1_000)
        assertEquals(listOf("write cp 0300"), gatt.calls)
        assertFalse(link.queue.isIdle, "the stop write is in flight, the disconnect queued")
        assertFalse(link.queue.awaitIdle(50), "bounded: gives up while the platform is silent")
        val completer = Thread {
            while (gatt.calls.lastOrNull() != "close") {
                if (gatt.pendingCompletions > 0) gatt.completeNext() else Thread.sleep(5)
            }
        }.apply { start() }
        assertTrue(link.queue.awaitIdle(5_000))
        completer.join(5_000)
        assertEquals(listOf("write cp 0300", "disconnect", "close"), gatt.calls)
        assertTrue(link.queue.isIdle)
    }

    /**
     * `close()` while a tick is running (the service cancels its ticker, which does not wait):
     * close waits for the tick, and the tick never calls the destroyed session (uniffi would
     * throw IllegalStateException "already destroyed", which crashed the tick thread).
     */
    @Test
    fun closeDuringATickWaitsForItAndLaterTicksDoNothing() {
        val inTick = CountDownLatch(1)
        val release = CountDownLatch(1)
        val blockNext = java.util.concurrent.atomic.AtomicBoolean(false)
        val c = FakeClock(0)
        val blockingClock: () -> Long = {
            if (blockNext.getAndSet(false)) {
                inTick.countDown()
                release.await(5, TimeUnit.SECONDS)
            }
            c.now
        }
        val g = FakeGatt()
        val l = StrapLink(g, blockingClock).also { g.queue = it.queue }
        l.session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, l.session.state())
        val failure = AtomicReference<Throwable?>(null)
        blockNext.set(true)
        val ticker = Thread {
            try {
                l.tick() // blocks in the queue's clock read, then calls session.tick
            } catch (e: Throwable) {
                failure.set(e)
            }
        }.apply { start() }
        assertTrue(inTick.await(5, TimeUnit.SECONDS))
        val closer = Thread { l.close() }.apply { start() }
        closer.join(200)
        assertTrue(closer.isAlive, "close waits for the running tick")
        release.countDown()
        ticker.join(5_000)
        closer.join(5_000)
        assertFalse(closer.isAlive)
        assertNull(failure.get(), "the tick called the closed session: ${failure.get()}")
        assertTrue(l.isClosed)
        l.tick() // after close: nothing, no exception
        l.close() // idempotent
        g.shutdown()
    }

    @Test
    fun linkLossMidQueueClearsItThenTheSetUpIsRedone() {
        gatt.mode = FakeGatt.Mode.MANUAL
        link.session.start(0)
        repeat(4) { gatt.completeNext() } // connected, discovered, MTU, HR CCCD
        assertTrue(link.queue.queued.isNotEmpty())
        clock.now = 2_000
        link.queue.onConnectionStateChanged(false, 8) // link supervision timeout
        assertNull(link.queue.current)
        assertTrue(link.queue.queued.isEmpty(), "${link.queue.queued}")
        assertEquals("close", gatt.calls.last())
        val s = link.session.state()
        assertTrue(s is ConnectionStateRecord.Reconnecting, "$s")
        val before = gatt.calls.size
        gatt.completeNext() // the battery CCCD write's late callback: nothing follows
        assertEquals(before, gatt.calls.size)
        assertEquals(0, gatt.pendingCompletions)

        gatt.calls.clear()
        gatt.mode = FakeGatt.Mode.SYNC
        clock.now = 40_000
        link.tick() // after the backoff: reconnect and set up again
        assertEquals(h10Setup, gatt.calls)
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
    }

    /**
     * End to end: a monitor on the platform bridge, the H10 set-up through the queue, then real
     * captured frames as notifications. The monitor derives heart rate from the ECG (a cycling
     * session: the strap logged ~100–125 bpm in these minutes) and stores the session; stopping
     * it stops the ECG stream before the link is closed.
     */
    @Test
    fun realH10FramesThroughTheQueueReachTheMonitor() {
        assumeTrue(H10.capture.isFile, "SKIPPED: capture not available at ${H10.capture.path} (set -Dstressbeat.data.dir)")
        val frames = H10.frames(400) // 400 × 73 samples at 130 Hz ≈ 3.7 min
        val dir = Files.createTempDirectory("stressbeat-gatt").toFile()
        val monitor = StressMonitor(StressMonitorConfig(File(dir, "h.db").path))
        val hr = Collections.synchronizedList(mutableListOf<HeartRateUpdate>())
        val stress = Collections.synchronizedList(mutableListOf<StressUpdate>())
        val finished = CountDownLatch(1)
        val subs = listOf(
            monitor.subscribeHeartRate(object : HeartRateListener {
                override fun onHeartRate(update: HeartRateUpdate) { hr += update }
            }),
            monitor.subscribeStress(object : StressListener {
                override fun onStress(update: StressUpdate) { stress += update }
            }),
            monitor.subscribeStatus(object : StatusListener {
                override fun onStatus(status: MonitorStatus) { if (status is MonitorStatus.Finished) finished.countDown() }
            }),
        )
        clock.now = 1_000
        monitor.start(link.monitorSource())
        link.session.start(clock())
        assertEquals(h10Setup, gatt.calls)
        val ts0 = H10.timestampNs(frames[0])
        for (f in frames) {
            clock.now = 1_500 + (H10.timestampNs(f) - ts0) / 1_000_000 + 15
            link.queue.onCharacteristicChanged(H10.DATA.uppercase(), f) // Android may hand out upper case
            link.tick()
        }
        val lastAt = clock.now
        // the monitor's thread works through the frames (paced by their times): wait for the last windows
        waitUntil(20_000) { stress.isNotEmpty() && stress.last().atMs - stress.first().atMs >= 150_000 }
        assertEquals(ConnectionStateRecord.Streaming, link.session.state())
        gatt.calls.clear()
        clock.now = lastAt + 100
        monitor.stop()
        assertTrue(finished.await(10, TimeUnit.SECONDS))
        // the ECG stream is stopped first, then the link closed
        assertEquals(listOf("write cp 0300", "disconnect", "close"), gatt.calls)
        assertEquals(ConnectionStateRecord.Stopped, link.session.state())

        val ecgHr = hr.filter { it.fromEcg }.map { it.bpm }
        assertTrue(ecgHr.size >= 100, "${ecgHr.size} heart rate updates from the ECG")
        assertTrue(ecgHr.all { it in 40.0..220.0 }, "${ecgHr.filter { it !in 40.0..220.0 }.take(5)}")
        val median = ecgHr.sorted()[ecgHr.size / 2]
        assertTrue(median in 90.0..135.0, "median $median bpm")
        assertTrue(stress.size >= 25, "${stress.size} stress windows")
        assertTrue(stress.mapNotNull { it.hrBpm }.all { it in 60f..180f })
        val session = monitor.sessions(1u).single()
        assertEquals(SessionSource.PlatformBridge, session.source)
        assertEquals(stress.size.toUInt(), session.windows)
        assertEquals(SessionEndReason.STOPPED, session.endReason)
        subs.forEach { it.close() }
        monitor.shutdown()
        dir.deleteRecursively()
    }

    private fun waitUntil(timeoutMs: Long = 10_000, cond: () -> Boolean) {
        val end = System.nanoTime() + timeoutMs * 1_000_000
        while (!cond()) {
            if (System.nanoTime() > end) throw AssertionError("condition not met within $timeoutMs ms")
            Thread.sleep(5)
        }
    }
}
