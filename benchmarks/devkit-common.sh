# Shared by the scripts that carry a kit to the GPU machine (device-gpu.sh, device-cpu-kernels.sh):
# the Debian packages of LLVM 22 and MLIR 22 that the code generator loads (that machine has
# neither and no network), and the step selection of their `run` command. Sourced, not run.

# Downloads libllvm22, libmlir-22, libz3-4 and libedit2 into directory $1, and the packages
# named after it (lld-22 and liblld-22 where the kit links CPU code: the code generator runs
# ld.lld to make each artifact's shared object).
devkit_download_debs() {
  local dir=$1
  shift
  (cd "$dir" && apt-get download libllvm22 libmlir-22 libz3-4 libedit2 "$@" >/dev/null 2>&1) ||
    { echo "apt-get download failed" >&2; return 1; }
}

# Unpacks the packages in kit $1 into directory $2 and puts their libraries on LD_LIBRARY_PATH
# and their LLVM tools (ld.lld) on PATH.
devkit_use_debs() {
  mkdir -p "$2"
  local deb
  for deb in "$1"/*.deb; do [ -e "$deb" ] && dpkg -x "$deb" "$2"; done
  export LD_LIBRARY_PATH="$2/usr/lib/x86_64-linux-gnu:$2/usr/lib/llvm-22/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$2/usr/lib/llvm-22/bin:$PATH"
}

# Whether step $1 is among the steps asked for (the array `steps`; all when it is empty).
wanted() {
  [ ${#steps[@]} -eq 0 ] && return 0
  local step
  for step in "${steps[@]}"; do [ "$step" = "$1" ] && return 0; done
  return 1
}
