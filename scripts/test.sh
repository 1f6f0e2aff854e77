#!/usr/bin/env bash
# The test command (what CI runs): set up what is missing, then lint, Rust tests (unit + end-to-end
# on ../shared/data), and the generated Kotlin (JVM) and Swift (chroot) bindings' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# Property tests draw a new seed per run locally; CI uses a fixed one so the gate is reproducible
# (a failure found locally is kept in tests/tests/*.proptest-regressions and replayed everywhere).
if [[ -n "${CI:-}" ]]; then export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261121}"; fi
bash scripts/setup.sh --all
echo "== rustfmt, clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings
echo "== Rust tests (profile ci: optimised, no LTO; the end-to-end tests run whole databases)"
cargo test --workspace --exclude uniffi-bindgen --profile ci --locked
echo "== on-device test runners (stand-ins for adb and xcrun; docs/qa-on-device.md)"
PROFILE=ci bash scripts/test-device-runners.sh
echo "== Kotlin bindings (JVM)"
PROFILE=ci bash scripts/test-kotlin.sh
echo "== Swift bindings (swiftlang in a Debian trixie chroot)"
PROFILE=ci bash scripts/test-swift.sh
echo "== all tests passed"
