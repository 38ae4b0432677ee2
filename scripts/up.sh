#!/usr/bin/env bash
# up.sh runs a one-machine Tashi-Go cluster in the foreground: the cluster
# manager (with its embedded PostgreSQL), a node manager for this host and
# an agent, plus the tiny test guest image and a default network. Ctrl-C
# stops everything it started: every VM is destroyed through the cluster
# (so taps and overlays go too), then the agent, the node manager and the
# CM stop; a guest still alive after that is killed by the PID in the node
# manager's state file.
set -euo pipefail

STATE=${STATE:-$PWD/.state}
BIN=${BIN:-$PWD/bin}
HOSTNAME_=${TASHI_HOST:-$(hostname)}
NET_CIDR=${TASHI_NET_CIDR:-10.88.0.0/24}
NET_GW=${TASHI_NET_GW:-10.88.0.1}

mkdir -p "$STATE"/{cm,nm,pki,vfs/images} "$HOME/.tashi"
export TASHI_VFS_PREFIX="$STATE/vfs"
export TASHI_SECURITY_PKIDIR="$STATE/pki"
export TASHI_CLUSTERMANAGER_BOOTSTRAPUSERS="nodemanager:nodemanager,agent:agent"
export TASHI_NODEMANAGER_TOKENFILE="$STATE/cm/nodemanager.token"
export TASHI_NODEMANAGER_RUNDIR="$STATE/nm"
export TASHI_NODEMANAGER_HOSTNAME="$HOSTNAME_"
export TASHI_NODEMANAGER_ADVERTISE="127.0.0.1:9883"
export TASHI_AGENT_TOKENFILE="$STATE/cm/agent.token"

echo "up: building the tiny guest image (cached after the first time)"
images/tiny/build.sh "$STATE/vfs/images" | tail -1

pids=()
destroy_all() {
	local ids
	ids=$("$BIN/tashi" getInstances --json 2>/dev/null | jq -r '.[].id' 2>/dev/null) || return 0
	[[ -z $ids ]] && return 0
	echo "up: destroying $(echo "$ids" | wc -w) VMs"
	for id in $ids; do "$BIN/tashi" destroyVm --instance "$id" >/dev/null 2>&1 || true; done
	for _ in $(seq 100); do
		[[ $("$BIN/tashi" getInstances --json 2>/dev/null | jq length 2>/dev/null) == 0 ]] && return 0
		sleep 0.2
	done
}

stop() {
	trap - INT TERM EXIT
	echo "up: stopping"
	[[ ${#pids[@]} -ge 3 ]] && destroy_all
	[[ ${#pids[@]} -ge 3 ]] && kill -TERM "${pids[2]}" 2>/dev/null && wait "${pids[2]}" 2>/dev/null || true
	for f in "$STATE"/nm/*/state.json; do
		[[ -f $f ]] || continue
		pid=$(jq -r '.pid // empty' "$f" 2>/dev/null || true)
		[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null && echo "up: stopped guest pid $pid" || true
	done
	for i in 1 0; do
		[[ ${#pids[@]} -gt $i ]] && kill -TERM "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null || true
	done
	exit 0
}
trap stop INT TERM EXIT

"$BIN/tashi-cm" --state-dir "$STATE/cm" --client-config "$HOME/.tashi/Client.cfg" &
pids+=($!)
for _ in $(seq 100); do curl -sf localhost:9882/v1/health >/dev/null && break; sleep 0.1; done

"$BIN/tashi" addHost --host "$HOSTNAME_" 2>/dev/null | tail -n +3 || true
"$BIN/tashi" addNetwork --name default --kind bridge --cidr "$NET_CIDR" --gateway "$NET_GW" --default \
	2>/dev/null | tail -n +3 || true

"$BIN/tashi-nm" &
pids+=($!)
"$BIN/tashi-agent" &
pids+=($!)
echo "up: cluster manager :9882, node manager :9883 ($HOSTNAME_), agent running; Ctrl-C stops all"
wait -n "${pids[@]}" || true
stop
