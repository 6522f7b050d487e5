#!/usr/bin/env bash
# Installs what incidentd's tests and "make run" need on a Debian machine:
# ClickHouse's server (Debian's clickhouse-server) and Chromium for the
# dashboard's browser tests. Runs apt-get only for what is missing, and only
# as root; otherwise it says what to install.
set -euo pipefail

need=()
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
if [ "${1:-}" = "--browser" ]; then
	command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "setup: missing ${need[*]}: install with 'sudo apt-get install ${need[*]}'" >&2
	exit 1
fi
echo "setup: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
