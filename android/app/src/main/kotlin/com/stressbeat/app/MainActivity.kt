package com.stressbeat.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.app.logic.UserMessage
import com.stressbeat.app.logic.UserText
import com.stressbeat.app.ui.AlertsScreen
import com.stressbeat.app.ui.HistoryScreen
import com.stressbeat.app.ui.LiveScreen
import com.stressbeat.core.StressBeatException

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Runtime permissions are asked where they are needed, with the result handled and
        // checked again before each scan/start (ui/Permissions.kt, LiveScreen): Bluetooth before
        // a scan or a strap session, notifications before a session
        val app = application as StressBeatApplication
        setContent {
            MaterialTheme {
                var repo by remember { mutableStateOf<MonitorRepository?>(null) }
                var problem by remember { mutableStateOf<UserMessage?>(null) }
                LaunchedEffect(Unit) {
                    try {
                        repo = app.repository() // created on Dispatchers.IO
                    } catch (e: StressBeatException) {
                        problem = UserText.error(e)
                    }
                }
                val r = repo
                when {
                    problem != null -> ProblemScreen(problem!!)
                    r == null -> Text("Opening your history…", Modifier.padding(24.dp))
                    else -> Tabs(r)
                }
            }
        }
    }
}

@Composable
private fun Tabs(repo: MonitorRepository) {
    var tab by rememberSaveable { mutableStateOf(0) }
    Scaffold(bottomBar = {
        NavigationBar {
            listOf("Live", "History", "Alerts").forEachIndexed { i, label ->
                NavigationBarItem(selected = tab == i, onClick = { tab = i }, icon = {}, label = { Text(label) })
            }
        }
    }) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            when (tab) {
                0 -> LiveScreen(repo)
                1 -> HistoryScreen(repo)
                else -> AlertsScreen(repo)
            }
        }
    }
}

@Composable
private fun ProblemScreen(m: UserMessage) {
    Column(Modifier.padding(24.dp)) {
        Text(m.title, style = MaterialTheme.typography.headlineSmall)
        Text(m.body, Modifier.padding(top = 8.dp))
        Text(UserText.DISCLAIMER, Modifier.padding(top = 24.dp), style = MaterialTheme.typography.bodySmall)
    }
}
