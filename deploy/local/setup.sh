#!/usr/bin/env bash
# Installs what incidentd needs on a Debian machine, from Debian's packages,
# only what is missing and only as root (otherwise it says what to install):
#
#   setup.sh          ClickHouse's server, for "make run"
#   setup.sh --test   also what "make test" needs: Chromium (dashboard tests),
#                     Java 17 and Maven (Apache Kafka), Python's venv (chDB),
#                     Node.js and npm (Playwright)
set -euo pipefail

need=()
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
if [ "${1:-}" = "--test" ]; then
	command -v chromium >/dev/null 2>&1 || need+=(chromium)
	command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null 2>&1 || need+=(maven)
	python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
	command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
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
