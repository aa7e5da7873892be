#!/bin/sh
# tests/integration/cli-image.sh: `lamina image` as a person runs it, on an
# image built here with GNU tar, sha256sum and jq (two layers: a base, then
# a gzip layer with a whiteout and an opaque folder): imported as an OCI
# layout, an oci-archive and a legacy docker-archive (the same ID, nothing
# stored twice), ls, inspect, tag, mount (the tree as GNU tar makes it),
# mount --rw and its container layer, unmount, export and re-import, a
# corrupted blob refused without a trace, rm, and check clean at the end.
set -u
prog=${LAMINA:?LAMINA names the lamina program to test}
CLI_NEEDS="root fuse jq"
. "${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}/tests/integration/cli-common.sh"
root=$top/root
lam() { "$prog" --root "$root" "$@"; }
hex() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# The layers.
mkdir -p "$top/t1/etc" "$top/t1/opq" "$top/t1/bin" "$top/t2/opq" "$top/t2/etc"
echo hello > "$top/t1/etc/motd"
echo gone > "$top/t1/etc/old"
echo lower > "$top/t1/opq/hidden"
echo prog > "$top/t1/bin/sh"
ln -s sh "$top/t1/bin/link"
: > "$top/t2/etc/.wh.old"
: > "$top/t2/opq/.wh..wh..opq"
echo upper > "$top/t2/opq/kept"
echo changed > "$top/t2/etc/motd"
tar -C "$top/t1" --numeric-owner -cf "$top/l1.tar" .
tar -C "$top/t2" --numeric-owner -cf "$top/l2.tar" .
gzip -kn "$top/l2.tar"

# An OCI image layout holding them.
oci=$top/oci
mkdir -p "$oci/blobs/sha256"
d1=$(hex "$top/l1.tar") d2=$(hex "$top/l2.tar") g2=$(hex "$top/l2.tar.gz")
cp "$top/l1.tar" "$oci/blobs/sha256/$d1"
cp "$top/l2.tar.gz" "$oci/blobs/sha256/$g2"
printf '{"created":"2026-01-02T03:04:05Z","architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
	"$d1" "$d2" > "$top/config.json"
cfg=$(hex "$top/config.json")
cp "$top/config.json" "$oci/blobs/sha256/$cfg"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$cfg" "$(size "$top/config.json")" "$d1" "$(size "$top/l1.tar")" "$g2" "$(size "$top/l2.tar.gz")" > "$top/manifest.json"
man=$(hex "$top/manifest.json")
cp "$top/manifest.json" "$oci/blobs/sha256/$man"
printf '{"imageLayoutVersion":"1.0.0"}' > "$oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"example.org/demo:1.0"}}]}' \
	"$man" "$(size "$top/manifest.json")" > "$oci/index.json"
tar -C "$oci" -cf "$top/demo.oci.tar" .

# The same image as a legacy docker-archive (uncompressed layer.tar files).
dock=$top/dock
mkdir -p "$dock/aaa" "$dock/bbb"
cp "$top/l1.tar" "$dock/aaa/layer.tar"
cp "$top/l2.tar" "$dock/bbb/layer.tar"
cp "$top/config.json" "$dock/$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["demo:docker"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}]' "$cfg" > "$dock/manifest.json"
tar -C "$dock" -cf "$top/demo.docker.tar" .

# Import: the layout, then the archives (nothing new stored).
id=$(lam image import "$oci") && [ "$id" = "$cfg" ] && ok "import a layout prints the config digest" ||
	fail "import layout: $id"
layers=$(lam layer ls -q | sort | tr '\n' ' ')
[ "$(lam layer ls -q | wc -l)" = 2 ] && ok "two layers stored" || fail "layers: $layers"
chain2=$(printf 'sha256:%s sha256:%s' "$d1" "$d2" | sha256sum | cut -d' ' -f1)
[ "$(lam image inspect example.org/demo:1.0 | jq -r '.[0].layers[1].id')" = "$chain2" ] &&
	[ "$(lam image inspect "$cfg" | jq -r '.[0].layers[0].id')" = "$d1" ] && ok "layers keyed by ChainID" ||
	fail "inspect: $(lam image inspect "$cfg")"
[ "$(lam image inspect example.org/demo:1.0 | jq -r '.[0].config.config.Cmd[0]')" = /bin/sh ] &&
	ok "inspect shows the config" || fail "config not in inspect"
[ "$(lam image import -q "$top/demo.oci.tar")" = "$cfg" ] && [ "$(lam image import "$top/demo.docker.tar")" = "$cfg" ] &&
	ok "oci-archive and docker-archive give the same image" || fail "archives"
[ "$(lam layer ls -q | sort | tr '\n' ' ')" = "$layers" ] && ok "re-imports store nothing new" ||
	fail "layers now: $(lam layer ls -q)"
err=$(lam layer rm "$chain2" 2>&1) && fail "layer rm removed a layer of an image" ||
	{ case $err in *"of image"*) ok "layer rm of an image's layer refused: $err" ;; *) fail "layer rm: $err" ;; esac; }
lam image ls | grep -q '^demo:docker ' && lam image ls | grep -q "^example.org/demo:1.0 *${cfg%"${cfg#????????????}"}" &&
	ok "ls: both names" || fail "ls: $(lam image ls)"
[ "$(lam image ls --format json | jq -r .id | sort -u)" = "$cfg" ] && ok "ls --format json" || fail "ls json"
lam image tag demo:docker other && [ "$(lam image inspect other:latest | jq -r '.[0].id')" = "$cfg" ] &&
	ok "tag" || fail "tag"

# Mount: the tree GNU tar gives when applying the layers in order.
mnt=$(lam image mount other) || fail "mount"
[ "$(cat "$mnt/etc/motd")" = changed ] && [ ! -e "$mnt/etc/old" ] && [ ! -e "$mnt/opq/hidden" ] &&
	[ "$(cat "$mnt/opq/kept")" = upper ] && [ "$(readlink "$mnt/bin/link")" = sh ] && ok "mounted rootfs" ||
	fail "mounted rootfs: $(find "$mnt" | sort | tr '\n' ' ')"
lam image rm "$cfg" 2>/dev/null && fail "rm of a mounted image" || ok "rm of a mounted image refused"
lam image unmount other && ! grep -q " $mnt " /proc/self/mounts && ok "unmount" || fail "unmount"

# --rw: a container layer on top, whose changes its layer sees.
rw=$(lam image mount --rw other 2>"$top/rw.err") || fail "mount --rw"
cl=$(sed -n 's/^container layer: //p' "$top/rw.err")
echo new > "$rw/etc/new" && rm "$rw/etc/motd" && ok "--rw mount is writable" || fail "write into --rw mount"
lam layer changes "$cl" > "$top/changes"
grep -qx 'A /etc/new' "$top/changes" && grep -qx 'D /etc/motd' "$top/changes" && ok "container layer changes" ||
	fail "changes: $(lam layer changes "$cl")"
lam image unmount "$cl" && ok "unmount the container layer" || fail "unmount --rw"

# rm keeps layers a container layer still uses.
lam image rm other demo:docker >/dev/null && lam image inspect "$cfg" >/dev/null && ok "rm of a name keeps the image" ||
	fail "rm name"
lam image export example.org/demo:1.0 -o "$top/out.tar" && tar -tf "$top/out.tar" | grep -qx index.json &&
	ok "export writes an oci-archive" || fail "export"
lam image rm example.org/demo:1.0 >/dev/null && ! lam image inspect "$cfg" >/dev/null 2>&1 &&
	[ "$(lam layer ls -q | wc -l)" = 3 ] && ok "rm: layers under a container layer stay" ||
	fail "rm: $(lam layer ls -q)"
# The image's layers, no image's now, go by hand (top first).
lam layer rm "$cl" "$chain2" "$d1" >/dev/null && [ -z "$(lam layer ls -q)" ] && ok "orphaned layers removed" ||
	fail "layer rm: $(lam layer ls -q)"

# Export -> import: the same rootfs.
id2=$(lam image import --name back:1 "$top/out.tar") || fail "import the export"
m2=$(lam image mount back:1) || fail "mount back:1"
[ "$(cat "$m2/etc/motd")" = changed ] && [ ! -e "$m2/etc/old" ] && [ ! -e "$m2/opq/hidden" ] &&
	[ "$(cat "$m2/opq/kept")" = upper ] && ok "export -> import: same rootfs" || fail "round trip rootfs"
lam image unmount back:1 || fail "unmount back:1"
lam image rm back:1 >/dev/null && [ -z "$(lam layer ls -q)" ] && ok "rm removes unused layers" ||
	fail "layers left: $(lam layer ls -q)"

# A corrupted blob: refused, naming the layer, nothing stored.
printf 'X' >> "$oci/blobs/sha256/$d1"
out=$(lam image import "$oci" 2>&1) && fail "corrupted blob imported" ||
	{ echo "$out" | grep -q "layer 0 (sha256:$d1).*does not match its digest" && ok "corrupted blob refused: $out" ||
		fail "message: $out"; }
[ -z "$(lam layer ls -q)" ] && [ -z "$(lam image ls -q)" ] && ok "store unchanged" || fail "store changed"
lam check >/dev/null && ok "check clean" || fail "check: $(lam check)"
finish
