// Builds the artifact's program: one kernel library shared by the entry points decode
// (1 row), prefill (max-batch-rows, logits of the last row) and prefill_logits (every row's
// logits), each with its own memory plan; the arena is the largest of the three.
#include "compiler/program/ProgramBuilder.h"

#include "compiler/artifact/ArtifactFromModel.h"
#include "compiler/program/KernelSpecs.h"
#include "compiler/program/Passes.h"
#include "compiler/program/WeightSections.h"
#include "tern/Dialect/TernOps.h"
#include "tern/kernel_abi.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
namespace T = mlir::tern;

namespace tern::program {
namespace {

// Runs |pm| on |module|; a failure returns the diagnostics as the error's text.
llvm::Error runPasses(PassManager &pm, ModuleOp module, llvm::StringRef what) {
  std::string messages;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &diagnostic) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    diagnostic.getLocation().print(os);
    messages += "\n  " + loc + ": " + diagnostic.str();
    return success();
  });
  if (failed(pm.run(module)))
    return llvm::createStringError(llvm::Twine(what) + " failed:" + messages);
  return llvm::Error::success();
}

func::FuncOp forwardOf(ModuleOp module) { return module.lookupSymbol<func::FuncOp>("forward"); }

// Lowers @forward, as the last tern-plan-memory run placed it, to dispatches.
class EntryPointBuilder {
public:
  EntryPointBuilder(func::FuncOp forward, WeightSections &weights,
                    const llvm::StringMap<unsigned> &kernelIndex,
                    llvm::ArrayRef<KernelSpec> kernels, const gpu::GpuTarget *gpu,
                    bool fuseDecodeAttention)
      : forward(forward), weights(weights), kernelIndex(kernelIndex), kernels(kernels), gpu(gpu),
        fuseDecodeAttention(fuseDecodeAttention) {
    if (auto attr = forward->getAttrOfType<IntegerAttr>(kMaxRowsAttr))
      maxRows = attr.getInt();
  }

  llvm::Expected<std::unique_ptr<schema::EntryPointT>> build(llvm::StringRef name) {
    auto entry = std::make_unique<schema::EntryPointT>();
    entry->name = name.str();
    entry->max_rows = maxRows;
    // The bindings of an op fused into the next dispatch (tern-fuse-gpu-dispatches).
    std::unique_ptr<schema::KernelDispatchT> fusedInto;
    for (Operation &op : forward.getBody().front()) {
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        auto logits = arena(ret.getOperand(0));
        if (!logits)
          return logits.takeError();
        entry->logits = std::make_unique<schema::BindingT>(*logits);
        entry->logits_all_rows = !ret.getOperand(0).getDefiningOp()->hasAttr(kLastRowAttr);
        continue;
      }
      if (op.hasAttr(kFusedIntoNextAttr)) {
        if (fusedInto)
          return opError(op, "follows another op fused into the next dispatch");
        fusedInto = std::make_unique<schema::KernelDispatchT>();
        if (llvm::Error error = bind(op, *fusedInto))
          return std::move(error);
        continue;
      }
      auto symbol = op.getAttrOfType<FlatSymbolRefAttr>(kKernelAttr);
      if (!symbol)
        continue;
      auto dispatch =
          fusedInto ? std::move(fusedInto) : std::make_unique<schema::KernelDispatchT>();
      dispatch->kernel_library = 0;
      auto found = kernelIndex.find(symbol.getValue());
      if (found == kernelIndex.end())
        return opError(op, "refers to an unknown kernel @" + symbol.getValue());
      dispatch->kernel = found->second;
      dispatch->last_row = op.hasAttr(kLastRowAttr);
      if (gpu && (maxRows == 1 || dispatch->last_row))
        if (auto variant = gpu::oneRowVariant(kernels[found->second])) {
          auto one = kernelIndex.find(variant->symbol);
          if (one == kernelIndex.end())
            return opError(op, "has no one-row variant @" + variant->symbol);
          found = one;
          dispatch->kernel = one->second;
        }
      dispatch->grid = {1};
      if (llvm::Error error = bind(op, *dispatch))
        return std::move(error);
      if (int64_t rowItems = kernels[found->second].getInt("row_items", 0); rowItems > 0)
        dispatch->grid = {uint32_t(rowItems)};
      if (gpu) {
        // GPU dispatches carry the launch shape instead of CPU work items. A last-row
        // dispatch always runs one row: a shape for the entry's rows would launch mostly idle
        // blocks (for a prefill's lm_head, a million).
        auto shape =
            gpu::launchShape(kernels[found->second], dispatch->last_row ? 1 : maxRows, *gpu);
        if (!shape)
          return shape.takeError();
        dispatch->grid = {shape->grid[0],  shape->grid[1],  shape->grid[2],
                          shape->block[0], shape->block[1], shape->block[2]};
      }
      if (gpu && fuseDecodeAttention && maxRows == 1 && !entry->dispatches.empty()) {
        llvm::Expected<bool> fused = fuseRopeKVAttention(*entry->dispatches.back(), *dispatch);
        if (!fused)
          return fused.takeError();
        if (*fused)
          continue;
      }
      entry->dispatches.push_back(std::move(dispatch));
    }
    if (fusedInto)
      return llvm::createStringError("@forward ends with an op fused into a next dispatch");
    if (!entry->logits)
      return llvm::createStringError("@forward returns no logits");
    entry->logits_only_dispatches = logitsOnlyDispatches(*entry);
    return entry;
  }

private:
  // The dispatches after the last one that binds the KV cache: the KV cache is the only state
  // a call leaves behind, so these compute nothing but the logits (the last layer's attention
  // output and FFN, the final norm, lm_head). A prefill chunk whose logits are dropped skips
  // them; the runtime checks that none binds the cache.
  static uint32_t logitsOnlyDispatches(const schema::EntryPointT &entry) {
    const size_t count = entry.dispatches.size();
    size_t body = 0;
    for (size_t d = 0; d < count; ++d)
      for (const auto &binding : entry.dispatches[d]->bindings)
        if (binding->kind == schema::BindingKind::KeyCache ||
            binding->kind == schema::BindingKind::ValueCache)
          body = d + 1;
    return uint32_t(count - body);
  }

  static bool sameSlice(const schema::BindingT &a, const schema::BindingT &b) {
    return a.kind == b.kind && a.section == b.section && a.offset == b.offset &&
           a.layer == b.layer && a.row_stride == b.row_stride;
  }

  // One query row on a GPU (the decode entry point): |attention| and the rope_kv_cache_write
  // dispatch before it, which rotates its q and writes its layer's cache row, become one
  // rope_kv_attention dispatch (gpu::ropeKVAttentionVariant), a launch fewer per layer. Returns
  // whether |attention| was merged into |previous|.
  llvm::Expected<bool> fuseRopeKVAttention(schema::KernelDispatchT &previous,
                                           schema::KernelDispatchT &attention) {
    std::optional<KernelSpec> fused =
        gpu::ropeKVAttentionVariant(kernels[previous.kernel], kernels[attention.kernel]);
    // rope_kv_cache_write: x, table, v, key cache, value cache; attention: q, key cache, value
    // cache, out. q must be x's first columns, read from the same place, and the caches one
    // layer's.
    if (!fused || previous.bindings.size() != 5 || attention.bindings.size() != 4 ||
        !sameSlice(*previous.bindings[0], *attention.bindings[0]) ||
        !sameSlice(*previous.bindings[3], *attention.bindings[1]) ||
        !sameSlice(*previous.bindings[4], *attention.bindings[2]))
      return false;
    auto found = kernelIndex.find(fused->symbol);
    if (found == kernelIndex.end())
      return llvm::createStringError("decode: no rope_kv_attention kernel @%s in the library",
                                     fused->symbol.c_str());
    // Two rope kernels paired with one attention kernel would name the same variant; the
    // library holds the first pair's (outlineKernels), so the others stay apart.
    const KernelSpec &held = kernels[found->second];
    if (held < *fused || *fused < held)
      return false;
    auto shape = gpu::launchShape(*fused, 1, *gpu);
    if (!shape)
      return shape.takeError();
    previous.kernel = found->second;
    previous.bindings.push_back(std::move(attention.bindings[3]));
    previous.grid = {shape->grid[0],  shape->grid[1],  shape->grid[2],
                     shape->block[0], shape->block[1], shape->block[2]};
    return true;
  }

  llvm::Error opError(Operation &op, const llvm::Twine &message) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op.getLoc().print(os);
    return llvm::createStringError(loc + ": '" + op.getName().getStringRef() + "' " + message);
  }

  // The arena slice of an activation, as tern-plan-memory placed it.
  llvm::Expected<schema::BindingT> arena(Value value) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return llvm::createStringError("a function argument is bound as an activation");
    auto offsets = def->getAttrOfType<DenseI64ArrayAttr>(kArenaOffsetsAttr);
    auto strides = def->getAttrOfType<DenseI64ArrayAttr>(kRowStridesAttr);
    unsigned result = cast<OpResult>(value).getResultNumber();
    if (!offsets || !strides || result >= offsets.size())
      return llvm::createStringError("an activation has no arena offset: run tern-plan-memory");
    schema::BindingT binding;
    binding.kind = schema::BindingKind::ArenaSlice;
    binding.offset = offsets[result];
    binding.row_stride = strides[result];
    const uint64_t rowBytes = rowWidth(value) * elementBytes(value);
    binding.size = binding.row_stride ? (maxRows - 1) * binding.row_stride + rowBytes : rowBytes;
    return binding;
  }

  schema::BindingT section(unsigned index, uint64_t size) {
    schema::BindingT binding;
    binding.kind = schema::BindingKind::SectionSlice;
    binding.section = index;
    binding.offset = 0;
    binding.size = size;
    return binding;
  }

  schema::BindingT cache(schema::BindingKind kind, int64_t layer) {
    schema::BindingT binding;
    binding.kind = kind;
    binding.layer = layer;
    return binding;
  }

  // The kernel family |op| dispatches, or "" for none.
  llvm::StringRef familyOf(Operation &op) {
    auto symbol = op.getAttrOfType<FlatSymbolRefAttr>(kKernelAttr);
    auto found = symbol ? kernelIndex.find(symbol.getValue()) : kernelIndex.end();
    return found == kernelIndex.end() ? llvm::StringRef() : llvm::StringRef(kernels[found->second].family);
  }

  llvm::Error bind(Operation &op, schema::KernelDispatchT &dispatch) {
    llvm::Error error = llvm::Error::success();
    auto &out = dispatch.bindings;
    auto activation = [&](Value v) {
      if (error)
        return;
      auto binding = arena(v);
      if (!binding) {
        error = binding.takeError();
        return;
      }
      out.push_back(std::make_unique<schema::BindingT>(*binding));
    };
    auto sectionOf = [&](llvm::Expected<unsigned> index) {
      if (error)
        return;
      if (!index) {
        error = index.takeError();
        return;
      }
      out.push_back(std::make_unique<schema::BindingT>(section(*index, sizeOf(*index))));
    };
    auto plain = [&](schema::BindingT binding) {
      out.push_back(std::make_unique<schema::BindingT>(std::move(binding)));
    };
    // The inputs of rms_norm and rms_norm_quantize: x, then the fused residual (whose sum,
    // bound last, may alias x or the residual) or the fused glu's up (x being its gate), then w.
    auto normInputs = [&](auto norm) {
      activation(norm.getInput());
      if (norm.getResidual())
        activation(norm.getResidual());
      if (norm.getUp())
        activation(norm.getUp());
      sectionOf(weights.f32Vector(norm.getWeight().getDefiningOp()));
    };

    llvm::TypeSwitch<Operation *>(&op)
        .Case([&](T::EmbeddingOp e) {
          Operation *table = e.getTable().getDefiningOp();
          sectionOf(isa<T::QuantizedType>(e.getTable().getType()) ? weights.quantizedMatrix(table)
                                                                 : weights.floatMatrix(table));
          schema::BindingT tokens;
          tokens.kind = schema::BindingKind::Tokens;
          tokens.size = maxRows * sizeof(int32_t);
          plain(std::move(tokens));
          activation(e.getResult());
        })
        .Case([&](T::PositionEmbeddingOp e) {
          // The rows come from the call's position; the token ids are not read.
          sectionOf(weights.floatMatrix(e.getTable().getDefiningOp()));
          activation(e.getResult());
        })
        .Case([&](T::RmsNormOp n) {
          normInputs(n);
          activation(n.getResult());
          if (n.getSum())
            activation(n.getSum());
        })
        .Case([&](T::LayerNormOp n) {
          activation(n.getInput());
          sectionOf(weights.f32Vector(n.getWeight().getDefiningOp()));
          if (n.getBias())
            sectionOf(weights.f32Vector(n.getBias().getDefiningOp()));
          activation(n.getResult());
        })
        .Case([&](T::RmsNormQuantizeOp n) {
          normInputs(n);
          activation(n.getQuantized());
          activation(n.getScale());
          if (n.getSum())
            activation(n.getSum());
        })
        .Case([&](T::QuantizeActOp q) {
          activation(q.getInput());
          activation(q.getQuantized());
          activation(q.getScale());
        })
        .Case([&](T::TernaryMatmulOp mm) {
          activation(mm.getInput());
          activation(mm.getInputScale());
          auto sections = weights.ternaryMatrix(mm.getWeight().getDefiningOp());
          if (!sections) {
            error = sections.takeError();
            return;
          }
          sectionOf(sections->first);
          sectionOf(sections->second);
          activation(mm.getResult());
          auto type = cast<T::TernaryType>(mm.getWeight().getType());
          dispatch.grid = {uint32_t(type.getN() / nBlock(op))};
        })
        .Case([&](T::LogitsOp l) {
          if (!l.getInputScale()) // float lm_head: the matmul family
            return bindFloatMatmul(op, dispatch, activation, sectionOf);
          // quantized_matmul: q; qscale; w (codes and scale planes); y.
          activation(l.getInput());
          activation(l.getInputScale());
          sectionOf(weights.quantizedMatrix(l.getLmHead().getDefiningOp()));
          activation(l.getResult());
          dispatch.grid = {uint32_t(rowWidth(l.getResult()) / nBlock(op))};
        })
        .Case<T::MatmulOp>(
            [&](auto) { bindFloatMatmul(op, dispatch, activation, sectionOf); })
        .Case([&](T::RopeOp r) {
          auto kv = forwardCache();
          activation(r.getInput());
          sectionOf(weights.ropeTable(r.getTheta().convertToDouble(),
                                      r.getFreqScale().convertToDouble(), r.getHeadDim(),
                                      kv.getContextLength()));
        })
        .Case([&](T::KVCacheWriteOp w) {
          // rope_kv_cache_write takes the keys from the rope it runs (bound before).
          if (familyOf(op) != "rope_kv_cache_write")
            activation(w.getKey());
          activation(w.getValue());
          plain(cache(schema::BindingKind::KeyCache, w.getLayer()));
          plain(cache(schema::BindingKind::ValueCache, w.getLayer()));
        })
        .Case([&](T::AttentionOp a) {
          activation(a.getQuery());
          plain(cache(schema::BindingKind::KeyCache, a.getLayer()));
          plain(cache(schema::BindingKind::ValueCache, a.getLayer()));
          activation(a.getResult());
          dispatch.grid = {uint32_t(a.getNumHeads())};
        })
        .Case([&](T::AddOp add) {
          // The family lets its output alias the first operand only.
          auto inplace = add->getAttrOfType<IntegerAttr>(kInplaceOperandAttr);
          bool swap = inplace && inplace.getInt() == 1;
          activation(swap ? add.getRhs() : add.getLhs());
          activation(swap ? add.getLhs() : add.getRhs());
          activation(add.getResult());
        })
        .Case([&](T::MulOp mul) {
          activation(mul.getLhs());
          activation(mul.getRhs());
          activation(mul.getResult());
        })
        .Case([&](T::BiasAddOp a) {
          activation(a.getInput());
          sectionOf(weights.f32Vector(a.getBias().getDefiningOp()));
          activation(a.getResult());
        })
        .Case<T::ReluOp, T::Relu2Op, T::SiluOp, T::GeluOp>([&](auto unary) {
          activation(unary.getInput());
          activation(unary.getResult());
        })
        .Case([&](T::GluOp g) {
          activation(g.getGate());
          activation(g.getUp());
          activation(g.getResult());
        })
        .Default([&](Operation *) { error = opError(op, "has no bindings rule"); });
    return error;
  }

  // matmul (and a float lm_head's logits): x; w; y.
  template <typename Activation, typename SectionOf>
  void bindFloatMatmul(Operation &op, schema::KernelDispatchT &dispatch, Activation &activation,
                       SectionOf &sectionOf) {
    activation(op.getOperand(0));
    sectionOf(weights.floatMatrix(op.getOperand(1).getDefiningOp()));
    activation(op.getResult(0));
    dispatch.grid = {uint32_t(rowWidth(op.getResult(0)) / nBlock(op))};
  }

  int64_t nBlock(Operation &op) {
    auto symbol = op.getAttrOfType<FlatSymbolRefAttr>(kKernelAttr);
    auto module = forward->getParentOfType<ModuleOp>();
    auto declaration = module.lookupSymbol<func::FuncOp>(symbol.getValue());
    return std::max<int64_t>(1, kernelSpecFromDeclaration(declaration).getInt("n_block", 1));
  }

  T::KVCacheType forwardCache() {
    for (Type type : forward.getArgumentTypes())
      if (auto kv = dyn_cast<T::KVCacheType>(type))
        return kv;
    return {};
  }

  uint64_t sizeOf(unsigned sectionIndex);

  func::FuncOp forward;
  WeightSections &weights;
  const llvm::StringMap<unsigned> &kernelIndex;
  llvm::ArrayRef<KernelSpec> kernels;
  const gpu::GpuTarget *gpu = nullptr; // null for CPU targets
  bool fuseDecodeAttention = false;    // ProgramOptions::fuseDecodeAttention
  int64_t maxRows = 1;

public:
  std::vector<ArtifactSection> *sections = nullptr;
};

uint64_t EntryPointBuilder::sizeOf(unsigned sectionIndex) {
  return sections ? (*sections)[sectionIndex].size : 0;
}

std::unique_ptr<schema::KernelDescriptorT> descriptorOf(const KernelSpec &spec) {
  auto descriptor = std::make_unique<schema::KernelDescriptorT>();
  descriptor->family = spec.family;
  for (const auto &[name, value] : spec.ints) {
    auto param = std::make_unique<schema::KernelParamT>();
    param->name = name;
    param->int_value = value;
    descriptor->params.push_back(std::move(param));
  }
  for (const auto &[name, value] : spec.floats) {
    auto param = std::make_unique<schema::KernelParamT>();
    param->name = name;
    param->float_value = value;
    descriptor->params.push_back(std::move(param));
  }
  for (const auto &[name, value] : spec.strings) {
    auto param = std::make_unique<schema::KernelParamT>();
    param->name = name;
    param->string_value = value;
    descriptor->params.push_back(std::move(param));
  }
  std::sort(descriptor->params.begin(), descriptor->params.end(),
            [](const auto &a, const auto &b) { return a->name < b->name; });
  return descriptor;
}

} // namespace

llvm::Expected<std::vector<KernelSpec>> outlineKernels(ModuleOp module, bool gpu,
                                                       bool fuseDecodeAttention) {
  if (!forwardOf(module))
    return llvm::createStringError("the module has no @forward function");
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  pm.addPass(createOutlineKernelsPass());
  if (gpu)
    pm.addPass(createFuseGpuDispatchesPass());
  if (llvm::Error error = runPasses(pm, module, "tern-outline-kernels"))
    return std::move(error);
  std::vector<KernelSpec> kernels;
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn->hasAttr(kKernelFamilyAttr))
      kernels.push_back(kernelSpecFromDeclaration(fn));
  if (gpu) {
    // One-row variants for the dispatches that always run one row (EntryPointBuilder).
    const size_t outlined = kernels.size();
    for (size_t i = 0; i < outlined; ++i)
      if (auto variant = gpu::oneRowVariant(kernels[i]))
        kernels.push_back(std::move(*variant));
    // And the decode entry point's rope_kv_attention kernels (fuseRopeKVAttention).
    for (size_t r = 0; fuseDecodeAttention && r < outlined; ++r)
      for (size_t a = 0; a < outlined; ++a)
        if (auto fused = gpu::ropeKVAttentionVariant(kernels[r], kernels[a]))
          if (llvm::none_of(kernels,
                            [&](const KernelSpec &k) { return k.symbol == fused->symbol; }))
            kernels.push_back(std::move(*fused));
  }
  return kernels;
}

llvm::Expected<std::unique_ptr<Program>> buildProgram(ModuleOp module,
                                                      const fe::ModelDescription &model,
                                                      const ProgramOptions &options) {
  if (options.maxBatchRows < 1)
    return llvm::createStringError("--max-batch-rows must be at least 1, got %lld",
                                   static_cast<long long>(options.maxBatchRows));
  auto progress = [&](llvm::StringRef step) {
    if (options.progress)
      options.progress(step);
  };
  if (options.fuseDecodeAttention && !options.gpuTarget)
    return llvm::createStringError("fusing decode's rope and attention needs a GPU target");
  auto kernels = outlineKernels(module, options.gpuTarget.has_value(), options.fuseDecodeAttention);
  if (!kernels)
    return kernels.takeError();
  // On a CPU, the row-wise kernels get one work item per row of the largest call, so that the
  // threads split a prefill's rows (a decode call, one row, stays on the calling thread). GPU
  // kernels have launch shapes instead.
  if (!options.gpuTarget)
    for (KernelSpec &spec : *kernels)
      if (isRowWiseFamily(spec.family))
        spec.ints["row_items"] = options.maxBatchRows;
  func::FuncOp forward = forwardOf(module);
  T::KVCacheType kv;
  for (Type type : forward.getArgumentTypes())
    if (auto cacheType = dyn_cast<T::KVCacheType>(type))
      kv = cacheType;
  if (!kv || !kv.getElementType().isF32())
    return llvm::createStringError("@forward has no f32 KV cache argument");

  auto program = std::make_unique<Program>();
  program->kernels = *kernels;
  ArtifactContents &contents = program->contents;
  describeModelInArtifact(model, contents);
  contents.metadata.hparams->context = kv.getContextLength();
  if (options.gpuTarget) {
    contents.target.triple = "nvptx64-nvidia-cuda";
    contents.target.gpu_arch = options.gpuTarget->name;
  } else {
    contents.target.triple = options.target.triple;
    contents.target.cpu = options.target.cpu;
    contents.target.cpu_features = options.target.features;
  }

  llvm::StringMap<unsigned> kernelIndex;
  for (size_t i = 0; i < kernels->size(); ++i)
    kernelIndex[(*kernels)[i].symbol] = i;

  // Entry points: each plans memory on its own copy of the outlined graph.
  struct EntrySpec {
    const char *name;
    int64_t rows;
    bool lastRow;
  };
  const EntrySpec entries[] = {{"decode", 1, false},
                               {"prefill", options.maxBatchRows, true},
                               {"prefill_logits", options.maxBatchRows, false}};
  WeightSections weights(model, contents.sections, program->ownedBytes);
  uint64_t arenaBytes = 0;
  progress("planning memory");
  for (const EntrySpec &spec : entries) {
    // Planning again replaces the previous entry point's plan; the weight ops the sections
    // read stay those of |module|.
    PassManager pm(module.getContext(), ModuleOp::getOperationName());
    PlanMemoryPassOptions planOptions;
    planOptions.maxRows = spec.rows;
    planOptions.lastRowLogits = spec.lastRow;
    pm.addPass(createPlanMemoryPass(planOptions));
    if (llvm::Error error = runPasses(pm, module, "tern-plan-memory"))
      return std::move(error);
    arenaBytes = std::max<uint64_t>(
        arenaBytes, forward->getAttrOfType<IntegerAttr>(kArenaBytesAttr).getInt());
    EntryPointBuilder builder(forward, weights, kernelIndex, *kernels,
                              options.gpuTarget ? &*options.gpuTarget : nullptr,
                              options.fuseDecodeAttention);
    builder.sections = &contents.sections;
    auto entry = builder.build(spec.name);
    if (!entry)
      return entry.takeError();
    contents.entryPoints.push_back(std::move(*entry));
  }

  auto kvLayout = std::make_unique<schema::KVCacheLayoutT>();
  kvLayout->layers = kv.getNumLayers();
  kvLayout->context = kv.getContextLength();
  kvLayout->kv_heads = kv.getNumKVHeads();
  kvLayout->head_dim = kv.getHeadDim();
  kvLayout->element_type = schema::ElementType::F32;
  contents.memoryPlan.arena_bytes = arenaBytes;
  contents.memoryPlan.kv_cache = std::move(kvLayout);

  const std::string targetName =
      options.gpuTarget ? options.gpuTarget->name : options.target.name;
  progress(llvm::formatv("generating {0} kernels for {1}", kernels->size(), targetName).str());
  std::shared_ptr<std::vector<uint8_t>> libraryBytes;
  if (options.gpuTarget) {
    auto ptx = gpu::buildPtxLibrary(*kernels, *options.gpuTarget);
    if (!ptx)
      return ptx.takeError();
    // NUL-terminated: the driver reads PTX as a C string, straight from the mapped section.
    libraryBytes = std::make_shared<std::vector<uint8_t>>(ptx->begin(), ptx->end());
    libraryBytes->push_back(0);
  } else {
    auto library = cpu::buildKernelLibrary(*kernels, options.target);
    if (!library)
      return library.takeError();
    libraryBytes = std::make_shared<std::vector<uint8_t>>(std::move(*library));
  }
  program->ownedBytes.push_back(libraryBytes);
  ArtifactSection librarySection;
  librarySection.name = "kernels." + targetName;
  librarySection.kind = schema::SectionKind::KernelLibrary;
  librarySection.size = libraryBytes->size();
  librarySection.bytes = *libraryBytes;
  auto kernelLibrary = std::make_unique<schema::KernelLibraryT>();
  kernelLibrary->kind =
      options.gpuTarget ? schema::KernelLibraryKind::Ptx : schema::KernelLibraryKind::CpuElf;
  kernelLibrary->section = contents.sections.size();
  kernelLibrary->abi_version = TERN_KERNEL_ABI_VERSION;
  for (const KernelSpec &spec : *kernels) {
    kernelLibrary->kernels.push_back(spec.symbol);
    kernelLibrary->descriptors.push_back(descriptorOf(spec));
  }
  contents.sections.push_back(std::move(librarySection));
  contents.kernelLibraries.push_back(std::move(kernelLibrary));
  return program;
}

} // namespace tern::program
