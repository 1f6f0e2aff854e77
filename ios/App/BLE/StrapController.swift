// The phone's Bluetooth for the monitor: scans for Heart Rate Service straps, connects one through
// the tested PeripheralCommandRouter + the core's StrapSession, and drives the session's clock.
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import CoreBluetooth
import Darwin
import Foundation
import StressBeatAppLogic
import StressBeatCore

/// A strap seen by a scan (no identifiers are logged or stored beyond this list).
struct DiscoveredStrap: Identifiable, Equatable, Sendable {
    let id: UUID
    let name: String
    let rssi: Int
}

/// Owns the `CBCentralManager` and, while connected, one strap. Every CoreBluetooth call and the
/// router's callbacks run on `queue`; UI news goes out through the callbacks given to `init`,
/// called on the main actor.
///
/// - The central is created on the first scan or session, not at launch: creating it is what
///   shows the Bluetooth permission prompt, which then comes when the user asks for a strap.
/// - No state restoration (`CBCentralManagerOptionRestoreIdentifierKey`): resuming a session
///   after iOS relaunches the app in the background is not implemented, and restored peripherals
///   would stay connected with no delegate and no session (draining the strap, keeping other
///   apps off it). Without the identifier, iOS closes the app's links when it terminates the app;
///   `bluetooth-central` still keeps a running session alive while the app is suspended.
final class StrapController: NSObject, CBCentralManagerDelegate, @unchecked Sendable {
    typealias Router = CoreBluetoothPeripheralOperations.Router
    /// Marks `queue` (is the caller on it?). One key for the app's lifetime, written once before
    /// any reader (init) and never mutated: `nonisolated(unsafe)` because `DispatchSpecificKey`
    /// is not `Sendable` (a computed property would make a new key per use, which never matches).
    nonisolated(unsafe) private static let queueKey = DispatchSpecificKey<Void>()
    /// How long an ended session's last commands (the ECG stop, then its Disconnect) may take
    /// before the peripheral is let go anyway.
    static let drainMs: Int64 = 3_000

    let queue = DispatchQueue(label: "com.stressbeat.app.ble")
    /// Set before any callback can read them (they are read on `queue`, called on main).
    private let onStrapsChanged: (@MainActor @Sendable ([DiscoveredStrap]) -> Void)?
    /// A sentence about Bluetooth being off or not allowed; `nil` when it is available again.
    private let onBluetoothProblem: (@MainActor @Sendable (String?) -> Void)?

    // all below: on `queue` only
    private var central: CBCentralManager?
    private var seen: [UUID: CBPeripheral] = [:]
    private var operations: CoreBluetoothPeripheralOperations?
    private var router: Router?
    private var session: StrapSession?
    private var timer: DispatchSourceTimer?
    private var wantsScan = false
    /// The session ended: its queue may drain until then (monotonic ms), then the peripheral goes.
    private var drainDeadlineMs: Int64?
    private var straps: [UUID: DiscoveredStrap] = [:]

    init(onStrapsChanged: (@MainActor @Sendable ([DiscoveredStrap]) -> Void)?,
         onBluetoothProblem: (@MainActor @Sendable (String?) -> Void)?) {
        self.onStrapsChanged = onStrapsChanged
        self.onBluetoothProblem = onBluetoothProblem
        super.init()
        queue.setSpecific(key: Self.queueKey, value: ())
    }

    /// The monotonic clock, ms, that everything handed to the core uses: the monitor's
    /// `.platformBridge(nowMs:)`, `StrapSession.start/tick`, the router's clock (its callbacks
    /// into the session) and the drain deadline. The core maps it to wall time with one offset
    /// taken at session start, so it must keep counting while the phone sleeps: on Darwin
    /// `CLOCK_MONOTONIC` does (like `mach_continuous_time`), while `CLOCK_UPTIME_RAW`,
    /// `mach_absolute_time` and `ProcessInfo.systemUptime` stop during sleep — with them a locked
    /// background session's stored windows and alerts would fall behind by the total sleep time.
    /// (It is not a required-reason API, unlike `systemUptime`.)
    static func nowMs() -> Int64 { Int64(clock_gettime_nsec_np(CLOCK_MONOTONIC) / 1_000_000) }

    /// The central, created on first use (on `queue`; its state arrives in
    /// `centralManagerDidUpdateState`, which starts a scan or connect asked for meanwhile).
    private func ensureCentral() -> CBCentralManager {
        if let central { return central }
        let made = CBCentralManager(delegate: self, queue: queue,
                                    options: [CBCentralManagerOptionShowPowerAlertKey: true])
        central = made
        return made
    }

    func startScan() {
        queue.async { [self] in
            let central = ensureCentral()
            wantsScan = true
            straps = [:]
            publishStraps()
            let state = BluetoothState(central.state)
            if state == .poweredOn {
                central.scanForPeripherals(withServices: [CBUUID(string: BluetoothUuid.heartRateService)], options: nil)
            } else if state.isUnavailable {
                // off, not allowed or absent: no new state callback comes until the user changes
                // it, so say so now (the picker would otherwise spin; `.scan` cleared the message)
                publishProblem(UserText.bluetoothProblem(state))
            }
            // `.unknown` (a new central) or `.resetting`: centralManagerDidUpdateState follows
        }
    }

    func stopScan() {
        queue.async { [self] in
            wantsScan = false
            if let central, central.state == .poweredOn { central.stopScan() }
        }
    }

    /// A new strap session for `strapId` (a strap from the scan), ready to hand to the monitor.
    /// The monitor stops the session when its own session ends (`sessionEnded` then tidies up).
    /// A previous session's peripheral still connected is let go first.
    func makeSession(for strapId: UUID, ecg: Bool = true) -> StrapSession? {
        queue.sync { () -> StrapSession? in
            let central = ensureCentral()
            guard let peripheral = seen[strapId] ?? central.retrievePeripherals(withIdentifiers: [strapId]).first else {
                return nil
            }
            if wantsScan {
                if central.state == .poweredOn { central.stopScan() }
                wantsScan = false
            }
            let previous = operations?.peripheral
            if let previous, previous.state != .disconnected { central.cancelPeripheralConnection(previous) }
            tearDown()
            let ops = CoreBluetoothPeripheralOperations(central: central, peripheral: peripheral)
            let queue = self.queue
            let router = Router(
                operations: ops, clock: { StrapController.nowMs() },
                hop: { work in
                    // on the central's queue already (a delegate callback): at once, keeping order
                    if DispatchQueue.getSpecific(key: StrapController.queueKey) != nil { work() } else { queue.async(execute: work) }
                })
            // still linked (the previous session's link being cancelled, or left over): its
            // didDisconnect must not be taken for the new link's loss, so the Connect waits for it
            if peripheral.state != .disconnected {
                if peripheral !== previous { central.cancelPeripheralConnection(peripheral) }
                router.awaitDisconnect()
            }
            let session = StrapSession(transport: router, ecg: ecg)
            router.session = session
            ops.router = router
            self.operations = ops
            self.router = router
            self.session = session
            startTimer()
            return session
        }
    }

    /// The monitor's session ended (it has stopped the strap session, whose ECG stop and
    /// Disconnect may still be queued behind a write): let the router drain, at most `drainMs`,
    /// then close the link if it is still there and stop ticking. `ended`: only if it is still
    /// the current session (`nil`: whichever is).
    func sessionEnded(_ ended: StrapSession? = nil) {
        queue.async { [self] in
            guard let session, ended == nil || ended === session else { return }
            if drainDeadlineMs == nil { drainDeadlineMs = Self.nowMs() + Self.drainMs }
            finishIfDrained(nowMs: Self.nowMs())
        }
    }

    /// After `sessionEnded`: once the router is idle (its Disconnect ran) or the time is up, make
    /// sure the peripheral is let go and tear down.
    private func finishIfDrained(nowMs: Int64) {
        guard let deadline = drainDeadlineMs else { return }
        if let router, !router.isIdle, nowMs < deadline { return }
        if let central, let peripheral = operations?.peripheral, peripheral.state != .disconnected {
            // the Disconnect did not run in time, or its cancel is under way (a second is harmless)
            central.cancelPeripheralConnection(peripheral)
        }
        tearDown()
    }

    private func tearDown() {
        timer?.cancel()
        timer = nil
        drainDeadlineMs = nil
        session = nil
        router = nil
        operations = nil
    }

    /// The session's and the router's deadlines (and an ended session's drain), every 200 ms on
    /// the central's queue.
    private func startTimer() {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200), leeway: .milliseconds(50))
        t.setEventHandler { [weak self] in
            guard let self, let session = self.session else { return }
            let now = Self.nowMs()
            self.router?.tick(nowMs: now)
            try? session.tick(nowMs: now)
            self.finishIfDrained(nowMs: now)
        }
        timer = t
        t.resume()
    }

    private func publishStraps() {
        let list = straps.values.sorted { $0.rssi > $1.rssi }
        let callback = onStrapsChanged
        DispatchQueue.main.async { MainActor.assumeIsolated { callback?(list) } }
    }

    private func publishProblem(_ text: String?) {
        let callback = onBluetoothProblem
        DispatchQueue.main.async { MainActor.assumeIsolated { callback?(text) } }
    }

    // MARK: CBCentralManagerDelegate (on `queue`)

    func centralManagerDidUpdateState(_ central: CBCentralManager) {
        switch central.state {
        case .poweredOn:
            publishProblem(nil)
            if wantsScan {
                central.scanForPeripherals(withServices: [CBUUID(string: BluetoothUuid.heartRateService)], options: nil)
            }
            // a connect made while Bluetooth was off (the core's reconnect) or before the new
            // central was ready went nowhere: make it again
            router?.retryPendingConnect()
        case .resetting:
            router?.didDisconnect(reason: "Bluetooth resetting") // links are gone; the session reconnects
        case .poweredOff, .unauthorized, .unsupported:
            router?.didDisconnect(reason: "Bluetooth unavailable")
            publishProblem(UserText.bluetoothProblem(BluetoothState(central.state)))
        default:
            break
        }
    }

    func centralManager(_ central: CBCentralManager, didDiscover peripheral: CBPeripheral,
                        advertisementData: [String: Any], rssi RSSI: NSNumber) {
        seen[peripheral.identifier] = peripheral
        let name = peripheral.name ?? (advertisementData[CBAdvertisementDataLocalNameKey] as? String) ?? "Heart rate strap"
        straps[peripheral.identifier] = DiscoveredStrap(id: peripheral.identifier, name: name, rssi: RSSI.intValue)
        publishStraps()
    }

    func centralManager(_ central: CBCentralManager, didConnect peripheral: CBPeripheral) {
        guard peripheral === operations?.peripheral else { return }
        router?.didConnect()
    }

    func centralManager(_ central: CBCentralManager, didFailToConnect peripheral: CBPeripheral, error: Error?) {
        guard peripheral === operations?.peripheral else { return }
        router?.didFailToConnect(reason: CoreBluetoothPeripheralOperations.describe(error) ?? "connect failed")
    }

    func centralManager(_ central: CBCentralManager, didDisconnectPeripheral peripheral: CBPeripheral, error: Error?) {
        guard peripheral === operations?.peripheral else { return }
        router?.didDisconnect(reason: CoreBluetoothPeripheralOperations.describe(error) ?? "disconnected")
    }
}

extension BluetoothState {
    /// CoreBluetooth's state as the tested logic's (its texts: `UserText.bluetoothProblem`).
    init(_ state: CBManagerState) {
        switch state {
        case .poweredOn: self = .poweredOn
        case .poweredOff: self = .poweredOff
        case .unauthorized: self = .unauthorized
        case .unsupported: self = .unsupported
        case .resetting: self = .resetting
        case .unknown: self = .unknown
        @unknown default: self = .unknown
        }
    }
}
