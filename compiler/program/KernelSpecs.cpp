// Maps tern ops to kernel families (docs/kernels.md) and follows views to their storage.
#include "compiler/program/KernelSpecs.h"

#include "tern/Dialect/TernOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
namespace T = mlir::tern;

namespace tern::program {

bool isStorageAlias(Value value) {
  Operation *def = value.getDefiningOp();
  return def && isa<T::SliceColumnsOp, T::RopeOp>(def);
}

ActivationLayout activationLayout(Value value) {
  ActivationLayout layout;
  int64_t offset = 0;
  while (Operation *def = value.getDefiningOp()) {
    if (auto slice = dyn_cast<T::SliceColumnsOp>(def)) {
      offset += slice.getOffset();
      value = slice.getInput();
    } else if (auto rope = dyn_cast<T::RopeOp>(def)) {
      value = rope.getInput();
    } else {
      break;
    }
  }
  layout.root = value;
  layout.columnOffset = offset;
  layout.rowStride = rowWidth(value);
  return layout;
}

int64_t elementBytes(Value value) {
  auto type = cast<ShapedType>(value.getType());
  return (type.getElementTypeBitWidth() + 7) / 8;
}

int64_t rowWidth(Value value) {
  auto type = cast<ShapedType>(value.getType());
  return type.getRank() >= 2 ? type.getDimSize(1) : 1;
}

bool needsKernel(Operation *op) {
  return !isa<T::WeightOp, T::ConcatWeightsOp, T::SliceColumnsOp, func::ReturnOp>(op);
}

int64_t defaultNBlock(int64_t n) {
  for (int64_t candidate : {16, 8, 4, 2})
    if (n % candidate == 0)
      return candidate;
  return 1;
}

static T::KVCacheType cacheTypeOf(Operation *op) {
  auto func = op->getParentOfType<func::FuncOp>();
  if (!func)
    return {};
  for (Type type : func.getArgumentTypes())
    if (auto kv = dyn_cast<T::KVCacheType>(type))
      return kv;
  return {};
}

// The element type a float dtype of the file imports as (docs/import.md): block-quantized
// GGUF types decode to f32.
static StringRef importedElementType(StringRef dtype) {
  return dtype == "f16" || dtype == "bf16" ? dtype : StringRef("f32");
}

std::string floatWeightDtype(Operation *weightOrConcat) {
  auto supported = [](StringRef dtype) {
    return dtype == "f32" || dtype == "f16" || dtype == "bf16" || dtype == "q8_0";
  };
  if (auto weight = dyn_cast<T::WeightOp>(weightOrConcat)) {
    // A pass that changed the element type (tern-quantize-lm-head's f16) asks for a conversion.
    auto type = cast<RankedTensorType>(weight.getType());
    if (type.getElementType().isF16() && importedElementType(weight.getDtype()) != "f16")
      return "f16";
    if (weight.getScaleName() || !supported(weight.getDtype()))
      return "f32";
    return weight.getDtype().str();
  }
  if (auto concat = dyn_cast<T::ConcatWeightsOp>(weightOrConcat)) {
    std::string common;
    for (Value input : concat.getInputs()) {
      Operation *def = input.getDefiningOp();
      if (!def)
        return "f32";
      std::string dtype = floatWeightDtype(def);
      if (!common.empty() && dtype != common)
        return "f32";
      common = dtype;
    }
    return common.empty() ? "f32" : common;
  }
  return "f32";
}

// Reads |value| as a contiguous row-major buffer, as most families require.
static LogicalResult requireContiguous(Operation *op, Value value, StringRef role) {
  ActivationLayout layout = activationLayout(value);
  if (layout.columnOffset != 0 || layout.rowStride != rowWidth(value))
    return op->emitError() << "the " << role
                           << " is a column view of a wider value; this kernel family "
                              "reads contiguous rows only";
  return success();
}

FailureOr<KernelSpec> kernelSpecFor(Operation *op) {
  KernelSpec spec;
  LogicalResult result = success();
  auto contiguous = [&](Value value, StringRef role) {
    if (failed(requireContiguous(op, value, role)))
      result = failure();
  };
  // A norm with a fused residual add (tern-fuse-residual-norm); absent means residual = 0.
  auto residual = [&](Value value) {
    if (!value)
      return;
    spec.ints["residual"] = 1;
    contiguous(value, "residual");
  };
  // The input of an rms norm: contiguous rows, or with a fused glu (tern-fuse-glu-norm) the
  // gate and up, read like the glu family reads them (columns of the gate/up matmul output,
  // one row stride for both); absent gated means 0.
  auto normInput = [&](Value input, Value up, std::optional<StringRef> activation) {
    if (!up) {
      contiguous(input, "input");
      return;
    }
    int64_t gateStride = activationLayout(input).rowStride;
    int64_t upStride = activationLayout(up).rowStride;
    if (gateStride != upStride) {
      result = op->emitError() << "gated norm: gate and up have different row strides ("
                               << gateStride << " and " << upStride
                               << "); the kernel reads both with one stride";
      return;
    }
    spec.ints["gated"] = 1;
    spec.ints["in_stride"] = gateStride;
    spec.strings["activation"] = activation->str();
  };
  auto floatMatmul = [&](Value input, Value weight, int64_t n, std::optional<int64_t> nBlock) {
    if (auto quantized = dyn_cast<T::QuantizedType>(weight.getType())) {
      spec.family = "quantized_matmul";
      spec.ints["n"] = n;
      spec.ints["k"] = quantized.getK();
      spec.ints["n_block"] = nBlock.value_or(defaultNBlock(n));
      spec.strings["format"] = T::stringifyQuantFormat(quantized.getFormat()).str();
      contiguous(input, "input");
      return;
    }
    auto type = cast<RankedTensorType>(weight.getType());
    spec.family = "matmul";
    spec.ints["n"] = n;
    spec.ints["k"] = type.getDimSize(1);
    spec.ints["n_block"] = nBlock.value_or(defaultNBlock(n));
    spec.ints["x_stride"] = activationLayout(input).rowStride;
    spec.strings["dtype"] =
        weight.getDefiningOp() ? floatWeightDtype(weight.getDefiningOp()) : "f32";
  };

  llvm::TypeSwitch<Operation *>(op)
      .Case([&](T::EmbeddingOp e) {
        spec.family = "embedding";
        if (auto quantized = dyn_cast<T::QuantizedType>(e.getTable().getType())) {
          // The tied lm_head's quantized table, decoded row by row.
          spec.ints["vocab"] = quantized.getN();
          spec.ints["width"] = quantized.getK();
          spec.strings["dtype"] = T::stringifyQuantFormat(quantized.getFormat()).str();
          return;
        }
        auto table = cast<RankedTensorType>(e.getTable().getType());
        spec.ints["vocab"] = table.getDimSize(0);
        spec.ints["width"] = table.getDimSize(1);
        spec.strings["dtype"] = e.getTable().getDefiningOp()
                                    ? floatWeightDtype(e.getTable().getDefiningOp())
                                    : "f32";
      })
      .Case([&](T::PositionEmbeddingOp e) {
        auto table = cast<RankedTensorType>(e.getTable().getType());
        // The kernels read row pos + t unchecked; the runtime keeps positions below the
        // cache's context, so a table at least that long is never read past its end.
        T::KVCacheType kv = cacheTypeOf(op);
        if (kv && kv.getContextLength() > table.getDimSize(0)) {
          result = op->emitError() << "the position table has " << table.getDimSize(0)
                                   << " rows but the KV cache holds " << kv.getContextLength()
                                   << " positions; compile with a context of at most "
                                   << table.getDimSize(0);
          return;
        }
        spec.family = "position_embedding";
        spec.ints["positions"] = table.getDimSize(0);
        spec.ints["width"] = table.getDimSize(1);
        spec.strings["dtype"] = e.getTable().getDefiningOp()
                                    ? floatWeightDtype(e.getTable().getDefiningOp())
                                    : "f32";
      })
      .Case([&](T::RmsNormOp n) {
        spec.family = "rms_norm";
        spec.ints["width"] = rowWidth(n.getInput());
        spec.floats["eps"] = n.getEpsilon().convertToDouble();
        normInput(n.getInput(), n.getUp(), n.getActivation());
        residual(n.getResidual());
      })
      .Case([&](T::LayerNormOp n) {
        spec.family = "layer_norm";
        spec.ints["width"] = rowWidth(n.getInput());
        spec.ints["bias"] = n.getBias() ? 1 : 0;
        spec.floats["eps"] = n.getEpsilon().convertToDouble();
        contiguous(n.getInput(), "input");
      })
      .Case([&](T::RmsNormQuantizeOp n) {
        spec.family = "rms_norm_quantize";
        spec.ints["width"] = rowWidth(n.getInput());
        spec.floats["eps"] = n.getEpsilon().convertToDouble();
        normInput(n.getInput(), n.getUp(), n.getActivation());
        residual(n.getResidual());
      })
      .Case([&](T::QuantizeActOp q) {
        spec.family = "quantize_act";
        spec.ints["width"] = rowWidth(q.getInput());
        contiguous(q.getInput(), "input");
      })
      .Case([&](T::TernaryMatmulOp mm) {
        auto type = cast<T::TernaryType>(mm.getWeight().getType());
        if (type.getPacking() != T::PackingKind::i2_b128 &&
            type.getPacking() != T::PackingKind::tl2_t64) {
          result = op->emitError()
                   << "ternary weight packing '" << T::stringifyPackingKind(type.getPacking())
                   << "' has no kernel; run tern-select-packing (expected i2_b128 or tl2_t64)";
          return;
        }
        spec.family = "ternary_matmul";
        spec.ints["n"] = type.getN();
        spec.ints["k"] = type.getK();
        spec.ints["n_block"] = mm.getNBlock().value_or(defaultNBlock(type.getN()));
        spec.ints["divide_by_scale"] = mm.getDivideByScale() ? 1 : 0;
        spec.strings["packing"] = T::stringifyPackingKind(type.getPacking()).str();
      })
      .Case([&](T::MatmulOp mm) {
        floatMatmul(mm.getInput(), mm.getWeight(), rowWidth(mm.getResult()), mm.getNBlock());
      })
      .Case([&](T::LogitsOp l) {
        if (isa<T::TernaryType>(l.getLmHead().getType())) {
          result = op->emitError() << "a ternary lm_head has no kernel yet (expected a float "
                                      "matrix: f32, f16, bf16 or q8_0, or a !tern.quantized one)";
          return;
        }
        floatMatmul(l.getInput(), l.getLmHead(), rowWidth(l.getResult()), std::nullopt);
      })
      .Case([&](T::RopeOp r) {
        T::KVCacheType kv = cacheTypeOf(op);
        if (!kv) {
          result = op->emitError() << "rope needs the function's KV cache argument to know the "
                                      "context length";
          return;
        }
        spec.family = "rope";
        spec.ints["heads"] = r.getNumHeads();
        spec.ints["head_dim"] = r.getHeadDim();
        spec.ints["stride"] = activationLayout(r.getInput()).rowStride;
        spec.ints["context"] = kv.getContextLength();
        spec.strings["style"] = r.getStyle() == T::RopeStyle::neox ? "neox" : "normal";
      })
      .Case([&](T::KVCacheWriteOp w) {
        auto kv = cast<T::KVCacheType>(w.getCache().getType());
        spec.family = "kv_cache_write";
        spec.ints["kv_heads"] = kv.getNumKVHeads();
        spec.ints["head_dim"] = kv.getHeadDim();
        spec.ints["k_stride"] = activationLayout(w.getKey()).rowStride;
        spec.ints["v_stride"] = activationLayout(w.getValue()).rowStride;
        spec.ints["context"] = kv.getContextLength();
      })
      .Case([&](T::AttentionOp a) {
        auto kv = cast<T::KVCacheType>(a.getCache().getType());
        spec.family = "attention";
        spec.ints["heads"] = a.getNumHeads();
        spec.ints["kv_heads"] = a.getNumKvHeads();
        spec.ints["head_dim"] = a.getHeadDim();
        spec.ints["q_stride"] = activationLayout(a.getQuery()).rowStride;
        spec.ints["context"] = kv.getContextLength();
        spec.floats["scale"] = a.getScale().convertToDouble();
      })
      .Case<T::AddOp, T::MulOp>([&](auto bin) {
        spec.family = isa<T::AddOp>(op) ? "add" : "mul";
        spec.ints["width"] = rowWidth(bin.getResult());
        contiguous(bin.getLhs(), "left operand");
        contiguous(bin.getRhs(), "right operand");
      })
      .Case([&](T::BiasAddOp a) {
        // The input may be one projection's columns of a fused QKV matmul (OPT, Qwen).
        spec.family = "bias_add";
        spec.ints["width"] = rowWidth(a.getResult());
        spec.ints["x_stride"] = activationLayout(a.getInput()).rowStride;
      })
      .Case<T::ReluOp, T::Relu2Op, T::SiluOp, T::GeluOp>([&](auto unary) {
        spec.family = isa<T::ReluOp>(op)    ? "relu"
                      : isa<T::Relu2Op>(op) ? "relu2"
                      : isa<T::SiluOp>(op)  ? "silu"
                                            : "gelu";
        spec.ints["width"] = rowWidth(unary.getResult());
        contiguous(unary.getInput(), "input");
      })
      .Case([&](T::GluOp g) {
        int64_t gateStride = activationLayout(g.getGate()).rowStride;
        int64_t upStride = activationLayout(g.getUp()).rowStride;
        if (gateStride != upStride) {
          result = op->emitError() << "glu gate and up have different row strides ("
                                   << gateStride << " and " << upStride
                                   << "); the glu family reads both with one stride";
          return;
        }
        spec.family = "glu";
        spec.ints["width"] = rowWidth(g.getResult());
        spec.ints["in_stride"] = gateStride;
        spec.strings["activation"] = g.getActivation().str();
      })
      .Default([&](Operation *) {
        result = op->emitError() << "no kernel family computes this op (docs/kernels.md)";
      });
  if (failed(result))
    return failure();
  return spec;
}

DictionaryAttr kernelParamsAttr(MLIRContext *context, const KernelSpec &spec) {
  Builder b(context);
  SmallVector<NamedAttribute> params;
  for (const auto &[name, value] : spec.ints)
    params.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(value)));
  for (const auto &[name, value] : spec.floats)
    params.push_back(b.getNamedAttr(name, b.getF64FloatAttr(value)));
  for (const auto &[name, value] : spec.strings)
    params.push_back(b.getNamedAttr(name, b.getStringAttr(value)));
  return b.getDictionaryAttr(params);
}

KernelSpec kernelSpecFromDeclaration(func::FuncOp declaration) {
  KernelSpec spec;
  spec.symbol = declaration.getSymName().str();
  if (auto family = declaration->getAttrOfType<StringAttr>(kKernelFamilyAttr))
    spec.family = family.str();
  if (auto params = declaration->getAttrOfType<DictionaryAttr>(kKernelParamsAttr))
    for (NamedAttribute param : params) {
      std::string name = param.getName().str();
      if (auto i = dyn_cast<IntegerAttr>(param.getValue()))
        spec.ints[name] = i.getInt();
      else if (auto f = dyn_cast<FloatAttr>(param.getValue()))
        spec.floats[name] = f.getValueAsDouble();
      else if (auto s = dyn_cast<StringAttr>(param.getValue()))
        spec.strings[name] = s.str();
    }
  return spec;
}

KernelDeclarations::KernelDeclarations(ModuleOp module) {
  // Kernels outlined by an earlier run are reused, so the passes are idempotent.
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn->hasAttr(kKernelFamilyAttr)) {
      declared_[kernelSpecFromDeclaration(fn)] = fn;
      ++nextIndex_;
    }
}

func::FuncOp KernelDeclarations::get(const KernelSpec &spec, Operation *anchor) {
  func::FuncOp &declaration = declared_[spec];
  if (declaration)
    return declaration;
  OpBuilder b(anchor);
  std::string symbol = "tern_k" + std::to_string(nextIndex_++) + "_" + spec.family;
  declaration = func::FuncOp::create(b, anchor->getLoc(), symbol, b.getFunctionType({}, {}));
  declaration.setPrivate();
  declaration->setAttr(kKernelFamilyAttr, b.getStringAttr(spec.family));
  declaration->setAttr(kKernelParamsAttr, kernelParamsAttr(b.getContext(), spec));
  return declaration;
}

} // namespace tern::program
