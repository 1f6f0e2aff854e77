#!/usr/bin/env bash
# Build the core's shared library and generate the Kotlin and/or Swift bindings from it
# (uniffi *library mode*: the metadata is read from the compiled library, no UDL; the settings
# come from the top-level uniffi.toml).
#
#   scripts/gen-bindings.sh [kotlin|swift|all]     (default: all)
#
# Env: PROFILE=debug|release (default debug), OUT_DIR (default build/bindings),
#      SKIP_BUILD=1 to reuse an existing library.
# Output: $OUT_DIR/kotlin/com/stressbeat/core/stressbeat_core.kt
#         $OUT_DIR/swift/{StressBeatCore.swift,StressBeatCoreFFI.h,StressBeatCoreFFI.modulemap}
# Prints the path of the library it generated from (last line on stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "gen-bindings: $*" >&2; exit 1; }

LANGS="${1:-all}"
PROFILE="${PROFILE:-debug}"
OUT_DIR="${OUT_DIR:-build/bindings}"
case "$LANGS" in kotlin|swift) langs=("$LANGS") ;; all) langs=(kotlin swift) ;;
  *) echo "usage: $0 [kotlin|swift|all]" >&2; exit 2 ;; esac

profile_flag=(); [[ "$PROFILE" == debug ]] || profile_flag=(--profile "$PROFILE")
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
target_dir="${target_dir:-target}"
lib="$target_dir/$PROFILE/libstressbeat_core.so"
[[ "$(uname -s)" == Darwin ]] && lib="$target_dir/$PROFILE/libstressbeat_core.dylib"

if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build -q -p stressbeat-core "${profile_flag[@]}" || die "cargo build failed"
    # the generator's speed does not matter: always a debug build (a release one costs minutes)
    cargo build -q -p uniffi-bindgen || die "cargo build of uniffi-bindgen failed"
fi
[[ -f "$lib" ]] || die "$lib not found (build failed?)"
bindgen="$target_dir/debug/uniffi-bindgen"
[[ -x "$bindgen" ]] || die "$bindgen not found"

for lang in "${langs[@]}"; do
    rm -rf "${OUT_DIR:?}/$lang"; mkdir -p "$OUT_DIR/$lang"
    "$bindgen" generate --library "$lib" --language "$lang" --out-dir "$OUT_DIR/$lang" --no-format \
        --config uniffi.toml >/dev/null \
        || die "uniffi-bindgen failed for $lang"
done
echo "$lib"
