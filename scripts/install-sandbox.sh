#!/bin/sh
# What the local runtime's agent sandbox needs: Debian's bubblewrap (bwrap) and socat (the
# bridge to the gateway inside each sandbox). Installs them when missing and it can (root
# with apt-get); otherwise says what to install, and how to run without a sandbox.
set -eu
if command -v bwrap >/dev/null 2>&1 && command -v socat >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap socat
    exit 0
fi
echo "The agents' sandbox needs Debian's bubblewrap and socat packages:" >&2
echo "    sudo apt-get install bubblewrap socat" >&2
echo "(or set AIDEATOR_SANDBOX=off to run agents unsandboxed, as your own user)" >&2
exit 1
