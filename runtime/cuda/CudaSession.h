// A session on a GPU: device memory, pinned staging, a stream, launch tables and decode graphs.
#ifndef TERN_CUDA_CUDASESSION_H
#define TERN_CUDA_CUDASESSION_H

#include "CudaModel.h"

#include "ModelImpl.h"

#include <vector>

namespace tern::cuda {

// One dispatch as cuLaunchKernel takes it.
struct Launch {
  CUfunction function = nullptr;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  void **params = nullptr; // (bindings + 1) pointers into EntryLaunches::values
};

// An entry point's dispatches over one session's device memory. Parameter values live here, so
// a launch (or a graph captured from launches) reads them without any per-call set-up, except
// that last-row dispatches of a multi-row call get their row-indexed bindings moved.
struct EntryLaunches {
  const PreparedEntry *entry = nullptr;
  std::vector<Launch> launches;      // (dispatches)
  std::vector<CUdeviceptr> values;   // (bindings + dispatches) per dispatch: its bindings'
                                     // device addresses, then its call record's
  std::vector<void *> params;        // (bindings + dispatches) &values[i], for cuLaunchKernel
  std::vector<CUdeviceptr> firstRow; // (bindings) address of a binding for the call's first row
  std::vector<uint64_t> rowStride;   // (bindings) row_stride of an ArenaSlice, else 0
  std::vector<size_t> lastRowDispatches; // indices of the dispatches with last_row set
  int64_t valuesRows = 1;            // the call rows |values| are moved for
  // Decode replays: [1] every dispatch, [0] only the body, for a call whose logits nobody reads
  // (captured only when such calls can happen and differ); null when graphs are off.
  CUgraphExec graphs[2] = {nullptr, nullptr};
};

struct Session {
  Model &gpu;
  const tern_model_t &model;
  CUdeviceptr memory = 0; // one allocation, laid out as below
  uint64_t memoryBytes = 0;
  CUdeviceptr arena = 0;  // (arena_bytes) activation scratch
  CUdeviceptr keys = 0;   // (layers, context, kv_heads, head_dim) f32, context = the session's
  CUdeviceptr values = 0; // (layers, context, kv_heads, head_dim) f32
  CUdeviceptr tokens = 0; // (max rows) int32 token ids of the call
  CUdeviceptr calls = 0;  // (2) tern_cuda_call_t: the call's, then its last row's
  void *pinned = nullptr; // page-locked host staging, laid out as below
  int32_t *hostTokens = nullptr;          // (max rows)
  tern_cuda_call_t *hostCalls = nullptr;  // (2)
  float *hostLogits[2] = {nullptr, nullptr}; // (vocab) each: the last token's logits and the
                                             // next call's, swapped when a call succeeds
  int current = 0;                           // which of |hostLogits| the caller reads
  CUstream stream = nullptr;
  std::vector<CUevent> events; // (most dispatches + 1) profiling marks between dispatches
  EntryLaunches decode, prefill, prefillLogits;

  Session(Model &gpu, const tern_model_t &model) : gpu(gpu), model(model) {}
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  ~Session();

  EntryLaunches &launchesOf(const PreparedEntry *entry) {
    return entry == decode.entry ? decode : entry == prefill.entry ? prefill : prefillLogits;
  }
};

// Launches dispatches [0, |count|) of |e| on the session's stream in order; with |profile|,
// records events[d] before dispatch d and events[count] after the last.
tern_status_t launchDispatches(Session &s, EntryLaunches &e, size_t count, bool profile);

// Captures the first |count| dispatches of |e| for one-row calls into |*out|.
tern_status_t captureGraph(Session &s, EntryLaunches &e, size_t count, CUgraphExec *out);

} // namespace tern::cuda

#endif
