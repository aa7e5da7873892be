#!/bin/sh
# demo/image-demo.sh: a container image's root file system in one minute.
#
# Builds a small two-layer OCI image layout from busybox-static with plain
# shell tools (demo/mkimage.sh: tar, gzip, sha256sum, printf), shows its
# second layer's whiteouts, imports it with `lamina image import`, mounts it
# with `lamina image mount` (lamina-fuse: no kernel overlay needed), lists
# the root file system, runs the image's busybox in a chroot, shows the
# layers in the graph store, then unmounts and removes everything. State
# goes to a scratch folder (LAMINA_ROOT), never to /var/lib/lamina.
#
# Usage, as root: demo/image-demo.sh [PATH/TO/lamina]
# (default: lamina from PATH; it mounts with the lamina-fuse next to it,
# else the installed one)
# shellcheck disable=SC2016 # the steps' $mnt is expanded when they run
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
lamina=$(program_path image-demo.sh "${1:-lamina}")
need_root image-demo.sh "mount, chroot, image owners" "$@"
[ -x /bin/busybox ] || {
	echo "image-demo.sh: needs busybox-static (apt-get install busybox-static)" >&2
	exit 1
}

dir=$(mktemp -d /tmp/lamina-image-demo.XXXXXX)
LAMINA_ROOT=$dir/root
export LAMINA_ROOT
cleanup() {
	cd /
	"$lamina" image unmount demo:1.0 >/dev/null 2>&1 || true
	grep -o " $dir/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The demo types "lamina" and "mkimage.sh", wherever they are.
mkdir "$dir/bin"
ln -s "$lamina" "$dir/bin/lamina"
ln -s "$here/mkimage.sh" "$dir/bin/mkimage.sh"
PATH=$dir/bin:$PATH
cd "$dir"

say "An OCI image layout with two layers, made from busybox-static by tar, gzip," \
	"sha256sum and printf: no registry, nothing downloaded."
step 'mkimage.sh layout image 1.0'
step 'find image -type f | sort'
step 'cat image/index.json'
manifest=$(jq -r '.manifests[0].digest' image/index.json)
layer2=$(jq -r '.layers[1].digest' "image/blobs/sha256/${manifest#sha256:}")
say "The second layer deletes the way OCI writes it: etc/.wh.hostname (a file)," \
	"var/cache/.wh.demo (a folder), usr/share/doc/.wh..wh..opq (an opaque folder)."
step "tar -tvf image/blobs/sha256/${layer2#sha256:}"

say "Import: each blob is checked against its digest, each layer against the" \
	"config's DiffID; the layers go to the graph store, keyed by ChainID."
step 'lamina image import -q image --name demo:1.0'
step 'lamina image ls'
step 'lamina layer ls'

say "Mount it (lamina-fuse, read-only) and look around: etc/motd comes from the" \
	"top layer, etc/hostname and var/cache/demo are gone, usr/share/doc holds only app."
step 'mnt=$(lamina image mount demo:1.0) && echo "$mnt"'
step 'ls "$mnt"'
step '(cd "$mnt" && ls -l etc var/cache usr/share/doc)'
step 'cat "$mnt/etc/motd"'

say "Run the image's own programs: its static busybox is its whole userland."
step 'chroot "$mnt" /bin/busybox echo "hello from busybox, inside the image"'
step 'chroot "$mnt" /bin/sh /app/hello.sh'

step 'lamina image unmount demo:1.0'
step 'lamina image rm demo:1.0'
say "The image's layers went with it:"
step 'lamina layer ls'
say "Done. The scratch folder $dir is removed."
