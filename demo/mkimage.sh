#!/bin/sh
# demo/mkimage.sh: a small container image made here, from Debian's
# busybox-static, with plain shell tools (tar, gzip, sha256sum, printf): no
# registry, nothing downloaded. Used by demo/image-demo.sh and by the podman
# end-to-end test (tests/integration/podman-images.sh).
#
#   mkimage.sh rootfs DIR          the base root file system, as a folder DIR
#   mkimage.sh layout DIR [TAG]    a two-layer OCI image layout in DIR
#                                  (TAG: the index's ref.name; default 1.0)
#
# The layout's layers, as OCI layer tars:
#   1 (gzip)   the rootfs above: bin/busybox and a few applet symlinks,
#              etc/{passwd,group,hostname,motd}, usr/share/doc/busybox,
#              var/cache/demo, home/user (owned by 1000:1000), tmp, root
#   2 (plain)  changes: etc/motd replaced, app/ added, and three deletions
#              the way OCI writes them: etc/.wh.hostname (a file deleted),
#              var/cache/.wh.demo (a folder deleted) and
#              usr/share/doc/.wh..wh..opq (an opaque folder: the base's
#              usr/share/doc/busybox is hidden, usr/share/doc/app is new)
# The tars are reproducible (sorted names, mtime 0, numeric owners), so the
# digests are the same on every run with the same busybox. Run as root
# (owners other than root's).
set -eu

busybox=${BUSYBOX:-/bin/busybox}

die() {
	echo "mkimage.sh: $*" >&2
	exit 1
}

# A static busybox is the whole userland: it runs in a chroot with no
# libraries next to it.
need_busybox() {
	[ -x "$busybox" ] || die "$busybox not found: install busybox-static (apt-get install busybox-static)"
	! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not statically linked: install busybox-static, not busybox"
}

# rootfs DIR: the base layer's files.
rootfs() {
	need_busybox
	d=$1
	mkdir -p "$d/bin" "$d/etc" "$d/usr/share/doc/busybox" "$d/var/cache/demo" "$d/home/user" "$d/tmp" "$d/root"
	cp "$busybox" "$d/bin/busybox"
	chmod 755 "$d/bin/busybox"
	for applet in sh ls cat echo find wc; do
		ln -s busybox "$d/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$d/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$d/etc/group"
	echo 'lamina-demo' >"$d/etc/hostname"
	echo 'motd from the base layer' >"$d/etc/motd"
	"$busybox" 2>&1 | head -n 1 >"$d/usr/share/doc/busybox/VERSION"
	echo 'cached by the base layer' >"$d/var/cache/demo/old.txt"
	echo 'a file of user 1000' >"$d/home/user/notes.txt"
	chown -R 1000:1000 "$d/home/user"
	chmod 700 "$d/root"
	chmod 1777 "$d/tmp"
}

# changes DIR: the second layer's files, whiteouts included.
changes() {
	d=$1
	mkdir -p "$d/etc" "$d/var/cache" "$d/usr/share/doc/app" "$d/app"
	echo 'motd from the app layer' >"$d/etc/motd"
	: >"$d/etc/.wh.hostname"
	: >"$d/var/cache/.wh.demo"
	: >"$d/usr/share/doc/.wh..wh..opq"
	echo 'app 1.0: first release' >"$d/usr/share/doc/app/NEWS"
	# shellcheck disable=SC2016 # runs in the image
	printf '#!/bin/sh\necho "hello from $(cat /etc/motd)"\n' >"$d/app/hello.sh"
	chmod 755 "$d/app/hello.sh"
}

# tarball DIR OUT: DIR's content as a reproducible layer tar.
tarball() {
	(cd "$1" && tar --sort=name --mtime=@0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime -cf "$2" ./*)
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# blob FILE: moves FILE into the layout's blobs; sets digest ("sha256:HEX")
# and bytes, its descriptor's fields.
blob() {
	h=$(sha "$1")
	bytes=$(wc -c <"$1" | tr -d ' ')
	digest=sha256:$h
	mv "$1" "$out/blobs/sha256/$h"
}

layout() {
	out=$1 tag=${2:-1.0}
	[ ! -e "$out" ] || [ -z "$(ls -A "$out")" ] || die "$out exists and is not empty"
	arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$out/blobs/sha256" "$work/l1" "$work/l2"
	rootfs "$work/l1"
	changes "$work/l2"
	tarball "$work/l1" "$work/l1.tar"
	tarball "$work/l2" "$work/l2.tar"
	# The config names the uncompressed tars (DiffIDs); the manifest, the blobs.
	diff1=sha256:$(sha "$work/l1.tar") diff2=sha256:$(sha "$work/l2.tar")
	gzip -n "$work/l1.tar"
	blob "$work/l1.tar.gz"
	l1=$digest s1=$bytes
	blob "$work/l2.tar"
	l2=$digest s2=$bytes
	{
		printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},' "$arch"
		printf '"rootfs":{"type":"layers","diff_ids":["%s","%s"]},' "$diff1" "$diff2"
		printf '"history":[{"created_by":"demo/mkimage.sh: busybox rootfs"},{"created_by":"demo/mkimage.sh: app"}]}'
	} >"$work/config"
	blob "$work/config"
	{
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
		printf '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},' "$digest" "$bytes"
		printf '"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s},' "$l1" "$s1"
		printf '{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' "$l2" "$s2"
	} >"$work/manifest"
	blob "$work/manifest"
	{
		printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",'
		printf '"digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}\n' "$digest" "$bytes" "$tag"
	} >"$out/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
}

case ${1:-} in
rootfs) [ $# = 2 ] || die "usage: mkimage.sh rootfs DIR"; rootfs "$2" ;;
layout) [ $# = 2 ] || [ $# = 3 ] || die "usage: mkimage.sh layout DIR [TAG]"; layout "$2" "${3:-}" ;;
*) die "usage: mkimage.sh rootfs DIR | layout DIR [TAG]" ;;
esac
