// The core's BLE commands carried out over a CoreBluetooth-shaped peripheral: the testable half of
// the iOS strap glue. The app's adapter (ios/App/BLE/CoreBluetoothPeripheralOperations.swift) only
// turns `PeripheralOperations` calls into CBPeripheral/CBCentralManager calls and forwards the
// delegate callbacks here; every decision about order, discovery, failures and timeouts is made
// (and tested on Linux) in this file.
import Foundation
import StressBeatCore

/// The GATT operations the router needs, shaped like CoreBluetooth: services and
/// characteristics are objects found by discovery, not UUID strings. Each call only starts the
/// operation; its outcome comes back through the router's `did…` methods (the adapter forwards
/// its `CBCentralManagerDelegate`/`CBPeripheralDelegate` callbacks). The router calls these on
/// whatever thread drives it (in the app: the central's queue), never while holding its lock,
/// so an implementation may answer synchronously (tests do).
public protocol PeripheralOperations: AnyObject {
    associatedtype Service
    associatedtype Characteristic
    /// Connect to the strap (`CBCentralManager.connect`); answer `didConnect`/`didFailToConnect`.
    func connect()
    /// Close the link or abandon a pending connect (`cancelPeripheralConnection`).
    func cancelConnection()
    /// Discover the services the core uses (the app's adapter asks for Heart Rate, Battery and
    /// Polar PMD only: `discoverServices([180D, 180F, PMD])`); answer `didDiscoverServices` with
    /// those found.
    func discoverServices()
    /// `discoverCharacteristics(nil, for:)`; answer `didDiscoverCharacteristics`.
    func discoverCharacteristics(for service: Service)
    /// The characteristic's UUID as `CBUUID.uuidString` writes it ("2A37" or a 128-bit string).
    func uuidString(of characteristic: Characteristic) -> String
    /// `setNotifyValue(true, for:)` (CoreBluetooth enables notifications or indications, whichever
    /// the characteristic has); answer `didUpdateNotificationState`.
    func setNotifyValue(_ enabled: Bool, for characteristic: Characteristic)
    /// `writeValue(_:for:type: .withResponse)`; answer `didWriteValue`.
    func writeWithResponse(_ value: Data, for characteristic: Characteristic)
    /// `readValue(for:)`; answer `didUpdateValue`.
    func readValue(for characteristic: Characteristic)
    /// The link's ATT MTU (`maximumWriteValueLength(for: .withoutResponse) + 3`).
    func attMtu() -> UInt16
}

/// Bluetooth UUIDs as the core writes them: 128-bit, lowercase, hyphenated.
public enum BluetoothUuid {
    /// The Bluetooth base UUID's tail, for 16- and 32-bit UUIDs.
    static let baseTail = "-0000-1000-8000-00805f9b34fb"

    /// "2A37" → "00002a37-0000-1000-8000-00805f9b34fb"; 128-bit strings lowercased.
    public static func canonical(_ uuid: String) -> String {
        let u = uuid.trimmingCharacters(in: .whitespaces).lowercased()
        let hex = u.allSatisfy { $0.isHexDigit }
        if hex && u.count == 4 { return "0000" + u + baseTail }
        if hex && u.count == 8 { return u + baseTail }
        return u
    }

    /// Heart Rate Service, what the app scans for.
    public static let heartRateService = "180D"
    /// Battery Service.
    public static let batteryService = "180F"
    /// Polar Measurement Data service (raw ECG on a Polar H10).
    public static let polarPmdService = "FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8"
}

/// Carries out the `BleCommand`s a `StrapSession` gives its transport on a peripheral, and
/// reports what happens back to the session.
///
/// - Commands are kept in order and run one GATT operation at a time: the next starts when the
///   previous one's callback came (or it timed out, see `tick`), so a failure is reported for the
///   command that caused it.
/// - Commands that need a characteristic wait until the link is up and discovery has finished;
///   a characteristic the strap does not have is reported with `onCommandFailed`.
/// - `Connect` connects and discovers every service and characteristic, then reports
///   `onConnected` with the ATT MTU. `Subscribe` is `setNotifyValue(true)` (notify and indicate
///   alike on iOS), `Write` a write with response, `Read` a read answered with `onReadResult`.
///   `RequestMtu` is ignored: iOS negotiates the MTU itself.
/// - `Subscribe`/`Write`/`Read` while there is no link and none is being made (`idle`) fail at
///   once ("not connected"): they would otherwise wait for, and run on, a later link.
/// - `Disconnect` runs after the commands before it (the ECG stop reaches the strap before the
///   link closes); on a link that is not up yet it runs at once. Either way the session hears
///   `onDisconnected` (it expects it). A link lost by itself drops the queued commands (they
///   belonged to that link) and reports `onDisconnected`.
/// - A link the router closed (or was told was closed elsewhere: `awaitDisconnect`) is
///   "cancel pending" until its `didDisconnect` comes: a `Connect` meanwhile is held (link
///   `connecting`, no `connect()` yet) and started when that `didDisconnect` arrives, so the
///   cancel's late `didDisconnect` is not taken for the new link being lost. The hold is
///   bounded (`cancelWaitMs`, checked by `tick`): CoreBluetooth may not answer the cancel of a
///   connect that never completed.
/// - `isIdle` says when the queue has drained (nothing queued or in flight, no link): the app
///   waits for it after the session's stop before letting the peripheral go.
/// - Re-entrant and thread-safe: `execute` may arrive from any thread, in bursts, and an
///   operation may answer synchronously; the router never calls the peripheral or the session
///   while holding its lock, and a call made while it is already carrying out work only queues
///   (a trampoline, like the core's own dispatcher), so order is kept.
///
/// Threads: `execute` hands the command to `hop` (the app: the central's queue; tests: run at
/// once). The `did…` callbacks and `tick` must be called on that same queue.
///
/// The router holds the session weakly (the session holds the router as its transport).
public final class PeripheralCommandRouter<Ops: PeripheralOperations>: BleTransport, @unchecked Sendable {
    /// Where the link stands, as the router sees it.
    public enum Link: Equatable, Sendable {
        case idle, connecting, discovering, ready
    }

    private enum Kind { case subscribe, write, read }

    private struct InFlight {
        let command: BleCommand
        let kind: Kind
        let uuid: String
        let deadlineMs: Int64
    }

    /// A GATT operation that got no answer within this long is reported as failed (below the
    /// core's own 5 s reply timeout, so the core can still retry in time).
    public let operationTimeoutMs: Int64
    /// The longest a `Connect` is held for the `didDisconnect` of a cancelled link.
    public let cancelWaitMs: Int64

    private let ops: Ops
    private let clock: @Sendable () -> Int64
    private let hop: @Sendable (@escaping @Sendable () -> Void) -> Void
    private weak var sessionRef: StrapSession?

    private let lock = NSLock()
    private var link: Link = .idle
    private var characteristics: [String: Ops.Characteristic] = [:]
    private var servicesPending = 0
    private var queued: [BleCommand] = []
    private var inFlight: InFlight?
    /// When a cancel whose `didDisconnect` has not come yet was issued (nil: none pending).
    private var cancelPendingSinceMs: Int64?
    /// Work to do outside the lock, in order.
    private var outbox: [() -> Void] = []
    private var draining = false

    /// - Parameters:
    ///   - operations: the peripheral (the app's CoreBluetooth adapter, or a test fake).
    ///   - clock: the monotonic clock in ms the app passes to the session.
    ///   - hop: runs `execute`'s work on the central's queue (default: at once, on the caller).
    public init(operations: Ops, clock: @escaping @Sendable () -> Int64,
                operationTimeoutMs: Int64 = 4_000, cancelWaitMs: Int64 = 2_000,
                hop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void = { $0() }) {
        self.ops = operations
        self.clock = clock
        self.operationTimeoutMs = operationTimeoutMs
        self.cancelWaitMs = cancelWaitMs
        self.hop = hop
    }

    /// The session to report to (set it right after creating the session with this router).
    public var session: StrapSession? {
        get { lock.lock(); defer { lock.unlock() }; return sessionRef }
        set { lock.lock(); sessionRef = newValue; lock.unlock() }
    }

    /// The link as the router sees it.
    public var linkState: Link { lock.lock(); defer { lock.unlock() }; return link }

    /// Commands waiting (for discovery, or for the operation in flight), in order; for tests and
    /// diagnostics.
    public var queuedCommands: [BleCommand] { lock.lock(); defer { lock.unlock() }; return queued }

    /// Drained: no link (closed, lost or never made), nothing queued or in flight. After the
    /// session's stop this means its `Disconnect` has run (the ECG stop was answered first). A
    /// cancel may still be pending (`isAwaitingDisconnect`).
    public var isIdle: Bool {
        lock.lock(); defer { lock.unlock() }
        return link == .idle && queued.isEmpty && inFlight == nil
    }

    /// A cancelled link's `didDisconnect` has not come yet (a `Connect` now is held until it does).
    public var isAwaitingDisconnect: Bool { lock.lock(); defer { lock.unlock() }; return cancelPendingSinceMs != nil }

    /// The peripheral's link was cancelled outside this router (the app let a previous session's
    /// or a leftover link go): hold the next `Connect` until its `didDisconnect`, as after a
    /// `Disconnect` of its own. Call on the central's queue.
    public func awaitDisconnect() {
        withLock { cancelPendingSinceMs = clock() }
    }

    /// Bluetooth came back on: a connect made while it was off (or before the central was ready)
    /// went nowhere, so start it again if the link is still waiting for one. Call on the
    /// central's queue.
    public func retryPendingConnect() {
        withLock {
            guard link == .connecting, cancelPendingSinceMs == nil else { return }
            outbox.append { [ops] in ops.connect() }
        }
    }

    // MARK: BleTransport

    public func execute(command: BleCommand) {
        hop { [self] in accept(command) }
    }

    private func accept(_ command: BleCommand) {
        withLock {
            switch command {
            case .connect:
                switch link {
                case .idle:
                    link = .connecting
                    // held while a cancelled link's didDisconnect is due (it starts it)
                    if cancelPendingSinceMs == nil { outbox.append { [ops] in ops.connect() } }
                case .connecting, .discovering:
                    break // already under way; onConnected follows discovery
                case .ready:
                    let at = clock()
                    outbox.append { [self] in report { try $0.onConnected(mtu: ops.attMtu(), atMs: at) } }
                }
            case .disconnect:
                if link == .ready && (inFlight != nil || !queued.isEmpty) {
                    queued.append(command) // after the commands before it (the ECG stop)
                } else {
                    closeLocked(reason: "closed by the app")
                }
            case .requestMtu:
                break // iOS negotiates the MTU on its own
            case .subscribe, .write, .read:
                if link == .idle {
                    failLocked(command, "not connected") // never replayed on a later link
                } else {
                    queued.append(command)
                }
            }
            pumpLocked()
        }
    }

    // MARK: Callbacks from the peripheral (the central's queue)

    /// The link is up (`centralManager(_:didConnect:)`): discovery starts.
    public func didConnect() {
        withLock {
            // not asked for (a stale link), or a connect still held: not ours
            guard link == .connecting, cancelPendingSinceMs == nil else { return }
            link = .discovering
            characteristics = [:]
            servicesPending = 0
            outbox.append { [ops] in ops.discoverServices() }
        }
    }

    /// The connect failed (`didFailToConnect`).
    public func didFailToConnect(reason: String) {
        withLock {
            // the cancelled attempt's answer (ours is held, not started): the way is clear
            if cancelPendingSinceMs != nil { cancelSettledLocked(); return }
            guard link == .connecting || link == .discovering else { return }
            resetLocked()
            failLocked(.connect, reason)
        }
    }

    /// `peripheral(_:didDiscoverServices:)`; `error`: a short description when it failed.
    public func didDiscoverServices(_ services: [Ops.Service], error: String?) {
        withLock {
            guard link == .discovering else { return }
            if let error {
                cancelPendingSinceMs = clock() // the link is up: its didDisconnect will come
                resetLocked()
                outbox.append { [ops] in ops.cancelConnection() }
                failLocked(.connect, "service discovery failed: \(error)")
                return
            }
            servicesPending = services.count
            for s in services { outbox.append { [ops] in ops.discoverCharacteristics(for: s) } }
            if services.isEmpty { discoveryDoneLocked() }
        }
    }

    /// `peripheral(_:didDiscoverCharacteristicsFor:error:)`, once per service. A service whose
    /// discovery failed contributes nothing (its commands fail as "not found").
    public func didDiscoverCharacteristics(_ found: [Ops.Characteristic], error: String?) {
        let named = error == nil ? found.map { (BluetoothUuid.canonical(ops.uuidString(of: $0)), $0) } : []
        withLock {
            guard link == .discovering, servicesPending > 0 else { return }
            for (uuid, c) in named { characteristics[uuid] = c }
            servicesPending -= 1
            if servicesPending == 0 { discoveryDoneLocked() }
        }
    }

    /// `peripheral(_:didUpdateNotificationStateFor:error:)`.
    public func didUpdateNotificationState(for characteristic: Ops.Characteristic, error: String?) {
        complete(.subscribe, characteristic, error: error, value: nil)
    }

    /// `peripheral(_:didWriteValueFor:error:)`.
    public func didWriteValue(for characteristic: Ops.Characteristic, error: String?) {
        complete(.write, characteristic, error: error, value: nil)
    }

    /// `peripheral(_:didUpdateValueFor:error:)`: the answer to a read in flight on that
    /// characteristic, otherwise a notification or indication.
    public func didUpdateValue(for characteristic: Ops.Characteristic, value: Data?, error: String?) {
        complete(.read, characteristic, error: error, value: value ?? Data())
    }

    /// The link went down (`didDisconnectPeripheral`, Bluetooth turned off, …).
    public func didDisconnect(reason: String) {
        withLock {
            // the answer to a cancel: the session was told when it was asked for; a Connect held
            // meanwhile starts now
            if cancelPendingSinceMs != nil { cancelSettledLocked(); return }
            guard link != .idle else { return } // closed on the session's request: already told
            resetLocked()
            let at = clock()
            outbox.append { [self] in report { try $0.onDisconnected(reason: reason, atMs: at) } }
        }
    }

    /// Check the operation in flight against its deadline; call with the session's `tick`.
    public func tick(nowMs: Int64) {
        withLock {
            if let since = cancelPendingSinceMs, nowMs - since >= cancelWaitMs { cancelSettledLocked() }
            guard let op = inFlight, nowMs >= op.deadlineMs else { return }
            inFlight = nil
            failLocked(op.command, "no answer from the strap")
            pumpLocked()
        }
    }

    // MARK: Internals (all *Locked functions run with the lock held)

    private func complete(_ kind: Kind, _ characteristic: Ops.Characteristic, error: String?, value: Data?) {
        let uuid = BluetoothUuid.canonical(ops.uuidString(of: characteristic))
        withLock {
            let at = clock()
            if let op = inFlight, op.kind == kind, op.uuid == uuid {
                inFlight = nil
                if let error {
                    failLocked(op.command, error)
                } else if kind == .read, let value {
                    outbox.append { [self] in
                        report { try $0.onReadResult(characteristicUuid: uuid, value: value, atMs: at) }
                    }
                }
                pumpLocked()
            } else if kind == .read, error == nil, link == .ready, let value {
                // not the answer to a read: a notification or indication
                outbox.append { [self] in
                    report { try $0.onNotification(characteristicUuid: uuid, value: value, atMs: at) }
                }
            }
            // otherwise a late answer to an operation that timed out or belonged to an old link
        }
    }

    private func discoveryDoneLocked() {
        link = .ready
        let at = clock()
        pumpLocked()
        outbox.append { [self] in report { try $0.onConnected(mtu: ops.attMtu(), atMs: at) } }
    }

    /// Start the next queued operation when the link is ready and none is in flight; commands
    /// that cannot run are reported as failed and skipped.
    private func pumpLocked() {
        while link == .ready, inFlight == nil, !queued.isEmpty {
            let command = queued.removeFirst()
            let kind: Kind
            let uuid: String
            switch command {
            case .disconnect:
                closeLocked(reason: "closed by the app")
                return
            case let .subscribe(u, _): kind = .subscribe; uuid = u
            case let .write(u, _): kind = .write; uuid = u
            case let .read(u): kind = .read; uuid = u
            case .connect, .requestMtu: continue // never queued
            }
            let key = BluetoothUuid.canonical(uuid)
            guard let c = characteristics[key] else {
                failLocked(command, "the strap has no characteristic \(key)")
                continue
            }
            inFlight = InFlight(command: command, kind: kind, uuid: key, deadlineMs: clock() + operationTimeoutMs)
            switch command {
            case .subscribe: outbox.append { [ops] in ops.setNotifyValue(true, for: c) }
            case let .write(_, value): outbox.append { [ops] in ops.writeWithResponse(value, for: c) }
            default: outbox.append { [ops] in ops.readValue(for: c) }
            }
        }
    }

    /// Close the link on the session's request and tell the session (it expects it).
    private func closeLocked(reason: String) {
        // a link up or being made answers the cancel with didDisconnect (awaited); none otherwise
        if link != .idle { cancelPendingSinceMs = clock() }
        resetLocked()
        let at = clock()
        outbox.append { [ops] in ops.cancelConnection() }
        outbox.append { [self] in report { try $0.onDisconnected(reason: reason, atMs: at) } }
    }

    /// The cancelled link is gone (or the wait ran out): start a `Connect` held meanwhile.
    private func cancelSettledLocked() {
        cancelPendingSinceMs = nil
        if link == .connecting { outbox.append { [ops] in ops.connect() } }
    }

    private func resetLocked() {
        link = .idle
        characteristics = [:]
        servicesPending = 0
        queued.removeAll()
        inFlight = nil
    }

    private func failLocked(_ command: BleCommand, _ reason: String) {
        let at = clock()
        outbox.append { [self] in report { try $0.onCommandFailed(command: command, reason: reason, atMs: at) } }
    }

    private func report(_ call: (StrapSession) throws -> Void) {
        guard let s = session else { return }
        // The session's errors here are internal ones (a poisoned lock); nothing the router could
        // do about them, and the session reports its state through its own events.
        try? call(s)
    }

    /// Mutate state under the lock, then carry out the queued work outside it; a call made while
    /// another is carrying out work (re-entrant, or another thread) leaves its work to that one.
    private func withLock(_ body: () -> Void) {
        lock.lock()
        body()
        if draining { lock.unlock(); return }
        draining = true
        while !outbox.isEmpty {
            let work = outbox.removeFirst()
            lock.unlock()
            work()
            lock.lock()
        }
        draining = false
        lock.unlock()
    }
}
