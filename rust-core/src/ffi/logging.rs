//! Logging for the apps: the core logs through the `log` crate; this routes it to the
//! platform's log (Android logcat, iOS unified logging). Messages never identify a person.

/// Send the core's log messages (info and above) to the platform log: logcat (tag
/// "StressBeat") on Android, the unified log (subsystem "com.stressbeat.core") on Apple
/// platforms; elsewhere nothing (a desktop host installs its own logger). Safe to call more
/// than once.
#[uniffi::export]
pub fn init_logging() {
    #[cfg(target_os = "android")]
    android_logger::init_once(
        android_logger::Config::default()
            .with_max_level(log::LevelFilter::Info)
            .with_tag("StressBeat"),
    );
    #[cfg(any(target_os = "ios", target_os = "macos"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = oslog::OsLogger::new("com.stressbeat.core")
                .level_filter(log::LevelFilter::Info)
                .init();
        });
    }
}
