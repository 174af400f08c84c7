// Evaluation on a GPU: tokens and call records in, launches or a graph replay, logits out.
#include "CudaSession.h"

#include "SessionImpl.h"

#include <algorithm>
#include <cstring>

namespace tern::cuda {
namespace {

// The status of |function| failing with |result| on dispatch |d| of |e|. Kept out of the launch
// loop, which builds no string unless something failed.
__attribute__((noinline, cold)) tern_status_t dispatchFailure(const Session &s,
                                                              const EntryLaunches &e, size_t d,
                                                              const char *function,
                                                              CUresult result) {
  if (d >= e.launches.size())
    return s.gpu.driver.check(result, function,
                              s.gpu.where("entry point '" + e.entry->name + "'").c_str());
  const Launch &launch = e.launches[d];
  const std::string doing = s.gpu.where(
      "entry point '" + e.entry->name + "', dispatch " + std::to_string(d) + " (kernel '" +
      e.entry->dispatches[d].spec->symbol + "', grid " + std::to_string(launch.grid[0]) + "x" +
      std::to_string(launch.grid[1]) + "x" + std::to_string(launch.grid[2]) + ", block " +
      std::to_string(launch.block[0]) + "x" + std::to_string(launch.block[1]) + "x" +
      std::to_string(launch.block[2]) + ")");
  return s.gpu.driver.check(result, function, doing.c_str());
}

// The status of |function| failing with |result| while running |rows| rows of |e| at |pos|.
__attribute__((noinline, cold)) tern_status_t callFailure(const Session &s,
                                                          const EntryLaunches &e, int64_t rows,
                                                          int64_t pos, const char *function,
                                                          CUresult result) {
  const std::string doing =
      s.gpu.where("running entry point '" + e.entry->name + "' on " + std::to_string(rows) +
                  " row(s) at position " + std::to_string(pos));
  return s.gpu.driver.check(result, function, doing.c_str());
}

// Moves the row-indexed arena bindings of |e|'s last-row dispatches to row |rows| - 1, as the
// cpu does per call (kernel ABI: a last_row dispatch sees the call's last row only).
void moveToLastRow(EntryLaunches &e, int64_t rows) {
  if (rows == e.valuesRows)
    return;
  const PreparedEntry &entry = *e.entry;
  for (size_t d : e.lastRowDispatches) {
    const PreparedDispatch &dispatch = entry.dispatches[d];
    for (size_t i = 0; i < dispatch.numBindings; ++i) {
      const size_t b = dispatch.firstBinding + i;
      e.values[dispatch.firstBinding + d + i] = e.firstRow[b] + uint64_t(rows - 1) * e.rowStride[b];
    }
  }
  e.valuesRows = rows;
}

// Copies the logits of this chunk's rows (every row when |e| keeps them all, else its one row)
// to |out| (vocab floats per row); pageable memory, so the copies return once done.
CUresult copyRowLogits(Session &s, const PreparedEntry &entry, int64_t rows, float *out) {
  const size_t rowBytes = size_t(s.model.vocab) * sizeof(float);
  const CUdeviceptr logits = s.arena + entry.logitsOffset;
  const int64_t copies = entry.logitsAllRows ? rows : 1;
  if (entry.logitsRowStride == rowBytes)
    return s.gpu.driver.cuMemcpyDtoHAsync_v2(out, logits, rowBytes * size_t(copies), s.stream);
  for (int64_t r = 0; r < copies; ++r)
    if (CUresult result = s.gpu.driver.cuMemcpyDtoHAsync_v2(
            out + size_t(r) * size_t(s.model.vocab), logits + uint64_t(r) * entry.logitsRowStride,
            rowBytes, s.stream))
      return result;
  return CUDA_SUCCESS;
}

// Adds each of the first |count| dispatches' time (between its events) to its kernel.
tern_status_t countProfile(Session &s, EntryLaunches &e, EntryState &state, size_t count,
                           int64_t rows, int64_t pos) {
  state.profiledRuns += 1;
  for (size_t d = 0; d < count; ++d) {
    float milliseconds = 0;
    if (CUresult result =
            s.gpu.driver.cuEventElapsedTime(&milliseconds, s.events[d], s.events[d + 1]))
      return dispatchFailure(s, e, d, "cuEventElapsedTime", result);
    const PreparedDispatch &dispatch = e.entry->dispatches[d];
    countDispatch(state, dispatch, dispatch.lastRow ? 1 : rows,
                  dispatch.lastRow ? pos + rows - 1 : pos, double(milliseconds) * 1e-3);
  }
  return nullptr;
}

// Runs one chunk: |rows| tokens at |pos|, all dispatches or (without |needLogits|) the body.
// With |rowLogits| copies the chunk's logits there; else with |lastLogits| the last row's.
tern_status_t runChunk(Session &s, EntryLaunches &e, EntryState &state, bool profile,
                       const int32_t *tokens, int64_t rows, int64_t pos, bool needLogits,
                       float *rowLogits, float *lastLogits) {
  const Driver &driver = s.gpu.driver;
  const PreparedEntry &entry = *e.entry;
  std::memcpy(s.hostTokens, tokens, size_t(rows) * sizeof(int32_t));
  s.hostCalls[0] = tern_cuda_call_t{rows, pos};
  s.hostCalls[1] = tern_cuda_call_t{1, pos + rows - 1};
  if (CUresult result = driver.cuMemcpyHtoDAsync_v2(s.tokens, s.hostTokens,
                                                    size_t(rows) * sizeof(int32_t), s.stream))
    return callFailure(s, e, rows, pos, "cuMemcpyHtoDAsync_v2", result);
  if (CUresult result = driver.cuMemcpyHtoDAsync_v2(s.calls, s.hostCalls,
                                                    2 * sizeof(tern_cuda_call_t), s.stream))
    return callFailure(s, e, rows, pos, "cuMemcpyHtoDAsync_v2", result);

  const size_t count = needLogits ? entry.dispatches.size() : entry.bodyDispatches;
  // A graph replays launches with the parameters of a one-row call; a profiled call times
  // each launch instead.
  CUgraphExec graph = nullptr;
  if (rows == 1 && !profile)
    graph = count == entry.dispatches.size() ? e.graphs[1] : e.graphs[0];
  if (graph) {
    if (CUresult result = driver.cuGraphLaunch(graph, s.stream))
      return callFailure(s, e, rows, pos, "cuGraphLaunch", result);
  } else {
    moveToLastRow(e, rows);
    if (tern_status_t status = launchDispatches(s, e, count, profile))
      return status;
  }

  if (rowLogits) {
    if (CUresult result = copyRowLogits(s, entry, rows, rowLogits))
      return callFailure(s, e, rows, pos, "cuMemcpyDtoHAsync_v2", result);
  } else if (lastLogits) {
    const uint64_t row = entry.logitsAllRows ? uint64_t(rows - 1) : 0;
    if (CUresult result = driver.cuMemcpyDtoHAsync_v2(
            lastLogits, s.arena + entry.logitsOffset + row * entry.logitsRowStride,
            size_t(s.model.vocab) * sizeof(float), s.stream))
      return callFailure(s, e, rows, pos, "cuMemcpyDtoHAsync_v2", result);
  }
  // Kernel faults surface here. The host staging is reused by the next chunk, so every chunk
  // ends with its copies done.
  if (CUresult result = driver.cuStreamSynchronize(s.stream))
    return callFailure(s, e, rows, pos, "cuStreamSynchronize", result);
  return profile ? countProfile(s, e, state, count, rows, pos) : nullptr;
}

} // namespace

tern_status_t launchDispatches(Session &s, EntryLaunches &e, size_t count, bool profile) {
  const Driver &driver = s.gpu.driver;
  for (size_t d = 0; d < count; ++d) {
    const Launch &l = e.launches[d];
    if (profile)
      if (CUresult result = driver.cuEventRecord(s.events[d], s.stream))
        return dispatchFailure(s, e, d, "cuEventRecord", result);
    if (s.gpu.programmaticLaunch) {
      CUlaunchAttribute attribute{};
      attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
      attribute.value.programmaticStreamSerializationAllowed = 1;
      const CUlaunchConfig config{l.grid[0],  l.grid[1],  l.grid[2], l.block[0], l.block[1],
                                  l.block[2], 0,          s.stream,  &attribute, 1};
      if (CUresult result = driver.cuLaunchKernelEx(&config, l.function, l.params, nullptr))
        return dispatchFailure(s, e, d, "cuLaunchKernelEx", result);
      continue;
    }
    if (CUresult result =
            driver.cuLaunchKernel(l.function, l.grid[0], l.grid[1], l.grid[2], l.block[0],
                                  l.block[1], l.block[2], 0, s.stream, l.params, nullptr))
      return dispatchFailure(s, e, d, "cuLaunchKernel", result);
  }
  if (profile)
    if (CUresult result = driver.cuEventRecord(s.events[count], s.stream))
      return dispatchFailure(s, e, count, "cuEventRecord", result);
  return nullptr;
}

tern_status_t captureGraph(Session &s, EntryLaunches &e, size_t count, CUgraphExec *out) {
  const Driver &driver = s.gpu.driver;
  const std::string doing = s.gpu.where("capturing entry point '" + e.entry->name +
                                        "' into a CUDA graph (TERN_CUDA_GRAPHS=0 turns graphs "
                                        "off)");
  moveToLastRow(e, 1); // the graph keeps the parameters of a one-row call
  // Thread-local capture: other threads (other sessions) may keep using CUDA meanwhile.
  if (tern_status_t status = TERN_CUDA_CALL(driver, doing.c_str(), cuStreamBeginCapture_v2,
                                            s.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))
    return status;
  tern_status_t launched = launchDispatches(s, e, count, /*profile=*/false);
  CUgraph graph = nullptr;
  // Ends the capture even after a failed launch, which leaves the stream usable.
  const CUresult ended = driver.cuStreamEndCapture(s.stream, &graph);
  if (launched || ended != CUDA_SUCCESS) {
    if (graph)
      driver.cuGraphDestroy(graph);
    return launched ? launched : driver.check(ended, "cuStreamEndCapture", doing.c_str());
  }
  const CUresult instantiated = driver.cuGraphInstantiateWithFlags(out, graph, 0);
  driver.cuGraphDestroy(graph); // the executable graph is independent of it
  if (instantiated != CUDA_SUCCESS) {
    *out = nullptr;
    return driver.check(instantiated, "cuGraphInstantiateWithFlags", doing.c_str());
  }
  return nullptr;
}

tern_status_t evaluate(tern_session_t &session, EntryState &state, const int32_t *tokens,
                       size_t count, float *allLogits) {
  Session &s = *session.cuda;
  EntryLaunches &e = s.launchesOf(state.entry);
  const PreparedEntry &entry = *e.entry;
  const size_t vocab = size_t(s.model.vocab);
  ContextScope scope(s.gpu.driver, s.gpu.context);
  if (tern_status_t status = scope.status("evaluating on the cuda device"))
    return status;
  // The same chunks as on the cpu: an entry that keeps only the last row's logits goes one
  // token at a time for |allLogits|.
  const int64_t chunk = allLogits && !entry.logitsAllRows ? 1 : entry.maxRows;
  float *next = s.hostLogits[1 - s.current]; // the caller may still read the current one
  int64_t done = 0;
  while (done < int64_t(count)) {
    const int64_t rows = std::min<int64_t>(chunk, int64_t(count) - done);
    const bool last = done + rows == int64_t(count);
    if (tern_status_t status = runChunk(s, e, state, session.profiling, tokens + done, rows,
                                        session.position + done, allLogits || last,
                                        allLogits ? allLogits + size_t(done) * vocab : nullptr,
                                        last ? next : nullptr)) {
      s.gpu.driver.cuStreamSynchronize(s.stream); // leave nothing running on failure
      return status;
    }
    done += rows;
  }
  if (allLogits)
    std::memcpy(next, allLogits + (count - 1) * vocab, vocab * sizeof(float));
  s.current = 1 - s.current;
  session.lastLogits = next;
  return nullptr;
}

} // namespace tern::cuda
