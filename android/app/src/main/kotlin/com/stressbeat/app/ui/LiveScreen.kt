package com.stressbeat.app.ui

import android.content.Context
import android.net.Uri
import android.provider.OpenableColumns
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableLongStateOf
import androidx.compose.runtime.mutableStateListOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.stressbeat.app.ble.FoundStrap
import com.stressbeat.app.ble.scanStraps
import com.stressbeat.app.logic.Calibration
import com.stressbeat.app.logic.Level
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.app.logic.ReplayFiles
import com.stressbeat.app.logic.UserText
import com.stressbeat.app.service.MonitorService
import com.stressbeat.core.StressBeatException
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull

@Composable
fun LiveScreen(repo: MonitorRepository) {
    val state by repo.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var now by remember { mutableLongStateOf(System.currentTimeMillis()) }
    var message by remember { mutableStateOf<String?>(null) }
    val found = remember { mutableStateListOf<FoundStrap>() }
    var scanning by remember { mutableStateOf(false) }
    // a calibration asked for before a session: the core times it from the session's start;
    // until it reports, the state has no calibration to show (Cancel still offered)
    var calibrationRequested by rememberSaveable { mutableStateOf(false) }
    LaunchedEffect(state.calibration) { if (state.calibration != null) calibrationRequested = false }
    LaunchedEffect(Unit) { while (true) { now = System.currentTimeMillis(); delay(1_000) } } // staleness

    val permissions = rememberPermissionGate()
    val bluetoothDenied = { message = UserText.BLUETOOTH_PERMISSION_NEEDED }

    // several documents: a WFDB record is its .hea and the .dat beside it
    val pickReplay = rememberLauncherForActivityResult(ActivityResultContracts.OpenMultipleDocuments()) { uris: List<Uri> ->
        if (uris.isEmpty()) return@rememberLauncherForActivityResult // cancelled
        scope.launch {
            val picked = try {
                withContext(Dispatchers.IO) { copyToCache(context, uris) }
            } catch (e: IOException) { // FileNotFoundException included
                null
            } catch (e: SecurityException) { // the provider revoked the grant
                null
            } catch (e: IllegalArgumentException) { // a provider that cannot open it
                null
            }
            message = when (picked) {
                null -> UserText.PICKED_FILE_UNREADABLE
                is ReplayFiles.Choice.Refused -> UserText.replayProblem(picked.problem)
                is ReplayFiles.Choice.Replay -> {
                    val path = File(replayDir(context), picked.name).path
                    permissions.request(AppPermissions.notifications, emptyList(), onDenied = {}) {
                        MonitorService.start(context, MonitorService.intent(context, MonitorService.ACTION_REPLAY)
                            .putExtra(MonitorService.EXTRA_PATH, path))
                    }
                    null
                }
            }
        }
    }

    fun scan() {
        scope.launch {
            scanning = true
            found.clear()
            try {
                withTimeoutOrNull(8_000) { scanStraps(context).collect { s -> if (found.none { it.device == s.device }) found += s } }
            } catch (e: SecurityException) {
                // the permission was revoked (or never given): ask again; the user scans again
                message = UserText.BLUETOOTH_PERMISSION_NEEDED
                permissions.request(AppPermissions.bluetooth, AppPermissions.bluetooth, bluetoothDenied) { message = null }
            } catch (e: IllegalStateException) {
                message = UserText.BLUETOOTH_OFF
            } finally {
                scanning = false
            }
        }
    }

    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
        Text(UserText.heartRate(state.heartRate, now), style = MaterialTheme.typography.displayMedium)
        state.heartRate?.let { Text(UserText.heartRateSource(it.source), style = MaterialTheme.typography.bodySmall) }
        StressGauge(state.stress?.score, state.stress?.level)
        Text(UserText.stress(state.stress), style = MaterialTheme.typography.titleMedium)
        Text(UserText.signal(state.signal))
        Text(UserText.connection(state.connection))
        state.batteryPercent?.let { Text(UserText.strapBattery(it)) }
        Text(UserText.session(state.session))
        state.notices.forEach { Text(UserText.notice(it), color = MaterialTheme.colorScheme.error) }
        state.latestAlert?.let { Text(UserText.alertLine(it), color = MaterialTheme.colorScheme.error) }

        UserText.calibration(state.calibration)?.let { Text(it, Modifier.padding(top = 8.dp)) }
        (state.calibration as? Calibration.Running)?.let { c ->
            LinearProgressIndicator(progress = { c.progress() }, modifier = Modifier.fillMaxWidth())
        }
        if (calibrationRequested && state.calibration == null) Text(UserText.CALIBRATION_REQUESTED, Modifier.padding(top = 8.dp))
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp), modifier = Modifier.padding(top = 8.dp)) {
            // offered before a session too (it then starts with the session)
            OutlinedButton(onClick = {
                scope.launch {
                    message = try {
                        repo.startCalibration(Calibration.DURATION_S)
                        calibrationRequested = !repo.state.value.isRunning
                        null
                    } catch (e: StressBeatException) {
                        UserText.error(e).body
                    }
                }
            }) { Text(UserText.calibrateButton()) }
            if (Calibration.cancellable(state.calibration, calibrationRequested)) OutlinedButton(onClick = {
                scope.launch {
                    message = try {
                        repo.cancelCalibration()
                        calibrationRequested = false
                        null
                    } catch (e: StressBeatException) {
                        UserText.error(e).body
                    }
                }
            }) { Text(UserText.CANCEL) }
        }

        if (state.isRunning) {
            Button(onClick = { MonitorService.stop(context) },
                modifier = Modifier.padding(top = 16.dp)) { Text(UserText.STOP) }
        } else {
            Button(onClick = {
                message = null
                // asked here, with the result handled; the notification permission alongside (optional)
                permissions.request(AppPermissions.bluetooth + AppPermissions.notifications, AppPermissions.bluetooth,
                    bluetoothDenied) { scan() }
            }, enabled = !scanning, modifier = Modifier.padding(top = 16.dp)) { Text(if (scanning) UserText.SCANNING else UserText.FIND_STRAP) }
            found.forEach { strap ->
                OutlinedButton(onClick = {
                    // checked again: the permission may have been revoked since the scan
                    permissions.request(AppPermissions.bluetooth, AppPermissions.bluetooth, bluetoothDenied) {
                        MonitorService.start(context, MonitorService.intent(context, MonitorService.ACTION_STRAP)
                            .putExtra(MonitorService.EXTRA_DEVICE, strap.device))
                    }
                }) { Text(UserText.startWith(strap.name)) }
            }
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedButton(onClick = {
                    permissions.request(AppPermissions.notifications, emptyList(), onDenied = {}) {
                        MonitorService.start(context, MonitorService.intent(context, MonitorService.ACTION_SIMULATOR))
                    }
                }) { Text(UserText.DEMO_SIMULATOR) }
                // WFDB: pick the .hea and its .dat together
                OutlinedButton(onClick = { pickReplay.launch(arrayOf("*/*")) }) { Text(UserText.REPLAY_RECORDING) }
            }
        }
        message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Disclaimer()
    }
}

@Composable
private fun StressGauge(score: Int?, level: Level?) {
    val color = when (level) {
        Level.HIGH -> MaterialTheme.colorScheme.error
        Level.ELEVATED -> MaterialTheme.colorScheme.tertiary
        else -> MaterialTheme.colorScheme.primary
    }
    LinearProgressIndicator(progress = { (score ?: 0) / 100f }, color = color,
        modifier = Modifier.fillMaxWidth().padding(vertical = 8.dp))
}

private fun replayDir(context: Context) = File(context.cacheDir, "replay")

/**
 * The core reads files by path: every picked document is copied into one fresh cache directory
 * under its display name (made safe; a WFDB header finds its .dat beside it), then the file to
 * replay is chosen among them. Nothing is copied when the choice is refused. Throws IOException,
 * SecurityException (the caller shows [UserText.PICKED_FILE_UNREADABLE]).
 */
private fun copyToCache(context: Context, uris: List<Uri>): ReplayFiles.Choice {
    val names = ReplayFiles.cacheNames(uris.map { displayName(context, it) })
    val choice = ReplayFiles.choose(names)
    if (choice is ReplayFiles.Choice.Refused) return choice
    val dir = replayDir(context).apply { deleteRecursively(); mkdirs() } // no replay runs now (the button is hidden then)
    uris.zip(names).forEach { (uri, name) ->
        val input = context.contentResolver.openInputStream(uri) ?: throw FileNotFoundException("provider returned no stream")
        input.use { i -> File(dir, name).outputStream().use { i.copyTo(it) } }
    }
    return choice
}

/** The name the provider shows (`OpenableColumns.DISPLAY_NAME`): a URI's last segment is often
 *  an id such as `msf:1234`, without the extension the core chooses the format by. */
private fun displayName(context: Context, uri: Uri): String? = try {
    context.contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { c ->
        if (c.moveToFirst() && !c.isNull(0)) c.getString(0) else null
    }
} catch (e: RuntimeException) { // SecurityException, IllegalArgumentException of odd providers
    null
} ?: uri.lastPathSegment
