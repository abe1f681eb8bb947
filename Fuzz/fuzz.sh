#!/usr/bin/env bash
# Builds xlate's libFuzzer targets (the Fuzz/ package, under -sanitize=fuzzer,address) and runs each for a bounded
# time. The committed seeds (Fuzz/corpus/TARGET) are read, never written; the working corpus and any crash, timeout
# or out-of-memory input go to .fuzz/ (gitignored). Exits non-zero if any fuzzer found something.
#
#   Fuzz/fuzz.sh                          every target, FUZZ_SECONDS (60) each
#   FUZZ_SECONDS=600 Fuzz/fuzz.sh config  one target, longer
#   .fuzz/build/release/FuzzConfig .fuzz/artifacts/config/crash-…   replay one input
set -uo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config vocabulary pytorch tokenizer)

# SwiftPM's --sanitize=fuzzer makes the C targets instrumented and the link libFuzzer's (no Swift main). For Swift
# code it is not enough: SwiftPM passes each --sanitize as its own -sanitize= flag, and swiftc keeps only the last,
# so Swift code would get ASan but no coverage; the trailing -Xswiftc -sanitize=fuzzer,address gives it both.
# -enable-testing: the fuzzers call xlate's internal parsers (@testable import). -parse-as-library: libFuzzer has main.
"$SWIFT" build --package-path Fuzz --scratch-path .fuzz/build -c release \
    --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    -Xswiftc -enable-testing -Xswiftc -parse-as-library || exit 1

# Crashes are libFuzzer's to report (Swift's backtracer would catch them first); leaks are not findings here, as in
# `make test-asan` (Foundation's own allocations are reported as leaks).
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

failed=()
for target in "${targets[@]}"; do
    case "$target" in
        safetensors) binary=FuzzSafeTensors dict=safetensors ;;
        config) binary=FuzzConfig dict=json ;;
        vocabulary) binary=FuzzVocabulary dict=json ;;
        pytorch) binary=FuzzPyTorch dict=pytorch ;;
        tokenizer) binary=FuzzTokenizer dict=tokenizer ;;
        *) echo "unknown fuzz target '$target' (safetensors, config, vocabulary, pytorch, tokenizer)" >&2; exit 64 ;;
    esac
    mkdir -p ".fuzz/corpus/$target" ".fuzz/artifacts/$target"
    echo "== $target: $FUZZ_SECONDS s"
    # A run ends at -max_total_time; -timeout (s per input), -rss_limit_mb and -malloc_limit_mb turn hangs and huge
    # allocations into findings.
    ".fuzz/build/release/$binary" \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -detect_leaks=0 \
        -dict="Fuzz/dict/$dict.dict" -artifact_prefix=".fuzz/artifacts/$target/" -print_final_stats=1 \
        ".fuzz/corpus/$target" "Fuzz/corpus/$target" 2>&1 | tee ".fuzz/$target.log" | grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|==[0-9]+==|SUMMARY|Fatal|.*invariant violated|stat::number_of_executed_units|stat::peak_rss_mb|artifact_prefix|Test unit written)'
    status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] || failed+=("$target (exit $status; log .fuzz/$target.log)")
done

if [ ${#failed[@]} -gt 0 ]; then
    printf 'fuzzing found problems in: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "fuzzing: no findings (${targets[*]}; $FUZZ_SECONDS s each)"
