#!/usr/bin/env bash
# Before/after on the GPU machine, in one call: the synthetic 2B-4T model compiled by the ternc
# builds of a bench kit (.devkit-gpu/bin/ternc-base, any other ternc-*, and ternc; see
# device-gpu.sh), and by the newest with --gpu-fuse-decode-attention (ternc-fused), each
# artifact benched alternately ROUNDS times (tern bench --device cuda: prefill 128 and decode
# 128 tokens, then prefill 1024), then a per-kernel profile of the newest build and its q6
# lm_head variant. JSON results under $OUT; a summary line per run.
#   benchmarks/gpu/compare-builds.sh [ROUNDS]   (run after `device-gpu.sh run` unpacked the kit)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin="$root/.devkit-gpu/bin" out="${OUT:-$root/.devkit-gpu-out}" work=/tmp/tern-gpu
rounds="${1:-2}"
libs="$root/.devkit-gpu-root"
export LD_LIBRARY_PATH="$libs/usr/lib/x86_64-linux-gnu:$libs/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out" "$work"
[ -e "$work/2b.gguf" ] || "$bin/make_synthetic_model" -o "$work/2b.gguf" >/dev/null || exit 1
builds=(ternc-base)
for c in "$bin"/ternc-*; do
  c=$(basename "$c")
  case "$c" in ternc-base | *.xz) ;; *) builds+=("$c") ;; esac
done
builds+=(ternc)
for c in "${builds[@]}"; do
  "$bin/$c" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 -o "$work/$c.tern" \
    >/dev/null || { echo "$c: compile failed"; exit 1; }
done
"$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 \
  --gpu-fuse-decode-attention -o "$work/ternc-fused.tern" >/dev/null &&
  builds+=(ternc-fused) || echo "ternc --gpu-fuse-decode-attention: compile failed"
"$bin/ternc" compile "$work/2b.gguf" --target=sm_90 --max-batch-rows=512 --lm-head=q6 \
  -o "$work/ternc-q6.tern" >/dev/null || echo "ternc --lm-head=q6: compile failed"

summary() { # file label
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(sys.argv[2], "no result:", e); sys.exit(0)
def f(key):
    v = r.get(key)
    return "-" if v is None else "%.1f" % v
print("%-28s prefill %s tok/s (sd %s), decode %s tok/s (sd %s)" % (sys.argv[2],
      f("prefill_tok_s"), f("prefill_tok_s_stddev"), f("decode_tok_s"), f("decode_tok_s_stddev")))
PY
}
bench() { # artifact label args...
  "$bin/tern" bench "$work/$1.tern" --device cuda --json "${@:3}" >"$out/$2.json" 2>"$out/$2.err"
  summary "$out/$2.json" "$2"
}
for i in $(seq "$rounds"); do
  for c in "${builds[@]}"; do bench "$c" "$c-$i" -p 128 -n 128 -r 3; done
done
for c in "${builds[@]}"; do bench "$c" "$c-p1024" -p 1024 -n 0 -r 3; done
bench ternc-q6 ternc-q6 -p 128 -n 128 -r 3
bench ternc ternc-profile -p 128 -n 128 -r 2 --profile
