// User-facing texts and actions for what the core reports; log-safe error descriptions. The
// errors are real ones, raised by the core.
import Foundation
import StressBeatAppLogic
import StressBeatCore
import XCTest

final class UserTextTests: XCTestCase {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func error(_ body: () throws -> Void) -> Error? {
        do { try body(); return nil } catch { return error }
    }

    func testRealErrorsGetTheirActionAndNoDetailsInLogs() throws {
        let dir = try tempDir()
        // a file name that could identify someone
        let missing = dir.appendingPathComponent("jane-doe-clinic/ecg.hea").path
        let notFound = try XCTUnwrap(error { _ = try analyzeRecording(path: missing, options: nil) })
        XCTAssertEqual(UserText.message(for: notFound).action, .pickFileAgain)
        XCTAssertEqual(UserText.logSafe(notFound), "StressBeatError.FileNotFound")

        let db = dir.appendingPathComponent("h.db")
        try StressMonitor(config: StressMonitorConfig(databasePath: db.path)).shutdown()
        var bytes = try Data(contentsOf: db)
        bytes[63] = 99 // user_version: a newer app's schema
        try bytes.write(to: db)
        let newer = try XCTUnwrap(error { _ = try StressMonitor(config: StressMonitorConfig(databasePath: db.path)) })
        let m = UserText.message(for: newer)
        XCTAssertEqual(m.action, .updateApp)
        XCTAssert(m.detail.contains("your history is kept"), m.detail)

        let junk = dir.appendingPathComponent("junk.db")
        try Data(repeating: 0x5a, count: 8192).write(to: junk)
        let damaged = try XCTUnwrap(error { _ = try StressMonitor(config: StressMonitorConfig(databasePath: junk.path)) })
        XCTAssertEqual(UserText.message(for: damaged).action, .startNewHistory)

        let storage = try XCTUnwrap(error {
            _ = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("no/dir/h.db").path))
        })
        XCTAssertEqual(UserText.message(for: storage).action, .checkStorage)
        XCTAssertFalse(UserText.logSafe(storage).contains(dir.path))
    }

    func testEveryErrorCaseHasAMessage() {
        let cases: [(StressBeatError, UserAction)] = [
            (.FileNotFound(message: "m"), .pickFileAgain), (.CannotReadFile(message: "m"), .checkStorage),
            (.UnsupportedFormat(message: "m"), .chooseAnotherFile), (.CorruptRecording(message: "m"), .chooseAnotherFile),
            (.InvalidArgument(message: "m"), .reportProblem), (.NotEnoughSignal(message: "m"), .checkStrapAndRecordLonger),
            (.Storage(message: "m"), .checkStorage), (.HistoryFromNewerApp(message: "m"), .updateApp),
            (.HistoryDamaged(message: "m"), .startNewHistory), (.Model(message: "m"), .reinstallApp),
            (.InvalidState(message: "m"), .reportProblem), (.Unsupported(message: "m"), .useAnotherSource),
            (.Internal(message: "secret 72 bpm"), .reportProblem),
        ]
        for (e, action) in cases {
            let m = UserText.message(for: e)
            XCTAssertEqual(m.action, action, "\(e)")
            XCTAssertFalse(m.title.isEmpty || m.detail.isEmpty)
            XCTAssertFalse(m.detail.contains("m") && m.detail == "m", "the core's message is not shown as is")
            XCTAssertFalse(UserText.logSafe(e).contains("secret"))
        }
        XCTAssertEqual(Set(cases.map { UserText.logSafe($0.0) }).count, cases.count, "each case named")
    }

    func testTextsForLevelsEndReasonsAndAlerts() {
        XCTAssertEqual([StressLevel.calm, .elevated, .high].map { UserText.level($0) }, ["Calm", "Elevated", "High"])
        XCTAssertEqual(UserText.level(nil), "Warming up", "no level yet says so")
        let reasons: [SessionEndReason?] = [.stopped, .disconnected, .sourceEnded, .error, .interrupted, nil]
        XCTAssertEqual(Set(reasons.map { UserText.endReason($0) }).count, reasons.count, "each its own text")
        XCTAssertEqual(UserText.endReason(nil), "The session ended.", "a reason of a newer version: no details")
        // a stored session: nothing while it runs; its reason, or the generic text for one not known
        func session(endedAtMs: Int64?, _ reason: SessionEndReason?) -> SessionSummary {
            SessionSummary(id: 1, startedAtMs: 0, endedAtMs: endedAtMs, endReason: reason, source: .simulator,
                           deviceModel: nil, windows: 0, alerts: 0, gaps: 0)
        }
        XCTAssertNil(UserText.endReason(of: session(endedAtMs: nil, nil)), "still running")
        XCTAssertEqual(UserText.endReason(of: session(endedAtMs: 60_000, .interrupted)),
                       "The app was closed before the session ended.")
        XCTAssertEqual(UserText.endReason(of: session(endedAtMs: 60_000, nil)), "The session ended.")
        let kinds: [AlertKind] = [.sustainedHighStress, .signalLost, .signalBack, .batteryLow, .strapDisconnected, .strapReconnected]
        XCTAssertEqual(Set(kinds.map { UserText.alertTitle($0) }).count, kinds.count)
        XCTAssert(UserText.disclaimer.contains("not a medical device"))
        let n = UserText.notification(for: AlertItem(storedId: 1, atMs: 0, kind: .batteryLow, warning: true, reason: "Battery at 12%."))
        XCTAssertEqual(n.title, "Strap battery low")
        XCTAssert(n.body.contains("not a medical device"))
        XCTAssertEqual(UserText.calibration(.failed(accepted: 4, needed: 12, poorSignal: 9, irregularRhythm: 1)),
                       "Calibration failed: 4 of 12 calm windows; most were left out for a poor signal (contact, movement).")
    }

    /// The app builds its own messages (a replay's files not copied) and offers a retry where
    /// it may help; notifications keep the core's reason off the lock screen.
    func testMessagesMadeByTheAppRetryAndNotificationPrivacy() {
        let m = UserMessage(title: "Cannot open the recording", detail: "Pick it again.", action: .pickFileAgain)
        XCTAssertEqual(m.action, .pickFileAgain)
        XCTAssertTrue(m.retryMayHelp)
        for e: StressBeatError in [.Storage(message: "m"), .Model(message: "m"), .Internal(message: "m")] {
            XCTAssertTrue(UserText.message(for: e).retryMayHelp, "\(e): a launch failure that may pass")
        }
        XCTAssertFalse(UserText.message(for: StressBeatError.HistoryFromNewerApp(message: "m")).retryMayHelp)
        XCTAssertFalse(UserText.message(for: StressBeatError.HistoryDamaged(message: "m")).retryMayHelp)
        let reason = "Stress score above 80 for 12 minutes."
        let n = UserText.notification(for: AlertItem(storedId: 2, atMs: 0, kind: .sustainedHighStress, warning: true,
                                                     reason: reason))
        XCTAssertEqual(n.title, "Stress has stayed high")
        XCTAssertFalse(n.body.contains(reason), "the reason stays in the app")
        XCTAssertFalse(n.body.contains("80"))
        XCTAssertEqual(n.body, UserText.notificationBody)
        XCTAssert(n.body.contains("not a medical device"))
    }

    /// Bluetooth off, not allowed or absent has a sentence (shown in the strap picker at once:
    /// no state callback comes); states that pass or are fine have none.
    func testBluetoothProblemTexts() {
        let unavailable: [BluetoothState] = [.poweredOff, .unauthorized, .unsupported]
        for s in unavailable {
            XCTAssertTrue(s.isUnavailable, "\(s)")
            XCTAssertNotNil(UserText.bluetoothProblem(s), "\(s)")
        }
        XCTAssertEqual(Set(unavailable.compactMap(UserText.bluetoothProblem)).count, 3, "each says what to do")
        XCTAssert(UserText.bluetoothProblem(.unauthorized)?.contains("Settings") == true)
        for s: BluetoothState in [.unknown, .resetting, .poweredOn] {
            XCTAssertFalse(s.isUnavailable, "\(s)")
            XCTAssertNil(UserText.bluetoothProblem(s), "\(s)")
        }
    }

    static let allTests = [
        ("testRealErrorsGetTheirActionAndNoDetailsInLogs", testRealErrorsGetTheirActionAndNoDetailsInLogs),
        ("testEveryErrorCaseHasAMessage", testEveryErrorCaseHasAMessage),
        ("testTextsForLevelsEndReasonsAndAlerts", testTextsForLevelsEndReasonsAndAlerts),
        ("testMessagesMadeByTheAppRetryAndNotificationPrivacy", testMessagesMadeByTheAppRetryAndNotificationPrivacy),
        ("testBluetoothProblemTexts", testBluetoothProblemTexts),
    ]
}
