// The live monitor through the bindings, as the iOS app would use it: a simulated strap session
// (as fast as possible) observed through Swift listeners, then the history queried.
import Foundation
import StressBeatCore
import XCTest

/// Every event of every kind, in arrival order (listeners run on the monitor's thread).
final class Recorder: HeartRateListener, EcgListener, SignalQualityListener, StressListener,
    AlertListener, ConnectionListener, StatusListener, @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Any] = []
    var events: [Any] { lock.lock(); defer { lock.unlock() }; return list }
    private func add(_ e: Any) { lock.lock(); list.append(e); lock.unlock() }

    func onHeartRate(update: HeartRateUpdate) { add(update) }
    func onEcg(batch: EcgBatch) { add(batch) }
    func onSignalQuality(update: SignalQualityUpdate) { add(update) }
    func onStress(update: StressUpdate) { add(update) }
    func onAlert(alert: MonitorAlert) { add(alert) }
    func onConnection(update: ConnectionUpdate) { add(update) }
    func onStatus(status: MonitorStatus) { add(status) }

    func subscribeAll(_ m: StressMonitor) -> [Subscription] {
        [m.subscribeHeartRate(listener: self), m.subscribeEcg(listener: self),
         m.subscribeSignalQuality(listener: self), m.subscribeStress(listener: self),
         m.subscribeAlerts(listener: self), m.subscribeConnection(listener: self),
         m.subscribeStatus(listener: self)]
    }
}

/// Cancels its own subscription after `limit` batches.
final class CancellingEcgListener: EcgListener, @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    let limit: Int
    var subscription: Subscription?
    init(limit: Int) { self.limit = limit }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
    func onEcg(batch: EcgBatch) {
        lock.lock(); n += 1; let reached = n == limit; lock.unlock()
        if reached { subscription?.cancel() }
    }
}

final class StressMonitorTests: XCTestCase {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func simulator(_ minutes: Double, _ stress: [SimulatedStress] = []) -> MonitorSource {
        .simulator(minutes: minutes, seed: 7, stress: stress, faults: "", realtime: false)
    }

    func testSimulatedSessionThroughListenersThenHistory() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let rec = Recorder()
        let subs = rec.subscribeAll(monitor)
        try monitor.start(source: simulator(4, [SimulatedStress(startS: 120, durationS: 90, intensity: 1)]))
        try monitor.waitUntilFinished()
        XCTAssertFalse(monitor.isRunning())
        let events = rec.events

        guard case let .sessionStarted(id)? = events.first as? MonitorStatus else {
            return XCTFail("first event \(String(describing: events.first))")
        }
        guard case let .finished(sessionId, windows, endReason)? = events.last as? MonitorStatus else {
            return XCTFail("last event \(String(describing: events.last))")
        }
        XCTAssertEqual(id, sessionId)
        XCTAssertEqual(endReason, .sourceEnded)
        let states = events.compactMap { ($0 as? ConnectionUpdate)?.state }
        XCTAssert(states.contains(.streaming), "\(states)")
        XCTAssertEqual(states.last, .stopped)

        let ecg = events.compactMap { $0 as? EcgBatch }
        XCTAssertGreaterThan(ecg.count, 4 * 60)
        XCTAssert(zip(ecg, ecg.dropFirst()).allSatisfy { $1.firstSampleMs > $0.firstSampleMs }, "ECG out of order")
        XCTAssert(ecg.allSatisfy { (20...200).contains($0.samplesMv.count) }, "batches, never single samples")
        let stress = events.compactMap { $0 as? StressUpdate }
        XCTAssertEqual(UInt64(stress.count), windows)
        XCTAssertGreaterThan(stress.count, 30)
        XCTAssert(zip(stress, stress.dropFirst()).allSatisfy { abs($1.atMs - $0.atMs - 5000) <= 10 })
        XCTAssert(stress.contains { $0.score != nil }, "some windows scored")

        let sessions = try monitor.sessions(limit: 10)
        XCTAssertEqual(sessions.count, 1)
        XCTAssertEqual(sessions[0].id, sessionId)
        XCTAssertEqual(sessions[0].windows, UInt32(stress.count))
        XCTAssertEqual(sessions[0].source, .simulator)
        XCTAssertEqual(sessions[0].endReason, .sourceEnded, "stored as the live status said")
        let timeline = try monitor.timeline(fromMs: stress[0].windowStartMs, toMs: stress[stress.count - 1].atMs + 1, points: 10)
        XCTAssertEqual(timeline.reduce(0) { $0 + $1.windows }, UInt32(stress.count))
        // days as the app's calendar bounds them (a DST day lasts 23 or 25 hours)
        let t = sessions[0].startedAtMs
        let days = try monitor.dailySummariesForDays(days: [
            LocalDay(date: "before", startMs: t - 86_400_000, endMs: t),
            LocalDay(date: "today", startMs: t, endMs: t + 86_400_000)])
        XCTAssertEqual(days.map { $0.date }, ["before", "today"])
        XCTAssertEqual(days.map { $0.windows }, [0, UInt32(stress.count)])
        let csv = dir.appendingPathComponent("w.csv")
        XCTAssertEqual(try monitor.exportSession(sessionId: sessionId, format: .windowsCsv, path: csv.path), UInt64(stress.count))

        subs.forEach { $0.cancel() }
        try monitor.shutdown()
        XCTAssertThrowsError(try monitor.sessions(limit: 1)) { error in
            guard case StressBeatError.InvalidState = error else { return XCTFail("expected InvalidState, got \(error)") }
        }
    }

    func testCancelledSubscriptionGetsNothingAndNewcomerGetsCurrentState() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let l = CancellingEcgListener(limit: 5)
        l.subscription = monitor.subscribeEcg(listener: l)
        try monitor.start(source: simulator(1.5))
        try monitor.waitUntilFinished()
        XCTAssertEqual(l.count, 5, "no event after cancel()")
        XCTAssertEqual(l.subscription?.isActive(), false)

        let rec = Recorder()
        let sub = monitor.subscribeConnection(listener: rec)
        let now = rec.events.compactMap { ($0 as? ConnectionUpdate)?.state }
        XCTAssertEqual(now, [.stopped], "the current state at once")
        sub.cancel()
        try monitor.shutdown()
    }

    func testHeartRateOnlySimulatorIsScoredFromItsRrIntervals() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let rec = Recorder()
        let subs = rec.subscribeAll(monitor)
        try monitor.start(source: .simulator(minutes: 3, seed: 7, stress: [], faults: "", realtime: false,
                                             heartRateOnly: true))
        try monitor.waitUntilFinished()
        XCTAssertFalse(rec.events.contains { $0 is EcgBatch }, "no ECG stream from a heart-rate-only strap")
        let stress = rec.events.compactMap { $0 as? StressUpdate }
        // (180 s - 30 s window - connection set-up) / 5 s
        XCTAssert((24...31).contains(stress.count), "\(stress.count) windows")
        let scored = stress.filter { $0.score != nil && !$0.fromHrvFallback }.count
        XCTAssert(scored * 10 >= stress.count * 8, "\(scored) of \(stress.count) scored by the model")
        XCTAssert(stress.allSatisfy { $0.rrOnly }, "every window from the strap's RR intervals")
        subs.forEach { $0.cancel() }
        try monitor.shutdown()
    }

    func testRefusedEcgIsReportedThenItsReturn() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let rec = Recorder()
        let subs = rec.subscribeAll(monitor)
        // refused from 3:00 to 4:40 and from 6:00 on; the strap's start is retried every minute
        try monitor.start(source: .simulator(minutes: 7, seed: 7, stress: [], faults: "ecgrefused=3m/100s",
                                             realtime: false))
        try monitor.waitUntilFinished()
        let ecgStatus: [String] = rec.events.compactMap {
            switch $0 as? MonitorStatus {
            case .ecgUnusable?: return "refused"
            case .ecgResumed?: return "resumed"
            default: return nil
            }
        }
        XCTAssertEqual(ecgStatus, ["refused", "resumed", "refused"])
        XCTAssert(rec.events.contains { ($0 as? StressUpdate)?.rrOnly == true }, "RR-only windows while refused")
        subs.forEach { $0.cancel() }
        try monitor.shutdown()
    }

    func testCalibrationReportsProgressThenTheBaseline() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        XCTAssertNil(try monitor.personalBaseline())
        let rec = Recorder()
        let sub = monitor.subscribeStress(listener: rec)
        XCTAssertThrowsError(try monitor.startCalibration(durationS: 60)) { error in
            guard case StressBeatError.InvalidArgument = error else { return XCTFail("expected InvalidArgument, got \(error)") }
        }
        try monitor.startCalibration(durationS: 120)
        try monitor.start(source: simulator(4))
        try monitor.waitUntilFinished()
        let stress = rec.events.compactMap { $0 as? StressUpdate }
        let running = stress.compactMap { u -> (counted: UInt32, remainingS: UInt32, durationS: UInt32)? in
            if case let .running(accepted, poorSignal, irregularRhythm, remainingS, durationS)? = u.calibration {
                return (accepted + poorSignal + irregularRhythm, remainingS, durationS)
            }
            return nil
        }
        let remaining = running.map { $0.remainingS }
        XCTAssertGreaterThanOrEqual(remaining.count, 10)
        XCTAssertEqual(remaining, remaining.sorted(by: >), "time left only falls")
        XCTAssertEqual(Set(running.map { $0.durationS }), [120], "the whole duration asked for, in every report")
        XCTAssert(remaining.allSatisfy { $0 < 120 }, "\(remaining)")
        // every calibration window is counted once: accepted, or left out for a reason
        XCTAssertEqual(running.map { $0.counted }, (1...UInt32(running.count)).map { $0 })
        let done = stress.compactMap { u -> UInt32? in
            if case let .completed(windows)? = u.calibration { return windows }
            return nil
        }
        XCTAssertEqual(done.count, 1)
        XCTAssertGreaterThanOrEqual(done.first ?? 0, 12)
        XCTAssert(stress.prefix { $0.score == nil }.allSatisfy { $0.calibration != nil }, "no score while calibrating")
        let b = try XCTUnwrap(try monitor.personalBaseline())
        XCTAssert(b.calibrated && b.mature, "\(b)")
        XCTAssert((45.0...110.0).contains(b.hrBpm ?? 0), "\(b)")
        try monitor.startCalibration(durationS: 600)
        try monitor.cancelCalibration()
        sub.cancel()
        try monitor.shutdown()
        XCTAssertThrowsError(try monitor.personalBaseline())
    }

    func testTypedErrors() throws {
        let dir = try tempDir()
        XCTAssertThrowsError(try StressMonitor(config: StressMonitorConfig(
            databasePath: dir.appendingPathComponent("no/such/dir/h.db").path))) { error in
            guard case let StressBeatError.Storage(message) = error else { return XCTFail("expected Storage, got \(error)") }
            XCTAssertFalse(message.contains(dir.path), "no paths in messages: \(message)")
        }
        let bad = dir.appendingPathComponent("stress.onnx")
        try Data((0..<100).map { UInt8($0) }).write(to: bad)
        try "{not json".write(to: dir.appendingPathComponent("stress.json"), atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("h.db").path
        XCTAssertThrowsError(try StressMonitor(config: StressMonitorConfig(
            databasePath: db, stressModelPath: bad.path, strictModels: true))) { error in
            guard case StressBeatError.Model = error else { return XCTFail("expected Model, got \(error)") }
        }
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: db, stressModelPath: bad.path))
        let rec = Recorder()
        let subs = [monitor.subscribeStatus(listener: rec), monitor.subscribeStress(listener: rec)]
        try monitor.start(source: simulator(2))
        XCTAssertThrowsError(try monitor.start(source: simulator(1))) { error in
            guard case StressBeatError.InvalidState = error else { return XCTFail("expected InvalidState, got \(error)") }
        }
        try monitor.waitUntilFinished()
        let problems = rec.events.compactMap { e -> ModelTask? in
            if case let .modelUnavailable(task, _)? = e as? MonitorStatus { return task }
            return nil
        }
        XCTAssertEqual(problems, [.stress], "the corrupt model is reported")
        let scored = rec.events.compactMap { $0 as? StressUpdate }.filter { $0.score != nil }
        XCTAssert(!scored.isEmpty && scored.allSatisfy { $0.fromHrvFallback }, "scores from the HRV fallback")
        subs.forEach { $0.cancel() }
        try monitor.shutdown()
    }

    /// A thread waiting for the session does not hide it: `stop` from another thread ends it.
    func testStopEndsASessionAnotherThreadWaitsFor() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        try monitor.start(source: .simulator(minutes: 30, seed: 1, stress: [], faults: "", realtime: true))
        let returned = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? monitor.waitUntilFinished()
            returned.signal()
        }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssert(monitor.isRunning())
        XCTAssertThrowsError(try monitor.start(source: simulator(1))) { error in
            guard case StressBeatError.InvalidState = error else { return XCTFail("expected InvalidState, got \(error)") }
        }
        try monitor.stop()
        XCTAssertEqual(returned.wait(timeout: .now() + 5), .success, "waitUntilFinished returned")
        XCTAssertEqual(try monitor.sessions(limit: 1).first?.endReason, .stopped)
        try monitor.shutdown()
    }

    /// The alert the app shows carries the id to acknowledge it; stored alerts say which were.
    func testLiveAlertIsAcknowledgedByItsId() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let rec = Recorder()
        let sub = monitor.subscribeAlerts(listener: rec)
        // the strap away for 90 s: "disconnected" after 60 s, then "reconnected"
        try monitor.start(source: .simulator(minutes: 4, seed: 7, stress: [], faults: "disconnect=2m/90s", realtime: false))
        try monitor.waitUntilFinished()
        let live = rec.events.compactMap { $0 as? MonitorAlert }
        XCTAssert(live.count >= 2, "\(live)")
        let first = try XCTUnwrap(live.first?.id)
        let stored = try monitor.alerts(fromMs: 0, toMs: Int64.max, limit: 100)
        XCTAssert(stored.allSatisfy { !$0.acknowledged })
        // stored as shown live: the same kind and severity, typed alike
        XCTAssertEqual(Set(stored.map { $0.id }), Set(live.compactMap { $0.id }))
        for a in live {
            let s = try XCTUnwrap(stored.first { $0.id == a.id }, "\(a)")
            XCTAssertEqual(s.kind, a.kind)
            XCTAssertEqual(s.warning, a.warning)
            XCTAssertEqual(s.atMs, a.atMs)
        }
        XCTAssert(stored.contains { $0.kind == .strapDisconnected && $0.warning }, "\(stored)")
        XCTAssert(stored.contains { $0.kind == .strapReconnected && !$0.warning }, "\(stored)")
        XCTAssert(try monitor.acknowledgeAlert(alertId: first))
        let acknowledged = try monitor.alerts(fromMs: 0, toMs: Int64.max, limit: 100).filter { $0.acknowledged }.map { $0.id }
        XCTAssertEqual(acknowledged, [first])
        sub.cancel()
        try monitor.shutdown()
    }

    /// A newer app's history and a damaged file are told apart from a storage problem.
    func testNewerAndDamagedHistoriesAreTyped() throws {
        let dir = try tempDir()
        let db = dir.appendingPathComponent("h.db")
        try StressMonitor(config: StressMonitorConfig(databasePath: db.path)).shutdown()
        // the SQLite header's user_version (bytes 60..64, big-endian): the schema version
        var bytes = try Data(contentsOf: db)
        bytes[63] = 99
        try bytes.write(to: db)
        XCTAssertThrowsError(try StressMonitor(config: StressMonitorConfig(databasePath: db.path))) { error in
            guard case StressBeatError.HistoryFromNewerApp = error else { return XCTFail("expected HistoryFromNewerApp, got \(error)") }
        }
        XCTAssertEqual(try Data(contentsOf: db), bytes, "left as it was")
        let junk = dir.appendingPathComponent("junk.db")
        try Data(repeating: 0x5a, count: 8192).write(to: junk)
        XCTAssertThrowsError(try StressMonitor(config: StressMonitorConfig(databasePath: junk.path))) { error in
            guard case StressBeatError.HistoryDamaged = error else { return XCTFail("expected HistoryDamaged, got \(error)") }
        }
    }

    /// One monitor per history: a second is refused until the first is shut down.
    func testASecondMonitorOnTheSameHistoryIsRefusedUntilTheFirstIsShutDown() throws {
        let db = try tempDir().appendingPathComponent("h.db").path
        let first = try StressMonitor(config: StressMonitorConfig(databasePath: db))
        XCTAssertThrowsError(try StressMonitor(config: StressMonitorConfig(databasePath: db))) { error in
            guard case let StressBeatError.InvalidState(message) = error, message.contains("another StressMonitor") else {
                return XCTFail("expected InvalidState, got \(error)")
            }
        }
        try first.shutdown()
        try StressMonitor(config: StressMonitorConfig(databasePath: db)).shutdown()
    }

    static let allTests = [
        ("testASecondMonitorOnTheSameHistoryIsRefusedUntilTheFirstIsShutDown",
         testASecondMonitorOnTheSameHistoryIsRefusedUntilTheFirstIsShutDown),
        ("testStopEndsASessionAnotherThreadWaitsFor", testStopEndsASessionAnotherThreadWaitsFor),
        ("testLiveAlertIsAcknowledgedByItsId", testLiveAlertIsAcknowledgedByItsId),
        ("testNewerAndDamagedHistoriesAreTyped", testNewerAndDamagedHistoriesAreTyped),
        ("testSimulatedSessionThroughListenersThenHistory", testSimulatedSessionThroughListenersThenHistory),
        ("testCancelledSubscriptionGetsNothingAndNewcomerGetsCurrentState",
         testCancelledSubscriptionGetsNothingAndNewcomerGetsCurrentState),
        ("testHeartRateOnlySimulatorIsScoredFromItsRrIntervals", testHeartRateOnlySimulatorIsScoredFromItsRrIntervals),
        ("testRefusedEcgIsReportedThenItsReturn", testRefusedEcgIsReportedThenItsReturn),
        ("testCalibrationReportsProgressThenTheBaseline", testCalibrationReportsProgressThenTheBaseline),
        ("testTypedErrors", testTypedErrors),
    ]
}
