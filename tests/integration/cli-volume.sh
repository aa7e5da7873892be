#!/bin/sh
# tests/integration/cli-volume.sh: `lamina volume` and `lamina check` as a
# person runs them: Docker's output shapes (table, -q, JSON), filters, names
# refused before anything is written, real tmpfs and bind mounts checked in
# /proc/self/mountinfo, per-caller counts across runs, rm and prune, export,
# import and clone, and check --repair after damage done behind lamina's back.
set -u
prog=${LAMINA:?LAMINA names the lamina program to test}
CLI_NEEDS="root jq" # tmpfs and bind volumes mount; the JSON output is read with jq
. "${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}/tests/integration/cli-common.sh"
root=$top/root
lam() { "$prog" --root "$root" "$@"; }
# Whether $1 is a mount point now, by /proc/self/mountinfo's fifth field.
is_mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }
# Runs "lam ARGS", expecting failure with stderr containing $1.
expect_error() {
	want=$1
	shift
	if err=$(lam "$@" 2>&1 >/dev/null); then
		fail "'$*' succeeded"
	else
		case $err in *"$want"*) ok "'$*' refused: $err" ;; *) fail "'$*': message '$err' lacks '$want'" ;; esac
	fi
}

# --- create, names, options
[ "$(lam volume create v1)" = v1 ] && ok "create prints the name" || fail "create v1"
[ -d "$root/volumes/v1/_data" ] && ok "plain volume folder" || fail "no $root/volumes/v1/_data"
anon=$(lam volume create)
echo "$anon" | grep -Eq '^[0-9a-f]{64}$' && ok "anonymous name $anon" || fail "anonymous name '$anon'"
out=$(lam volume create v1 2>&1) && ok "same name and options: existing volume ($out)" || fail "recreate v1: $out"
expect_error "v1" volume create -o type=tmpfs v1
long=$(printf 'a%.0s' $(seq 1 256))
for bad in ../x a/b -- .x "$long" "a b"; do
	[ "$bad" = -- ] && bad=""
	expect_error "volume" volume create -- "$bad"
done
[ "$(ls "$root/volumes" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$anon" v1 | sort | tr '\n' ' ')" ] &&
	ok "refused names wrote nothing" || fail "volumes folder: $(ls "$root/volumes")"
expect_error "bogus" volume create -o bogus=1 v2
expect_error "/nonexistent" volume create -o type=none -o o=bind -o device=/nonexistent v2
lam volume exists v2 && fail "refused create left v2 behind" || ok "refused create left nothing"

# --- labels, ls, filters
lam volume create --label env=prod --label team=a v3 >/dev/null || fail "create v3"
lam volume create --label env=dev v4 >/dev/null || fail "create v4"
head=$(lam volume ls | head -n 1)
echo "$head" | grep -Eq '^DRIVER +VOLUME NAME$' && ok "ls header" || fail "ls header '$head'"
[ "$(lam volume ls -q | tr '\n' ' ')" = "$(printf '%s\n' "$anon" v1 v3 v4 | sort | tr '\n' ' ')" ] &&
	ok "ls -q sorted" || fail "ls -q: $(lam volume ls -q | tr '\n' ' ')"
[ "$(lam volume ls -q --filter label=env=prod)" = v3 ] && ok "filter label=k=v" || fail "label=env=prod"
[ "$(lam volume ls -q -f label=env | tr '\n' ' ')" = "v3 v4 " ] && ok "filter label=k" || fail "label=env"
[ "$(lam volume ls -q -f label=env -f label!=team | tr '\n' ' ')" = "v4 " ] && ok "label filters AND" ||
	fail "label=env label!=team"
[ "$(lam volume ls -q -f name=v | tr '\n' ' ')" = "v1 v3 v4 " ] && ok "filter name" || fail "name=v"
[ "$(lam volume ls -q -f driver=local | wc -l)" = 4 ] && ok "filter driver" || fail "driver=local"
expect_error "bogus" volume ls -f bogus=1
lam volume ls --format json | jq -e -s 'length == 4 and (map(.Name) | index("v3")) != null and
	(.[] | select(.Name == "v3") | .Labels == "env=prod,team=a" and .Driver == "local" and .Scope == "local")' \
	>/dev/null && ok "ls --format json" || fail "ls json: $(lam volume ls --format json)"

# --- inspect
js=$(lam volume inspect v3)
echo "$js" | jq -e --arg mp "$root/volumes/v3/_data" '.[0] | .Name == "v3" and .Driver == "local" and
	.Mountpoint == $mp and .Scope == "local" and .Labels.env == "prod" and .Labels.team == "a" and
	(.CreatedAt | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$"))' \
	>/dev/null && ok "inspect fields" || fail "inspect: $js"
expect_error "nope" volume inspect nope

# --- tmpfs volume: mounted at the first use, per caller, across runs
lam volume create -o type=tmpfs -o o=size=16m,mode=0750 tv >/dev/null || fail "create tmpfs"
path=$(lam volume mount tv --id c1) || fail "mount tv"
[ "$path" = "$root/volumes/tv/_data" ] && ok "mount prints the path" || fail "mount printed '$path'"
is_mounted "$path" && grep -q " $path tmpfs " /proc/self/mounts && ok "tmpfs mounted" || fail "tv not mounted"
[ "$(stat -c %a "$path")" = 750 ] && ok "tmpfs mode=0750" || fail "mode $(stat -c %a "$path")"
lam volume mount tv --id c1 >/dev/null && lam volume mount tv --id c2 >/dev/null || fail "mount again"
echo hello > "$path/f"
lam volume inspect tv | jq -e '.[0].Status.Mounted == true and
	(.[0].Status.Users | map({(.ID): .Count}) | add) == {"c1": 2, "c2": 1}' >/dev/null &&
	ok "users counted per caller" || fail "users: $(lam volume inspect tv)"
lam volume unmount tv --id c1 && lam volume unmount tv --id c2 || fail "unmount"
is_mounted "$path" && ok "c1 still holds it after one unmount" || fail "unmounted while c1 holds it"
[ "$(lam volume ls -q -f dangling=false)" = tv ] && ok "dangling=false" || fail "dangling=false"
expect_error "in use" volume rm tv
expect_error "c9" volume unmount tv --id c9
lam volume unmount tv --id c1 || fail "last unmount"
is_mounted "$path" && fail "still mounted after the last unmount" || ok "unmounted at the last use"

# --- bind volume
mkdir -p "$top/host"
echo from-host > "$top/host/h"
lam volume create -o type=none -o o=bind -o device="$top/host" bv >/dev/null || fail "create bind"
bpath=$(lam volume mount bv) || fail "mount bv"
[ "$(cat "$bpath/h" 2>&1)" = from-host ] && is_mounted "$bpath" && ok "bind shows the host folder" ||
	fail "bind content"
expect_error "in use" volume rm bv
lam volume rm -f bv >/dev/null && ok "rm -f of a used volume" || fail "rm -f bv"
is_mounted "$bpath" && fail "rm -f left the bind mounted" || ok "rm -f unmounted"
[ "$(cat "$top/host/h")" = from-host ] && ok "rm of a bind volume keeps the host data" || fail "host data lost"

# --- any other kernel file system, as Docker's local driver: ext4 on a loop
# device (skipped where loop devices or mkfs.ext4 are missing)
if command -v mkfs.ext4 >/dev/null && truncate -s 32M "$top/ext4.img" && mkfs.ext4 -q "$top/ext4.img" &&
	loopdev=$(losetup -f --show "$top/ext4.img" 2>/dev/null); then
	lam volume create -o type=ext4 -o device="$loopdev" -o o=noatime ev >/dev/null || fail "create ext4 volume"
	epath=$(lam volume mount ev) || fail "mount ev"
	awk -v p="$epath" -v d="$loopdev" '$5 == p && $(NF-2) == "ext4" && $(NF-1) == d && $6 ~ /noatime/ { f = 1 }
		END { exit !f }' /proc/self/mountinfo && ok "ext4 volume on $loopdev mounted with noatime" ||
		fail "ext4 volume: $(grep " $epath " /proc/self/mountinfo)"
	echo kept > "$epath/f"
	lam volume unmount ev && ! is_mounted "$epath" && ok "ext4 volume unmounted" || fail "unmount ev"
	lam volume mount ev >/dev/null && [ "$(cat "$epath/f")" = kept ] && ok "ext4 data kept across mounts" ||
		fail "ext4 data"
	lam volume rm -f ev >/dev/null || fail "rm ev"
	losetup -d "$loopdev"
else
	echo "skipped: no loop device or mkfs.ext4 for the ext4 volume"
fi

# --- export, import, clone
mkdir -p "$root/volumes/v1/_data/d"
echo one > "$root/volumes/v1/_data/d/f"
ln -s d/f "$root/volumes/v1/_data/l"
lam volume export v1 -o "$top/v1.tar" && tar -tf "$top/v1.tar" | grep -q 'd/f' && ok "export -o" ||
	fail "export"
lam volume export v1 > "$top/v1-stdout.tar" && cmp -s "$top/v1.tar" "$top/v1-stdout.tar" &&
	ok "export to stdout, same bytes" || fail "export stdout"
lam volume import v5 "$top/v1.tar" && [ "$(cat "$root/volumes/v5/_data/d/f")" = one ] &&
	[ "$(readlink "$root/volumes/v5/_data/l")" = d/f ] && ok "import into a new volume" || fail "import v5"
gzip -c "$top/v1.tar" | lam volume import v6 - && [ "$(cat "$root/volumes/v6/_data/d/f")" = one ] &&
	ok "import gzip from stdin" || fail "import gzip"
expect_error "v5" volume import v5 "$top/v1.tar"
echo secret > "$top/outside"
tar -cPf "$top/evil.tar" "$top/outside" 2>/dev/null
rm "$top/outside"
expect_error "v7" volume import v7 "$top/evil.tar"
[ ! -e "$top/outside" ] && ok "hostile tar wrote nothing outside" || fail "evil tar wrote $top/outside"
lam volume clone v1 v8 >/dev/null && diff -r "$root/volumes/v1/_data" "$root/volumes/v8/_data" &&
	ok "clone" || fail "clone v1 v8"
expect_error "v8" volume clone v1 v8

# --- rm and prune
lam volume rm v4 >/dev/null && ! lam volume exists v4 && [ ! -e "$root/volumes/v4" ] && ok "rm" || fail "rm v4"
dd if=/dev/zero of="$root/volumes/$anon/_data/blob" bs=1M count=2 2>/dev/null
out=$(lam volume prune -f)
echo "$out" | grep -qx "$anon" && echo "$out" | grep -Eq '^Total reclaimed space: 2\.[0-9]*MB$' &&
	lam volume exists v1 && ok "prune: anonymous only ($(echo "$out" | tail -n 1))" || fail "prune: $out"
out=$(echo n | lam volume prune --all)
lam volume exists v1 && ok "prune without -f asks, 'n' keeps" || fail "prune removed without consent"
lam volume mount v3 --id keep >/dev/null
out=$(lam volume prune -f --all --filter label=env=prod)
lam volume exists v3 && ok "prune keeps used volumes" || fail "prune removed a used volume"
out=$(lam volume prune -f --all --filter label!=env)
lam volume exists v1 || lam volume exists v5 && fail "prune --all left unlabelled unused volumes: $out" ||
	ok "prune --all with label!="
lam volume exists v3 && ok "prune label!= kept the labelled one" || fail "v3 gone"

# --- check and repair after damage done behind lamina's back
[ "$(lam check)" = "no problems found" ] && ok "check: clean" || fail "check: $(lam check)"
lam volume create dmg >/dev/null
rm -rf "$root/volumes/dmg"
mkdir -p "$root/volumes/stray/_data"
out=$(lam check) && fail "check passed with damage: $out"
echo "$out" | grep -q "dmg" && echo "$out" | grep -q "stray" && ok "check names the damage" || fail "check: $out"
lam check --repair >/dev/null
[ "$(lam check)" = "no problems found" ] && ok "check --repair fixed it" || fail "after repair: $(lam check)"

# --- LAMINA_ROOT, errors, usage
[ "$(LAMINA_ROOT=$root "$prog" volume ls -q -f name=v3)" = v3 ] && ok "LAMINA_ROOT" || fail "LAMINA_ROOT"
lam volume create --bogus >/dev/null 2>&1; [ $? = 2 ] && ok "usage error exits 2" || fail "usage exit"
lam volume --help | grep -q create && ok "volume --help" || fail "volume --help"
"$prog" --version | grep -q '^lamina version ' && ok "--version" || fail "--version"

finish
