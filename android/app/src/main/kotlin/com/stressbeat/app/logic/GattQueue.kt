package com.stressbeat.app.logic

import com.stressbeat.core.BleCommand
import com.stressbeat.core.BleTransport
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.StrapSession
import com.stressbeat.core.StrapSessionInterface
import com.stressbeat.core.StressBeatException
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull

/** GATT identifiers the app needs itself (the core names the characteristics it wants). */
object GattUuids {
    /** Client Characteristic Configuration descriptor: notifications/indications on or off. */
    const val CCCD = "00002902-0000-1000-8000-00805f9b34fb"
    /** Heart Rate Service: what a scan filters on (every chest strap, Polar H10 included). */
    const val HEART_RATE_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
    /** CCCD value: notifications. */
    val ENABLE_NOTIFICATION: ByteArray get() = byteArrayOf(0x01, 0x00)
    /** CCCD value: indications (the PMD control point is indicate-only). */
    val ENABLE_INDICATION: ByteArray get() = byteArrayOf(0x02, 0x00)
}

/** Whether the platform accepted a request (its result then comes through a callback). */
sealed interface OpStart {
    data object Started : OpStart
    /** Not started: the characteristic is missing, the stack is busy, permission missing, … */
    data class Refused(val reason: String) : OpStart
}

/**
 * The platform's GATT calls, one link. Android: `BluetoothGattOperations` (the shell) over
 * `BluetoothGatt`; the JVM tests: fakes. Each call only *starts* an operation; its result comes
 * back through the matching [GattQueue] callback (`onConnectionStateChanged`,
 * `onServicesDiscovered`, `onMtuChanged`, `onDescriptorWritten`, `onCharacteristicWritten`,
 * `onCharacteristicRead`). UUIDs are lowercase 128-bit strings.
 */
interface GattOperations {
    /** Open the link (Android: `connectGatt(…, autoConnect = false, TRANSPORT_LE)`, closing any old one). */
    fun connect(): OpStart
    fun discoverServices(): OpStart
    fun requestMtu(mtu: Int): OpStart
    /** Local and synchronous: route the characteristic's notifications to the app
     *  (`setCharacteristicNotification`); the CCCD write is a separate, queued operation. */
    fun routeNotifications(characteristicUuid: String): OpStart
    fun writeDescriptor(characteristicUuid: String, descriptorUuid: String, value: ByteArray): OpStart
    /** Write with response. */
    fun writeCharacteristic(characteristicUuid: String, value: ByteArray): OpStart
    fun readCharacteristic(characteristicUuid: String): OpStart
    /** Close the link gracefully; `onConnectionStateChanged(false, …)` follows. */
    fun disconnect(): OpStart
    /** Release the link now, no callback (`BluetoothGatt.close()`). */
    fun close()
}

/** How long a platform operation may stay unanswered (then it is failed and the queue moves on). */
data class GattTimeouts(
    /** Link + service discovery. Longer than the core's own connect timeout (15 s), which
     *  normally decides first (it sends `Disconnect`, which abandons the connect at once). */
    val connectMs: Long = 20_000,
    /** A graceful disconnect before the link is simply closed. */
    val disconnectMs: Long = 3_000,
    /** Any other operation (Android's own ATT timeout is 30 s; a reply takes milliseconds). */
    val operationMs: Long = 8_000,
)

/**
 * The core's [BleTransport] on a platform that allows ONE outstanding GATT operation (Android).
 *
 * - `execute` (any thread, bursts, possibly from inside a session callback the queue made)
 *   only queues; commands run one at a time in the order given, the next when the platform
 *   reports the current one done.
 * - `Connect` = connect → discover services → `StrapSession.onConnected(mtu)`; `Subscribe` =
 *   route notifications + write the CCCD `0x2902` (`01 00` notify, `02 00` indicate).
 * - Results go to the session: reads → `onReadResult`, notifications/indications →
 *   `onNotification`, a refused, failed or timed-out command → `onCommandFailed`, link loss →
 *   `onDisconnected` (a failed connect → `onCommandFailed(Connect)` only).
 * - Link loss clears the queue (the session redoes its set-up after reconnecting), except a
 *   queued `Connect`. A `Disconnect` abandons a `Connect` in progress (the core gave up on it),
 *   but waits for any other operation: the ECG stop (`03 00`) must reach the strap first.
 * - Timeouts are checked in [tick] (call it with the session's `tick`, every 100–250 ms). An
 *   operation that times out is treated as link loss (see [tick]).
 * - A `STATE_CONNECTED` nobody waits for: ignored while the link is up (a repeated callback),
 *   closed otherwise (an abandoned connect's link coming up late).
 * - [isIdle]/[awaitIdle]: whether everything asked for has reached the platform and been
 *   answered (before closing the link after a stop: the ECG stop write and the disconnect).
 *
 * Threads: every entry point may be called from any thread. State changes happen under one
 * lock; platform calls and session calls are made outside it, one at a time, in order, by
 * whichever thread is draining (a call made while another thread drains returns at once and
 * its effects run on that thread). Nothing is called back with the lock held, so the session
 * may re-enter `execute` synchronously and a fake platform may complete synchronously.
 */
class GattQueue(
    private val ops: GattOperations,
    /** The monotonic clock the session uses, ms (Android `SystemClock.elapsedRealtime`). */
    private val clock: () -> Long,
    private val timeouts: GattTimeouts = GattTimeouts(),
    private val log: (String) -> Unit = {},
) : BleTransport {
    private enum class Phase { LINK, DISCOVERY, SINGLE }

    private class Op(val id: Long, val command: BleCommand, var phase: Phase, var deadlineMs: Long)

    private val lock = Any()
    private var session: StrapSessionInterface? = null
    private val pending = ArrayDeque<BleCommand>()
    private var inFlight: Op? = null
    private var nextId = 1L
    private var linkUp = false
    private var mtu = DEFAULT_MTU
    private var closed = false
    private val effects = ArrayDeque<() -> Unit>()
    private var draining = false

    /** The session results go to (create the session with this queue as its transport, then bind). */
    fun bind(session: StrapSessionInterface) = synchronized(lock) { this.session = session }

    /** The command being carried out, if any. */
    val current: BleCommand? get() = synchronized(lock) { inFlight?.command }
    /** Commands waiting behind it. */
    val queued: List<BleCommand> get() = synchronized(lock) { pending.toList() }
    /** The ATT MTU as the platform last reported it. */
    val currentMtu: Int get() = synchronized(lock) { mtu }
    val isLinkUp: Boolean get() = synchronized(lock) { linkUp }

    /**
     * Nothing in flight, nothing queued, no callback into the session or platform call left to
     * run (or the queue is closed). After `StressMonitor.stop`, the session's ECG stop (`03 00`)
     * and `Disconnect` are queued here: the link may only be closed once this is true.
     */
    val isIdle: Boolean
        get() = synchronized(lock) { closed || (inFlight == null && pending.isEmpty() && effects.isEmpty() && !draining) }

    /**
     * Wait (suspending, polling every [pollMs]) until [isIdle], at most [timeoutMs]; whether it
     * became idle. Keep calling [tick] meanwhile: the queue's own timeouts end a stuck operation.
     */
    suspend fun awaitIdle(timeoutMs: Long, pollMs: Long = 10): Boolean =
        withTimeoutOrNull(timeoutMs) {
            while (!isIdle) delay(pollMs)
            true
        } ?: isIdle

    override fun execute(command: BleCommand) {
        synchronized(lock) {
            if (closed) return
            if (command is BleCommand.Disconnect) {
                val op = inFlight
                if (op != null && op.command is BleCommand.Connect) {
                    inFlight = null // abandoned: the core stopped waiting for it
                    pending.removeAll { it is BleCommand.Connect }
                }
            }
            pending.addLast(command)
            pumpLocked()
        }
        drain()
    }

    // -------------------------------------------------------------------------------------
    // Platform callbacks (the adapter forwards BluetoothGattCallback here)
    // -------------------------------------------------------------------------------------

    fun onConnectionStateChanged(connected: Boolean, status: Int) {
        val at = clock()
        synchronized(lock) {
            if (closed) return
            val op = inFlight
            if (connected) {
                if (op != null && op.command is BleCommand.Connect && op.phase == Phase.LINK) {
                    linkUp = true
                    op.phase = Phase.DISCOVERY
                    op.deadlineMs = at + timeouts.connectMs
                    effects += { start(op) }
                } else if (linkUp) {
                    // a repeated/stray STATE_CONNECTED on the live link: closing it here would
                    // leave the queue and the session believing the link is up
                    log("gatt: repeated connected callback ignored")
                } else {
                    // nobody waits for this link (an abandoned connect coming up late): let it go
                    effects += { ops.close() }
                }
                return@synchronized
            }
            val wasUp = linkUp
            linkUp = false
            pending.removeAll { it !is BleCommand.Connect }
            when (op?.command) {
                is BleCommand.Connect -> {
                    inFlight = null
                    effects += { ops.close() }
                    report(at) { s, t -> s.onCommandFailed(op.command, "connection failed (GATT status $status)", t) }
                }
                is BleCommand.Disconnect -> {
                    inFlight = null
                    effects += { ops.close() }
                    report(at) { s, t -> s.onDisconnected("closed", t) }
                }
                else -> {
                    inFlight = null
                    if (!wasUp && op == null) return@synchronized // a repeated callback
                    effects += { ops.close() }
                    report(at) { s, t -> s.onDisconnected("link lost (GATT status $status)", t) }
                }
            }
            pumpLocked()
        }
        drain()
    }

    fun onServicesDiscovered(success: Boolean) {
        val at = clock()
        synchronized(lock) {
            val op = inFlight ?: return
            if (op.command !is BleCommand.Connect || op.phase != Phase.DISCOVERY) return
            inFlight = null
            if (success) {
                val m = mtu
                report(at) { s, t -> s.onConnected(m.toUShort(), t) }
            } else {
                linkUp = false
                effects += { ops.close() }
                report(at) { s, t -> s.onCommandFailed(op.command, "service discovery failed", t) }
            }
            pumpLocked()
        }
        drain()
    }

    /** Also when the platform negotiates on its own (Android 14+ asks for 517 at connection). */
    fun onMtuChanged(mtu: Int, success: Boolean) {
        val at = clock()
        synchronized(lock) {
            if (success) this.mtu = mtu
            val op = inFlight
            if (op == null || op.command !is BleCommand.RequestMtu) return
            completeLocked(op, if (success) null else "MTU request failed", at)
        }
        drain()
    }

    fun onDescriptorWritten(characteristicUuid: String, descriptorUuid: String, success: Boolean) {
        val at = clock()
        synchronized(lock) {
            val op = inFlight ?: return
            val c = op.command
            if (c !is BleCommand.Subscribe || !same(c.characteristicUuid, characteristicUuid) ||
                !same(descriptorUuid, GattUuids.CCCD)) return
            completeLocked(op, if (success) null else "subscription refused (CCCD write failed)", at)
        }
        drain()
    }

    fun onCharacteristicWritten(characteristicUuid: String, success: Boolean) {
        val at = clock()
        synchronized(lock) {
            val op = inFlight ?: return
            val c = op.command
            if (c !is BleCommand.Write || !same(c.characteristicUuid, characteristicUuid)) return
            completeLocked(op, if (success) null else "write failed", at)
        }
        drain()
    }

    fun onCharacteristicRead(characteristicUuid: String, value: ByteArray, success: Boolean) {
        val at = clock()
        synchronized(lock) {
            val op = inFlight ?: return
            val c = op.command
            if (c !is BleCommand.Read || !same(c.characteristicUuid, characteristicUuid)) return
            if (success) {
                inFlight = null
                val uuid = c.characteristicUuid
                report(at) { s, t -> s.onReadResult(uuid, value, t) }
                pumpLocked()
            } else {
                completeLocked(op, "read failed", at)
            }
        }
        drain()
    }

    /** A notification or indication: to the session, in arrival order with the completions. */
    fun onCharacteristicChanged(characteristicUuid: String, value: ByteArray) {
        val at = clock()
        synchronized(lock) {
            if (closed || !linkUp) return
            val uuid = characteristicUuid.lowercase()
            report(at) { s, t -> s.onNotification(uuid, value, t) }
        }
        drain()
    }

    /** Fail an operation the platform has left unanswered past its timeout. */
    fun tick() {
        val now = clock()
        synchronized(lock) {
            val op = inFlight ?: return
            if (now < op.deadlineMs) return
            log("gatt: ${name(op.command)} timed out")
            when (op.command) {
                is BleCommand.Connect, is BleCommand.Disconnect ->
                    endLinkOperationLocked(op, "connection timed out", now)
                else -> {
                    // Link loss, not a failed command: after an unanswered operation Android's
                    // stack usually stays busy (every later operation is refused) and a late
                    // callback could complete the wrong operation. Close the link and tell the
                    // session it is gone: its `onDisconnected` backs off and reconnects (set-up
                    // redone on a fresh BluetoothGatt), where `onCommandFailed` would retry on the
                    // wedged link. A Disconnect queued behind (a stop) is dropped: the link is
                    // closed here anyway.
                    inFlight = null
                    linkUp = false
                    pending.removeAll { it !is BleCommand.Connect }
                    effects += { ops.close() }
                    report(now) { s, t -> s.onDisconnected("operation timed out", t) }
                    pumpLocked()
                }
            }
        }
        drain()
    }

    /** Drop everything and release the link (the service is done with this strap session). */
    fun close() {
        synchronized(lock) {
            if (closed) return
            closed = true
            pending.clear()
            inFlight = null
            linkUp = false
            effects += { ops.close() }
        }
        drain()
    }

    // -------------------------------------------------------------------------------------

    /** Done (`failure == null`) or failed: report a failure, then start the next. */
    /** A Connect or Disconnect that timed out or did not start: the link is closed; a failed
     *  Connect is reported (a Disconnect has nothing to report). */
    private fun endLinkOperationLocked(op: Op, connectFailure: String, at: Long) {
        inFlight = null
        linkUp = false
        effects += { ops.close() }
        if (op.command is BleCommand.Connect) {
            report(at) { s, t -> s.onCommandFailed(op.command, connectFailure, t) }
        }
        pumpLocked()
    }

    private fun completeLocked(op: Op, failure: String?, at: Long) {
        inFlight = null
        if (failure != null) {
            log("gatt: ${name(op.command)} failed")
            report(at) { s, t -> s.onCommandFailed(op.command, failure, t) }
        }
        pumpLocked()
    }

    private fun pumpLocked() {
        while (inFlight == null && !closed) {
            val cmd = pending.removeFirstOrNull() ?: return
            val now = clock()
            when {
                cmd is BleCommand.Disconnect && !linkUp -> {
                    effects += { ops.close() } // nothing to close gracefully
                }
                cmd !is BleCommand.Connect && cmd !is BleCommand.Disconnect && !linkUp ->
                    report(now) { s, t -> s.onCommandFailed(cmd, "not connected", t) }
                else -> {
                    val deadline = now + when (cmd) {
                        is BleCommand.Connect -> timeouts.connectMs
                        is BleCommand.Disconnect -> timeouts.disconnectMs
                        else -> timeouts.operationMs
                    }
                    val op = Op(nextId++, cmd, if (cmd is BleCommand.Connect) Phase.LINK else Phase.SINGLE, deadline)
                    if (cmd is BleCommand.Connect) {
                        linkUp = false
                        mtu = DEFAULT_MTU
                    }
                    inFlight = op
                    effects += { start(op) }
                }
            }
        }
    }

    /** Start `op` on the platform (outside the lock); a refusal fails it at once. */
    private fun start(op: Op) {
        val r = try {
            when (val c = op.command) {
                is BleCommand.Connect -> if (op.phase == Phase.LINK) ops.connect() else ops.discoverServices()
                is BleCommand.Disconnect -> ops.disconnect()
                is BleCommand.RequestMtu -> ops.requestMtu(c.mtu.toInt())
                is BleCommand.Subscribe -> {
                    val routed = ops.routeNotifications(c.characteristicUuid)
                    if (routed is OpStart.Refused) routed else ops.writeDescriptor(
                        c.characteristicUuid, GattUuids.CCCD,
                        if (c.indicate) GattUuids.ENABLE_INDICATION else GattUuids.ENABLE_NOTIFICATION)
                }
                is BleCommand.Write -> ops.writeCharacteristic(c.characteristicUuid, c.value)
                is BleCommand.Read -> ops.readCharacteristic(c.characteristicUuid)
            }
        } catch (e: RuntimeException) {
            // e.g. SecurityException: BLUETOOTH_CONNECT revoked while running
            OpStart.Refused(e.javaClass.simpleName)
        }
        if (r !is OpStart.Refused) return
        val at = clock()
        synchronized(lock) {
            if (inFlight?.id != op.id) return@synchronized // answered or abandoned meanwhile
            when (op.command) {
                is BleCommand.Connect, is BleCommand.Disconnect ->
                    endLinkOperationLocked(op, "connect not started: ${r.reason}", at)
                else -> completeLocked(op, "not started: ${r.reason}", at)
            }
        }
        // the caller (drain) runs what was queued
    }

    /** Queue a call into the session, stamped `at` (when the platform said it). */
    private fun report(at: Long, call: (StrapSessionInterface, Long) -> Unit) {
        effects += {
            // nothing reaches the session after close(): StrapLink closes the session right after
            val s = synchronized(lock) { session.takeUnless { closed } }
            if (s != null) call(s, at)
        }
    }

    /** Run queued effects in order, one at a time; nested or concurrent callers leave them to the
     *  thread already draining. */
    private fun drain() {
        while (true) {
            val next: () -> Unit = synchronized(lock) {
                if (draining) return
                val e = effects.removeFirstOrNull() ?: return
                draining = true
                e
            }
            try {
                next()
            } catch (e: Exception) {
                // StressBeatException from the session (a stopped or poisoned session): logged
                // by kind only, never with values
                log("gatt: session call failed: ${e.javaClass.simpleName}")
            } finally {
                synchronized(lock) { draining = false }
            }
        }
    }

    private fun same(a: String, b: String) = a.equals(b, ignoreCase = true)

    companion object {
        /** ATT MTU of a new link. */
        const val DEFAULT_MTU = 23

        /** A command's name for logs (no values, no addresses). */
        fun name(c: BleCommand): String = when (c) {
            is BleCommand.Connect -> "connect"
            is BleCommand.Disconnect -> "disconnect"
            is BleCommand.RequestMtu -> "requestMtu"
            is BleCommand.Subscribe -> "subscribe"
            is BleCommand.Write -> "write"
            is BleCommand.Read -> "read"
        }
    }
}

/**
 * One strap connection as the service runs it: the [GattQueue] over the platform's GATT, the
 * core's [StrapSession] driving it, and the tick both need (call [tick] every 100–250 ms from one
 * timer, and stop calling it after [close]). A stopped session cannot be restarted: create a new
 * StrapLink for the next connection.
 */
class StrapLink(
    ops: GattOperations,
    private val clock: () -> Long,
    ecg: Boolean = true,
    timeouts: GattTimeouts = GattTimeouts(),
    private val log: (String) -> Unit = {},
) : AutoCloseable {
    val queue = GattQueue(ops, clock, timeouts, log)
    val session: StrapSession = StrapSession(queue, ecg).also { queue.bind(it) }

    /** The monitor's source for this strap (the monitor then takes the session's events). */
    fun monitorSource(): MonitorSource = MonitorSource.PlatformBridge(session, clock())

    private val lock = Any()
    private var closed = false

    /**
     * Queue timeouts, then the session's deadlines. Serialised with [close]: a tick running when
     * close() is called finishes first (close waits for it), and a tick after close does nothing,
     * so the session is never called once destroyed (uniffi: IllegalStateException).
     */
    fun tick() {
        synchronized(lock) {
            if (closed) return
            queue.tick()
            try {
                session.tick(clock())
            } catch (e: StressBeatException) {
                log("strap: tick failed: ${LogSafe.error(e)}")
            }
        }
    }

    val isClosed: Boolean get() = synchronized(lock) { closed }

    /**
     * Release the link (after `StressMonitor.stop`, which stops the session and its ECG stream,
     * and after [GattQueue.awaitIdle], so that the stop reached the strap). Idempotent; waits for
     * a running [tick].
     */
    override fun close() {
        synchronized(lock) {
            if (closed) return
            closed = true
        }
        queue.close()
        session.close()
    }
}
