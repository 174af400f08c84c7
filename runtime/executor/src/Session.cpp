// tern_session_*: per-sequence memory, binding resolution and the chunked evaluation loop.
#include "SessionImpl.h"

#include "reference/ReferenceDispatch.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

using namespace tern;

namespace {

tern_status_t failSession(tern_status_code_t code, const std::string &message) {
  return tern_status_create(code, message.c_str());
}

void resolveEntry(tern_session_t &session, const PreparedEntry *entry, EntryState *state) {
  state->entry = entry;
  if (!entry)
    return;
  state->kernels.assign(entry->kernels.size(), KernelCounters{});
  if (session.model->cuda)
    return; // the device side resolves bindings to device memory
  const Artifact &artifact = *session.model->artifact;
  const uint64_t layerFloats = session.kv.layerFloats();
  state->resolved.resize(entry->bindings.size());
  state->lastRowShift.assign(entry->bindings.size(), 0);
  for (size_t i = 0; i < entry->bindings.size(); ++i) {
    const schema::Binding &b = *entry->bindings[i];
    void *pointer = nullptr;
    switch (b.kind()) {
    case schema::BindingKind::ArenaSlice:
      pointer = session.arena + b.offset();
      state->lastRowShift[i] = b.row_stride();
      break;
    case schema::BindingKind::SectionSlice:
      // Kernels never write weights; the ABI passes every binding as void*.
      pointer = const_cast<uint8_t *>(artifact.sectionBytes(b.section()).data) + b.offset();
      break;
    case schema::BindingKind::KeyCache:
      pointer = session.keyCache + b.layer() * layerFloats;
      break;
    case schema::BindingKind::ValueCache:
      pointer = session.valueCache + b.layer() * layerFloats;
      break;
    case schema::BindingKind::Tokens:
      pointer = session.tokens.data();
      break;
    }
    state->resolved[i] = pointer;
  }
}

void resolveEntries(tern_session_t &session) {
  const tern_model_t &model = *session.model;
  resolveEntry(session, model.decode, &session.decode);
  resolveEntry(session, model.prefill, &session.prefill);
  resolveEntry(session, model.prefillLogits, &session.prefillLogits);
}

// One dispatch as the thread pool sees it.
struct DispatchJob {
  const PreparedDispatch *dispatch;
  void *const *bindings;
  int64_t rows, pos;
  std::atomic<tern_status_t> error{nullptr};
};

void runDispatchSlice(void *context, int64_t begin, int64_t end) {
  auto *job = static_cast<DispatchJob *>(context);
  if (job->dispatch->fn) {
    job->dispatch->fn(job->bindings, job->rows, job->pos, begin, end);
    return;
  }
  tern_status_t status =
      runReferenceKernel(*job->dispatch->spec, job->bindings, job->rows, job->pos, begin, end);
  tern_status_t expected = nullptr;
  if (status && !job->error.compare_exchange_strong(expected, status))
    tern_status_free(status); // another slice already reported
}

using ProfileClock = std::chrono::steady_clock; // monotonic: immune to wall-clock steps

// Runs the first |count| dispatches of |state|'s entry point. |Profile| is a template parameter
// so that the unprofiled loop has no clock reads and no branch for them.
template <bool Profile>
tern_status_t runDispatches(tern_session_t &session, EntryState &state, int64_t rows,
                            int64_t pos, size_t count) {
  const PreparedEntry &entry = *state.entry;
  if constexpr (Profile)
    state.profiledRuns += 1;
  for (size_t d = 0; d < count; ++d) {
    const PreparedDispatch &dispatch = entry.dispatches[d];
    DispatchJob job;
    job.dispatch = &dispatch;
    job.rows = rows;
    job.pos = pos;
    job.bindings = state.resolved.data() + dispatch.firstBinding;
    if (dispatch.lastRow) {
      // Only the last row goes through: row-indexed arena bindings move to it.
      for (size_t i = 0; i < dispatch.numBindings; ++i) {
        const size_t b = dispatch.firstBinding + i;
        session.callBindings[i] =
            static_cast<uint8_t *>(state.resolved[b]) + uint64_t(rows - 1) * state.lastRowShift[b];
      }
      job.bindings = session.callBindings.data();
      job.rows = 1;
      job.pos = pos + rows - 1;
    }
    ProfileClock::time_point start;
    if constexpr (Profile)
      start = ProfileClock::now();
    // Row items past the call's rows have nothing to do: decode runs such a dispatch as one
    // item on the calling thread.
    const int64_t items =
        dispatch.itemsAreRows ? std::min<int64_t>(dispatch.gridItems, job.rows) : dispatch.gridItems;
    session.model->pool.parallelFor(items, &runDispatchSlice, &job);
    if constexpr (Profile)
      countDispatch(state, dispatch, job.rows, job.pos,
                    std::chrono::duration<double>(ProfileClock::now() - start).count());
    if (tern_status_t error = job.error.load())
      return error;
  }
  return nullptr;
}

// Runs |state|'s entry point on |rows| tokens at |pos|; without |needLogits| it stops before
// the dispatches that only compute the logits (the KV cache ends up the same). Allocates
// nothing.
tern_status_t runEntry(tern_session_t &session, EntryState &state, const int32_t *tokens,
                       int64_t rows, int64_t pos, bool needLogits) {
  std::memcpy(session.tokens.data(), tokens, sizeof(int32_t) * size_t(rows));
  const PreparedEntry &entry = *state.entry;
  const size_t count = needLogits ? entry.dispatches.size() : entry.bodyDispatches;
  return session.profiling ? runDispatches<true>(session, state, rows, pos, count)
                           : runDispatches<false>(session, state, rows, pos, count);
}

// Logits of row |row| of the call just run on |entry| (row 0 when it keeps only the last).
const float *entryLogits(const tern_session_t &session, const PreparedEntry &entry,
                         int64_t row) {
  return reinterpret_cast<const float *>(session.arena + entry.logitsOffset +
                                         uint64_t(row) * entry.logitsRowStride);
}

tern_status_t checkTokens(const tern_session_t &session, const int32_t *tokens, size_t count) {
  if (count > 0 && !tokens)
    return failSession(TERN_STATUS_INVALID_ARGUMENT, "tern_session_eval: tokens is NULL");
  if (int64_t(count) > session.context - session.position)
    return failSession(TERN_STATUS_OUT_OF_RANGE,
                       "tern_session_eval: " + std::to_string(count) + " tokens at position " +
                           std::to_string(session.position) + " would pass the context length " +
                           std::to_string(session.context));
  for (size_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= session.model->vocab)
      return failSession(TERN_STATUS_INVALID_ARGUMENT,
                         "tern_session_eval: token " + std::to_string(i) + " has id " +
                             std::to_string(tokens[i]) + ", outside the vocabulary of " +
                             std::to_string(session.model->vocab));
  return nullptr;
}

// Evaluates |count| tokens on the CPU with |state|'s entry point and leaves the last token's
// logits in session.logits (every row's in |allLogits| when not null).
tern_status_t evaluateOnCpu(tern_session_t &session, EntryState &state, const int32_t *tokens,
                            size_t count, float *allLogits) {
  const PreparedEntry &entry = *state.entry;
  // An entry that keeps only the last row's logits goes one token at a time for |allLogits|.
  const int64_t chunk = allLogits && !entry.logitsAllRows ? 1 : entry.maxRows;
  const size_t vocab = size_t(session.model->vocab);

  std::lock_guard<std::mutex> lock(session.model->pool.runMutex());
  int64_t done = 0, rows = 0;
  while (done < int64_t(count)) {
    rows = std::min<int64_t>(chunk, int64_t(count) - done);
    // Only the last chunk's logits are kept, unless every row's are wanted.
    const bool needLogits = allLogits || done + rows == int64_t(count);
    if (tern_status_t status = runEntry(session, state, tokens + done, rows,
                                        session.position + done, needLogits))
      return status;
    if (allLogits)
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(allLogits + size_t(done + r) * vocab,
                    entryLogits(session, entry, entry.logitsAllRows ? r : 0),
                    vocab * sizeof(float));
    done += rows;
  }
  std::memcpy(session.logits.data(),
              entryLogits(session, entry, entry.logitsAllRows ? rows - 1 : 0),
              vocab * sizeof(float));
  return nullptr;
}

// Evaluates |count| tokens; with |allLogits| writes every row's logits there.
tern_status_t evaluate(tern_session_t &session, const int32_t *tokens, size_t count,
                       float *allLogits) {
  if (tern_status_t status = checkTokens(session, tokens, count))
    return status;
  if (count == 0)
    return nullptr;
  const tern_model_t &model = *session.model;
  EntryState *state;
  if (allLogits)
    state = model.prefillLogits ? &session.prefillLogits : &session.decode;
  else if (count == 1 && model.decode)
    state = &session.decode;
  else
    state = model.prefill ? &session.prefill : &session.decode;
  if (!state->entry)
    return failSession(TERN_STATUS_UNIMPLEMENTED,
                       model.artifact->name() +
                           ": no entry point gives the logits of every token (needs "
                           "'prefill_logits' or 'decode')");
  if (tern_status_t status =
          session.cuda ? cuda::evaluate(session, *state, tokens, count, allLogits)
                       : evaluateOnCpu(session, *state, tokens, count, allLogits))
    return status; // position and logits unchanged: the session is as before the call
  session.hasLogits = true;
  session.position += int64_t(count);
  return nullptr;
}

// The session's entry points in the order the profile lists them.
std::array<const EntryState *, 3> profiledEntries(const tern_session_t &session) {
  return {&session.decode, &session.prefill, &session.prefillLogits};
}

// The |index|-th kernel that ran while profiling (0-based over every entry point), or false.
bool findProfiledKernel(const tern_session_t &session, size_t index, const EntryState **state,
                        size_t *kernel) {
  for (const EntryState *candidate : profiledEntries(session))
    for (size_t k = 0; k < candidate->kernels.size(); ++k)
      if (candidate->kernels[k].calls > 0 && index-- == 0) {
        *state = candidate;
        *kernel = k;
        return true;
      }
  return false;
}

tern_profile_record_t makeRecord(const EntryState &state, size_t kernel) {
  const KernelSpec &spec = *state.entry->kernels[kernel];
  const KernelCounters &counters = state.kernels[kernel];
  tern_profile_record_t record{};
  record.entry_point = state.entry->name.c_str();
  record.symbol = spec.symbol.c_str();
  record.family = spec.family.c_str();
  record.entry_runs = state.profiledRuns;
  record.calls = counters.calls;
  record.seconds = counters.seconds;
  record.weight_bytes = counters.weightBytes;
  record.weight_bytes_per_call = counters.calls ? counters.weightBytes / counters.calls : 0;
  record.kv_cache_bytes = counters.kvBytes;
  return record;
}

// The smallest record a caller may pass: the first version, which ends with kv_cache_bytes.
constexpr size_t kProfileRecordV1Size =
    offsetof(tern_profile_record_t, kv_cache_bytes) + sizeof(uint64_t);

} // namespace

extern "C" {

void tern_session_options_init(tern_session_options_t *options) { options->context_length = 0; }

tern_status_t tern_session_create(tern_model_t *model, const tern_session_options_t *options,
                                  tern_session_t **out_session) {
  if (!model || !out_session)
    return failSession(TERN_STATUS_INVALID_ARGUMENT,
                       "tern_session_create: model and out_session must not be NULL");
  *out_session = nullptr;
  int64_t context = options ? options->context_length : 0;
  if (context < 0 || context > model->kv.context)
    return failSession(TERN_STATUS_INVALID_ARGUMENT,
                       "tern_session_create: options.context_length is " +
                           std::to_string(context) + ", expected 0 (the model's) up to " +
                           std::to_string(model->kv.context));
  auto *session = new (std::nothrow) tern_session_t();
  if (!session)
    return failSession(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  session->model = model;
  session->context = context ? context : model->kv.context;
  // Kernels index a layer's cache by position alone (the plan's context only bounds positions;
  // docs/runtime.md), and evaluation keeps positions below the session's context: a shorter
  // session gets shorter layers, and only the memory it can use.
  session->kv = model->kv.withContext(session->context);
  if (model->cuda) {
    resolveEntries(*session);
    if (tern_status_t status = cuda::createSession(*session, &session->cuda)) {
      delete session;
      return status;
    }
    *out_session = session;
    return nullptr;
  }
  const uint64_t arenaBytes = (std::max<uint64_t>(model->arenaBytes, 1) + 63) / 64 * 64;
  const size_t cacheFloats = std::max<size_t>(session->kv.cacheFloats(), 1);
  if (!session->arenaPages.allocate(arenaBytes) ||
      !session->keyPages.allocate(cacheFloats * sizeof(float)) ||
      !session->valuePages.allocate(cacheFloats * sizeof(float))) {
    delete session;
    return failSession(TERN_STATUS_RESOURCE_EXHAUSTED,
                       "tern_session_create: cannot allocate the " + std::to_string(arenaBytes) +
                           "-byte arena and two " + std::to_string(cacheFloats * sizeof(float)) +
                           "-byte KV caches");
  }
  session->arena = session->arenaPages.as<uint8_t>();
  session->keyCache = session->keyPages.as<float>();
  session->valueCache = session->valuePages.as<float>();
  int64_t maxRows = 1;
  for (const PreparedEntry &entry : model->entries)
    maxRows = std::max(maxRows, entry.maxRows);
  session->tokens.assign(size_t(maxRows), 0);
  session->logits.assign(size_t(model->vocab), 0.0f);
  session->lastLogits = session->logits.data();
  session->callBindings.assign(std::max<size_t>(model->maxBindings, 1), nullptr);
  resolveEntries(*session);
  *out_session = session;
  return nullptr;
}

void tern_session_release(tern_session_t *session) { delete session; }

void tern_session_info(const tern_session_t *session, tern_session_info_t *out_info) {
  *out_info = tern_session_info_t{};
  out_info->context_length = session->context;
  out_info->kv_cache_bytes = 2 * session->kv.cacheFloats() * sizeof(float);
  out_info->arena_bytes = (std::max<uint64_t>(session->model->arenaBytes, 1) + 63) / 64 * 64;
}

tern_model_t *tern_session_model(const tern_session_t *session) { return session->model; }

void tern_session_reset(tern_session_t *session) {
  session->position = 0;
  session->hasLogits = false;
}

int64_t tern_session_position(const tern_session_t *session) { return session->position; }

tern_status_t tern_session_eval(tern_session_t *session, const int32_t *tokens, size_t count) {
  return evaluate(*session, tokens, count, nullptr);
}

tern_status_t tern_session_eval_all_logits(tern_session_t *session, const int32_t *tokens,
                                           size_t count, float *out_logits) {
  if (!out_logits)
    return failSession(TERN_STATUS_INVALID_ARGUMENT,
                       "tern_session_eval_all_logits: out_logits is NULL");
  return evaluate(*session, tokens, count, out_logits);
}

const float *tern_session_logits(const tern_session_t *session) {
  return session->hasLogits ? session->lastLogits : nullptr;
}

void tern_session_profile_enable(tern_session_t *session, int enabled) {
  session->profiling = enabled != 0;
}

int tern_session_profile_enabled(const tern_session_t *session) { return session->profiling; }

size_t tern_session_profile_count(const tern_session_t *session) {
  size_t count = 0;
  for (const EntryState *state : profiledEntries(*session))
    for (const KernelCounters &counters : state->kernels)
      count += counters.calls > 0;
  return count;
}

tern_status_t tern_session_profile_record(const tern_session_t *session, size_t index,
                                          tern_profile_record_t *out_record,
                                          size_t record_size) {
  if (!out_record)
    return failSession(TERN_STATUS_INVALID_ARGUMENT,
                       "tern_session_profile_record: out_record is NULL");
  if (record_size < kProfileRecordV1Size)
    return failSession(TERN_STATUS_INVALID_ARGUMENT,
                       "tern_session_profile_record: record_size is " +
                           std::to_string(record_size) + ", expected at least " +
                           std::to_string(kProfileRecordV1Size) +
                           " (sizeof(tern_profile_record_t))");
  const EntryState *state = nullptr;
  size_t kernel = 0;
  if (!findProfiledKernel(*session, index, &state, &kernel))
    return failSession(TERN_STATUS_OUT_OF_RANGE,
                       "tern_session_profile_record: index is " + std::to_string(index) +
                           ", but the profile holds " +
                           std::to_string(tern_session_profile_count(session)) + " records");
  const tern_profile_record_t record = makeRecord(*state, kernel);
  // A caller built against a longer record gets zeros past the fields this runtime knows.
  std::memset(out_record, 0, record_size);
  std::memcpy(out_record, &record, std::min(record_size, sizeof(record)));
  return nullptr;
}

void tern_session_profile_reset(tern_session_t *session) {
  for (EntryState *state : {&session->decode, &session->prefill, &session->prefillLogits}) {
    std::fill(state->kernels.begin(), state->kernels.end(), KernelCounters{});
    state->profiledRuns = 0;
  }
}

} // extern "C"
