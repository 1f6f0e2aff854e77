// CoreBluetooth under the tested PeripheralCommandRouter: turns its operations into
// CBPeripheral/CBCentralManager calls and hands the delegate callbacks back. No decisions here
// (they are in StressBeatAppLogic/PeripheralCommandRouter.swift, tested on Linux).
// UNVERIFIED: compiled and run only on a Mac/iPhone (see ios/README.md).
import CoreBluetooth
import Foundation
import StressBeatAppLogic

/// One strap's GATT operations. Everything runs on the central's queue.
final class CoreBluetoothPeripheralOperations: NSObject, PeripheralOperations, CBPeripheralDelegate, @unchecked Sendable {
    typealias Router = PeripheralCommandRouter<CoreBluetoothPeripheralOperations>

    let central: CBCentralManager
    let peripheral: CBPeripheral
    weak var router: Router?

    /// The services the core uses (discovering only these is faster than all). Computed: a
    /// static stored `[CBUUID]` is a non-`Sendable` global (strict concurrency); it is built once
    /// per connection's discovery.
    static var services: [CBUUID] {
        [BluetoothUuid.heartRateService, BluetoothUuid.batteryService, BluetoothUuid.polarPmdService]
            .map { CBUUID(string: $0) }
    }

    init(central: CBCentralManager, peripheral: CBPeripheral) {
        self.central = central
        self.peripheral = peripheral
        super.init()
        peripheral.delegate = self
    }

    // MARK: PeripheralOperations

    func connect() { central.connect(peripheral, options: nil) }
    func cancelConnection() { central.cancelPeripheralConnection(peripheral) }
    func discoverServices() { peripheral.discoverServices(Self.services) }
    func discoverCharacteristics(for service: CBService) { peripheral.discoverCharacteristics(nil, for: service) }
    func uuidString(of characteristic: CBCharacteristic) -> String { characteristic.uuid.uuidString }
    func setNotifyValue(_ enabled: Bool, for characteristic: CBCharacteristic) {
        peripheral.setNotifyValue(enabled, for: characteristic)
    }
    func writeWithResponse(_ value: Data, for characteristic: CBCharacteristic) {
        peripheral.writeValue(value, for: characteristic, type: .withResponse)
    }
    func readValue(for characteristic: CBCharacteristic) { peripheral.readValue(for: characteristic) }
    func attMtu() -> UInt16 {
        // the largest write without response is the ATT MTU less the 3-byte ATT header
        UInt16(clamping: peripheral.maximumWriteValueLength(for: .withoutResponse) + 3)
    }

    // MARK: CBPeripheralDelegate

    func peripheral(_ peripheral: CBPeripheral, didDiscoverServices error: Error?) {
        router?.didDiscoverServices(peripheral.services ?? [], error: Self.describe(error))
    }

    func peripheral(_ peripheral: CBPeripheral, didDiscoverCharacteristicsFor service: CBService, error: Error?) {
        router?.didDiscoverCharacteristics(service.characteristics ?? [], error: Self.describe(error))
    }

    func peripheral(_ peripheral: CBPeripheral, didUpdateNotificationStateFor characteristic: CBCharacteristic,
                    error: Error?) {
        router?.didUpdateNotificationState(for: characteristic, error: Self.describe(error))
    }

    func peripheral(_ peripheral: CBPeripheral, didWriteValueFor characteristic: CBCharacteristic, error: Error?) {
        router?.didWriteValue(for: characteristic, error: Self.describe(error))
    }

    func peripheral(_ peripheral: CBPeripheral, didUpdateValueFor characteristic: CBCharacteristic, error: Error?) {
        router?.didUpdateValue(for: characteristic, value: characteristic.value, error: Self.describe(error))
    }

    /// A GATT error as its domain and code only (what the session logs; no device names).
    static func describe(_ error: Error?) -> String? {
        guard let error else { return nil }
        let e = error as NSError
        return "\(e.domain) \(e.code)"
    }
}
