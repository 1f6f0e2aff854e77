package com.stressbeat.core

import com.stressbeat.app.logic.H10
import com.stressbeat.app.logic.H10.BATTERY
import com.stressbeat.app.logic.H10.CP
import com.stressbeat.app.logic.H10.DATA
import com.stressbeat.app.logic.H10.GET_ECG_SETTINGS
import com.stressbeat.app.logic.H10.HEART_RATE
import com.stressbeat.app.logic.H10.START_ECG
import com.stressbeat.app.logic.H10.STOP_ECG
import com.stressbeat.app.logic.H10.bytes
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The platform bridge (StrapSession + a Kotlin BleTransport) driven like the Android app would:
 * a fake GATT stack answers the core's commands with a real Polar H10's replies
 * (../shared/docs/protocols.md), then REAL captured PMD data notifications are fed in.
 */
class StrapSessionBridgeTest {
    private val capture = H10.capture
    private val rrLog = File(H10.dataDir, "polar_h10/rr_log/polar_rri_20260623_001651.csv")

    /** Fake platform BLE stack answering like an H10; records every command in order. */
    class FakeH10 : BleTransport {
        lateinit var session: StrapSession
        /** Written by the app's threads and the monitor's (it stops the session). */
        val commands: MutableList<BleCommand> = java.util.Collections.synchronizedList(mutableListOf())
        var now = 0L
        /** Answer every ECG start with status 12, "invalid state" (another app holds the stream). */
        var refuseEcg = false

        override fun execute(command: BleCommand) {
            commands += command
            when (command) {
                is BleCommand.Connect -> session.onConnected(23u, now)
                is BleCommand.Read -> when (command.characteristicUuid) {
                    CP -> session.onReadResult(CP, bytes(0x0F, 0x05, 0x00), now)
                    BATTERY -> session.onReadResult(BATTERY, bytes(87), now)
                    else -> {}
                }
                is BleCommand.Write -> {
                    val v = command.value
                    when {
                        v.contentEquals(GET_ECG_SETTINGS) -> session.onNotification(
                            CP, bytes(0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00), now)
                        v.contentEquals(START_ECG) -> session.onNotification(
                            CP, bytes(0xF0, 0x02, 0x00, if (refuseEcg) 12 else 0x00, 0x00), now)
                        v.contentEquals(STOP_ECG) -> session.onNotification(CP, bytes(0xF0, 0x03, 0x00, 0x00, 0x00), now)
                    }
                }
                else -> {}
            }
        }
    }

    /** `[24-byte magic][u32 LE length][notification]*` */
    private fun writes(cmds: List<BleCommand>) =
        cmds.filterIsInstance<BleCommand.Write>().filter { it.characteristicUuid == CP }.map { it.value.toList() }

    @Test
    fun handshakeThenRealFramesDecoded() {
        assumeTrue(capture.isFile, "SKIPPED: capture not available at ${capture.path} (set -Dstressbeat.data.dir)")
        val frames = H10.frames(200)
        assertEquals(200, frames.size)

        val h10 = FakeH10()
        val session = StrapSession(h10, true)
        h10.session = session
        session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, session.state())

        // The control-point conversation: get ECG settings, then start 130 Hz / 14-bit.
        assertEquals(listOf(GET_ECG_SETTINGS.toList(), START_ECG.toList()), writes(h10.commands))
        assertTrue(h10.commands.contains(BleCommand.Subscribe(CP, true)), "control point needs indications")
        assertTrue(h10.commands.contains(BleCommand.Subscribe(DATA, false)))
        assertTrue(h10.commands.any { it is BleCommand.RequestMtu && it.mtu >= 232u }, "MTU 23 must be raised")

        // Real notifications, arriving at the phone clock of their sensor timestamps.
        val ts0 = ByteBuffer.wrap(frames[0], 1, 8).order(ByteOrder.LITTLE_ENDIAN).long
        var at = 0L
        for (f in frames) {
            val ts = ByteBuffer.wrap(f, 1, 8).order(ByteOrder.LITTLE_ENDIAN).long
            at = 1000 + (ts - ts0) / 1_000_000 + 15
            h10.now = at
            session.onNotification(DATA, f, at)
            session.tick(at)
        }
        h10.commands.clear()
        session.stop(at + 10)
        // The stream is stopped before the link is closed (a strap left streaming drains its battery).
        assertEquals(listOf(STOP_ECG.toList()), writes(h10.commands))
        assertEquals(BleCommand.Disconnect, h10.commands.last())
        assertEquals(ConnectionStateRecord.Stopped, session.state())

        val events = session.pollEvents()
        val ecg = events.filterIsInstance<SensorEventRecord.Ecg>()
        assertEquals(200, ecg.size)
        assertTrue(ecg.all { it.samplesUv.size == 73 }, "73 samples per H10 frame")
        assertEquals(200 * 73, ecg.sumOf { it.samplesUv.size })
        assertTrue(events.none { it is SensorEventRecord.Gap }, "contiguous capture, no gaps")
        // First sample = int24 LE at bytes 10..12 of the first frame.
        val f = frames[0]
        val first = ((f[10].toInt() and 0xFF) or ((f[11].toInt() and 0xFF) shl 8) or (f[12].toInt() shl 16))
        assertEquals(first, ecg[0].samplesUv[0])
        // ~130 Hz on the phone clock, times increasing.
        assertTrue(ecg.all { it.sampleIntervalMs in 7.5..7.9 }, "interval ${ecg.map { it.sampleIntervalMs }.distinct().take(3)}")
        assertTrue(ecg.zipWithNext().all { (a, b) -> b.firstSampleMs > a.firstSampleMs })
        assertTrue(events.any { it is SensorEventRecord.Battery && it.percent == 87.toUByte() })
        assertTrue(events.any { it is SensorEventRecord.StreamStarted && it.sampleRateHz == 130.toUShort() })
    }

    @Test
    fun linkLossReconnectsAndRestartsEcg() {
        val h10 = FakeH10()
        val session = StrapSession(h10, true)
        h10.session = session
        session.start(0)
        h10.commands.clear()
        session.onDisconnected("out of range", 5_000)
        val s = session.state()
        assertTrue(s is ConnectionStateRecord.Reconnecting && s.attempt == 1u, "$s")
        h10.now = 40_000
        session.tick(40_000) // past any backoff (≤ 30 s + jitter)
        assertEquals(ConnectionStateRecord.Streaming, session.state())
        assertEquals(BleCommand.Connect, h10.commands.first())
        assertEquals(listOf(GET_ECG_SETTINGS.toList(), START_ECG.toList()), writes(h10.commands))
    }

    /**
     * A strap that refuses the ECG stream keeps its link: heart rate flows, the app is told once
     * per refusal, and the start is asked again a minute later.
     */
    @Test
    fun refusedEcgStreamKeepsHeartRateAndAsksAgain() {
        val h10 = FakeH10().apply { refuseEcg = true }
        val session = StrapSession(h10, true)
        h10.session = session
        session.start(0)
        assertEquals(ConnectionStateRecord.Streaming, session.state())
        assertTrue(h10.commands.none { it is BleCommand.Disconnect }, "${h10.commands}")
        val refused = session.pollEvents().filterIsInstance<SensorEventRecord.EcgRefused>()
        assertEquals(listOf(12.toUByte()), refused.map { it.status })
        h10.commands.clear()
        for (t in 1_000L..59_000L step 1_000L) {
            h10.now = t
            session.onNotification(HEART_RATE, bytes(0x10, 0x3C, 0x00, 0x04), t)
            session.tick(t)
        }
        assertTrue(writes(h10.commands).isEmpty(), "nothing asked within the minute")
        assertEquals(59, session.pollEvents().filterIsInstance<SensorEventRecord.HeartRate>().size)
        h10.refuseEcg = false
        h10.now = 60_500
        session.onNotification(HEART_RATE, bytes(0x10, 0x3C, 0x00, 0x04), 60_000)
        session.tick(60_500)
        assertEquals(listOf(START_ECG.toList()), writes(h10.commands))
        assertTrue(session.pollEvents().any { it is SensorEventRecord.StreamStarted })
        assertEquals(ConnectionStateRecord.Streaming, session.state())
    }

    @Test
    fun unknownCharacteristicIgnored() {
        val h10 = FakeH10()
        val session = StrapSession(h10, false)
        h10.session = session
        session.start(0)
        session.onNotification("00002a38-0000-1000-8000-00805f9b34fb", bytes(1), 10)
        session.onNotification("00002a37-0000-1000-8000-00805f9b34fb", bytes(0x10, 0x3C, 0x37, 0x04, 0x07, 0x03), 20)
        val hr = session.pollEvents().filterIsInstance<SensorEventRecord.HeartRate>().single()
        assertEquals(60.toUShort(), hr.bpm)
        assertEquals(1053.7, hr.rrMs[0], 0.1)
        assertEquals(756.8, hr.rrMs[1], 0.1)
    }

    /**
     * A strap with the Heart Rate Service only (most chest straps; an H10 without PMD): the app
     * hands the monitor raw Heart Rate Measurement notifications (a real H10 log's intervals,
     * re-encoded in 1/1024 s) and gets stress scores computed from the RR intervals.
     */
    @Test
    fun heartRateOnlyStrapIsScoredByTheMonitor() {
        assumeTrue(rrLog.isFile, "SKIPPED: RR log not available at ${rrLog.path} (set -Dstressbeat.data.dir)")
        // (time s, RR ms); rows with the same time came in one notification
        val rows = rrLog.readLines().drop(1).map { l -> l.split(",").let { it[0].toDouble() to it[1].toDouble() } }
        val dir = java.nio.file.Files.createTempDirectory("stressbeat-rr").toFile()
        val monitor = StressMonitor(StressMonitorConfig(File(dir, "h.db").path, null, null, false, null, 0))
        val updates = java.util.Collections.synchronizedList(mutableListOf<StressUpdate>())
        val sub = monitor.subscribeStress(object : StressListener {
            override fun onStress(update: StressUpdate) { updates += update }
        })
        val strap = FakeH10()
        val session = StrapSession(strap, false)
        strap.session = session
        monitor.start(MonitorSource.PlatformBridge(session, 0))
        session.start(0)
        var k = 0
        while (k < rows.size) {
            val t = rows[k].first
            // flags: 8-bit HR, contact detected, RR present; then RR in 1/1024 s, u16 LE
            val out = java.io.ByteArrayOutputStream()
            out.write(0x16)
            out.write(Math.round(60_000.0 / rows[k].second).toInt())
            while (k < rows.size && rows[k].first == t) {
                val rr = Math.round(rows[k].second * 1.024).toInt()
                out.write(rr and 0xFF)
                out.write(rr shr 8)
                k++
            }
            val at = 1_000 + Math.round((t - rows[0].first) * 1000.0)
            strap.now = at
            session.onNotification(HEART_RATE, out.toByteArray(), at)
            session.tick(at)
        }
        Thread.sleep(400)
        monitor.stop()
        val scored = updates.count { it.score != null && !it.fromHrvFallback }
        // 7.6 min of intervals: a window every 5 s after the first 30 s
        assertTrue(updates.size in 78..88, "${updates.size} windows")
        assertTrue(scored * 10 >= updates.size * 9, "$scored of ${updates.size} scored by the model")
        assertTrue(updates.all { (it.hrBpm ?: 0f) in 50f..100f })
        assertEquals(updates.size.toUInt(), monitor.sessions(1u).single().windows)
        sub.close()
        monitor.shutdown()
        dir.deleteRecursively()
    }

    /**
     * The monitor is the only taker of a session's events (an app polling beside it would take
     * frames from it); a session the monitor stopped cannot start another.
     */
    @Test
    fun monitorIsTheOnlyTakerOfASessionsEvents() {
        val dir = java.nio.file.Files.createTempDirectory("stressbeat-bridge").toFile()
        val monitor = StressMonitor(StressMonitorConfig(File(dir, "h.db").path, null, null, false, null, 0))
        val strap = FakeH10()
        val session = StrapSession(strap, true)
        strap.session = session
        session.start(0)
        monitor.start(MonitorSource.PlatformBridge(session, 0))
        assertThrows<StressBeatException.InvalidState> { session.pollEvents() }
        monitor.stop()
        assertEquals(ConnectionStateRecord.Stopped, session.state())
        session.pollEvents()
        assertThrows<StressBeatException.InvalidState> { monitor.start(MonitorSource.PlatformBridge(session, 1_000)) }
        monitor.shutdown()
        dir.deleteRecursively()
    }
}
