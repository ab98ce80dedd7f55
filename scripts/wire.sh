#!/usr/bin/env bash
# Compiles proto/ to a descriptor set and checks it against the server's wire protocol
# (../shared/protocol/check-wire.mjs), v1 and v2 (kurrentdb.protocol.v2). Exits non-zero on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
checker="${WIRE_CHECKER:-../shared/protocol/check-wire.mjs}"
out="$(mktemp -d)/effect-esdb.pb"
protoc -I proto --include_imports --descriptor_set_out="$out" $(find proto -name '*.proto' | sort)
node "$checker" "$out" --require-v2
