#!/bin/sh
# tests/integration/cli-lamina-fuse.sh: the lamina-fuse program as runtimes
# and people run it: --version and --help, refused options, "BIN -o OPTS
# MERGED" returning only once the mount is usable, the mount.fuse3 forms,
# and the daemon ending at fusermount3 -u and at umount.
set -u
prog=${LAMINA_FUSE:?LAMINA_FUSE names the lamina-fuse to test}
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	echo "SKIP: needs root and /dev/fuse"
	exit 77
fi
. "${LAMINA_SRCDIR:?LAMINA_SRCDIR names the source tree}/tests/integration/cli-common.sh"

# The daemon serving mount point $1, or nothing.
daemon_of() {
	for p in /proc/[0-9]*; do
		case $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null) in
		*lamina-fuse*" $1"*) echo "${p#/proc/}" ;;
		esac
	done
}

# Waits up to 5 s for the daemon of $1 to be gone.
wait_gone() {
	i=0
	while [ -n "$(daemon_of "$1")" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -z "$(daemon_of "$1")" ]
}

mkdir -p "$top/l1" "$top/l2" "$top/u" "$top/w" "$top/m1" "$top/m2" "$top/m3"
echo top > "$top/l1/f"
echo bottom > "$top/l2/f"
echo only-bottom > "$top/l2/g"

out=$("$prog" --version) && case $out in "lamina-fuse version "*) ok "--version: $out" ;; *) fail "--version said '$out'" ;; esac
"$prog" --help | grep -q 'lowerdir=' && ok "--help" || fail "--help has no usage"

# Refused options: non-zero exit, the option named, nothing mounted.
for opt in uidmapping=:0:100000:65536 squash_to_uid=1000 xattr_permissions=2 bogus; do
	err=$("$prog" -o "lowerdir=$top/l1,$opt" "$top/m1" 2>&1) && fail "$opt was accepted"
	case $err in *"'$opt'"*) ok "refused $opt" ;; *) fail "$opt: message '$err' does not name it" ;; esac
done
mountpoint -q "$top/m1" && fail "a refused option left a mount"
err=$("$prog" -o "lowerdir=$top/nonexistent" "$top/m1" 2>&1) && fail "a missing lower was accepted"
case $err in *nonexistent*) ok "missing lower named" ;; *) fail "missing lower: '$err'" ;; esac

# podman's form: three arguments, empty option, returns once usable.
"$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u,workdir=$top/w,,volatile" "$top/m1" || fail "mount failed"
[ "$(cat "$top/m1/f" 2>&1)" = top ] && [ "$(cat "$top/m1/g" 2>&1)" = only-bottom ] &&
	ok "merged view usable on return" || fail "merged view not ready on return"
grep -q " $top/m1 fuse.lamina-fuse " /proc/mounts && ok "type fuse.lamina-fuse" || fail "mount type"
pid=$(daemon_of "$top/m1")
[ -n "$pid" ] || fail "no daemon"
fusermount3 -u "$top/m1" || fail "fusermount3 -u"
wait_gone "$top/m1" && ok "fusermount3 -u ends the daemon" || fail "daemon still there after fusermount3 -u"

# Read-only union; umount ends the daemon too.
"$prog" -o "lowerdir=$top/l1:$top/l2" "$top/m2" || fail "read-only mount failed"
echo x 2>/dev/null > "$top/m2/new" && fail "wrote into a read-only union"
grep " $top/m2 " /proc/mounts | grep -q ' ro[,]' && ok "read-only union mounted ro" || fail "not ro"
umount "$top/m2" || fail "umount"
wait_gone "$top/m2" && ok "umount ends the daemon" || fail "daemon still there after umount"

# mount(8)'s helper: "mount -t fuse PROG#SOURCE" and mount.fuse3 with -t.
mount -t fuse "$prog#lamina-src" "$top/m3" -o "lowerdir=$top/l1:$top/l2" || fail "mount -t fuse"
grep -q "^lamina-src $top/m3 fuse.lamina-fuse" /proc/mounts && ok "mount -t fuse PROG#SOURCE" || fail "mount -t fuse"
umount "$top/m3"
wait_gone "$top/m3" || fail "daemon of the mount -t fuse mount still there"
PATH="$(dirname "$prog"):$PATH" mount.fuse3 lamina-src2 "$top/m3" -t lamina-fuse -o "lowerdir=$top/l1" ||
	fail "mount.fuse3 -t lamina-fuse"
[ "$(cat "$top/m3/f" 2>&1)" = top ] && ok "mount.fuse3 SOURCE MNT -t lamina-fuse" || fail "mount.fuse3 form"
umount "$top/m3"

# FUSE over io_uring, where the kernel has it (6.14+): with the fuse
# module's enable_uring on, requests go through the workers pinned to each
# CPU ("uring-cpuN" threads); with uring=0, or enable_uring off, there are
# none and /dev/fuse serves. Both must give the same results.
param=/sys/module/fuse/parameters/enable_uring
# Voluntary context switches (each one a wake-up) summed over the threads
# of the daemon of $1 whose name matches the pattern $2, or "none" without
# such threads.
thread_switches() {
	total=none
	for t in /proc/$(daemon_of "$1")/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		$2) total=$(( ${total#none} + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status") )) ;;
		esac
	done
	echo "$total"
}
# Unmounts $1 and waits for its daemon to end; fails naming $2.
unmount_and_wait() {
	fusermount3 -u "$1"
	wait_gone "$1" || fail "$2: daemon still there after unmount"
}
# Writes and reads back 200 files through $1; fails naming $2.
uring_workload() {
	i=0
	while [ $i -lt 200 ]; do echo "file $i" > "$1/n$i" || fail "$2: write n$i"; i=$((i + 1)); done
	[ "$(cat "$1/n199")" = "file 199" ] && [ "$(ls "$1" | wc -l)" = 202 ] || fail "$2: contents"
	rm -f "$1"/n* || fail "$2: rm"
}
if [ -w "$param" ]; then
	for mode in on off; do
		if [ $mode = on ]; then set_kernel_param "$param" Y; else set_kernel_param "$param" N; fi
		rm -rf "$top/u" "$top/w" && mkdir "$top/u" "$top/w"
		"$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u,workdir=$top/w" "$top/m3" || fail "mount, enable_uring $mode"
		uring_workload "$top/m3" "enable_uring $mode"
		n=$(thread_switches "$top/m3" 'uring-cpu*')
		if [ $mode = on ]; then
			[ "$n" != none ] && [ "$n" -ge 200 ] && ok "enable_uring on: the uring workers served ($n wake-ups)" ||
				fail "enable_uring on: uring workers: $n"
		else
			[ "$n" = none ] && ok "enable_uring off: /dev/fuse only" || fail "enable_uring off: uring workers: $n"
		fi
		unmount_and_wait "$top/m3" "enable_uring $mode"
	done
	set_kernel_param "$param" Y
	rm -rf "$top/u" "$top/w" && mkdir "$top/u" "$top/w"
	"$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u,workdir=$top/w,uring=0" "$top/m3" || fail "mount uring=0"
	uring_workload "$top/m3" "uring=0"
	[ "$(thread_switches "$top/m3" 'uring-cpu*')" = none ] && ok "uring=0: /dev/fuse only" || fail "uring=0 made uring workers"
	# io_uring offered by FUSE but refused to the process (the
	# kernel.io_uring_disabled sysctl): no rings can be made, so the INIT
	# reply must not promise them (a promised ring that never comes would
	# hang every request); /dev/fuse serves
	sysctl=/proc/sys/kernel/io_uring_disabled
	if [ -w "$sysctl" ]; then
		set_kernel_param "$sysctl" 2
		timeout 20 "$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u,workdir=$top/w" "$top/m2" ||
			fail "mount with io_uring_disabled=2"
		[ "$(timeout 10 cat "$top/m2/f" 2>&1)" = top ] && [ "$(thread_switches "$top/m2" 'uring-cpu*')" = none ] &&
			ok "io_uring refused to the process: served through /dev/fuse" ||
			fail "io_uring_disabled=2: the mount does not answer, or has uring workers"
		set_kernel_param "$sysctl" 0
		unmount_and_wait "$top/m2" "io_uring_disabled=2"
	fi
	# SIGTERM ends a daemon whose rings are running, and its mount
	"$prog" -o "lowerdir=$top/l1,upperdir=$top/u,workdir=$top/w" "$top/m2" || fail "mount for SIGTERM"
	cat "$top/m2/f" > /dev/null
	kill -TERM "$(daemon_of "$top/m2")"
	wait_gone "$top/m2" && ok "SIGTERM ends a daemon serving through io_uring" || fail "SIGTERM: daemon still there"
	mountpoint -q "$top/m2" && fail "SIGTERM left the mount"
	fusermount3 -u "$top/m3"
else
	echo "# io_uring: no writable $param (kernel before 6.14, or not root): not tested"
fi

# Directory read-ahead (unionfs/dirahead.c): a listing wakes the "dirahead"
# thread, which reads the subdirectories below it; with dir_readahead=0 the
# thread does not exist. Either way the merged view is the same.
mkdir -p "$top/l1/ra/a/b" "$top/l1/ra/c" "$top/l2/ra/d"
expected=$(cd "$top/l1" && find ra | sort; cd "$top/l2" && find ra/d)
for opt in dir_readahead=1 dir_readahead=0; do
	"$prog" -o "lowerdir=$top/l1:$top/l2,$opt" "$top/m3" || fail "mount with $opt"
	before=$(thread_switches "$top/m3" dirahead)
	ls "$top/m3/ra" > /dev/null
	sleep 0.3
	after=$(thread_switches "$top/m3" dirahead)
	got=$(cd "$top/m3" && find ra | sort)
	[ "$got" = "$(echo "$expected" | sort)" ] || fail "$opt: the tree is '$got'"
	if [ $opt = dir_readahead=1 ]; then
		[ "$after" != none ] && [ "$after" -gt "$before" ] && ok "$opt: a listing sets the read-ahead thread to work" ||
			fail "$opt: read-ahead thread wake-ups $before -> $after"
	else
		[ "$after" = none ] && ok "$opt: no read-ahead thread" || fail "$opt: a read-ahead thread ran ($after)"
	fi
	unmount_and_wait "$top/m3" "$opt"
done

# Attributes asked for again after a listing (unionfs/refresh.c): the
# kernel drops a directory's attributes when it lists it, and the daemon's
# "refresh" thread stats it through a private clone of the mount, so the
# next stat of it is answered from the kernel's cache. Seen in -d's log: the
# stat after a listing sends no GETATTR of its own with dir_refresh=1, one
# with dir_refresh=0.
mkdir -p "$top/u2" "$top/w2" "$top/l1/rf/sub"
for opt in dir_refresh=1 dir_refresh=0; do
	rm -rf "$top/u2" "$top/w2" && mkdir "$top/u2" "$top/w2"
	"$prog" -d -o "lowerdir=$top/l1,upperdir=$top/u2,workdir=$top/w2,$opt" "$top/m3" 2> "$top/debug.log" &
	i=0
	while ! mountpoint -q "$top/m3" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	ls "$top/m3/rf" > /dev/null
	sleep 1 # the refresh comes 2 ms after the listing; a loaded CI machine may be slow
	stat_pid=$(sh -c 'echo $$ > "$1/stat.pid"; exec stat "$1/m3/rf" > /dev/null' sh "$top"; cat "$top/stat.pid")
	asked=$(grep -c "opcode: GETATTR.*pid: $stat_pid\$" "$top/debug.log")
	if [ $opt = dir_refresh=1 ]; then
		[ "$asked" = 0 ] && ok "$opt: a stat after a listing is answered from the cache" ||
			fail "$opt: the stat after a listing sent $asked GETATTR"
	else
		[ "$asked" -ge 1 ] && ok "$opt: the stat after a listing asks the daemon" ||
			fail "$opt: the stat after a listing sent no GETATTR (is the log format the same?)"
	fi
	unmount_and_wait "$top/m3" "$opt"
	wait
done
# The race (see refresh.c): a refresh's GETATTR reads the attributes, a
# mkdir changes the directory and the kernel drops them, then the refresh's
# answer lands. The test hook holds that answer for 400 ms, so the mkdir
# falls inside every time; the next stat must still count the new link.
LAMINA_FUSE_TEST_REFRESH_HOLD_MS=400 "$prog" -o "lowerdir=$top/l1,upperdir=$top/u2,workdir=$top/w2" "$top/m3" ||
	fail "mount for the refresh race"
mkdir "$top/m3/race"
links=$(stat -c %h "$top/m3/race")
ls "$top/m3/race" > /dev/null
sleep 0.1
mkdir "$top/m3/race/new"
sleep 0.6
[ "$(stat -c %h "$top/m3/race")" = $((links + 1)) ] && ok "a mkdir inside a refresh's answer shows in the link count" ||
	fail "stale link count after a mkdir inside a refresh: $(stat -c %h "$top/m3/race"), want $((links + 1))"
unmount_and_wait "$top/m3" "refresh race"
# umount right after a walk succeeds (the refresh never holds the user's
# mount), and the daemon then ends (it lets its clone go).
busy=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u2,workdir=$top/w2" "$top/m3" || fail "mount $i for umount"
	find "$top/m3" > /dev/null
	umount "$top/m3" || busy=$((busy + 1))
	wait_gone "$top/m3" || fail "umount after a walk: daemon still there ($i)"
done
[ $busy = 0 ] && ok "umount right after a walk: no EBUSY, the daemon ends (10 times)" || fail "umount failed $busy times of 10"
"$prog" -o "lowerdir=$top/l1:$top/l2,upperdir=$top/u2,workdir=$top/w2" "$top/m3" || fail "mount for SIGTERM"
find "$top/m3" > /dev/null
kill -TERM "$(daemon_of "$top/m3")"
wait_gone "$top/m3" && ok "SIGTERM right after a walk ends the daemon" || fail "SIGTERM after a walk: daemon still there"
mountpoint -q "$top/m3" && fail "SIGTERM after a walk left the mount"

# -f stays in the foreground until unmounted.
"$prog" -f -o "lowerdir=$top/l1" "$top/m3" &
fg=$!
i=0
while ! mountpoint -q "$top/m3" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$fg" 2>/dev/null && ok "-f: still running while mounted" || fail "-f returned early"
fusermount3 -u "$top/m3"
wait "$fg" && ok "-f: exits 0 at unmount" || fail "-f: non-zero exit at unmount"

finish
