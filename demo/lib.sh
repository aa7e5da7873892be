# demo/lib.sh: sourced by the demos (demo.sh, image-demo.sh): how a demo
# shows its commands, finds its program and insists on root.

if [ -t 1 ]; then
	bold=$(printf '\033[1m') plain=$(printf '\033[0m')
else
	bold='' plain=''
fi
# step 'COMMAND': shows the command as typed, then runs it.
step() {
	printf '\n%s$ %s%s\n' "$bold" "$1" "$plain"
	eval "$1"
}
# say LINE...: a comment, one line per argument.
say() {
	printf '\n'
	printf '# %s\n' "$@"
}

# program_path DEMO PROGRAM: PROGRAM (a path, or a name looked up in PATH)
# as an absolute path, or the demo stops with the reason.
program_path() {
	case $2 in
	*/*) p=$(cd "$(dirname "$2")" 2>/dev/null && pwd)/$(basename "$2") ;;
	*) p=$(command -v "$2" || true) ;;
	esac
	if [ -z "$p" ] || [ ! -x "$p" ]; then
		echo "$1: $2 not found; build it first or pass its path" >&2
		exit 1
	fi
	echo "$p"
}

# need_root DEMO WHY ARGS...: the demo stops unless run as root.
need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		demo=$1 why=$2
		shift 2
		echo "$demo: needs root ($why): sudo $demo $*" >&2
		exit 1
	fi
}
