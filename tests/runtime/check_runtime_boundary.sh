#!/usr/bin/env bash
# Fails if the runtime includes an LLVM/MLIR header, links an LLVM/MLIR library, or needs an
# LLVM/MLIR symbol: the runtime must build and run on machines that have no LLVM at all.
# Usage: check_runtime_boundary.sh RUNTIME_SOURCE_DIR LINK_LIBRARIES_FILE STATIC_LIB... EXECUTABLE...
set -uo pipefail
src=$1 link_file=$2
shift 2
static_libs=()
while [ $# -gt 0 ] && [[ $1 == *.a ]]; do
  static_libs+=("$1")
  shift
done
violations=0

report() {
  echo "VIOLATION: $*"
  violations=$((violations + 1))
}

# 1. Headers: no #include of llvm/, llvm-c/ or mlir/ anywhere in the runtime's sources.
matches=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](llvm|llvm-c|mlir)/' "$src" || true)
files=$(find "$src" -type f \( -name '*.h' -o -name '*.hpp' -o -name '*.c' -o -name '*.cpp' -o -name '*.inc' \) | wc -l)
echo "checked $files runtime source files for LLVM/MLIR includes"
[ -z "$matches" ] || report "runtime sources include LLVM/MLIR headers:"$'\n'"$matches"

# 2. CMake: the runtime targets' link libraries name no LLVM/MLIR library.
echo "runtime link libraries: $(tr '\n' ' ' <"$link_file")"
if grep -qiE '(^|[;/ ])(lib)?(LLVM|MLIR)[A-Za-z0-9_.-]*' "$link_file"; then
  report "runtime targets link LLVM/MLIR libraries: $(cat "$link_file")"
fi

# 3. Symbols: the static library needs no llvm:: or mlir:: symbol.
for static_lib in "${static_libs[@]}"; do
  undefined=$(nm -uC "$static_lib" 2>/dev/null | grep -E '(llvm|mlir)::' || true)
  echo "checked undefined symbols of $(basename "$static_lib")"
  [ -z "$undefined" ] || report "$(basename "$static_lib") needs LLVM/MLIR symbols:"$'\n'"$undefined"
done

# 4. Executables built on the runtime load no LLVM/MLIR shared library.
for exe in "$@"; do
  deps=$(ldd "$exe" 2>&1 | grep -iE 'lib(LLVM|MLIR)' || true)
  echo "checked shared-library dependencies of $(basename "$exe")"
  [ -z "$deps" ] || report "$(basename "$exe") loads LLVM/MLIR:"$'\n'"$deps"
done

if [ "$violations" -ne 0 ]; then
  echo "runtime boundary: $violations violation(s)"
  exit 1
fi
echo "runtime boundary: no LLVM/MLIR dependency"
