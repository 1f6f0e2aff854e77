//! Chest-strap sensors: the transport contract shared by every way of talking to a strap
//! (btleplug, the phone's own BLE stack through the platform bridge, the simulator, replay).
//!
//! Sans-I/O: the connection logic is a pure state machine ([`session::Session`]) that consumes
//! [`transport::TransportEvent`]s (with the phone-clock time they happened) and emits
//! [`transport::TransportCommand`]s for the transport to carry out; transports only move bytes.
//! Every source yields the same [`events::SensorEvent`]s ([`source::SensorSource`]).

#[cfg(feature = "ble")]
pub mod ble;
pub mod bridge;
pub(crate) mod decode;
pub mod events;
pub mod replay;
pub mod session;
pub mod source;
pub mod transport;

pub use events::{ConnectionState, EcgChunk, GapCause, SensorEvent};
pub use session::{Session, SessionConfig, SessionStats};
pub use source::SensorSource;
