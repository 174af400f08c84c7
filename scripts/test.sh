#!/usr/bin/env bash
# Builds everything and runs every test suite: the full build, the runtime-only build
# (no LLVM), and the file readers under AddressSanitizer + UndefinedBehaviorSanitizer.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh || exit 1

jobs=${TERN_JOBS:-$(nproc)}
passed=0
failed=0
status=0

# Runs ctest in |build_dir| with extra ctest args, adding its counts to the totals.
run_suite() {
  local name=$1 build_dir=$2
  shift 2
  echo "== $name"
  local log
  log=$(mktemp)
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "$name: ctest printed no summary"
    failed=$((failed + 1))
    status=1
  else
    local total bad
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    bad=$(sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
    [ "$bad" -eq 0 ] || status=1
  fi
  rm -f "$log"
}

build() {
  local dir=$1
  shift
  local targets=()
  ((${#TERN_BUILD_TARGETS[@]})) && targets=(--target "${TERN_BUILD_TARGETS[@]}")
  cmake -G Ninja -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

TERN_BUILD_TARGETS=()
if build build; then
  run_suite "full build" build
else
  echo "full build: FAILED to build"; failed=$((failed + 1)); status=1
fi

if build build-runtime -DTERN_BUILD_COMPILER=OFF; then
  run_suite "runtime alone (no LLVM)" build-runtime
else
  echo "runtime-only build: FAILED to build"; failed=$((failed + 1)); status=1
fi

# The readers parse untrusted bytes: run their tests under ASan + UBSan.
TERN_BUILD_TARGETS=(GGUFTests gguf-crosscheck-tool SafeTensorsTests)
# The ONNX reader parses untrusted bytes too, where its dependencies are installed.
if dpkg -s libonnx-dev >/dev/null 2>&1; then
  TERN_BUILD_TARGETS+=(ONNXTests onnx-conformance)
fi
if build build-sanitize -DTERN_ENABLE_SANITIZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite "readers under ASan+UBSan" build-sanitize -L readers
else
  echo "sanitizer build: FAILED to build"; failed=$((failed + 1)); status=1
fi

echo "$passed passed, $failed failed"
exit $status
