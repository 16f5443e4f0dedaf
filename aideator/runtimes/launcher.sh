#!/bin/sh
# Runs one variation's command and records how it ended.
#
# usage: launcher.sh DIRECTORY COMMAND [ARG ...]
# Runs COMMAND in DIRECTORY, writes its own pid to DIRECTORY/launcher.pid at once, and
# DIRECTORY/exit.json ({"exit_code": N}, N > 128
# meaning "killed by signal N-128", as shells report it) when it ends.
#
# The service may be restarted while a variation runs; the launcher outlives it (its own
# session) and leaves the exit status in a file, so the restarted service learns the
# outcome of a process that is no longer its child. A shell script on purpose: it starts
# in a millisecond, where an interpreter would cost tens of them per variation.
cd "$1" || exit 127
shift
# Who runs this variation, for a service (or another replica) that did not start it.
echo "$$" > launcher.pid   # one write(2): a reader sees all of it or nothing
"$@" &
child=$!
# A signal aimed at the launcher alone is passed on (one sent to the whole process group
# reaches the child directly; passing it again is harmless).
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
trap 'kill -HUP "$child" 2>/dev/null' HUP
while :; do
    wait "$child"
    code=$?
    # A trapped signal ends the wait early (with 128+N) while the child still runs.
    kill -0 "$child" 2>/dev/null || break
done
printf '{"exit_code": %d}\n' "$code" > exit.json.tmp && mv exit.json.tmp exit.json
exit "$code"
