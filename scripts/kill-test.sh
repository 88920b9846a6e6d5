#!/usr/bin/env bash
# The kill -9 test at length: the release `lorikeet` binary is SIGKILLed at N random instants
# (default 500; CI runs 50) of a 400-step run that checkpoints every step, and restarted with
# --resume each time; the losses and the adapter must equal an uninterrupted run's bit for bit.
#   bash scripts/kill-test.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing --build-tests
LORIKEET_KILLS="${1:-500}" swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing \
    --filter CommandTests.testKilledAtRandomInstantsResumesBitIdentically
