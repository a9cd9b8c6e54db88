#!/usr/bin/env bash
# Regenerates Sources/AuthV1GRPC/Generated from the main repo's proto/auth/v1/{common,auth}.proto:
# swift-protobuf messages (protoc-gen-swift) and grpc-swift-2 service code
# (protoc-gen-grpc-swift-2). Not part of `make bench-peers`: the plugins take minutes to
# build, so their output is committed. Run it when those two .proto files change.
#
#   Benchmarks/proto/generate.sh                     builds the plugins once in $PLUGINS_DIR
#   PROTOC_GEN_SWIFT=... PROTOC_GEN_GRPC_SWIFT=... Benchmarks/proto/generate.sh
#
# The plugins are built from the versions Package.swift depends on (swift-protobuf 1.39.0,
# grpc-swift-protobuf 2.4.1); never commit their builds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$here/../Sources/AuthV1GRPC/Generated"
plugins=${PLUGINS_DIR:-${TMPDIR:-/tmp}/authd-bench-plugins}

if [ -z "${PROTOC_GEN_SWIFT:-}" ] || [ -z "${PROTOC_GEN_GRPC_SWIFT:-}" ]; then
    mkdir -p "$plugins"
    if [ ! -d "$plugins/grpc-swift-protobuf" ]; then
        git clone -q --branch 2.4.1 https://github.com/grpc/grpc-swift-protobuf "$plugins/grpc-swift-protobuf"
    fi
    # protoc-gen-swift comes from the swift-protobuf this checkout resolves (1.39.0 here).
    (cd "$plugins/grpc-swift-protobuf" \
        && swift build --product protoc-gen-grpc-swift-2 \
        && swift build --product protoc-gen-swift)
    bin=$(cd "$plugins/grpc-swift-protobuf" && swift build --show-bin-path)
    PROTOC_GEN_SWIFT=$bin/protoc-gen-swift
    PROTOC_GEN_GRPC_SWIFT=$bin/protoc-gen-grpc-swift-2
fi

rm -rf "$out" && mkdir -p "$out"
protoc --proto_path="$root/proto" \
    --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
    --swift_out="$out" --swift_opt=Visibility=Public \
    auth/v1/common.proto auth/v1/auth.proto
protoc --proto_path="$root/proto" \
    --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" \
    --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Public,Client=true,Server=true \
    auth/v1/auth.proto
# One folder: SwiftPM wants unique file names within a target.
find "$out" -name '*.swift' | while read -r f; do
    rel=${f#"$out"/}
    [ "$rel" = "${rel//\//}" ] || mv "$f" "$out/${rel//\//_}"
done
find "$out" -mindepth 1 -type d -empty -delete
ls "$out"
