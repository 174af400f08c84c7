// What a loaded model holds: the verified artifact, kernels, the checked plan and the tokenizer.
#ifndef TERN_EXECUTOR_MODELIMPL_H
#define TERN_EXECUTOR_MODELIMPL_H

#include "KernelLibrary.h"
#include "ThreadPool.h"

#include "tern/artifact/Artifact.h"
#include "tern/cuda/CudaDevice.h"
#include "tern/kernel_abi.h"
#include "tern/tern.h"
#include "tern/tokenizer/Tokenizer.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace tern {

// One dispatch of an entry point, checked at load.
struct PreparedDispatch {
  const KernelSpec *spec = nullptr; // the descriptor (reference mode runs from it)
  tern_cpu_kernel_fn fn = nullptr;  // the generated kernel; null in reference mode
  int64_t gridItems = 1;            // grid[0]
  bool itemsAreRows = false;        // item i is row i: a call runs min(gridItems, rows) items
  bool lastRow = false;
  uint32_t library = 0, kernel = 0; // KernelDispatch.kernel_library and .kernel
  // A GPU library's launch: grid (x, y, z) blocks of (x, y, z) threads (KernelDispatch.grid).
  std::array<uint32_t, 6> gpuGrid{{1, 1, 1, 1, 1, 1}};
  size_t firstBinding = 0;          // into PreparedEntry::bindings
  size_t numBindings = 0;
  // For the profile (computed at load so that profiling only adds up numbers):
  size_t kernelIndex = 0;           // into PreparedEntry::kernels
  uint64_t weightBytes = 0;         // sum of the sizes of its SectionSlice bindings
  uint64_t kvBytesPerPosition = 0;  // attention: key + value bytes of one cached position
};

struct PreparedEntry {
  std::string name;
  int64_t maxRows = 1;
  bool logitsAllRows = false;
  uint64_t logitsOffset = 0;    // arena offset of row 0's logits
  uint64_t logitsRowStride = 0; // bytes between rows' logits
  std::vector<PreparedDispatch> dispatches;
  // Dispatches a call whose logits nobody reads runs: the first |bodyDispatches| of
  // |dispatches|; the rest (EntryPoint.logits_only_dispatches) only compute the logits.
  size_t bodyDispatches = 0;
  std::vector<const schema::Binding *> bindings; // every dispatch's bindings, concatenated
  // The distinct kernels of |dispatches| in order of first dispatch: a profile adds up its
  // dispatches per kernel, not per dispatch.
  std::vector<const KernelSpec *> kernels;
};

// The KV cache as the memory plan lays it out: (layers, context, kv_heads, head_dim) floats
// per cache. Kernels get one layer's base and index it by position * kv_heads * head_dim only,
// so a session may lay it out with a shorter |context| (withContext).
struct KVLayout {
  int64_t layers = 0, context = 0, kvHeads = 0, headDim = 0;
  uint64_t layerFloats() const { return uint64_t(context * kvHeads * headDim); }
  uint64_t cacheFloats() const { return uint64_t(layers) * layerFloats(); }
  KVLayout withContext(int64_t positions) const {
    return {layers, positions, kvHeads, headDim};
  }
};

} // namespace tern

struct tern_model_s {
  std::unique_ptr<tern::Artifact> artifact;
  bool reference = false;
  bool gpuLibraries = false; // the kernel libraries hold GPU code (kind Ptx)
  std::vector<tern::LoadedKernelLibrary> libraries; // parallel to Artifact.kernel_libraries
  std::vector<tern::PreparedEntry> entries;
  const tern::PreparedEntry *decode = nullptr;        // null when the artifact lacks one
  const tern::PreparedEntry *prefill = nullptr;
  const tern::PreparedEntry *prefillLogits = nullptr;
  size_t maxBindings = 0; // most bindings of any entry point (sessions size their arrays)

  tern::KVLayout kv;
  uint64_t arenaBytes = 0;
  uint64_t weightBytes = 0;
  int64_t vocab = 0, layers = 0, hidden = 0;
  std::string architecture, targetCpu, chatTemplate;

  std::unique_ptr<tern::Tokenizer> tokenizer; // null when the artifact has none
  std::vector<int32_t> endOfGeneration;       // EOS, EOT and similar ids in the vocabulary
  int32_t eotId = -1;

  tern::ThreadPool pool; // the cpu device's workers (only the caller's thread on cuda)

  std::string deviceName = "cpu";  // tern_model_info_t.device
  uint64_t deviceMemoryBytes = 0;  // weights + one full-context session on the GPU; 0 on cpu
  // The GPU side when the kernels run on cuda, else null. Declared last, so released first.
  tern::cuda::ModelPtr cuda;
};

#endif
