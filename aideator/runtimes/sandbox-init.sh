#!/bin/sh
# The first process of a variation's sandbox: opens the bridge to the gateway, runs the
# agent, and ends with its exit status.
#
# usage: sandbox-init.sh PORT [--egress EGRESS_PORT] COMMAND [ARG ...]
# The sandbox has a network namespace of its own (only its loopback). The service serves
# the gateway on a Unix socket, mounted at /run/aideator/gateway.sock; socat listens on
# 127.0.0.1:PORT inside and forwards each connection to it, so the agent reaches the
# gateway at http://127.0.0.1:PORT and nothing else. The socket is looked up per
# connection: one the service re-creates after a restart is found.
# With --egress (the run's setup sandbox only), a second socat turns
# /run/aideator/egress.sock, the setup egress proxy, into 127.0.0.1:EGRESS_PORT.
#
# Exit status: COMMAND's (128+N when a signal N ended it, as shells report it). 125 when
# the bridge could not be opened, with a message on stderr (the variation's output).
port=$1
shift
egress=
if [ "$1" = "--egress" ]; then
    egress=$2
    shift 2
fi
# The agent's PATH may name directories the sandbox does not hold; the system's own come
# last, so socat and the tools below are found whatever PATH the service was given.
PATH="${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin"
# Wait until socat listens (state 0A in /proc/net/tcp), so the agent's first request
# is never refused: the kernel's table, not a connection attempt that socat would forward.
listening() {
    hex=$(printf '%04X' "$1")
    tries=0
    until grep -q "^ *[0-9]*: 0100007F:$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null; do
        if ! kill -0 "$2" 2>/dev/null || [ "$tries" -ge 500 ]; then
            echo "aideator sandbox: the $3 bridge (socat on 127.0.0.1:$1) did not start" >&2
            exit 125
        fi
        tries=$((tries + 1))
        sleep 0.01
    done
}
socat "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" UNIX-CONNECT:/run/aideator/gateway.sock &
bridge=$!
listening "$port" "$bridge" gateway
proxy=
if [ -n "$egress" ]; then
    socat "TCP-LISTEN:$egress,bind=127.0.0.1,fork,reuseaddr" UNIX-CONNECT:/run/aideator/egress.sock &
    proxy=$!
    listening "$egress" "$proxy" egress
fi
"$@" &
child=$!
# The launcher signals this whole process group, so the agent gets the signal directly
# (once: passing it on again would reach an agent already stopping, and Python, say,
# dies of a second SIGTERM while it finalizes). The trap only keeps this process, and
# with it the sandbox, alive until the agent has ended: bwrap tears the sandbox down
# (SIGKILL to all) once its first process exits.
trap : TERM INT HUP
while :; do
    wait "$child"
    code=$?
    kill -0 "$child" 2>/dev/null || break
done
# The child may have ended while a trap interrupted that wait (whose status is then the
# signal's, 128+N): ask again, the shell keeps the child's own status.
wait "$child"
code=$?
kill "$bridge" $proxy 2>/dev/null
exit "$code"
