// Helpers shared by the GPU kernel generators: ABI arguments, thread indices, addresses,
// loads and stores, loops, warp reductions and shared memory.
//
// Generators write scalar per-thread code: integer and float arithmetic in `arith`, loops and
// branches in `scf`, thread indices, shuffles and barriers in `nvvm`, memory through `llvm`
// pointers with explicit alignment (16-byte loads become ld.global.v4 only when the alignment
// says so). convert-gpu-to-nvvm lowers the rest.
#ifndef TERN_CODEGEN_GPU_GPUKERNELBUILDER_H
#define TERN_CODEGEN_GPU_GPUKERNELBUILDER_H

#include "KernelSpec.h"
#include "codegen/Common/CodegenSupport.h"
#include "codegen/GPU/GPUCodegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <functional>

namespace tern::gpu {

// The kernel ABI's arguments (kernel_abi.h): one !llvm.ptr per binding, then the call record,
// whose rows and pos beginGpuKernel loads (i64).
struct GpuKernelArgs {
  llvm::SmallVector<mlir::Value> bindings;
  mlir::Value call;
  mlir::Value rows, pos;
};

// Positions |b| at the start of |fn|'s entry block and returns its arguments.
GpuKernelArgs beginGpuKernel(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b);

// Errors while generating: an error on |fn| naming the kernel and family.
mlir::LogicalResult gpuKernelError(mlir::gpu::GPUFuncOp fn, const KernelSpec &spec,
                                   const llvm::Twine &message);

// Special registers (i32).
mlir::Value threadIdX(mlir::ImplicitLocOpBuilder &b);
mlir::Value threadIdY(mlir::ImplicitLocOpBuilder &b);
mlir::Value blockIdX(mlir::ImplicitLocOpBuilder &b);
mlir::Value blockIdY(mlir::ImplicitLocOpBuilder &b);
mlir::Value blockIdZ(mlir::ImplicitLocOpBuilder &b);
mlir::Value blockDimX(mlir::ImplicitLocOpBuilder &b);
mlir::Value gridDimX(mlir::ImplicitLocOpBuilder &b);
mlir::Value gridDimY(mlir::ImplicitLocOpBuilder &b);

mlir::Value constI32(mlir::ImplicitLocOpBuilder &b, int64_t v);
mlir::Value constI64(mlir::ImplicitLocOpBuilder &b, int64_t v);
mlir::Value constF32(mlir::ImplicitLocOpBuilder &b, double v);
mlir::Value toI64(mlir::ImplicitLocOpBuilder &b, mlir::Value v); // sign-extends i32, keeps i64
mlir::Value toI32(mlir::ImplicitLocOpBuilder &b, mlir::Value v); // truncates i64, keeps i32

// |base| + |byteOffset| bytes (any integer offset, sign-extended), in |base|'s address space.
mlir::Value byteAddress(mlir::ImplicitLocOpBuilder &b, mlir::Value base, mlir::Value byteOffset);
// Address of element |index| of an array of |elementType| at |base|.
mlir::Value elementAddress(mlir::ImplicitLocOpBuilder &b, mlir::Value base,
                           mlir::Type elementType, mlir::Value index);
// A load of |type| (a scalar or vector type) from |address|, which is |alignment|-aligned.
mlir::Value load(mlir::ImplicitLocOpBuilder &b, mlir::Type type, mlir::Value address,
                 unsigned alignment);
// A load through the read-only (non-coherent) data cache: for data no kernel of the dispatch
// writes (weights). Lowered to ld.global.nc.
mlir::Value loadReadOnly(mlir::ImplicitLocOpBuilder &b, mlir::Type type, mlir::Value address,
                         unsigned alignment);
void store(mlir::ImplicitLocOpBuilder &b, mlir::Value value, mlir::Value address,
           unsigned alignment);

// scf.for over integers (the type of |lb|), with or without loop-carried values
// (codegen/Common/CodegenSupport.h).
using codegen::forLoop;
using GpuLoopBody = codegen::LoopBody;
// scf.if without results.
void ifThen(mlir::ImplicitLocOpBuilder &b, mlir::Value condition,
            const std::function<void(mlir::ImplicitLocOpBuilder &)> &body);
// scf.if with results: both branches return values of the same types.
llvm::SmallVector<mlir::Value>
ifThenElse(mlir::ImplicitLocOpBuilder &b, mlir::Value condition, mlir::TypeRange types,
           const std::function<llvm::SmallVector<mlir::Value>(mlir::ImplicitLocOpBuilder &)> &then,
           const std::function<llvm::SmallVector<mlir::Value>(mlir::ImplicitLocOpBuilder &)> &otherwise);

// shfl.sync.bfly over the full warp: |v| (i32 or f32) of lane (lane ^ |offset|).
mlir::Value shuffleXor(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int32_t offset);
// Sum / max of |v| over |width| consecutive lanes (a power of two <= 32); every lane of the
// group gets the result. f32 or i32.
mlir::Value warpReduceAdd(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int32_t width = 32);
mlir::Value warpReduceMax(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int32_t width = 32);
// bar.sync 0: every thread of the block.
void barrier(mlir::ImplicitLocOpBuilder &b);

// A static shared-memory array of |count| |elementType| in |fn|'s module, 16-byte aligned;
// returns its address (!llvm.ptr<3>). |name| must be unique within the kernel.
mlir::Value sharedArray(mlir::ImplicitLocOpBuilder &b, mlir::gpu::GPUFuncOp fn,
                        llvm::StringRef name, mlir::Type elementType, int64_t count);

// One PTX instruction as inline assembly (pure: no side effects), e.g.
// inlinePtx(b, f32, "ex2.approx.ftz.f32 $0, $1;", "=f,f", {x}). convert-gpu-to-nvvm turns
// LLVM's math intrinsics (exp2, sqrt, fabs, roundeven, ...) into calls of libdevice functions,
// which the artifact does not carry: kernels use these instead.
mlir::Value inlinePtx(mlir::ImplicitLocOpBuilder &b, mlir::Type result, llvm::StringRef text,
                      llvm::StringRef constraints, mlir::ValueRange operands);
mlir::Value exp2Approx(mlir::ImplicitLocOpBuilder &b, mlir::Value x); // f32, ex2.approx.ftz
mlir::Value sqrtRn(mlir::ImplicitLocOpBuilder &b, mlir::Value x);     // f32 or f64, IEEE
mlir::Value absF(mlir::ImplicitLocOpBuilder &b, mlir::Value x);       // f32 or f64
// max / min of two f32 (PTX max.f32 / min.f32: a NaN operand yields the other, like maxnum).
// arith's maxnumf/maximumf/minnumf become libdevice calls: use these.
mlir::Value maxF(mlir::ImplicitLocOpBuilder &b, mlir::Value x, mlir::Value y);
mlir::Value minF(mlir::ImplicitLocOpBuilder &b, mlir::Value x, mlir::Value y);
// Rounds to the nearest integer, ties to even (f32 -> f32), as the reference's nearbyint.
mlir::Value roundHalfEven(mlir::ImplicitLocOpBuilder &b, mlir::Value x);

// Programmatic dependent launch (sm_90): the runtime launches each dispatch as a dependent of
// the one before, so a kernel may start while its predecessor still runs. Nothing a
// predecessor writes may be read before griddepcontrol.wait. Every sm_90 kernel gets the
// wait as its first instruction, unless its generator sets kOwnDependentWaitAttr and calls
// emitDependentLaunchControl itself, after work that reads no predecessor's memory (weight
// prefetches). Both instructions are no-ops in an ordinary launch.
inline constexpr llvm::StringLiteral kOwnDependentWaitAttr = "tern.own_dependent_wait";
void emitDependentLaunchControl(mlir::ImplicitLocOpBuilder &b);
// Marks |fn| as placing its own wait, emits |prefetches| (which must read no memory a
// dispatch writes, only ask for it), then the wait and the dependents' launch.
void emitPrefetchesBeforeWait(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b,
                              const std::function<void(mlir::ImplicitLocOpBuilder &)> &prefetches);
// cp.async.bulk.prefetch.L2 (sm_90): asks for |bytes| (i32, a multiple of 16) at |address|
// (global, 16-byte aligned) to be brought into L2; no result, no wait.
void prefetchBulkToL2(mlir::ImplicitLocOpBuilder &b, mlir::Value address, mlir::Value bytes);
// prefetch.global.L1: asks for the 128-byte line at |address| (global) in this SM's L1. L1
// is not coherent: only for data no dispatch writes (weights).
void prefetchToL1(mlir::ImplicitLocOpBuilder &b, mlir::Value address);
// prefetch.global.L2: the same into L2, the device's point of coherence.
void prefetchToL2(mlir::ImplicitLocOpBuilder &b, mlir::Value address);

// dp4a: |acc| + the dot product of the four bytes of |a| and |bv| (i32 each), each signed or
// unsigned as told.
mlir::Value dp4a(mlir::ImplicitLocOpBuilder &b, mlir::Value a, bool aSigned, mlir::Value bv,
                 bool bSigned, mlir::Value acc);


// --- Helpers for the norm, embedding, rope, KV-cache and attention kernels. ---

// f64 shuffle and sum over |width| consecutive lanes (shfl moves 32 bits: two shuffles each).
mlir::Value shuffleXorF64(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int32_t offset);
mlir::Value warpReduceAddF64(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int32_t width = 32);
// a * b + c rounded once (fma.rn.f32); LLVM never contracts separate multiplies and adds here.
mlir::Value fmaF(mlir::ImplicitLocOpBuilder &b, mlir::Value x, mlir::Value y, mlir::Value z);
// bfloat16 bits (i16) to f32, exactly (f16 bits: halfBitsToF32 below).
mlir::Value bf16BitsToF32(mlir::ImplicitLocOpBuilder &b, mlir::Value bits);
// Whether every pointer of |pointers| is a multiple of |bytes| (i1). Bindings that may be a
// column slice of a fused result carry no alignment promise beyond the element's, so kernels
// pick their vector path with this (a block-uniform branch).
mlir::Value pointersAligned(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange pointers,
                            int64_t bytes);
// Lane |i| of a vector, as i32 index.
mlir::Value extractLane(mlir::ImplicitLocOpBuilder &b, mlir::Value vector, int64_t i);
// A vector of |values| (all of one scalar type).
mlir::Value buildVector(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange values);

// An IEEE f16 held in the low 16 bits of an integer, as f32 (cvt.f32.f16).
mlir::Value halfBitsToF32(mlir::ImplicitLocOpBuilder &b, mlir::Value bits);
// Integer helpers: constant-typed binary ops on i32 values.
mlir::Value andI(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int64_t mask);
mlir::Value shrU(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int64_t bits);
mlir::Value shlI(mlir::ImplicitLocOpBuilder &b, mlir::Value v, int64_t bits);

} // namespace tern::gpu

#endif
