#!/usr/bin/env bash
# The whole training pipeline on one GPU: train (with held-out evaluation and samples), export
# (Hugging Face directory + goldens, GGUF when the gguf package is importable), and a
# cross-check of the export with transformers. Everything lands in $OUT as at most 8 files:
#   pipeline.log  run_card.json  loss.csv  loss.png  samples.txt  model.tar  [model.gguf]
# Arguments are passed to train.py after `--preset gpu`, so they override it: `--preset bundle`
# trains the model bundled in models/, `--steps 800 --seed 7` change the preset. EXPORT_ARGS
# go to export.py (e.g. EXPORT_ARGS="--embedding-dtype f32"). PYTHON picks the interpreter.
#
# Needs: torch (CUDA), numpy, safetensors, tokenizers; matplotlib for the plot, transformers +
# accelerate for the cross-check, gguf for the GGUF file (each skipped with a note if absent).
# The tokenizer is not trained here: training/assets/tokenizer.json is part of the tree.
# The corpus is read from training/data/ if present (copy ../shared/data/text there for a
# machine that has no ../shared), else from ../shared/data/text.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${OUT:?set OUT to the output folder}"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
exec > >(tee -a "$OUT/pipeline.log") 2>&1
start=$(date +%s)

# gguf is not in every image; a wheel in training/wheels/ or .whl/ (both git-ignored) is
# installed into a temporary folder for this run only.
if ! "$PY" -c "import gguf" 2>/dev/null; then
  wheel=$(compgen -G "training/wheels/gguf-*.whl" || compgen -G ".whl/gguf-*.whl" || true)
  if [ -n "$wheel" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/tern-train-site $wheel
    export PYTHONPATH=/tmp/tern-train-site${PYTHONPATH:+:$PYTHONPATH}
  fi
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
"$PY" - <<'EOF'
import importlib, importlib.metadata
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
for m in ("numpy", "safetensors", "tokenizers", "matplotlib", "gguf", "transformers", "accelerate"):
    try:
        importlib.import_module(m)
        print(f"  {m} {importlib.metadata.version(m)}")
    except Exception as e:
        print(f"  {m} missing ({type(e).__name__})")
EOF

work=$(mktemp -d /tmp/tern-train.XXXXXX)
echo "== train ($work/run)"
"$PY" training/train.py --out "$work/run" --preset gpu "$@"

echo "== export"
gguf_args=()
if "$PY" -c "import gguf" 2>/dev/null; then gguf_args=(--gguf "$work/model.gguf"); fi
# shellcheck disable=SC2086  # EXPORT_ARGS is a word list
"$PY" training/export.py "$work/run/ckpt.pt" "$work/model" --run-card "$work/run/run_card.json" \
  ${gguf_args[@]+"${gguf_args[@]}"} ${EXPORT_ARGS:-}

echo "== transformers cross-check"
# Informative: transformers' float32 matmuls may round an activation to the other side of a
# .5 tie now and then, so a failure here is reported, not fatal (check_export.py is the gate).
"$PY" training/check_hf.py "$work/model" || echo "check_hf.py reported differences (see above)"

cp "$work/run/run_card.json" "$work/run/loss.csv" "$work/run/samples.txt" "$OUT/"
if [ -f "$work/run/loss.png" ]; then cp "$work/run/loss.png" "$OUT/"; fi
tar -C "$work" -cf "$OUT/model.tar" model
if [ -f "$work/model.gguf" ]; then cp "$work/model.gguf" "$OUT/"; fi
echo "== done in $(( $(date +%s) - start ))s; checkpoint left at $work/run/ckpt.pt"
ls -l "$OUT"
