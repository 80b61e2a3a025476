#!/usr/bin/env bash
# Measures speed and memory: loading, resolving and emitting. Compare two
# runs with benchstat (go run golang.org/x/perf/cmd/benchstat old.txt new.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem -count "${COUNT:-5}" ./policies ./emit
