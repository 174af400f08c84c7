#!/usr/bin/env bash
# The main job on the bundled model: build ternc and the tern runtime CLI, compile the model
# (models/bitnet-5m: a 5M-parameter BitNet b1.58 trained by training/, see its README.md)
# into an artifact for this CPU, and print a greedy completion from it.
# Usage: scripts/demo.sh [MODEL [PROMPT]]   (e.g. models/stories260K.gguf "Once upon a time")
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh
cmake -G Ninja -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target ternc tern
model=${1:-models/bitnet-5m/model.gguf}
prompt=${2:-ROMEO:}

echo "== ternc compile $model -o build/model.tern --target=native"
build/bin/ternc compile "$model" -o build/model.tern --target=native
echo "== tern run build/model.tern -p \"$prompt\" -n 48 --temp 0"
build/bin/tern run build/model.tern -p "$prompt" -n 48 --temp 0
echo
