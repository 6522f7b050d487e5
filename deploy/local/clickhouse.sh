#!/usr/bin/env bash
# Starts a local ClickHouse server for "make run": Debian's clickhouse-server
# with its data under DIR, listening on 127.0.0.1:PORT (native protocol).
# Does nothing if something already answers on that port.
#
#   deploy/local/clickhouse.sh DIR [PORT]
set -euo pipefail
dir=$(realpath -m "${1:?usage: clickhouse.sh DIR [PORT]}")
port=${2:-9000}

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "clickhouse: something already listens on 127.0.0.1:$port; using it" >&2
	rm -f "$dir/pid"
	exit 0
fi
mkdir -p "$dir/tmp" "$dir/uf" "$dir/fs"
nohup /usr/sbin/clickhouse-server --config-file=/etc/clickhouse-server/config.xml -- \
	--path="$dir/" --tmp_path="$dir/tmp/" --user_files_path="$dir/uf/" \
	--format_schema_path="$dir/fs/" --logger.log="$dir/log" --logger.errorlog="$dir/err" \
	--tcp_port="$port" --http_port=$((port + 123)) --interserver_http_port=$((port + 124)) \
	--listen_host=127.0.0.1 >"$dir/stdout" 2>&1 &
echo $! >"$dir/pid"
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "clickhouse: started on 127.0.0.1:$port (data in $dir, pid $(cat "$dir/pid"))" >&2
		exit 0
	fi
	sleep 0.1
done
echo "clickhouse: did not start; see $dir/err" >&2
tail -5 "$dir/err" >&2 || true
exit 1
