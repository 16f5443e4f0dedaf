#!/bin/sh
# Runs one variation's command and records how it ended.
#
# usage: launcher.sh [--sandbox] [--cgroup GROUP ...] DIRECTORY COMMAND [ARG ...]
# Runs COMMAND in DIRECTORY, writes its own pid to DIRECTORY/launcher.pid at once, and
# DIRECTORY/exit.json ({"exit_code": N}, N > 128
# meaning "killed by signal N-128", as shells report it) when it ends.
#
# With --sandbox, COMMAND is a bwrap command line (see sandbox.py) that writes the
# sandbox's pid to file descriptor 3: the launcher keeps it in DIRECTORY/sandbox.json.
# bwrap runs in a session of its own, because a SIGTERM sent to the launcher's process
# group would kill bwrap at once and the sandbox with it (SIGKILL, no chance to stop
# cleanly); the launcher passes TERM/INT/HUP on to the sandbox's own process group
# instead. bwrap dies with the launcher (--die-with-parent), so a SIGKILL to the
# launcher's group still ends everything.
#
# The service may be restarted while a variation runs; the launcher outlives it (its own
# session) and leaves the exit status in a file, so the restarted service learns the
# outcome of a process that is no longer its child. A shell script on purpose: it starts
# in a millisecond, where an interpreter would cost tens of them per variation.
sandbox=
groups=
while :; do
    case "$1" in
        --sandbox) sandbox=1; shift ;;
        --cgroup) groups="$groups $2"; shift 2 ;;
        *) break ;;
    esac
done
cd "$1" || exit 127
shift
# The variation's control groups (limits.py), joined before anything starts, so every
# process it ever has is counted, capped and killed with them. Not joined: not started.
for group in $groups; do
    if ! echo "$$" > "$group/cgroup.procs"; then
        echo "aideator: could not join the variation's control group $group" >&2
        printf '{"exit_code": 125}\n' > exit.json.tmp && mv exit.json.tmp exit.json
        exit 125
    fi
done
# Who runs this variation, for a service (or another replica) that did not start it.
echo "$$" > launcher.pid   # one write(2): a reader sees all of it or nothing
if [ -n "$sandbox" ]; then
    setsid -w "$@" 3>sandbox.json &
else
    "$@" &
fi
child=$!
# Where a signal goes: the sandbox's process group once bwrap has said which it is (its
# first process is a session leader, see --new-session), else the child itself.
target() {
    if [ -n "$sandbox" ]; then
        pid=$(sed -n 's/^ *"child-pid": *\([0-9][0-9]*\).*/\1/p' sandbox.json 2>/dev/null)
        # Only a process bwrap started (its parent is our child): never a stale number.
        if [ -n "$pid" ] && [ "$(cut -d' ' -f4 "/proc/$pid/stat" 2>/dev/null)" = "$child" ]; then
            echo "-$pid"
            return
        fi
    fi
    echo "$child"
}
# A signal aimed at the launcher alone is passed on (one sent to the whole process group
# reaches an unsandboxed child directly; passing it again is harmless).
trap 'kill -TERM $(target) 2>/dev/null' TERM
trap 'kill -INT $(target) 2>/dev/null' INT
trap 'kill -HUP $(target) 2>/dev/null' HUP
while :; do
    wait "$child"
    code=$?
    # A trapped signal ends the wait early (with 128+N) while the child still runs.
    kill -0 "$child" 2>/dev/null || break
done
# The child may have ended while a trap interrupted that wait (whose status is then the
# signal's, 128+N): ask again, the shell keeps the child's own status.
wait "$child"
code=$?
printf '{"exit_code": %d}\n' "$code" > exit.json.tmp && mv exit.json.tmp exit.json
exit "$code"
