#!/usr/bin/env bash
# CPU kernels that need ISA extensions the development machine may lack (the tl2_t64 lookup-table
# kernels need AVX-512 VBMI, the prefill tiles AMX-INT8), checked and timed on the GPU
# machine's host CPU (Sapphire Rapids: AVX-512 with VNNI and VBMI, AMX), which has no LLVM 22
# and no network.
#
#   benchmarks/device-cpu-kernels.sh pack     (here) into the git-ignored .devkit-cpu/: the
#                     Debian packages the code generator loads and runs (libllvm22, libmlir-22,
#                     libz3-4, libedit2, lld-22, liblld-22), CodegenTests, EndToEndTests, ternc, tern, make_synthetic_model
#                     and tern-bandwidth from $TERN_BUILD (a build configured with
#                     -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON: protobuf would not fit), xz-
#                     compressed, and the hf-bitnet checkpoints with their goldens
#   benchmarks/device-cpu-kernels.sh run [STEP...]   (there, carrying .devkit-cpu) runs the
#                     steps named (default: all) and writes under $OUT:
#     lscpu.txt      the CPU
#     kernels.txt    the ternary_matmul kernels (i2_b128 on every target, tl2_t64, AMX tiles)
#                    against the reference twin (CodegenTests), exact
#     goldens.txt    the hf-bitnet transformers goldens with x86-64-v4 and with
#                    x86-64-v4 + tl2_t64 artifacts (EndToEndTests)
#     attention.txt  the attention kernels against the reference twin on every target, and
#                    their 1-thread speed with and without the prefill tiles (AttentionTest,
#                    AttentionPerf)
#     lut.txt        1-thread prefill GEMM of the x86-64-v3 kernels with and without the lookup
#                    tables (--lut-prefill) on this Intel core (TernaryMatmulPerf)
#     gemv.txt       1-thread GEMV (streaming from DRAM) and prefill GEMM speed of the generated
#                    kernels at the 2B-4T shapes, i2_b128 (vector and AMX prefill) and tl2_t64,
#                    with the read bandwidth probe (CodegenTests' TernaryMatmulPerf)
#     bench.txt      the synthetic 2B-4T model compiled for native in each of VARIANTS: i2
#                    (--ternary-packing=i2 --amx=off), tl2 (--ternary-packing=tl2 --amx=off),
#                    amx (--ternary-packing=i2 --amx=on), and i2-128 and amx-128, the same
#                    with 128-row prefill batches (--max-batch-rows=128); the amx artifact's logits of a 100-token
#                    prompt compared with i2's (they must be identical); `tern bench --json` at
#                    1 and 16 threads in alternation, and tern-bandwidth at the same thread
#                    counts (LM_HEADS="q6 f16", THREADS="1 16", ROUNDS=2, VARIANTS="i2 tl2 amx"
#                    by default)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
kit="$root/.devkit-cpu"
out="${OUT:-$root/.devkit-cpu-out}"
build="${TERN_BUILD:-build}"
# shellcheck source=devkit-common.sh
source "$root/benchmarks/devkit-common.sh"

pack() {
  rm -rf "$kit" && mkdir -p "$kit/bin" "$kit/data"
  if ldd "$build/bin/ternc" | grep -q "libprotobuf\|libonnx"; then
    echo "$build/bin/ternc links protobuf/libonnx, which the GPU machine lacks; configure a" \
      "build with -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON and pass it as TERN_BUILD" >&2
    return 1
  fi
  devkit_download_debs "$kit" lld-22 liblld-22 || return 1
  cp "$build/tests/codegen/CodegenTests" "$build/tests/e2e/EndToEndTests" "$build/bin/ternc" \
    "$build/bin/tern" "$build/bin/make_synthetic_model" "$build/bin/tern-bandwidth" "$kit/bin/" ||
    return 1
  strip "$kit"/bin/*
  xz -9 "$kit"/bin/*
  cp -r "$root/../shared/data/hf-bitnet" "$kit/data/"
  local exclude
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.devkit-cpu/' "$exclude" || echo '/.devkit-cpu/' >>"$exclude"
  du -sh "$kit"
}

run() {
  mkdir -p "$out"
  local bin="$kit/bin" work=/tmp/tern-cpu
  mkdir -p "$work"
  devkit_use_debs "$kit" "$root/.devkit-cpu-root"
  for packed in "$bin"/*.xz; do xz -dkf "$packed"; done
  lscpu >"$out/lscpu.txt"
  if wanted kernels; then
    echo "== ternary_matmul kernels vs the reference twin"
    "$bin/CodegenTests" --gtest_filter='*Ternary*' 2>&1 | tee "$out/kernels.txt" |
      grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure" | head -40
  fi
  if wanted attention; then
    echo "== attention kernels vs the reference twin, and their speed with and without tiles"
    { "$bin/CodegenTests" --gtest_filter='*Attention*'
      TERN_PERF_TARGETS=x86-64-v4,x86-64-v3 "$bin/CodegenTests" --gtest_also_run_disabled_tests \
        --gtest_filter='AttentionPerf.*'; } 2>&1 | tee "$out/attention.txt" |
      grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure|2B-4T"
  fi
  if wanted lut; then
    echo "== x86-64-v3 prefill GEMM with and without the lookup tables"
    TERN_PERF_TARGETS=x86-64-v3,x86-64-v3+lut "$bin/CodegenTests" --gtest_also_run_disabled_tests \
      --gtest_filter='TernaryMatmulPerf.DISABLED_PrefillGemm:TernaryMatmulLutTest.*' 2>&1 |
      tee "$out/lut.txt" | grep -E "^prefill|^\[  (PASSED|FAILED|SKIPPED) |Failure"
  fi
  if wanted goldens; then
    # The tests read the goldens from the absolute path they were built with
    # (<source>/../shared/data); point it at the kit's copy when it is absent here.
    local data
    data=$(strings "$bin/EndToEndTests" | grep -m1 '/shared/data$')
    if [ -n "$data" ] && [ ! -e "$data/hf-bitnet" ]; then
      mkdir -p "$(dirname "$data")" && ln -sfn "$kit/data" "$data"
    fi
    echo "== hf-bitnet goldens (x86-64-v4, x86-64-v4 + tl2_t64)"
    "$bin/EndToEndTests" --gtest_filter='AllCheckpoints/*x86_64_v4:TernaryPackingTl2/*' 2>&1 |
      tee "$out/goldens.txt" | grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure" | head -40
  fi
  if wanted gemv; then
    echo "== 1-thread GEMV / GEMM speed, i2_b128 (vector, AMX) and tl2_t64"
    TERN_PERF_TARGETS=x86-64-v4+amx,x86-64-v4+tl2,x86-64-v4 "$bin/CodegenTests" \
      --gtest_also_run_disabled_tests --gtest_filter='TernaryMatmulPerf.*' 2>&1 |
      tee "$out/gemv.txt" | grep -E "^(decode|prefill|read)"
  fi
  wanted bench || return 0
  echo "== synthetic 2B-4T: ${VARIANTS:-i2 tl2 amx}"
  "$bin/make_synthetic_model" -o "$work/2b.gguf" >/dev/null || return 1
  local file="$out/bench.txt"
  : >"$file"
  local lm_heads=${LM_HEADS:-q6 f16} thread_counts=${THREADS:-1 16} rounds=${ROUNDS:-2}
  local variants=${VARIANTS:-i2 tl2 amx}
  local -A flags=([i2]="--ternary-packing=i2 --amx=off" [tl2]="--ternary-packing=tl2 --amx=off"
    [amx]="--ternary-packing=i2 --amx=on"
    [i2-128]="--ternary-packing=i2 --amx=off --max-batch-rows=128"
    [amx-128]="--ternary-packing=i2 --amx=on --max-batch-rows=128")
  for lm in $lm_heads; do
    for variant in $variants; do
      local started=$SECONDS
      # shellcheck disable=SC2086 # the flags are words
      "$bin/ternc" compile "$work/2b.gguf" --target=native --lm-head=$lm ${flags[$variant]} \
        -o "$work/2b-$lm-$variant.tern" >>"$file" 2>&1 || return 1
      echo "compiled $lm $variant in $((SECONDS - started)) s, $(stat -c %s "$work/2b-$lm-$variant.tern") bytes" |
        tee -a "$file"
    done
  done
  local first_lm=${lm_heads%% *} tokens
  tokens=$(seq -s, 1 100)
  if [[ " $variants " == *" amx "* && " $variants " == *" i2 "* ]]; then
    for variant in i2 amx; do
      "$bin/tern" logits "$work/2b-$first_lm-$variant.tern" --tokens "$tokens" --threads 16 \
        -o "$work/logits-$variant.safetensors" >>"$file" 2>&1
    done
    if cmp -s "$work/logits-i2.safetensors" "$work/logits-amx.safetensors"; then
      echo "logits of a 100-token prompt: amx == i2, byte for byte" | tee -a "$file"
    else
      echo "logits of a 100-token prompt: amx != i2" | tee -a "$file"
    fi
  fi
  for threads in $thread_counts; do
    echo "== bandwidth threads=$threads" >>"$file"
    "$bin/tern-bandwidth" --threads "$threads" >>"$file" 2>&1
    for lm in $lm_heads; do
      for round in $(seq "$rounds"); do
        for variant in $variants; do
          echo "== bench threads=$threads lm_head=$lm variant=$variant round=$round" >>"$file"
          "$bin/tern" bench "$work/2b-$lm-$variant.tern" --threads "$threads" -p 128 -n 64 -r 2 \
            --json >>"$file" 2>&1
          grep -A40 "threads=$threads lm_head=$lm variant=$variant round=$round" "$file" |
            grep -E '"(prefill|decode)_tok_s"' | tr -d '\n' |
            sed "s/^/threads=$threads $lm $variant round $round: /"
          echo
        done
      done
    done
  done
}

case "${1:-}" in
  pack) pack ;;
  run) shift; steps=("$@"); run ;;
  *) echo "usage: $0 pack | run [STEP...]" >&2; exit 2 ;;
esac
