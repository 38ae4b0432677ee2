#!/usr/bin/env bash
# build.sh OUTDIR builds Tashi's tiny test guest from Debian packages only:
# the linux-image-amd64 kernel and busybox-static. See README.md here.
#
# Writes to OUTDIR:
#   vmlinux               the Debian kernel, uncompressed (ELF with a PVH entry:
#                         qemu -kernel boots it without in-guest decompression)
#   initrd.gz             busybox initramfs (cpio newc + gzip) with the virtio,
#                         e1000 and ext4 modules and rootfs/init as /init
#   tiny.qcow2            ext4 root disk (label guestroot) holding the same tree
#   tiny.qcow2.boot.json  kernel, initrd (relative to OUTDIR) and kernel args
#
# Cached and idempotent. The .debs and the built files live in the cache
# ($TASHI_IMAGE_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/tashi/images),
# keyed by the package versions and the hash of this recipe. A run with
# nothing changed rebuilds nothing, and it leaves every OUTDIR file alone
# whose content hash already matches. Files that change are replaced
# atomically (temp file + rename), so running guests keep the old inode.
# One build at a time per cache (flock). No root needed.
#
# The build is reproducible: a rebuild from an empty cache gives the same bytes.
# Needs: apt-get and apt-cache (download only; `apt-get update` done once),
# dpkg-deb, tar, xz, gzip, dd, od, mkfs.ext4 and debugfs (e2fsprogs >= 1.43), qemu-img,
# sha256sum, flock.
set -euo pipefail

readonly DISK_MB=32
readonly KMETA=linux-image-amd64
readonly BBPKG=busybox-static
readonly APPEND='console=ttyS0 quiet panic=-1 mitigations=off 8250.nr_uarts=1 cryptomgr.notests audit=0 no_timer_check root=/dev/vda'
# Modules in the guest, by file name (crc32c-intel.ko holds crc32c_intel).
readonly MODULES=(virtio virtio_ring virtio_pci virtio_pci_legacy_dev virtio_pci_modern_dev
	virtio_mmio failover net_failover virtio_net virtio_blk crc16 mbcache jbd2 ext4
	crc32c_generic crc32c-intel e1000)
readonly OUTPUTS=(vmlinux initrd.gz tiny.qcow2 tiny.qcow2.boot.json) # boot.json last

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TASHI_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tashi/images}
T_START=${EPOCHREALTIME/./}
T_STEP=$T_START
CLEANUP=()

die() {
	printf 'tiny: error: %s\n' "$*" >&2
	exit 1
}

# secs FROM_US TO_US prints the difference of two microsecond stamps in seconds.
secs() {
	local d=$(($2 - $1))
	printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}

# step MESSAGE prints one line per step with the time the step took.
step() {
	local now=${EPOCHREALTIME/./}
	printf 'tiny: %-64s %5ss\n' "$1" "$(secs "$T_STEP" "$now")"
	T_STEP=$now
}

cleanup() {
	((${#CLEANUP[@]})) && rm -rf -- "${CLEANUP[@]}"
	return 0
}
trap cleanup EXIT

check_tools() {
	local t missing=()
	for t in apt-get apt-cache dpkg-deb tar xz gzip dd od mkfs.ext4 debugfs qemu-img sha256sum flock; do
		command -v "$t" >/dev/null || [[ -x /usr/sbin/$t || -x /sbin/$t ]] || missing+=("$t")
	done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (run scripts/setup.sh)"
	PATH=$PATH:/usr/sbin:/sbin
}

lock_cache() {
	mkdir -p "$CACHE/debs" "$CACHE/build"
	exec {LOCK_FD}>"$CACHE/build.lock"
	if ! flock -n "$LOCK_FD"; then
		step "waiting for another build using $CACHE"
		flock "$LOCK_FD"
	fi
}

# apt_fingerprint identifies the state of apt's package lists and pinning:
# when it is unchanged, apt-cache gives the same answers (and costs ~1 s).
apt_fingerprint() {
	stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* /etc/apt/sources.list \
		/etc/apt/sources.list.d/* /etc/apt/preferences /etc/apt/preferences.d/* \
		2>/dev/null | sha256sum | cut -c1-32
}

# candidate PKG prints apt's candidate version of PKG.
candidate() {
	apt-cache policy "$1" 2>/dev/null | awk '/^ *Candidate:/ {print $2; exit}'
}

# resolve sets KPKG (the concrete linux-image-6.1.*-amd64 package behind
# the metapackage), KVERS and BBVERS, reusing the last answer while the apt
# lists are unchanged.
resolve() {
	local fp cached
	fp=$(apt_fingerprint)
	if [[ -r $CACHE/resolved ]] && read -r cached KPKG KVERS BBVERS <"$CACHE/resolved" &&
		[[ $cached == "$fp" && -n $BBVERS ]]; then
		step "packages (apt lists unchanged): $KPKG=$KVERS $BBPKG=$BBVERS"
		return 0
	fi
	KPKG=$(apt-cache depends "$KMETA" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-amd64$/ {print $2; exit}')
	[[ -n $KPKG ]] || return 1
	KVERS=$(candidate "$KPKG")
	BBVERS=$(candidate "$BBPKG")
	[[ -n $KVERS && $KVERS != "(none)" && -n $BBVERS && $BBVERS != "(none)" ]] || return 1
	echo "$fp $KPKG $KVERS $BBVERS" >"$CACHE/resolved"
	step "packages: $KPKG=$KVERS $BBPKG=$BBVERS"
}

# deb_for PKG VERSION prints the cached .deb of that exact version, if any.
deb_for() {
	local f
	for f in "$CACHE/debs/$1"_*.deb; do
		[[ -f $f ]] || continue
		if [[ $(dpkg-deb -f "$f" Package Version 2>/dev/null | awk '{print $2}' | paste -sd' ') == "$1 $2" ]]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# fetch PKG VERSION downloads the .deb into the cache unless it is there,
# then drops other versions of PKG. It leaves the .deb's path in FETCHED.
fetch() {
	local f part
	if FETCHED=$(deb_for "$1" "$2"); then
		return 0
	fi
	part=$CACHE/debs/.partial.$$
	CLEANUP+=("$part")
	rm -rf "$part" && mkdir -p "$part"
	(cd "$part" && apt-get -q download -o APT::Sandbox::User="$(id -un)" "$1=$2" >/dev/null) ||
		die "apt-get download $1=$2 failed"
	f=$(echo "$part"/*.deb)
	[[ -f $f ]] || die "apt-get download $1=$2 left no .deb"
	rm -f "$CACHE/debs/$1"_*.deb
	FETCHED=$CACHE/debs/$(basename "$f")
	mv "$f" "$FETCHED"
	step "downloaded $(basename "$f") ($(stat -c %s "$FETCHED") bytes)"
}

# content_id hashes what goes into the guest: the packages and rootfs/.
content_id() {
	{
		echo "$KPKG=$KVERS $BBPKG=$BBVERS disk=$DISK_MB"
		(cd "$HERE" && find rootfs -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -c1-32
}

# recipe_key hashes everything a build depends on: the content and this script.
recipe_key() {
	{
		echo "$CONTENT"
		sha256sum <"$HERE/build.sh"
	} | sha256sum | cut -c1-16
}

# le N FILE OFFSET prints the little-endian N-byte unsigned integer at OFFSET.
le() {
	od -An --endian=little -t "u$1" -j "$3" -N "$1" "$2" | tr -d ' '
}

# extract_vmlinux BZIMAGE OUT writes the kernel's own ELF image. The x86
# boot header says where the compressed payload is: setup_sects (0x1f1)
# gives the start of the protected-mode code at (setup_sects+1)*512, and
# payload_offset (0x248) and payload_length (0x24c), boot protocol >= 2.08,
# locate the payload inside it. xz and zstd payloads end with the 4-byte
# uncompressed size, which we check.
extract_vmlinux() {
	local bz=$1 out=$2 magic ver start len want
	[[ $(dd if="$bz" bs=1 skip=$((0x202)) count=4 status=none) == HdrS ]] || die "$bz: no x86 boot header"
	ver=$(le 2 "$bz" $((0x206)))
	((ver >= 0x208)) || die "$bz: boot protocol $ver has no payload fields"
	start=$((($(le 1 "$bz" $((0x1f1))) + 1) * 512 + $(le 4 "$bz" $((0x248)))))
	len=$(le 4 "$bz" $((0x24c)))
	magic=$(od -An -t x1 -j "$start" -N 6 "$bz" | tr -d ' \n')
	payload() { dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count="$1" bs=1M status=none; }
	case "$magic" in
	fd377a585a00) payload "$len" | xz -dc --single-stream >"$out" ;;
	28b52ffd*) payload $((len - 4)) | zstd -dcq >"$out" ;;
	1f8b*) payload "$len" | gzip -dc >"$out" ;;
	*) die "$bz: unknown payload compression (magic $magic)" ;;
	esac
	case "$magic" in fd37* | 28b5*)
		want=$(le 4 "$bz" $((start + len - 4)))
		[[ $(stat -c %s "$out") == "$want" ]] || die "$bz: vmlinux is $(stat -c %s "$out") bytes, header says $want"
		;;
	esac
	[[ $(od -An -c -N 4 "$out" | tr -d ' ') == '177ELF' ]] || die "$bz: payload is not an ELF image"
}

# unpack_debs extracts the kernel, the modules and busybox into $W.
unpack_debs() {
	local m pats=(--wildcards --wildcards-match-slash './boot/vmlinuz-*')
	for m in "${MODULES[@]}"; do pats+=("*/modules/*/$m.ko"); done
	mkdir -p "$W/k" "$W/bb"
	dpkg-deb --fsys-tarfile "$KDEB" | tar -x -C "$W/k" "${pats[@]}"
	dpkg-deb -x "$BBDEB" "$W/bb"
	KVER=${KPKG#linux-image-}
	MODDIR=$(cd "$W/k" && find . -type d -path "*/modules/$KVER" | head -n 1)
	[[ -n $MODDIR ]] || die "$KPKG has no modules for $KVER"
	for m in "${MODULES[@]}"; do
		[[ $(find "$W/k/$MODDIR" -name "$m.ko" | wc -l) == 1 ]] || die "$KPKG: module $m.ko not found once"
	done
	BB=$W/bb/bin/busybox
	[[ -x $BB ]] || die "$BBPKG has no bin/busybox"
	step "unpacked kernel $KVER, ${#MODULES[@]} modules and busybox"
}

# assemble_tree builds the guest's root tree in $R.
assemble_tree() {
	local a
	R=$W/root
	mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,run,newroot,var/log,lib/modules}
	cp "$BB" "$R/bin/busybox"
	for a in $("$BB" --list); do
		[[ $a == busybox ]] || ln -s busybox "$R/bin/$a"
	done
	cp -r "$W/k/$MODDIR" "$R/lib/modules/"
	"$BB" depmod -b "$R" "$KVER"
	cp -r "$HERE/rootfs/." "$R/"
	chmod 755 "$R/init" "$R/etc/udhcpc.script" "$R/www/cgi-bin/kv" "$R/www/cgi-bin/ping"
	echo guest >"$R/etc/hostname"
	find "$R" -exec touch -h -d @0 {} + # reproducible timestamps
	step "assembled root tree ($(du -sk "$R" | cut -f1) KiB)"
}

# build_all makes every output into the cache directory $1.
build_all() {
	local dst=$1 uuid
	W=$CACHE/build/.work.$$
	CLEANUP+=("$W")
	rm -rf "$W" && mkdir -p "$W/out"
	unpack_debs
	assemble_tree
	extract_vmlinux "$(echo "$W"/k/boot/vmlinuz-*)" "$W/out/vmlinux"
	step "extracted vmlinux ($(stat -c %s "$W/out/vmlinux") bytes)"
	(cd "$R" && find . | LC_ALL=C sort |
		"$BB" cpio -o -H newc -R 0:0 --renumber-inodes --ignore-devno 2>/dev/null) | gzip -9n >"$W/out/initrd.gz"
	step "packed initrd.gz ($(stat -c %s "$W/out/initrd.gz") bytes)"
	# The file system's UUID follows the content, so editing this script
	# alone does not change the image.
	uuid=$(echo "$CONTENT" | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/')
	E2FSPROGS_FAKE_TIME=1 mkfs.ext4 -q -F -L guestroot -U "$uuid" -E "root_owner=0:0,hash_seed=$uuid" \
		-d "$R" "$W/root.ext4" "${DISK_MB}M" >/dev/null
	# mkfs -d copies each file's ctime and atime from the host, which touch
	# cannot set: zero them so that the image is reproducible.
	(cd "$R" && find . | LC_ALL=C sort) | sed 's|^\.||; s|^$|/|' |
		awk '{printf "sif \"%s\" ctime 0\nsif \"%s\" atime 0\n", $0, $0}' >"$W/times.debugfs"
	E2FSPROGS_FAKE_TIME=1 debugfs -w -f "$W/times.debugfs" "$W/root.ext4" >/dev/null 2>"$W/debugfs.err" ||
		die "debugfs: $(cat "$W/debugfs.err")"
	qemu-img convert -f raw -O qcow2 "$W/root.ext4" "$W/out/tiny.qcow2"
	step "made tiny.qcow2 (${DISK_MB} MiB ext4, $(stat -c %s "$W/out/tiny.qcow2") bytes)"
	printf '{"kernel":"vmlinux","initrd":"initrd.gz","append":"%s"}\n' "$APPEND" >"$W/out/tiny.qcow2.boot.json"
	echo "$KPKG=$KVERS $BBPKG=$BBVERS" >"$W/out/PACKAGES"
	(cd "$W/out" && sha256sum "${OUTPUTS[@]}" >SHA256SUMS)
	chmod 644 "$W/out"/*
	rm -rf "$dst"
	mv "$W/out" "$dst"
	step "checksummed and cached as build $KEY"
}

# install_outputs copies the cached files of build $1 into OUTDIR, leaving
# alone every file whose content already matches.
install_outputs() {
	local src=$1 f want have tmp changed=0
	mkdir -p "$OUTDIR"
	for f in "${OUTPUTS[@]}"; do
		want=$(awk -v f="$f" '$2 == f {print $1}' "$src/SHA256SUMS")
		have=''
		if [[ -f $OUTDIR/$f && $(stat -c %s "$OUTDIR/$f") == $(stat -c %s "$src/$f") ]]; then
			have=$(sha256sum <"$OUTDIR/$f" | cut -d' ' -f1)
		fi
		[[ $have == "$want" ]] && continue
		tmp=$OUTDIR/.$f.tmp.$$
		CLEANUP+=("$tmp")
		cp "$src/$f" "$tmp"
		chmod 644 "$tmp"
		mv -f "$tmp" "$OUTDIR/$f"
		changed=$((changed + 1))
	done
	if ((changed)); then
		step "installed $changed of ${#OUTPUTS[@]} files into $OUTDIR"
	else
		step "$OUTDIR up to date, left untouched"
	fi
}

main() {
	(($# == 1)) || die "usage: build.sh OUTDIR"
	OUTDIR=$(mkdir -p "$1" && cd "$1" && pwd)
	check_tools
	lock_cache
	if ! resolve; then
		# Offline or no `apt-get update`: fall back to the last good build.
		KEY=$(cat "$CACHE/build/last" 2>/dev/null) && [[ -s $CACHE/build/$KEY/SHA256SUMS ]] ||
			die "cannot resolve $KMETA and $BBPKG with apt-cache (run apt-get update) and no earlier build is cached"
		step "apt-cache failed; reusing the last build $KEY ($(cat "$CACHE/build/$KEY/PACKAGES"))"
	else
		fetch "$KPKG" "$KVERS"
		KDEB=$FETCHED
		fetch "$BBPKG" "$BBVERS"
		BBDEB=$FETCHED
		step "debs cached in $CACHE/debs"
		CONTENT=$(content_id)
		KEY=$(recipe_key)
		if [[ -s $CACHE/build/$KEY/SHA256SUMS ]]; then
			step "build $KEY cached"
		else
			build_all "$CACHE/build/$KEY"
		fi
		echo "$KEY" >"$CACHE/build/last.tmp" && mv -f "$CACHE/build/last.tmp" "$CACHE/build/last"
		find "$CACHE/build" -mindepth 1 -maxdepth 1 -type d ! -name "$KEY" ! -name '.work.*' -exec rm -rf {} +
	fi
	install_outputs "$CACHE/build/$KEY"
	printf 'tiny: done in %ss: %s\n' "$(secs "$T_START" "${EPOCHREALTIME/./}")" \
		"$(cd "$OUTDIR" && stat -c '%n %s' "${OUTPUTS[@]}" | paste -sd' ' | sed 's/ \([0-9]*\)\( \|$\)/=\1\2/g')"
}

main "$@"
