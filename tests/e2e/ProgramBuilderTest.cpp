// Compiles tiny real models and reads the artifacts back with the runtime's loader: entry
// points, bindings inside the arena and sections, kernel descriptors, packed ternary weights.
#include "codegen/CPU/CPUCodegen.h"
#include "codegen/GPU/GPUCodegen.h"
#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/program/ProgramBuilder.h"
#include "frontends/common/ModelFormats.h"
#include "frontends/common/TensorDecode.h"
#include "frontends/import/ImportModel.h"
#include "packing/QuantizedPacking.h"
#include "packing/TernaryPacking.h"
#include "tern/Transforms/Passes.h"
#include "tern/artifact/Artifact.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

namespace tern {
namespace {

const std::string kDataDir = TERN_SHARED_DATA_DIR;

// Compiles |model| for the generic CPU, or the GPU |gpuTarget| names (with
// `--lm-head=`|lmHead|, `--tied-embedding=shared` when |shareEmbedding|) into a temporary file
// and opens it (a GPU program with `--gpu-fuse-decode-attention` when |fuseDecodeAttention|);
// the program's kernels go to |kernels| when given.
std::unique_ptr<Artifact>
compileAndOpen(const std::string &model, int64_t maxBatchRows, const std::string &lmHead = "source",
               bool shareEmbedding = false, const std::string &gpuTarget = "",
               std::vector<KernelSpec> *kernels = nullptr, bool fuseDecodeAttention = false) {
  auto target = cpu::resolveCpuTarget("generic");
  if (!target) {
    ADD_FAILURE() << llvm::toString(target.takeError());
    return nullptr;
  }
  auto description = fe::describeModel(model);
  if (!description) {
    ADD_FAILURE() << llvm::toString(description.takeError());
    return nullptr;
  }
  mlir::MLIRContext context;
  auto module = importModel(*description, context);
  if (mlir::failed(module)) {
    ADD_FAILURE() << model << ": import failed";
    return nullptr;
  }
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  mlir::tern::GraphPipelineOptions graph;
  graph.target = gpuTarget.empty() ? target->name : gpuTarget;
  graph.lmHead = lmHead;
  graph.shareEmbedding = shareEmbedding;
  mlir::tern::buildTernGraphPipeline(pm, graph);
  if (mlir::failed(pm.run(**module))) {
    ADD_FAILURE() << model << ": graph pipeline failed";
    return nullptr;
  }
  program::ProgramOptions options;
  options.target = *target;
  if (!gpuTarget.empty()) {
    auto resolved = gpu::resolveGpuTarget(gpuTarget);
    if (!resolved) {
      ADD_FAILURE() << llvm::toString(resolved.takeError());
      return nullptr;
    }
    options.gpuTarget = *resolved;
  }
  options.maxBatchRows = maxBatchRows;
  options.fuseDecodeAttention = fuseDecodeAttention;
  auto built = program::buildProgram(**module, *description, options);
  if (!built) {
    ADD_FAILURE() << llvm::toString(built.takeError());
    return nullptr;
  }
  if (kernels)
    *kernels = (*built)->kernels;
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createTemporaryFile("program", "tern", path)) {
    ADD_FAILURE() << "no temporary file";
    return nullptr;
  }
  if (llvm::Error error = writeArtifact(path, (*built)->contents)) {
    ADD_FAILURE() << llvm::toString(std::move(error));
    return nullptr;
  }
  tern_status_t status = nullptr;
  ArtifactOpenOptions openOptions;
  openOptions.checkHostCpu = gpuTarget.empty(); // only read here, never run
  auto artifact = Artifact::open(path.c_str(), &status, openOptions);
  llvm::sys::fs::remove(path); // the mapping stays valid
  EXPECT_TRUE(artifact) << tern_status_message(status);
  tern_status_free(status);
  return artifact;
}

TEST(ProgramBuilder, EntryPointsBindInsideArenaAndSections) {
  const std::string dir = kDataDir + "/hf-bitnet/tiny_a_online";
  if (!llvm::sys::fs::exists(dir))
    GTEST_SKIP() << dir << " not present";
  auto artifact = compileAndOpen(dir, /*maxBatchRows=*/4);
  ASSERT_TRUE(artifact);
  const schema::Artifact &root = artifact->root();
  const uint64_t arena = root.memory_plan()->arena_bytes();
  EXPECT_EQ(arena % 64, 0u);
  const schema::KVCacheLayout *kv = root.memory_plan()->kv_cache();
  EXPECT_EQ(kv->layers(), 2);
  EXPECT_EQ(kv->kv_heads(), 2);
  EXPECT_EQ(kv->head_dim(), 16);

  ASSERT_EQ(root.kernel_libraries()->size(), 1u);
  const schema::KernelLibrary *library = root.kernel_libraries()->Get(0);
  EXPECT_EQ(library->kind(), schema::KernelLibraryKind::CpuElf);
  EXPECT_EQ(artifact->section(library->section()).kind(), schema::SectionKind::KernelLibrary);
  ASSERT_EQ(library->kernels()->size(), library->descriptors()->size());
  for (const schema::KernelDescriptor *d : *library->descriptors())
    for (size_t i = 1; i < d->params()->size(); ++i)
      EXPECT_LT(d->params()->Get(i - 1)->name()->str(), d->params()->Get(i)->name()->str());

  const char *names[] = {"decode", "prefill", "prefill_logits"};
  const int64_t rows[] = {1, 4, 4};
  ASSERT_EQ(root.entry_points()->size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    const schema::EntryPoint *entry = root.entry_points()->Get(e);
    SCOPED_TRACE(names[e]);
    EXPECT_EQ(entry->name()->str(), names[e]);
    EXPECT_EQ(entry->max_rows(), rows[e]);
    EXPECT_EQ(entry->logits_all_rows(), e != 1);
    EXPECT_EQ(entry->logits()->kind(), schema::BindingKind::ArenaSlice);
    EXPECT_EQ(entry->logits()->row_stride(), e == 1 ? 0u : 256u * 4);
    int lastRow = 0, residualNorms = 0, gatedNorms = 0;
    for (const schema::KernelDispatch *d : *entry->dispatches()) {
      ASSERT_LT(d->kernel(), library->kernels()->size());
      lastRow += d->last_row();
      // Every residual add is fused into the norm after it (tern-fuse-residual-norm): x,
      // residual, w, the outputs, then the sum, written over the residual stream x.
      const schema::KernelDescriptor *descriptor = library->descriptors()->Get(d->kernel());
      EXPECT_NE(descriptor->family()->str(), "add");
      bool residual = false;
      for (const schema::KernelParam *param : *descriptor->params())
        residual |= param->name()->str() == "residual" && param->int_value() == 1;
      // Every FFN glu is fused into its sub-norm (tern-fuse-glu-norm): gate and up, column
      // slices of the gate/up matmul output read with one row stride, w, q, qscale.
      EXPECT_NE(descriptor->family()->str(), "glu");
      bool gated = false;
      int64_t inStride = 0, width = 0;
      for (const schema::KernelParam *param : *descriptor->params()) {
        gated |= param->name()->str() == "gated" && param->int_value() == 1;
        if (param->name()->str() == "in_stride")
          inStride = param->int_value();
        if (param->name()->str() == "width")
          width = param->int_value();
      }
      if (gated) {
        ++gatedNorms;
        EXPECT_EQ(descriptor->family()->str(), "rms_norm_quantize");
        EXPECT_EQ(inStride, 2 * width);
        ASSERT_EQ(d->bindings()->size(), 5u);
        const schema::Binding *gate = d->bindings()->Get(0), *up = d->bindings()->Get(1);
        EXPECT_EQ(up->offset(), gate->offset() + uint64_t(width) * 4);
        EXPECT_EQ(gate->row_stride(), uint64_t(inStride) * 4);
        EXPECT_EQ(up->row_stride(), uint64_t(inStride) * 4);
      }
      if (residual) {
        ++residualNorms;
        const bool quantize = descriptor->family()->str() == "rms_norm_quantize";
        ASSERT_EQ(d->bindings()->size(), quantize ? 6u : 5u);
        if (!d->last_row()) {
          EXPECT_EQ(d->bindings()->Get(d->bindings()->size() - 1)->offset(),
                    d->bindings()->Get(0)->offset());
        }
      }
      for (const schema::Binding *b : *d->bindings()) {
        if (b->kind() == schema::BindingKind::ArenaSlice) {
          EXPECT_LE(b->offset() + b->size(), arena);
        }
        if (b->kind() == schema::BindingKind::SectionSlice) {
          ASSERT_LT(b->section(), artifact->numSections());
          EXPECT_LE(b->offset() + b->size(), artifact->section(b->section()).size());
        }
        if (b->kind() == schema::BindingKind::KeyCache ||
            b->kind() == schema::BindingKind::ValueCache) {
          EXPECT_LT(b->layer(), uint32_t(kv->layers()));
        }
      }
    }
    // The final norm and the logits run for the last row only, in prefill alone.
    EXPECT_EQ(lastRow, e == 1 ? 2 : 0);
    // Two residual adds per layer, the last one into the final norm.
    EXPECT_EQ(residualNorms, 2 * kv->layers());
    // One FFN sub-norm per layer reads the glu product.
    EXPECT_EQ(gatedNorms, kv->layers());
  }
}

// A GPU artifact: each layer's rope and KV-cache write are one dispatch (the keys come from
// the rotation: x, table, v, the two caches), and a last-row dispatch is launched for one row.
// With --gpu-fuse-decode-attention, decode runs that dispatch and the attention after it as one
// rope_kv_attention dispatch (x, table, v, the caches, out). The matmuls of decode and the
// last-row dispatches run the one-row variants; prefill's other matmuls the general kernels.
TEST(ProgramBuilder, GpuDispatchesFuseRopeAndLaunchLastRowsForOneRow) {
  const std::string dir = kDataDir + "/hf-bitnet/tiny_b_offline_bitlinear";
  if (!llvm::sys::fs::exists(dir))
    GTEST_SKIP() << dir << " not present";
  auto target = gpu::resolveGpuTarget("sm_90");
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  for (bool fuseAttention : {false, true}) {
    SCOPED_TRACE(fuseAttention ? "decode attention fused" : "decode attention apart");
    std::vector<KernelSpec> kernels;
    auto artifact =
        compileAndOpen(dir, /*maxBatchRows=*/64, "source", false, "sm_90", &kernels, fuseAttention);
    ASSERT_TRUE(artifact);
    const schema::Artifact &root = artifact->root();
    ASSERT_EQ(root.kernel_libraries()->Get(0)->kernels()->size(), kernels.size());
    EXPECT_EQ(std::count_if(kernels.begin(), kernels.end(),
                            [](const KernelSpec &k) { return k.family == "rope_kv_attention"; }),
              fuseAttention ? 1 : 0);
    const int layers = int(root.memory_plan()->kv_cache()->layers());
    for (const schema::EntryPoint *entry : *root.entry_points()) {
      SCOPED_TRACE(entry->name()->str());
      int fused = 0, attention = 0, lastRow = 0, oneRowMatmuls = 0;
      for (const schema::KernelDispatch *d : *entry->dispatches()) {
        const KernelSpec &spec = kernels[d->kernel()];
        EXPECT_NE(spec.family, "rope");
        EXPECT_NE(spec.family, "kv_cache_write");
        if (spec.family == "rope_kv_cache_write") {
          ++fused;
          ASSERT_EQ(d->bindings()->size(), 5u);
          EXPECT_EQ(d->bindings()->Get(3)->kind(), schema::BindingKind::KeyCache);
          EXPECT_EQ(d->bindings()->Get(4)->kind(), schema::BindingKind::ValueCache);
        }
        if (spec.family == "rope_kv_attention") {
          ++fused;
          ASSERT_EQ(d->bindings()->size(), 6u);
          EXPECT_EQ(d->bindings()->Get(0)->kind(), schema::BindingKind::ArenaSlice);
          EXPECT_EQ(d->bindings()->Get(1)->kind(), schema::BindingKind::SectionSlice);
          EXPECT_EQ(d->bindings()->Get(3)->kind(), schema::BindingKind::KeyCache);
          EXPECT_EQ(d->bindings()->Get(4)->kind(), schema::BindingKind::ValueCache);
          EXPECT_EQ(d->bindings()->Get(5)->kind(), schema::BindingKind::ArenaSlice);
          EXPECT_EQ(d->bindings()->Get(3)->layer(), d->bindings()->Get(4)->layer());
        }
        attention += spec.family == "attention";
        auto shape = gpu::launchShape(spec, d->last_row() ? 1 : entry->max_rows(), *target);
        ASSERT_TRUE(bool(shape)) << llvm::toString(shape.takeError());
        EXPECT_EQ(d->grid()->Get(0), shape->grid[0]) << spec.symbol;
        lastRow += d->last_row();
        if (spec.family.find("matmul") != std::string::npos) {
          const bool oneRowCall = entry->max_rows() == 1 || d->last_row();
          EXPECT_EQ(spec.getInt("one_row"), oneRowCall ? 1 : 0) << spec.symbol;
          oneRowMatmuls += oneRowCall;
        }
      }
      // Every matmul of decode (four ternary per layer and the lm_head), only the lm_head of
      // prefill.
      const std::string name = entry->name()->str();
      EXPECT_EQ(oneRowMatmuls, name == "decode" ? 4 * layers + 1 : name == "prefill" ? 1 : 0);
      EXPECT_EQ(fused, layers);
      EXPECT_EQ(attention, fuseAttention && name == "decode" ? 0 : layers);
      EXPECT_EQ(lastRow, name == "prefill" ? 2 : 0); // final norm and lm_head
    }
  }
}

TEST(ProgramBuilder, TernaryWeightsArePackedWithPerRowScales) {
  const std::string dir = kDataDir + "/hf-bitnet/tiny_a_online";
  if (!llvm::sys::fs::exists(dir))
    GTEST_SKIP() << dir << " not present";
  auto artifact = compileAndOpen(dir, 4);
  ASSERT_TRUE(artifact);
  // q, k and v are fused: one section of 128 packed rows and one of 128 scales.
  const std::string qkv = "model.layers.0.self_attn.q_proj.weight,"
                          "model.layers.0.self_attn.k_proj.weight,"
                          "model.layers.0.self_attn.v_proj.weight";
  ptrdiff_t packedIndex = artifact->findSection(qkv);
  ptrdiff_t scaleIndex = artifact->findSection(qkv + ".wscale");
  ASSERT_GE(packedIndex, 0);
  ASSERT_GE(scaleIndex, 0);
  EXPECT_EQ(artifact->section(packedIndex).tensor()->packing()->str(), "i2_b128");
  SectionBytes packed = artifact->sectionBytes(packedIndex);
  SectionBytes scales = artifact->sectionBytes(scaleIndex);
  ASSERT_EQ(scales.size, 128u * 4);
  const float *scale = reinterpret_cast<const float *>(scales.data);

  auto description = fe::describeModel(dir);
  ASSERT_TRUE(bool(description));
  int64_t row = 0;
  for (const char *part : {"q_proj", "k_proj", "v_proj"}) {
    SCOPED_TRACE(part);
    const fe::TensorRecord *record =
        description->findTensor(std::string("model.layers.0.self_attn.") + part + ".weight");
    ASSERT_TRUE(record);
    auto master = fe::decodeToFloat(*record);
    ASSERT_TRUE(bool(master));
    fe::TernaryTensor expected = fe::ternarizeAbsMean(*master, record->shape);
    const int64_t n = record->shape[0], k = record->shape[1];
    std::vector<int8_t> unpacked(n * k);
    packing::unpackTernary(packing::TernaryLayout::I2B128, packed.data, k, row, row + n,
                           unpacked.data());
    EXPECT_EQ(unpacked, expected.values);
    for (int64_t r = 0; r < n; ++r)
      EXPECT_EQ(scale[row + r], expected.scales[0]);
    row += n;
  }
}

// The kernel descriptor of the dispatch whose family is |family| in entry point 0 (decode).
const schema::KernelDescriptor *descriptorOf(const Artifact &artifact, const std::string &family,
                                             const schema::KernelDispatch **dispatch) {
  const schema::KernelLibrary *library = artifact.root().kernel_libraries()->Get(0);
  for (const schema::KernelDispatch *d : *artifact.root().entry_points()->Get(0)->dispatches())
    if (library->descriptors()->Get(d->kernel())->family()->str() == family) {
      *dispatch = d;
      return library->descriptors()->Get(d->kernel());
    }
  return nullptr;
}

// --lm-head=q8/q6/q4: the tied F32 table is quantized at compile time into one section in the
// shared layout, bit for bit what the packer makes of the file's values; by default the
// embedding keeps the F32 table (two sections), with --tied-embedding=shared it reads the
// quantized one.
TEST(ProgramBuilder, QuantizedLmHeadIsPackedAtCompileTime) {
  const std::string dir = kDataDir + "/hf-bitnet/tiny_b_online";
  if (!llvm::sys::fs::exists(dir))
    GTEST_SKIP() << dir << " not present";
  auto description = fe::describeModel(dir);
  ASSERT_TRUE(bool(description));
  const fe::TensorRecord *record = description->findTensor("model.embed_tokens.weight");
  ASSERT_TRUE(record);
  auto values = fe::decodeToFloat(*record);
  ASSERT_TRUE(bool(values));
  const int64_t vocab = record->shape[0], width = record->shape[1];

  for (const char *lmHead : {"q8", "q6", "q4"})
    for (bool shared : {false, true}) {
      SCOPED_TRACE(std::string(lmHead) + (shared ? " shared" : " separate"));
      const auto format = lmHead == std::string("q8")   ? packing::QuantFormat::Q8B32
                          : lmHead == std::string("q6") ? packing::QuantFormat::Q6B32
                                                        : packing::QuantFormat::Q4B32;
      const std::string formatName = packing::quantFormatName(format);
      auto artifact = compileAndOpen(dir, 4, lmHead, shared);
      ASSERT_TRUE(artifact);
      ptrdiff_t quantized = artifact->findSection("model.embed_tokens.weight." + formatName);
      ptrdiff_t table = artifact->findSection("model.embed_tokens.weight");
      ASSERT_GE(quantized, 0);
      EXPECT_EQ(table >= 0, !shared);
      EXPECT_EQ(artifact->section(quantized).tensor()->dtype()->str(), formatName);
      SectionBytes bytes = artifact->sectionBytes(quantized);
      std::vector<uint8_t> expected(packing::quantPackedBytes(format, vocab, width));
      ASSERT_TRUE(packing::quantizeMatrix(format, values->data(), vocab, width, expected.data()));
      ASSERT_EQ(bytes.size, expected.size());
      EXPECT_EQ(std::memcmp(bytes.data, expected.data(), expected.size()), 0);

      // The logits run quantized_matmul on that section; the lookup reads it when shared.
      const schema::KernelDispatch *logits = nullptr, *lookup = nullptr;
      const schema::KernelDescriptor *qmm = descriptorOf(*artifact, "quantized_matmul", &logits);
      const schema::KernelDescriptor *emb = descriptorOf(*artifact, "embedding", &lookup);
      ASSERT_TRUE(qmm && emb);
      EXPECT_EQ(logits->bindings()->Get(2)->section(), uint32_t(quantized));
      EXPECT_EQ(lookup->bindings()->Get(0)->section(), uint32_t(shared ? quantized : table));
      std::string embDtype;
      for (const schema::KernelParam *param : *emb->params())
        if (param->name()->str() == "dtype")
          embDtype = param->string_value()->str();
      EXPECT_EQ(embDtype, shared ? formatName : std::string("f32"));
    }
}

TEST(ProgramBuilder, RopeTableHoldsCosineAndSinePerPosition) {
  const std::string model = kDataDir + "/gguf/stories260K.gguf";
  if (!llvm::sys::fs::exists(model))
    GTEST_SKIP() << model << " not present";
  auto artifact = compileAndOpen(model, 8);
  ASSERT_TRUE(artifact);
  ptrdiff_t index = -1;
  for (size_t s = 0; s < artifact->numSections(); ++s)
    if (artifact->section(s).name()->str().rfind("rope_table", 0) == 0)
      index = s;
  ASSERT_GE(index, 0);
  const schema::TensorInfo *info = artifact->section(index).tensor();
  ASSERT_EQ(info->shape()->size(), 3u);
  const int64_t context = info->shape()->Get(0), half = info->shape()->Get(1);
  EXPECT_EQ(half, 4); // head_dim 8
  const float *table = reinterpret_cast<const float *>(artifact->sectionBytes(index).data);
  for (int64_t p : {int64_t(0), int64_t(1), int64_t(37), context - 1})
    for (int64_t i = 0; i < half; ++i) {
      double angle = double(p) * std::pow(10000.0, -2.0 * double(i) / 8.0);
      EXPECT_EQ(table[(p * half + i) * 2], float(std::cos(angle)));
      EXPECT_EQ(table[(p * half + i) * 2 + 1], float(std::sin(angle)));
    }
}

} // namespace
} // namespace tern
