#!/usr/bin/env bash
# The main job on the bundled model: build ternc, inspect the model, print its tern IR.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh
cmake -G Ninja -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target ternc tern-opt
model=${1:-models/stories260K.gguf}

echo "== ternc inspect $model"
build/bin/ternc inspect "$model"
echo "== ternc compile $model --emit=mlir (round-tripped through tern-opt)"
build/bin/ternc compile "$model" --emit=mlir | build/bin/tern-opt
