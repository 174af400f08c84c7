// Operations of the tern dialect: the graph-level ops the frontends produce.
#ifndef TERN_DIALECT_TERNOPS_TD
#define TERN_DIALECT_TERNOPS_TD

include "tern/Dialect/TernTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Tern_Ternary : Type<CPred<"::llvm::isa<::mlir::tern::TernaryType>($_self)">,
                        "ternary weight matrix", "::mlir::tern::TernaryType">;
def Tern_Quantized : Type<CPred<"::llvm::isa<::mlir::tern::QuantizedType>($_self)">,
                          "block-quantized weight matrix", "::mlir::tern::QuantizedType">;
def Tern_KVCache : Type<CPred<"::llvm::isa<::mlir::tern::KVCacheType>($_self)">,
                        "KV cache", "::mlir::tern::KVCacheType">;

// Activations: [tokens, width] rows of f32.
def Tern_Rows : TensorRankOf<[F32], [2]>;
def Tern_QuantRows : TensorRankOf<[I8], [2]>;
def Tern_RowScales : TensorRankOf<[F32], [1]>;
def Tern_TokenIds : TensorRankOf<[I32], [1]>;
// Float weights as stored in model files.
def Tern_FloatMatrix : TensorRankOf<[F32, F16, BF16], [2]>;
def Tern_FloatVector : TensorRankOf<[F32, F16, BF16], [1]>;
def Tern_FloatTensor : RankedTensorOf<[AnyFloat]>;

class Tern_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tern_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// tern.weight
//===----------------------------------------------------------------------===//

def Tern_WeightOp : Tern_Op<"weight", [Pure]> {
  let summary = "constant weight stored in the model file";
  let description = [{
    A weight tensor whose bytes live in the imported model file at `offset`
    (absolute, in bytes) with length `size`. The bytes are never inlined into the IR.
    `dtype` names the storage type in the file ("f32", "f16", "bf16", "q8_0", "tq2_0",
    "i2_s", "u8", ...). `file` names the file holding the bytes when it is not the
    module's source (sharded checkpoints). `scale_name` names a separate scale tensor
    (Hugging Face `*.weight_scale`). `ternarize` marks float master weights that the
    compiler ternarizes (absmean) at compile time; it requires a `!tern.ternary` result.
    `source_packing` is set by `tern-select-packing` when it gives a ternary weight a
    packing other than the file's: it names the layout of the bytes at `offset`, which
    the compiler repacks into the result type's packing when it writes the artifact.
    A `!tern.quantized` result (set by `tern-quantize-lm-head`) likewise means the
    compiler block-quantizes the file's float values when it writes the artifact.

    ```mlir
    %w = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 1024 : i64,
           size = 8448 : i64} : !tern.ternary<64x256, tq2_0, per_block 256>
    %n = tern.weight "blk.0.attn_norm.weight" {dtype = "f32", offset = 0 : i64,
           size = 256 : i64} : tensor<64xf32>
    %r = tern.weight "blk.0.attn_k.weight" {dtype = "tq2_0", offset = 9472 : i64,
           size = 8448 : i64, source_packing = #tern<packing tq2_0>}
           : !tern.ternary<64x256, i2_b128, per_block 256>
    ```
  }];
  let arguments = (ins
    StrAttr:$name,
    StrAttr:$dtype,
    I64Attr:$offset,
    I64Attr:$size,
    OptionalAttr<StrAttr>:$file,
    OptionalAttr<StrAttr>:$scale_name,
    UnitAttr:$ternarize,
    OptionalAttr<Tern_PackingKindAttr>:$source_packing
  );
  let results = (outs AnyTypeOf<[AnyStaticShapeTensor, Tern_Ternary, Tern_Quantized]>:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let builders = [
    // The common case; set `file`, `scale_name` or `ternarize` afterwards with
    // setFileAttr / setScaleNameAttr / setTernarize (or Operation::setAttr).
    OpBuilder<(ins "::mlir::Type":$type, "::llvm::StringRef":$name,
                   "::llvm::StringRef":$dtype, "int64_t":$offset, "int64_t":$size)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Embedding, normalization, activation quantization
//===----------------------------------------------------------------------===//

def Tern_EmbeddingOp : Tern_Op<"embedding", [Pure]> {
  let summary = "gathers rows of an embedding table";
  let description = [{
    Row t of the result is row `tokens[t]` of `table` [V, D], converted to f32. The
    table is a float matrix or, when it is the tied lm_head quantized by
    `tern-quantize-lm-head`, a `!tern.quantized` one (each row decoded as scale * code).

    ```mlir
    %x = tern.embedding %table, %tokens
           : tensor<512x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
    %y = tern.embedding %qtable, %tokens
           : !tern.quantized<512x64, q8_b32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[Tern_FloatMatrix, Tern_Quantized]>:$table,
                       Tern_TokenIds:$tokens);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $table `,` $tokens attr-dict `:` qualified(type($table)) `,` type($tokens) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Tern_PositionEmbeddingOp : Tern_Op<"position_embedding", [Pure]> {
  let summary = "rows of a learned absolute position table";
  let description = [{
    Row t of the result is row `pos + t` of `table` [P, D], converted to f32: the
    learned position embedding of GPT-2-style decoders (`wpe`), added to the token
    embedding. `tokens` only gives the number of rows. The caller keeps pos + rows
    within the table's P rows (the compiler checks P against the KV cache's context).

    ```mlir
    %p = tern.position_embedding %table, %tokens, %pos
           : tensor<1024x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_FloatMatrix:$table, Tern_TokenIds:$tokens, Index:$pos);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $table `,` $tokens `,` $pos attr-dict `:` type($table) `,` type($tokens) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Tern_RmsNormOp : Tern_Op<"rms_norm", [Pure, AttrSizedOperandSegments,
                                          AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    y = x / sqrt(mean(x^2) + epsilon) * w, with the mean over the last dimension of x
    and `w` a vector of that length.

    With a `residual` operand (made by `tern-fuse-residual-norm`), the op first adds it:
    s = x + residual, one f32 addition per element as `tern.add` does, returns s as a
    second result `sum` and normalizes s. `residual` and `sum` have the type of `x`, f32
    rows.

    With an `up` operand and an `activation` (made by `tern-fuse-glu-norm`), `x` is a gate
    and the op normalizes act(x) * up, computed per element in f32 as `tern.glu` computes
    it and not stored; only "relu2" is supported. `x` and `up` may be column slices of one
    matmul output, read with one row stride. A norm has a residual or an `up`, not both.

    ```mlir
    %y = tern.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %z, %s = tern.rms_norm %x, %w residual %r {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
    %g = tern.rms_norm %gate, %w up(%up : tensor<?x64xf32>)
           {activation = "relu2", epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins Tern_FloatTensor:$input, Tern_FloatVector:$weight,
                       Optional<Tern_Rows>:$residual, Optional<Tern_Rows>:$up,
                       F64Attr:$epsilon, OptionalAttr<StrAttr>:$activation);
  let results = (outs Tern_FloatTensor:$result, Optional<Tern_Rows>:$sum);
  let assemblyFormat = [{
    $input `,` $weight (`residual` $residual^)? (`up` `(` $up^ `:` type($up) `)`)? attr-dict
    `:` type($input) `,` type($weight) (`,` type($residual)^ `->` type($sum))?
  }];
  let hasVerifier = 1;
}

def Tern_LayerNormOp : Tern_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "layer normalization over the last dimension";
  let description = [{
    With mu = mean(x) and var = mean((x - mu)^2) over the last dimension of x:
    y = (x - mu) / sqrt(var + epsilon) * w, plus `bias` when given (GPT-2, OPT). `w` and
    `bias` are vectors of that length.

    ```mlir
    %y = tern.layer_norm %x, %w, %b {epsilon = 1.0e-05 : f64}
           : tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>
    %z = tern.layer_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf16>
    ```
  }];
  let arguments = (ins Tern_FloatTensor:$input, Tern_FloatVector:$weight,
                       Optional<Tern_FloatVector>:$bias, F64Attr:$epsilon);
  let results = (outs Tern_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` type($weight)
    (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

def Tern_QuantizeActOp : Tern_Op<"quantize_act", [Pure]> {
  let summary = "BitNet per-row absmax int8 activation quantization";
  let description = [{
    For each row x: s = 127 / max(max|x|, 1e-5); q = clamp(round(x * s), -128, 127).
    Returns q as int8 and s (one f32 per row).

    ```mlir
    %q, %s = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$input);
  let results = (outs Tern_QuantRows:$quantized, Tern_RowScales:$scale);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($quantized) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def Tern_RmsNormQuantizeOp : Tern_Op<"rms_norm_quantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "RMS normalization followed by BitNet activation quantization";
  let description = [{
    `tern.rms_norm` then `tern.quantize_act` in one pass over each row, without
    materializing the normalized row: y = x / sqrt(mean(x^2) + epsilon) * w, then
    s = 127 / max(max|y|, 1e-5) and q = clamp(round(y * s), -128, 127). Produced by
    `tern-fuse-norm-quant`.

    With a `residual` operand (made by `tern-fuse-residual-norm`), the op first adds it:
    x + residual, one f32 addition per element as `tern.add` does, is returned as a
    third result `sum` and normalized. `residual` and `sum` have the type of `x`.

    With an `up` operand and an `activation` (made by `tern-fuse-glu-norm`), the op
    normalizes act(x) * up instead of x, as `tern.rms_norm` does; not with a residual.

    ```mlir
    %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    %q2, %s2, %sum = tern.rms_norm_quantize %x, %w residual %r {epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32>
               -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
    %q3, %s3 = tern.rms_norm_quantize %gate, %w up(%up : tensor<?x64xf32>)
               {activation = "relu2", epsilon = 1.0e-05 : f64}
               : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$input, Tern_FloatVector:$weight,
                       Optional<Tern_Rows>:$residual, Optional<Tern_Rows>:$up,
                       F64Attr:$epsilon, OptionalAttr<StrAttr>:$activation);
  let results = (outs Tern_QuantRows:$quantized, Tern_RowScales:$scale,
                      Optional<Tern_Rows>:$sum);
  let assemblyFormat = [{
    $input `,` $weight (`residual` $residual^)? (`up` `(` $up^ `:` type($up) `)`)? attr-dict
    `:` type($input) `,` type($weight)
    (`,` type($residual)^)? `->` type($quantized) `,` type($scale) (`,` type($sum)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Weight stacking and column views (results of the QKV and gate/up fusions)
//===----------------------------------------------------------------------===//

def Tern_ConcatWeightsOp : Tern_Op<"concat_weights", [Pure]> {
  let summary = "stacks the rows of weight matrices that share an input";
  let description = [{
    The result holds the rows of the operands in operand order, so a matmul over it
    computes all the operands' products at once and its output columns are the
    operands' outputs side by side. Operands are either all `!tern.ternary` matrices
    with the same K, packing and scale kind (and group), or all float matrices
    `tensor<NxKxT>` of one element type with the same K. A ternary result has the
    operands' packing and scale kind `per_row`: each operand keeps its own scales, and
    the compiler expands them into one scale per output row.

    ```mlir
    %w = tern.concat_weights %wq, %wk, %wv
           : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_b128, per_tensor>,
             !tern.ternary<32x64, i2_b128, per_tensor> -> !tern.ternary<128x64, i2_b128, per_row>
    %f = tern.concat_weights %wg, %wu : tensor<172x64xf32>, tensor<172x64xf32> -> tensor<344x64xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyTypeOf<[Tern_Ternary, Tern_FloatMatrix]>>:$inputs);
  let results = (outs AnyTypeOf<[Tern_Ternary, Tern_FloatMatrix]>:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` qualified(type($inputs)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Tern_SliceColumnsOp : Tern_Op<"slice_columns", [Pure]> {
  let summary = "a range of columns of every row (a view)";
  let description = [{
    Row t of the result is columns [offset, offset + width) of row t of the input, where
    width is the result's width. It reads one part of a fused matmul's output; the
    program builder lowers it to a strided binding rather than a copy.

    ```mlir
    %k = tern.slice_columns %qkv {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$input, I64Attr:$offset);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Tern_GluOp : Tern_Op<"glu", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "gated linear unit: act(gate) * up";
  let description = [{
    Computes act(gate) * up elementwise, where `activation` is one of "relu2"
    (relu(x)^2), "silu" (x * sigmoid(x)) or "gelu" (tanh approximation). Produced by
    `tern-fuse-gate-up`, whose gate and up are slices of one matmul's output.

    ```mlir
    %h = tern.glu %gate, %up {activation = "relu2"} : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$gate, Tern_Rows:$up, StrAttr:$activation);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def Tern_TernaryMatmulOp : Tern_Op<"ternary_matmul", [Pure]> {
  let summary = "int8 activations times a ternary weight matrix";
  let description = [{
    y = (q . W_t^T) / s * weight_scale, where q [T, K] are int8 activations with row
    scales s [T] (from `tern.quantize_act`), W_t in {-1, 0, 1} is the [N, K] ternary
    matrix `weight`, and the dot products accumulate exactly in int32. With
    `divide_by_scale` the weight scale divides instead of multiplying (Hugging Face
    `linear_class: bitlinear` checkpoints store the reciprocal). `n_block`, set by
    `tern-tile`, is the number of output columns one work item of the kernel computes;
    it divides N.

    ```mlir
    %y = tern.ternary_matmul %q, %s, %w
           : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, tq2_0, per_block 256>
             -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_QuantRows:$input, Tern_RowScales:$input_scale,
                       Tern_Ternary:$weight, UnitAttr:$divide_by_scale,
                       OptionalAttr<I64Attr>:$n_block);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $input `,` $input_scale `,` $weight attr-dict `:` type($input) `,` type($input_scale) `,`
    qualified(type($weight)) `->` type($result)
  }];
  let builders = [
    // Untiled (no n_block), as the frontends build it.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$input_scale, "::mlir::Value":$weight,
                   CArg<"bool", "false">:$divide_by_scale)>
  ];
  let hasVerifier = 1;
}

def Tern_MatmulOp : Tern_Op<"matmul", [Pure]> {
  let summary = "float activations times a float weight matrix";
  let description = [{
    y = x W^T for x [T, K] f32 and a non-ternary weight W [N, K] (lm_head, LLaMA).
    `n_block`, set by `tern-tile`, is the number of output columns one work item of the
    kernel computes; it divides N.

    ```mlir
    %y = tern.matmul %x, %w : tensor<?x64xf32>, tensor<172x64xf16> -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$input, Tern_FloatMatrix:$weight,
                       OptionalAttr<I64Attr>:$n_block);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let builders = [
    // Untiled (no n_block), as the frontends build it.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input, "::mlir::Value":$weight)>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Tern_RopeOp : Tern_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates each head (`num_heads` heads of `head_dim` lanes per row) of the rows of x,
    whose positions are pos, pos+1, ... . Lane pair j of a head is rotated by angle
    p * freq_scale * theta^(-2j/head_dim). `normal` pairs lanes (2j, 2j+1); `neox`
    pairs lanes (j, j + head_dim/2).

    ```mlir
    %r = tern.rope neox %x, %pos {head_dim = 8 : i64, num_heads = 8 : i64,
           theta = 1.000000e+04 : f64} : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$input, Index:$pos, Tern_RopeStyleAttr:$style,
                       F64Attr:$theta, I64Attr:$head_dim, I64Attr:$num_heads,
                       DefaultValuedAttr<F64Attr, "1.0">:$freq_scale);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    custom<RopeStyleKeyword>($style) $input `,` $pos attr-dict `:` type($input)
  }];
  let builders = [
    // Attributes built by the caller; `style` as the plain enum.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input, "::mlir::Value":$pos,
                   "::mlir::tern::RopeStyle":$style, "::mlir::FloatAttr":$theta,
                   "::mlir::IntegerAttr":$head_dim, "::mlir::IntegerAttr":$num_heads,
                   "::mlir::FloatAttr":$freq_scale)>,
    // Plain values; the result has the type of `input`.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$pos,
                   "::mlir::tern::RopeStyle":$style, "double":$theta, "int64_t":$head_dim,
                   "int64_t":$num_heads, CArg<"double", "1.0">:$freq_scale)>
  ];
  let hasVerifier = 1;
}

def Tern_KVCacheWriteOp : Tern_Op<"kv_cache_write",
    [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "stores K/V rows of one layer at the current position";
  let description = [{
    Writes row t of `key` and `value` ([T, num_kv_heads * head_dim]) at position pos + t
    of layer `layer` and returns the updated cache (value semantics; the runtime updates
    its cache in place).

    ```mlir
    %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64}
             : !tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Tern_KVCache:$cache, Tern_Rows:$key, Tern_Rows:$value, Index:$pos,
                       I64Attr:$layer);
  let results = (outs Tern_KVCache:$result);
  let assemblyFormat = [{
    $cache `,` $key `,` $value `,` $pos attr-dict `:` qualified(type($cache)) `,`
    type($key) `,` type($value)
  }];
  let hasVerifier = 1;
}

def Tern_AttentionOp : Tern_Op<"attention", [Pure, AllTypesMatch<["query", "result"]>]> {
  let summary = "causal grouped-query attention over the KV cache";
  let description = [{
    Query row t (position pos + t) of head h attends, with softmax(scale * q.k), to
    positions 0 .. pos + t of layer `layer` of the cache, KV head h / (num_heads /
    num_kv_heads). The result has the query's shape [T, num_heads * head_dim].

    ```mlir
    %a = tern.attention %q, %kv, %pos {head_dim = 8 : i64, layer = 0 : i64,
           num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35355339059327379 : f64}
           : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
    ```
  }];
  let arguments = (ins Tern_Rows:$query, Tern_KVCache:$cache, Index:$pos, I64Attr:$layer,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                       F64Attr:$scale);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $query `,` $cache `,` $pos attr-dict `:` type($query) `,` qualified(type($cache))
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Tern_UnaryOp<string mnemonic, string formula>
    : Tern_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "elementwise " # formula;
  let description = "Computes " # formula # " for every element.\n\n"
      "```mlir\n%y = tern." # mnemonic # " %x : tensor<?x128xf32>\n```";
  let arguments = (ins Tern_FloatTensor:$input);
  let results = (outs Tern_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Tern_ReluOp : Tern_UnaryOp<"relu", "max(x, 0)">;
def Tern_Relu2Op : Tern_UnaryOp<"relu2", "relu(x)^2">;
def Tern_SiluOp : Tern_UnaryOp<"silu", "x * sigmoid(x)">;
def Tern_GeluOp : Tern_UnaryOp<"gelu", "gelu(x) (tanh approximation)">;

class Tern_BinaryOp<string mnemonic, string formula>
    : Tern_Op<mnemonic, [Pure, SameOperandsAndResultType, Commutative]> {
  let summary = "elementwise " # formula;
  let description = "Computes " # formula # " for every pair of elements.\n\n"
      "```mlir\n%z = tern." # mnemonic # " %x, %y : tensor<?x128xf32>\n```";
  let arguments = (ins Tern_FloatTensor:$lhs, Tern_FloatTensor:$rhs);
  let results = (outs Tern_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Tern_MulOp : Tern_BinaryOp<"mul", "x * y">;
def Tern_AddOp : Tern_BinaryOp<"add", "x + y">;

def Tern_BiasAddOp : Tern_Op<"bias_add", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "adds a bias vector to every row";
  let description = [{
    y[t, j] = x[t, j] + bias[j]: the bias of a linear layer (GPT-2, OPT, Qwen q/k/v),
    applied after its matmul. `bias` is a float vector of the rows' width.

    ```mlir
    %y = tern.bias_add %x, %b : tensor<?x64xf32>, tensor<64xf16>
    ```
  }];
  let arguments = (ins Tern_Rows:$input, Tern_FloatVector:$bias);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = "$input `,` $bias attr-dict `:` type($input) `,` type($bias)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// tern.logits
//===----------------------------------------------------------------------===//

def Tern_LogitsOp : Tern_Op<"logits", [Pure]> {
  let summary = "projects final hidden states onto the vocabulary";
  let description = [{
    y = x lm_head^T for x [T, D] and lm_head [V, D], a float matrix (often the tied
    token embedding) or a ternary one.

    With a `!tern.quantized` lm_head (`tern-quantize-lm-head`) the input is the int8
    quantization of x (`tern.quantize_act`: q [T, D] i8 and its per-row scale s [T]), given
    after `scale`: y[t] = (sum over blocks of scale * int32 dot(q[t], codes)) / s[t].

    ```mlir
    %l = tern.logits %x, %emb : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
    %m = tern.logits %q, %qemb scale %s
           : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32>
             -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[Tern_Rows, Tern_QuantRows]>:$input,
                       AnyTypeOf<[Tern_FloatMatrix, Tern_Ternary, Tern_Quantized]>:$lm_head,
                       Optional<Tern_RowScales>:$input_scale);
  let results = (outs Tern_Rows:$result);
  let assemblyFormat = [{
    $input `,` $lm_head (`scale` $input_scale^)? attr-dict `:` type($input) `,`
    qualified(type($lm_head)) (`,` type($input_scale)^)? `->` type($result)
  }];
  let builders = [
    // Float or ternary lm_head, f32 input, as the frontends build it.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input, "::mlir::Value":$lm_head)>
  ];
  let hasVerifier = 1;
}

#endif // TERN_DIALECT_TERNOPS_TD
