// A hand-written OPT-style decoder layer (learned positions, LayerNorm with and without a bias,
// biased q/k/v/o and FFN linears, a ReLU FFN, a biased final LayerNorm) with random weights:
// compiled for every CPU target and for sm_90, run through the C API with the generated CPU
// kernels and with the reference twins (the sm_90 artifact's dispatches, PTX in place, run on
// the twins without a GPU), and compared with the reference interpreter on the unfused IR. It covers
// the ops of GPT-2-style decoders end to end (graph passes, kernel specs, bindings, memory plan,
// weight sections, executor) independently of an importer for such models.
#include "codegen/CPU/CPUCodegen.h"
#include "codegen/GPU/GPUCodegen.h"
#include "compiler/artifact/ArtifactWriter.h"
#include "compiler/program/ProgramBuilder.h"
#include "compiler/reference/ReferenceInterpreter.h"
#include "tern/Dialect/TernDialect.h"
#include "tern/Transforms/Passes.h"
#include "tern/tern.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace tern {
namespace {

// Hidden 16 (2 heads of 8), FFN 64, vocabulary 32, context 16, a position table of 32 rows.
// q, k and v are separate biased projections, so tern-fuse-qkv fuses them and the bias_adds
// read the fused output's columns. The position table is f16 and the FFN bias bf16, so their
// sections are read (f16 rows) or converted (f32 vectors) as the kernels expect.
constexpr const char *kModule = R"mlir(
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x2x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>) {
  %wte = tern.weight "wte" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %wpe = tern.weight "wpe" {dtype = "f16", offset = 0 : i64, size = 1024 : i64} : tensor<32x16xf16>
  %e = tern.embedding %wte, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %p = tern.position_embedding %wpe, %tok, %pos : tensor<32x16xf16>, tensor<?xi32> -> tensor<?x16xf32>
  %x = tern.add %e, %p : tensor<?x16xf32>
  %ln1w = tern.weight "ln_1.weight" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %ln1b = tern.weight "ln_1.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %h = tern.layer_norm %x, %ln1w, %ln1b {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %wq = tern.weight "q.weight" {dtype = "f32", offset = 0 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %wk = tern.weight "k.weight" {dtype = "f32", offset = 0 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %wv = tern.weight "v.weight" {dtype = "f32", offset = 0 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %bq = tern.weight "q.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %bk = tern.weight "k.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %bv = tern.weight "v.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %q = tern.matmul %h, %wq : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %qb = tern.bias_add %q, %bq : tensor<?x16xf32>, tensor<16xf32>
  %k = tern.matmul %h, %wk : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %kb = tern.bias_add %k, %bk : tensor<?x16xf32>, tensor<16xf32>
  %v = tern.matmul %h, %wv : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %vb = tern.bias_add %v, %bv : tensor<?x16xf32>, tensor<16xf32>
  %kv1 = tern.kv_cache_write %kv, %kb, %vb, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x2x8xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  %a = tern.attention %qb, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35355339059327373 : f64} : tensor<?x16xf32>, !tern.kv_cache<1x16x2x8xf32>
  %wo = tern.weight "o.weight" {dtype = "f32", offset = 0 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %bo = tern.weight "o.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %o = tern.matmul %a, %wo : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %ob = tern.bias_add %o, %bo : tensor<?x16xf32>, tensor<16xf32>
  %y = tern.add %x, %ob : tensor<?x16xf32>
  %ln2w = tern.weight "ln_2.weight" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %h2 = tern.layer_norm %y, %ln2w {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %wup = tern.weight "fc1.weight" {dtype = "f32", offset = 0 : i64, size = 4096 : i64} : tensor<64x16xf32>
  %bup = tern.weight "fc1.bias" {dtype = "bf16", offset = 0 : i64, size = 128 : i64} : tensor<64xbf16>
  %u = tern.matmul %h2, %wup : tensor<?x16xf32>, tensor<64x16xf32> -> tensor<?x64xf32>
  %ub = tern.bias_add %u, %bup : tensor<?x64xf32>, tensor<64xbf16>
  %r = tern.relu %ub : tensor<?x64xf32>
  %wdown = tern.weight "fc2.weight" {dtype = "f32", offset = 0 : i64, size = 4096 : i64} : tensor<16x64xf32>
  %bdown = tern.weight "fc2.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %d = tern.matmul %r, %wdown : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
  %db = tern.bias_add %d, %bdown : tensor<?x16xf32>, tensor<16xf32>
  %z = tern.add %y, %db : tensor<?x16xf32>
  %lnfw = tern.weight "ln_f.weight" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %lnfb = tern.weight "ln_f.bias" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %n = tern.layer_norm %z, %lnfw, %lnfb {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %l = tern.logits %n, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv1 : tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>
}
)mlir";

constexpr int64_t kVocab = 32;

// The model's tensors, random, in memory: what a reader would map from a file.
struct SyntheticModel {
  fe::ModelDescription description;
  std::vector<std::vector<uint8_t>> bytes; // owned tensor data, one buffer per tensor

  void add(const std::string &name, fe::DType dtype, std::vector<int64_t> shape, float scale,
           float offset, std::mt19937 &rng) {
    fe::TensorRecord record;
    record.name = name;
    record.dtype = dtype;
    record.shape = std::move(shape);
    std::uniform_real_distribution<float> dist(-scale, scale);
    const size_t count = record.elementCount();
    std::vector<uint8_t> data(count * (dtype == fe::DType::F32 ? 4 : 2));
    for (size_t i = 0; i < count; ++i) {
      const float value = offset + dist(rng);
      if (dtype == fe::DType::F32) {
        std::memcpy(&data[4 * i], &value, 4);
      } else if (dtype == fe::DType::F16) {
        const _Float16 half = static_cast<_Float16>(value);
        std::memcpy(&data[2 * i], &half, 2);
      } else { // bf16: the high half of the f32 bits
        uint32_t bits;
        std::memcpy(&bits, &value, 4);
        const uint16_t high = uint16_t(bits >> 16);
        std::memcpy(&data[2 * i], &high, 2);
      }
    }
    record.byteSize = data.size();
    bytes.push_back(std::move(data));
    description.tensors.push_back(std::move(record));
  }

  // Points the records at their bytes once no buffer moves any more.
  void finish() {
    for (size_t i = 0; i < bytes.size(); ++i)
      description.tensors[i].data = bytes[i].data();
  }
};

SyntheticModel makeModel() {
  SyntheticModel m;
  fe::ModelDescription &d = m.description;
  d.format = "safetensors";
  d.path = "synthetic OPT-style layer";
  d.architecture = "opt";
  d.hparams.family = "opt";
  d.hparams.numLayers = 1;
  d.hparams.hiddenSize = 16;
  d.hparams.numHeads = 2;
  d.hparams.numKVHeads = 2;
  d.hparams.headDim = 8;
  d.hparams.ffnSize = 64;
  d.hparams.vocabSize = kVocab;
  d.hparams.contextLength = 16;
  d.hparams.tiedEmbeddings = true;
  std::mt19937 rng(2024);
  using fe::DType;
  m.add("wte", DType::F32, {32, 16}, 1.0f, 0.0f, rng);
  m.add("wpe", DType::F16, {32, 16}, 0.5f, 0.0f, rng);
  // LayerNorm weights around 1, biases around 0.
  for (const char *norm : {"ln_1", "ln_2", "ln_f"})
    m.add(std::string(norm) + ".weight", DType::F32, {16}, 0.2f, 1.0f, rng);
  for (const char *bias : {"ln_1.bias", "ln_f.bias"})
    m.add(bias, DType::F32, {16}, 0.2f, 0.0f, rng);
  for (const char *proj : {"q", "k", "v", "o"}) {
    m.add(std::string(proj) + ".weight", DType::F32, {16, 16}, 0.4f, 0.0f, rng);
    m.add(std::string(proj) + ".bias", DType::F32, {16}, 0.3f, 0.0f, rng);
  }
  m.add("fc1.weight", DType::F32, {64, 16}, 0.4f, 0.0f, rng);
  m.add("fc1.bias", DType::BF16, {64}, 0.3f, 0.0f, rng);
  m.add("fc2.weight", DType::F32, {16, 64}, 0.2f, 0.0f, rng);
  m.add("fc2.bias", DType::F32, {16}, 0.3f, 0.0f, rng);
  m.finish();
  return m;
}

// The opened artifact and its session, released in reverse order.
struct Runner {
  tern_model_t *model = nullptr;
  tern_session_t *session = nullptr;
  ~Runner() {
    tern_session_release(session);
    tern_model_release(model);
  }
};

std::string takeMessage(tern_status_t status) {
  std::string message = std::string(tern_status_code_name(tern_status_code(status))) + ": " +
                        tern_status_message(status);
  tern_status_free(status);
  return message;
}

// Largest |a - b| over the largest |b|.
double relativeError(const std::vector<float> &a, const std::vector<float> &b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    ref = std::max(ref, double(std::fabs(b[i])));
  }
  return diff / std::max(ref, 1e-30);
}

class SyntheticDecoder : public ::testing::TestWithParam<std::string> {};

// Prefill of 7 tokens in chunks of 4 rows (so position rows start at 0 and at 4), then four
// greedy decode steps, every logit against the interpreter.
TEST_P(SyntheticDecoder, LogitsMatchTheReferenceInterpreter) {
  // A CPU target; "reference" (generic, run on the twins); or a GPU target (run on the twins).
  const std::string variant = GetParam();
  const bool gpuTarget = gpu::isGpuTargetName(variant);
  const bool reference = variant == "reference" || gpuTarget;
  SyntheticModel model = makeModel();
  mlir::DialectRegistry registry;
  registry.insert<mlir::tern::TernDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(kModule, &context);
  ASSERT_TRUE(module);

  // The interpreter runs the module as written; the compiler a copy through its pipeline.
  auto interpreter = ReferenceInterpreter::create(*module, model.description);
  ASSERT_TRUE(bool(interpreter)) << llvm::toString(interpreter.takeError());
  mlir::OwningOpRef<mlir::ModuleOp> compiled = module->clone();
  auto target = cpu::resolveCpuTarget(reference ? "generic" : variant);
  ASSERT_TRUE(bool(target)) << llvm::toString(target.takeError());
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  mlir::tern::GraphPipelineOptions graph;
  graph.target = gpuTarget ? variant : target->name;
  mlir::tern::buildTernGraphPipeline(pm, graph);
  ASSERT_TRUE(mlir::succeeded(pm.run(*compiled)));
  program::ProgramOptions options;
  options.target = *target;
  if (gpuTarget) {
    auto resolved = gpu::resolveGpuTarget(variant);
    ASSERT_TRUE(bool(resolved)) << llvm::toString(resolved.takeError());
    options.gpuTarget = *resolved;
  }
  options.maxBatchRows = 4;
  auto built = program::buildProgram(*compiled, model.description, options);
  ASSERT_TRUE(bool(built)) << llvm::toString(built.takeError());
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("synthetic", "tern", path));
  if (llvm::Error error = writeArtifact(path, (*built)->contents))
    FAIL() << llvm::toString(std::move(error));

  tern_model_options_t modelOptions;
  tern_model_options_init(&modelOptions);
  modelOptions.num_threads = 2;
  modelOptions.kernels = reference ? TERN_KERNELS_REFERENCE : TERN_KERNELS_GENERATED;
  Runner runner;
  tern_status_t status = tern_model_open(path.c_str(), &modelOptions, &runner.model);
  llvm::sys::fs::remove(path); // the mapping stays valid
  if (tern_status_code(status) == TERN_STATUS_UNAVAILABLE)
    GTEST_SKIP() << takeMessage(status);
  ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
  status = tern_session_create(runner.model, nullptr, &runner.session);
  ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
  tern_session_t *session = runner.session;

  std::vector<int32_t> prompt = {3, 17, 31, 0, 8, 8, 25};
  std::vector<float> logits(prompt.size() * kVocab);
  status = tern_session_eval_all_logits(session, prompt.data(), prompt.size(), logits.data());
  EXPECT_TRUE(tern_status_ok(status)) << takeMessage(status);
  auto want = (*interpreter)->forward(prompt, 0);
  ASSERT_TRUE(bool(want)) << llvm::toString(want.takeError());
  EXPECT_LT(relativeError(logits, *want), 1e-4) << "prefill";

  int64_t pos = int64_t(prompt.size());
  for (int step = 0; step < 4; ++step, ++pos) {
    const float *last = tern_session_logits(session);
    const int32_t next = int32_t(std::max_element(last, last + kVocab) - last);
    status = tern_session_eval(session, &next, 1);
    ASSERT_TRUE(tern_status_ok(status)) << takeMessage(status);
    std::vector<float> got(tern_session_logits(session), tern_session_logits(session) + kVocab);
    auto expected = (*interpreter)->forward({next}, pos);
    ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
    EXPECT_LT(relativeError(got, *expected), 1e-4) << "decode at position " << pos;
    EXPECT_EQ(std::max_element(got.begin(), got.end()) - got.begin(),
              std::max_element(expected->begin(), expected->end()) - expected->begin());
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, SyntheticDecoder,
                         ::testing::Values("x86-64-v4", "x86-64-v3", "generic", "reference",
                                           "sm_90"),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

} // namespace
} // namespace tern
