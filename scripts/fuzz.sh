#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of user files (libFuzzer + AddressSanitizer): builds the
# separate package Fuzz/LorikeetFuzz (never part of the main build) and runs one target, or all
# in turn, for SECONDS each. Corpora grow in .fuzz/corpus/<Target> (gitignored), seeded from the
# committed Fuzz/Seeds/<Target> (scripts/make_fuzz_seeds.py) and .fuzz/local-seeds/<Target> when
# present; crashes, timeouts and OOMs land in .fuzz/artifacts/<Target>/, logs in .fuzz/logs/.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]      e.g. scripts/fuzz.sh FuzzGGUF 600
#   FUZZ_FLAGS="-jobs=2" scripts/fuzz.sh ...    extra libFuzzer flags
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${1:-all}"
seconds="${2:-60}"
pkg=Fuzz/LorikeetFuzz
flags=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library --package-path "$pkg")
swift build "${flags[@]}"
bin="$(swift build "${flags[@]}" --show-bin-path)"
if [[ "$target" == all ]]; then
    targets=($(grep -o '"Fuzz[A-Za-z]*"' "$pkg/Package.swift" | tr -d '"' | grep -v '^FuzzSupport$' | awk '!seen[$0]++'))
else
    targets=("$target")
fi
mkdir -p .fuzz/logs
# Swift's runtime keeps metadata caches alive to exit: leak reports there are noise.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0}"
for t in "${targets[@]}"; do
    mkdir -p ".fuzz/corpus/$t" ".fuzz/artifacts/$t"
    dirs=(".fuzz/corpus/$t" "Fuzz/Seeds/$t")
    [[ -d ".fuzz/local-seeds/$t" ]] && dirs+=(".fuzz/local-seeds/$t")
    echo "== $t for ${seconds}s"
    # -rss_limit_mb also caps single allocations (malloc_limit_mb): an unbounded allocation is an OOM finding.
    set +e
    "$bin/$t" "${dirs[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="$root/.fuzz/artifacts/$t/" -print_final_stats=1 ${FUZZ_FLAGS:-} > ".fuzz/logs/$t.log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' ".fuzz/logs/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' ".fuzz/logs/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' ".fuzz/logs/$t.log" | tail -1)
    found=$(ls ".fuzz/artifacts/$t" | wc -l)
    echo "$t: rc $rc, ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-no coverage line}, $found artifact(s)"
done
