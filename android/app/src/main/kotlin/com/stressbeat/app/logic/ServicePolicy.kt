package com.stressbeat.app.logic

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.map

/** The kind of session a start action asks for. */
enum class SourceKind { STRAP, SIMULATOR, REPLAY }

/**
 * The foreground-service type a session enters the foreground with (the shell maps it to
 * `ServiceInfo.FOREGROUND_SERVICE_TYPE_*`).
 */
enum class ForegroundType { NONE, CONNECTED_DEVICE, SPECIAL_USE }

/** What one start command of the monitor service amounts to (`MonitorService.onStartCommand`). */
sealed interface StartDecision {
    /** ACTION_STOP: stop the running session (a plain service start: no startForeground owed). */
    data object Stop : StartDecision

    /** A session runs already (a double tap, the simulator during a strap session): it stays. */
    data object IgnoreRunning : StartDecision

    /**
     * The start cannot run. The caller used startForegroundService, so the service still enters
     * the foreground (with a type that needs no permission) and leaves at once. [problem]: what
     * the user is told (a notification), `null` for a request the app never sends.
     */
    data class Refuse(val why: String, val problem: UserMessage?) : StartDecision

    /** Start a session of [kind] in the foreground with [type]. */
    data class Start(val kind: SourceKind, val type: ForegroundType) : StartDecision
}

/**
 * The monitor service's decisions, without Android: which start commands run, with which
 * foreground-service type, and which alerts become notifications. `MonitorService` only reads
 * the intent and the permission and carries the decision out.
 */
object ServicePolicy {
    const val ACTION_STRAP = "com.stressbeat.app.START_STRAP"
    const val ACTION_SIMULATOR = "com.stressbeat.app.START_SIMULATOR"
    const val ACTION_REPLAY = "com.stressbeat.app.START_REPLAY"
    const val ACTION_STOP = "com.stressbeat.app.STOP"

    /** Android 10: `foregroundServiceType` (connectedDevice) exists. */
    const val SDK_Q = 29
    /** Android 14: every foreground service declares a type; `specialUse` exists. */
    const val SDK_U = 34

    /**
     * A start command, as far as the decision needs it; `null` for a start without an intent
     * (not sent by the app: START_NOT_STICKY means no restart).
     */
    data class Request(val action: String?, val hasDevice: Boolean = false, val hasPath: Boolean = false)

    /**
     * Decide one start command. [sessionActive]: this service runs (or is starting, or ending) a
     * session; [bluetoothConnect]: BLUETOOTH_CONNECT granted (always true before Android 12);
     * [sdk]: the platform's API level (for the foreground type); [coreLoaded]: the native
     * library loaded (`StressBeatApplication.nativeProblem` null).
     *
     * Order: a stop is always a stop; while a session runs every other command is ignored (a
     * refusal would enter the foreground with another type and leave it, taking the running
     * session's foreground state with it); then the refusals.
     */
    fun decide(request: Request?, sessionActive: Boolean, bluetoothConnect: Boolean, sdk: Int,
               coreLoaded: Boolean = true): StartDecision {
        if (request?.action == ACTION_STOP) return StartDecision.Stop
        if (sessionActive) return StartDecision.IgnoreRunning
        if (request == null) return StartDecision.Refuse("no intent", null)
        val kind = when (request.action) {
            ACTION_STRAP -> SourceKind.STRAP
            ACTION_SIMULATOR -> SourceKind.SIMULATOR
            ACTION_REPLAY -> SourceKind.REPLAY
            else -> return StartDecision.Refuse("unknown action", null)
        }
        if (!coreLoaded) return StartDecision.Refuse("native library not loaded", UserText.NATIVE_LIBRARY_MISSING)
        return when (kind) {
            SourceKind.STRAP -> when {
                !request.hasDevice -> StartDecision.Refuse("strap start without a device", null)
                !bluetoothConnect -> StartDecision.Refuse("strap start without BLUETOOTH_CONNECT",
                    UserText.BLUETOOTH_PERMISSION_PROBLEM)
                else -> StartDecision.Start(kind, foregroundType(sdk, bluetooth = true))
            }
            SourceKind.SIMULATOR -> StartDecision.Start(kind, foregroundType(sdk, bluetooth = false))
            SourceKind.REPLAY ->
                if (!request.hasPath) StartDecision.Refuse("replay without a path", null)
                else StartDecision.Start(kind, foregroundType(sdk, bluetooth = false))
        }
    }

    /**
     * The foreground-service type of a session ([bluetooth]: a strap). Android 14+: a strap is
     * `connectedDevice` (needs BLUETOOTH_CONNECT, checked before), the simulator and a replay
     * `specialUse` (no device, no permission; why not `dataSync`/`health`: MonitorService's class
     * comment). Android 10–13: `connectedDevice` for a strap, none needed otherwise (and
     * `specialUse` does not exist there). Before Android 10: no types at all.
     */
    fun foregroundType(sdk: Int, bluetooth: Boolean): ForegroundType = when {
        sdk >= SDK_U -> if (bluetooth) ForegroundType.CONNECTED_DEVICE else ForegroundType.SPECIAL_USE
        sdk >= SDK_Q && bluetooth -> ForegroundType.CONNECTED_DEVICE
        else -> ForegroundType.NONE
    }

    /** The type a refusal enters the foreground with: one that needs no permission. */
    fun refusalType(sdk: Int): ForegroundType = foregroundType(sdk, bluetooth = false)

    /** Whether an alert becomes a notification: warnings only (not "signal back", "reconnected"). */
    fun notifies(alert: Alert): Boolean = alert.warning

    /**
     * Whether [status] belongs to the session started after [mark] (the session state read
     * just before `start`): its `Running`, or its end ([MonitorRepository.endsSessionAfter]).
     * The service starts only when no session runs, so a `Running` is always the new one.
     */
    fun isNewSession(mark: SessionStatus, status: SessionStatus): Boolean =
        status is SessionStatus.Running || MonitorRepository.endsSessionAfter(mark, status)

    /**
     * What the live notification shows: [state] once it belongs to the new session, the neutral
     * [LiveState] before (the repository's state still holds the previous session's heart rate
     * and stress until `SessionStarted` reaches it).
     */
    fun notificationState(state: LiveState, mark: SessionStatus): LiveState =
        if (isNewSession(mark, state.session)) state else LiveState()

    /**
     * The alerts of the session started after [mark] that become notifications, each once:
     * states of the previous session (its last alert included) are left out, then every new
     * warning alert.
     */
    fun alertNotifications(states: Flow<LiveState>, mark: SessionStatus): Flow<Alert> =
        states.filter { isNewSession(mark, it.session) }
            .map { it.latestAlert }
            .distinctUntilChanged()
            .filterNotNull()
            .filter(::notifies)
}
