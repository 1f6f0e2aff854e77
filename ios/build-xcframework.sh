#!/usr/bin/env bash
# Build what the Xcode project (ios/project.yml) links, on a Mac with Xcode and rustup:
#   build/ios/StressBeatCoreFFI.xcframework   the core as a static library, device + simulator
#   build/ios/headers/                        StressBeatCoreFFI.h + module.modulemap
#   build/bindings/swift/StressBeatCore.swift the generated Swift API
# Usage (from anywhere): ios/build-xcframework.sh        PROFILE=mobile (size-optimised) by default
#   PROFILE=dev (or debug) ios/build-xcframework.sh   an unoptimised core (cargo's dev profile)
#   INTEL_SIM=1 ios/build-xcframework.sh   also x86_64-apple-ios (Intel Macs' simulator)
# UNVERIFIED here (no macOS): see ios/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "$(uname -s)" == Darwin ]] || { echo "build-xcframework: needs macOS with Xcode" >&2; exit 1; }
PROFILE="${PROFILE:-mobile}"
# cargo's profile name and the folder it writes to: `dev` goes to target/<triple>/debug (and
# `debug` is no profile name: taken as `dev`); every other profile to a folder of its own name
case "$PROFILE" in
    dev|debug) PROFILE=dev; profile_dir=debug ;;
    *) profile_dir="$PROFILE" ;;
esac
# the static library's objects (and the Rust std's) are built for the app's deployment target
# (project.yml: iOS 17.0), not rustc's default: no "built for newer iOS" link warnings
export IPHONEOS_DEPLOYMENT_TARGET=17.0
# where cargo puts its output (CARGO_TARGET_DIR, .cargo/config.toml), as scripts/gen-bindings.sh finds it
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-target}"
sim_targets=(aarch64-apple-ios-sim)
[[ -n "${INTEL_SIM:-}" ]] && sim_targets+=(x86_64-apple-ios)
rustup target add aarch64-apple-ios "${sim_targets[@]}"
# Only the static library (rust-core/Cargo.toml's [lib] also lists `lib` and `cdylib`, which
# the app does not link: not built for iOS)
for t in aarch64-apple-ios "${sim_targets[@]}"; do
    cargo rustc -p stressbeat-core --lib --crate-type staticlib --profile "$PROFILE" --target "$t"
done
# The bindings come from the host build (library mode reads the metadata from the .dylib).
PROFILE=debug scripts/gen-bindings.sh swift
out=build/ios
rm -rf "$out"; mkdir -p "$out/headers" "$out/xcf-headers" "$out/sim"
# The module map lives only in build/ios/headers (SWIFT_INCLUDE_PATHS of every target in
# project.yml), not in the XCFramework too: two visible copies of one module map are a
# "redefinition of module" error.
cp build/bindings/swift/StressBeatCoreFFI.h "$out/headers/"
cp build/bindings/swift/StressBeatCoreFFI.modulemap "$out/headers/module.modulemap"
cp build/bindings/swift/StressBeatCoreFFI.h "$out/xcf-headers/"
sim_libs=()
for t in "${sim_targets[@]}"; do sim_libs+=("$target_dir/$t/$profile_dir/libstressbeat_core.a"); done
lipo -create "${sim_libs[@]}" -output "$out/sim/libstressbeat_core.a"
xcodebuild -create-xcframework \
    -library "$target_dir/aarch64-apple-ios/$profile_dir/libstressbeat_core.a" -headers "$out/xcf-headers" \
    -library "$out/sim/libstressbeat_core.a" -headers "$out/xcf-headers" \
    -output "$out/StressBeatCoreFFI.xcframework"
echo "$out/StressBeatCoreFFI.xcframework"
