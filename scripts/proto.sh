#!/usr/bin/env bash
# Regenerates src/generated from proto/ with ts-proto. Deterministic: CI regenerates and
# fails when the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf src/generated
mkdir -p src/generated
protoc -I proto \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out=src/generated \
  --ts_proto_opt=outputServices=grpc-js,env=node,forceLong=bigint,oneof=unions-value,useOptionals=messages,esModuleInterop=true,importSuffix=.ts,outputJsonMethods=false,annotateFilesWithVersion=false,enumsAsLiterals=true,outputPartialMethods=false,useExactTypes=false \
  $(find proto -name '*.proto' | sort)
