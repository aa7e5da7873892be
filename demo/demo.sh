#!/bin/sh
# demo/demo.sh: lamina-fuse in one minute.
#
# Builds a small two-layer tree in a scratch folder, mounts it with
# lamina-fuse, changes the merged view (writes a file, appends to a lower
# file, deletes a lower file, replaces a lower directory) and shows what the
# change left in the upper branch: copied-up files, a whiteout (a character
# device 0/0) and an opaque directory (xattr trusted.overlay.opaque). Then the
# kernel's overlayfs mounts the same branches and shows the same view.
#
# Usage, as root: demo/demo.sh [PATH/TO/lamina-fuse]
# (default: $LAMINA_FUSE, else lamina-fuse from PATH)
set -eu

. "$(dirname "$0")/lib.sh"
fuse=$(program_path demo.sh "${1:-${LAMINA_FUSE:-lamina-fuse}}")
need_root demo.sh "trusted.* xattrs, mknod, mount -t overlay" "$@"

dir=$(mktemp -d /tmp/lamina-demo.XXXXXX)
cleanup() {
	cd /
	if mountpoint -q "$dir/merged"; then
		fusermount3 -u "$dir/merged" 2>/dev/null || umount "$dir/merged" 2>/dev/null ||
			umount -l "$dir/merged" || true
	fi
	if mountpoint -q "$dir/merged"; then
		echo "demo.sh: $dir/merged is still mounted; $dir left in place" >&2
		return
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The demo types "lamina-fuse", whichever binary that is.
mkdir "$dir/bin"
ln -s "$fuse" "$dir/bin/lamina-fuse"
PATH=$dir/bin:$PATH
cd "$dir"

mkdir -p lower2/etc lower2/usr/share/doc/base lower1/etc lower1/app/bin lower1/usr/share/doc \
	upper work merged
echo 'motd from the base layer' >lower2/etc/motd
echo 'demo-host' >lower2/etc/hostname
echo 'base documentation' >lower2/usr/share/doc/base/README
echo 'motd from the app layer' >lower1/etc/motd
printf '#!/bin/sh\necho hello from the app\n' >lower1/app/bin/run
chmod 755 lower1/app/bin/run
echo 'app documentation' >lower1/usr/share/doc/app.txt

say "Two read-only lower branches (lower1 on top of lower2), an empty upper branch."
step 'find lower1 lower2 | sort'
step 'lamina-fuse -o lowerdir=lower1:lower2,upperdir=upper,workdir=work merged'

say "The merged view: directories merge, the top layer's etc/motd wins."
step 'find merged | sort'
step 'cat merged/etc/motd'

say "Change it: a new file, an append to a lower file, a deleted lower file," \
	"and a lower directory replaced by a new one."
step 'echo "written through the union" >merged/app/notes.txt'
step 'echo "one more line" >>merged/etc/motd'
step 'rm merged/etc/hostname'
step 'rm -r merged/usr/share/doc && mkdir merged/usr/share/doc && echo "new docs" >merged/usr/share/doc/NEWS'
step 'find merged | sort'
step 'cat merged/etc/motd'

say "The lower branches are untouched; the upper branch holds only the changes."
step 'cat lower1/etc/motd'
step 'find upper | sort'
say "etc/hostname is a whiteout (character device 0, 0); etc/motd was copied up."
step 'ls -l upper/etc'
say "usr/share/doc is opaque: it hides the lower directories' entries."
step 'getfattr -d -m trusted.overlay upper/usr/share/doc'
step 'fusermount3 -u merged'

say "The upper branch is in the kernel overlayfs's format: mount -t overlay reads it."
if step 'mount -t overlay overlay -o lowerdir=lower1:lower2,upperdir=upper,workdir=work merged'; then
	step 'find merged | sort'
	step 'umount merged'
else
	say "(this kernel refused the overlay mount; skipped)"
fi
say "Done. Unmounted, and the scratch folder $dir is removed."
