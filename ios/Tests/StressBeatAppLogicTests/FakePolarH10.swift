// A fake CoreBluetooth peripheral shaped like a Polar H10 (Heart Rate, Battery and Polar PMD
// services), answering the router's GATT operations as the strap does (../shared/docs/protocols.md):
// either at once, from inside the call (re-entrant, like a fast stack), or when the test lets
// the queued callbacks go (`deliver`), to see what waits for what.
import Foundation
import StressBeatAppLogic
import StressBeatCore

final class FakeService {
    let uuid: String
    let characteristics: [FakeCharacteristic]
    init(_ uuid: String, _ characteristics: [FakeCharacteristic]) { self.uuid = uuid; self.characteristics = characteristics }
}

final class FakeCharacteristic {
    /// As `CBUUID.uuidString` writes it: "2A37", or 128-bit upper case.
    let uuid: String
    init(_ uuid: String) { self.uuid = uuid }
}

enum FakeOp: Equatable {
    case connect, cancel, discoverServices, discoverCharacteristics(String)
    case notify(String), write(String, [UInt8]), read(String)
}

/// Manual monotonic clock (ms).
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var t: Int64 = 0
    var now: Int64 {
        get { lock.lock(); defer { lock.unlock() }; return t }
        set { lock.lock(); t = newValue; lock.unlock() }
    }
}

final class FakePolarH10: PeripheralOperations, @unchecked Sendable {
    typealias Router = PeripheralCommandRouter<FakePolarH10>
    static let hrs = "2A37", battery = "2A19"
    static let cp = "FB005C81-02E7-F387-1CAD-8ACD2D8DF0C8", data = "FB005C82-02E7-F387-1CAD-8ACD2D8DF0C8"
    static let getEcgSettings: [UInt8] = [0x01, 0x00]
    static let startEcg: [UInt8] = [0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00]
    static let stopEcg: [UInt8] = [0x03, 0x00]

    weak var router: Router?
    /// `true`: answer inside each call; `false`: queue the answers until `deliver()`.
    var immediate = true
    var mtu: UInt16 = 247
    var services: [FakeService]
    /// Control-point writes to fail (with a GATT error), by content, once each.
    var failWrites: [[UInt8]] = []
    /// Control-point writes never answered (lost), once each.
    var swallowWrites: [[UInt8]] = []

    private let lock = NSLock()
    private var log: [FakeOp] = []
    private var pending: [() -> Void] = []
    var ops: [FakeOp] { lock.lock(); defer { lock.unlock() }; return log }
    func clearOps() { lock.lock(); log.removeAll(); lock.unlock() }

    init(pmd: Bool = true, battery: Bool = true) {
        var s = [FakeService("180D", [FakeCharacteristic(Self.hrs), FakeCharacteristic("2A38")])]
        if battery { s.append(FakeService("180F", [FakeCharacteristic(Self.battery)])) }
        if pmd {
            s.append(FakeService("FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8",
                                 [FakeCharacteristic(Self.cp), FakeCharacteristic(Self.data)]))
        }
        services = s
    }

    func characteristic(_ uuid: String) -> FakeCharacteristic {
        services.flatMap { $0.characteristics }.first { $0.uuid == uuid }!
    }

    private func record(_ op: FakeOp, then answer: (() -> Void)?) {
        lock.lock(); log.append(op)
        if let answer, !immediate { pending.append(answer); lock.unlock(); return }
        lock.unlock()
        answer?()
    }

    /// Let the queued answers go (and those they cause), in order.
    func deliver() {
        while true {
            lock.lock()
            if pending.isEmpty { lock.unlock(); return }
            let next = pending.removeFirst()
            lock.unlock()
            next()
        }
    }

    /// Let the oldest queued answer go (only it: what it causes is queued).
    func deliverNext() {
        lock.lock()
        guard !pending.isEmpty else { lock.unlock(); return }
        let next = pending.removeFirst()
        lock.unlock()
        next()
    }

    var pendingAnswers: Int { lock.lock(); defer { lock.unlock() }; return pending.count }

    // MARK: PeripheralOperations

    func connect() { record(.connect) { [self] in router?.didConnect() } }
    func cancelConnection() { record(.cancel, then: nil) }
    func discoverServices() { record(.discoverServices) { [self] in router?.didDiscoverServices(services, error: nil) } }
    func discoverCharacteristics(for service: FakeService) {
        record(.discoverCharacteristics(service.uuid)) { [self] in
            router?.didDiscoverCharacteristics(service.characteristics, error: nil)
        }
    }
    func uuidString(of characteristic: FakeCharacteristic) -> String { characteristic.uuid }
    func attMtu() -> UInt16 { mtu }

    func setNotifyValue(_ enabled: Bool, for c: FakeCharacteristic) {
        record(.notify(c.uuid)) { [self] in router?.didUpdateNotificationState(for: c, error: nil) }
    }

    func readValue(for c: FakeCharacteristic) {
        record(.read(c.uuid)) { [self] in
            let value: [UInt8] = c.uuid == Self.cp ? [0x0F, 0x05, 0x00] : c.uuid == Self.battery ? [87] : [1]
            router?.didUpdateValue(for: c, value: Data(value), error: nil)
        }
    }

    func writeWithResponse(_ value: Data, for c: FakeCharacteristic) {
        let v = [UInt8](value)
        lock.lock()
        let fail = failWrites.firstIndex(of: v).map { failWrites.remove(at: $0) } != nil
        let swallow = swallowWrites.firstIndex(of: v).map { swallowWrites.remove(at: $0) } != nil
        lock.unlock()
        if swallow { return record(.write(c.uuid, v), then: nil) }
        record(.write(c.uuid, v)) { [self] in
            if fail { router?.didWriteValue(for: c, error: "GATT error 14"); return }
            router?.didWriteValue(for: c, error: nil)
            // the control point's reply comes as an indication after the write's response
            let cp = characteristic(Self.cp)
            let reply: [UInt8]?
            if v == Self.getEcgSettings { reply = [0xF0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00] }
            else if v == Self.startEcg { reply = [0xF0, 0x02, 0x00, 0x00, 0x00] }
            else if v == Self.stopEcg { reply = [0xF0, 0x03, 0x00, 0x00, 0x00] }
            else { reply = nil }
            if let reply { router?.didUpdateValue(for: cp, value: Data(reply), error: nil) }
        }
    }

    /// Control-point writes, in order.
    var controlPointWrites: [[UInt8]] {
        ops.compactMap { if case let .write(u, v) = $0, u == Self.cp { return v }; return nil }
    }

    /// The GATT operations (no connect/discovery), in order.
    var gattOps: [FakeOp] {
        ops.filter { switch $0 { case .notify, .write, .read: return true; default: return false } }
    }
}

/// The Polar H10 capture (`[24-byte magic][u32 LE length][notification]*`), real ECG frames.
enum H10Capture {
    static let dataDir = ProcessInfo.processInfo.environment["STRESSBEAT_DATA"] ?? "../shared/data"
    static let path = dataDir + "/polar_h10/pmd_capture/hr_data_2023-01-13_11-40-07.bin"

    static func frames(max: Int) -> [[UInt8]]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        let b = [UInt8](d)
        guard b.count > 24, String(decoding: b[0..<24], as: UTF8.self) == "H10 ECG v1.0 binary data" else { return nil }
        var i = 24
        var out: [[UInt8]] = []
        while i + 4 <= b.count && out.count < max {
            let len = Int(b[i]) | Int(b[i + 1]) << 8 | Int(b[i + 2]) << 16 | Int(b[i + 3]) << 24
            guard i + 4 + len <= b.count else { break }
            out.append(Array(b[(i + 4)..<(i + 4 + len)]))
            i += 4 + len
        }
        return out
    }

    /// The sensor timestamp of a frame, ns.
    static func timestampNs(_ f: [UInt8]) -> Int64 {
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(f[1 + k]) << (8 * UInt64(k)) }
        return Int64(bitPattern: v)
    }
}
