//===- Passes.td - program-level passes: memory plan and kernel outlining -===//
#ifndef TERN_PROGRAM_PASSES_TD
#define TERN_PROGRAM_PASSES_TD

include "mlir/Pass/PassBase.td"

def OutlineKernelsPass : Pass<"tern-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "gives every compute op of @forward a kernel of docs/kernels.md";
  let description = [{
    Maps each tern op of `@forward` to one kernel family with the parameters
    docs/kernels.md names (shapes, strides, packing, epsilon, ...), deduplicates equal
    kernels across layers and declares each as a `func.func private @tern_k<i>_<family>`
    carrying `tern.kernel_family` and `tern.kernel_params`. Each op gets
    `kernel = @sym`. Ops that are views or weights (`tern.slice_columns`,
    `tern.weight`, `tern.concat_weights`) get no kernel. An op with no kernel family
    (or a layout no family reads, such as a strided input to `tern.add`) is an error
    naming the op.

    Before:
    ```mlir
    %3 = tern.rms_norm %1, %2 {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    ```
    After:
    ```mlir
    func.func private @tern_k1_rms_norm() attributes {tern.kernel_family = "rms_norm",
        tern.kernel_params = {eps = 1.0e-05 : f64, width = 64 : i64}}
    ...
    %3 = tern.rms_norm %1, %2 {epsilon = 1.0e-05 : f64, kernel = @tern_k1_rms_norm} ...
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def PlanMemoryPass : Pass<"tern-plan-memory", "::mlir::ModuleOp"> {
  let summary = "assigns every activation of @forward a static offset in one arena";
  let description = [{
    Plans the activation arena of `@forward` for calls of at most `max-rows` token
    rows, so no memory is allocated while generating. Each tensor value gets
    `max-rows` rows of its width (64-byte aligned). Values whose lifetimes (over the
    op order) do not overlap share bytes; views share their source's storage
    (`tern.slice_columns` is a column offset into it, `tern.rope` rotates in place) and
    `tern.add` and `tern.bias_add` write over an operand (for `tern.bias_add`, its input)
    that dies there. Storages are placed largest
    first at the lowest offset free for their whole lifetime.

    With `last-row-logits`, `tern.logits` and the row-wise ops that only feed it (the
    final norm) are marked `tern.last_row`: they run for the call's last row only, so
    their results get one row and row stride 0.

    Each op with tensor results gets `tern.arena_offsets` and `tern.row_strides`
    (bytes, one per result); an in-place `tern.add` or `tern.bias_add` gets
    `tern.inplace_operand`; the
    function gets `tern.arena_bytes` and `tern.max_rows`.
    ```mlir
    %3 = tern.rms_norm %1, %2 {epsilon = 1.0e-05 : f64,
           tern.arena_offsets = array<i64: 256>, tern.row_strides = array<i64: 256>} ...
    ```
  }];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", /*default=*/"1",
           "most token rows one call evaluates">,
    Option<"lastRowLogits", "last-row-logits", "bool", /*default=*/"false",
           "compute the final norm and logits for the last row only">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def FuseGpuDispatchesPass : Pass<"tern-fuse-gpu-dispatches", "::mlir::ModuleOp"> {
  let summary = "GPU: one dispatch for each rope and the KV-cache write of its keys";
  let description = [{
    Runs after `tern-outline-kernels`, for GPU targets, where every launch costs a
    decode step about a microsecond. Where the dispatch after a `tern.rope` is the
    `tern.kv_cache_write` whose keys are the last kv heads the rope rotated (q and k
    of one fused QKV output, `tern-fuse-rope`), both run as one `rope_kv_cache_write`
    kernel (docs/kernels.md): the threads that rotate a k pair also store it to the
    key cache. The write gets the fused kernel; the rope loses its `kernel` and is
    marked `tern.fused_into_next`, so the program builder binds its operands first
    in the next dispatch, and `tern-plan-memory` keeps what it reads alive until
    then. Kernel declarations no op uses any more are erased.

    Before:
    ```mlir
    %r = tern.rope normal %qk, %pos {head_dim = 16 : i64, kernel = @tern_k3_rope, ...}
    %k = tern.slice_columns %r {offset = 64 : i64} : tensor<?x96xf32> -> tensor<?x32xf32>
    %c = tern.kv_cache_write %kv, %k, %v, %pos {kernel = @tern_k4_kv_cache_write, layer = 0 : i64}
    ```
    After:
    ```mlir
    %r = tern.rope normal %qk, %pos {head_dim = 16 : i64, tern.fused_into_next, ...}
    %k = tern.slice_columns %r {offset = 64 : i64} : tensor<?x96xf32> -> tensor<?x32xf32>
    %c = tern.kv_cache_write %kv, %k, %v, %pos {kernel = @tern_k5_rope_kv_cache_write, ...}
    ```
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

#endif // TERN_PROGRAM_PASSES_TD
