package com.stressbeat.app.logic

import com.stressbeat.core.AlertListener
import com.stressbeat.core.ConnectionListener
import com.stressbeat.core.ConnectionUpdate
import com.stressbeat.core.EcgBatch
import com.stressbeat.core.EcgListener
import com.stressbeat.core.HeartRateListener
import com.stressbeat.core.HeartRateUpdate
import com.stressbeat.core.MonitorAlert
import com.stressbeat.core.MonitorSource
import com.stressbeat.core.MonitorStatus
import com.stressbeat.core.SignalQualityListener
import com.stressbeat.core.SignalQualityUpdate
import com.stressbeat.core.StatusListener
import com.stressbeat.core.StressListener
import com.stressbeat.core.StressMonitorInterface
import com.stressbeat.core.StressUpdate
import com.stressbeat.core.Subscription
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.scan
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.withContext

/**
 * Every live listener record of `monitor` as one Flow, in the order the monitor delivered them
 * (one channel for all kinds: a `Finished` never overtakes the last stress update). Cold: each
 * collection subscribes; cancelling it cancels the Subscriptions (`awaitClose`). The listeners
 * only `trySend` into an unlimited buffer (a few events per second): they never block the
 * monitor's thread, so `Subscription.cancel` (which waits for a running delivery) cannot hang.
 * `onSubscribed` runs once every listener is in place (start the session after it, or the
 * `SessionStarted` status is missed).
 */
fun liveEvents(monitor: StressMonitorInterface, onSubscribed: () -> Unit = {}): Flow<LiveEvent> = callbackFlow {
    val subs = mutableListOf<Subscription>()
    try {
        subs += monitor.subscribeConnection(object : ConnectionListener {
            override fun onConnection(update: ConnectionUpdate) { trySend(LiveEvent.ConnectionEvent(update)) }
        })
        subs += monitor.subscribeStatus(object : StatusListener {
            override fun onStatus(status: MonitorStatus) { trySend(LiveEvent.StatusEvent(status)) }
        })
        subs += monitor.subscribeHeartRate(object : HeartRateListener {
            override fun onHeartRate(update: HeartRateUpdate) { trySend(LiveEvent.HeartRateEvent(update)) }
        })
        subs += monitor.subscribeStress(object : StressListener {
            override fun onStress(update: StressUpdate) { trySend(LiveEvent.StressEvent(update)) }
        })
        subs += monitor.subscribeSignalQuality(object : SignalQualityListener {
            override fun onSignalQuality(update: SignalQualityUpdate) { trySend(LiveEvent.SignalEvent(update)) }
        })
        subs += monitor.subscribeAlerts(object : AlertListener {
            override fun onAlert(alert: MonitorAlert) { trySend(LiveEvent.AlertEvent(alert)) }
        })
        onSubscribed()
    } catch (e: Throwable) {
        subs.forEach { it.cancel(); it.close() }
        throw e
    }
    awaitClose { subs.forEach { it.cancel(); it.close() } }
}.buffer(Channel.UNLIMITED)

/** ECG batches for the live trace (about two per second); a slow collector loses the oldest. */
fun ecgBatches(monitor: StressMonitorInterface): Flow<EcgBatch> = callbackFlow {
    val sub = monitor.subscribeEcg(object : EcgListener {
        override fun onEcg(batch: EcgBatch) { trySend(batch) }
    })
    awaitClose { sub.cancel(); sub.close() }
}.buffer(capacity = 64, onBufferOverflow = BufferOverflow.DROP_OLDEST)

/**
 * The live side of one [StressMonitorInterface] for the service and the screens: a
 * [StateFlow] of [LiveState] (subscribed for as long as the repository lives), the raw events
 * for the service (notifications of alerts), and the blocking monitor calls moved to `io`.
 * [close] cancels the Subscriptions; the monitor itself belongs to the caller.
 */
class MonitorRepository(
    val monitor: StressMonitorInterface,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    parent: Job? = null,
) : AutoCloseable {
    private val job = SupervisorJob(parent)
    private val scope = CoroutineScope(job + Dispatchers.Default)
    private val subscribed = CompletableDeferred<Unit>()

    /** The live state, from the first subscription on (before it: [LiveState] defaults). */
    val state: StateFlow<LiveState> = liveEvents(monitor) { subscribed.complete(Unit) }
        .scan(LiveState(), LiveReducer::reduce)
        .stateIn(scope, SharingStarted.Eagerly, LiveState())

    /** Wait until the listeners are in place (then no event of a session started later is missed). */
    suspend fun awaitSubscribed() = subscribed.await()

    /** Start a session once the listeners are in place; the core's errors are rethrown. */
    suspend fun start(source: MonitorSource) {
        awaitSubscribed()
        withContext(io) { monitor.start(source) }
    }

    /**
     * The end of the session started after [mark] (the session state read just before
     * `start`). The repository outlives sessions, so its state may still hold the previous
     * session's `Finished` (or that one may arrive late): only a `Finished` that is not [mark]
     * itself and not of the session [mark] names counts. StateFlow conflation cannot hide it: a
     * quick session whose `Running` was never seen still ends in a new `Finished` object.
     */
    suspend fun awaitFinished(mark: SessionStatus): SessionStatus.Finished =
        state.map { it.session }.first { endsSessionAfter(mark, it) } as SessionStatus.Finished

    /** Stop the running session and wait until it is stored (off the main thread). */
    suspend fun stop() = withContext(io) { monitor.stop() }

    suspend fun startCalibration(durationS: Int) = withContext(io) { monitor.startCalibration(durationS.toUInt()) }

    suspend fun cancelCalibration() = withContext(io) { monitor.cancelCalibration() }

    /** Cancel the Subscriptions (asynchronously; [closeAndJoin] waits for it). */
    override fun close() {
        job.cancel()
    }

    /** Cancel the Subscriptions and wait until they are cancelled. */
    suspend fun closeAndJoin() = job.cancelAndJoin()

    companion object {
        /** Whether [status] is the end of a session started after [mark] was read (see [awaitFinished]). */
        fun endsSessionAfter(mark: SessionStatus, status: SessionStatus): Boolean {
            if (status !is SessionStatus.Finished || status === mark) return false
            val markId = when (mark) {
                is SessionStatus.Running -> mark.sessionId
                is SessionStatus.Finished -> mark.sessionId
                SessionStatus.NotStarted -> return true
            }
            // id 0: the history could not open that session; it cannot be told apart by id
            return markId == 0L || status.sessionId != markId
        }
    }
}
