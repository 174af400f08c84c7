// The CPU backend's entry points: target resolution and kernel libraries for a list of kernels.
#ifndef TERN_CODEGEN_CPU_CPUCODEGEN_H
#define TERN_CODEGEN_CPU_CPUCODEGEN_H

#include "KernelSpec.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tern::cpu {

// A CPU the kernels are generated for.
struct CpuTarget {
  std::string name;   // as the user wrote it after resolution: x86-64-v4, x86-64-v3, generic
  std::string triple; // x86_64-unknown-linux-gnu
  std::string cpu;    // LLVM CPU name: x86-64-v4, x86-64-v3, x86-64, or the host's for native
  // Features the generated code needs from the host, in LLVM spelling as the runtime's host
  // check knows them (avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, ...). Written
  // to the artifact's Target.cpu_features.
  std::vector<std::string> features;
  bool hasAVX512 = false; // AVX-512 F/BW/VL (+ VNNI on x86-64-v4)
  bool hasAVX2 = false;   // AVX2 + FMA + F16C
  bool hasVBMI = false;   // AVX-512 VBMI (vpermb): the tl2_t64 lookup-table kernels
  bool hasAMX = false;    // AMX-TILE + AMX-INT8: ternary prefill rows on tile registers
  // Ternary prefill rows of i2 weights by lookup tables read through the load ports
  // (TernaryMatmulLut.cpp; AVX2 targets without AVX-512): a code choice, not a host feature.
  bool lutPrefill = false;
};

// Resolves `x86-64-v4`, `x86-64-v3`, `generic` or `native` (the build machine, mapped to the
// best of those it supports). Unknown names give an error listing the known ones.
llvm::Expected<CpuTarget> resolveCpuTarget(llvm::StringRef name);

// Adds AVX-512 VBMI to |target| for the tl2_t64 kernels (`--ternary-packing=tl2`, named
// |name| by the user); the artifact then needs it on the host. An error for GPU targets, for
// targets without AVX-512 and for `native` on a build machine without VBMI.
llvm::Error enableLookupTableKernels(CpuTarget &target, llvm::StringRef name, bool isGpu);

// Whether the build machine has AVX-512 VBMI (false off x86-64).
bool hostHasVBMI();

// Adds AMX-TILE and AMX-INT8 to |target| (`--amx=on`, named |name| by the user): the prefill
// rows of i2_b128 ternary matmuls then run on AMX tiles (TernaryMatmulAmx.cpp), and the
// artifact needs AMX on the host. An error for GPU targets, for targets without AVX-512 and
// for `native` on a build machine without AMX.
llvm::Error enableAmxKernels(CpuTarget &target, llvm::StringRef name, bool isGpu);

// Whether the build machine has AMX-TILE and AMX-INT8 with the OS saving the tile state
// (false off x86-64).
bool hostHasAMX();

// What `--amx=auto` (the default) resolves to: on for `native` on an AVX-512 host with AMX
// (|hostAMX|), off everywhere else.
bool defaultAmx(llvm::StringRef name, const CpuTarget &target, bool isGpu, bool hostAMX);

// Turns on the lookup-table prefill kernels for |target| (`--lut-prefill=on`, named |name| by
// the user). An error for GPU targets and for CPU targets that are not AVX2 without AVX-512
// (VNNI's vpdpbusd outruns the tables there; the generic target lacks the vector width).
llvm::Error enableLutPrefill(CpuTarget &target, llvm::StringRef name, bool isGpu);

// What `--lut-prefill=auto` (the default) resolves to: on for `native` on an AVX2 host
// without AVX-512 whose LLVM CPU name (|hostCpu|) is an AMD Zen 1-3 core (znver1-3), which
// issues one vpmaddubsw per cycle; off everywhere else, named targets included (an x86-64-v3
// artifact may run on Intel cores with two multiply pipes, where the tables are not measured).
bool defaultLutPrefill(llvm::StringRef name, const CpuTarget &target, bool isGpu,
                       llvm::StringRef hostCpu);

// The build machine's LLVM CPU name (znver2, sapphirerapids, ...; "generic" off x86-64).
std::string hostCpuName();

// The layout `--ternary-packing=auto` (the default) resolves to, "tl2" or "i2", for |target|,
// which the user named |name|: tl2 for `native` on an AVX-512 host with VBMI (|hostVBMI|),
// where its kernels measured faster than i2 for decode and prefill (docs/perf/x86.md); i2
// everywhere else, so that a named target such as x86-64-v4 keeps running on AVX-512 hosts
// without VBMI, and where |target| has AMX, whose prefill kernels read i2.
llvm::StringRef defaultTernaryPacking(llvm::StringRef name, const CpuTarget &target, bool isGpu,
                                      bool hostVBMI);

// Generates every kernel of |kernels| for |target| through MLIR (vector, x86vector, scf,
// arith, memref -> LLVM dialect -> LLVM IR), compiles it in process with an LLVM TargetMachine
// and links one ELF shared object exporting each KernelSpec::symbol (tern_cpu_kernel_fn, see
// runtime/include/tern/kernel_abi.h) and `tern_kernel_abi_version`. Returns its bytes.
llvm::Expected<std::vector<uint8_t>> buildKernelLibrary(llvm::ArrayRef<KernelSpec> kernels,
                                                        const CpuTarget &target);

// The same kernels as text for reading and lit tests: |stage| is "mlir" (generated kernel
// IR before lowering), "llvm" (LLVM IR) or "asm" (target assembly).
llvm::Expected<std::string> emitKernels(llvm::ArrayRef<KernelSpec> kernels,
                                        const CpuTarget &target, llvm::StringRef stage);

} // namespace tern::cpu

#endif
