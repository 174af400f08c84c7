#!/usr/bin/env bash
# The main job on the bundled model: build ternc and the tern runtime CLI, compile the model
# into an artifact for this CPU, and print a greedy completion from it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh
cmake -G Ninja -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target ternc tern
model=${1:-models/stories260K.gguf}
prompt=${2:-Once upon a time}

echo "== ternc compile $model -o build/model.tern --target=native"
build/bin/ternc compile "$model" -o build/model.tern --target=native
echo "== tern run build/model.tern -p \"$prompt\" -n 48 --temp 0"
build/bin/tern run build/model.tern -p "$prompt" -n 48 --temp 0
echo
