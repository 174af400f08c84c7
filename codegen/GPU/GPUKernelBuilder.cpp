// Helpers shared by the GPU kernel generators (see GPUKernelBuilder.h).
#include "codegen/GPU/GPUKernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>

namespace tern::gpu {

using namespace mlir;

GpuKernelArgs beginGpuKernel(mlir::gpu::GPUFuncOp fn, ImplicitLocOpBuilder &b) {
  Block &entry = fn.getBody().front();
  b.setInsertionPointToStart(&entry);
  GpuKernelArgs args;
  const unsigned n = entry.getNumArguments();
  for (unsigned i = 0; i + 1 < n; ++i)
    args.bindings.push_back(entry.getArgument(i));
  args.call = entry.getArgument(n - 1);
  // tern_cuda_call_t: {int64 rows; int64 pos}. Every thread reads the same 16 bytes (one
  // broadcast transaction), so no thread needs to share them.
  args.rows = load(b, b.getI64Type(), args.call, 8);
  args.pos = load(b, b.getI64Type(), byteAddress(b, args.call, constI64(b, 8)), 8);
  return args;
}

LogicalResult gpuKernelError(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                             const llvm::Twine &message) {
  return fn.emitError() << "kernel '" << spec.symbol << "' (" << spec.family
                        << "): " << message.str();
}

Value threadIdX(ImplicitLocOpBuilder &b) { return NVVM::ThreadIdXOp::create(b, b.getI32Type()); }
Value threadIdY(ImplicitLocOpBuilder &b) { return NVVM::ThreadIdYOp::create(b, b.getI32Type()); }
Value blockIdX(ImplicitLocOpBuilder &b) { return NVVM::BlockIdXOp::create(b, b.getI32Type()); }
Value blockIdY(ImplicitLocOpBuilder &b) { return NVVM::BlockIdYOp::create(b, b.getI32Type()); }
Value blockIdZ(ImplicitLocOpBuilder &b) { return NVVM::BlockIdZOp::create(b, b.getI32Type()); }
Value blockDimX(ImplicitLocOpBuilder &b) { return NVVM::BlockDimXOp::create(b, b.getI32Type()); }
Value gridDimX(ImplicitLocOpBuilder &b) { return NVVM::GridDimXOp::create(b, b.getI32Type()); }
Value gridDimY(ImplicitLocOpBuilder &b) { return NVVM::GridDimYOp::create(b, b.getI32Type()); }

Value constI32(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantOp::create(b, b.getI32Type(), b.getI32IntegerAttr(int32_t(v)));
}
Value constI64(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantOp::create(b, b.getI64Type(), b.getI64IntegerAttr(v));
}
Value constF32(ImplicitLocOpBuilder &b, double v) {
  return arith::ConstantOp::create(b, b.getF32Type(), b.getF32FloatAttr(float(v)));
}
Value toI64(ImplicitLocOpBuilder &b, Value v) {
  return v.getType().isInteger(64) ? v : arith::ExtSIOp::create(b, b.getI64Type(), v);
}
Value toI32(ImplicitLocOpBuilder &b, Value v) {
  return v.getType().isInteger(32) ? v : arith::TruncIOp::create(b, b.getI32Type(), v);
}

Value byteAddress(ImplicitLocOpBuilder &b, Value base, Value byteOffset) {
  return LLVM::GEPOp::create(b, base.getType(), b.getI8Type(), base,
                             ValueRange{toI64(b, byteOffset)});
}

Value elementAddress(ImplicitLocOpBuilder &b, Value base, Type elementType, Value index) {
  return LLVM::GEPOp::create(b, base.getType(), elementType, base, ValueRange{toI64(b, index)});
}

Value load(ImplicitLocOpBuilder &b, Type type, Value address, unsigned alignment) {
  return LLVM::LoadOp::create(b, type, address, alignment);
}

Value loadReadOnly(ImplicitLocOpBuilder &b, Type type, Value address, unsigned alignment) {
  // !invariant.load on a global pointer is what NVPTX turns into ld.global.nc.
  return LLVM::LoadOp::create(b, type, address, alignment, /*isVolatile=*/false,
                              /*isNonTemporal=*/false, /*isInvariant=*/true);
}

void store(ImplicitLocOpBuilder &b, Value value, Value address, unsigned alignment) {
  LLVM::StoreOp::create(b, value, address, alignment);
}

void ifThen(ImplicitLocOpBuilder &b, Value condition,
            const std::function<void(ImplicitLocOpBuilder &)> &body) {
  scf::IfOp::create(b, condition, [&](OpBuilder &nested, Location loc) {
    ImplicitLocOpBuilder nb(loc, nested);
    body(nb);
    scf::YieldOp::create(nb);
  });
}

SmallVector<Value>
ifThenElse(ImplicitLocOpBuilder &b, Value condition, TypeRange types,
           const std::function<SmallVector<Value>(ImplicitLocOpBuilder &)> &then,
           const std::function<SmallVector<Value>(ImplicitLocOpBuilder &)> &otherwise) {
  auto op = scf::IfOp::create(
      b, condition,
      [&](OpBuilder &nested, Location loc) {
        ImplicitLocOpBuilder nb(loc, nested);
        scf::YieldOp::create(nb, then(nb));
      },
      [&](OpBuilder &nested, Location loc) {
        ImplicitLocOpBuilder nb(loc, nested);
        scf::YieldOp::create(nb, otherwise(nb));
      });
  (void)types;
  return SmallVector<Value>(op.getResults());
}

Value shuffleXor(ImplicitLocOpBuilder &b, Value v, int32_t offset) {
  // mask_and_clamp 0x1f: lanes stay within the warp (PTX shfl's c operand for bfly).
  return NVVM::ShflOp::create(b, v.getType(), constI32(b, -1), v, constI32(b, offset),
                              constI32(b, 0x1f), NVVM::ShflKind::bfly, UnitAttr());
}

namespace {
Value warpReduce(ImplicitLocOpBuilder &b, Value v, int32_t width, bool max) {
  const bool isFloat = isa<FloatType>(v.getType());
  for (int32_t offset = width / 2; offset >= 1; offset /= 2) {
    Value other = shuffleXor(b, v, offset);
    if (max)
      v = isFloat ? maxF(b, v, other)
                  : Value(arith::MaxSIOp::create(b, v, other));
    else
      v = isFloat ? Value(arith::AddFOp::create(b, v, other))
                  : Value(arith::AddIOp::create(b, v, other));
  }
  return v;
}
} // namespace

Value warpReduceAdd(ImplicitLocOpBuilder &b, Value v, int32_t width) {
  return warpReduce(b, v, width, /*max=*/false);
}
Value warpReduceMax(ImplicitLocOpBuilder &b, Value v, int32_t width) {
  return warpReduce(b, v, width, /*max=*/true);
}

void barrier(ImplicitLocOpBuilder &b) { NVVM::Barrier0Op::create(b); }

Value sharedArray(ImplicitLocOpBuilder &b, mlir::gpu::GPUFuncOp fn, llvm::StringRef name,
                  Type elementType, int64_t count) {
  auto module = fn->getParentOfType<mlir::gpu::GPUModuleOp>();
  const std::string symbol = (fn.getName() + "__" + name).str();
  auto arrayType = LLVM::LLVMArrayType::get(elementType, count);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(fn);
    // Shared memory is address space 3; no initializer (its contents start undefined).
    LLVM::GlobalOp::create(b, arrayType, /*isConstant=*/false, LLVM::Linkage::Internal, symbol,
                           Attribute(), /*alignment=*/16, /*addrSpace=*/3);
  }
  (void)module;
  return LLVM::AddressOfOp::create(b, LLVM::LLVMPointerType::get(b.getContext(), 3), symbol);
}

Value inlinePtx(ImplicitLocOpBuilder &b, Type result, llvm::StringRef text,
                llvm::StringRef constraints, ValueRange operands) {
  return LLVM::InlineAsmOp::create(b, result, operands, text, constraints,
                                   /*has_side_effects=*/false, /*is_align_stack=*/false,
                                   LLVM::tailcallkind::TailCallKind::None,
                                   LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

namespace {
void sideEffectPtx(ImplicitLocOpBuilder &b, llvm::StringRef text, llvm::StringRef constraints,
                   ValueRange operands) {
  // The memory clobber keeps every load and store on its side of the instruction.
  std::string clobbers = constraints.empty() ? "~{memory}" : (constraints + ",~{memory}").str();
  LLVM::InlineAsmOp::create(b, TypeRange{}, operands, text, clobbers,
                            /*has_side_effects=*/true, /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
                            ArrayAttr());
}
} // namespace

void emitDependentLaunchControl(ImplicitLocOpBuilder &b) {
  // Wait first, then let the dependent launch: its blocks are set up while this kernel works.
  sideEffectPtx(b, "griddepcontrol.wait;", "", {});
  sideEffectPtx(b, "griddepcontrol.launch_dependents;", "", {});
}

void emitPrefetchesBeforeWait(mlir::gpu::GPUFuncOp fn, ImplicitLocOpBuilder &b,
                              const std::function<void(ImplicitLocOpBuilder &)> &prefetches) {
  fn->setAttr(kOwnDependentWaitAttr, b.getUnitAttr());
  prefetches(b);
  emitDependentLaunchControl(b);
}

namespace {
// |address| in the global address space, as the prefetch instructions take it.
Value globalPointer(ImplicitLocOpBuilder &b, Value address) {
  if (cast<LLVM::LLVMPointerType>(address.getType()).getAddressSpace() == 1)
    return address;
  return LLVM::AddrSpaceCastOp::create(b, LLVM::LLVMPointerType::get(b.getContext(), 1),
                                       address);
}
} // namespace

void prefetchBulkToL2(ImplicitLocOpBuilder &b, Value address, Value bytes) {
  sideEffectPtx(b, "cp.async.bulk.prefetch.L2.global [$0], $1;", "l,r",
                {globalPointer(b, address), bytes});
}

void prefetchToL1(ImplicitLocOpBuilder &b, Value address) {
  sideEffectPtx(b, "prefetch.global.L1 [$0];", "l", {globalPointer(b, address)});
}

void prefetchToL2(ImplicitLocOpBuilder &b, Value address) {
  sideEffectPtx(b, "prefetch.global.L2 [$0];", "l", {globalPointer(b, address)});
}

Value exp2Approx(ImplicitLocOpBuilder &b, Value x) {
  return inlinePtx(b, x.getType(), "ex2.approx.ftz.f32 $0, $1;", "=f,f", {x});
}

Value sqrtRn(ImplicitLocOpBuilder &b, Value x) {
  if (x.getType().isF64())
    return inlinePtx(b, x.getType(), "sqrt.rn.f64 $0, $1;", "=d,d", {x});
  return inlinePtx(b, x.getType(), "sqrt.rn.f32 $0, $1;", "=f,f", {x});
}

Value absF(ImplicitLocOpBuilder &b, Value x) {
  if (x.getType().isF64())
    return inlinePtx(b, x.getType(), "abs.f64 $0, $1;", "=d,d", {x});
  return inlinePtx(b, x.getType(), "abs.f32 $0, $1;", "=f,f", {x});
}

Value maxF(ImplicitLocOpBuilder &b, Value x, Value y) {
  return inlinePtx(b, x.getType(), "max.f32 $0, $1, $2;", "=f,f,f", {x, y});
}

Value minF(ImplicitLocOpBuilder &b, Value x, Value y) {
  return inlinePtx(b, x.getType(), "min.f32 $0, $1, $2;", "=f,f,f", {x, y});
}

Value roundHalfEven(ImplicitLocOpBuilder &b, Value x) {
  return inlinePtx(b, x.getType(), "cvt.rni.f32.f32 $0, $1;", "=f,f", {x});
}

Value dp4a(ImplicitLocOpBuilder &b, Value a, bool aSigned, Value bv, bool bSigned, Value acc) {
  auto bytes = VectorType::get({4}, b.getI8Type());
  auto kind = [](bool s) {
    return s ? NVVM::DotAccumulateType::SIGNED : NVVM::DotAccumulateType::UNSIGNED;
  };
  return NVVM::DotAccumulate4WayOp::create(
      b, b.getI32Type(), LLVM::BitcastOp::create(b, bytes, a), kind(aSigned),
      LLVM::BitcastOp::create(b, bytes, bv), kind(bSigned), acc);
}


// --- Helpers for the norm, embedding, rope, KV-cache and attention kernels. ---

Value shuffleXorF64(ImplicitLocOpBuilder &b, Value v, int32_t offset) {
  auto halves = VectorType::get({2}, b.getI32Type());
  Value words = LLVM::BitcastOp::create(b, halves, v);
  Value lo = shuffleXor(b, extractLane(b, words, 0), offset);
  Value hi = shuffleXor(b, extractLane(b, words, 1), offset);
  return LLVM::BitcastOp::create(b, b.getF64Type(), buildVector(b, {lo, hi}));
}

Value warpReduceAddF64(ImplicitLocOpBuilder &b, Value v, int32_t width) {
  for (int32_t offset = width / 2; offset >= 1; offset /= 2)
    v = arith::AddFOp::create(b, v, shuffleXorF64(b, v, offset));
  return v;
}

Value fmaF(ImplicitLocOpBuilder &b, Value x, Value y, Value z) {
  return LLVM::FMAOp::create(b, x, y, z);
}

Value bf16BitsToF32(ImplicitLocOpBuilder &b, Value bits) {
  Value wide = arith::ExtUIOp::create(b, b.getI32Type(), bits);
  Value shifted = arith::ShLIOp::create(b, wide, constI32(b, 16));
  return arith::BitcastOp::create(b, b.getF32Type(), shifted);
}

Value pointersAligned(ImplicitLocOpBuilder &b, ValueRange pointers, int64_t bytes) {
  Value any = constI64(b, 0);
  for (Value p : pointers)
    any = arith::OrIOp::create(b, any, LLVM::PtrToIntOp::create(b, b.getI64Type(), p));
  Value low = arith::AndIOp::create(b, any, constI64(b, bytes - 1));
  return arith::CmpIOp::create(b, arith::CmpIPredicate::eq, low, constI64(b, 0));
}

Value extractLane(ImplicitLocOpBuilder &b, Value vector, int64_t i) {
  return LLVM::ExtractElementOp::create(b, vector, constI32(b, i));
}

Value buildVector(ImplicitLocOpBuilder &b, ValueRange values) {
  auto type = VectorType::get({int64_t(values.size())}, values.front().getType());
  Value v = LLVM::UndefOp::create(b, type);
  for (auto [i, x] : llvm::enumerate(values))
    v = LLVM::InsertElementOp::create(b, v, x, constI32(b, int64_t(i)));
  return v;
}

Value halfBitsToF32(ImplicitLocOpBuilder &b, Value bits) {
  Value h = bits.getType().isInteger(16)
                ? bits
                : Value(arith::TruncIOp::create(b, b.getI16Type(), bits));
  Value half = arith::BitcastOp::create(b, b.getF16Type(), h);
  return arith::ExtFOp::create(b, b.getF32Type(), half);
}

namespace {
// An integer constant of |type| (i32 or i64).
Value constLike(ImplicitLocOpBuilder &b, Type type, int64_t v) {
  return arith::ConstantOp::create(b, type, b.getIntegerAttr(type, v));
}
} // namespace

Value andI(ImplicitLocOpBuilder &b, Value v, int64_t mask) {
  return arith::AndIOp::create(b, v, constLike(b, v.getType(), mask));
}
Value shrU(ImplicitLocOpBuilder &b, Value v, int64_t bits) {
  return bits == 0 ? v : Value(arith::ShRUIOp::create(b, v, constLike(b, v.getType(), bits)));
}
Value shlI(ImplicitLocOpBuilder &b, Value v, int64_t bits) {
  return bits == 0 ? v : Value(arith::ShLIOp::create(b, v, constLike(b, v.getType(), bits)));
}

} // namespace tern::gpu
