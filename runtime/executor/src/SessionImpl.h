// What a session holds: its memory on the CPU (or its device side), resolved bindings, profile.
#ifndef TERN_EXECUTOR_SESSIONIMPL_H
#define TERN_EXECUTOR_SESSIONIMPL_H

#include "ModelImpl.h"

#include "tern/cuda/CudaDevice.h"

#include <cstdint>
#include <sys/mman.h>
#include <vector>

namespace tern {

// What one kernel of an entry point cost while profiling was on.
struct KernelCounters {
  uint64_t calls = 0;
  double seconds = 0;
  uint64_t weightBytes = 0;
  uint64_t kvBytes = 0;
};

// One entry point's bindings resolved to this session's memory, and its profile.
struct EntryState {
  const PreparedEntry *entry = nullptr;
  std::vector<void *> resolved;       // (entry bindings) pointers for a call's first row (cpu)
  std::vector<uint64_t> lastRowShift; // (entry bindings) row_stride of ArenaSlices, else 0 (cpu)
  std::vector<KernelCounters> kernels; // (entry kernels) allocated here, so profiling never does
  uint64_t profiledRuns = 0;
};

// Adds one timed call of |dispatch| on |rows| rows at |pos| (as the kernel saw them: 1 and the
// last row's position for a last-row dispatch) to its kernel's counters.
inline void countDispatch(EntryState &state, const PreparedDispatch &dispatch, int64_t rows,
                          int64_t pos, double seconds) {
  KernelCounters &counters = state.kernels[dispatch.kernelIndex];
  counters.calls += 1;
  counters.seconds += seconds;
  counters.weightBytes += dispatch.weightBytes;
  // Query row t attends to positions 0 .. pos + t, so the call reads pos + rows positions.
  counters.kvBytes += dispatch.kvBytesPerPosition * uint64_t(pos + rows);
}

// Zeroed memory that becomes resident page by page, when first touched: a session reserves its
// arena and KV cache at creation (evaluation never allocates), but holds in RAM only what it
// used. Decode touches a small part of an arena sized for 64-row prefill_logits calls; a KV
// cache fills one position at a time. Page-aligned, hence 64-byte aligned.
class ZeroedPages {
public:
  ZeroedPages() = default;
  ZeroedPages(const ZeroedPages &) = delete;
  ZeroedPages &operator=(const ZeroedPages &) = delete;
  ~ZeroedPages() {
    if (data_)
      munmap(data_, size_);
  }
  // False when the mapping fails.
  bool allocate(size_t bytes) {
    void *data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED)
      return false;
    data_ = data;
    size_ = bytes;
    return true;
  }
  template <typename T> T *as() const { return static_cast<T *>(data_); }

private:
  void *data_ = nullptr;
  size_t size_ = 0;
};

} // namespace tern

struct tern_session_s {
  tern_model_t *model = nullptr;
  int64_t context = 0;  // positions this session holds
  tern::KVLayout kv;    // the plan's cache layout with |context| positions per layer
  int64_t position = 0; // where the next token goes
  uint8_t *arena = nullptr;       // (arena_bytes) 64-byte aligned activation scratch (cpu)
  float *keyCache = nullptr;      // (layers, context, kv_heads, head_dim), context = |context|
  float *valueCache = nullptr;    // (layers, context, kv_heads, head_dim), context = |context|
  std::vector<int32_t> tokens;    // (max rows of any entry point) the call's token ids (cpu)
  std::vector<float> logits;      // (vocab) logits of the last evaluated token (cpu)
  const float *lastLogits = nullptr; // what tern_session_logits returns once hasLogits: |logits|,
                                     // or on cuda the pinned buffer the last call filled
  bool hasLogits = false;
  bool profiling = false;
  std::vector<void *> callBindings; // (max bindings) last-row-adjusted pointers of one call
  tern::EntryState decode, prefill, prefillLogits;
  tern::ZeroedPages arenaPages, keyPages, valuePages; // own |arena|, |keyCache|, |valueCache|
  // The device side on cuda, where its arena, caches and tokens live (the pointers above stay
  // null). Declared last, so released first, while everything it points at is still there.
  tern::cuda::SessionPtr cuda;
};

#endif
