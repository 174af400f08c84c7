// Graph-level passes of the tern dialect (kept in alphabetical order of their records).
#ifndef TERN_TRANSFORMS_PASSES_TD
#define TERN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseGateUpPass : Pass<"tern-fuse-gate-up", "func::FuncOp"> {
  let summary = "fuses the gate and up projections of a gated FFN into one matmul";
  let description = [{
    Two matmuls of one input (ternary ones sharing their quantized input, or float
    ones) whose results meet in act(gate) * up, with act one of `tern.relu2`,
    `tern.silu`, `tern.gelu`, become one matmul over `tern.concat_weights` of the gate
    and up weights, two `tern.slice_columns` and a `tern.glu`. Each intermediate must
    have no other user, both weights must be `tern.weight` constants with the same N,
    and float weights must carry no separate `scale_name`. Duplicate `tern.quantize_act`
    ops of one value are merged first.

    Before:
    ```mlir
    %g = tern.ternary_matmul %q, %s, %wg : ... -> tensor<?x172xf32>
    %u = tern.ternary_matmul %q, %s, %wu : ... -> tensor<?x172xf32>
    %a = tern.relu2 %g : tensor<?x172xf32>
    %h = tern.mul %a, %u : tensor<?x172xf32>
    ```
    After:
    ```mlir
    %w = tern.concat_weights %wg, %wu : ... -> !tern.ternary<344x64, ..., per_row>
    %gu = tern.ternary_matmul %q, %s, %w : ... -> tensor<?x344xf32>
    %g = tern.slice_columns %gu {offset = 0 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
    %u = tern.slice_columns %gu {offset = 172 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
    %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x172xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def FuseGluNormPass : Pass<"tern-fuse-glu-norm", "func::FuncOp"> {
  let summary = "fuses a relu2 tern.glu into the rms norm that reads it";
  let description = [{
    Replaces a `tern.glu` with activation "relu2" whose only use is the input of a
    `tern.rms_norm` or `tern.rms_norm_quantize` (BitNet's FFN sub-norm) by that norm with
    the glu's gate as input, its up as `up` operand and its activation: the fused op
    computes relu(gate)^2 * up per element in f32, as the glu did, and normalizes it
    without storing it. Gate and up stay column slices of the gate/up matmul output. One
    dispatch and one pass over the FFN activations per layer are saved; the values are
    unchanged. A glu with another use, another activation, or a norm with a residual stays.

    Before:
    ```mlir
    %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x64xf32>
    %q, %s = tern.rms_norm_quantize %h, %w {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
    After:
    ```mlir
    %q, %s = tern.rms_norm_quantize %g, %w up(%u : tensor<?x64xf32>)
               {activation = "relu2", epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def FuseNormQuantPass : Pass<"tern-fuse-norm-quant", "func::FuncOp"> {
  let summary = "fuses rms_norm and the quantize_act of its result";
  let description = [{
    Merges `tern.quantize_act` ops of one value into the first of them, then replaces
    a `tern.rms_norm` whose only user is a `tern.quantize_act` by one
    `tern.rms_norm_quantize`, which normalizes and quantizes each row in one pass
    without materializing the normalized row. A norm whose result has float users too
    (a float matmul, a residual) stays as it is.

    Before:
    ```mlir
    %y = tern.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %q, %s = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
    After:
    ```mlir
    %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def FuseQKVPass : Pass<"tern-fuse-qkv", "func::FuncOp"> {
  let summary = "fuses the q, k and v projections of one input into one matmul";
  let description = [{
    Exactly three matmuls of one input (ternary ones sharing their quantized input,
    after duplicate `tern.quantize_act` ops of one value are merged, or float ones)
    become one matmul over `tern.concat_weights` of their weights, in program order,
    and three `tern.slice_columns` of its result. The weights must be `tern.weight`
    constants that can be stacked (same K; ternary: same packing, scale kind and
    `divide_by_scale`; float: same element type and no separate `scale_name`).
    Groups of two (gate/up) are left to `tern-fuse-gate-up`.

    Before:
    ```mlir
    %q1, %s1 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %q = tern.ternary_matmul %q1, %s1, %wq : ... -> tensor<?x64xf32>
    %q2, %s2 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %k = tern.ternary_matmul %q2, %s2, %wk : ... -> tensor<?x32xf32>
    %q3, %s3 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %v = tern.ternary_matmul %q3, %s3, %wv : ... -> tensor<?x32xf32>
    ```
    After:
    ```mlir
    %q1, %s1 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %w = tern.concat_weights %wq, %wk, %wv : ... -> !tern.ternary<128x64, ..., per_row>
    %qkv = tern.ternary_matmul %q1, %s1, %w : ... -> tensor<?x128xf32>
    %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
    %k = tern.slice_columns %qkv {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
    %v = tern.slice_columns %qkv {offset = 96 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def QuantizeLmHeadPass : Pass<"tern-quantize-lm-head", "func::FuncOp"> {
  let summary = "sets the storage precision of the lm_head (ternc --lm-head)";
  let description = [{
    Chooses how the float lm_head of every `tern.logits` is stored and multiplied.
    `format=source` (the default) keeps the file's type. `f16` gives the weight an f16
    tensor type: the compiler converts the file's values (f32, bf16, q8_0, ...) to f16,
    rounding to nearest even, and the `matmul` kernel reads them. `q8`, `q6` and `q4` give
    it `!tern.quantized<VxD, q8_b32>` / `<VxD, q6_b32>` / `<VxD, q4_b32>` (int8, 6-bit or
    4-bit codes with an f16 scale per 32 weights, docs/kernels.md), quantized by the
    compiler when it writes the artifact, and make the logits consume int8 activations: a
    `tern.quantize_act` of the final hidden state (which `tern-fuse-norm-quant` then merges
    into the final norm) feeds the logits' `scale` form, run by the `quantized_matmul`
    kernel with integer dot products.

    Tied embeddings (the importer reads the table twice, for `tern.embedding` and for
    `tern.logits`): by default only the logits' weight changes, so the token lookup keeps
    the file's precision and the artifact holds two tables (the lookup reads one row per
    token, so decode reads no more bytes). With `share-embedding` the lookup's weight gets
    the same type: one table, and the embedding kernel decodes quantized rows. The tiny
    Hugging Face BitNet goldens show why sharing is not the default: a quantized (even f16)
    token embedding moves their logits by up to 90% and changes greedy tokens, while q8 on
    the lm_head alone keeps every greedy token (docs/compiler.md). A ternary lm_head, a
    lm_head that is not a `tern.weight`, K not a multiple of 32 (q8, q6, q4) or an unknown
    format is an error.

    Before (`format=q8 share-embedding=true`):
    ```mlir
    %e = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64,
           size = 65536 : i64} : tensor<512x64xf16>
    %x = tern.embedding %e, %tokens : tensor<512x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
    ...
    %h = tern.rms_norm %y, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %w = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64,
           size = 65536 : i64} : tensor<512x64xf16>
    %l = tern.logits %h, %w : tensor<?x64xf32>, tensor<512x64xf16> -> tensor<?x512xf32>
    ```
    After:
    ```mlir
    %e = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64,
           size = 65536 : i64} : !tern.quantized<512x64, q8_b32>
    %x = tern.embedding %e, %tokens
           : !tern.quantized<512x64, q8_b32>, tensor<?xi32> -> tensor<?x64xf32>
    ...
    %h = tern.rms_norm %y, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %w = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64,
           size = 65536 : i64} : !tern.quantized<512x64, q8_b32>
    %q, %s = tern.quantize_act %h : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %l = tern.logits %q, %w scale %s : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>,
           tensor<?xf32> -> tensor<?x512xf32>
    ```
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"source\"",
           "lm_head precision: source (the file's type), f16, q8 (q8_b32), q6 (q6_b32) or q4 "
           "(q4_b32)">,
    Option<"shareEmbedding", "share-embedding", "bool", /*default=*/"false",
           "give a tied token embedding the lm_head's new type too (one table)">
  ];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def FuseResidualNormPass : Pass<"tern-fuse-residual-norm", "func::FuncOp"> {
  let summary = "fuses a residual tern.add into the rms norm of its sum";
  let description = [{
    Replaces a `tern.add` of f32 rows whose result a `tern.rms_norm` or
    `tern.rms_norm_quantize` normalizes by that norm with a `residual` operand: the fused
    op adds the rows (one f32 addition per element, as the add did), returns the sum as an
    extra result and normalizes it. Every other use of the add's result (the next residual
    add) reads the fused op's sum. One dispatch and one pass over the activations per
    residual connection are saved; the values are unchanged. An add whose result is not
    normalized, or is used between the add and the norm, stays.

    Before:
    ```mlir
    %h = tern.add %x, %d : tensor<?x64xf32>
    %q, %s = tern.rms_norm_quantize %h, %w {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %o = tern.add %h, %e : tensor<?x64xf32>
    ```
    After:
    ```mlir
    %q, %s, %h = tern.rms_norm_quantize %x, %w residual %d {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32>
               -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
    %o = tern.add %h, %e : tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def FuseRopePass : Pass<"tern-fuse-rope", "func::FuncOp"> {
  let summary = "rotates adjacent column slices of one buffer (q and k) in one tern.rope";
  let description = [{
    Two `tern.rope` ops whose inputs are adjacent `tern.slice_columns` of one value (the
    q and k parts of a fused QKV matmul's output), with the same position, style, theta,
    head_dim and freq_scale, become one rope over the union of the two slices, whose
    result is sliced again for the original users. Every head rotates independently, so
    the values are unchanged; one kernel dispatch per layer is saved (on a GPU, where a
    decode step is bound by the number of small kernels, a few percent per token).

    Before:
    ```mlir
    %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
    %k = tern.slice_columns %qkv {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
    %qr = tern.rope neox %q, %pos {head_dim = 16 : i64, num_heads = 4 : i64, theta = 1.0e4 : f64} : tensor<?x64xf32>
    %kr = tern.rope neox %k, %pos {head_dim = 16 : i64, num_heads = 2 : i64, theta = 1.0e4 : f64} : tensor<?x32xf32>
    ```
    After:
    ```mlir
    %qk = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x96xf32>
    %r = tern.rope neox %qk, %pos {head_dim = 16 : i64, num_heads = 6 : i64, theta = 1.0e4 : f64} : tensor<?x96xf32>
    %qr = tern.slice_columns %r {offset = 0 : i64} : tensor<?x96xf32> -> tensor<?x64xf32>
    %kr = tern.slice_columns %r {offset = 64 : i64} : tensor<?x96xf32> -> tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def SelectPackingPass : Pass<"tern-select-packing", "func::FuncOp"> {
  let summary = "chooses the storage layout of every ternary weight for the target";
  let description = [{
    Gives every ternary `tern.weight` the packing the target's kernels read, and
    updates the `tern.concat_weights` built from them. On CPU targets (`x86-64-v4`,
    `x86-64-v3`, `generic`, `native`) and GPU targets (`sm_80`, `sm_90`, `sm_90a`) that
    is `i2_b128` (docs/kernels.md): x86 kernels unpack 32 consecutive weights per
    32-byte load, GPU kernels feed each masked 32-bit word's bytes straight to `dp4a`
    (docs/gpu.md). A weight
    whose packing changes records the layout of its bytes in the file as
    `source_packing`, which the artifact writer decodes before repacking. Scales are
    unchanged. An unknown target is an error.

    With `layout=tl2_t64` (an AVX-512 CPU target only) the matrices that only feed
    ternary matmuls, have N divisible by 64 and K <= 24576 get the lookup-table layout
    `tl2_t64` instead (1.67 bits per weight, docs/kernels.md); the parts of a
    concatenation get it only together.

    Before:
    ```mlir
    %w = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 0 : i64,
           size = 1088 : i64} : !tern.ternary<64x256, tq2_0, per_block 256>
    ```
    After:
    ```mlir
    %w = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 0 : i64,
           size = 1088 : i64, source_packing = #tern<packing tq2_0>}
           : !tern.ternary<64x256, i2_b128, per_block 256>
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"x86-64-v4\"",
           "target to pack for: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90 or "
           "sm_90a">,
    Option<"layout", "layout", "std::string", /*default=*/"\"i2_b128\"",
           "ternary layout to use where it fits: i2_b128 (every target) or tl2_t64 "
           "(x86-64-v4 / native: matrices with N a multiple of 64, K <= 24576, read only by "
           "ternary matmuls)">
  ];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

def TilePass : Pass<"tern-tile", "func::FuncOp"> {
  let summary = "chooses the output tile width (n_block) of every matmul";
  let description = [{
    Sets `n_block` on every `tern.ternary_matmul` and `tern.matmul`: the number of
    output columns one work item computes, so the kernel's grid is N / n_block work
    items shared by the runtime's threads. The rule: the largest of 64, 32, 16, 8, 4,
    2, 1 that divides N and still leaves at least 4 * `threads` work items, so every
    thread gets several items and uneven ones balance out; when even 1 leaves fewer
    (tiny N), 1. Wider tiles reuse each activation row across more output columns;
    64 keeps a tile's accumulators in registers. An existing `n_block` is replaced.
    A ternary matmul whose weights are `tl2_t64` gets 64: its kernel computes whole
    64-row tiles.
    GPU targets get the same rule: there `n_block` only splits the work of the
    reference twins (`--kernels=reference`); the GPU kernels' tiles and launch shapes
    come from their families' launch rules (docs/gpu.md).

    Before / after (N = 2560, threads = 8: 64 leaves 40 >= 32 items):
    ```mlir
    %y = tern.ternary_matmul %q, %s, %w : ... -> tensor<?x2560xf32>
    %y = tern.ternary_matmul %q, %s, %w {n_block = 64 : i64} : ... -> tensor<?x2560xf32>
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"x86-64-v4\"",
           "target to tile for: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90 or "
           "sm_90a">,
    Option<"threads", "threads", "int64_t", /*default=*/"4",
           "threads the runtime is expected to run the kernels on">
  ];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

#endif // TERN_TRANSFORMS_PASSES_TD
