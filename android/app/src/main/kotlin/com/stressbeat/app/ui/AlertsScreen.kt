package com.stressbeat.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
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
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import com.stressbeat.app.logic.AlertItem
import com.stressbeat.app.logic.HistoryRepository
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.app.logic.UserText
import com.stressbeat.core.StressBeatException
import java.text.DateFormat
import java.util.Date
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

@Composable
fun AlertsScreen(repo: MonitorRepository) {
    val history = remember(repo) { HistoryRepository(repo.monitor) }
    val scope = rememberCoroutineScope()
    var alerts by remember { mutableStateOf(emptyList<AlertItem>()) }
    var message by remember { mutableStateOf<String?>(null) }
    suspend fun reload() {
        alerts = withContext(Dispatchers.IO) { history.alerts(System.currentTimeMillis()) }
    }
    LaunchedEffect(repo) {
        try { reload() } catch (e: StressBeatException) { message = UserText.error(e).body }
    }
    // the user's locale and time zone when the screen was composed (not one per recomposition)
    val fmt = remember { DateFormat.getDateTimeInstance(DateFormat.SHORT, DateFormat.SHORT) }
    Column(Modifier.padding(16.dp).verticalScroll(rememberScrollState())) {
        if (alerts.isEmpty()) Text(UserText.noAlerts()) // the span HistoryRepository.alerts lists
        alerts.forEach { a ->
            Column(Modifier.padding(vertical = 6.dp)) {
                Text(UserText.alertTitle(a.kind), style = MaterialTheme.typography.titleSmall,
                    color = if (a.warning && !a.acknowledged) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurface)
                Text("${fmt.format(Date(a.atMs))} · ${a.reason}", style = MaterialTheme.typography.bodySmall)
                Row {
                    if (!a.acknowledged) TextButton(onClick = {
                        scope.launch {
                            try {
                                withContext(Dispatchers.IO) { history.acknowledge(a.id) }
                                reload()
                            } catch (e: StressBeatException) {
                                message = UserText.error(e).body
                            }
                        }
                    }) { Text(UserText.MARK_AS_SEEN) } else Text(UserText.SEEN, style = MaterialTheme.typography.bodySmall)
                }
            }
        }
        message?.let { Text(it) }
        Disclaimer()
    }
}
