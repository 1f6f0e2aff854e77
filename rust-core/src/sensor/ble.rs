//! btleplug transport (feature `ble`): the desktop CLI's way to a strap (see
//! `docs/adr/0003-ble-btleplug-vs-platform-bridge.md`). THIN: it scans, connects, discovers,
//! carries out [`TransportCommand`]s and forwards notifications as [`TransportEvent`]s stamped
//! with the monotonic clock; every decision is the [`Session`]'s. Every BLE call has a timeout.
//!
//! Caveats (../shared/docs/protocols.md): btleplug has no MTU request (BlueZ and CoreBluetooth negotiate a
//! large MTU themselves; `RequestMtu` is a no-op and the link is reported with MTU 512 — a too
//! small MTU would surface as status 10 on the ECG start, which the session handles); on Android
//! btleplug writes the *notify* CCCD value even for indicate-only characteristics, so
//! `force_indicate_cccd` writes `02 00` to the PMD control point's CCCD after subscribing.
//!
//! Untested against hardware here (no adapter on the build machine); its logic is the
//! session's, which is tested against the simulator.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use btleplug::api::{
    Central, CentralEvent, Characteristic as GattChar, Manager as _, Peripheral as _, ScanFilter,
    WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures::StreamExt;
use uuid::Uuid;

use super::events::SensorEvent;
use super::session::{Session, SessionConfig};
use super::transport::{
    Characteristic, HEART_RATE_SERVICE_UUID, PMD_SERVICE_UUID, Subscription, TransportCommand,
    TransportEvent, TransportEventKind,
};

/// CCCD descriptor 0x2902.
const CCCD_UUID: &str = "00002902-0000-1000-8000-00805f9b34fb";
/// Deadline for one GATT operation.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong at the BLE layer.
#[derive(Debug, thiserror::Error)]
pub enum BleError {
    #[error("no Bluetooth adapter found")]
    NoAdapter,
    #[error("no device matching `{0}` found")]
    NotFound(String),
    #[error("Bluetooth: {0}")]
    Bluetooth(String),
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

impl From<btleplug::Error> for BleError {
    fn from(e: btleplug::Error) -> Self {
        BleError::Bluetooth(e.to_string())
    }
}

async fn within<T>(
    what: &'static str,
    f: impl std::future::Future<Output = btleplug::Result<T>>,
) -> Result<T, BleError> {
    tokio::time::timeout(OP_TIMEOUT, f)
        .await
        .map_err(|_| BleError::Timeout(what))?
        .map_err(BleError::from)
}

/// A device seen while scanning.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceInfo {
    pub name: Option<String>,
    pub id: String,
    pub rssi: Option<i16>,
    pub services: Vec<String>,
}

/// The first Bluetooth adapter ([`BleError::NoAdapter`] when there is none, or no BlueZ).
pub async fn first_adapter() -> Result<Adapter, BleError> {
    let manager = tokio::time::timeout(OP_TIMEOUT, Manager::new())
        .await
        .map_err(|_| BleError::Timeout("opening the Bluetooth manager"))?
        .map_err(|e| {
            log::debug!("btleplug manager: {e}");
            BleError::NoAdapter
        })?;
    let adapters = within("listing adapters", manager.adapters())
        .await
        .map_err(|e| {
            log::debug!("btleplug adapters: {e}");
            BleError::NoAdapter
        })?;
    adapters.into_iter().next().ok_or(BleError::NoAdapter)
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

fn is_polar(name: &str) -> bool {
    name.starts_with("Polar ")
}

/// Scan for `seconds`: devices advertising the Heart Rate Service or named "Polar …".
pub async fn scan(adapter: &Adapter, seconds: f64) -> Result<Vec<DeviceInfo>, BleError> {
    // No service filter at the OS level: some straps only put the HR service in the scan
    // response; filter on both service and name here instead.
    within(
        "starting the scan",
        adapter.start_scan(ScanFilter::default()),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.5))).await;
    let _ = within("stopping the scan", adapter.stop_scan()).await;
    let hr = uuid(HEART_RATE_SERVICE_UUID);
    let mut out = Vec::new();
    for p in within("listing devices", adapter.peripherals()).await? {
        let Ok(Some(props)) = within("reading properties", p.properties()).await else {
            continue;
        };
        let name = props.local_name.clone();
        let polar = name.as_deref().is_some_and(is_polar);
        if !polar && !props.services.contains(&hr) {
            continue;
        }
        out.push(DeviceInfo {
            name,
            id: p.id().to_string(),
            rssi: props.rssi,
            services: props.services.iter().map(|u| u.to_string()).collect(),
        });
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.rssi.unwrap_or(i16::MIN)));
    Ok(out)
}

/// Find a device by name (exact or prefix, e.g. "Polar H10 1A2B3C4D") or id, scanning up to
/// `seconds`.
pub async fn find(
    adapter: &Adapter,
    name_or_id: &str,
    seconds: f64,
) -> Result<Peripheral, BleError> {
    within(
        "starting the scan",
        adapter.start_scan(ScanFilter::default()),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let found = 'scan: loop {
        for p in within("listing devices", adapter.peripherals()).await? {
            let name = within("reading properties", p.properties())
                .await
                .ok()
                .flatten()
                .and_then(|pr| pr.local_name);
            let id = p.id().to_string();
            if id.eq_ignore_ascii_case(name_or_id)
                || name
                    .as_deref()
                    .is_some_and(|n| n == name_or_id || n.starts_with(name_or_id))
            {
                break 'scan Some(p);
            }
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let _ = within("stopping the scan", adapter.stop_scan()).await;
    found.ok_or_else(|| BleError::NotFound(name_or_id.to_string()))
}

/// Carries out transport commands on one peripheral.
#[derive(Debug)]
pub struct BtleTransport {
    peripheral: Peripheral,
    clock: Instant,
    chars: HashMap<Characteristic, GattChar>,
    /// Write `02 00` to the PMD control point's CCCD after subscribing (Android's btleplug).
    pub force_indicate_cccd: bool,
}

impl BtleTransport {
    pub fn new(peripheral: Peripheral, clock: Instant) -> Self {
        Self {
            peripheral,
            clock,
            chars: HashMap::new(),
            force_indicate_cccd: cfg!(target_os = "android"),
        }
    }

    /// Phone monotonic time, ms.
    pub fn now_ms(&self) -> i64 {
        self.clock.elapsed().as_millis() as i64
    }

    fn event(&self, kind: TransportEventKind) -> TransportEvent {
        TransportEvent {
            at_ms: self.now_ms(),
            kind,
        }
    }

    fn char(&self, c: Characteristic) -> Result<&GattChar, BleError> {
        self.chars
            .get(&c)
            .ok_or_else(|| BleError::Bluetooth(format!("characteristic {} not found", c.uuid())))
    }

    /// Carry out one command; the events it produced (a failure becomes `CommandFailed`).
    pub async fn execute(&mut self, cmd: TransportCommand) -> Vec<TransportEvent> {
        match self.try_execute(&cmd).await {
            Ok(evs) => evs,
            Err(e) => vec![self.event(TransportEventKind::CommandFailed {
                command: cmd,
                reason: e.to_string(),
            })],
        }
    }

    async fn try_execute(
        &mut self,
        cmd: &TransportCommand,
    ) -> Result<Vec<TransportEvent>, BleError> {
        let p = self.peripheral.clone();
        Ok(match cmd {
            TransportCommand::Connect => {
                if !within("checking the link", p.is_connected()).await? {
                    within("connecting", p.connect()).await?;
                }
                within("discovering services", p.discover_services()).await?;
                self.chars = p
                    .characteristics()
                    .into_iter()
                    .filter_map(|g| Characteristic::from_uuid(&g.uuid.to_string()).map(|c| (c, g)))
                    .collect();
                vec![self.event(TransportEventKind::Connected { mtu: 512 })]
            }
            TransportCommand::Disconnect => {
                within("disconnecting", p.disconnect()).await?;
                vec![]
            }
            TransportCommand::RequestMtu { .. } => vec![],
            TransportCommand::Subscribe {
                characteristic,
                how,
            } => {
                let g = self.char(*characteristic)?.clone();
                within("subscribing", p.subscribe(&g)).await?;
                if *how == Subscription::Indicate && self.force_indicate_cccd {
                    let cccd = uuid(CCCD_UUID);
                    if let Some(d) = g.descriptors.iter().find(|d| d.uuid == cccd)
                        && let Err(e) =
                            within("writing the CCCD", p.write_descriptor(d, &[0x02, 0x00])).await
                    {
                        log::debug!("CCCD 02 00 on {}: {e}", g.uuid);
                    }
                }
                vec![]
            }
            TransportCommand::Write {
                characteristic,
                value,
            } => {
                let g = self.char(*characteristic)?.clone();
                within("writing", p.write(&g, value, WriteType::WithResponse)).await?;
                vec![]
            }
            TransportCommand::Read { characteristic } => {
                let g = self.char(*characteristic)?.clone();
                let value = within("reading", p.read(&g)).await?;
                vec![self.event(TransportEventKind::ReadResult {
                    characteristic: *characteristic,
                    value,
                })]
            }
        })
    }
}

/// Run a [`Session`] on a btleplug peripheral until `stop` resolves or the session ends.
/// Every decoded event goes to `on_event`, stamped in ms since `clock`. The ECG stream is
/// stopped and the link closed at the end.
pub async fn run_session(
    adapter: &Adapter,
    peripheral: Peripheral,
    cfg: SessionConfig,
    clock: Instant,
    stop: impl std::future::Future<Output = ()>,
    mut on_event: impl FnMut(SensorEvent),
) -> Result<(), BleError> {
    let id = peripheral.id();
    let mut central = within("adapter events", adapter.events()).await?;
    let mut t = BtleTransport::new(peripheral.clone(), clock);
    let mut session = Session::new(cfg);
    let mut notifications = None;
    session.start(t.now_ms());
    tokio::pin!(stop);
    let mut stopping = false;
    loop {
        // Carry out every pending command, feeding back what it produced.
        while let Some(cmd) = session.poll_command() {
            let connect = cmd == TransportCommand::Connect;
            for ev in t.execute(cmd).await {
                if connect && matches!(ev.kind, TransportEventKind::Connected { .. }) {
                    notifications = within("notifications", peripheral.notifications())
                        .await
                        .ok();
                }
                session.handle(ev);
            }
        }
        let mut out = Vec::new();
        session.drain_events_into(&mut out);
        out.into_iter().for_each(&mut on_event);
        if stopping || session.state().is_terminal() {
            return Ok(());
        }
        let wait = session
            .next_deadline()
            .map_or(250, |d| (d - t.now_ms()).clamp(1, 250)) as u64;
        tokio::select! {
            _ = &mut stop => {
                session.stop(t.now_ms());
                stopping = true;
            }
            n = async {
                match notifications.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => match n {
                Some(n) => {
                    if let Some(c) = Characteristic::from_uuid(&n.uuid.to_string()) {
                        session.handle(t.event(TransportEventKind::Notification { characteristic: c, value: n.value }));
                    }
                }
                None => {
                    notifications = None;
                    session.handle(t.event(TransportEventKind::Disconnected { reason: "notification stream ended".into() }));
                }
            },
            e = central.next() => {
                if let Some(CentralEvent::DeviceDisconnected(d)) = e && d == id {
                    notifications = None;
                    session.handle(t.event(TransportEventKind::Disconnected { reason: "link lost".into() }));
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
        }
        session.tick(t.now_ms());
    }
}

/// Whether a scan result advertises the PMD service (raw ECG).
pub fn has_pmd(d: &DeviceInfo) -> bool {
    d.services
        .iter()
        .any(|s| s.eq_ignore_ascii_case(PMD_SERVICE_UUID))
}
