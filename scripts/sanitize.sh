#!/usr/bin/env bash
# The test suite under a sanitizer: AddressSanitizer (out-of-bounds, use-after-free) or
# ThreadSanitizer (data races in the thread pool and the parallel kernels). Release build with
# -enable-testing, as scripts/test.sh does, in its own scratch folder (.build-asan / .build-tsan)
# so .build is left alone. Extra arguments go to `swift test`, e.g. a filter:
#
#   scripts/sanitize.sh address
#   scripts/sanitize.sh thread --filter TensorCoreTests
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-address}"
shift || true
case "$kind" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "usage: scripts/sanitize.sh [address|thread] [swift test arguments…]" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh
bash scripts/fetch-smollm2.sh > /dev/null
bash scripts/fetch-gemma3.sh > /dev/null
flags=(-c release -Xswiftc -enable-testing --sanitize="$kind" --scratch-path "$scratch")
# Leak reports are off by default: the Swift runtime keeps metadata and caches to exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0}"
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build --disable-swift-testing "$@"
