// The platform bridge (StrapSession + a Swift BleTransport) driven like the iOS app would: a fake
// CoreBluetooth stack answers the core's commands with a real Polar H10's replies
// (../shared/docs/protocols.md), then REAL captured PMD data notifications are fed in.
import Foundation
import StressBeatCore
import XCTest

private let cpUuid = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
private let dataUuid = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
private let batteryUuid = "00002a19-0000-1000-8000-00805f9b34fb"
private let getEcgSettings: [UInt8] = [0x01, 0x00]
private let startEcg: [UInt8] = [0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00]
private let stopEcg: [UInt8] = [0x03, 0x00]

/// Fake platform BLE stack answering like an H10; records every command in order.
final class FakeH10: BleTransport, @unchecked Sendable {
    var session: StrapSession?
    /// Written by the test's thread and the monitor's (it stops the session).
    private let lock = NSLock()
    private var log: [BleCommand] = []
    var commands: [BleCommand] { lock.lock(); defer { lock.unlock() }; return log }
    func clearCommands() { lock.lock(); log.removeAll(); lock.unlock() }
    var now: Int64 = 0
    /// Answer every ECG start with status 12, "invalid state" (another app holds the stream).
    var refuseEcg = false

    func execute(command: BleCommand) {
        lock.lock(); log.append(command); lock.unlock()
        guard let s = session else { return }
        switch command {
        case .connect:
            try? s.onConnected(mtu: 23, atMs: now)
        case let .read(uuid):
            if uuid == cpUuid { try? s.onReadResult(characteristicUuid: cpUuid, value: Data([0x0F, 0x05, 0x00]), atMs: now) }
            if uuid == batteryUuid { try? s.onReadResult(characteristicUuid: batteryUuid, value: Data([87]), atMs: now) }
        case let .write(_, value):
            let v = [UInt8](value)
            if v == getEcgSettings {
                try? s.onNotification(characteristicUuid: cpUuid,
                                      value: Data([0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00]), atMs: now)
            } else if v == startEcg {
                try? s.onNotification(characteristicUuid: cpUuid,
                                      value: Data([0xF0, 0x02, 0x00, refuseEcg ? 12 : 0x00, 0x00]), atMs: now)
            } else if v == stopEcg {
                try? s.onNotification(characteristicUuid: cpUuid, value: Data([0xF0, 0x03, 0x00, 0x00, 0x00]), atMs: now)
            }
        default:
            break
        }
    }

    func controlPointWrites() -> [[UInt8]] {
        commands.compactMap {
            if case let .write(uuid, value) = $0, uuid == cpUuid { return [UInt8](value) }
            return nil
        }
    }
}

final class StrapSessionBridgeTests: XCTestCase {
    static let dataDir = ProcessInfo.processInfo.environment["STRESSBEAT_DATA"] ?? "../shared/data"
    static let capture = dataDir + "/polar_h10/pmd_capture/hr_data_2023-01-13_11-40-07.bin"

    /// `[24-byte magic][u32 LE length][notification]*`
    private func readCapture(max: Int) throws -> [[UInt8]] {
        guard let d = FileManager.default.contents(atPath: Self.capture) else {
            throw XCTSkip("capture not available at \(Self.capture) (set STRESSBEAT_DATA)")
        }
        let b = [UInt8](d)
        XCTAssertEqual(String(decoding: b[0..<24], as: UTF8.self), "H10 ECG v1.0 binary data")
        var i = 24
        var out: [[UInt8]] = []
        while i + 4 <= b.count && out.count < max {
            let len = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
            out.append(Array(b[(i + 4)..<(i + 4 + len)]))
            i += 4 + len
        }
        return out
    }

    private func timestamp(_ f: [UInt8]) -> Int64 {
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(f[1 + k]) << (8 * UInt64(k)) }
        return Int64(bitPattern: v)
    }

    func testHandshakeThenRealFramesDecoded() throws {
        let frames = try readCapture(max: 200)
        XCTAssertEqual(frames.count, 200)
        let h10 = FakeH10()
        let session = StrapSession(transport: h10, ecg: true)
        h10.session = session
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(h10.controlPointWrites(), [getEcgSettings, startEcg])
        XCTAssert(h10.commands.contains(.subscribe(characteristicUuid: cpUuid, indicate: true)))
        XCTAssert(h10.commands.contains(.subscribe(characteristicUuid: dataUuid, indicate: false)))
        XCTAssert(h10.commands.contains { if case let .requestMtu(m) = $0 { return m >= 232 }; return false })

        let ts0 = timestamp(frames[0])
        var at: Int64 = 0
        for f in frames {
            at = 1000 + (timestamp(f) - ts0) / 1_000_000 + 15
            h10.now = at
            try session.onNotification(characteristicUuid: dataUuid, value: Data(f), atMs: at)
            try session.tick(nowMs: at)
        }
        h10.clearCommands()
        try session.stop(nowMs: at + 10)
        XCTAssertEqual(h10.controlPointWrites(), [stopEcg])
        XCTAssertEqual(h10.commands.last, .disconnect)
        XCTAssertEqual(try session.state(), .stopped)

        let events = try session.pollEvents()
        var chunks: [[Int32]] = []
        var gaps = 0
        for e in events {
            if case let .ecg(_, interval, _, samples) = e {
                chunks.append(samples)
                XCTAssert(interval > 7.5 && interval < 7.9, "interval \(interval)")
            }
            if case .gap = e { gaps += 1 }
        }
        XCTAssertEqual(chunks.count, 200)
        XCTAssert(chunks.allSatisfy { $0.count == 73 }, "73 samples per H10 frame")
        XCTAssertEqual(gaps, 0)
        let f = frames[0]
        let first = Int32(f[10]) | Int32(f[11]) << 8 | Int32(Int8(bitPattern: f[12])) << 16
        XCTAssertEqual(chunks[0][0], first)
    }

    func testLinkLossReconnectsAndRestartsEcg() throws {
        let h10 = FakeH10()
        let session = StrapSession(transport: h10, ecg: true)
        h10.session = session
        try session.start(nowMs: 0)
        h10.clearCommands()
        try session.onDisconnected(reason: "out of range", atMs: 5000)
        XCTAssertEqual(try session.state(), .reconnecting(attempt: 1))
        h10.now = 40000
        try session.tick(nowMs: 40000)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(h10.commands.first, .connect)
        XCTAssertEqual(h10.controlPointWrites(), [getEcgSettings, startEcg])
    }

    /// A strap that refuses the ECG stream keeps its link: heart rate flows, the app is told, and
    /// the start is asked again a minute later.
    func testRefusedEcgStreamKeepsHeartRateAndAsksAgain() throws {
        let h10 = FakeH10()
        h10.refuseEcg = true
        let session = StrapSession(transport: h10, ecg: true)
        h10.session = session
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertFalse(h10.commands.contains(.disconnect))
        let refused: [UInt8] = try session.pollEvents().compactMap {
            if case let .ecgRefused(_, status) = $0 { return status }
            return nil
        }
        XCTAssertEqual(refused, [12])
        h10.clearCommands()
        let hr = Data([0x10, 0x3C, 0x00, 0x04])
        for t in stride(from: Int64(1000), through: 59000, by: 1000) {
            h10.now = t
            try session.onNotification(characteristicUuid: "00002a37-0000-1000-8000-00805f9b34fb", value: hr, atMs: t)
            try session.tick(nowMs: t)
        }
        XCTAssertEqual(h10.controlPointWrites(), [])
        h10.refuseEcg = false
        h10.now = 60500
        try session.tick(nowMs: 60500)
        XCTAssertEqual(h10.controlPointWrites(), [startEcg])
        XCTAssertTrue(try session.pollEvents().contains {
            if case .streamStarted = $0 { return true }
            return false
        })
        XCTAssertEqual(try session.state(), .streaming)
    }

    /// A strap with the Heart Rate Service only (most chest straps; an H10 without PMD): the app
    /// hands the monitor raw Heart Rate Measurement notifications (a real H10 log's intervals,
    /// re-encoded in 1/1024 s) and gets stress scores computed from the RR intervals.
    func testHeartRateOnlyStrapIsScoredByTheMonitor() throws {
        let path = Self.dataDir + "/polar_h10/rr_log/polar_rri_20260623_001651.csv"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw XCTSkip("RR log not available at \(path) (set STRESSBEAT_DATA)")
        }
        // (time s, RR ms); rows with the same time came in one notification
        let rows: [(Double, Double)] = text.split(whereSeparator: \.isNewline).dropFirst().map { line in
            let c = line.split(separator: ",")
            return (Double(c[0])!, Double(c[1])!)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbrr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let rec = Recorder()
        let sub = monitor.subscribeStress(listener: rec)
        let strap = FakeH10()
        let session = StrapSession(transport: strap, ecg: false)
        strap.session = session
        try monitor.start(source: .platformBridge(session: session, nowMs: 0))
        try session.start(nowMs: 0)
        var k = 0
        while k < rows.count {
            let t = rows[k].0
            // flags: 8-bit HR, contact detected, RR present; then RR in 1/1024 s, u16 LE
            var bytes: [UInt8] = [0x16, UInt8((60_000.0 / rows[k].1).rounded())]
            while k < rows.count && rows[k].0 == t {
                let rr = UInt16((rows[k].1 * 1.024).rounded())
                bytes += [UInt8(rr & 0xFF), UInt8(rr >> 8)]
                k += 1
            }
            let at = 1_000 + Int64(((t - rows[0].0) * 1000.0).rounded())
            strap.now = at
            try session.onNotification(characteristicUuid: "00002a37-0000-1000-8000-00805f9b34fb", value: Data(bytes), atMs: at)
            try session.tick(nowMs: at)
        }
        Thread.sleep(forTimeInterval: 0.4)
        try monitor.stop()
        let updates = rec.events.compactMap { $0 as? StressUpdate }
        let scored = updates.filter { $0.score != nil && !$0.fromHrvFallback }.count
        // 7.6 min of intervals: a window every 5 s after the first 30 s
        XCTAssert((78...88).contains(updates.count), "\(updates.count) windows")
        XCTAssert(scored * 10 >= updates.count * 9, "\(scored) of \(updates.count) scored by the model")
        XCTAssert(updates.allSatisfy { ($0.hrBpm ?? 0) >= 50 && ($0.hrBpm ?? 0) <= 100 })
        XCTAssertEqual(try monitor.sessions(limit: 1).first?.windows, UInt32(updates.count))
        sub.cancel()
        try monitor.shutdown()
    }

    /// The monitor is the only taker of a session's events (an app polling beside it would take
    /// frames from it); a session the monitor stopped cannot start another.
    func testMonitorIsTheOnlyTakerOfASessionsEvents() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let strap = FakeH10()
        let session = StrapSession(transport: strap, ecg: true)
        strap.session = session
        try session.start(nowMs: 0)
        try monitor.start(source: .platformBridge(session: session, nowMs: 0))
        XCTAssertThrowsError(try session.pollEvents()) { error in
            guard case StressBeatError.InvalidState = error else { return XCTFail("expected InvalidState, got \(error)") }
        }
        try monitor.stop()
        guard case .stopped = try session.state() else { return XCTFail("session not stopped") }
        _ = try session.pollEvents()
        XCTAssertThrowsError(try monitor.start(source: .platformBridge(session: session, nowMs: 1_000))) { error in
            guard case StressBeatError.InvalidState = error else { return XCTFail("expected InvalidState, got \(error)") }
        }
        try monitor.shutdown()
    }

    /// Notifications of characteristics the core does not know are ignored.
    func testUnknownCharacteristicIgnored() throws {
        let strap = FakeH10()
        let session = StrapSession(transport: strap, ecg: false)
        strap.session = session
        try session.start(nowMs: 0)
        try session.onNotification(characteristicUuid: "00002a38-0000-1000-8000-00805f9b34fb", value: Data([1]), atMs: 10)
        try session.onNotification(characteristicUuid: "00002a37-0000-1000-8000-00805f9b34fb",
                                   value: Data([0x10, 0x3C, 0x37, 0x04, 0x07, 0x03]), atMs: 20)
        let hr = try session.pollEvents().compactMap { e -> [Double]? in
            if case let .heartRate(_, bpm, rrMs, _) = e, bpm == 60 { return rrMs }
            return nil
        }
        XCTAssertEqual(hr.count, 1)
        XCTAssertEqual(hr.first?[0] ?? 0, 1053.7, accuracy: 0.1)
        XCTAssertEqual(hr.first?[1] ?? 0, 756.8, accuracy: 0.1)
    }

    static let allTests = [
        ("testMonitorIsTheOnlyTakerOfASessionsEvents", testMonitorIsTheOnlyTakerOfASessionsEvents),
        ("testUnknownCharacteristicIgnored", testUnknownCharacteristicIgnored),
        ("testHandshakeThenRealFramesDecoded", testHandshakeThenRealFramesDecoded),
        ("testLinkLossReconnectsAndRestartsEcg", testLinkLossReconnectsAndRestartsEcg),
        ("testRefusedEcgStreamKeepsHeartRateAndAsksAgain", testRefusedEcgStreamKeepsHeartRateAndAsksAgain),
        ("testHeartRateOnlyStrapIsScoredByTheMonitor", testHeartRateOnlyStrapIsScoredByTheMonitor),
    ]
}
