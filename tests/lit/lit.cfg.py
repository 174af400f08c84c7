# Main lit configuration of the tern compiler tests (tern-opt, ternc) under tests/lit.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "TERN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.tern_obj_root

# Our tools come first, then LLVM 22's FileCheck/not: the unversioned LLVM tools on PATH
# are LLVM 14 and must never be picked up.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.tern_tools_dir, append_path=True)
llvm_config.use_default_substitutions()

config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

config.substitutions.append(("%shared_data", config.shared_data_dir))
config.substitutions.append(("%python", config.tern_python))

# Tools are resolved by name inside RUN lines; list them so a missing one is reported.
tools = ["tern-opt", "ternc", "tern"]
for tool in tools:
    if os.path.exists(os.path.join(config.tern_tools_dir, tool)):
        config.available_features.add(tool)
    else:
        lit_config.note("%s is not built in %s" % (tool, config.tern_tools_dir))
if os.path.isdir(config.shared_data_dir):
    config.available_features.add("shared-data")

# Tests that run x86-64-v3 artifacts need the host to have its features.
def host_cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
if {"avx2", "fma", "f16c", "bmi2"} <= host_cpu_flags():
    config.available_features.add("host-x86-64-v3")

# The CUDA toolkit's assembler, where installed: PTX tests also assemble what ternc emits.
ptxas = os.environ.get("PTXAS") or "/usr/local/cuda/bin/ptxas"
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
