#!/usr/bin/env bash
# Test: a small synthetic model in each output form is accepted by `ternc inspect` with the
# 2B-4T hyperparameters, and the GGUF and HF forms of one seed hold the same tensors' sizes.
# Usage: check_synthetic_model.sh MAKE_SYNTHETIC_MODEL TERNC WORKDIR
set -euo pipefail
gen="$1"; ternc="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"

expect() { # FILE PATTERN
  grep -q -- "$2" "$1" || { echo "FAIL: $1 lacks '$2'"; cat "$1"; exit 1; }
}

for type in tq2_0 i2_s tq1_0; do
  "$gen" -o "$work/m-$type.gguf" --type "$type" --layers 2 --vocab 512 --seed 7
  "$ternc" inspect "$work/m-$type.gguf" > "$work/m-$type.txt" 2>&1
  expect "$work/m-$type.txt" "supported: *yes"
  expect "$work/m-$type.txt" "layers 2, dim 2560, heads 20 / KV heads 5, head dim 128, FFN 6912, vocab 512, context 4096"
  expect "$work/m-$type.txt" "rope theta 500000"
  expect "$work/m-$type.txt" "FFN activation relu2, tied embeddings yes"
  expect "$work/m-$type.txt" "packing $type"
  expect "$work/m-$type.txt" "blk.1.ffn_down.weight *$type *\[2560, 6912\]"
done

# The vocabulary is a byte-level BPE with letter-pair merges ranked aa, ab, ...: "hello" is BOS,
# h, el (the best-ranked pair), l, o.
"$ternc" tokenize "$work/m-tq2_0.gguf" --text "hello" > "$work/tok.txt" 2>&1
expect "$work/tok.txt" "^510 104 $((256 + 4 * 26 + 11)) 108 111$"

# llama.cpp's architecture name: same tensors, SiLU graph.
"$gen" -o "$work/m-bitnet.gguf" --arch bitnet --layers 1 --vocab 512
"$ternc" inspect "$work/m-bitnet.gguf" > "$work/m-bitnet.txt" 2>&1
expect "$work/m-bitnet.txt" "supported: *yes"
expect "$work/m-bitnet.txt" "architecture: *bitnet "

# The same seed writes the same bytes.
"$gen" -o "$work/again.gguf" --type tq2_0 --layers 2 --vocab 512 --seed 7
cmp "$work/m-tq2_0.gguf" "$work/again.gguf"

"$gen" -o "$work/hf" --format hf --layers 2 --vocab 512 --seed 7
"$ternc" inspect "$work/hf" > "$work/hf.txt" 2>&1
expect "$work/hf.txt" "supported: *yes"
expect "$work/hf.txt" "offline packing"
expect "$work/hf.txt" "FFN activation relu2, tied embeddings yes"
expect "$work/hf.txt" "model.layers.1.mlp.down_proj.weight *u8 *\[640, 6912\]"

# Bad options fail with a message, not a crash.
if "$gen" -o "$work/bad.gguf" --type q4_k 2> "$work/bad.txt"; then echo "FAIL: --type q4_k accepted"; exit 1; fi
expect "$work/bad.txt" "expected tq2_0, tq1_0 or i2_s"
if "$gen" -o "$work/bad.gguf" --vocab 100 2> "$work/bad.txt"; then echo "FAIL: --vocab 100 accepted"; exit 1; fi
expect "$work/bad.txt" "at least 259"
echo "synthetic model checks passed"
