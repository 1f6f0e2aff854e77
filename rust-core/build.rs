//! Embeds the shipped models when their files are in `models/` (see `src/model/mod.rs`):
//! sets `cfg(embedded_stress_model)` / `cfg(embedded_beat_model)`.

fn main() {
    println!("cargo::rerun-if-changed=../models");
    for (stem, cfg) in [
        ("stress", "embedded_stress_model"),
        ("beat-type", "embedded_beat_model"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        let present = ["onnx", "json"]
            .iter()
            .all(|ext| std::path::Path::new(&format!("../models/{stem}.{ext}")).is_file());
        if present {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
