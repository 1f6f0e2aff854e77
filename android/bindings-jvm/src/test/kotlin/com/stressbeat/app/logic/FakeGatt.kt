package com.stressbeat.app.logic

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.Collections
import org.junit.jupiter.api.Assertions.assertEquals

/** Characteristics and byte sequences of a Polar H10 (`../shared/docs/protocols.md`). */
object H10 {
    const val CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
    const val DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
    const val BATTERY = "00002a19-0000-1000-8000-00805f9b34fb"
    const val HEART_RATE = "00002a37-0000-1000-8000-00805f9b34fb"
    fun bytes(vararg b: Int) = ByteArray(b.size) { b[it].toByte() }
    val GET_ECG_SETTINGS = bytes(0x01, 0x00)
    val START_ECG = bytes(0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00)
    val STOP_ECG = bytes(0x03, 0x00)

    val dataDir = File(System.getProperty("stressbeat.data.dir") ?: "../../../shared/data")
    val capture = File(dataDir, "polar_h10/pmd_capture/hr_data_2023-01-13_11-40-07.bin")

    /** Real PMD data notifications of an H10: `[24-byte magic][u32 LE length][notification]*`. */
    fun frames(max: Int): List<ByteArray> {
        val b = ByteBuffer.wrap(capture.readBytes()).order(ByteOrder.LITTLE_ENDIAN)
        val magic = ByteArray(24).also { b.get(it) }
        assertEquals("H10 ECG v1.0 binary data", String(magic, Charsets.US_ASCII))
        val out = mutableListOf<ByteArray>()
        while (b.remaining() >= 4 && out.size < max) {
            val len = b.int
            out += ByteArray(len).also { b.get(it) }
        }
        return out
    }

    /** Sensor timestamp of a frame (ns, of its last sample). */
    fun timestampNs(frame: ByteArray): Long = ByteBuffer.wrap(frame, 1, 8).order(ByteOrder.LITTLE_ENDIAN).long
}

/**
 * A fake Android GATT stack in front of a Polar H10. Every platform call is recorded (`calls`,
 * readable strings); completions come back through the [GattQueue] callbacks like the real
 * `BluetoothGattCallback`: at once, from inside the call (`mode = SYNC`, re-entrant), or held
 * until the test releases them (`mode = MANUAL`: `completeNext()`), or on another thread
 * (`mode = ASYNC`). It counts operations outstanding at the platform, to check there is never more
 * than one.
 */
class FakeGatt : GattOperations {
    enum class Mode { SYNC, MANUAL, ASYNC }

    lateinit var queue: GattQueue
    @Volatile var mode = Mode.SYNC
    /** The MTU the link comes up with (Android before 14: 23). */
    var linkMtu = 23
    /** A plain heart-rate strap: no PMD service (its characteristics are missing). */
    var noPmd = false
    /** Answer ECG starts with status 12 (another app holds the stream). */
    var refuseEcg = false
    /** Calls whose name starts with one of these are refused by the platform. */
    val refuse = Collections.synchronizedSet(mutableSetOf<String>())
    /** Completions that never come (the op is started, the callback lost). */
    val silent = Collections.synchronizedSet(mutableSetOf<String>())

    val calls: MutableList<String> = Collections.synchronizedList(mutableListOf())
    private val parked = ArrayDeque<() -> Unit>()
    private val lock = Any()
    private var outstanding = 0
    var maxOutstanding = 0
        private set
    private val executor = java.util.concurrent.Executors.newSingleThreadExecutor()

    val pendingCompletions: Int get() = synchronized(lock) { parked.size }

    fun completeNext() {
        val c = synchronized(lock) { parked.removeFirst() }
        c()
    }

    fun shutdown() = executor.shutdownNow()

    private fun op(call: String, complete: () -> Unit): OpStart {
        calls += call
        if (refuse.any { call.startsWith(it) }) return OpStart.Refused("refused by the fake")
        synchronized(lock) {
            outstanding++
            maxOutstanding = maxOf(maxOutstanding, outstanding)
        }
        if (silent.any { call.startsWith(it) }) return OpStart.Started
        val done = {
            synchronized(lock) { outstanding-- }
            complete()
        }
        when (mode) {
            Mode.SYNC -> done()
            Mode.MANUAL -> synchronized(lock) { parked.addLast(done) }
            Mode.ASYNC -> executor.execute { done() }
        }
        return OpStart.Started
    }

    private fun pmd(uuid: String) = uuid == H10.CP || uuid == H10.DATA

    override fun connect() = op("connect") { queue.onConnectionStateChanged(true, 0) }
    override fun discoverServices() = op("discover") { queue.onServicesDiscovered(true) }
    override fun requestMtu(mtu: Int) = op("mtu $mtu") { queue.onMtuChanged(mtu, true) }

    override fun routeNotifications(characteristicUuid: String): OpStart {
        if (noPmd && pmd(characteristicUuid)) return OpStart.Refused("characteristic not found")
        return OpStart.Started
    }

    override fun writeDescriptor(characteristicUuid: String, descriptorUuid: String, value: ByteArray) =
        op("cccd ${name(characteristicUuid)} ${hex(value)}") {
            queue.onDescriptorWritten(characteristicUuid, descriptorUuid, true)
        }

    override fun writeCharacteristic(characteristicUuid: String, value: ByteArray) =
        op("write ${name(characteristicUuid)} ${hex(value)}") {
            queue.onCharacteristicWritten(characteristicUuid, true)
            // the strap's answer, an indication on the control point, after the write response
            reply(value)?.let { queue.onCharacteristicChanged(H10.CP, it) }
        }

    override fun readCharacteristic(characteristicUuid: String) = op("read ${name(characteristicUuid)}") {
        when (characteristicUuid) {
            H10.CP -> queue.onCharacteristicRead(H10.CP, H10.bytes(0x0F, 0x05, 0x00), true)
            H10.BATTERY -> queue.onCharacteristicRead(H10.BATTERY, H10.bytes(87), true)
            else -> queue.onCharacteristicRead(characteristicUuid, ByteArray(0), false)
        }
    }

    override fun disconnect() = op("disconnect") { queue.onConnectionStateChanged(false, 0) }

    override fun close() {
        calls += "close"
    }

    private fun reply(v: ByteArray): ByteArray? = when {
        v.contentEquals(H10.GET_ECG_SETTINGS) ->
            H10.bytes(0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00)
        v.contentEquals(H10.START_ECG) -> H10.bytes(0xF0, 0x02, 0x00, if (refuseEcg) 12 else 0, 0x00)
        v.contentEquals(H10.STOP_ECG) -> H10.bytes(0xF0, 0x03, 0x00, 0x00, 0x00)
        else -> null
    }

    companion object {
        fun hex(v: ByteArray) = v.joinToString("") { "%02x".format(it) }
        fun name(uuid: String) = when (uuid) {
            H10.CP -> "cp"
            H10.DATA -> "data"
            H10.BATTERY -> "battery"
            H10.HEART_RATE -> "hr"
            else -> uuid
        }
    }
}

/** A settable monotonic clock, ms. */
class FakeClock(@Volatile var now: Long = 0) : () -> Long {
    override fun invoke() = now
}
