#!/usr/bin/env bash
# Installs the system packages Lorikeet builds against, when they are missing:
# OpenBLAS (cblas.h, libopenblas) from Debian. macOS uses Accelerate: nothing to do.
set -euo pipefail
if [ "$(uname)" = "Darwin" ]; then exit 0; fi
have_cblas() {
    [ -e /usr/include/cblas.h ] || ls /usr/include/*/cblas.h > /dev/null 2>&1
}
if ! have_cblas; then
    echo "installing libopenblas-dev …" >&2
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev > /dev/null
fi
