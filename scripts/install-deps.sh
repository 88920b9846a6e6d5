#!/usr/bin/env bash
# Installs the system packages Lorikeet builds against, when they are missing:
# OpenBLAS (cblas.h, libopenblas) from Debian. macOS uses Accelerate: nothing to do.
# `install-deps.sh mpi` also installs Open MPI's launcher and library (openmpi-bin), which
# multi-process training (mpirun … lorikeet train) loads at run time; builds never need it.
set -euo pipefail
if [ "$(uname)" = "Darwin" ]; then
    if [ "${1:-}" = mpi ] && ! command -v mpirun > /dev/null; then echo "install Open MPI: brew install open-mpi" >&2; exit 1; fi
    exit 0
fi
if [ "${1:-}" = mpi ] && ! command -v mpirun > /dev/null; then
    echo "installing openmpi-bin …" >&2
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openmpi-bin > /dev/null
fi
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
