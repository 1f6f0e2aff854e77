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
import com.stressbeat.app.logic.UserMessage
import com.stressbeat.app.logic.UserText
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

    /**
     * Set when the native library could not be loaded: the screens show it
     * (MainActivity's problem screen) and the service refuses every start; nothing calls the
     * core then (every call would throw the same error).
     */
    var nativeProblem: UserMessage? = null
        private set

    override fun onCreate() {
        super.onCreate()
        // The first call into the core: JNA loads libjnidispatch.so and libstressbeat_core.so
        // here, on the main thread, once per process (a few milliseconds; the blocking work,
        // opening the history, is in repository() on Dispatchers.IO). Doing it first makes a
        // library that cannot load (a broken install, an ABI the APK lacks, a .so not aligned
        // for 16 KB pages) one clear problem screen instead of a crash at the first screen or
        // service call. LinkageError: UnsatisfiedLinkError from the load, or NoClassDefFoundError
        // / ExceptionInInitializerError from JNA's classes when its own library failed.
        try {
            initLogging() // the core's log → logcat, tag "StressBeat" (never identifies a person)
        } catch (e: LinkageError) {
            Log.e(TAG, "native library not loaded: ${LogSafe.error(e)}")
            nativeProblem = UserText.NATIVE_LIBRARY_MISSING
        }
        val nm = getSystemService(NotificationManager::class.java)
        nm.createNotificationChannel(NotificationChannel(CHANNEL_LIVE, UserText.CHANNEL_LIVE, NotificationManager.IMPORTANCE_LOW))
        nm.createNotificationChannel(NotificationChannel(CHANNEL_ALERTS, UserText.CHANNEL_ALERTS, NotificationManager.IMPORTANCE_HIGH))
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

    /**
     * The repository, creating the monitor on first use (on `Dispatchers.IO`). Throws
     * [StressBeatException]; never call it while [nativeProblem] is set (LinkageError).
     */
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
