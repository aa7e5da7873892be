#!/bin/sh
# tests/integration/docker-plugins.sh: laminad under a real dockerd (issue 7's
# end-to-end test), started by hand as ../shared/reference/clients.md shows
# (private --data-root, --exec-root and -H socket, no iptables, no bridge),
# so it never touches the machine's own Docker state.
#   1. volumes: `docker volume create -d PLUGIN`, `docker run -v` writing a
#      file, which then shows in `lamina volume inspect`'s Mountpoint; a
#      volume made with the lamina CLI used by a container; docker volume rm.
#   2. dockerd --experimental --storage-driver=PLUGIN: import of a busybox
#      rootfs (demo/mkimage.sh), run, diff (A/C/D), commit, a run of the
#      committed image seeing the changes, save (its layer tars hold the
#      files), rmi; lamina layer ls follows along, lamina check is clean.
# The plugin's socket is /run/docker/plugins/lamina-test-PID.sock (dockerd
# only looks there): a name of its own, removed at the end.
# Skipped (77) without root, dockerd 20.10+ (graphdriver plugins are gone in
# 28), jq, busybox-static or a built laminad.
set -u
prog=${LAMINA:?LAMINA names the lamina program to test}
laminad=${LAMINAD:?LAMINAD names the laminad program to test}
srcdir=${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}
docker=${DOCKER:-/usr/bin/docker}
dockerd=${DOCKERD:-/usr/sbin/dockerd}
# shellcheck disable=SC2034 # read by cli-common.sh
CLI_NEEDS="root jq"
[ -x "$laminad" ] || { echo "SKIP: laminad not built ($laminad)"; exit 77; }
[ -x "$dockerd" ] && [ -x "$docker" ] || { echo "SKIP: needs docker.io (dockerd and docker)"; exit 77; }
case $("$dockerd" --version) in
*" 2"[0-7].*) ;;
*) echo "SKIP: $("$dockerd" --version): graphdriver plugins need Docker 20.10 to 27"; exit 77 ;;
esac
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
	echo "SKIP: needs busybox-static (the image's userland)"
	exit 77
fi
. "$srcdir/tests/integration/cli-common.sh"
root=$top/root
name=lamina-test-$$
plugsock=/run/docker/plugins/$name.sock
lam() { "$prog" --root "$root" "$@"; }
dk() { "$docker" -H "unix://$top/docker.sock" "$@"; }

lpid=
dpid=
stop_pid() { # PID SECONDS: SIGTERM, wait, SIGKILL; the exit status
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$1" 2>/dev/null && kill -KILL "$1"
	wait "$1"
}
stop_all() {
	[ -n "$dpid" ] && stop_pid "$dpid" 30
	dpid=
	[ -n "$lpid" ] && stop_pid "$lpid" 30
	lpid=
	rm -f "$plugsock"
	cleanup
}
trap stop_all EXIT

wait_socket() { # PATH PID WHAT
	i=0
	until [ -S "$1" ] && { [ "$3" != dockerd ] || dk version >/dev/null 2>&1; }; do
		kill -0 "$2" 2>/dev/null || { echo "$3 died:"; tail -20 "$top/$3.log"; return 1; }
		[ $i -lt 600 ] || { echo "$3: no socket after 60 s"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
}

start_dockerd() { # extra options
	"$dockerd" --data-root "$top/data" --exec-root "$top/exec" -H "unix://$top/docker.sock" \
		--pidfile "$top/docker.pid" --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
		--userland-proxy=false "$@" >>"$top/dockerd.log" 2>&1 &
	dpid=$!
	wait_socket "$top/docker.sock" "$dpid" dockerd
}

stop_dockerd() {
	stop_pid "$dpid" 60
	dpid=
	rm -rf "$top/exec"
}

mkdir -p /run/docker/plugins "$top/img"
"$laminad" --socket "$plugsock" --root "$root" >"$top/laminad.log" 2>&1 &
lpid=$!
wait_socket "$plugsock" "$lpid" laminad || { fail "laminad did not start"; finish; exit; }

# The image: a busybox rootfs as one tar.
sh "$srcdir/demo/mkimage.sh" rootfs "$top/img/rootfs" >/dev/null || { fail "mkimage"; finish; exit; }
tar -C "$top/img/rootfs" --numeric-owner -cf "$top/img/rootfs.tar" .

# --- 1. volumes, with dockerd's own storage (vfs: nothing to set up)
if start_dockerd --storage-driver=vfs; then
	dk import "$top/img/rootfs.tar" bb:1 >/dev/null || fail "import (vfs)"
	dk volume create -d "$name" dv >/dev/null && ok "docker volume create -d $name" || fail "volume create"
	lam volume ls -q | grep -qx dv && ok "lamina volume ls shows dv" || fail "lamina ls: $(lam volume ls -q)"
	dk run --rm --network none -v dv:/data bb:1 sh -c 'echo from-docker > /data/f' ||
		fail "docker run -v dv"
	mp=$(lam volume inspect dv | jq -r '.[0].Mountpoint')
	[ "$(cat "$mp/f" 2>/dev/null)" = from-docker ] && ok "the container's file is in the lamina volume" ||
		fail "no $mp/f"
	lam volume create fromcli >/dev/null && echo from-lamina > "$(lam volume inspect fromcli | jq -r '.[0].Mountpoint')/g"
	[ "$(dk run --rm --network none -v fromcli:/data --volume-driver "$name" bb:1 cat /data/g)" = from-lamina ] &&
		ok "a volume made with lamina used by docker" || fail "fromcli in docker"
	dk volume ls --format '{{.Driver}} {{.Name}}' | grep -qx "$name dv" && ok "docker volume ls" ||
		fail "docker volume ls: $(dk volume ls)"
	dk volume rm dv >/dev/null && ! lam volume ls -q | grep -qx dv && ok "docker volume rm" || fail "volume rm"
	stop_dockerd
else
	fail "dockerd (vfs) did not start: $(tail -5 "$top/dockerd.log")"
fi
rm -rf "$top/data"

# --- 2. lamina as dockerd's storage driver
if start_dockerd --experimental --storage-driver="$name"; then
	dk info 2>/dev/null | grep -q "Storage Driver: $name" && ok "docker info: storage driver $name" ||
		fail "docker info: $(dk info 2>&1 | grep -i storage)"
	dk import "$top/img/rootfs.tar" bb:1 >/dev/null && ok "docker import" || fail "import"
	[ -n "$(lam layer ls -q)" ] && ok "the imported layer in lamina layer ls" || fail "lamina layer ls empty"
	dk run --name c1 --network none bb:1 sh -c 'echo new > /new; echo changed > /etc/motd; rm -rf /var/cache/demo' ||
		fail "docker run"
	d=$(dk diff c1 | sort | tr '\n' ' ')
	echo "$d" | grep -q "A /new" && echo "$d" | grep -q "C /etc/motd" && echo "$d" | grep -q "D /var/cache/demo" &&
		ok "docker diff" || fail "docker diff: $d"
	dk commit c1 bb:2 >/dev/null && ok "docker commit" || fail "commit"
	[ "$(dk run --rm --network none bb:2 sh -c 'cat /new /etc/motd; ls /var/cache')" = "new
changed" ] && ok "the committed image shows the changes" || fail "run bb:2"
	dk save -o "$top/bb2.tar" bb:2 && mkdir -p "$top/save" && tar -C "$top/save" -xf "$top/bb2.tar" &&
		found=$(for l in "$top"/save/*/layer.tar; do tar -tf "$l"; done | grep -cE '^(\./)?(new|var/cache/\.wh\.demo|bin/busybox)$') &&
		[ "$found" = 3 ] && ok "docker save: the layers hold the files and the whiteout" || fail "save: $found"
	dk rm c1 >/dev/null && dk rmi bb:2 bb:1 >/dev/null && ok "docker rm, rmi" || fail "rm/rmi"
	[ -z "$(lam layer ls -q)" ] && ok "no layer left in lamina" || fail "left: $(lam layer ls -q)"
	stop_dockerd
else
	fail "dockerd --storage-driver=$name did not start: $(tail -5 "$top/dockerd.log")"
fi
[ "$(lam check)" = "no problems found" ] && ok "lamina check clean" || fail "check: $(lam check)"
stop_pid "$lpid" 30 && ok "laminad exits 0 on SIGTERM" || fail "laminad exit status $?"
lpid=
[ ! -e "$plugsock" ] && ok "socket removed" || fail "socket left"
[ "$fails" = 0 ] || { echo "--- laminad log"; tail -40 "$top/laminad.log"; echo "--- dockerd log"; tail -40 "$top/dockerd.log"; }
finish
