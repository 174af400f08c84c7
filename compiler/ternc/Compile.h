// `ternc compile`: import, graph pipeline, program builder, artifact (or IR/kernels as text).
#ifndef TERN_COMPILER_TERNC_COMPILE_H
#define TERN_COMPILER_TERNC_COMPILE_H

#include <cstdint>
#include <string>

namespace tern {

enum class EmitKind { Artifact, MLIR, KernelsMLIR, LLVM, Asm, Ptx };

struct CompileOptions {
  std::string input;          // GGUF file or Hugging Face directory
  std::string output = "-";   // '-' is stdout (text emits only); a directory for --emit=ptx
  EmitKind emit = EmitKind::Artifact;
  std::string target = "native";
  int64_t maxBatchRows = 64;
  int64_t contextLength = 0;  // 0: the model's, capped by the importer
  std::string stopAfter;      // a pipeline pass: print the IR after it (--emit=mlir)
  bool printVocabulary = false;
  bool noTokenizer = false;   // leave the tokenizer out: the artifact then takes token ids only
  // lm_head precision: source, f16, q8, q6, q4 (tern-quantize-lm-head).
  std::string lmHead = "source";
  // A tied token embedding when --lm-head changes the table: "separate" (the lookup keeps the
  // file's table, a second table in the artifact) or "shared" (one table at the new precision).
  std::string tiedEmbedding = "separate";
  // Ternary weight layout: "i2" (i2_b128), "tl2" (tl2_t64, AVX-512 VBMI CPUs) or "auto" (tl2
  // for target native on a VBMI host, else i2: cpu::defaultTernaryPacking).
  std::string ternaryPacking = "auto";
  // AMX-INT8 prefill kernels: "on", "off" or "auto" (on for target native on an AMX host:
  // cpu::defaultAmx). Resolved before ternaryPacking, whose auto then picks i2.
  std::string amx = "auto";
  // Lookup-table prefill kernels for AVX2 targets: "on", "off" or "auto" (on for target native
  // on an AMD Zen 1-3 host: cpu::defaultLutPrefill).
  std::string lutPrefill = "auto";
  // GPU targets: one rope_kv_attention kernel per layer in decode (program::ProgramOptions).
  bool gpuFuseDecodeAttention = false;
};

// Runs the compile command; returns the process exit code, having printed any error.
int runCompile(const CompileOptions &options);

} // namespace tern

#endif
