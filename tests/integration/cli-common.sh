# tests/integration/cli-common.sh: sourced by the cli-*.sh tests: a scratch
# folder $top that is unmounted and removed at exit, ok/fail reporting, and
# finish (the summary line and the exit status).
top=$(mktemp -d "${TMPDIR:-/tmp}/lamina-cli-XXXXXX")
fails=0
cleanup() {
	grep -o " $top/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$top"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }
finish() {
	echo "$fails failed"
	[ "$fails" = 0 ]
}
