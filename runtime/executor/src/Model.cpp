// tern_model_*: opens an artifact, picks its device, loads its kernels, checks its plan.
#include "ModelImpl.h"
#include "ModelDevice.h"

#include "reference/ReferenceDispatch.h"
#include "tern/executor/ArtifactTokenizer.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <new>
#include <unistd.h>

using namespace tern;

namespace {

__attribute__((format(printf, 3, 4))) tern_status_t failModel(tern_status_code_t code,
                                                              const Artifact &artifact,
                                                              const char *format, ...) {
  char detail[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  std::string message = artifact.name() + ": " + detail;
  return tern_status_create(code, message.c_str());
}

// Checks one binding of dispatch |d| of |entry| against the region it names: the bytes the
// kernel touches (|need|, from the binding's start, plus the last-row shift) must lie inside
// the binding, and the binding inside its arena, section, cache or token buffer.
tern_status_t checkBinding(const tern_model_t &model, const PreparedEntry &entry, size_t d,
                           size_t b, const schema::Binding &binding, bool lastRow,
                           uint64_t need) {
  const Artifact &artifact = *model.artifact;
  const char *name = entry.name.c_str();
  auto outOfRange = [&](const char *what, unsigned long long limit) {
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "entry point '%s', dispatch %zu, binding %zu: %s (offset %llu, size %llu, "
                     "%llu bytes needed, limit %llu)",
                     name, d, b, what, (unsigned long long)binding.offset(),
                     (unsigned long long)binding.size(), (unsigned long long)need, limit);
  };
  switch (binding.kind()) {
  case schema::BindingKind::ArenaSlice: {
    const uint64_t shift =
        lastRow ? uint64_t(entry.maxRows - 1) * binding.row_stride() : 0;
    if (binding.offset() > model.arenaBytes || binding.size() > model.arenaBytes - binding.offset())
      return outOfRange("arena slice runs past the arena", model.arenaBytes);
    if (shift > binding.size() || need > binding.size() - shift)
      return outOfRange("the kernel would touch bytes past its arena slice", binding.size());
    return nullptr;
  }
  case schema::BindingKind::SectionSlice: {
    if (binding.section() >= artifact.numSections())
      return failModel(TERN_STATUS_DATA_LOSS, artifact,
                       "entry point '%s', dispatch %zu, binding %zu: section %u does not exist",
                       name, d, b, binding.section());
    const uint64_t size = artifact.sectionBytes(binding.section()).size;
    if (binding.offset() > size || binding.size() > size - binding.offset())
      return outOfRange("section slice runs past its section", size);
    if (need > binding.size())
      return outOfRange("the kernel would read past its section slice", binding.size());
    return nullptr;
  }
  case schema::BindingKind::KeyCache:
  case schema::BindingKind::ValueCache:
    if (int64_t(binding.layer()) >= model.kv.layers)
      return failModel(TERN_STATUS_DATA_LOSS, artifact,
                       "entry point '%s', dispatch %zu, binding %zu: KV cache layer %u, but the "
                       "memory plan has %lld layers",
                       name, d, b, binding.layer(), (long long)model.kv.layers);
    if (need > model.kv.layerFloats() * sizeof(float))
      return outOfRange("the kernel would touch bytes past its layer of the KV cache",
                        model.kv.layerFloats() * sizeof(float));
    return nullptr;
  case schema::BindingKind::Tokens:
    if (need > uint64_t(entry.maxRows) * sizeof(int32_t))
      return outOfRange("the kernel would read past the token ids",
                        uint64_t(entry.maxRows) * sizeof(int32_t));
    return nullptr;
  }
  return failModel(TERN_STATUS_DATA_LOSS, artifact,
                   "entry point '%s', dispatch %zu, binding %zu: unknown binding kind %d", name,
                   d, b, int(binding.kind()));
}

// What a profile needs of |dispatch| (already checked, its bindings appended to |entry|): its
// kernel's index among the entry's distinct kernels and the bytes it reads per call.
void prepareProfile(PreparedEntry *entry, PreparedDispatch *dispatch) {
  const auto known = std::find(entry->kernels.begin(), entry->kernels.end(), dispatch->spec);
  dispatch->kernelIndex = size_t(known - entry->kernels.begin());
  if (known == entry->kernels.end())
    entry->kernels.push_back(dispatch->spec);
  for (size_t b = 0; b < dispatch->numBindings; ++b) {
    const schema::Binding &binding = *entry->bindings[dispatch->firstBinding + b];
    if (binding.kind() == schema::BindingKind::SectionSlice)
      dispatch->weightBytes += binding.size();
  }
  // Attention reads keys and values of every position up to its last row's, for all kv heads
  // (the caches are F32, checked at load); how many positions is known only per call.
  if (dispatch->spec->family == "attention" || dispatch->spec->family == "rope_kv_attention")
    dispatch->kvBytesPerPosition = 2 * uint64_t(dispatch->spec->getInt("kv_heads")) *
                                   uint64_t(dispatch->spec->getInt("head_dim")) * sizeof(float);
}

// Checks EntryPoint.logits_only_dispatches of |entry| (its dispatches already prepared): a call
// that skips those dispatches must lose nothing but scratch and logits, so none may bind the KV
// cache, the only state that outlives a call.
tern_status_t prepareLogitsOnlyTail(const tern_model_t &model, const schema::EntryPoint &source,
                                    PreparedEntry *entry) {
  const size_t count = entry->dispatches.size();
  const uint64_t tail = source.logits_only_dispatches();
  if (tail > count)
    return failModel(TERN_STATUS_DATA_LOSS, *model.artifact,
                     "entry point '%s': field logits_only_dispatches is %llu, but it has %zu "
                     "dispatches",
                     entry->name.c_str(), (unsigned long long)tail, count);
  entry->bodyDispatches = count - size_t(tail);
  for (size_t d = entry->bodyDispatches; d < count; ++d) {
    const PreparedDispatch &dispatch = entry->dispatches[d];
    for (size_t b = 0; b < dispatch.numBindings; ++b) {
      const schema::BindingKind kind = entry->bindings[dispatch.firstBinding + b]->kind();
      if (kind == schema::BindingKind::KeyCache || kind == schema::BindingKind::ValueCache)
        return failModel(TERN_STATUS_DATA_LOSS, *model.artifact,
                         "entry point '%s': dispatch %zu (kernel '%s') binds the KV cache, but "
                         "logits_only_dispatches (%llu) says that it only computes the logits",
                         entry->name.c_str(), d, dispatch.spec->symbol.c_str(),
                         (unsigned long long)tail);
    }
  }
  return nullptr;
}

// Checks the launch of GPU dispatch |d| of |entry| (KernelDispatch.grid: grid x, y, z, then
// block x, y, z) against the limits every CUDA device shares, and keeps it in |*prepared|.
tern_status_t prepareGpuGrid(const tern_model_t &model, const PreparedEntry &entry, size_t d,
                             const schema::KernelDispatch &dispatch, PreparedDispatch *prepared) {
  const auto *grid = dispatch.grid();
  auto fail = [&](const std::string &problem) {
    std::string launch;
    for (size_t i = 0; grid && i < grid->size(); ++i)
      launch += (i ? ", " : "") + std::to_string(grid->Get(flatbuffers::uoffset_t(i)));
    return failModel(TERN_STATUS_DATA_LOSS, *model.artifact,
                     "entry point '%s', dispatch %zu (kernel '%s'): grid is [%s]; %s",
                     entry.name.c_str(), d, prepared->spec->symbol.c_str(), launch.c_str(),
                     problem.c_str());
  };
  if (!grid || grid->size() != 6)
    return fail("a GPU dispatch needs 6 numbers (grid x, y, z, block x, y, z)");
  for (size_t i = 0; i < 6; ++i) {
    prepared->gpuGrid[i] = grid->Get(flatbuffers::uoffset_t(i));
    if (prepared->gpuGrid[i] < 1)
      return fail("every number must be at least 1");
  }
  const std::array<uint32_t, 6> &g = prepared->gpuGrid;
  if (g[0] > 0x7fffffffu || g[1] > 65535 || g[2] > 65535)
    return fail("a grid is at most 2^31-1 x 65535 x 65535 blocks");
  if (g[3] > 1024 || g[4] > 1024 || g[5] > 64 || uint64_t(g[3]) * g[4] * g[5] > 1024)
    return fail("a block is at most 1024 threads (x, y <= 1024, z <= 64)");
  return nullptr;
}

tern_status_t prepareEntry(tern_model_t &model, const schema::EntryPoint &source,
                           PreparedEntry *entry) {
  const Artifact &artifact = *model.artifact;
  entry->name = source.name() ? source.name()->str() : "";
  entry->maxRows = source.max_rows();
  const char *name = entry->name.c_str();
  if (entry->maxRows < 1)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "entry point '%s': field max_rows is %lld, expected at least 1", name,
                     (long long)entry->maxRows);
  const schema::Binding *logits = source.logits();
  const uint64_t logitsRow = uint64_t(model.vocab) * sizeof(float);
  entry->logitsAllRows = source.logits_all_rows();
  if (!logits || logits->kind() != schema::BindingKind::ArenaSlice)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "entry point '%s': field logits must be an ArenaSlice binding", name);
  entry->logitsOffset = logits->offset();
  entry->logitsRowStride = logits->row_stride() ? logits->row_stride() : logitsRow;
  const uint64_t logitsRows = entry->logitsAllRows ? uint64_t(entry->maxRows) : 1;
  if (entry->logitsRowStride < logitsRow ||
      logits->offset() > model.arenaBytes ||
      (logitsRows - 1) * entry->logitsRowStride + logitsRow > model.arenaBytes - logits->offset())
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "entry point '%s': logits (offset %llu, row stride %llu, %llu rows of "
                     "%lld floats) do not fit the %llu-byte arena",
                     name, (unsigned long long)logits->offset(),
                     (unsigned long long)logits->row_stride(), (unsigned long long)logitsRows,
                     (long long)model.vocab, (unsigned long long)model.arenaBytes);

  const auto *dispatches = source.dispatches();
  const size_t count = dispatches ? dispatches->size() : 0;
  entry->dispatches.resize(count);
  for (size_t d = 0; d < count; ++d) {
    const schema::KernelDispatch &dispatch = *dispatches->Get(flatbuffers::uoffset_t(d));
    PreparedDispatch &prepared = entry->dispatches[d];
    if (dispatch.kernel_library() >= model.libraries.size() ||
        dispatch.kernel() >= model.libraries[dispatch.kernel_library()].specs.size())
      return failModel(TERN_STATUS_DATA_LOSS, artifact,
                       "entry point '%s', dispatch %zu: kernel %u of library %u does not exist",
                       name, d, dispatch.kernel(), dispatch.kernel_library());
    const LoadedKernelLibrary &library = model.libraries[dispatch.kernel_library()];
    prepared.spec = &library.specs[dispatch.kernel()];
    prepared.fn = library.fns.empty() ? nullptr : library.fns[dispatch.kernel()];
    prepared.lastRow = dispatch.last_row();
    prepared.library = dispatch.kernel_library();
    prepared.kernel = dispatch.kernel();
    ReferenceKernelShape shape;
    const int64_t rows = prepared.lastRow ? 1 : entry->maxRows;
    if (tern_status_t status = describeReferenceKernel(*prepared.spec, rows, &shape)) {
      tern_status_t wrapped = failModel(tern_status_code(status), artifact,
                                        "entry point '%s', dispatch %zu: %s", name, d,
                                        tern_status_message(status));
      tern_status_free(status);
      return wrapped;
    }
    prepared.gridItems = shape.gridItems;
    prepared.itemsAreRows = shape.itemsAreRows;
    if (model.gpuLibraries) {
      if (tern_status_t status = prepareGpuGrid(model, *entry, d, dispatch, &prepared))
        return status;
    } else if (dispatch.grid() && dispatch.grid()->size() > 0 &&
               int64_t(dispatch.grid()->Get(0)) != shape.gridItems) {
      return failModel(TERN_STATUS_DATA_LOSS, artifact,
                       "entry point '%s', dispatch %zu (kernel '%s'): grid[0] is %u, the family "
                       "needs %lld",
                       name, d, prepared.spec->symbol.c_str(), dispatch.grid()->Get(0),
                       (long long)shape.gridItems);
    }
    const size_t numBindings = dispatch.bindings() ? dispatch.bindings()->size() : 0;
    if (numBindings != shape.bindingBytes.size())
      return failModel(TERN_STATUS_DATA_LOSS, artifact,
                       "entry point '%s', dispatch %zu (kernel '%s'): %zu bindings, the family "
                       "'%s' takes %zu",
                       name, d, prepared.spec->symbol.c_str(), numBindings,
                       prepared.spec->family.c_str(), shape.bindingBytes.size());
    prepared.firstBinding = entry->bindings.size();
    prepared.numBindings = numBindings;
    for (size_t b = 0; b < numBindings; ++b) {
      const schema::Binding &binding = *dispatch.bindings()->Get(flatbuffers::uoffset_t(b));
      if (tern_status_t status = checkBinding(model, *entry, d, b, binding, prepared.lastRow,
                                              shape.bindingBytes[b]))
        return status;
      entry->bindings.push_back(&binding);
    }
    prepareProfile(entry, &prepared);
  }
  return prepareLogitsOnlyTail(model, source, entry);
}

// End-of-turn and end-of-text spellings of common chat vocabularies.
constexpr const char *kEndOfTurnTokens[] = {"<|eot_id|>", "<|im_end|>", "<end_of_turn>",
                                            "<|end|>", "<|eom_id|>"};
constexpr const char *kEndOfTextTokens[] = {"<|end_of_text|>", "<|endoftext|>", "</s>"};

tern_status_t loadTokenizer(tern_model_t &model) {
  const schema::Tokenizer *table = model.artifact->tokenizer();
  if (!table || !table->tokens() || table->tokens()->size() == 0)
    return nullptr; // a model without a tokenizer still runs on token ids
  if (table->chat_template())
    model.chatTemplate = table->chat_template()->str();
  TokenizerData data;
  std::string error;
  if (!tokenizerDataFromArtifact(*table, &data, &error))
    return failModel(TERN_STATUS_DATA_LOSS, *model.artifact, "%s", error.c_str());
  model.tokenizer = Tokenizer::create(std::move(data), &error);
  if (!model.tokenizer)
    return failModel(TERN_STATUS_DATA_LOSS, *model.artifact, "tokenizer: %s", error.c_str());
  const Tokenizer &tok = *model.tokenizer;
  // A normal-text token that happens to read "</s>" must not stop generation.
  auto special = [&](int32_t id) {
    return id != kNoToken && (tok.data().tokenTypes.empty() || tok.tokenType(id) != TokenType::Normal);
  };
  auto addEnd = [&](int32_t id) {
    if (id == kNoToken)
      return;
    for (int32_t known : model.endOfGeneration)
      if (known == id)
        return;
    model.endOfGeneration.push_back(id);
  };
  addEnd(tok.eosId());
  for (const char *text : kEndOfTurnTokens) {
    int32_t id = tok.tokenId(text);
    if (special(id)) {
      if (model.eotId == -1)
        model.eotId = id;
      addEnd(id);
    }
  }
  for (const char *text : kEndOfTextTokens) {
    int32_t id = tok.tokenId(text);
    if (special(id))
      addEnd(id);
  }
  if (model.eotId == -1)
    model.eotId = tok.eosId();
  return nullptr;
}

tern_status_t openModel(const char *path, const tern_model_options_t &options,
                        tern_model_t &model) {
  tern_status_t status = nullptr;
  // The host CPU is checked once the device is known: a GPU artifact's target is no CPU's.
  ArtifactOpenOptions openOptions;
  openOptions.checkHostCpu = false;
  model.artifact = Artifact::open(path, &status, openOptions);
  if (!model.artifact)
    return status;
  const Artifact &artifact = *model.artifact;
  model.reference = options.kernels == TERN_KERNELS_REFERENCE;
  DeviceChoice device;
  if ((status = chooseDevice(artifact, options, &device)))
    return status;
  model.gpuLibraries = device.gpuLibraries;
  const bool onCuda = device.device == TERN_DEVICE_CUDA;

  if (const schema::ModelMetadata *metadata = artifact.metadata()) {
    if (metadata->architecture())
      model.architecture = metadata->architecture()->str();
    if (const schema::Hyperparameters *h = metadata->hparams()) {
      model.vocab = h->vocab();
      model.layers = h->layers();
      model.hidden = h->hidden();
    }
  }
  if (artifact.target() && artifact.target()->cpu())
    model.targetCpu = artifact.target()->cpu()->str();
  if (model.vocab < 1)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "field metadata.hparams.vocab is %lld, expected at least 1",
                     (long long)model.vocab);

  const schema::MemoryPlan *plan = artifact.memoryPlan();
  if (!plan || !plan->kv_cache())
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "field memory_plan (with kv_cache) is missing");
  const schema::KVCacheLayout &kv = *plan->kv_cache();
  if (kv.element_type() != schema::ElementType::F32)
    return failModel(TERN_STATUS_UNIMPLEMENTED, artifact,
                     "memory_plan.kv_cache.element_type is %s; this runtime keeps F32 caches",
                     schema::EnumNameElementType(kv.element_type()));
  if (kv.layers() < 0 || kv.context() < 1 || kv.kv_heads() < 0 || kv.head_dim() < 0 ||
      kv.context() > (int64_t(1) << 24) || kv.kv_heads() * kv.head_dim() > (int64_t(1) << 20) ||
      kv.layers() > 4096)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "memory_plan.kv_cache (layers %lld, context %lld, kv_heads %lld, head_dim "
                     "%lld) is not a plausible layout",
                     (long long)kv.layers(), (long long)kv.context(), (long long)kv.kv_heads(),
                     (long long)kv.head_dim());
  model.kv = {kv.layers(), kv.context(), kv.kv_heads(), kv.head_dim()};
  model.arenaBytes = plan->arena_bytes();

  for (size_t i = 0; i < artifact.numSections(); ++i)
    if (artifact.section(i).kind() == schema::SectionKind::Weights)
      model.weightBytes += artifact.section(i).size();

  const size_t numLibraries =
      artifact.root().kernel_libraries() ? artifact.root().kernel_libraries()->size() : 0;
  model.libraries.resize(numLibraries);
  for (size_t i = 0; i < numLibraries; ++i)
    if ((status = loadKernelLibrary(artifact, i, !model.reference && !onCuda,
                                    &model.libraries[i])))
      return status;

  const auto *entries = artifact.root().entry_points();
  const size_t numEntries = entries ? entries->size() : 0;
  model.entries.resize(numEntries);
  for (size_t i = 0; i < numEntries; ++i) {
    PreparedEntry &entry = model.entries[i];
    if ((status = prepareEntry(model, *entries->Get(flatbuffers::uoffset_t(i)), &entry)))
      return status;
    model.maxBindings = std::max(model.maxBindings, entry.bindings.size());
    if (entry.name == "decode")
      model.decode = &entry;
    else if (entry.name == "prefill")
      model.prefill = &entry;
    else if (entry.name == "prefill_logits")
      model.prefillLogits = &entry;
  }
  if (!model.decode && !model.prefill)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "no entry point named 'decode' or 'prefill' (the model cannot run)");
  if (model.prefillLogits && !model.prefillLogits->logitsAllRows)
    return failModel(TERN_STATUS_DATA_LOSS, artifact,
                     "entry point 'prefill_logits' must have logits_all_rows set");

  if ((status = loadTokenizer(model)))
    return status;

  int threads = options.num_threads;
  if (threads < 0)
    return failModel(TERN_STATUS_INVALID_ARGUMENT, artifact,
                     "options.num_threads is %d, expected 0 (all CPUs) or more", threads);
  if (onCuda)
    return cuda::openModel(model, options.device_ordinal, &model.cuda); // no workers to start
  if (threads == 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    threads = online > 0 ? int(online) : 1;
  }
  std::string error;
  if (!model.pool.start(threads, &error))
    return failModel(TERN_STATUS_RESOURCE_EXHAUSTED, artifact, "%s", error.c_str());
  return nullptr;
}

} // namespace

extern "C" {

void tern_model_options_init(tern_model_options_t *options) {
  options->num_threads = 0;
  options->kernels = TERN_KERNELS_GENERATED;
  options->device = TERN_DEVICE_AUTO;
  options->device_ordinal = 0;
}

tern_status_t tern_model_open(const char *path, const tern_model_options_t *options,
                              tern_model_t **out_model) {
  if (!path || !out_model)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_model_open: path and out_model must not be NULL");
  *out_model = nullptr;
  tern_model_options_t defaults;
  tern_model_options_init(&defaults);
  if (!options)
    options = &defaults;
  if (options->kernels != TERN_KERNELS_GENERATED && options->kernels != TERN_KERNELS_REFERENCE)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              "tern_model_open: options.kernels is neither GENERATED nor "
                              "REFERENCE");
  if (options->device != TERN_DEVICE_AUTO && options->device != TERN_DEVICE_CPU &&
      options->device != TERN_DEVICE_CUDA)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              ("tern_model_open: options.device is " +
                               std::to_string(int(options->device)) +
                               ", expected TERN_DEVICE_AUTO, TERN_DEVICE_CPU or TERN_DEVICE_CUDA")
                                  .c_str());
  if (options->device_ordinal < 0)
    return tern_status_create(TERN_STATUS_INVALID_ARGUMENT,
                              ("tern_model_open: options.device_ordinal is " +
                               std::to_string(options->device_ordinal) + ", expected 0 or more")
                                  .c_str());
  auto *model = new (std::nothrow) tern_model_t();
  if (!model)
    return tern_status_create(TERN_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  if (tern_status_t status = openModel(path, *options, *model)) {
    delete model;
    return status;
  }
  *out_model = model;
  return nullptr;
}

void tern_model_release(tern_model_t *model) { delete model; }

void tern_model_info(const tern_model_t *model, tern_model_info_t *out_info) {
  *out_info = tern_model_info_t{};
  out_info->architecture = model->architecture.c_str();
  out_info->target_cpu = model->targetCpu.c_str();
  out_info->vocab_size = model->vocab;
  out_info->context_length = model->kv.context;
  out_info->num_layers = model->layers ? model->layers : model->kv.layers;
  out_info->hidden_size = model->hidden;
  out_info->max_batch_rows = model->prefill ? model->prefill->maxRows : 1;
  out_info->weight_bytes = model->weightBytes;
  out_info->arena_bytes = model->arenaBytes;
  out_info->kv_cache_bytes = 2 * model->kv.cacheFloats() * sizeof(float);
  out_info->num_threads = model->pool.numThreads();
  out_info->device = model->deviceName.c_str();
  out_info->device_memory_bytes = model->deviceMemoryBytes;
}

const char *tern_model_chat_template(const tern_model_t *model) {
  return model->chatTemplate.c_str();
}

} // extern "C"
