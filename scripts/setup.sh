#!/usr/bin/env bash
# setup.sh installs what Tashi-Go needs on a Debian machine. It is the one
# setup script: `make up` and `make test` both call it.
#
# Idempotent and quiet: when everything is present it calls no apt-get and
# prints only "setup: ok". As root it installs what is missing (apt-get
# update only then) and prints one line per thing it installs. As another
# user it prints what to install and exits 1.
#
# To require something more, add one line to requirements() below:
#   need COMMAND DEBIAN-PACKAGE
set -euo pipefail

readonly PG_PACKAGE=postgresql-15
readonly CREATECLUSTER_CONF=/etc/postgresql-common/createcluster.conf

missing_pkgs=() # Debian packages to install
missing_why=()  # what each of them provides, for the messages

requirements() {
	need_postgres   # initdb, pg_ctl, postgres: clustermanager/pgembed
	need curl curl  # README demo
	need jq jq      # README demo
	need qemu-system-x86_64 qemu-system-x86 # node manager: guests
	need qemu-img qemu-utils                # image store: overlays, clone, rebase
	need busybox busybox-static             # images/tiny: the guest's userland
	need xz xz-utils                        # images/tiny: unpack the kernel
	need mkfs.ext4 e2fsprogs                # images/tiny: the qcow2 root disk
	need ip iproute2                        # network tests: namespaces, veths
	need dhclient isc-dhcp-client           # plugins/dhcp: a real DHCP client
	need dig bind9-dnsutils                 # plugins/dns: a real resolver client
	need named bind9                        # plugins/dns: RFC 2136 updates to a real BIND
	need mfsmaster moosefs-master           # plugins/datalocation: a real MooseFS
	need mfschunkserver moosefs-chunkserver # plugins/datalocation
	need mfsmount moosefs-client            # plugins/datalocation: mfsfileinfo
	need mfscli moosefs-cli                 # plugins/datalocation: storage classes
	need gmond ganglia-monitor              # plugins/telemetry: a real gmond
}

# need COMMAND PACKAGE: PACKAGE is missing unless COMMAND is on PATH or in
# /usr/sbin or /sbin (not on a normal user's PATH).
need() {
	if ! have "$1"; then
		missing "$2" "$1"
	fi
}

have() {
	command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]
}

missing() {
	missing_pkgs+=("$1")
	missing_why+=("$2")
}

# need_postgres: the server binaries, found on PATH or in
# /usr/lib/postgresql/*/bin, as clustermanager/pgembed looks for them.
need_postgres() {
	if ! have_postgres; then
		missing "$PG_PACKAGE" "initdb and pg_ctl"
	fi
}

have_postgres() {
	local d
	if have initdb && have pg_ctl; then
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		if [[ -x $d/initdb && -x $d/pg_ctl ]]; then
			return 0
		fi
	done
	return 1
}

install_missing() {
	local i
	if ((EUID != 0)); then
		for i in "${!missing_pkgs[@]}"; do
			echo "setup: missing ${missing_why[i]} (Debian package ${missing_pkgs[i]})" >&2
		done
		echo "setup: as root, run: apt-get install -y --no-install-recommends ${missing_pkgs[*]}" >&2
		exit 1
	fi
	if [[ " ${missing_pkgs[*]} " == *" $PG_PACKAGE "* ]]; then
		prevent_main_cluster
	fi
	for i in "${!missing_pkgs[@]}"; do
		echo "setup: installing ${missing_pkgs[i]} (${missing_why[i]})"
	done
	apt_get update
	deny_service_starts
	apt_get install -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing_pkgs[@]}"
	allow_service_starts
	disable_test_daemons
}

# The tests run their own named, gmond and MooseFS daemons on ports and in
# namespaces they choose; the packages' system services would take port
# 53 on every address (our node managers' DNS servers need their bridges'
# port 53) and 8649. So packages installed here start no service
# (policy-rc.d, only if the machine has none), and the test daemons'
# units are left disabled.
readonly POLICY_RC=/usr/sbin/policy-rc.d
policy_rc_ours=false

deny_service_starts() {
	if [[ ! -e $POLICY_RC ]]; then
		printf '#!/bin/sh\n# written by tashi scripts/setup.sh during apt-get install\nexit 101\n' >"$POLICY_RC"
		chmod 755 "$POLICY_RC"
		policy_rc_ours=true
		trap allow_service_starts EXIT # also when apt-get fails
	fi
}

allow_service_starts() {
	if $policy_rc_ours; then
		rm -f "$POLICY_RC"
	fi
}

disable_test_daemons() {
	local unit
	command -v systemctl >/dev/null 2>&1 || return 0
	for unit in named bind9 ganglia-monitor moosefs-master moosefs-chunkserver; do
		if [[ " ${missing_pkgs[*]} " == *" ${unit} "* || ($unit == named && " ${missing_pkgs[*]} " == *" bind9 "*) ]]; then
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		fi
	done
}

# apt_get runs apt-get quietly, showing its output only if it fails.
apt_get() {
	local log
	log=$(mktemp)
	if ! DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "setup: apt-get $1 failed" >&2
		exit 1
	fi
	rm -f "$log"
}

# prevent_main_cluster stops the Debian package's postinst from creating
# and starting a "main" cluster: Tashi runs its own (clustermanager/pgembed).
# An explicit create_main_cluster setting is left as it is.
prevent_main_cluster() {
	if [[ ! -e $CREATECLUSTER_CONF ]]; then
		mkdir -p "$(dirname "$CREATECLUSTER_CONF")"
		echo "create_main_cluster = false" >"$CREATECLUSTER_CONF"
	elif ! grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' "$CREATECLUSTER_CONF"; then
		echo "create_main_cluster = false" >>"$CREATECLUSTER_CONF"
	fi
}

# ensure_postgres_user: as root, pgembed runs the server as the postgres
# user (initdb refuses root). The package creates it; binaries installed
# some other way may come without it.
ensure_postgres_user() {
	if ((EUID != 0)) || id -u postgres >/dev/null 2>&1; then
		return 0
	fi
	echo "setup: creating the postgres system user"
	useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
		--shell /usr/sbin/nologin postgres
}

main() {
	requirements
	if ((${#missing_pkgs[@]} > 0)); then
		install_missing
		missing_pkgs=()
		missing_why=()
		requirements
		if ((${#missing_pkgs[@]} > 0)); then
			echo "setup: still missing after install: ${missing_why[*]}" >&2
			exit 1
		fi
	fi
	ensure_postgres_user
	echo "setup: ok"
}

main "$@"
