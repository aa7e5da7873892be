#!/bin/sh
# tests/integration/laminad-smoke.sh: laminad as a process: it starts on a
# socket only root can use, answers Plugin.Activate, refuses to start twice
# on one socket, replaces a stale socket file, survives bad requests, keeps
# nothing of an ApplyDiff whose client hangs up, exits 0 on SIGTERM
# removing its socket, and takes a socket systemd passes (activation).
# (The protocol itself: test-daemon.c.)
CLI_NEEDS="root curl python3"
. "$(dirname "$0")/cli-common.sh"
LAMINAD=${LAMINAD:-$(dirname "${LAMINA:-./lamina}")/laminad}
sock=$top/lamina.sock
pid=
stop_daemon() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; pid=; }
trap 'stop_daemon; cleanup' EXIT

start() {
	"$LAMINAD" --socket "$sock" --root "$top/root" 2>>"$top/log" &
	pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && call Plugin.Activate >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "laminad did not start: $(cat "$top/log")"
	return 1
}
# Waits for a line matching $1 in the log (written once the reply is sent).
wait_log() {
	for _ in $(seq 50); do grep -q "$1" "$top/log" && return 0; sleep 0.1; done
	return 1
}
call() { curl -s --unix-socket "$sock" -X POST "http://plugin/$1" ${2:+--data-binary "$2"}; }

start || exit 1
out=$(call Plugin.Activate)
[ "$out" = '{"Implements":["VolumeDriver","GraphDriver"],"Err":""}' ] && ok "activate" || fail "activate: $out"
mode=$(stat -c '%a %u' "$sock")
[ "$mode" = "600 0" ] && ok "socket is 0600 root" || fail "socket mode: $mode"

"$LAMINAD" --socket "$sock" --root "$top/root" 2>"$top/second"
rc=$?
[ $rc = 1 ] && grep -q "another laminad answers" "$top/second" && ok "second laminad refused" ||
	fail "second laminad: exit $rc, $(cat "$top/second")"
[ "$(call Plugin.Activate)" != "" ] && ok "first still serving" || fail "first stopped answering"

code=$(curl -s -o "$top/body" -w '%{http_code}' --unix-socket "$sock" -X POST http://plugin/Nope.Nope)
[ "$code" = 404 ] && grep -q '"Err":"/Nope.Nope: no such endpoint"' "$top/body" && ok "unknown endpoint" ||
	fail "unknown endpoint: $code $(cat "$top/body")"
out=$(call VolumeDriver.Create '{"Name":')
case $out in *'"Err":"request body: not JSON'*) ok "malformed body" ;; *) fail "malformed body: $out" ;; esac
out=$(call VolumeDriver.Create '{"Name":"v1","Opts":null}')
[ "$out" = '{"Err":""}' ] && ok "create after bad requests" || fail "create: $out"

# An upload cut at an entry boundary must not import the entries before it.
out=$(call GraphDriver.Create '{"ID":"L1"}')
[ "$out" = '{"Err":""}' ] || fail "graph create: $out"
mkdir "$top/t" && head -c 2048 /dev/urandom >"$top/t/a" && echo b >"$top/t/b"
tar -C "$top/t" --format=ustar -cf "$top/t.tar" a b
python3 - "$sock" "$top/t.tar" <<'PY'
import socket, sys, time
data = open(sys.argv[2], "rb").read()[:512 + 2048]
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /GraphDriver.ApplyDiff?id=L1&parent= HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n")
s.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
time.sleep(0.3)
s.close()
PY
wait_log "ApplyDiff.*connection ended early" || fail "no log line for the cut upload"
out=$(call GraphDriver.DiffSize '{"ID":"L1"}')
[ "$out" = '{"Size":0,"Err":""}' ] && [ -z "$(ls "$top/root/layers/L1/diff")" ] && ok "cut upload left nothing" ||
	fail "cut upload: $out, $(ls "$top/root/layers/L1/diff")"
out=$(curl -s --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$top/t.tar" \
	'http://plugin/GraphDriver.ApplyDiff?id=L1&parent=')
[ "$out" = '{"Size":2050,"Err":""}' ] && ok "full upload after a cut one" || fail "full upload: $out"
out=$(curl -s --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$top/t.tar" \
	'http://plugin/GraphDriver.ApplyDiff?id=L1&parent=nope')
[ "$out" = "{\"Err\":\"layer 'L1': its parent is '(none)', not 'nope' (lamina diffs against its own parent)\"}" ] &&
	ok "apply with a wrong parent" || fail "apply with a wrong parent: $out"
wait_log "^POST /GraphDriver.ApplyDiff 200 " && ok "request log line" || fail "log: $(cat "$top/log")"

# A Diff whose client reads 1 KiB of a 4 MiB layer and hangs up.
call GraphDriver.Create '{"ID":"L2"}' >/dev/null
mkdir "$top/t2" && head -c 4194304 /dev/urandom >"$top/t2/big"
out=$(tar -C "$top/t2" -cf - big | curl -s --unix-socket "$sock" -X POST -H 'Transfer-Encoding: chunked' \
	--data-binary @- 'http://plugin/GraphDriver.ApplyDiff?id=L2')
[ "$out" = '{"Size":4194304,"Err":""}' ] || fail "apply L2: $out"
n=$(call GraphDriver.Diff '{"ID":"L2"}' | head -c 1024 | wc -c)
[ "$n" = 1024 ] || fail "diff: read $n bytes"
wait_log "^POST /GraphDriver.Diff " && [ "$(call Plugin.Activate)" != "" ] && ok "diff cut by the client" ||
	fail "after a cut diff: $(tail -3 "$top/log")"
n=$(call GraphDriver.Diff '{"ID":"L2"}' | tar -tf - | tr '\n' ' ')
[ "$n" = "big " ] && ok "full diff after a cut one" || fail "full diff: $n"

"$LAMINAD" --help | grep -q -- "--socket PATH" && ok "--help" || fail "--help"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc = 0 ] && [ ! -e "$sock" ] && ok "SIGTERM: exit 0, socket removed" || fail "SIGTERM: exit $rc, $(ls -l "$sock" 2>&1)"

# A socket file left by a laminad that was killed is replaced.
start || exit 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=
[ -S "$sock" ] || fail "no stale socket to test with"
start && ok "stale socket replaced"
# Socket activation (contrib/laminad.socket): systemd-socket-activate holds
# the socket and starts laminad at the first connection with the socket as
# fd 3; laminad serves on it and leaves it in place when it stops.
if command -v systemd-socket-activate >/dev/null; then
	stop_daemon
	asock=$top/activated.sock
	systemd-socket-activate -l "$asock" "$LAMINAD" --root "$top/root" 2>>"$top/log" &
	pid=$!
	for _ in $(seq 50); do [ -S "$asock" ] && break; sleep 0.1; done
	out=$(curl -s --unix-socket "$asock" -X POST http://plugin/Plugin.Activate)
	[ "$out" = '{"Implements":["VolumeDriver","GraphDriver"],"Err":""}' ] &&
		grep -q "the socket systemd passed" "$top/log" && ok "socket activation" ||
		fail "socket activation: $out; $(tail -3 "$top/log")"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	pid=
	[ $rc = 0 ] && [ -S "$asock" ] && ok "activated: exit 0, the socket left to systemd" ||
		fail "activated: exit $rc, socket $(ls -l "$asock" 2>&1)"
else
	echo "skipped: socket activation (no systemd-socket-activate)"
fi
finish
