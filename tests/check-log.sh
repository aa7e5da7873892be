#!/bin/sh
# Log compiler for Check binaries: everything goes to the test's .log, and
# Check's summary line ("100%: Checks: N, Failures: F, Errors: E") is copied to
# fd 9, which AM_TESTS_FD_REDIRECT ties to the terminal (STYLE.md section 4).
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' >&9 2>/dev/null
exit $rc
