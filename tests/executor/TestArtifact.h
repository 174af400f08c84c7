// Writes `.tern` files for executor tests with the FlatBuffers builder alone (no compiler), and
// describes a tiny model: embedding -> rms_norm -> matmul (logits), vocab 16, width 8.
#ifndef TERN_TESTS_EXECUTOR_TESTARTIFACT_H
#define TERN_TESTS_EXECUTOR_TESTARTIFACT_H

#include "tern/artifact/Checksum.h"
#include "tern/artifact/FileFormat.h"
#include "tern/artifact/tern_artifact_generated.h"
#include "tern/kernel_abi.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace tern::test {

// Lays out |root| and |sections| (bytes of each, in order) as docs/artifact.md says: fills the
// sections' offsets, sizes, alignment and checksums, then the header.
inline std::vector<uint8_t> buildArtifactBytes(schema::ArtifactT root,
                                               const std::vector<std::vector<uint8_t>> &sections) {
  root.format_version = kArtifactFormatVersion;
  root.sections.resize(sections.size());
  for (size_t i = 0; i < sections.size(); ++i) {
    if (!root.sections[i])
      root.sections[i] = std::make_unique<schema::SectionT>();
    root.sections[i]->size = sections[i].size();
    root.sections[i]->alignment = kArtifactSectionAlignment;
    root.sections[i]->checksum = xxh64(sections[i].data(), sections[i].size());
  }
  auto pack = [&root]() {
    flatbuffers::FlatBufferBuilder builder;
    builder.ForceDefaults(true); // every scalar present: offsets do not change the size
    builder.Finish(schema::Artifact::Pack(builder, &root), schema::ArtifactIdentifier());
    return std::vector<uint8_t>(builder.GetBufferPointer(),
                                builder.GetBufferPointer() + builder.GetSize());
  };
  auto alignUp = [](uint64_t v) { return (v + 63) / 64 * 64; };
  uint64_t cursor = alignUp(64 + pack().size());
  for (size_t i = 0; i < sections.size(); ++i) {
    root.sections[i]->offset = cursor;
    cursor = alignUp(cursor + sections[i].size());
  }
  std::vector<uint8_t> flatbuffer = pack();
  uint64_t fileSize = sections.empty() ? 64 + flatbuffer.size()
                                       : root.sections.back()->offset + sections.back().size();
  std::vector<uint8_t> file(fileSize, 0);
  std::memcpy(file.data() + 64, flatbuffer.data(), flatbuffer.size());
  for (size_t i = 0; i < sections.size(); ++i)
    if (!sections[i].empty())
      std::memcpy(file.data() + root.sections[i]->offset, sections[i].data(), sections[i].size());
  ArtifactFileHeader header{};
  std::memcpy(header.magic, kArtifactMagic, 8);
  header.formatVersion = kArtifactFormatVersion;
  header.headerSize = sizeof(ArtifactFileHeader);
  header.flatbufferOffset = 64;
  header.flatbufferSize = flatbuffer.size();
  header.flatbufferChecksum = xxh64(flatbuffer.data(), flatbuffer.size());
  header.fileSize = fileSize;
  std::memcpy(file.data(), &header, sizeof(header));
  header.headerChecksum = xxh64(file.data(), kArtifactHeaderChecksummedBytes);
  std::memcpy(file.data(), &header, sizeof(header));
  return file;
}

inline std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A file removed when the test ends.
class TempFile {
public:
  TempFile() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tern-executor-XXXXXX").string();
    int fd = mkstemp(pattern.data());
    if (fd >= 0)
      ::close(fd);
    path_ = pattern;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string &path() const { return path_; }
  void write(const std::vector<uint8_t> &bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
  }

private:
  std::string path_;
};

template <typename T> std::vector<uint8_t> asBytes(const std::vector<T> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// The tiny model's shapes and weights. Weights are simple closed forms so the test can compute
// logits by hand.
struct TinyModel {
  static constexpr int64_t kVocab = 16, kWidth = 8, kContext = 8, kMaxRows = 4;
  static constexpr float kEps = 1e-5f;

  static float embedding(int64_t token, int64_t i) {
    return float(((token * 5 + i * 3) % 11) - 5) * 0.25f;
  }
  static float normWeight(int64_t i) { return 0.5f + 0.125f * float(i); }
  static float outWeight(int64_t o, int64_t i) { return float(((o * 7 + i * 2) % 9) - 4) * 0.125f; }

  // Logits of |token| computed in double straight from the definitions.
  static std::vector<double> expectedLogits(int32_t token) {
    double sumSquares = 0;
    for (int64_t i = 0; i < kWidth; ++i)
      sumSquares += double(embedding(token, i)) * embedding(token, i);
    const double inv = 1.0 / std::sqrt(sumSquares / kWidth + kEps);
    std::vector<double> logits(kVocab, 0.0);
    for (int64_t o = 0; o < kVocab; ++o)
      for (int64_t i = 0; i < kWidth; ++i)
        logits[o] += embedding(token, i) * inv * normWeight(i) * outWeight(o, i);
    return logits;
  }

  // Knobs that corrupt the artifact in the ways tests need.
  uint32_t abiVersion = TERN_KERNEL_ABI_VERSION;
  std::string matmulSymbol = "tiny_matmul";
  uint64_t normWeightOffset = 0; // a bad value pushes the binding past its section
  bool withTokenizer = true;
  std::vector<uint8_t> library;  // the CPU kernel library's bytes (may be empty)
  // Every entry point writes the embeddings to the KV cache after the embedding (kernel 3,
  // tiny_kv_cache_write): dispatches embedding, kv_cache_write, rms_norm, matmul.
  bool withKVWrite = false;
  uint32_t logitsOnlyDispatches = 0; // EntryPoint.logits_only_dispatches of every entry point
  // A GPU artifact: a Ptx library (|library| holds its text), target |gpuArch| on an NVPTX
  // triple, and every dispatch launched as |gpuGrid| (grid x, y, z, block x, y, z).
  bool ptx = false;
  std::string gpuArch = "sm_80";
  std::vector<uint32_t> gpuGrid = {1, 1, 1, 32, 1, 1};

  schema::ArtifactT root() const {
    schema::ArtifactT a;
    a.producer = "executor test";
    a.metadata = std::make_unique<schema::ModelMetadataT>();
    a.metadata->architecture = "tiny";
    a.metadata->family = "llama";
    a.metadata->hparams = std::make_unique<schema::HyperparametersT>();
    a.metadata->hparams->layers = 1;
    a.metadata->hparams->hidden = kWidth;
    a.metadata->hparams->vocab = kVocab;
    a.metadata->hparams->context = kContext;
    a.metadata->hparams->rms_eps = kEps;
    if (withTokenizer) {
      a.tokenizer = std::make_unique<schema::TokenizerT>();
      a.tokenizer->model = "llama";
      a.tokenizer->tokens = {"<unk>", "<s>", "</s>", "<|im_end|>", "\xe2\x96\x81", "a", "b",
                             "c",     "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab", "x", "y", "z",
                             "\xe2\x96\x81" "x", "xy"};
      a.tokenizer->scores = {0, 0, 0, 0, -10, -10, -10, -10, -1, -2, -0.5f, -10, -10, -10, -3, -4};
      a.tokenizer->token_types = {2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
      a.tokenizer->bos_id = 1;
      a.tokenizer->eos_id = 2;
      a.tokenizer->unk_id = 0;
      a.tokenizer->add_bos = true;
      a.tokenizer->chat_template = "{{ messages }}";
    }
    a.target = std::make_unique<schema::TargetT>();
    a.target->cpu = ptx ? "" : "generic";
    if (ptx) {
      a.target->triple = "nvptx64-nvidia-cuda";
      a.target->gpu_arch = gpuArch;
    }
    a.memory_plan = std::make_unique<schema::MemoryPlanT>();
    a.memory_plan->arena_bytes = 512;
    a.memory_plan->kv_cache = std::make_unique<schema::KVCacheLayoutT>();
    a.memory_plan->kv_cache->layers = 1;
    a.memory_plan->kv_cache->context = kContext;
    a.memory_plan->kv_cache->kv_heads = 1;
    a.memory_plan->kv_cache->head_dim = kWidth;

    // Sections: 0 embedding table, 1 norm weight, 2 output weight, 3 kernel library.
    auto lib = std::make_unique<schema::KernelLibraryT>();
    lib->kind = ptx ? schema::KernelLibraryKind::Ptx : schema::KernelLibraryKind::CpuElf;
    lib->section = 3;
    lib->abi_version = abiVersion;
    lib->kernels = {"tiny_embedding", "tiny_rms_norm", matmulSymbol};
    lib->descriptors.push_back(descriptor(
        "embedding", {{"vocab", kVocab}, {"width", kWidth}}, {}, {{"dtype", "f32"}}));
    lib->descriptors.push_back(descriptor("rms_norm", {{"width", kWidth}}, {{"eps", kEps}}, {}));
    lib->descriptors.push_back(descriptor(
        "matmul", {{"n", kVocab}, {"k", kWidth}, {"n_block", 4}, {"x_stride", kWidth}}, {},
        {{"dtype", "f32"}}));
    if (withKVWrite) {
      lib->kernels.push_back("tiny_kv_cache_write");
      lib->descriptors.push_back(descriptor(
          "kv_cache_write",
          {{"kv_heads", 1}, {"head_dim", kWidth}, {"k_stride", kWidth}, {"v_stride", kWidth},
           {"context", kContext}},
          {},
          {}));
    }
    a.kernel_libraries.push_back(std::move(lib));

    const uint64_t row = kWidth * 4, logitsRow = kVocab * 4;
    // decode: x (1, 8) @0, y (1, 8) @128, logits (1, 16) @256.
    // prefill: x (4, 8) @0, the last row normalised into y @128, its logits @256.
    // prefill_logits: x (4, 8) @0, y (4, 8) @128, logits (4, 16) @256.
    a.entry_points.push_back(entry("decode", 1, false, row, logitsRow));
    a.entry_points.push_back(entry("prefill", kMaxRows, true, row, logitsRow));
    a.entry_points.push_back(entry("prefill_logits", kMaxRows, false, row, logitsRow));
    return a;
  }

  std::vector<std::vector<uint8_t>> sections() const {
    std::vector<float> table, norm, out;
    for (int64_t t = 0; t < kVocab; ++t)
      for (int64_t i = 0; i < kWidth; ++i)
        table.push_back(embedding(t, i));
    for (int64_t i = 0; i < kWidth; ++i)
      norm.push_back(normWeight(i));
    for (int64_t o = 0; o < kVocab; ++o)
      for (int64_t i = 0; i < kWidth; ++i)
        out.push_back(outWeight(o, i));
    return {asBytes(table), asBytes(norm), asBytes(out), library};
  }

  std::vector<uint8_t> bytes() const { return buildArtifactBytes(root(), sections()); }

private:
  static std::unique_ptr<schema::KernelDescriptorT>
  descriptor(const char *family, std::vector<std::pair<const char *, int64_t>> ints,
             std::vector<std::pair<const char *, double>> floats,
             std::vector<std::pair<const char *, const char *>> strings) {
    auto d = std::make_unique<schema::KernelDescriptorT>();
    d->family = family;
    std::vector<std::unique_ptr<schema::KernelParamT>> params;
    for (auto &[name, value] : ints) {
      auto p = std::make_unique<schema::KernelParamT>();
      p->name = name;
      p->int_value = value;
      params.push_back(std::move(p));
    }
    for (auto &[name, value] : floats) {
      auto p = std::make_unique<schema::KernelParamT>();
      p->name = name;
      p->float_value = value;
      params.push_back(std::move(p));
    }
    for (auto &[name, value] : strings) {
      auto p = std::make_unique<schema::KernelParamT>();
      p->name = name;
      p->string_value = value;
      params.push_back(std::move(p));
    }
    std::sort(params.begin(), params.end(),
              [](const auto &x, const auto &y) { return x->name < y->name; });
    d->params = std::move(params);
    return d;
  }

  static std::unique_ptr<schema::BindingT> arena(uint64_t offset, uint64_t size,
                                                 uint64_t rowStride = 0) {
    auto b = std::make_unique<schema::BindingT>();
    b->kind = schema::BindingKind::ArenaSlice;
    b->offset = offset;
    b->size = size;
    b->row_stride = rowStride;
    return b;
  }
  static std::unique_ptr<schema::BindingT> section(uint32_t index, uint64_t offset,
                                                   uint64_t size) {
    auto b = std::make_unique<schema::BindingT>();
    b->kind = schema::BindingKind::SectionSlice;
    b->section = index;
    b->offset = offset;
    b->size = size;
    return b;
  }

  std::unique_ptr<schema::EntryPointT> entry(const char *name, int64_t maxRows, bool lastRowOnly,
                                             uint64_t row, uint64_t logitsRow) const {
    auto e = std::make_unique<schema::EntryPointT>();
    e->name = name;
    e->max_rows = maxRows;
    const uint64_t normRows = lastRowOnly ? 1 : uint64_t(maxRows);
    auto add = [&](uint32_t kernel, uint32_t grid, bool lastRow,
                   std::vector<std::unique_ptr<schema::BindingT>> bindings) {
      auto d = std::make_unique<schema::KernelDispatchT>();
      d->kernel_library = 0;
      d->kernel = kernel;
      d->grid = ptx ? gpuGrid : std::vector<uint32_t>{grid};
      d->last_row = lastRow;
      d->bindings = std::move(bindings);
      e->dispatches.push_back(std::move(d));
    };
    std::vector<std::unique_ptr<schema::BindingT>> b0;
    b0.push_back(section(0, 0, kVocab * row));
    auto tokens = std::make_unique<schema::BindingT>();
    tokens->kind = schema::BindingKind::Tokens;
    b0.push_back(std::move(tokens));
    b0.push_back(arena(0, maxRows * row, row));
    add(0, 1, false, std::move(b0));

    if (withKVWrite) {
      std::vector<std::unique_ptr<schema::BindingT>> bkv;
      bkv.push_back(arena(0, maxRows * row, row)); // keys: the embeddings
      bkv.push_back(arena(0, maxRows * row, row)); // values: the same
      for (schema::BindingKind kind :
           {schema::BindingKind::KeyCache, schema::BindingKind::ValueCache}) {
        auto cache = std::make_unique<schema::BindingT>();
        cache->kind = kind;
        cache->layer = 0;
        bkv.push_back(std::move(cache));
      }
      add(3, 1, false, std::move(bkv));
    }

    std::vector<std::unique_ptr<schema::BindingT>> b1;
    b1.push_back(arena(0, maxRows * row, row));
    b1.push_back(section(1, normWeightOffset, row));
    b1.push_back(arena(128, normRows * row, lastRowOnly ? 0 : row));
    add(1, 1, lastRowOnly, std::move(b1));

    std::vector<std::unique_ptr<schema::BindingT>> b2;
    b2.push_back(arena(128, normRows * row, lastRowOnly ? 0 : row));
    b2.push_back(section(2, 0, kVocab * row));
    b2.push_back(arena(256, normRows * logitsRow, lastRowOnly ? 0 : logitsRow));
    add(2, 4, lastRowOnly, std::move(b2));

    e->logits = arena(256, normRows * logitsRow, logitsRow);
    e->logits_all_rows = !lastRowOnly && maxRows > 1;
    e->logits_only_dispatches = logitsOnlyDispatches;
    return e;
  }
};

} // namespace tern::test

#endif
