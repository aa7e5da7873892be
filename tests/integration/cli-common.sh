# tests/integration/cli-common.sh: sourced by the cli-*.sh tests: a scratch
# folder $top that is unmounted and removed at exit, ok/fail reporting, and
# finish (the summary line and the exit status, failing on any sanitizer
# report), and set_kernel_param, whose changes are undone at exit. A script
# that sets CLI_NEEDS (words: root, fuse, jq) before sourcing is skipped (77)
# with the reason when the machine lacks one.
for need in ${CLI_NEEDS:-}; do
	case $need in
	root) [ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; } ;;
	fuse) [ -c /dev/fuse ] || { echo "SKIP: needs /dev/fuse"; exit 77; } ;;
	*) command -v "$need" >/dev/null || { echo "SKIP: needs $need"; exit 77; } ;;
	esac
done
top=$(mktemp -d "${TMPDIR:-/tmp}/lamina-cli-XXXXXX")
fails=0
# In a sanitizer build, the programs the test runs report into $top
# (sanitizer.PID) instead of a stderr that a daemon has closed, and finish
# fails on any report: a leak at a daemon's exit, say.
if [ -n "${ASAN_OPTIONS:-}${UBSAN_OPTIONS:-}" ]; then
	case ${ASAN_OPTIONS:-} in *log_path=*) ;; *) export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$top/sanitizer" ;; esac
	case ${UBSAN_OPTIONS:-} in *log_path=*) ;; *) export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$top/sanitizer" ;; esac
fi
# "FILE VALUE" lines: kernel settings a test changed, put back at exit
# (set_kernel_param), even when the test is cut short.
params_saved=$top.params
set_kernel_param() {
	grep -q "^$1 " "$params_saved" 2>/dev/null || echo "$1 $(cat "$1")" >> "$params_saved"
	echo "$2" > "$1"
}
cleanup() {
	if [ -f "$params_saved" ]; then
		while read -r file value; do echo "$value" > "$file"; done < "$params_saved"
		rm -f "$params_saved"
	fi
	grep -o " $top/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	losetup -a 2>/dev/null | grep "($top/" | cut -d: -f1 | while read -r d; do losetup -d "$d"; done
	rm -rf "$top"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }
finish() {
	for report in "$top"/sanitizer.*; do
		[ -f "$report" ] || continue
		fail "sanitizer report $(basename "$report"):"
		head -40 "$report"
	done
	echo "$fails failed"
	[ "$fails" = 0 ]
}
