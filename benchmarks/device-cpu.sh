#!/usr/bin/env bash
# Runs bench-x86 on a machine that has no LLVM 22 toolchain and no network (the GPU machine's
# 16-core host CPU): the Debian packages ternc needs (libllvm22, libmlir-22, lld-22 and their
# libraries) and the binaries built on the development machine travel in two git-ignored
# folders, because one transfer holds at most 64 MiB:
#
#   .devkit1/  libllvm22, libz3-4, libedit2 .debs; llama/ (llama.cpp's bin/: llama-bench,
#              llama-quantize and their libraries)
#   .devkit2/  libmlir-22, lld-22, liblld-22, libicu72, libxml2 .debs; bitnet/ (bitnet.cpp's
#              llama-bench, llama-quantize)
#   .devkit3/  bin/{ternc,tern,make_synthetic_model,tern-bandwidth} from this checkout's build
#
# Ignored folders do not stay on that machine between transfers, so one transfer must hold
# everything: ternc alone fits as .devkit4/ (libllvm22, libmlir-22, lld-22, liblld-22, libz3-4,
# libedit2 and bin/, ~57 MiB; the machine's own libxml2 is used) and llama.cpp as a 3.6 MB
# source archive (llama-src.txz) that is built there; bitnet.cpp does not fit.
#
# Usage: benchmarks/device-cpu.sh unpack             (first transfer: .devkit1)
#        benchmarks/device-cpu.sh bench ARGS...      (second: .devkit2 and .devkit3; runs
#                                                     bench-x86 ARGS, results under $OUT)
# tern-bandwidth for this is built for x86-64-v3, since the other machine's CPU may lack
# some AVX-512 subsets of the development machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit="$root/.devkit-root"
out="${OUT:-$root/.devkit-out}"
mkdir -p "$kit" "$out"

unpack() {
  for deb in .devkit*/*.deb; do
    [ -f "$deb" ] && dpkg -x "$deb" "$kit"
  done
  mkdir -p build-device/bin
  for bin in .devkit*/bin; do
    [ -d "$bin" ] && cp "$bin"/* build-device/bin/
  done
  return 0
}

# Builds llama.cpp there from a source archive in a kit (its CMakeLists.txt, cmake, ggml, src,
# common, tools, include, vendor, app, LICENSE, licenses; GPU backends left out) and prints
# the build directory, or nothing when no kit holds one.
build_llama() {
  local archive
  archive=$(ls .devkit*/llama-src.t* 2>/dev/null | head -1)
  [ -n "$archive" ] || return 0
  local src="$root/.devkit-llama"
  mkdir -p "$src" && tar xf "$archive" -C "$src"
  cmake -G Ninja -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF >"$out/llama-cmake.log" 2>&1 &&
    cmake --build "$src/build" -j "$(nproc)" --target llama-bench llama-quantize \
      >"$out/llama-build.log" 2>&1 && echo "$src/build"
}

case "${1:-}" in
  unpack)
    unpack
    lscpu >"$out/lscpu.txt"
    nproc
    grep -m1 "model name" /proc/cpuinfo
    grep -o -w 'avx512[a-z_0-9]*\|avx2\|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '
    echo
    ;;
  bench)
    shift
    unpack
    export LD_LIBRARY_PATH="$kit/usr/lib/x86_64-linux-gnu:$kit/usr/lib/llvm-22/lib:$root/.devkit1/llama${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export PATH="$kit/usr/lib/llvm-22/bin:$kit/usr/bin:$PATH"
    llama=$(build_llama)
    [ -n "$llama" ] || llama="$root/.devkit1/llama"
    LLAMA_CPP_BUILD="$llama" BITNET_CPP_BUILD="$root/.devkit2/bitnet" \
      TERN_BUILD="$root/build-device" python3 benchmarks/bench-x86 --out-dir "$out" "$@"
    ;;
  *)
    echo "usage: $0 unpack | bench [bench-x86 arguments]" >&2
    exit 2
    ;;
esac
