package com.stressbeat.app

import android.graphics.Color
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.SystemBarStyle
import androidx.activity.compose.setContent
import androidx.activity.enableEdgeToEdge
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.safeDrawingPadding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableIntStateOf
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
        // targetSdk 35 draws edge to edge on Android 15 whatever the app asks; enabling it
        // everywhere gives the same layout on every release. Dark system-bar icons whatever the
        // system's dark mode: the app's colours are always light (the defaults follow the
        // system's mode and would draw light icons on the light screen). The navigation bar's
        // scrims are androidx's defaults (the dark one where light icons are the only kind,
        // API 26). The content keeps out of the bars: Scaffold's insets for the tabs,
        // safeDrawingPadding() for the screens outside it.
        enableEdgeToEdge(
            statusBarStyle = SystemBarStyle.light(Color.TRANSPARENT, Color.TRANSPARENT),
            navigationBarStyle = SystemBarStyle.light(LIGHT_SCRIM, DARK_SCRIM),
        )
        super.onCreate(savedInstanceState)
        // Runtime permissions are asked where they are needed, with the result handled and
        // checked again before each scan/start (ui/Permissions.kt, LiveScreen): Bluetooth before
        // a scan or a strap session, notifications before a session
        val app = application as StressBeatApplication
        setContent {
            // light colours, as the window's theme (Theme.Material.Light.NoActionBar, manifest)
            MaterialTheme {
                // Surface: the theme's background and content colour (text outside the
                // Scaffold is onSurface, not the platform's default)
                Surface(Modifier.fillMaxSize()) {
                    // the native library failed to load (StressBeatApplication): never call the core
                    val nativeProblem = app.nativeProblem
                    if (nativeProblem != null) ProblemScreen(nativeProblem) else AppContent(app)
                }
            }
        }
    }
}

/** androidx.activity's default navigation-bar scrims (private there). */
private val LIGHT_SCRIM = Color.argb(0xe6, 0xFF, 0xFF, 0xFF)
private val DARK_SCRIM = Color.argb(0x80, 0x1b, 0x1b, 0x1b)

/** The history opens (off the main thread), then the tabs; or what went wrong. */
@Composable
private fun AppContent(app: StressBeatApplication) {
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
    val p = problem
    when {
        p != null -> ProblemScreen(p)
        r == null -> Text(UserText.OPENING_HISTORY, Modifier.safeDrawingPadding().padding(24.dp))
        else -> Tabs(r)
    }
}

@Composable
private fun Tabs(repo: MonitorRepository) {
    var tab by rememberSaveable { mutableIntStateOf(0) }
    Scaffold(bottomBar = {
        NavigationBar {
            UserText.TABS.forEachIndexed { i, label ->
                NavigationBarItem(selected = tab == i, onClick = { tab = i }, icon = {}, label = { Text(label) })
            }
        }
    }) { padding -> // the system bars' insets included (edge to edge)
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
    Column(Modifier.safeDrawingPadding().padding(24.dp)) {
        Text(m.title, style = MaterialTheme.typography.headlineSmall)
        Text(m.body, Modifier.padding(top = 8.dp))
        Text(UserText.DISCLAIMER, Modifier.padding(top = 24.dp), style = MaterialTheme.typography.bodySmall)
    }
}
