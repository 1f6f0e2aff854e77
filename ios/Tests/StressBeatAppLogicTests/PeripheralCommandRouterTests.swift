// The router between a real StrapSession and a fake CoreBluetooth peripheral answering like a
// Polar H10; end to end, REAL captured H10 ECG frames through the router into a StressMonitor.
import Foundation
import StressBeatAppLogic
import StressBeatCore
import XCTest

final class PeripheralCommandRouterTests: XCTestCase {
    typealias Router = PeripheralCommandRouter<FakePolarH10>
    static let cpUuid = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
    static let batteryUuid = "00002a19-0000-1000-8000-00805f9b34fb"

    /// A session over a router over `strap`; the caller keeps all three.
    private func rig(_ strap: FakePolarH10, ecg: Bool = true) -> (Router, StrapSession, TestClock) {
        let clock = TestClock()
        let router = Router(operations: strap, clock: { clock.now })
        let session = StrapSession(transport: router, ecg: ecg)
        router.session = session
        strap.router = router
        return (router, session, clock)
    }

    /// The core's handshake after the link is up, in its order, as GATT operations.
    private let handshake: [FakeOp] = [
        .notify(FakePolarH10.hrs), .notify(FakePolarH10.battery), .read(FakePolarH10.battery),
        .notify(FakePolarH10.cp), .notify(FakePolarH10.data), .read(FakePolarH10.cp),
        .write(FakePolarH10.cp, FakePolarH10.getEcgSettings), .write(FakePolarH10.cp, FakePolarH10.startEcg),
    ]

    func testCanonicalUuids() {
        XCTAssertEqual(BluetoothUuid.canonical("2A37"), "00002a37-0000-1000-8000-00805f9b34fb")
        XCTAssertEqual(BluetoothUuid.canonical("0000180D"), "0000180d-0000-1000-8000-00805f9b34fb")
        XCTAssertEqual(BluetoothUuid.canonical("FB005C81-02E7-F387-1CAD-8ACD2D8DF0C8"), Self.cpUuid)
    }

    /// A stack that answers inside each call: the session's commands, the router's operations and
    /// the answers nest, and everything still happens in the core's order, up to streaming.
    func testSynchronousStackIsReentrantAndKeepsOrder() throws {
        let strap = FakePolarH10()
        let (router, session, _) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(router.linkState, .ready)
        XCTAssertEqual(Array(strap.ops.prefix(5)), [.connect, .discoverServices, .discoverCharacteristics("180D"),
                                                   .discoverCharacteristics("180F"),
                                                   .discoverCharacteristics("FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8")])
        XCTAssertEqual(strap.gattOps, handshake)
        XCTAssertEqual(router.queuedCommands, [])
        let events = try session.pollEvents()
        XCTAssert(events.contains(.battery(atMs: 0, percent: 87)), "read result delivered: \(events)")
        XCTAssert(events.contains { if case .streamStarted = $0 { return true }; return false })
    }

    /// `onConnected` carries the link's MTU: on a small one the core asks for a larger MTU, which
    /// the router leaves to iOS (no GATT operation), and the handshake goes on.
    func testMtuIsReportedAndMtuRequestsAreLeftToIos() throws {
        for mtu: UInt16 in [185, 247] {
            let strap = FakePolarH10()
            strap.mtu = mtu
            let clock = TestClock()
            let router = Router(operations: strap, clock: { clock.now })
            let spy = CommandSpy(router)
            let session = StrapSession(transport: spy, ecg: true)
            router.session = session
            strap.router = router
            try session.start(nowMs: 0)
            XCTAssertEqual(try session.state(), .streaming)
            let asked = spy.commands.contains { if case .requestMtu = $0 { return true }; return false }
            XCTAssertEqual(asked, mtu < 232, "MTU \(mtu)")
            XCTAssertEqual(strap.gattOps, handshake, "MTU \(mtu)")
        }
    }

    /// Nothing is asked of a characteristic before discovery has found it, and one GATT operation
    /// is in flight at a time.
    func testCommandsWaitForDiscoveryThenRunOneAtATime() throws {
        let strap = FakePolarH10()
        strap.immediate = false
        let (router, session, _) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(strap.ops, [.connect])
        XCTAssertEqual(router.linkState, .connecting)
        strap.deliverNext() // connected: discovery starts
        XCTAssertEqual(router.linkState, .discovering)
        // a command arriving while discovery runs waits for it
        router.execute(command: .read(characteristicUuid: Self.batteryUuid))
        XCTAssertEqual(router.queuedCommands, [.read(characteristicUuid: Self.batteryUuid)])
        XCTAssertEqual(strap.gattOps, [])
        strap.deliverNext() // services
        strap.deliverNext() // characteristics of 180D
        strap.deliverNext() // 180F
        XCTAssertEqual(strap.gattOps, [], "discovery not finished: PMD's characteristics pending")
        XCTAssertEqual(try session.state(), .connecting)
        strap.deliverNext() // PMD: discovery done → the held read, then onConnected
        XCTAssertEqual(router.linkState, .ready)
        XCTAssertEqual(try session.state(), .configuring)
        XCTAssertEqual(strap.gattOps, [.read(FakePolarH10.battery)], "one operation in flight")
        var steps = 0
        while strap.pendingAnswers > 0 {
            let before = strap.gattOps.count
            strap.deliverNext()
            XCTAssertLessThanOrEqual(strap.gattOps.count - before, 1, "at most one new operation per answer")
            steps += 1
        }
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(strap.gattOps, [.read(FakePolarH10.battery)] + handshake)
        XCTAssertGreaterThanOrEqual(steps, handshake.count)
    }

    /// A strap without the PMD service: the missing characteristic is reported at once and the
    /// core goes on with heart rate only (without the report it would wait for its timeout).
    func testMissingCharacteristicIsReportedAsFailed() throws {
        let strap = FakePolarH10(pmd: false, battery: false)
        let (_, session, _) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(strap.controlPointWrites, [])
        XCTAssertEqual(strap.gattOps, [.notify(FakePolarH10.hrs)], "only what the strap has")
    }

    /// A write the strap rejects is reported; the core retries the step and streams.
    func testWriteErrorIsReportedAndTheCoreRetries() throws {
        let strap = FakePolarH10()
        strap.failWrites = [FakePolarH10.startEcg]
        let (_, session, _) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(strap.controlPointWrites, [FakePolarH10.getEcgSettings, FakePolarH10.startEcg, FakePolarH10.startEcg])
    }

    /// An operation that gets no answer is reported as failed at its deadline (before the core's
    /// own), the queue moves on, and the late answer is ignored.
    func testUnansweredOperationTimesOut() throws {
        let strap = FakePolarH10()
        strap.swallowWrites = [FakePolarH10.getEcgSettings]
        let (router, session, clock) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .configuring)
        clock.now = 3_999
        router.tick(nowMs: 3_999)
        XCTAssertEqual(strap.controlPointWrites, [FakePolarH10.getEcgSettings])
        clock.now = 4_000
        router.tick(nowMs: 4_000)
        try session.tick(nowMs: 4_000)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(strap.controlPointWrites,
                       [FakePolarH10.getEcgSettings, FakePolarH10.getEcgSettings, FakePolarH10.startEcg])
        let count = strap.ops.count
        router.didWriteValue(for: strap.characteristic(FakePolarH10.cp), error: nil) // the late answer
        XCTAssertEqual(strap.ops.count, count)
        XCTAssertEqual(try session.state(), .streaming)
    }

    /// The link lost with commands queued: they are dropped with the link, the session is told and
    /// reconnects; discovery runs again on the new link and the handshake is redone.
    func testDisconnectMidQueueResetsAndReconnects() throws {
        let strap = FakePolarH10()
        strap.immediate = false
        let (router, session, clock) = rig(strap)
        try session.start(nowMs: 0)
        while strap.gattOps.count < 3 { strap.deliverNext() }
        XCTAssertEqual(strap.gattOps, Array(handshake.prefix(3)))
        XCTAssertFalse(router.queuedCommands.isEmpty, "commands wait behind the one in flight")
        clock.now = 500
        router.didDisconnect(reason: "link lost")
        XCTAssertEqual(router.queuedCommands, [])
        XCTAssertEqual(router.linkState, .idle)
        XCTAssertEqual(try session.state(), .reconnecting(attempt: 1))
        strap.deliver() // the old link's answer comes late: ignored
        XCTAssertEqual(strap.gattOps.count, 3)

        strap.clearOps()
        strap.immediate = true
        clock.now = 40_000
        try session.tick(nowMs: 40_000)
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertEqual(Array(strap.ops.prefix(2)), [.connect, .discoverServices])
        XCTAssertEqual(strap.gattOps, handshake)
    }

    /// Stopping: the ECG stop reaches the strap before the link closes, even when the stop write
    /// is still waiting for its response.
    func testStopWritesTheEcgStopBeforeClosing() throws {
        let strap = FakePolarH10()
        let (router, session, _) = rig(strap)
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        strap.clearOps()
        strap.immediate = false
        try session.stop(nowMs: 1_000)
        XCTAssertEqual(strap.ops, [.write(FakePolarH10.cp, FakePolarH10.stopEcg)], "closing waits for the write")
        strap.deliver()
        XCTAssertEqual(strap.ops, [.write(FakePolarH10.cp, FakePolarH10.stopEcg), .cancel])
        XCTAssertEqual(router.linkState, .idle)
        XCTAssertEqual(try session.state(), .stopped)
    }

    /// After the session's stop, the router is idle only once the ECG stop was answered and the
    /// queued Disconnect ran (what the app waits for before letting the peripheral go).
    func testIsIdleOnlyOnceTheStopHasDrained() throws {
        let strap = FakePolarH10()
        let (router, session, _) = rig(strap)
        XCTAssertTrue(router.isIdle, "nothing to do before the first Connect")
        try session.start(nowMs: 0)
        XCTAssertFalse(router.isIdle, "a link is up")
        strap.clearOps()
        strap.immediate = false
        try session.stop(nowMs: 1_000)
        XCTAssertFalse(router.isIdle, "the ECG stop is in flight, the Disconnect queued behind it")
        XCTAssertEqual(strap.ops, [.write(FakePolarH10.cp, FakePolarH10.stopEcg)])
        strap.deliver()
        XCTAssertTrue(router.isIdle)
        XCTAssertEqual(strap.ops, [.write(FakePolarH10.cp, FakePolarH10.stopEcg), .cancel])
        XCTAssertTrue(router.isAwaitingDisconnect, "the cancel's didDisconnect is still due")
        router.didDisconnect(reason: "cancelled")
        XCTAssertFalse(router.isAwaitingDisconnect)
    }

    /// A requested disconnect's didDisconnect arriving after the next Connect: the Connect waits
    /// for it (not taken for the new link's loss), then connects; the session hears one
    /// onDisconnected (the one it asked for) and gets its link.
    func testConnectAfterARequestedDisconnectWaitsForItsDidDisconnect() throws {
        let strap = FakePolarH10()
        strap.immediate = false
        let clock = TestClock()
        let router = Router(operations: strap, clock: { clock.now })
        let spy = SessionSpy()
        router.session = spy
        strap.router = router
        router.execute(command: .connect)
        strap.deliver()
        XCTAssertEqual(router.linkState, .ready)
        XCTAssertEqual(spy.connected, 1)
        router.execute(command: .disconnect)
        XCTAssertEqual(spy.disconnects, ["closed by the app"])
        strap.clearOps()
        router.execute(command: .connect)
        XCTAssertEqual(router.linkState, .connecting)
        XCTAssertEqual(strap.ops, [], "held until the cancelled link is gone")
        router.didConnect() // a stale callback while held: not this link
        XCTAssertEqual(router.linkState, .connecting)
        router.didDisconnect(reason: "cancelled") // the cancel's answer, late
        XCTAssertEqual(spy.disconnects, ["closed by the app"], "not reported as a lost link")
        XCTAssertEqual(strap.ops, [.connect])
        strap.deliver()
        XCTAssertEqual(router.linkState, .ready)
        XCTAssertEqual(spy.connected, 2)
        // a link lost by itself now is reported again
        router.didDisconnect(reason: "link lost")
        XCTAssertEqual(spy.disconnects, ["closed by the app", "link lost"])
    }

    /// The hold is bounded: a cancel CoreBluetooth never answers releases the Connect at
    /// `cancelWaitMs`; a link cancelled by the app (`awaitDisconnect`, a new session on the same
    /// peripheral) holds a real session's Connect the same way.
    func testHeldConnectStartsAfterTheWaitOrTheDisconnect() throws {
        let strap = FakePolarH10()
        let (router, session, clock) = rig(strap)
        router.awaitDisconnect()
        try session.start(nowMs: 0)
        XCTAssertEqual(strap.ops, [])
        XCTAssertEqual(try session.state(), .connecting)
        clock.now = 1_999
        router.tick(nowMs: 1_999)
        XCTAssertEqual(strap.ops, [])
        clock.now = 2_000
        router.tick(nowMs: 2_000)
        XCTAssertEqual(Array(strap.ops.prefix(2)), [.connect, .discoverServices])
        XCTAssertEqual(try session.state(), .streaming)
        XCTAssertFalse(router.isAwaitingDisconnect)

        let strap2 = FakePolarH10()
        let (router2, session2, _) = rig(strap2)
        router2.awaitDisconnect()
        try session2.start(nowMs: 0)
        XCTAssertEqual(strap2.ops, [])
        router2.didDisconnect(reason: "cancelled")
        XCTAssertEqual(try session2.state(), .streaming)
        XCTAssertEqual(strap2.gattOps, handshake)
        // a Disconnect on a link never made awaits nothing: the next Connect starts at once
        let strap3 = FakePolarH10()
        let router3 = Router(operations: strap3, clock: { 0 })
        strap3.router = router3
        router3.execute(command: .disconnect)
        XCTAssertFalse(router3.isAwaitingDisconnect)
        router3.execute(command: .connect)
        XCTAssertEqual(router3.linkState, .ready)
    }

    /// Subscribe/Write/Read with no link (none up, none being made) fail at once and are never
    /// replayed on a later link; while a link is being made they wait for it.
    func testCommandsWithoutALinkFailAtOnce() throws {
        let strap = FakePolarH10()
        strap.immediate = false
        let router = Router(operations: strap, clock: { 0 })
        let spy = SessionSpy()
        router.session = spy
        strap.router = router
        let write = BleCommand.write(characteristicUuid: Self.cpUuid, value: Data(FakePolarH10.startEcg))
        router.execute(command: write)
        router.execute(command: .read(characteristicUuid: Self.batteryUuid))
        XCTAssertEqual(router.queuedCommands, [])
        XCTAssertEqual(spy.failed.map { $0.1 }, ["not connected", "not connected"])
        XCTAssertEqual(spy.failed.first?.0, write)
        router.execute(command: .connect)
        router.execute(command: .read(characteristicUuid: Self.batteryUuid))
        XCTAssertEqual(router.queuedCommands, [.read(characteristicUuid: Self.batteryUuid)], "waits for the link")
        strap.deliver()
        XCTAssertEqual(strap.gattOps, [.read(FakePolarH10.battery)], "only the one sent for this link")
        XCTAssertEqual(spy.failed.count, 2)
    }

    /// Bluetooth back on: a connect the link still waits for is made again; none otherwise.
    func testRetryPendingConnectOnlyWhileConnecting() throws {
        let strap = FakePolarH10()
        strap.immediate = false
        let router = Router(operations: strap, clock: { 0 })
        strap.router = router
        router.retryPendingConnect()
        XCTAssertEqual(strap.ops, [], "no link asked for")
        router.execute(command: .connect)
        router.retryPendingConnect()
        XCTAssertEqual(strap.ops, [.connect, .connect])
        strap.deliverNext() // connected: discovering
        router.retryPendingConnect()
        XCTAssertEqual(strap.ops, [.connect, .connect, .discoverServices])
    }

    /// End to end: a StressMonitor on the platform bridge, fed REAL Polar H10 ECG frames as
    /// CoreBluetooth notifications through the router: heart rate from the ECG, ECG batches,
    /// stress windows, and the monitor's stop (on its own thread) stops the stream then closes.
    func testMonitorGetsHeartRateAndEcgFromRealFramesThroughTheRouter() throws {
        guard let frames = H10Capture.frames(max: 330) else {
            throw XCTSkip("capture not available at \(H10Capture.path) (set STRESSBEAT_DATA)")
        }
        XCTAssertEqual(frames.count, 330)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sbr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let monitor = try StressMonitor(config: StressMonitorConfig(databasePath: dir.appendingPathComponent("h.db").path))
        let live = LiveStateStore(monitor: monitor)
        let rec = BridgeRecorder()
        let subs = [monitor.subscribeHeartRate(listener: rec), monitor.subscribeEcg(listener: rec),
                    monitor.subscribeStress(listener: rec)]

        let strap = FakePolarH10()
        let (router, session, clock) = rig(strap)
        try monitor.start(source: .platformBridge(session: session, nowMs: 0))
        try session.start(nowMs: 0)
        XCTAssertEqual(try session.state(), .streaming)
        let data = strap.characteristic(FakePolarH10.data)
        let ts0 = H10Capture.timestampNs(frames[0])
        var at: Int64 = 0
        for f in frames {
            at = 1_000 + (H10Capture.timestampNs(f) - ts0) / 1_000_000 + 15
            clock.now = at
            router.didUpdateValue(for: data, value: Data(f), error: nil)
            router.tick(nowMs: at)
            try session.tick(nowMs: at)
        }
        Thread.sleep(forTimeInterval: 0.5)
        strap.clearOps()
        try monitor.stop() // the monitor stops the session from its thread
        XCTAssertEqual(strap.ops, [.write(FakePolarH10.cp, FakePolarH10.stopEcg), .cancel])
        subs.forEach { $0.cancel() }

        let hr = rec.heartRates
        XCTAssertFalse(hr.isEmpty)
        XCTAssert(hr.allSatisfy { $0.fromEcg }, "heart rate from the ECG's R-peaks")
        // the capture is a workout: 95-115 bpm most of the time, brief runs higher
        let bpm = hr.map { $0.bpm }.sorted()
        XCTAssert((85.0...125.0).contains(bpm[bpm.count / 2]), "median \(bpm[bpm.count / 2])")
        XCTAssert(bpm.allSatisfy { (40.0...220.0).contains($0) }, "\(bpm.first ?? 0)…\(bpm.last ?? 0)")
        // 330 frames × 73 samples at 130 Hz ≈ 185 s
        XCTAssertGreaterThan(rec.ecgSamples, 330 * 73 * 9 / 10)
        let windows = rec.stress
        XCTAssert((25...34).contains(windows.count), "\(windows.count) windows")
        XCTAssert(windows.contains { $0.score != nil }, "scored")
        XCTAssert(windows.allSatisfy { !$0.rrOnly }, "from the ECG")
        XCTAssertEqual(try monitor.sessions(limit: 1).first?.source, .platformBridge)
        let state = live.state
        XCTAssertEqual(state.heartRate?.source, .ecg)
        guard case .finished(_, let n, .stopped) = state.session else { return XCTFail("\(state.session)") }
        XCTAssertEqual(n, UInt64(windows.count))
        live.close()
        try monitor.shutdown()
    }

    static let allTests = [
        ("testCanonicalUuids", testCanonicalUuids),
        ("testSynchronousStackIsReentrantAndKeepsOrder", testSynchronousStackIsReentrantAndKeepsOrder),
        ("testMtuIsReportedAndMtuRequestsAreLeftToIos", testMtuIsReportedAndMtuRequestsAreLeftToIos),
        ("testCommandsWaitForDiscoveryThenRunOneAtATime", testCommandsWaitForDiscoveryThenRunOneAtATime),
        ("testMissingCharacteristicIsReportedAsFailed", testMissingCharacteristicIsReportedAsFailed),
        ("testWriteErrorIsReportedAndTheCoreRetries", testWriteErrorIsReportedAndTheCoreRetries),
        ("testUnansweredOperationTimesOut", testUnansweredOperationTimesOut),
        ("testDisconnectMidQueueResetsAndReconnects", testDisconnectMidQueueResetsAndReconnects),
        ("testStopWritesTheEcgStopBeforeClosing", testStopWritesTheEcgStopBeforeClosing),
        ("testIsIdleOnlyOnceTheStopHasDrained", testIsIdleOnlyOnceTheStopHasDrained),
        ("testConnectAfterARequestedDisconnectWaitsForItsDidDisconnect",
         testConnectAfterARequestedDisconnectWaitsForItsDidDisconnect),
        ("testHeldConnectStartsAfterTheWaitOrTheDisconnect", testHeldConnectStartsAfterTheWaitOrTheDisconnect),
        ("testCommandsWithoutALinkFailAtOnce", testCommandsWithoutALinkFailAtOnce),
        ("testRetryPendingConnectOnlyWhileConnecting", testRetryPendingConnectOnlyWhileConnecting),
        ("testMonitorGetsHeartRateAndEcgFromRealFramesThroughTheRouter",
         testMonitorGetsHeartRateAndEcgFromRealFramesThroughTheRouter),
    ]
}

/// What the router reports to its session, recorded (a StrapSession without a core session
/// behind it: the router's view of the session, nothing else).
final class SessionSpy: StrapSession, @unchecked Sendable {
    private let lock = NSLock()
    private var connects = 0
    private var closes: [String] = []
    private var failures: [(BleCommand, String)] = []
    init() { super.init(noHandle: NoHandle()) }
    required init(unsafeFromHandle handle: UInt64) { super.init(unsafeFromHandle: handle) }
    var connected: Int { lock.lock(); defer { lock.unlock() }; return connects }
    var disconnects: [String] { lock.lock(); defer { lock.unlock() }; return closes }
    var failed: [(BleCommand, String)] { lock.lock(); defer { lock.unlock() }; return failures }
    override func onConnected(mtu: UInt16, atMs: Int64) throws { lock.lock(); connects += 1; lock.unlock() }
    override func onDisconnected(reason: String, atMs: Int64) throws { lock.lock(); closes.append(reason); lock.unlock() }
    override func onCommandFailed(command: BleCommand, reason: String, atMs: Int64) throws {
        lock.lock(); failures.append((command, reason)); lock.unlock()
    }
    override func onReadResult(characteristicUuid: String, value: Data, atMs: Int64) throws {}
    override func onNotification(characteristicUuid: String, value: Data, atMs: Int64) throws {}
}

/// Records the session's commands on their way to the router.
final class CommandSpy: BleTransport, @unchecked Sendable {
    private let inner: BleTransport
    private let lock = NSLock()
    private var list: [BleCommand] = []
    init(_ inner: BleTransport) { self.inner = inner }
    var commands: [BleCommand] { lock.lock(); defer { lock.unlock() }; return list }
    func execute(command: BleCommand) {
        lock.lock(); list.append(command); lock.unlock()
        inner.execute(command: command)
    }
}

/// Heart rate, ECG and stress from the monitor (its thread).
final class BridgeRecorder: HeartRateListener, EcgListener, StressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var hr: [HeartRateUpdate] = []
    private var samples = 0
    private var windows: [StressUpdate] = []
    var heartRates: [HeartRateUpdate] { lock.lock(); defer { lock.unlock() }; return hr }
    var ecgSamples: Int { lock.lock(); defer { lock.unlock() }; return samples }
    var stress: [StressUpdate] { lock.lock(); defer { lock.unlock() }; return windows }
    func onHeartRate(update: HeartRateUpdate) { lock.lock(); hr.append(update); lock.unlock() }
    func onEcg(batch: EcgBatch) { lock.lock(); samples += batch.samplesMv.filter { !$0.isNaN }.count; lock.unlock() }
    func onStress(update: StressUpdate) { lock.lock(); windows.append(update); lock.unlock() }
}
