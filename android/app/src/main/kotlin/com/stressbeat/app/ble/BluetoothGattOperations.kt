package com.stressbeat.app.ble

import android.annotation.SuppressLint
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothGatt
import android.bluetooth.BluetoothGattCallback
import android.bluetooth.BluetoothGattCharacteristic
import android.bluetooth.BluetoothGattDescriptor
import android.bluetooth.BluetoothProfile
import android.bluetooth.BluetoothStatusCodes
import android.content.Context
import android.os.Build
import com.stressbeat.app.logic.GattOperations
import com.stressbeat.app.logic.GattQueue
import com.stressbeat.app.logic.OpStart
import java.util.UUID

/**
 * The thin adapter: [GattOperations] over one `BluetoothGatt`, `BluetoothGattCallback` forwarded
 * to the [GattQueue] (which owns ordering, timeouts and the session). No decisions here.
 * Needs BLUETOOTH_CONNECT (Android 12+); the service checks it before creating the link, and a
 * revoked permission's SecurityException is turned into a refused operation by the queue.
 */
@SuppressLint("MissingPermission")
class BluetoothGattOperations(
    private val context: Context,
    private val device: BluetoothDevice,
) : GattOperations {
    lateinit var queue: GattQueue

    private val lock = Any()
    /** The link; set once `connectGatt` returns. */
    @Volatile private var gatt: BluetoothGatt? = null
    /** Inside `connectGatt`: its callbacks may arrive (on a binder thread) before it returns,
     *  e.g. an immediate failure with status 133, while [gatt] is still null. */
    private var connecting = false
    /** The queue closed the link while `connectGatt` ran (after such an early failure). */
    private var closedWhileConnecting = false

    /** Whether a callback comes from our link: the current gatt, or, while `connectGatt` has
     *  not returned yet, the one being connected (the old one was closed before). */
    private fun ours(g: BluetoothGatt): Boolean = synchronized(lock) {
        val current = gatt
        if (current != null) g == current else connecting && !closedWhileConnecting
    }

    private val callback = object : BluetoothGattCallback() {
        override fun onConnectionStateChange(g: BluetoothGatt, status: Int, newState: Int) {
            if (!ours(g)) return // a closed link's late callback
            queue.onConnectionStateChanged(newState == BluetoothProfile.STATE_CONNECTED && status == BluetoothGatt.GATT_SUCCESS, status)
        }

        override fun onServicesDiscovered(g: BluetoothGatt, status: Int) {
            if (ours(g)) queue.onServicesDiscovered(status == BluetoothGatt.GATT_SUCCESS)
        }

        override fun onMtuChanged(g: BluetoothGatt, mtu: Int, status: Int) {
            if (ours(g)) queue.onMtuChanged(mtu, status == BluetoothGatt.GATT_SUCCESS)
        }

        override fun onDescriptorWrite(g: BluetoothGatt, d: BluetoothGattDescriptor, status: Int) {
            if (ours(g)) queue.onDescriptorWritten(d.characteristic.uuid.toString(), d.uuid.toString(), status == BluetoothGatt.GATT_SUCCESS)
        }

        override fun onCharacteristicWrite(g: BluetoothGatt, c: BluetoothGattCharacteristic, status: Int) {
            if (ours(g)) queue.onCharacteristicWritten(c.uuid.toString(), status == BluetoothGatt.GATT_SUCCESS)
        }

        // API 33+: the value comes as an argument
        override fun onCharacteristicRead(g: BluetoothGatt, c: BluetoothGattCharacteristic, value: ByteArray, status: Int) {
            if (ours(g)) queue.onCharacteristicRead(c.uuid.toString(), value, status == BluetoothGatt.GATT_SUCCESS)
        }

        @Deprecated("API < 33")
        @Suppress("DEPRECATION")
        override fun onCharacteristicRead(g: BluetoothGatt, c: BluetoothGattCharacteristic, status: Int) {
            if (Build.VERSION.SDK_INT >= 33 || !ours(g)) return
            queue.onCharacteristicRead(c.uuid.toString(), c.value?.copyOf() ?: ByteArray(0), status == BluetoothGatt.GATT_SUCCESS)
        }

        override fun onCharacteristicChanged(g: BluetoothGatt, c: BluetoothGattCharacteristic, value: ByteArray) {
            if (ours(g)) queue.onCharacteristicChanged(c.uuid.toString(), value)
        }

        @Deprecated("API < 33")
        @Suppress("DEPRECATION")
        override fun onCharacteristicChanged(g: BluetoothGatt, c: BluetoothGattCharacteristic) {
            if (Build.VERSION.SDK_INT >= 33 || !ours(g)) return
            // copy at once: the stack reuses the characteristic's value for the next notification
            queue.onCharacteristicChanged(c.uuid.toString(), c.value?.copyOf() ?: return)
        }
    }

    override fun connect(): OpStart {
        synchronized(lock) {
            gatt?.close()
            gatt = null
            connecting = true
            closedWhileConnecting = false
        }
        val g: BluetoothGatt? = try {
            device.connectGatt(context, false, callback, BluetoothDevice.TRANSPORT_LE)
        } catch (e: RuntimeException) { // SecurityException: the queue makes it a refused connect
            synchronized(lock) { connecting = false }
            throw e
        }
        synchronized(lock) {
            connecting = false
            if (g != null) {
                // an early failure was reported and the queue closed the link meanwhile: drop it
                if (closedWhileConnecting) g.close() else gatt = g
            }
        }
        return if (g == null) OpStart.Refused("connectGatt returned null") else OpStart.Started
    }

    override fun discoverServices(): OpStart = started(gatt?.discoverServices(), "discoverServices")

    override fun requestMtu(mtu: Int): OpStart = started(gatt?.requestMtu(mtu), "requestMtu")

    override fun routeNotifications(characteristicUuid: String): OpStart {
        val c = characteristic(characteristicUuid) ?: return OpStart.Refused("characteristic not found")
        return started(gatt?.setCharacteristicNotification(c, true), "setCharacteristicNotification")
    }

    override fun writeDescriptor(characteristicUuid: String, descriptorUuid: String, value: ByteArray): OpStart {
        val g = gatt ?: return OpStart.Refused("no link")
        val d = characteristic(characteristicUuid)?.getDescriptor(UUID.fromString(descriptorUuid))
            ?: return OpStart.Refused("descriptor not found")
        return if (Build.VERSION.SDK_INT >= 33) {
            code(g.writeDescriptor(d, value), "writeDescriptor")
        } else {
            @Suppress("DEPRECATION")
            started(run { d.value = value; g.writeDescriptor(d) }, "writeDescriptor")
        }
    }

    override fun writeCharacteristic(characteristicUuid: String, value: ByteArray): OpStart {
        val g = gatt ?: return OpStart.Refused("no link")
        val c = characteristic(characteristicUuid) ?: return OpStart.Refused("characteristic not found")
        return if (Build.VERSION.SDK_INT >= 33) {
            code(g.writeCharacteristic(c, value, BluetoothGattCharacteristic.WRITE_TYPE_DEFAULT), "writeCharacteristic")
        } else {
            @Suppress("DEPRECATION")
            started(run {
                c.writeType = BluetoothGattCharacteristic.WRITE_TYPE_DEFAULT
                c.value = value
                g.writeCharacteristic(c)
            }, "writeCharacteristic")
        }
    }

    override fun readCharacteristic(characteristicUuid: String): OpStart {
        val c = characteristic(characteristicUuid) ?: return OpStart.Refused("characteristic not found")
        return started(gatt?.readCharacteristic(c), "readCharacteristic")
    }

    override fun disconnect(): OpStart {
        val g = gatt ?: return OpStart.Refused("no link")
        g.disconnect()
        return OpStart.Started
    }

    override fun close() {
        synchronized(lock) {
            gatt?.close()
            gatt = null
            if (connecting) closedWhileConnecting = true
        }
    }

    private fun characteristic(uuid: String): BluetoothGattCharacteristic? {
        val u = UUID.fromString(uuid)
        return gatt?.services?.firstNotNullOfOrNull { it.getCharacteristic(u) }
    }

    private fun started(ok: Boolean?, what: String) =
        if (ok == true) OpStart.Started else OpStart.Refused("$what refused")

    private fun code(status: Int, what: String) =
        if (status == BluetoothStatusCodes.SUCCESS) OpStart.Started else OpStart.Refused("$what refused ($status)")
}
