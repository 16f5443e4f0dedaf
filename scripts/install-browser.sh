#!/bin/sh
# Headless Chromium for the web app's tests and benchmark: Debian's chromium and
# chromium-driver packages, which Selenium drives by path (never a browser download).
# Installs them when missing and it can (root with apt-get); otherwise says what to install.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
    exit 0
fi
echo "The web app's browser tests need Debian's chromium and chromium-driver packages:" >&2
echo "    sudo apt-get install chromium chromium-driver" >&2
exit 1
