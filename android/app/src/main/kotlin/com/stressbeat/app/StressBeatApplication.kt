package com.stressbeat.app

import android.app.Application
import android.app.NotificationChannel
import android.app.NotificationManager
import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.util.Log
import androidx.core.content.ContextCompat
import com.stressbeat.app.logic.LogSafe
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.core.StressBeatException
import com.stressbeat.core.StressMonitor
import com.stressbeat.core.StressMonitorConfig
import com.stressbeat.core.initLogging
import java.io.File
import java.time.ZoneId
import java.time.ZonedDateTime
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext

/**
 * Owns the one [StressMonitor] of the process (created off the main thread: opening the history
 * and applying retention block) and its [MonitorRepository]. The service and the screens share them.
 */
class StressBeatApplication : Application() {
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private val mutex = Mutex()
    @Volatile private var repository: MonitorRepository? = null

    override fun onCreate() {
        super.onCreate()
        initLogging() // the core's log → logcat, tag "StressBeat" (never identifies a person)
        val nm = getSystemService(NotificationManager::class.java)
        nm.createNotificationChannel(NotificationChannel(CHANNEL_LIVE, "Live monitoring", NotificationManager.IMPORTANCE_LOW))
        nm.createNotificationChannel(NotificationChannel(CHANNEL_ALERTS, "Alerts", NotificationManager.IMPORTANCE_HIGH))
        // quiet hours and daily summaries use the local offset: follow time-zone and clock
        // changes for as long as the process lives (a DST change within the same zone sends no
        // broadcast: the service also re-checks every minute during a session, and at each start)
        val filter = IntentFilter().apply {
            addAction(Intent.ACTION_TIMEZONE_CHANGED)
            addAction(Intent.ACTION_TIME_CHANGED)
        }
        // system broadcasts still reach a not-exported receiver
        ContextCompat.registerReceiver(this, object : BroadcastReceiver() {
            override fun onReceive(context: Context, intent: Intent) = updateUtcOffset()
        }, filter, ContextCompat.RECEIVER_NOT_EXPORTED)
    }

    /** Tell the monitor the current UTC offset (off the main thread); nothing before it exists
     *  (it is created with the offset of that moment). */
    fun updateUtcOffset() {
        val r = repository ?: return
        appScope.launch(Dispatchers.IO) {
            try {
                r.monitor.setUtcOffsetMinutes(utcOffsetMinutes())
            } catch (e: StressBeatException) {
                Log.w(TAG, "time zone not updated: ${LogSafe.error(e)}")
            }
        }
    }

    /** The repository, creating the monitor on first use (on `Dispatchers.IO`). Throws [StressBeatException]. */
    suspend fun repository(): MonitorRepository = mutex.withLock {
        repository ?: withContext(Dispatchers.IO) {
            val dir = File(noBackupFilesDir, "history").apply { mkdirs() }
            try {
                MonitorRepository(StressMonitor(StressMonitorConfig(
                    databasePath = File(dir, "history.db").path,
                    utcOffsetMinutes = utcOffsetMinutes(),
                )))
            } catch (e: StressBeatException) {
                Log.w(TAG, "monitor not created: ${LogSafe.error(e)}")
                throw e
            }
        }.also { repository = it }
    }

    companion object {
        const val TAG = "StressBeatApp"
        const val CHANNEL_LIVE = "live"
        const val CHANNEL_ALERTS = "alerts"

        fun utcOffsetMinutes(): Int = ZonedDateTime.now(ZoneId.systemDefault()).offset.totalSeconds / 60
    }
}
