#!/usr/bin/env bash
# The test command (what CI runs): set up what is missing, then lint, Rust tests (unit + end-to-end
# on ../shared/data), and the generated Kotlin (JVM) and Swift (chroot) bindings' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --all
echo "== rustfmt, clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings
echo "== Rust tests (release: the end-to-end tests run the detector over whole databases)"
cargo test --workspace --exclude uniffi-bindgen --release --locked
echo "== Kotlin bindings (JVM)"
PROFILE=release bash scripts/test-kotlin.sh
echo "== Swift bindings (swiftlang in a Debian trixie chroot)"
PROFILE=release bash scripts/test-swift.sh
echo "== all tests passed"
