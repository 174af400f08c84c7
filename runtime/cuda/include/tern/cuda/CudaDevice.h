// The cuda device as the executor calls it: a model's GPU side, its sessions, evaluation.
#ifndef TERN_CUDA_CUDADEVICE_H
#define TERN_CUDA_CUDADEVICE_H

#include "tern/tern.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace tern {

struct EntryState; // the executor's per-session state of an entry point (SessionImpl.h)

namespace cuda {

struct Model;   // the driver, the GPU's context, loaded modules and the uploaded weights
struct Session; // a session's device memory, pinned staging, stream, launch tables and graphs

struct ModelDeleter {
  void operator()(Model *model) const;
};
struct SessionDeleter {
  void operator()(Session *session) const;
};
using ModelPtr = std::unique_ptr<Model, ModelDeleter>;
using SessionPtr = std::unique_ptr<Session, SessionDeleter>;

// Puts |model| (artifact open, kernel libraries' descriptors read, entry points prepared) on GPU
// |ordinal|: loads the driver, checks target.gpu_arch against the device, loads every PTX
// library and finds every kernel, checks each dispatch's block against its kernel, uploads the
// weight sections once. Sets |*out| (also on failure, so that whatever was acquired is released
// with the model) and model.deviceName / model.deviceMemoryBytes on success. Messages start
// with the artifact's name.
tern_status_t openModel(tern_model_t &model, int32_t ordinal, ModelPtr *out);

// Device memory of one session of |model| with |contextPositions| positions of KV cache.
uint64_t sessionDeviceBytes(const tern_model_t &model, int64_t contextPositions);

// Allocates the device side of |session| (its model on cuda, its context and KV layout set):
// arena, KV caches, token and call buffers, pinned staging, a stream, profiling events, the
// launch tables of its entry points and, unless TERN_CUDA_GRAPHS=0, decode's CUDA graph.
tern_status_t createSession(tern_session_t &session, SessionPtr *out);

// Evaluates |count| (>= 1, checked) tokens on |state|'s entry point from session.position, in
// chunks as the CPU does; on success points session.lastLogits at the last token's logits (and
// has written every row's to |allLogits| when not null). Position and hasLogits are the
// caller's to update, on success only. Allocates nothing.
tern_status_t evaluate(tern_session_t &session, EntryState &state, const int32_t *tokens,
                       size_t count, float *allLogits);

} // namespace cuda
} // namespace tern

#endif
