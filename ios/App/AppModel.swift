// The app's one observable view context (element-x style): screens read its state and talk to it
// only through `send(viewAction:)`. It owns the monitor, the live-state store and the strap
// controller; blocking core calls run off the main actor.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import Foundation
import Observation
import os
import StressBeatAppLogic
import StressBeatCore

@MainActor
@Observable
final class AppModel {
    enum ViewAction {
        case scan, stopScan
        case connect(DiscoveredStrap)
        /// A simulated Polar H10 in real time (demo/QA); `stressEpisode`: 4 min of stress after 5 min.
        case startSimulator(stressEpisode: Bool)
        /// Recordings picked in the file importer (a WFDB record needs its `.hea` and `.dat`).
        case startReplay([URL])
        case stop
        case startCalibration, cancelCalibration
        case refreshHistory
        case acknowledge(alertId: Int64)
        case export(SessionSummary, ExportFormat)
        /// The share sheet closed: the exported file is deleted (health data does not linger in tmp).
        case closeExport
        case startNewHistory
        /// Create the monitor again after a failure that may pass (storage full, …).
        case retryLaunch
        case timeZoneMayHaveChanged
        case dismissMessage
    }

    enum Phase: Equatable {
        case starting
        case ready
        /// The monitor could not be created (e.g. a newer app's history): nothing else works.
        case unavailable(UserMessage)
    }

    private(set) var phase: Phase = .starting
    private(set) var live = LiveState()
    private(set) var straps: [DiscoveredStrap] = []
    private(set) var timeline = TimelineSeries(points: [])
    private(set) var dailyBars: [DailyBar] = []
    private(set) var sessions: [SessionSummary] = []
    private(set) var alerts: [StoredAlertItem] = []
    private(set) var bluetoothProblem: String?
    var message: UserMessage?
    /// A session exported for the share sheet (deleted when the sheet closes: `closeExport`).
    private(set) var exportedFile: URL?

    @ObservationIgnored private var monitor: StressMonitor?
    @ObservationIgnored private var store: LiveStateStore?
    /// Made in `init` (its callbacks need `self`); it creates no CBCentralManager until the
    /// first scan, so the Bluetooth prompt comes when the user looks for a strap.
    @ObservationIgnored private var strap: StrapController!
    @ObservationIgnored private var launching = false
    @ObservationIgnored private var askedForNotifications = false
    /// Picked recordings being copied (off the main actor): a second pick meanwhile is ignored.
    @ObservationIgnored private var preparingReplay = false
    /// Orders overlapping history refreshes and acknowledgements (see HistoryRefreshGate).
    @ObservationIgnored private var refreshGate = HistoryRefreshGate()
    private let notifier = AlertNotifier()
    /// One scheme for the unified log: the app logs as `com.stressbeat.app` (its bundle id), the
    /// core as `com.stressbeat.core` (`initLogging()`, set in rust-core/src/ffi/logging.rs).
    private let log = Logger(subsystem: "com.stressbeat.app", category: "app")
    /// The core's logging is routed to the unified log once per process.
    private static var loggingStarted = false

    static let calibrationSeconds: UInt32 = 180
    /// Copies of picked recordings (removed when the session ends) and exports (removed when the
    /// share sheet closes); both are health data.
    static let replayDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("replay", isDirectory: true)
    static let exportDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("exports", isDirectory: true)

    init() {
        // the callbacks are set before StrapController can call them (read on its queue, called on main)
        strap = StrapController(
            onStrapsChanged: { [weak self] straps in self?.straps = straps },
            onBluetoothProblem: { [weak self] problem in self?.bluetoothProblem = problem })
    }

    /// Create the monitor (blocking: opens the history, applies retention, loads the models).
    func launch() async {
        guard monitor == nil, !launching else { return }
        launching = true
        defer { launching = false }
        phase = .starting
        if !Self.loggingStarted {
            Self.loggingStarted = true
            initLogging() // the core's log → unified log, subsystem com.stressbeat.core
        }
        // left by a previous run that ended before tidying up (killed mid-session or mid-share)
        try? FileManager.default.removeItem(at: Self.replayDirectory)
        try? FileManager.default.removeItem(at: Self.exportDirectory)
        do {
            let path = try Self.databaseURL().path
            let offset = Self.utcOffsetMinutes()
            let monitor = try await Task.detached(priority: .userInitiated) {
                try StressMonitor(config: StressMonitorConfig(databasePath: path, utcOffsetMinutes: offset))
            }.value
            self.monitor = monitor
            store = LiveStateStore(monitor: monitor) { [weak self] state in
                // the monitor's thread: hand over in order, never wait (see LiveStateStore); the
                // inner capture list gives the @Sendable block its own weak reference (the outer
                // one is a captured var, not usable from concurrently-executing code)
                DispatchQueue.main.async { [weak self] in MainActor.assumeIsolated { self?.apply(state) } }
            }
            phase = .ready
            await refreshHistory()
        } catch {
            log.error("monitor not created: \(UserText.logSafe(error), privacy: .public)")
            phase = .unavailable(UserText.message(for: error))
        }
    }

    func send(viewAction: ViewAction) {
        switch viewAction {
        case .scan: bluetoothProblem = nil; strap.startScan()
        case .stopScan: strap.stopScan()
        case let .connect(s): startStrap(s)
        case let .startSimulator(episode):
            let stress = episode ? [SimulatedStress(startS: 300, durationS: 240, intensity: 0.9)] : []
            start(.simulator(minutes: 30, seed: UInt64.random(in: 1...UInt64.max), stress: stress, faults: "",
                             realtime: true, heartRateOnly: false))
        case let .startReplay(urls): startReplay(urls)
        case .stop:
            guard let monitor else { return }
            perform("stop") { try monitor.stop() }
        case .startCalibration:
            // with no session running the core times it from the next session's start (the
            // reducer shows it as pending until then)
            guard let monitor, let store else { return }
            let seconds = Self.calibrationSeconds
            perform("calibration") {
                try monitor.startCalibration(durationS: seconds)
                store.apply(.calibrationRequested(durationS: seconds))
            }
        case .cancelCalibration:
            guard let monitor, let store else { return }
            perform("calibration") {
                try monitor.cancelCalibration()
                store.apply(.calibrationCancelled)
            }
        case .refreshHistory: Task { await refreshHistory() }
        case let .acknowledge(id): acknowledge(id)
        case let .export(session, format): export(session, format)
        case .closeExport: closeExport()
        case .startNewHistory: startNewHistory()
        case .retryLaunch:
            guard monitor == nil, !launching else { return }
            Task { await launch() }
        case .timeZoneMayHaveChanged:
            guard let monitor else { return }
            let offset = Self.utcOffsetMinutes()
            perform("time zone") { try monitor.setUtcOffsetMinutes(minutes: offset) }
        case .dismissMessage: message = nil
        }
    }

    // MARK: Live

    private func apply(_ state: LiveState) {
        let old = live
        live = state
        if let a = state.latestAlert, a.id != old.latestAlert?.id, a.warning {
            notifier.post(a)
        }
        if case .finished = state.session, state.session != old.session {
            strap.sessionEnded()
            removeReplayCopies() // a replay reads them until its session ends
            Task { await refreshHistory() }
        }
    }

    /// The notification permission is asked for when the user first starts a session (alerts
    /// come from sessions), not at launch.
    private func askForNotificationsOnce() {
        guard !askedForNotifications else { return }
        askedForNotifications = true
        notifier.requestAuthorization()
    }

    private func start(_ source: MonitorSource, onFailure: (@MainActor @Sendable () -> Void)? = nil) {
        guard let monitor else { return }
        askForNotificationsOnce()
        let offset = Self.utcOffsetMinutes()
        perform("start", onFailure: onFailure) {
            try monitor.setUtcOffsetMinutes(minutes: offset)
            try monitor.start(source: source)
        }
    }

    private func startStrap(_ s: DiscoveredStrap) {
        // one session at a time: a new strap session would replace the running one's transport
        guard let monitor, !live.session.isRunning, let session = strap.makeSession(for: s.id) else { return }
        askForNotificationsOnce()
        let offset = Self.utcOffsetMinutes()
        let strap: StrapController = self.strap
        perform("strap") {
            var monitorStarted = false
            do {
                try monitor.setUtcOffsetMinutes(minutes: offset)
                try monitor.start(source: .platformBridge(session: session, nowMs: StrapController.nowMs()))
                monitorStarted = true
                try session.start(nowMs: StrapController.nowMs())
            } catch {
                // the monitor's session would run on with no strap: stop it (it stops the strap
                // session too); then let the strap go
                if monitorStarted { try? monitor.stop() }
                strap.sessionEnded(session)
                throw error
            }
        }
    }

    /// Copies the picked files into one folder (a WFDB `.hea` needs its `.dat` beside it; the
    /// picker's URLs are security-scoped) off the main actor (an EDF may be tens of MB), then
    /// replays the recording in real time.
    private func startReplay(_ urls: [URL]) {
        // never while a session runs: it may be replaying the copies this would delete
        guard let monitor, !preparingReplay, !live.session.isRunning, !monitor.isRunning() else { return }
        preparingReplay = true
        let dir = Self.replayDirectory
        Task {
            defer { preparingReplay = false }
            do {
                let main = try await Task.detached(priority: .userInitiated) { try AppModel.copyForReplay(urls, into: dir) }.value
                // a session started while the files were copied (strap, simulator): leave it be
                guard let main, !live.session.isRunning, !monitor.isRunning() else { return removeReplayCopies() }
                start(.replayFile(path: main.path, speed: 1.0), onFailure: { [weak self] in self?.removeReplayCopies() })
            } catch {
                removeReplayCopies()
                log.error("replay files not copied: \(UserText.logSafe(error), privacy: .public)")
                message = UserMessage(title: "Cannot open the recording", detail: "Pick it again.", action: .pickFileAgain)
            }
        }
    }

    /// Off the main actor: `urls` copied into a fresh `dir`, each read inside its own
    /// security-scoped access (started and stopped on this thread, around its copy only); the
    /// copy the core opens (`ReplayFiles.main`), `nil` for none.
    nonisolated private static func copyForReplay(_ urls: [URL], into dir: URL) throws -> URL? {
        let files = FileManager.default
        try? files.removeItem(at: dir)
        try files.createDirectory(at: dir, withIntermediateDirectories: true)
        var copies: [URL] = []
        for url in urls {
            let scoped = url.startAccessingSecurityScopedResource()
            defer { if scoped { url.stopAccessingSecurityScopedResource() } }
            let copy = dir.appendingPathComponent(url.lastPathComponent)
            try files.copyItem(at: url, to: copy)
            copies.append(copy)
        }
        return ReplayFiles.main(of: copies)
    }

    // MARK: History

    /// Overlapping calls (pull to refresh, a session's end, launch) may finish in any order:
    /// only the newest one's result is shown (`HistoryRefreshGate`).
    func refreshHistory() async {
        guard let monitor else { return }
        let repo = HistoryRepository(monitor: monitor)
        let now = Date()
        let calendar = Calendar.autoupdatingCurrent
        let ticket = refreshGate.begin()
        do {
            let (timeline, bars, sessions, alerts) = try await Task.detached(priority: .utility) {
                (try repo.timeline(from: now.addingTimeInterval(-24 * 3600), to: now, points: 96),
                 try repo.dailyBars(days: 14, now: now, calendar: calendar),
                 try repo.sessions(limit: 50),
                 try repo.alerts(since: now.addingTimeInterval(-30 * 24 * 3600)))
            }.value
            // a newer refresh started meanwhile: its result is coming (drop this one)
            guard let alerts = refreshGate.finish(ticket, alerts: alerts) else { return }
            self.timeline = timeline
            self.dailyBars = bars
            self.sessions = sessions
            self.alerts = alerts
        } catch {
            if refreshGate.isCurrent(ticket) { report(error, "history") }
        }
    }

    /// The alert is marked in the list shown when the call completes (by id), not in a copy
    /// taken before it: a refresh may have replaced the list meanwhile.
    private func acknowledge(_ id: Int64) {
        guard let monitor else { return }
        let repo = HistoryRepository(monitor: monitor)
        Task {
            do {
                let found = try await Task.detached { try repo.acknowledge(id) }.value
                guard found else { return } // retention deleted it; the next refresh drops it
                refreshGate.acknowledged(id) // a refresh running now may have read it unacknowledged
                alerts = StoredAlertItem.markingAcknowledged([id], in: alerts)
            } catch { report(error, "acknowledge") }
        }
    }

    private func export(_ session: SessionSummary, _ format: ExportFormat) {
        guard let monitor else { return }
        let repo = HistoryRepository(monitor: monitor)
        closeExport() // one exported file at a time
        Task {
            let dir = Self.exportDirectory
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                exportedFile = try await Task.detached { try repo.export(session: session, format: format, to: dir) }.value
            } catch {
                try? FileManager.default.removeItem(at: dir) // a partly written file
                report(error, "export")
            }
        }
    }

    /// The share sheet closed (shared or not): the export is deleted (leftovers of a run that
    /// ended with the sheet open go at the next launch).
    private func closeExport() {
        if let file = exportedFile { try? FileManager.default.removeItem(at: file) }
        exportedFile = nil
    }

    private func removeReplayCopies() {
        try? FileManager.default.removeItem(at: Self.replayDirectory)
    }

    /// A damaged history is moved aside (never deleted: much may be recoverable), then a new one
    /// is created.
    private func startNewHistory() {
        guard monitor == nil, let url = try? Self.databaseURL() else { return }
        let stamp = Int(Date().timeIntervalSince1970)
        for suffix in ["", "-wal", "-shm"] {
            let from = URL(fileURLWithPath: url.path + suffix)
            let to = url.deletingLastPathComponent().appendingPathComponent("history-damaged-\(stamp).sqlite\(suffix)")
            try? FileManager.default.moveItem(at: from, to: to)
        }
        Task { await launch() }
    }

    // MARK: Helpers

    /// Run a blocking core call off the main actor; its error becomes the user's message (after
    /// `onFailure`, on the main actor).
    private func perform(_ what: StaticString, onFailure: (@MainActor @Sendable () -> Void)? = nil,
                         _ work: @escaping @Sendable () throws -> Void) {
        Task {
            do { try await Task.detached(priority: .userInitiated) { try work() }.value }
            catch {
                onFailure?()
                report(error, what)
            }
        }
    }

    private func report(_ error: Error, _ what: StaticString) {
        log.error("\(String(describing: what), privacy: .public) failed: \(UserText.logSafe(error), privacy: .public)")
        message = UserText.message(for: error)
    }

    /// The phone's offset now (`autoupdatingCurrent`: follows a time zone change without a
    /// relaunch; `current` may be a snapshot).
    static func utcOffsetMinutes() -> Int32 { Int32(TimeZone.autoupdatingCurrent.secondsFromGMT() / 60) }

    /// Application Support/history.sqlite, readable after the first unlock (background BLE).
    static func databaseURL() throws -> URL {
        let dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                              appropriateFor: nil, create: true)
        // the default class for app files; said explicitly because background BLE needs it
        try? FileManager.default.setAttributes([.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication],
                                               ofItemAtPath: dir.path)
        return dir.appendingPathComponent("history.sqlite")
    }
}
