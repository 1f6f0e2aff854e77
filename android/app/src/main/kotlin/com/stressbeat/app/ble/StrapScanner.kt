package com.stressbeat.app.ble

import android.annotation.SuppressLint
import android.bluetooth.BluetoothDevice
import android.bluetooth.BluetoothManager
import android.bluetooth.le.ScanCallback
import android.bluetooth.le.ScanFilter
import android.bluetooth.le.ScanResult
import android.bluetooth.le.ScanSettings
import android.content.Context
import android.os.ParcelUuid
import com.stressbeat.app.logic.GattUuids
import com.stressbeat.app.logic.UserText
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow

/** A strap found by a scan. The address stays in memory only (never logged or stored). */
data class FoundStrap(val device: BluetoothDevice, val name: String, val rssi: Int)

/**
 * Straps advertising the Heart Rate Service (0x180D): a Polar H10 and any standard chest strap.
 * Needs BLUETOOTH_SCAN (Android 12+, declared neverForLocation) or ACCESS_FINE_LOCATION (8–11).
 * Collect for a few seconds; cancelling the collection stops the scan.
 */
@SuppressLint("MissingPermission")
fun scanStraps(context: Context): Flow<FoundStrap> = callbackFlow {
    val scanner = context.getSystemService(BluetoothManager::class.java)?.adapter?.bluetoothLeScanner
    if (scanner == null) {
        close(IllegalStateException("Bluetooth is off"))
        return@callbackFlow
    }
    val cb = object : ScanCallback() {
        override fun onScanResult(callbackType: Int, result: ScanResult) {
            val name = result.scanRecord?.deviceName ?: result.device.name ?: UserText.UNNAMED_STRAP
            trySend(FoundStrap(result.device, name, result.rssi))
        }

        override fun onScanFailed(errorCode: Int) {
            close(IllegalStateException("scan failed ($errorCode)"))
        }
    }
    val filter = ScanFilter.Builder().setServiceUuid(ParcelUuid.fromString(GattUuids.HEART_RATE_SERVICE)).build()
    val settings = ScanSettings.Builder().setScanMode(ScanSettings.SCAN_MODE_LOW_LATENCY).build()
    scanner.startScan(listOf(filter), settings, cb)
    awaitClose { runCatching { scanner.stopScan(cb) } }
}
