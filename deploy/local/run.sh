#!/usr/bin/env bash
# "make run": a local ClickHouse server (stopped again on exit if this script
# started it), then every part of incidentd in one process on the embedded
# broker. Data lives under DATA (default ./data) and survives restarts.
set -euo pipefail
data=${DATA:-./data}
started=""
if deploy/local/clickhouse.sh "$data/clickhouse" 9000; then
	[ -f "$data/clickhouse/pid" ] && started=$(cat "$data/clickhouse/pid")
fi
stop() { [ -n "$started" ] && kill "$started" 2>/dev/null || true; }
trap stop EXIT
./bin/incidentd run -data-dir="$data" "$@"
