// What the Live screen shows, as one immutable value, and the pure reducer that folds the
// monitor's listener records into it. The generated records are mapped to these UI models here
// and nowhere else (the SwiftUI layer never sees a generated listener type).
import Foundation
import StressBeatCore

/// The strap link, for the UI.
public enum ConnectionPhase: Equatable, Sendable {
    case idle, connecting, configuring, streaming
    case reconnecting(attempt: UInt32)
    case stopped
    case failed(reason: String)

    init(_ r: ConnectionStateRecord) {
        switch r {
        case .idle: self = .idle
        case .connecting: self = .connecting
        case .configuring: self = .configuring
        case .streaming: self = .streaming
        case let .reconnecting(attempt): self = .reconnecting(attempt: attempt)
        case .stopped: self = .stopped
        case let .failed(reason): self = .failed(reason: reason)
        }
    }
}

/// Where a heart rate came from.
public enum HeartRateSource: Equatable, Sendable {
    /// R-peaks in the strap's ECG.
    case ecg
    /// The strap's own Heart Rate Service.
    case strap
}

/// The latest heart rate.
public struct HeartRateReading: Equatable, Sendable {
    public var bpm: Double
    /// Unix ms.
    public var atMs: Int64
    public var source: HeartRateSource
    /// Skin contact as the strap reports it (`nil`: not reported).
    public var contact: Bool?

    public init(bpm: Double, atMs: Int64, source: HeartRateSource, contact: Bool?) {
        self.bpm = bpm
        self.atMs = atMs
        self.source = source
        self.contact = contact
    }

    /// Older than this, the number is shown as stale (greyed, "—" after a minute).
    public static let staleAfterMs: Int64 = 5_000

    /// Whether the reading is too old to show as live at `nowMs` (Unix ms).
    public func isStale(nowMs: Int64) -> Bool { nowMs - atMs > Self.staleAfterMs }
}

/// The latest stress window.
public struct StressReading: Equatable, Sendable {
    /// 0–100 relative to the personal baseline; `nil`: see `noScoreReason`.
    public var score: Int?
    /// Held level (kept across unscored windows).
    public var level: StressLevel?
    public var confidence: Float
    /// Why there is no score (the core's short sentence).
    public var noScoreReason: String?
    /// Scored by the HRV fallback, not the model.
    public var fromHrvFallback: Bool
    /// Computed from the strap's RR intervals (no ECG).
    public var rrOnly: Bool
    /// Window end, Unix ms.
    public var atMs: Int64

    public init(score: Int?, level: StressLevel?, confidence: Float, noScoreReason: String?,
                fromHrvFallback: Bool, rrOnly: Bool, atMs: Int64) {
        self.score = score
        self.level = level
        self.confidence = confidence
        self.noScoreReason = noScoreReason
        self.fromHrvFallback = fromHrvFallback
        self.rrOnly = rrOnly
        self.atMs = atMs
    }
}

/// A calibration of the personal baseline.
public enum CalibrationState: Equatable, Sendable {
    case notRunning
    /// Asked for while no session runs: the core times it from the next session's start.
    case pending(durationS: UInt32)
    /// `durationS`: the calibration's whole duration (the core's, once it reports progress).
    case running(accepted: UInt32, poorSignal: UInt32, irregularRhythm: UInt32, remainingS: UInt32, durationS: UInt32)
    case completed(windows: UInt32)
    case failed(accepted: UInt32, needed: UInt32, poorSignal: UInt32, irregularRhythm: UInt32)

    init(_ p: CalibrationProgress) {
        switch p {
        case let .running(a, p, i, r, d):
            self = .running(accepted: a, poorSignal: p, irregularRhythm: i, remainingS: r, durationS: d)
        case let .completed(w): self = .completed(windows: w)
        case let .failed(a, n, p, i): self = .failed(accepted: a, needed: n, poorSignal: p, irregularRhythm: i)
        }
    }

    /// Just started (before the core's first progress report): nothing counted, all the time left.
    static func started(durationS: UInt32) -> CalibrationState {
        .running(accepted: 0, poorSignal: 0, irregularRhythm: 0, remainingS: durationS, durationS: durationS)
    }

    public var isRunning: Bool { if case .running = self { return true }; return false }
    /// The share of a running calibration's time gone, 0…1 (a progress bar); `nil` when none runs.
    public var progress: Double? {
        guard case let .running(_, _, _, remaining, duration) = self else { return nil }
        guard duration > 0 else { return 1 }
        return Double(duration - min(remaining, duration)) / Double(duration)
    }
    /// Running, or asked for and waiting for the next session (either can be cancelled).
    public var isRequested: Bool {
        switch self {
        case .running, .pending: return true
        default: return false
        }
    }
}

/// Signal quality of the latest 4 s.
public struct SignalReading: Equatable, Sendable {
    /// 0 (unusable) … 1 (clean).
    public var score: Float
    public var usable: Bool
    public var issue: SignalIssue

    public init(score: Float, usable: Bool, issue: SignalIssue) {
        self.score = score
        self.usable = usable
        self.issue = issue
    }
}

/// An alert as the Live screen shows it.
public struct AlertItem: Equatable, Sendable, Identifiable {
    /// The history id (acknowledge with it); `nil` when it could not be stored.
    public var storedId: Int64?
    public var atMs: Int64
    public var kind: AlertKind
    public var warning: Bool
    /// The core's reason (no personal data).
    public var reason: String
    public var id: String { storedId.map(String.init) ?? "live-\(atMs)-\(kind)" }

    public init(storedId: Int64?, atMs: Int64, kind: AlertKind, warning: Bool, reason: String) {
        self.storedId = storedId
        self.atMs = atMs
        self.kind = kind
        self.warning = warning
        self.reason = reason
    }
}

/// The monitoring session.
public enum SessionPhase: Equatable, Sendable {
    case notStarted
    /// `sessionId` 0: the history could not open it yet.
    case running(sessionId: Int64)
    case finished(sessionId: Int64, windows: UInt64, reason: SessionEndReason)

    public var isRunning: Bool { if case .running = self { return true }; return false }
}

/// Parts of the session working in a reduced way.
public enum Degradation: Hashable, Sendable {
    /// A model could not be used: `.stress`, scores come from the HRV fallback; `.beatType`,
    /// beats are not classified.
    case modelUnavailable(ModelTask)
    /// The history cannot be written; live results go on.
    case storageFailed
    /// No usable ECG (refused or unsupported): stress comes from RR intervals.
    case ecgUnusable
}

/// Everything the Live screen shows.
public struct LiveState: Equatable, Sendable {
    public var connection: ConnectionPhase = .idle
    public var heartRate: HeartRateReading?
    public var stress: StressReading?
    public var calibration: CalibrationState = .notRunning
    public var signal: SignalReading?
    public var batteryPercent: UInt8?
    public var latestAlert: AlertItem?
    public var session: SessionPhase = .notStarted
    public var degraded: Set<Degradation> = []
    /// ECG gaps in this session (lost frames, link loss).
    public var gaps: Int = 0

    public init() {}
}

/// A record from one of the monitor's listeners.
public enum LiveEvent: Sendable {
    case heartRate(HeartRateUpdate)
    case stress(StressUpdate)
    case signal(SignalQualityUpdate)
    case alert(MonitorAlert)
    case connection(ConnectionUpdate)
    case status(MonitorStatus)
    /// The app asked for a calibration (the core reports progress only with the next window;
    /// asked for with no session running, it starts with the next session).
    case calibrationRequested(durationS: UInt32)
    case calibrationCancelled
}

extension LiveState {
    /// The state after `event`. Pure.
    public func reduced(_ event: LiveEvent) -> LiveState {
        var s = self
        switch event {
        case let .heartRate(u):
            // A strap's Heart Rate Service says 0 while it has no reading (no contact yet). An H10
            // gives both its own and the ECG's heart rate: the ECG's (beat by beat) is shown while
            // it is fresh, the strap's when the ECG is missing.
            let keepEcg = !u.fromEcg && s.heartRate.map { $0.source == .ecg && !$0.isStale(nowMs: u.atMs) } == true
            if u.bpm > 0 && u.bpm.isFinite && !keepEcg {
                s.heartRate = HeartRateReading(bpm: u.bpm, atMs: u.atMs, source: u.fromEcg ? .ecg : .strap,
                                               contact: u.contact ?? s.heartRate?.contact)
            } else if let contact = u.contact {
                s.heartRate?.contact = contact
            }
        case let .stress(u):
            s.stress = StressReading(score: u.score.map(Int.init), level: u.level, confidence: u.confidence,
                                     noScoreReason: u.noScoreReason, fromHrvFallback: u.fromHrvFallback,
                                     rrOnly: u.rrOnly, atMs: u.atMs)
            if let c = u.calibration { s.calibration = CalibrationState(c) }
        case let .signal(q):
            s.signal = SignalReading(score: q.score, usable: q.usable, issue: q.issue)
        case let .alert(a):
            s.latestAlert = AlertItem(storedId: a.id, atMs: a.atMs, kind: a.kind, warning: a.warning, reason: a.reason)
        case let .connection(c):
            s.connection = ConnectionPhase(c.state)
        case let .status(st):
            switch st {
            case let .sessionStarted(id):
                // The session already shown (a status listener subscribing mid-session gets the
                // running session's SessionStarted at once, possibly after other records): keep
                // what is live.
                if s.session == .running(sessionId: id) { break }
                // a new session: nothing of the previous one is live any more (a calibration
                // asked for before it starts with it; one running carries over)
                var fresh = LiveState()
                fresh.connection = s.connection
                switch s.calibration {
                case let .pending(durationS):
                    fresh.calibration = .started(durationS: durationS)
                case .running: fresh.calibration = s.calibration
                default: fresh.calibration = .notRunning
                }
                fresh.session = .running(sessionId: id)
                s = fresh
            case let .battery(_, percent):
                s.batteryPercent = percent
            case .gap:
                s.gaps += 1
            case let .modelUnavailable(task, _):
                s.degraded.insert(.modelUnavailable(task))
            case .storageFailed:
                s.degraded.insert(.storageFailed)
            case .ecgUnusable:
                s.degraded.insert(.ecgUnusable)
            case .ecgResumed:
                s.degraded.remove(.ecgUnusable)
            case let .calibrationEnded(outcome):
                // one still running when the session ended: its outcome, just before .finished
                s.calibration = CalibrationState(outcome)
            case let .finished(id, windows, reason):
                s.session = .finished(sessionId: id, windows: windows, reason: reason)
                if s.calibration.isRunning { s.calibration = .notRunning }
            }
        case let .calibrationRequested(durationS):
            // before a session the core times it from the next session's start
            s.calibration = s.session.isRunning ? .started(durationS: durationS) : .pending(durationS: durationS)
        case .calibrationCancelled:
            s.calibration = .notRunning
        }
        return s
    }
}

/// Subscribes to a monitor, folds every listener record into a `LiveState` and publishes each
/// change, through `onChange` and `states()`. Keeps the subscriptions; `close()` or the last
/// reference going away cancels them.
///
/// Threads: records arrive on the monitor's thread (and the current state at once, on the thread
/// that creates the store); `onChange` is called there, in order: hand the state to the main
/// actor without waiting for it (`Task { @MainActor in … }`, `DispatchQueue.main.async`), never
/// synchronously, and never release the store from inside `onChange` (cancelling waits for the
/// delivery in progress).
public final class LiveStateStore: @unchecked Sendable {
    private let lock = NSLock()
    private let publishing = NSRecursiveLock()
    private var current = LiveState()
    private var subscriptions: [Subscription] = []
    private var continuations: [UUID: AsyncStream<LiveState>.Continuation] = [:]
    private let onChange: (@Sendable (LiveState) -> Void)?

    /// The latest state.
    public var state: LiveState { lock.lock(); defer { lock.unlock() }; return current }

    public init(monitor: StressMonitor, onChange: (@Sendable (LiveState) -> Void)? = nil) {
        self.onChange = onChange
        let listener = Listener(store: self)
        let subs = [
            monitor.subscribeConnection(listener: listener),
            monitor.subscribeStatus(listener: listener),
            monitor.subscribeHeartRate(listener: listener),
            monitor.subscribeSignalQuality(listener: listener),
            monitor.subscribeStress(listener: listener),
            monitor.subscribeAlerts(listener: listener),
        ]
        lock.lock(); subscriptions = subs; lock.unlock()
    }

    deinit { close() }

    /// Stop listening (idempotent). Not from inside `onChange` (see the type's note).
    public func close() {
        lock.lock()
        let subs = subscriptions
        subscriptions = []
        let conts = continuations
        continuations = [:]
        lock.unlock()
        subs.forEach { $0.cancel() }
        conts.values.forEach { $0.finish() }
    }

    /// Every state from now on (the current one first); the stream ends with `close()`.
    public func states() -> AsyncStream<LiveState> {
        let (stream, continuation) = AsyncStream<LiveState>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        lock.lock()
        continuation.yield(current)
        continuations[id] = continuation
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.lock(); self.continuations[id] = nil; self.lock.unlock()
        }
        return stream
    }

    /// Fold an event in (the listeners do; the app for calibration requests).
    public func apply(_ event: LiveEvent) {
        // one event at a time from reduction to publication, so states are published in order;
        // the state lock is not held while publishing (`onChange` may read `state`)
        publishing.lock()
        defer { publishing.unlock() }
        lock.lock()
        let old = current
        let new = old.reduced(event)
        current = new
        let conts = Array(continuations.values)
        lock.unlock()
        guard new != old else { return }
        conts.forEach { $0.yield(new) }
        onChange?(new)
    }

    /// Holds the store weakly: the monitor holds the listener, the store the subscriptions.
    private final class Listener: HeartRateListener, SignalQualityListener, StressListener, AlertListener,
        ConnectionListener, StatusListener, @unchecked Sendable {
        weak var store: LiveStateStore?
        init(store: LiveStateStore) { self.store = store }
        func onHeartRate(update: HeartRateUpdate) { store?.apply(.heartRate(update)) }
        func onSignalQuality(update: SignalQualityUpdate) { store?.apply(.signal(update)) }
        func onStress(update: StressUpdate) { store?.apply(.stress(update)) }
        func onAlert(alert: MonitorAlert) { store?.apply(.alert(alert)) }
        func onConnection(update: ConnectionUpdate) { store?.apply(.connection(update)) }
        func onStatus(status: MonitorStatus) { store?.apply(.status(status)) }
    }
}
