// The live state as the Live screen gets it: the reducer on hand-made records, and the store on a
// real StressMonitor running the simulator (as fast as possible) with a stress episode.
import Foundation
import StressBeatAppLogic
import StressBeatCore
import XCTest

/// The states a store published, in order (its `onChange` runs on the monitor's thread).
final class StateLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [LiveState] = []
    var states: [LiveState] { lock.lock(); defer { lock.unlock() }; return list }
    func add(_ s: LiveState) { lock.lock(); list.append(s); lock.unlock() }
}

final class LiveStateTests: XCTestCase {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func stressUpdate(at: Int64, score: UInt8?, level: StressLevel?,
                              calibration: CalibrationProgress? = nil) -> StressUpdate {
        StressUpdate(windowStartMs: at - 30_000, atMs: at, score: score, confidence: 0.8, level: level,
                     levelChanged: false, noScoreReason: score == nil ? "poor signal" : nil, fromHrvFallback: false,
                     rrOnly: false, usableFraction: 0.9, hrBpm: 70, rmssdMs: 40,
                     beats: BeatCounts(normal: 35, supraventricular: 0, ventricular: 0, fusion: 0, unknown: 0),
                     calibration: calibration)
    }

    func testReducerFoldsRecords() {
        var s = LiveState()
        s = s.reduced(.calibrationRequested(durationS: 180))
        s = s.reduced(.status(.sessionStarted(sessionId: 7)))
        XCTAssertEqual(s.session, .running(sessionId: 7))
        XCTAssert(s.calibration.isRunning, "a calibration asked for before the session carries over")
        s = s.reduced(.connection(ConnectionUpdate(atMs: 1, state: .reconnecting(attempt: 2))))
        XCTAssertEqual(s.connection, .reconnecting(attempt: 2))
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 10_000, bpm: 62, rrMs: [968], contact: true, fromEcg: false)))
        XCTAssertEqual(s.heartRate?.source, .strap)
        XCTAssertFalse(s.heartRate!.isStale(nowMs: 15_000))
        XCTAssertTrue(s.heartRate!.isStale(nowMs: 15_001))
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 11_000, bpm: 0, rrMs: [], contact: false, fromEcg: false)))
        XCTAssertEqual(s.heartRate?.bpm, 62, "0 is no reading")
        XCTAssertEqual(s.heartRate?.contact, false)
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 12_000, bpm: 64.5, rrMs: [930], contact: nil, fromEcg: true)))
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 13_000, bpm: 63, rrMs: [], contact: true, fromEcg: false)))
        XCTAssertEqual(s.heartRate?.bpm, 64.5, "the ECG's while it is fresh")
        XCTAssertEqual(s.heartRate?.contact, true)
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 17_001, bpm: 66, rrMs: [], contact: true, fromEcg: false)))
        XCTAssertEqual(s.heartRate?.source, .strap, "the strap's once the ECG's is stale")
        s = s.reduced(.stress(stressUpdate(at: 40_000, score: nil, level: nil,
                                           calibration: .running(acceptedWindows: 1, poorSignalWindows: 1,
                                                                 irregularRhythmWindows: 0, remainingS: 150,
                                                                 durationS: 200))))
        XCTAssertEqual(s.calibration, .running(accepted: 1, poorSignal: 1, irregularRhythm: 0, remainingS: 150,
                                               durationS: 200), "the core's duration replaces the one asked for")
        XCTAssertEqual(s.calibration.progress, 0.25)
        XCTAssertEqual(s.stress?.noScoreReason, "poor signal")
        s = s.reduced(.stress(stressUpdate(at: 45_000, score: 81, level: .high)))
        XCTAssertEqual(s.stress?.score, 81)
        XCTAssertEqual(s.calibration, .running(accepted: 1, poorSignal: 1, irregularRhythm: 0, remainingS: 150,
                                               durationS: 200), "a window without calibration news keeps the progress")
        s = s.reduced(.status(.battery(atMs: 1, percent: 14)))
        s = s.reduced(.status(.ecgUnusable(reason: "refused")))
        s = s.reduced(.status(.gap(fromMs: 1, toMs: 2, missingSamples: 3, cause: .linkLost)))
        XCTAssertEqual(s.batteryPercent, 14)
        XCTAssertEqual(s.degraded, [.ecgUnusable])
        XCTAssertEqual(s.gaps, 1)
        s = s.reduced(.status(.ecgResumed(atMs: 3)))
        XCTAssertEqual(s.degraded, [])
        s = s.reduced(.alert(MonitorAlert(id: 3, atMs: 5, kind: .batteryLow, warning: true, reason: "r", fromMs: 1, toMs: 5)))
        XCTAssertEqual(s.latestAlert?.storedId, 3)
        s = s.reduced(.status(.modelUnavailable(task: .beatType, reason: "missing")))
        XCTAssertEqual(s.degraded, [.modelUnavailable(.beatType)], "which model, as the core said")
        XCTAssertFalse(s.degraded.contains(.modelUnavailable(.stress)), "scores still from the stress model")
        s = s.reduced(.status(.finished(sessionId: 7, windows: 2, endReason: .disconnected)))
        XCTAssertEqual(s.session, .finished(sessionId: 7, windows: 2, reason: .disconnected))
        XCTAssertEqual(s.calibration, .notRunning, "a calibration ends with its session")
        XCTAssertNil(s.calibration.progress)
        XCTAssertEqual(s.heartRate?.bpm, 66, "the last values stay on screen")
        let next = s.reduced(.status(.sessionStarted(sessionId: 8)))
        XCTAssertNil(next.heartRate)
        XCTAssertNil(next.latestAlert)
        XCTAssertNil(next.batteryPercent)
        XCTAssertEqual(next.connection, s.connection)
    }

    /// A calibration asked for with no session running waits for the next session (the core
    /// times it from that session's start) and runs from its SessionStarted; asked for during a
    /// session it runs at once. Cut short by the session's end, it shows the core's outcome.
    func testCalibrationAskedForBeforeASessionStartsWithIt() {
        var s = LiveState().reduced(.calibrationRequested(durationS: 180))
        XCTAssertEqual(s.calibration, .pending(durationS: 180))
        XCTAssertNil(s.calibration.progress, "no progress before the session")
        XCTAssertFalse(s.calibration.isRunning)
        XCTAssertTrue(s.calibration.isRequested)
        XCTAssertEqual(UserText.calibration(s.calibration),
                       "Calibration starts with the next session: sit calmly for its first 3 minutes.")
        s = s.reduced(.status(.sessionStarted(sessionId: 4)))
        XCTAssertEqual(s.calibration, .running(accepted: 0, poorSignal: 0, irregularRhythm: 0, remainingS: 180,
                                               durationS: 180))
        XCTAssertEqual(s.calibration.progress, 0)
        s = s.reduced(.calibrationCancelled)
        XCTAssertEqual(s.calibration, .notRunning)
        XCTAssertFalse(s.calibration.isRequested)
        s = s.reduced(.calibrationRequested(durationS: 120))
        XCTAssertEqual(s.calibration, .running(accepted: 0, poorSignal: 0, irregularRhythm: 0, remainingS: 120,
                                               durationS: 120), "during a session: at once")
        s = s.reduced(.stress(stressUpdate(at: 40_000, score: nil, level: nil,
                                           calibration: .running(acceptedWindows: 2, poorSignalWindows: 0,
                                                                 irregularRhythmWindows: 0, remainingS: 30,
                                                                 durationS: 120))))
        XCTAssertEqual(s.calibration.progress, 0.75)
        XCTAssertEqual(UserText.calibration(s.calibration), "Calibrating: sit calmly (30 s left, 2 calm windows)")
        // one the session's end cut short: its outcome, which .finished keeps
        let cutShort = s.reduced(.status(.calibrationEnded(outcome: .failed(acceptedWindows: 2, neededWindows: 12,
                                                                              poorSignalWindows: 0,
                                                                              irregularRhythmWindows: 0))))
            .reduced(.status(.finished(sessionId: 4, windows: 9, endReason: .stopped)))
        XCTAssertEqual(cutShort.calibration, .failed(accepted: 2, needed: 12, poorSignal: 0, irregularRhythm: 0))
        s = s.reduced(.status(.finished(sessionId: 4, windows: 9, endReason: .stopped)))
        XCTAssertEqual(s.calibration, .notRunning)
        XCTAssertEqual(s.reduced(.calibrationRequested(durationS: 90)).calibration, .pending(durationS: 90))
        XCTAssertEqual(UserText.calibration(.pending(durationS: 90)),
                       "Calibration starts with the next session: sit calmly for its first 90 s.")
    }

    /// The running session's SessionStarted again (a status listener subscribing mid-session
    /// gets it at once, maybe after other records) keeps what is live; a new id starts afresh.
    func testSessionStartedForTheSessionShownKeepsItsValues() {
        var s = LiveState().reduced(.connection(ConnectionUpdate(atMs: 1, state: .streaming)))
        s = s.reduced(.status(.sessionStarted(sessionId: 7)))
        XCTAssertEqual(s.session, .running(sessionId: 7))
        XCTAssertEqual(s.connection, .streaming)
        s = s.reduced(.heartRate(HeartRateUpdate(atMs: 10_000, bpm: 70, rrMs: [857], contact: true, fromEcg: true)))
        s = s.reduced(.status(.battery(atMs: 2, percent: 50)))
        s = s.reduced(.calibrationRequested(durationS: 180))
        let again = s.reduced(.status(.sessionStarted(sessionId: 7)))
        XCTAssertEqual(again, s, "the same session: nothing cleared")
        let next = s.reduced(.status(.sessionStarted(sessionId: 8)))
        XCTAssertNil(next.heartRate)
        XCTAssertNil(next.batteryPercent)
        XCTAssertEqual(next.session, .running(sessionId: 8))
    }

    /// A store created while a session runs learns of it at once (the core's initial
    /// SessionStarted), then follows it to its end.
    func testStoreCreatedMidSessionShowsTheRunningSession() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        try monitor.start(source: .simulator(minutes: 5, seed: 5, stress: [], faults: "", realtime: true,
                                             heartRateOnly: false))
        var started = false
        for _ in 0..<100 where !started {
            let probe = LiveStateStore(monitor: monitor)
            started = probe.state.session.isRunning
            probe.close()
            if !started { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertTrue(started, "the running session is reported to a new subscriber")
        let store = LiveStateStore(monitor: monitor)
        guard case let .running(id) = store.state.session else { return XCTFail("\(store.state.session)") }
        try monitor.stop()
        try monitor.waitUntilFinished()
        var finished = false
        for _ in 0..<100 where !finished {
            if case let .finished(fid, _, reason) = store.state.session {
                finished = true
                XCTAssertEqual(fid, id)
                XCTAssertEqual(reason, .stopped)
            } else { Thread.sleep(forTimeInterval: 0.05) }
        }
        XCTAssertTrue(finished, "\(store.state.session)")
        store.close()
        try monitor.shutdown()
    }

    /// A simulated 6-minute session with a strong stress episode from 2:30 to 4:30, observed
    /// through the store: the states make sense in order, not just arrive.
    func testStoreFollowsASimulatedSessionWithAStressEpisode() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let log = StateLog()
        let store = LiveStateStore(monitor: monitor) { log.add($0) }
        XCTAssertEqual(store.state.connection, .idle, "the current state at once")
        try monitor.start(source: .simulator(minutes: 6, seed: 11,
                                             stress: [SimulatedStress(startS: 150, durationS: 120, intensity: 1)],
                                             faults: "", realtime: false, heartRateOnly: false))
        try monitor.waitUntilFinished()
        let states = log.states
        XCTAssertGreaterThan(states.count, 100)
        let final = store.state
        XCTAssertEqual(states.last, final)
        guard case let .finished(id, windows, reason) = final.session else { return XCTFail("\(final.session)") }
        XCTAssertEqual(reason, .sourceEnded)
        XCTAssertGreaterThan(id, 0)
        XCTAssertEqual(final.connection, .stopped)
        XCTAssert(states.contains { $0.connection == .streaming })
        // the session started before anything streamed, and states only move forward
        let firstRunning = try XCTUnwrap(states.firstIndex { $0.session.isRunning })
        XCTAssertNil(states[..<firstRunning].first { $0.heartRate != nil })
        let stressTimes = states.compactMap { $0.stress?.atMs }
        XCTAssertEqual(stressTimes, stressTimes.sorted(), "published in order")

        // heart rate from the ECG, plausible, higher during the episode than before it
        // the simulated H10 sends its own heart rate and the ECG: the ECG's is shown once it runs
        let hr = states.compactMap { $0.heartRate }
        XCTAssert(hr.allSatisfy { (40...180).contains($0.bpm) }, "\(hr.map { $0.bpm })")
        let firstEcg = try XCTUnwrap(hr.firstIndex { $0.source == .ecg })
        XCTAssert(hr[firstEcg...].allSatisfy { $0.source == .ecg }, "no flicker back to the strap's value")
        let windowsSeen = Dictionary(grouping: states.compactMap { $0.stress }, by: { $0.atMs }).compactMap { $0.value.first }
            .sorted { $0.atMs < $1.atMs }
        XCTAssertEqual(UInt64(windowsSeen.count), windows)
        let t0 = windowsSeen[0].atMs - 30_000 // ≈ the session's start (first window ends 30 s in)
        func levels(_ from: Int64, _ to: Int64) -> [StressLevel] {
            windowsSeen.filter { $0.atMs - t0 >= from * 1000 && $0.atMs - t0 < to * 1000 }.compactMap { $0.level }
        }
        func meanScore(_ from: Int64, _ to: Int64) -> Double {
            let s = windowsSeen.filter { $0.atMs - t0 >= from * 1000 && $0.atMs - t0 < to * 1000 }.compactMap { $0.score }
            return s.isEmpty ? .nan : Double(s.reduce(0, +)) / Double(s.count)
        }
        let before = levels(60, 150), during = levels(190, 280)
        let summary = "before \(before) \(meanScore(60, 150)); during \(during) \(meanScore(190, 280))"
        XCTAssert(before.allSatisfy { $0 != .high }, summary)
        XCTAssert(during.contains(.high) || during.contains(.elevated), summary)
        XCTAssertGreaterThan(meanScore(190, 280), meanScore(60, 150) + 15, summary)
        XCTAssertNotNil(final.signal)
        XCTAssert(states.compactMap { $0.signal?.score }.allSatisfy { (0...1).contains($0) })
        store.close()
        try monitor.shutdown()
    }

    /// The AsyncStream gives the current state first, then changes, and ends with `close()`;
    /// a store let go stops listening.
    func testStreamEndsOnCloseAndReleasedStoreStopsListening() throws {
        let dir = try tempDir()
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let store = LiveStateStore(monitor: monitor)
        let stream = store.states()
        let log = StateLog()
        let first = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)
        Task.detached {
            for await s in stream {
                log.add(s)
                if log.states.count == 1 { first.signal() }
            }
            ended.signal()
        }
        XCTAssertEqual(first.wait(timeout: .now() + 10), .success)
        try monitor.start(source: .simulator(minutes: 1.5, seed: 3, stress: [], faults: "", realtime: false,
                                             heartRateOnly: false))
        try monitor.waitUntilFinished()
        store.close()
        XCTAssertEqual(ended.wait(timeout: .now() + 10), .success, "the stream ended")
        let states = log.states
        XCTAssertEqual(states.first, LiveState(), "the current state first")
        // bufferingNewest keeps the latest: the final state always arrives
        guard case .finished = states.last?.session else { return XCTFail("\(String(describing: states.last))") }

        let counted = StateLog()
        weak var released: LiveStateStore?
        do {
            let s = LiveStateStore(monitor: monitor) { counted.add($0) }
            released = s
        }
        XCTAssertNil(released)
        let before = counted.states.count
        try monitor.start(source: .simulator(minutes: 1, seed: 4, stress: [], faults: "", realtime: false,
                                             heartRateOnly: false))
        try monitor.waitUntilFinished()
        XCTAssertEqual(counted.states.count, before, "nothing after the store went away")
        try monitor.shutdown()
    }

    static let allTests = [
        ("testReducerFoldsRecords", testReducerFoldsRecords),
        ("testCalibrationAskedForBeforeASessionStartsWithIt", testCalibrationAskedForBeforeASessionStartsWithIt),
        ("testSessionStartedForTheSessionShownKeepsItsValues", testSessionStartedForTheSessionShownKeepsItsValues),
        ("testStoreCreatedMidSessionShowsTheRunningSession", testStoreCreatedMidSessionShowsTheRunningSession),
        ("testStoreFollowsASimulatedSessionWithAStressEpisode", testStoreFollowsASimulatedSessionWithAStressEpisode),
        ("testStreamEndsOnCloseAndReleasedStoreStopsListening", testStreamEndsOnCloseAndReleasedStoreStopsListening),
    ]
}
