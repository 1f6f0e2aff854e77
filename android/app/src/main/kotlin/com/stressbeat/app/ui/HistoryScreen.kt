package com.stressbeat.app.ui

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.net.Uri
import android.provider.DocumentsContract
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContract
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import com.stressbeat.app.logic.ChartSeries
import com.stressbeat.app.logic.DailyBar
import com.stressbeat.app.logic.HistoryCharts
import com.stressbeat.app.logic.HistoryRepository
import com.stressbeat.app.logic.HistoryState
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.app.logic.UserText
import com.stressbeat.core.ExportFormat
import com.stressbeat.core.StressBeatException
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException
import java.text.DateFormat
import java.time.LocalDate
import java.time.ZoneId
import java.util.Date
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

@Composable
fun HistoryScreen(repo: MonitorRepository) {
    val history = remember(repo) { HistoryRepository(repo.monitor) }
    val context = LocalContext.current
    val scope = rememberCoroutineScope()
    var state by remember { mutableStateOf(HistoryState()) }
    // the user's locale and time zone when the screen was composed (not one per row and frame)
    val fmt = remember { DateFormat.getDateTimeInstance(DateFormat.SHORT, DateFormat.SHORT) }
    var message by remember { mutableStateOf<String?>(null) }
    // what is being exported while the picker is open: saveable (the activity may be recreated
    // behind the picker); plain values, a Bundle holds them
    var exportSession by rememberSaveable { mutableStateOf<Long?>(null) }
    var exportFormat by rememberSaveable { mutableStateOf<String?>(null) }

    suspend fun reload() {
        val zone = ZoneId.systemDefault()
        state = withContext(Dispatchers.IO) { history.load(System.currentTimeMillis(), LocalDate.now(zone), zone) }
    }
    LaunchedEffect(repo) {
        try { reload() } catch (e: StressBeatException) { message = UserText.error(e).body }
    }

    // SAF: the user picks where; the core exports into a cache file, which is then copied into
    // the picked document through the ContentResolver (no /proc/self/fd path: FUSE on Android 11+
    // and pipe-backed providers make that fail)
    val createDoc = rememberLauncherForActivityResult(CreateTypedDocument()) { uri: Uri? ->
        val id = exportSession
        val format = exportFormat?.let { runCatching { ExportFormat.valueOf(it) }.getOrNull() }
        exportSession = null
        exportFormat = null
        if (uri == null || id == null || format == null) return@rememberLauncherForActivityResult
        scope.launch {
            message = try {
                val rows = withContext(Dispatchers.IO) { exportToDocument(context, history, id, format, uri) }
                UserText.exported(rows)
            } catch (e: StressBeatException) {
                UserText.error(e).body
            } catch (e: IOException) { // FileNotFoundException included
                UserText.EXPORT_NOT_WRITTEN
            } catch (e: SecurityException) {
                UserText.EXPORT_NOT_WRITTEN
            } catch (e: IllegalArgumentException) { // a provider refusing the mode
                UserText.EXPORT_NOT_WRITTEN
            }
        }
    }

    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
        Text(UserText.STRESS_24H, style = MaterialTheme.typography.titleMedium)
        LineChart(state.score, maxY = 100.0, color = MaterialTheme.colorScheme.error)
        Text(UserText.HEART_RATE_24H, style = MaterialTheme.typography.titleMedium)
        LineChart(state.heartRate, maxY = 200.0, color = MaterialTheme.colorScheme.primary)
        Text(UserText.LAST_7_DAYS, style = MaterialTheme.typography.titleMedium)
        DailyBars(state.days)
        Text(UserText.SESSIONS, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 8.dp))
        state.sessions.forEach { s ->
            Column(Modifier.padding(vertical = 4.dp)) {
                Text(UserText.sessionLine(fmt.format(Date(s.startedAtMs)), s))
                UserText.sessionEnd(s)?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
                Row {
                    listOf(ExportFormat.WINDOWS_CSV, ExportFormat.RR_CSV, ExportFormat.EDF).forEach { f ->
                        TextButton(onClick = {
                            exportSession = s.id
                            exportFormat = f.name
                            createDoc.launch(HistoryCharts.exportFileName(s.id, f) to HistoryCharts.exportMimeType(f))
                        }) { Text(UserText.exportButton(f)) }
                    }
                }
            }
        }
        message?.let { Text(it) }
        Disclaimer()
    }
}

/** ACTION_CREATE_DOCUMENT with the file's real MIME type (input: name to MIME type). */
private class CreateTypedDocument : ActivityResultContract<Pair<String, String>, Uri?>() {
    override fun createIntent(context: Context, input: Pair<String, String>): Intent =
        Intent(Intent.ACTION_CREATE_DOCUMENT)
            .addCategory(Intent.CATEGORY_OPENABLE)
            .setType(input.second)
            .putExtra(Intent.EXTRA_TITLE, input.first)

    override fun parseResult(resultCode: Int, intent: Intent?): Uri? =
        if (resultCode == Activity.RESULT_OK) intent?.data else null
}

/**
 * Blocking (call on Dispatchers.IO): the core writes the export into the cache, the bytes are
 * copied into the picked document, the cache file is deleted. On any failure the document the
 * picker created (empty or partial) is deleted. Returns the core's row count.
 */
private fun exportToDocument(context: Context, history: HistoryRepository, sessionId: Long, format: ExportFormat, uri: Uri): Long {
    val dir = File(context.cacheDir, "export").apply { mkdirs() }
    val tmp = File(dir, HistoryCharts.exportFileName(sessionId, format))
    var written = false
    try {
        val rows = history.export(sessionId, format, tmp.path)
        val resolver = context.contentResolver
        val out = (try {
            resolver.openOutputStream(uri, "wt") // truncate: the provider may hand out an existing file
        } catch (e: IllegalArgumentException) { // a provider without "wt"; the new document is empty
            resolver.openOutputStream(uri, "w")
        } catch (e: FileNotFoundException) {
            resolver.openOutputStream(uri, "w")
        }) ?: throw FileNotFoundException("provider returned no stream")
        out.use { o -> tmp.inputStream().use { it.copyTo(o) } }
        written = true
        return rows
    } finally {
        tmp.delete()
        if (!written) runCatching { DocumentsContract.deleteDocument(context.contentResolver, uri) }
    }
}

/** Segments are drawn separately: no line across a gap. */
@Composable
private fun LineChart(series: ChartSeries, maxY: Double, color: Color) {
    Canvas(Modifier.fillMaxWidth().height(140.dp).padding(vertical = 8.dp)) {
        val span = (series.toMs - series.fromMs).coerceAtLeast(1).toFloat()
        fun x(ms: Long) = (ms - series.fromMs) / span * size.width
        fun y(v: Double) = size.height - (v / maxY).toFloat().coerceIn(0f, 1f) * size.height
        drawLine(Color.Gray, Offset(0f, size.height), Offset(size.width, size.height))
        series.segments.forEach { seg ->
            if (seg.size == 1) {
                val p = seg[0]
                drawCircle(color, 3f, Offset(x((p.startMs + p.endMs) / 2), y(p.value)))
            }
            seg.zipWithNext().forEach { (a, b) ->
                drawLine(color, Offset(x((a.startMs + a.endMs) / 2), y(a.value)), Offset(x((b.startMs + b.endMs) / 2), y(b.value)), strokeWidth = 4f)
            }
        }
    }
}

@Composable
private fun DailyBars(days: List<DailyBar>) {
    val color = MaterialTheme.colorScheme.tertiary
    Canvas(Modifier.fillMaxWidth().height(100.dp).padding(vertical = 8.dp)) {
        if (days.isEmpty()) return@Canvas
        val w = size.width / days.size
        days.forEachIndexed { i, d ->
            val v = d.meanScore ?: return@forEachIndexed // no data that day: no bar
            val h = (v / 100.0).toFloat().coerceIn(0f, 1f) * size.height
            drawRect(color, Offset(i * w + w * 0.15f, size.height - h), Size(w * 0.7f, h))
        }
    }
}
