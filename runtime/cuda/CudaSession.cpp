// Creates a session's device side: memory, pinned staging, stream, launch tables, decode graphs.
#include "CudaSession.h"

#include "SessionImpl.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace tern::cuda {
namespace {

// Offsets of a session's buffers in its one device allocation.
struct SessionLayout {
  uint64_t arena = 0, keys = 0, values = 0, tokens = 0, calls = 0, total = 0;
};

int64_t maxRowsOf(const tern_model_t &model) {
  int64_t rows = 1;
  for (const PreparedEntry &entry : model.entries)
    rows = std::max(rows, entry.maxRows);
  return rows;
}

SessionLayout layoutFor(const tern_model_t &model, int64_t contextPositions) {
  const uint64_t cacheBytes =
      std::max<uint64_t>(model.kv.withContext(contextPositions).cacheFloats(), 1) * sizeof(float);
  SessionLayout layout;
  layout.keys = alignDevice(std::max<uint64_t>(model.arenaBytes, 1));
  layout.values = layout.keys + alignDevice(cacheBytes);
  layout.tokens = layout.values + alignDevice(cacheBytes);
  layout.calls = layout.tokens + alignDevice(uint64_t(maxRowsOf(model)) * sizeof(int32_t));
  layout.total = layout.calls + alignDevice(2 * sizeof(tern_cuda_call_t));
  return layout;
}

constexpr size_t alignHost(size_t bytes) { return (bytes + 63) / 64 * 64; }

std::string megabytes(uint64_t bytes) {
  return std::to_string((bytes + 999999) / 1000000) + " MB";
}

// Resolves |entry|'s bindings to |s|'s device memory and fills the launch table |e|.
void buildLaunches(Session &s, const tern_session_t &session, const PreparedEntry *entry,
                   EntryLaunches *e) {
  e->entry = entry;
  if (!entry)
    return;
  const size_t numBindings = entry->bindings.size();
  const size_t numDispatches = entry->dispatches.size();
  const uint64_t layerBytes = session.kv.layerFloats() * sizeof(float);
  e->firstRow.assign(numBindings, 0);
  e->rowStride.assign(numBindings, 0);
  for (size_t i = 0; i < numBindings; ++i) {
    const schema::Binding &b = *entry->bindings[i];
    switch (b.kind()) {
    case schema::BindingKind::ArenaSlice:
      e->firstRow[i] = s.arena + b.offset();
      e->rowStride[i] = b.row_stride();
      break;
    case schema::BindingKind::SectionSlice:
      // Every section a binding names was uploaded (CudaModel.cpp).
      e->firstRow[i] = s.gpu.weights + s.gpu.sectionOffsets[b.section()] + b.offset();
      break;
    case schema::BindingKind::KeyCache:
      e->firstRow[i] = s.keys + b.layer() * layerBytes;
      break;
    case schema::BindingKind::ValueCache:
      e->firstRow[i] = s.values + b.layer() * layerBytes;
      break;
    case schema::BindingKind::Tokens:
      e->firstRow[i] = s.tokens;
      break;
    }
  }
  // Each dispatch's parameters follow the previous one's, one call record more per dispatch.
  e->values.assign(numBindings + numDispatches, 0);
  e->params.assign(numBindings + numDispatches, nullptr);
  for (size_t i = 0; i < e->values.size(); ++i)
    e->params[i] = &e->values[i];
  e->launches.assign(numDispatches, Launch{});
  e->lastRowDispatches.clear();
  for (size_t d = 0; d < numDispatches; ++d) {
    const PreparedDispatch &dispatch = entry->dispatches[d];
    const size_t first = dispatch.firstBinding + d;
    for (size_t i = 0; i < dispatch.numBindings; ++i)
      e->values[first + i] = e->firstRow[dispatch.firstBinding + i];
    e->values[first + dispatch.numBindings] =
        dispatch.lastRow ? s.calls + sizeof(tern_cuda_call_t) : s.calls;
    if (dispatch.lastRow)
      e->lastRowDispatches.push_back(d);
    Launch &launch = e->launches[d];
    launch.function = s.gpu.functions[dispatch.library][dispatch.kernel];
    for (int axis = 0; axis < 3; ++axis) {
      launch.grid[axis] = dispatch.gpuGrid[axis];
      launch.block[axis] = dispatch.gpuGrid[3 + axis];
    }
    launch.params = &e->params[first];
  }
  e->valuesRows = 1;
}

// The CUDA graphs of |e| (decode) for one-row calls: every dispatch, and the body alone when a
// call without logits can run it (a model without 'prefill' decodes a prompt token by token).
tern_status_t captureDecode(Session &s, EntryLaunches &e) {
  const PreparedEntry &entry = *e.entry;
  if (tern_status_t status = captureGraph(s, e, entry.dispatches.size(), &e.graphs[1]))
    return status;
  if (!s.model.prefill && entry.bodyDispatches < entry.dispatches.size())
    return captureGraph(s, e, entry.bodyDispatches, &e.graphs[0]);
  return nullptr;
}

bool graphsEnabled() {
  const char *value = std::getenv("TERN_CUDA_GRAPHS");
  return !value || std::strcmp(value, "0") != 0;
}

tern_status_t allocate(Session &s, const tern_session_t &session) {
  const tern_model_t &model = s.model;
  const Driver &driver = s.gpu.driver;
  const SessionLayout layout = layoutFor(model, session.context);
  s.memoryBytes = layout.total;
  const CUresult allocated = driver.cuMemAlloc_v2(&s.memory, layout.total);
  if (allocated != CUDA_SUCCESS) {
    s.memory = 0;
    size_t free = 0, total = 0;
    driver.cuMemGetInfo_v2(&free, &total);
    const std::string doing = s.gpu.where(
        "allocating " + megabytes(layout.total) + " for a session (arena " +
        megabytes(layout.keys) + ", KV caches " + megabytes(layout.tokens - layout.keys) +
        " for " + std::to_string(session.context) + " positions; " + megabytes(free) + " of " +
        megabytes(total) + " free)");
    return driver.check(allocated, "cuMemAlloc_v2", doing.c_str());
  }
  s.arena = s.memory + layout.arena;
  s.keys = s.memory + layout.keys;
  s.values = s.memory + layout.values;
  s.tokens = s.memory + layout.tokens;
  s.calls = s.memory + layout.calls;

  const size_t tokenBytes = alignHost(size_t(maxRowsOf(model)) * sizeof(int32_t));
  const size_t callBytes = alignHost(2 * sizeof(tern_cuda_call_t));
  const size_t logitsBytes = alignHost(size_t(model.vocab) * sizeof(float));
  // Page-locked, so that the copies on the stream are asynchronous DMA.
  if (tern_status_t status =
          TERN_CUDA_CALL(driver, s.gpu.where("allocating a session's pinned host memory").c_str(),
                         cuMemHostAlloc, &s.pinned, tokenBytes + callBytes + 2 * logitsBytes, 0u))
    return status;
  auto *bytes = static_cast<uint8_t *>(s.pinned);
  s.hostTokens = reinterpret_cast<int32_t *>(bytes);
  s.hostCalls = reinterpret_cast<tern_cuda_call_t *>(bytes + tokenBytes);
  s.hostLogits[0] = reinterpret_cast<float *>(bytes + tokenBytes + callBytes);
  s.hostLogits[1] = reinterpret_cast<float *>(bytes + tokenBytes + callBytes + logitsBytes);
  return nullptr;
}

} // namespace

uint64_t sessionDeviceBytes(const tern_model_t &model, int64_t contextPositions) {
  return layoutFor(model, contextPositions).total;
}

Session::~Session() {
  const Driver &driver = gpu.driver;
  ContextScope scope(driver, gpu.context);
  if (stream)
    driver.cuStreamSynchronize(stream); // nothing may still use what is freed below
  for (EntryLaunches *e : {&decode, &prefill, &prefillLogits})
    for (CUgraphExec graph : e->graphs)
      if (graph)
        driver.cuGraphExecDestroy(graph);
  for (CUevent event : events)
    if (event)
      driver.cuEventDestroy_v2(event);
  if (stream)
    driver.cuStreamDestroy_v2(stream);
  if (pinned)
    driver.cuMemFreeHost(pinned);
  if (memory)
    driver.cuMemFree_v2(memory);
}

void SessionDeleter::operator()(Session *session) const { delete session; }

tern_status_t createSession(tern_session_t &session, SessionPtr *out) {
  const tern_model_t &model = *session.model;
  Model &gpu = *model.cuda;
  out->reset(new (std::nothrow) Session(gpu, model));
  if (!*out)
    return tern_status_create(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  Session &s = **out;
  const Driver &driver = gpu.driver;
  ContextScope scope(driver, gpu.context);
  if (tern_status_t status = scope.status(gpu.where("creating a session").c_str()))
    return status;
  if (tern_status_t status = allocate(s, session))
    return status;
  if (tern_status_t status =
          TERN_CUDA_CALL(driver, gpu.where("creating a session's stream").c_str(),
                         cuStreamCreate, &s.stream, CU_STREAM_NON_BLOCKING))
    return status;
  // Zeroed like the cpu's fresh pages, so that nothing depends on what memory held before; on
  // the session's stream, which does not wait for the legacy one a plain memset would use.
  const std::string clearing = gpu.where("clearing a session's memory");
  if (tern_status_t status = TERN_CUDA_CALL(driver, clearing.c_str(), cuMemsetD8Async, s.memory,
                                            0, size_t(s.memoryBytes), s.stream))
    return status;
  if (tern_status_t status =
          TERN_CUDA_CALL(driver, clearing.c_str(), cuStreamSynchronize, s.stream))
    return status;
  size_t mostDispatches = 0;
  for (const PreparedEntry &entry : model.entries)
    mostDispatches = std::max(mostDispatches, entry.dispatches.size());
  s.events.assign(mostDispatches + 1, nullptr);
  for (CUevent &event : s.events)
    if (tern_status_t status =
            TERN_CUDA_CALL(driver, gpu.where("creating a session's profiling events").c_str(),
                           cuEventCreate, &event, CU_EVENT_DEFAULT))
      return status;
  buildLaunches(s, session, model.decode, &s.decode);
  buildLaunches(s, session, model.prefill, &s.prefill);
  buildLaunches(s, session, model.prefillLogits, &s.prefillLogits);
  if (s.decode.entry && graphsEnabled())
    if (tern_status_t status = captureDecode(s, s.decode))
      return status;
  session.lastLogits = s.hostLogits[s.current];
  return nullptr;
}

} // namespace tern::cuda
