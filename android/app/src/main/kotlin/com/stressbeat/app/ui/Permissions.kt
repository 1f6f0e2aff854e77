package com.stressbeat.app.ui

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.os.Build
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.runtime.Composable
import androidx.compose.runtime.remember
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.ContextCompat

/** The runtime permissions the app asks for, where it needs them (never all at launch). */
object AppPermissions {
    /** Scan and connect: "Nearby devices" on Android 12+, fine location before (a BLE scan needs it there). */
    val bluetooth: List<String>
        get() = if (Build.VERSION.SDK_INT >= 31) listOf(Manifest.permission.BLUETOOTH_SCAN, Manifest.permission.BLUETOOTH_CONNECT)
        else listOf(Manifest.permission.ACCESS_FINE_LOCATION)

    /** Live and alert notifications (Android 13+); optional: a session runs without them. */
    val notifications: List<String>
        get() = if (Build.VERSION.SDK_INT >= 33) listOf(Manifest.permission.POST_NOTIFICATIONS) else emptyList()

    fun missing(context: Context, permissions: List<String>): List<String> =
        permissions.filter { ContextCompat.checkSelfPermission(context, it) != PackageManager.PERMISSION_GRANTED }
}

/**
 * Run an action once permissions are granted: `request(ask, required, onDenied) { … }` runs it at
 * once when nothing of `ask` is missing; otherwise asks (RequestMultiplePermissions) and, with the
 * result, checks `required` again: granted → the action, denied → `onDenied` (the user can allow
 * it in Settings once the system stops asking). `ask` may hold more than `required` (the
 * notification permission, asked alongside, is optional).
 */
class PermissionGate internal constructor(
    private val context: Context,
    private val launch: (Array<String>) -> Unit,
) {
    internal var pending: (() -> Unit)? = null
    internal var pendingRequired: List<String> = emptyList()
    internal var pendingDenied: (() -> Unit)? = null

    fun request(ask: List<String>, required: List<String>, onDenied: () -> Unit, action: () -> Unit) {
        val missing = AppPermissions.missing(context, ask)
        if (missing.isEmpty()) {
            action()
            return
        }
        pending = action
        pendingRequired = required
        pendingDenied = onDenied
        launch(missing.toTypedArray())
    }

    internal fun onResult() {
        val action = pending
        val denied = pendingDenied
        pending = null
        pendingDenied = null
        if (AppPermissions.missing(context, pendingRequired).isEmpty()) action?.invoke() else denied?.invoke()
    }
}

@Composable
fun rememberPermissionGate(): PermissionGate {
    val context = LocalContext.current
    val holder = remember { arrayOfNulls<PermissionGate>(1) } // the result callback needs the gate
    val launcher = rememberLauncherForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) {
        holder[0]?.onResult() // the result map is not needed: the permissions are checked again
    }
    return remember(context, launcher) { PermissionGate(context) { launcher.launch(it) }.also { holder[0] = it } }
}
