#!/bin/sh
# tests/integration/cli-layer.sh: `lamina layer` as a person runs it, on
# tars made here with GNU tar: import (plain and gzip) with OCI whiteouts and
# an opaque folder, digests against sha256sum, the chain mounted with
# lamina-fuse and with the kernel's overlayfs (the same tree), a container
# layer's changes and export, byte-identical exports, verify, rm, a hostile
# tar refused without a trace, and check clean at the end.
set -u
prog=${LAMINA:?LAMINA names the lamina program to test}
CLI_NEEDS="root fuse jq" # layers mount; the JSON output is read with jq
. "${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}/tests/integration/cli-common.sh"
root=$top/root
lam() { "$prog" --root "$root" "$@"; }
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
field() { lam layer inspect "$1" | jq -r ".[0][\"$2\"]"; }

# The layers, as OCI tars: base, then one with a whiteout and an opaque folder.
mkdir -p "$top/t1/etc" "$top/t1/opq" "$top/t1/bin" "$top/t2/opq" "$top/t2/etc"
echo hello > "$top/t1/etc/motd"
echo gone > "$top/t1/etc/old"
echo lower > "$top/t1/opq/hidden"
echo prog > "$top/t1/bin/sh"
ln "$top/t1/bin/sh" "$top/t1/bin/ash"
ln -s sh "$top/t1/bin/link"
: > "$top/t2/etc/.wh.old"
: > "$top/t2/opq/.wh..wh..opq"
echo upper > "$top/t2/opq/kept"
echo changed > "$top/t2/etc/motd"
tar -C "$top/t1" --numeric-owner -cf "$top/l1.tar" .
tar -C "$top/t2" --numeric-owner -cf "$top/l2.tar" .
gzip -k "$top/l2.tar"

id1=$(lam layer import "$top/l1.tar") && echo "$id1" | grep -Eq '^[0-9a-f]{64}$' && ok "import prints an ID" ||
	fail "import l1: $id1"
id2=$(lam layer import --parent "$id1" --name top "$top/l2.tar.gz") || fail "import l2"
[ "$(lam layer ls -q | tr '\n' ' ')" = "$id1 $id2 " ] && ok "ls: parents first" || fail "ls: $(lam layer ls -q)"
[ "$(field "$id1" diff-digest)" = "$(sha "$top/l1.tar")" ] && ok "DiffID = sha256 of the tar" ||
	fail "DiffID $(field "$id1" diff-digest)"
[ "$(field top diff-digest)" = "$(sha "$top/l2.tar")" ] &&
	[ "$(field top compressed-diff-digest)" = "$(sha "$top/l2.tar.gz")" ] &&
	[ "$(field top compression)" = gzip ] && [ "$(field top parent)" = "$id1" ] &&
	ok "gzip layer: DiffID, compressed digest, parent, by name" || fail "inspect top: $(lam layer inspect top)"
[ "$(ls -l "$root/layers/$id2/diff/etc/old" 2>/dev/null | cut -c1)" = c ] && ok "whiteout in the overlay form" ||
	fail "no 0/0 whiteout for etc/old"

# The chain, mounted both ways (one after the other: a layer is mounted by one
# backend at a time): the same tree, with the whiteouts applied.
snapshot() {
	(cd "$1" && find . -printf '%p %y %m %U %G %s %l\n' | sort && find . -type f -exec md5sum {} + | sort)
}
check_view() {
	[ "$(cat "$1/etc/motd")" = changed ] && [ ! -e "$1/etc/old" ] && [ ! -e "$1/opq/hidden" ] &&
		[ "$(cat "$1/opq/kept")" = upper ] && [ "$(readlink "$1/bin/link")" = sh ] &&
		[ "$(stat -c %i "$1/bin/sh")" = "$(stat -c %i "$1/bin/ash")" ] && ok "merged view ($2)" ||
		fail "merged view ($2)"
}
mkdir -p "$top/mk"
mf=$(lam layer mount top) || fail "mount (fuse)"
check_view "$mf" fuse
snapshot "$mf" > "$top/fuse.tree"
err=$(lam layer mount --backend kernel --id k top "$top/mk" 2>&1) && fail "a second backend was allowed" ||
	ok "a second backend at once refused: $err"
lam layer unmount top || fail "unmount fuse"
mk=$(lam layer mount --backend kernel --id k top "$top/mk") && [ "$mk" = "$top/mk" ] &&
	ok "mount --backend kernel at DIR" || fail "kernel mount: $mk"
check_view "$top/mk" kernel
snapshot "$top/mk" | cmp -s - "$top/fuse.tree" && ok "fuse and kernel mounts show the same tree" ||
	fail "fuse and kernel differ: $(snapshot "$top/mk" | diff - "$top/fuse.tree" | head -5)"
lam layer unmount --id k top || fail "unmount kernel"
mountpoint -q "$top/mk" && fail "kernel mount left" || ok "unmounted at the last use"

# A container layer: write, delete, then its changes and its export.
out=$(lam layer mount --rw top 2>"$top/rw.err") || fail "mount --rw: $(cat "$top/rw.err")"
cid=$(sed -n 's/^container layer: //p' "$top/rw.err")
echo new > "$out/new" && rm "$out/etc/motd" && echo more >> "$out/bin/sh" || fail "writes through the mount"
lam layer unmount "$cid" || fail "unmount rw"
lam layer changes "$cid" | grep -qx 'A /new' && lam layer changes "$cid" | grep -qx 'D /etc/motd' &&
	lam layer changes "$cid" | grep -qx 'C /bin/sh' && ok "changes: added, deleted, modified" ||
	fail "changes: $(lam layer changes "$cid" | tr '\n' ' ')"
lam layer export "$cid" -o "$top/c1.tar" && lam layer export "$cid" > "$top/c2.tar" && cmp -s "$top/c1.tar" "$top/c2.tar" &&
	ok "two exports, same bytes" || fail "exports differ"
tar -tf "$top/c1.tar" | grep -q 'etc/.wh.motd' && ok "export: .wh. entry" || fail "export: $(tar -tf "$top/c1.tar")"
id3=$(lam layer import --parent top "$top/c1.tar") || fail "import the export"
m3=$(lam layer mount "$id3") && [ "$(cat "$m3/new")" = new ] && [ ! -e "$m3/etc/motd" ] && ok "export re-imported" ||
	fail "re-imported layer"
lam layer unmount "$id3"
lam layer export "$id3" | cmp -s - "$top/c1.tar" && ok "re-import exports the same bytes" || fail "re-export differs"

# verify, diff-size, rm, hostile input, check.
lam layer verify top >/dev/null && ok "verify: clean" || fail "verify top"
echo tampered > "$root/layers/$id2/diff/opq/kept"
out=$(lam layer verify top) && fail "verify missed a change" || {
	echo "$out" | grep -q "opq/kept" && ok "verify names the changed file" || fail "verify: $out"
}
[ "$(lam layer diff-size "$id1")" -gt 0 ] && ok "diff-size" || fail "diff-size"
expect_rm=$(lam layer rm "$id1" 2>&1) && fail "rm of a parent succeeded" || ok "rm of a parent refused: $expect_rm"
echo secret > "$top/outside"
tar -cPf "$top/evil.tar" "$top/outside" 2>/dev/null
rm "$top/outside"
before=$(ls "$root/layers" | sort | tr '\n' ' ')
err=$(lam layer import "$top/evil.tar" 2>&1) && fail "hostile tar imported" || ok "hostile tar refused: $err"
[ "$(ls "$root/layers" | sort | tr '\n' ' ')" = "$before" ] && [ ! -e "$top/outside" ] &&
	[ -z "$(ls "$root/tmp")" ] && ok "hostile tar left no trace" || fail "trace of the hostile tar"
lam layer rm "$id3" "$cid" >/dev/null && ok "rm" || fail "rm id3 cid"
[ "$(lam check)" = "no problems found" ] && ok "check: clean" || fail "check: $(lam check)"
finish
