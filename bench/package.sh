#!/usr/bin/env bash
# Builds the packaged release of pytopus: the release build with the link
# order of bench/order.py, made from a binary of this very tree (see
# bench/README.md, "Code layout", and docs/decisions.md). Needs valgrind and
# nginx (bench/run.py installs them); takes two release builds' time.
#
#   bench/package.sh            # prints the packaged binary's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
target=${CARGO_TARGET_DIR:-$repo/target}
order=$(mktemp -d)/symbol-order.txt
trap 'rm -rf "$(dirname "$order")"' EXIT

echo "package: building the plain release (the order is measured on it)" >&2
(cd "$repo" && cargo build --release --locked -q)
plain=$target/release/pytopus.plain
cp "$target/release/pytopus" "$plain"

echo "package: measuring which functions a run executes (bench/order.py)" >&2
PYTOPUS_BIN=$plain python3 "$here/order.py" >&2
mv "$here/symbol-order.txt" "$order"

echo "package: linking with that order" >&2
(cd "$repo" && PYTOPUS_LINK_ORDER=$order cargo build --release --locked -q)
rm -f "$plain"
echo "$target/release/pytopus"
