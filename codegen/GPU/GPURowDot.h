// Row-dot kernels: the skeleton of ternary_matmul, matmul and quantized_matmul (each family's
// file describes its weight format; this emits the tiling, staging, loads and reductions).
//
// y[t][j] = finish(sum over the chunks c of weight row j of dot(chunk, activations of row t)).
// A weight row is split into `chunks` chunks of 16 (or fewer) bytes; a group of `lanes`
// consecutive lanes of a warp reads one weight row, lane i taking chunks i, i + lanes, ...,
// so each load instruction reads whole sectors, and the group's partial sums are reduced with
// shuffles. The activations of a tile of rows are staged in shared memory in `planes` planes
// per chunk (plane p of every chunk contiguous), so the lanes of a group read consecutive
// 16-byte words (no bank conflicts) and groups on other weight rows read the same words
// (broadcast). rows == 1 (decode) runs tiles of one activation row and one weight row per
// group, spread thinly over many blocks to stream the weights; rows > 1 (prefill) runs tiles
// of several activation rows and several weight rows per group, reusing each weight chunk
// from registers for every activation row and each activation word for every weight row.
#ifndef TERN_CODEGEN_GPU_GPUROWDOT_H
#define TERN_CODEGEN_GPU_GPUROWDOT_H

#include "codegen/GPU/GPUKernelBuilder.h"

#include <functional>

namespace tern::gpu {

// The numbers a row-dot kernel's launch shape and shared memory depend on.
struct RowDotShape {
  int64_t n = 0;          // weight rows (outputs per activation row)
  int64_t chunks = 0;     // chunks per weight row
  int64_t planes = 1;     // activation planes per chunk in shared memory
  int64_t planeBytes = 16; // bytes of one plane of one chunk: 16 int8, or 1, 2 or 4 f32
  // Calls of one activation row only (parameter one_row = 1: the decode variant, see
  // GPUCodegen.h): no prefill path, shared memory for one row and fewer registers, so more
  // blocks fit an SM and a large matrix's blocks one wave.
  bool oneRow = false;
};

struct RowDotPlan {
  int64_t lanes = 32;          // lanes per weight row (a power of two <= 32)
  int64_t warps = 4;           // warps per block
  int64_t prefillRows = 4;     // activation rows per prefill tile (8 spills at 128 registers)
  int64_t prefillWeightRows = 4; // weight rows per lane group in a prefill tile
  int64_t decodeSlice = 0;     // chunks staged at a time (decode)
  int64_t prefillSlice = 0;    // chunks staged at a time (prefill)
  int64_t smemBytes = 0;       // shared-memory activation tile
  int64_t decodeBlocks = 0;    // blocks a decode call needs
  int64_t prefillWeightTiles = 0; // blocks per prefill row tile
};

// Pure functions of the shape (and the entry point's largest row count): generators and
// launch rules agree through these.
RowDotPlan planRowDot(const RowDotShape &shape);
// An error for a one-row kernel in an entry point of more rows.
llvm::Expected<LaunchShape> rowDotLaunch(const RowDotShape &shape, int64_t maxRows);
// |shape| with |spec|'s parameter one_row (0 or 1) applied.
llvm::Expected<RowDotShape> withOneRowParam(const KernelSpec &spec, RowDotShape shape);

// What a weight format contributes to the skeleton.
struct RowDotFormat {
  RowDotShape shape;
  int64_t k = 0;               // activation row width (elements)
  int64_t actRowStride = 0;    // elements from one activation row to the next
  bool intActivations = true;  // int8 q (planes of 16 bytes) or f32 x
  bool actAligned16 = true;    // int8 only: rows start 16-byte aligned (k % 16 == 0)
  bool intAccumulator = false; // i32 accumulators (ternary) or f32
  bool activationSums = false; // stage each activation row's sum (ternary's value + 1 codes)
  // First activation element of (chunk, plane) (i32 values); a plane's elements are
  // contiguous in the activation row. Elements at or past k read as zero.
  std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value chunk, mlir::Value plane)>
      pieceStart;
  // Raw loads of one chunk of weight row |row| (i32, valid); all-zero raw values must
  // contribute nothing (the skeleton zeroes the loads of lanes past a row's last chunk).
  std::function<llvm::SmallVector<mlir::Value>(mlir::ImplicitLocOpBuilder &, mlir::Value row,
                                               mlir::Value chunk)>
      loadChunk;
  // The weights of |plane| of a chunk, in the form dot() wants; once per weight row.
  std::function<llvm::SmallVector<mlir::Value>(mlir::ImplicitLocOpBuilder &,
                                               llvm::ArrayRef<mlir::Value> raw, int64_t plane)>
      decodePlane;
  // Optional: a value of the activations of |plane| shared by every weight row (e.g. an
  // offset term); once per activation row.
  std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, llvm::ArrayRef<mlir::Value> act,
                            int64_t plane)>
      prepare;
  // acc + the dot of one plane: |act| holds the plane's 4 i32 words (int8) or its f32 values.
  std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value acc,
                            llvm::ArrayRef<mlir::Value> weights, llvm::ArrayRef<mlir::Value> raw,
                            llvm::ArrayRef<mlir::Value> act, mlir::Value prepared, int64_t plane)>
      dot;
  // The output y[t][j] (f32) from the group's total (i32 or f32); |sum| is the activation
  // row's sum (i32) when activationSums, else null. t and j are i32.
  std::function<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value acc, mlir::Value t,
                            mlir::Value j, mlir::Value sum)>
      finish;
  // Optional: the weights as rows, row j at weightRows + j * weightRowBytes. On sm_90 a decode
  // block asks L2 for its rows before griddepcontrol.wait, so they stream in while the
  // previous dispatch still runs (weights are never written by a dispatch).
  mlir::Value weightRows;
  int64_t weightRowBytes = 0;
  // Optional, with weightRows: one f32 per weight row that finish() reads (ternary's scales),
  // asked into the block's L1 at the same time.
  mlir::Value rowScales;
  // Optional: the whole of a call with more than one row (prefill), emitted in place of the
  // skeleton's tiles for a format with a path of its own (ternary's tensor cores). It gets the
  // block index; the family's launch rule must give it enough blocks of the skeleton's size.
  std::function<void(mlir::ImplicitLocOpBuilder &, mlir::Value bid)> prefill;
};

// Emits the whole kernel body of a row-dot family into |fn| (after beginGpuKernel): |act| is
// the activation binding (int8 or f32 rows), |out| the f32 output (rows, n).
void emitRowDotKernel(mlir::gpu::GPUFuncOp fn, mlir::ImplicitLocOpBuilder &b,
                      const GpuKernelArgs &args, const RowDotFormat &format, mlir::Value act,
                      mlir::Value out, const GpuTarget &target);

} // namespace tern::gpu

#endif
