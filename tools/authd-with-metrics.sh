#!/bin/sh
# The release authd with its management port, and so its metrics, on: peerbench's
# --authd-b for measuring what metrics cost (docs/benchmarks.md).
exec "$(dirname "$0")/../.build/release/authd" "$@" --management-port 0
