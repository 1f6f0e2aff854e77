//! The byte-level contract between the core and a BLE transport.

/// The GATT characteristics StressBeat uses (UUIDs in [`Characteristic::uuid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Characteristic {
    /// Heart Rate Measurement 0x2A37 (notify).
    HeartRateMeasurement,
    /// Battery Level 0x2A19 (read, notify).
    BatteryLevel,
    /// Polar PMD control point FB005C81-… (read, write, indicate).
    PmdControlPoint,
    /// Polar PMD data FB005C82-… (notify).
    PmdData,
}

impl Characteristic {
    /// The 128-bit UUID as a lowercase hyphenated string.
    pub fn uuid(self) -> &'static str {
        match self {
            Characteristic::HeartRateMeasurement => "00002a37-0000-1000-8000-00805f9b34fb",
            Characteristic::BatteryLevel => "00002a19-0000-1000-8000-00805f9b34fb",
            Characteristic::PmdControlPoint => "fb005c81-02e7-f387-1cad-8acd2d8df0c8",
            Characteristic::PmdData => "fb005c82-02e7-f387-1cad-8acd2d8df0c8",
        }
    }

    /// The characteristic with this UUID (case-insensitive), if it is one we use.
    pub fn from_uuid(uuid: &str) -> Option<Self> {
        [
            Self::HeartRateMeasurement,
            Self::BatteryLevel,
            Self::PmdControlPoint,
            Self::PmdData,
        ]
        .into_iter()
        .find(|c| c.uuid().eq_ignore_ascii_case(uuid))
    }
}

/// Heart Rate Service 0x180D.
pub const HEART_RATE_SERVICE_UUID: &str = "0000180d-0000-1000-8000-00805f9b34fb";
/// Battery Service 0x180F.
pub const BATTERY_SERVICE_UUID: &str = "0000180f-0000-1000-8000-00805f9b34fb";
/// Polar Measurement Data service.
pub const PMD_SERVICE_UUID: &str = "fb005c80-02e7-f387-1cad-8acd2d8df0c8";

/// How a subscription is enabled (the CCCD value written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// CCCD `01 00`.
    Notify,
    /// CCCD `02 00` (the PMD control point needs indications).
    Indicate,
}

impl Subscription {
    /// The Client Characteristic Configuration (0x2902) value to write.
    pub fn cccd_value(self) -> [u8; 2] {
        match self {
            Subscription::Notify => [0x01, 0x00],
            Subscription::Indicate => [0x02, 0x00],
        }
    }
}

/// Something that happened on the link, stamped by the transport with the phone's monotonic
/// clock in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportEvent {
    pub at_ms: i64,
    pub kind: TransportEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransportEventKind {
    /// The link is up and services are discovered.
    Connected { mtu: u16 },
    /// The link went down (taken off, out of range, strap off, the OS dropped it).
    Disconnected { reason: String },
    /// A notification or indication arrived.
    Notification {
        characteristic: Characteristic,
        value: Vec<u8>,
    },
    /// A read finished.
    ReadResult {
        characteristic: Characteristic,
        value: Vec<u8>,
    },
    /// A command could not be carried out (the transport says why).
    CommandFailed {
        command: TransportCommand,
        reason: String,
    },
}

/// Something the core asks the transport to do.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportCommand {
    Connect,
    Disconnect,
    /// Enable notifications or indications (write the CCCD).
    Subscribe {
        characteristic: Characteristic,
        how: Subscription,
    },
    Write {
        characteristic: Characteristic,
        value: Vec<u8>,
    },
    Read {
        characteristic: Characteristic,
    },
    /// Ask for a larger ATT MTU (the H10 needs ≥ 232 for 229-byte ECG frames).
    RequestMtu {
        mtu: u16,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cccd_values() {
        // ../shared/docs/protocols.md: indications `02 00` on the PMD control point, notifications `01 00`.
        assert_eq!(Subscription::Indicate.cccd_value(), [0x02, 0x00]);
        assert_eq!(Subscription::Notify.cccd_value(), [0x01, 0x00]);
    }

    #[test]
    fn uuids_round_trip() {
        for c in [
            Characteristic::HeartRateMeasurement,
            Characteristic::BatteryLevel,
            Characteristic::PmdControlPoint,
            Characteristic::PmdData,
        ] {
            assert_eq!(Characteristic::from_uuid(&c.uuid().to_uppercase()), Some(c));
        }
        assert_eq!(
            Characteristic::from_uuid("00002a38-0000-1000-8000-00805f9b34fb"),
            None
        );
    }
}
