package com.stressbeat.app.service

import android.Manifest
import android.app.Notification
import android.app.NotificationManager
import android.app.PendingIntent
import android.bluetooth.BluetoothDevice
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import android.content.pm.ServiceInfo
import android.os.Build
import android.os.SystemClock
import android.util.Log
import androidx.core.app.NotificationCompat
import androidx.core.app.ServiceCompat
import androidx.core.content.ContextCompat
import androidx.core.content.IntentCompat
import androidx.lifecycle.LifecycleService
import androidx.lifecycle.lifecycleScope
import com.stressbeat.app.MainActivity
import com.stressbeat.app.StressBeatApplication
import com.stressbeat.app.ble.BluetoothGattOperations
import com.stressbeat.app.logic.ForegroundType
import com.stressbeat.app.logic.LiveState
import com.stressbeat.app.logic.LogSafe
import com.stressbeat.app.logic.MonitorRepository
import com.stressbeat.app.logic.ServicePolicy
import com.stressbeat.app.logic.SessionStatus
import com.stressbeat.app.logic.SourceKind
import com.stressbeat.app.logic.StartDecision
import com.stressbeat.app.logic.StrapLink
import com.stressbeat.app.logic.UserMessage
import com.stressbeat.app.logic.UserText
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.SimulatedStress
import com.stressbeat.core.StressBeatException
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.distinctUntilChangedBy
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/**
 * Foreground service owning the running session: the strap link (GATT queue + core
 * StrapSession + their tick) and the monitor session. Its notification shows live heart rate and
 * stress (not on the lock screen); alerts become notifications. Stops itself when the session
 * finishes. One session at a time: a start action while one runs is ignored.
 *
 * Foreground service types (Android 14+ checks them at startForeground):
 * - a strap: `connectedDevice`, which requires BLUETOOTH_CONNECT (checked first);
 * - the simulator and the replay of a file use no device: `specialUse` (subtype in the
 *   manifest). Not `connectedDevice`: it throws SecurityException without a Bluetooth
 *   permission, which the demo does not need. Not `dataSync`: Play reserves it for transfers
 *   (upload/download, backup, import/export) and Android 15 limits it to 6 h a day. Not
 *   `health`: it needs a body-sensor or activity-recognition permission the app has no use for.
 *   `specialUse` needs only its manifest permission, plus the use case declared in the Play
 *   Console (the subtype text says what it is).
 * The decisions (which start command runs, its type, which alerts notify, what the live
 * notification shows before the new session's state arrives) are [ServicePolicy]'s, JVM-tested.
 *
 * Stopping: a command that ends in a stop passes its own start id (`stopSelf(startId)`: a start
 * delivered after it keeps the service); the end of a session passes the latest one delivered.
 * Threads: everything here runs on the main thread (lifecycleScope), except the tick and the
 * blocking session calls (`tickDispatcher`, `Dispatchers.IO` inside the repository).
 */
class MonitorService : LifecycleService() {
    /** The session this service runs (null: none). */
    private inner class Active(val link: StrapLink?) {
        var ticker: Job? = null
        var watcher: Job? = null
        var ending = false
    }

    private var active: Active? = null
    private var notifications: Job? = null
    /** The latest start id delivered to [onStartCommand] (for the end of a session). */
    private var lastStartId = 0
    private val tickDispatcher = Dispatchers.Default.limitedParallelism(1)
    private val app get() = application as StressBeatApplication

    override fun onStartCommand(intent: Intent?, flags: Int, startId: Int): Int {
        super.onStartCommand(intent, flags, startId)
        lastStartId = startId
        val device = intent?.takeIf { it.action == ACTION_STRAP }?.let {
            IntentCompat.getParcelableExtra(it, EXTRA_DEVICE, BluetoothDevice::class.java)
        }
        val path = intent?.getStringExtra(EXTRA_PATH)
        val request = intent?.let { ServicePolicy.Request(it.action, hasDevice = device != null, hasPath = path != null) }
        val decision = ServicePolicy.decide(request, sessionActive = active != null,
            bluetoothConnect = hasBluetoothConnect(), sdk = Build.VERSION.SDK_INT, coreLoaded = app.nativeProblem == null)
        when (decision) {
            // sent with startService (the screen, the notification's action): no startForeground needed
            StartDecision.Stop -> lifecycleScope.launch { stopSession(startId) }
            // a double tap, or the simulator while a strap session runs: the running session stays
            StartDecision.IgnoreRunning -> Log.i(TAG, "start ignored: a session is running")
            is StartDecision.Refuse -> refuse(decision.why, decision.problem, startId)
            is StartDecision.Start -> {
                val bluetooth = decision.kind == SourceKind.STRAP
                if (enterForeground(decision.type, bluetooth, startId)) when (decision.kind) {
                    // decide() starts a strap only with a device, a replay only with a path
                    SourceKind.STRAP -> startStrap(checkNotNull(device), intent?.getBooleanExtra(EXTRA_ECG, true) ?: true)
                    SourceKind.SIMULATOR -> start(MonitorSource.Simulator(minutes = 15.0,
                        seed = System.nanoTime().toULong(),
                        stress = listOf(SimulatedStress(startS = 240.0, durationS = 180.0, intensity = 0.9)),
                        faults = "", realtime = true), link = null)
                    SourceKind.REPLAY -> start(MonitorSource.ReplayFile(checkNotNull(path), 1.0), link = null)
                }
            }
        }
        return START_NOT_STICKY // a killed session is closed as "interrupted" by the core
    }

    private fun hasBluetoothConnect() = Build.VERSION.SDK_INT < 31 ||
        ContextCompat.checkSelfPermission(this, Manifest.permission.BLUETOOTH_CONNECT) == PackageManager.PERMISSION_GRANTED

    /**
     * startForeground with the type this session needs ([ServicePolicy.foregroundType]); false
     * (the service stopping) when the platform refuses: SecurityException (a type's permission
     * missing, Android 14+), ForegroundServiceStartNotAllowedException (Android 12+, started from
     * the background; an IllegalStateException, caught as such: the class does not exist before
     * API 31).
     */
    private fun enterForeground(type: ForegroundType, bluetooth: Boolean, startId: Int): Boolean {
        val serviceType = when (type) {
            ForegroundType.NONE -> 0
            ForegroundType.CONNECTED_DEVICE -> ServiceInfo.FOREGROUND_SERVICE_TYPE_CONNECTED_DEVICE // API 29+
            ForegroundType.SPECIAL_USE -> ServiceInfo.FOREGROUND_SERVICE_TYPE_SPECIAL_USE // API 34+
        }
        return try {
            ServiceCompat.startForeground(this, NOTIFICATION_LIVE, liveNotification(LiveState()), serviceType)
            true
        } catch (e: SecurityException) {
            Log.w(TAG, "not started in the foreground: ${LogSafe.error(e)}")
            notifyProblem(UserText.notStarted(bluetooth))
            stopSelf(startId)
            false
        } catch (e: IllegalStateException) {
            Log.w(TAG, "not started in the foreground: ${LogSafe.error(e)}")
            stopSelf(startId)
            false
        }
    }

    /**
     * A start request that cannot run. The caller used startForegroundService: the platform
     * expects startForeground even from a service that stops at once (otherwise it may crash the
     * app with "did not then call startForeground"), so enter the foreground with the type that
     * needs no permission, then leave. Only when no session runs ([ServicePolicy.decide]).
     */
    private fun refuse(why: String, problem: UserMessage?, startId: Int) {
        Log.w(TAG, "start refused: $why")
        problem?.let(::notifyProblem)
        if (enterForeground(ServicePolicy.refusalType(Build.VERSION.SDK_INT), bluetooth = false, startId)) {
            ServiceCompat.stopForeground(this, ServiceCompat.STOP_FOREGROUND_REMOVE)
            stopSelf(startId)
        }
    }

    private fun startStrap(device: BluetoothDevice, ecg: Boolean) {
        val ops = BluetoothGattOperations(applicationContext, device)
        val l = StrapLink(ops, SystemClock::elapsedRealtime, ecg, log = { Log.i(TAG, it) })
        ops.queue = l.queue
        start(l.monitorSource(), link = l)
    }

    private fun start(source: MonitorSource, link: StrapLink?) {
        val a = Active(link)
        active = a
        lifecycleScope.launch {
            var repo: MonitorRepository? = null
            var started = false
            try {
                val r = app.repository()
                repo = r
                if (r.state.value.isRunning) {
                    // a session this service does not own (should not happen): leave it alone
                    Log.w(TAG, "start ignored: the monitor runs a session already")
                    endSession(a)
                    return@launch
                }
                if (a.ending) return@launch // stopped while the history opened
                app.updateUtcOffset() // a DST change since the last session
                val mark = r.state.value.session // may still be the previous session's Finished
                // the state still holds the previous session's values until SessionStarted
                // reaches it: the notifications show the neutral state until then
                startNotifications(r, mark)
                a.watcher = launch {
                    r.awaitFinished(mark)
                    endSession(a)
                }
                r.start(source)
                started = true
                if (a.ending) { // ACTION_STOP came while the session was starting
                    withContext(NonCancellable) { runCatching { r.stop() } }
                    return@launch
                }
                if (link != null) {
                    withContext(tickDispatcher) { link.session.start(SystemClock.elapsedRealtime()) }
                    a.ticker = launch(tickDispatcher) {
                        while (isActive) {
                            link.tick()
                            delay(TICK_MS)
                        }
                    }
                }
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                // StressBeatException from the core; anything else (e.g. a destroyed object) the same way
                Log.w(TAG, "session not started: ${LogSafe.error(e)}")
                if (e is StressBeatException) notifyProblem(UserText.error(e))
                a.watcher?.cancel()
                // the monitor session runs although the strap's could not start: stop it
                if (started) withContext(NonCancellable) { runCatching { repo?.stop() } }
                endSession(a)
            }
        }
    }

    /**
     * The live notification follows the state of the session started after [mark] (the neutral
     * state before it: [ServicePolicy.notificationState]); its warning alerts become
     * notifications ([ServicePolicy.alertNotifications]).
     */
    private fun startNotifications(repo: MonitorRepository, mark: SessionStatus) {
        notifications?.cancel()
        notifications = lifecycleScope.launch {
            launch {
                repo.state.map { ServicePolicy.notificationState(it, mark) }
                    .distinctUntilChangedBy { Triple(it.heartRate?.bpm, it.stress?.level, it.connection) }
                    .collect { s -> if (canNotify()) nm().notify(NOTIFICATION_LIVE, liveNotification(s)) }
            }
            launch {
                ServicePolicy.alertNotifications(repo.state, mark).collect { a ->
                    notifyProblem(UserText.alertNotification(a))
                }
            }
            launch {
                // the time-zone broadcast does not cover a DST change while a session runs
                while (isActive) {
                    delay(60_000)
                    app.updateUtcOffset()
                }
            }
        }
    }

    /**
     * ACTION_STOP: stop the monitor session (which stops the strap's ECG stream), then end. With
     * no session of this service, stop with this command's [startId] only: a start delivered
     * while `repository()` was suspended keeps the service (and its new session).
     */
    private suspend fun stopSession(startId: Int) {
        val a = active
        if (app.nativeProblem == null) try {
            // inside the try: a history that cannot be opened must not crash the stop
            val repo = app.repository()
            // a session this service started while repository() was suspended is not this
            // command's to stop
            val startedMeanwhile = a == null && active != null
            if (!startedMeanwhile && repo.state.value.isRunning) repo.stop()
        } catch (e: StressBeatException) {
            Log.w(TAG, "stop: ${LogSafe.error(e)}")
        }
        if (a != null) endSession(a) else stopSelf(startId)
    }

    /**
     * The session is over (finished, stopped, or failed to start): stop posting the live
     * notification, let the GATT queue send what the session asked for last (the ECG stop
     * `03 00`, the disconnect; at most [DRAIN_MS], the ticker still running so the queue's own
     * timeouts apply), close the link, leave the foreground and stop.
     */
    private suspend fun endSession(a: Active) {
        if (a.ending) return
        a.ending = true
        // first: a collector still running after stopForeground would post an ongoing
        // notification that no service owns
        notifications?.cancel()
        notifications = null
        a.link?.let { l ->
            withContext(NonCancellable) {
                if (!l.queue.awaitIdle(DRAIN_MS)) Log.w(TAG, "link closed before the queue drained")
            }
        }
        release(a)
        if (active === a) active = null
        ServiceCompat.stopForeground(this, ServiceCompat.STOP_FOREGROUND_REMOVE)
        nm().cancel(NOTIFICATION_LIVE)
        // the latest start delivered (all on the main thread: none came in between unnoticed);
        // a start the platform has not delivered yet keeps the service
        stopSelf(lastStartId)
    }

    /** Stop this session's ticker and close its link (StrapLink.close waits for a running tick). */
    private fun release(a: Active) {
        a.ticker?.cancel()
        a.ticker = null
        a.link?.close()
    }

    override fun onDestroy() {
        notifications?.cancel()
        notifications = null
        val a = active
        active = null
        if (a != null && !a.ending) {
            // destroyed with a session on (the system stopped the service): end it in the
            // application's scope, stop write first, then close the link
            a.ending = true
            a.ticker?.cancel()
            val l = a.link
            app.appScope.launch {
                runCatching { app.repository().let { if (it.state.value.isRunning) it.stop() } }
                l?.queue?.awaitIdle(DRAIN_MS)
                l?.close()
            }
        }
        nm().cancel(NOTIFICATION_LIVE)
        super.onDestroy()
    }

    private fun nm() = getSystemService(NotificationManager::class.java)

    private fun canNotify() = Build.VERSION.SDK_INT < 33 ||
        ContextCompat.checkSelfPermission(this, Manifest.permission.POST_NOTIFICATIONS) == PackageManager.PERMISSION_GRANTED

    private fun openApp(): PendingIntent = PendingIntent.getActivity(this, 0,
        Intent(this, MainActivity::class.java), PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT)

    /** What the lock screen shows instead: no heart rate, no stress. */
    private fun publicLiveNotification(): Notification =
        NotificationCompat.Builder(this, StressBeatApplication.CHANNEL_LIVE)
            .setSmallIcon(android.R.drawable.stat_notify_sync)
            .setContentTitle(UserText.LOCK_SCREEN_MONITORING)
            .setOngoing(true)
            .build()

    private fun liveNotification(s: LiveState): Notification =
        NotificationCompat.Builder(this, StressBeatApplication.CHANNEL_LIVE)
            .setSmallIcon(android.R.drawable.stat_notify_sync)
            .setContentTitle(UserText.liveTitle(s, System.currentTimeMillis()))
            .setContentText(UserText.liveText(s))
            .setOngoing(true)
            .setOnlyAlertOnce(true)
            .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
            .setPublicVersion(publicLiveNotification())
            .setContentIntent(openApp())
            .addAction(0, UserText.STOP, PendingIntent.getService(this, 1,
                Intent(this, MonitorService::class.java).setAction(ACTION_STOP), PendingIntent.FLAG_IMMUTABLE))
            .build()

    private fun notifyProblem(m: UserMessage) {
        if (!canNotify()) return
        val public = NotificationCompat.Builder(this, StressBeatApplication.CHANNEL_ALERTS)
            .setSmallIcon(android.R.drawable.stat_sys_warning)
            .setContentTitle(UserText.LOCK_SCREEN_ALERT_TITLE)
            .setContentText(UserText.LOCK_SCREEN_ALERT_TEXT)
            .build()
        val n = NotificationCompat.Builder(this, StressBeatApplication.CHANNEL_ALERTS)
            .setSmallIcon(android.R.drawable.stat_sys_warning)
            .setContentTitle(m.title)
            .setStyle(NotificationCompat.BigTextStyle().bigText("${m.body}\n${UserText.DISCLAIMER}"))
            .setContentText(m.body)
            .setVisibility(NotificationCompat.VISIBILITY_PRIVATE)
            .setPublicVersion(public)
            .setAutoCancel(true)
            .setContentIntent(openApp())
            .build()
        nm().notify(NOTIFICATION_ALERT_BASE + (nextAlert++ % 50), n)
    }

    companion object {
        private const val TAG = "StressBeatService"
        private const val TICK_MS = 200L
        /** How long the end of a session waits for the GATT queue (ECG stop write, disconnect). */
        private const val DRAIN_MS = 3_000L
        private const val NOTIFICATION_LIVE = 1
        private const val NOTIFICATION_ALERT_BASE = 100
        private var nextAlert = 0
        const val ACTION_STRAP = ServicePolicy.ACTION_STRAP
        const val ACTION_SIMULATOR = ServicePolicy.ACTION_SIMULATOR
        const val ACTION_REPLAY = ServicePolicy.ACTION_REPLAY
        const val ACTION_STOP = ServicePolicy.ACTION_STOP
        const val EXTRA_DEVICE = "device"
        const val EXTRA_ECG = "ecg"
        const val EXTRA_PATH = "path"

        fun intent(context: Context, action: String) = Intent(context, MonitorService::class.java).setAction(action)

        /** Start a session (a foreground service start; check the permissions first). */
        fun start(context: Context, intent: Intent) = ContextCompat.startForegroundService(context, intent)

        /** Stop the session: a plain service start (no startForeground owed; the app is visible
         *  or holds a foreground service). */
        fun stop(context: Context) {
            context.startService(intent(context, ACTION_STOP))
        }
    }
}
