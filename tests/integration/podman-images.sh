#!/bin/sh
# tests/integration/podman-images.sh: `lamina image` against real archives
# written by podman (issue 6's end-to-end test). podman imports a small
# busybox rootfs (demo/mkimage.sh), builds a second layer on it that deletes
# a file and a folder, replaces a folder (an opaque one) and adds a file,
# and saves the image as oci-archive and as docker-archive. lamina imports
# both (their layers are the same, so they are stored once), mounts each,
# and the trees (names, types, modes, owners, sizes, symlink targets,
# contents) must equal what `podman image mount` shows; a program of the
# image runs in a chroot of the mount. Last, podman loads lamina's export of
# the image into a second, empty store and shows the same tree again.
#
# podman runs with a private configuration under the scratch folder (runc,
# ulimits, cgroupfs, file events and locks, no network:
# ../shared/reference/clients.md "Workarounds that were needed"), so it
# never touches the machine's own images. Skipped (77) without root,
# /dev/fuse, podman, jq or busybox-static.
set -u
prog=${LAMINA:?LAMINA names the lamina program to test}
srcdir=${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}
# shellcheck disable=SC2034 # read by cli-common.sh
CLI_NEEDS="root fuse jq podman"
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	echo "SKIP: needs busybox-static (a static /bin/busybox, the image's userland)"
	exit 77
fi
# Until `lamina image` is merged (issue 6), the program has no such command.
if ! "$prog" --help | grep -q '^  image '; then
	echo "SKIP: $prog has no 'image' command yet"
	exit 77
fi
. "$srcdir/tests/integration/cli-common.sh"
root=$top/root
lam() { "$prog" --root "$root" "$@"; }

# podman's private state: two stores, each with its configuration (the second
# one only ever sees lamina's export).
runtime=runc
command -v runc >/dev/null || runtime=crun # RUN then fails on cgroup v1 hybrid: the fallback below
driver=vfs
grep -qw overlay /proc/filesystems && driver=overlay
pstate=$top/podman
# Each store has its own containers.conf too: libpod's database (static_dir)
# remembers the graph root it was made with and overrides storage.conf's.
for store in 1 2; do
	st=$pstate/$store
	mkdir -p "$st"
	cat >"$st/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "$runtime"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$st/events.log"
lock_type = "file"
tmp_dir = "$st/tmp"
volume_path = "$st/volumes"
static_dir = "$st/libpod"
[network]
network_config_dir = "$st/net"
EOF
	printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' \
		"$driver" "$st/graph" "$st/run" >"$st/storage.conf"
done
pm() { CONTAINERS_CONF="$pstate/1/containers.conf" CONTAINERS_STORAGE_CONF="$pstate/1/storage.conf" podman "$@"; }
pm2() { CONTAINERS_CONF="$pstate/2/containers.conf" CONTAINERS_STORAGE_CONF="$pstate/2/storage.conf" podman "$@"; }
podman_cleanup() {
	pm image unmount --all >/dev/null 2>&1
	pm2 image unmount --all >/dev/null 2>&1
	cleanup
}
trap podman_cleanup EXIT
echo "podman $(podman --version | cut -d' ' -f3), storage driver $driver, runtime $runtime"

# A tree as text: one line per entry (type, mode, owner, size of files,
# symlink target), then the SHA-256 of every file. The root itself is left
# out: containers/storage makes every layer's root 0555, whatever the tar's
# "./" entry says (lamina keeps the tar's mode).
tree_of() {
	(cd "$1" && find . -mindepth 1 \( -type f -printf '%p f %m %U:%G %s\n' \) -o \( ! -type f -printf '%p %y %m %U:%G %l\n' \) |
		LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
same_tree() { # DIR EXPECTED-FILE WHAT
	tree_of "$1" >"$top/got.tree"
	if cmp -s "$top/got.tree" "$2"; then
		ok "$3: the same tree as podman image mount ($(grep -c . "$2") lines)"
	else
		fail "$3: the tree differs from podman's (< lamina, > podman):"
		diff "$top/got.tree" "$2" | head -20
	fi
}

# The image: busybox rootfs, then one layer of changes.
mkdir "$top/rootfs"
sh "$srcdir/demo/mkimage.sh" rootfs "$top/rootfs" || { fail "mkimage.sh rootfs"; exit 1; }
tar -C "$top/rootfs" --numeric-owner -cf "$top/rootfs.tar" . && pm import -q "$top/rootfs.tar" localhost/bb:1 >/dev/null ||
	{ fail "podman import"; exit 1; }
# shellcheck disable=SC2016 # $R is expanded by the shell that runs the edit
edit='rm -rf $R/var/cache/demo $R/etc/motd $R/usr/share/doc && mkdir -p $R/usr/share/doc/app &&
echo news >$R/usr/share/doc/app/NEWS && echo hello >$R/new'
mkdir "$top/ctx"
printf 'FROM localhost/bb:1\nRUN R=; %s\n' "$(echo "$edit" | tr '\n' ' ')" >"$top/ctx/Containerfile"
if pm build -q --network=none -t localhost/bb2:1 "$top/ctx" >"$top/build.log" 2>&1; then
	ok "podman build: the second layer made by RUN"
else
	# RUN needs a working OCI runtime; a mounted container and a commit do not.
	echo "podman build failed ($(tail -n 1 "$top/build.log")); the second layer is made by podman mount + commit"
	c=$(pm create -q localhost/bb:1 /bin/sh) && R=$(pm mount "$c") && eval "$edit" && pm unmount "$c" >/dev/null &&
		pm commit -q "$c" localhost/bb2:1 >/dev/null && pm rm "$c" >/dev/null || { fail "podman commit"; exit 1; }
fi
pm save -q --format oci-archive -o "$top/bb2-oci.tar" localhost/bb2:1 &&
	pm save -q --format docker-archive -o "$top/bb2-docker.tar" localhost/bb2:1 || { fail "podman save"; exit 1; }
pmnt=$(pm image mount localhost/bb2:1) && tree_of "$pmnt" >"$top/podman.tree" || { fail "podman image mount"; exit 1; }
pm image unmount localhost/bb2:1 >/dev/null
grep -q '^\./new f ' "$top/podman.tree" && grep -q '^\./usr/share/doc/app/NEWS f ' "$top/podman.tree" &&
	! grep -q '^\./etc/motd \|^\./var/cache/demo\|^\./usr/share/doc/busybox' "$top/podman.tree" &&
	grep -q '^\./home/user/notes.txt f 644 1000:1000 ' "$top/podman.tree" &&
	ok "podman's image: the deletions, the replaced folder and the new files are there" ||
	fail "podman's image is not the one this test builds"

# lamina: both archives, one set of layers.
for fmt in oci docker; do
	lam image import -q "$top/bb2-$fmt.tar" --name "bb-$fmt:1" >"$top/import-$fmt.out" 2>&1 &&
		ok "image import of podman's $fmt-archive" || fail "image import $fmt: $(cat "$top/import-$fmt.out")"
done
n=$(lam layer ls -q | grep -c .)
[ "$n" = 2 ] && ok "the two archives' layers are stored once (2 layers)" || fail "$n layers after both imports"

for fmt in oci docker; do
	mnt=$(lam image mount "bb-$fmt:1" 2>"$top/mount.err") && [ -d "$mnt" ] ||
		{ fail "image mount bb-$fmt:1: $(cat "$top/mount.err")"; continue; }
	same_tree "$mnt" "$top/podman.tree" "$fmt-archive, lamina-fuse"
	out=$(chroot "$mnt" /bin/busybox ls /) && echo "$out" | grep -qx new && echo "$out" | grep -qx bin &&
		ok "chroot MNT /bin/busybox ls / ($fmt)" || fail "chroot ls ($fmt): $out"
	lam image unmount "bb-$fmt:1" || fail "image unmount bb-$fmt:1"
	mountpoint -q "$mnt" && fail "$mnt still mounted after image unmount" || ok "unmounted ($fmt)"
done

# The kernel's overlayfs (where podman uses it too), at a folder of ours.
if [ "$driver" = overlay ]; then
	mkdir "$top/mk"
	if lam image mount --backend kernel "bb-oci:1" "$top/mk" >/dev/null 2>"$top/mount.err"; then
		same_tree "$top/mk" "$top/podman.tree" "oci-archive, kernel overlayfs"
		lam image unmount "bb-oci:1" || fail "image unmount (kernel)"
	else
		fail "image mount --backend kernel: $(cat "$top/mount.err")"
	fi
fi

# lamina's export, read by podman in an empty store.
if lam image export "bb-oci:1" -o "$top/export.tar" 2>"$top/export.err"; then
	loaded=$(pm2 load -q -i "$top/export.tar" 2>&1) && [ "$(pm2 images -q | grep -c .)" = 1 ] &&
		ok "podman load of lamina's export into an empty store: $loaded" ||
		fail "podman load of lamina's export: $loaded; $(pm2 images)"
	ref=${loaded#Loaded image: }
	m2=$(pm2 image mount "$ref") && same_tree "$m2" "$top/podman.tree" "lamina's export, loaded by podman" ||
		fail "podman image mount of the loaded export $ref"
	pm2 image unmount "$ref" >/dev/null
else
	fail "image export: $(cat "$top/export.err")"
fi

lam image rm "bb-oci:1" "bb-docker:1" >/dev/null || fail "image rm"
n=$(lam layer ls -q | grep -c .)
[ "$n" = 0 ] && ok "image rm of both: no layer left" || fail "$n layers left after image rm"
lam check >/dev/null 2>&1 && ok "check: clean" || fail "check: $(lam check 2>&1)"
finish
