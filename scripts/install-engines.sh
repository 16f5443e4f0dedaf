#!/bin/sh
# The vendors' CLIs the agent runs besides Claude Code (Codex CLI, Gemini CLI), into
# agent/node_modules exactly as agent/package-lock.json pins them (integrity hashes; no
# install scripts run: each CLI ships prebuilt, Codex's native binary inside its package).
# Needs Node.js 20+ and npm: installed with apt when missing and it can (root).
set -eu
cd "$(dirname "$0")/../agent"
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
    else
        # Not fatal: Claude Code needs neither; codex and gemini variations then fail,
        # saying their CLI is missing (and so do their tests).
        echo "The Codex and Gemini engines need Node.js 20+ and npm, not installed:" >&2
        echo "    sudo apt-get install nodejs npm && sh scripts/install-engines.sh" >&2
        exit 0
    fi
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
