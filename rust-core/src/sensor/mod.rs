//! Chest-strap sensors: the transport contract shared by every way of talking to a strap
//! (btleplug, the phone's own BLE stack through the platform bridge, the simulator, replay).
//!
//! Sans-I/O: the connection logic is a pure state machine that consumes [`TransportEvent`]s
//! (with the phone-clock time they happened) and emits [`TransportCommand`]s for the transport to
//! carry out; transports only move bytes.

pub mod transport;
