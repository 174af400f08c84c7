// Types of the tern dialect: ternary and block-quantized weight matrices, the runtime-owned KV
// cache.
#ifndef TERN_DIALECT_TERNTYPES_TD
#define TERN_DIALECT_TERNTYPES_TD

include "tern/Dialect/TernBase.td"

class Tern_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Tern_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Tern_TernaryType : Tern_Type<"Ternary", "ternary"> {
  let summary = "ternary weight matrix [N out, K in] with its scales";
  let description = [{
    A weight matrix with values in {-1, 0, 1}, N output features by K input features,
    stored in the layout `packing` with float scales of granularity `scale`.
    `scaleGroup` is the number of weights that share one scale: 0 for `per_tensor`,
    the block size for `per_block` (blocks run along a row, so it divides K), and
    K (or 0, meaning K) for `per_row`. The group is printed only when non-zero.

    ```mlir
    !tern.ternary<2560x2560, tq2_0, per_block 256>
    !tern.ternary<64x64, hf_packed, per_tensor>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "shape {N, K}">:$shape,
    "PackingKind":$packing,
    "ScaleKind":$scale,
    "int64_t":$scaleGroup
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Output features (rows of W).
    int64_t getN() const { return getShape()[0]; }
    /// Input features (columns of W; the reduction dimension).
    int64_t getK() const { return getShape()[1]; }
  }];
}

def Tern_QuantizedType : Tern_Type<"Quantized", "quantized"> {
  let summary = "block-quantized float weight matrix [N out, K in]";
  let description = [{
    A float weight matrix that the compiler stores block-quantized in `format`: integer
    codes with one f16 scale per block of 32 consecutive weights of a row (docs/kernels.md,
    "Weight layouts"). The `tern.weight` defining it keeps the file's `dtype`; the compiler
    quantizes those values when it writes the artifact. `tern-quantize-lm-head` gives the
    lm_head (and the tied token embedding) this type. K must be a multiple of 32.

    ```mlir
    !tern.quantized<128256x2560, q8_b32>
    !tern.quantized<512x64, q6_b32>
    !tern.quantized<512x64, q4_b32>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "shape {N, K}">:$shape,
    "QuantFormat":$format
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Output features (rows of W).
    int64_t getN() const { return getShape()[0]; }
    /// Input features (columns of W; the reduction dimension).
    int64_t getK() const { return getShape()[1]; }
    /// Weights per f16 scale, along a row.
    static constexpr int64_t kBlock = 32;
  }];
}

def Tern_KVCacheType : Tern_Type<"KVCache", "kv_cache"> {
  let summary = "the runtime's key/value cache for every layer";
  let description = [{
    Session state holding keys and values of all layers for `contextLength`
    positions. The physical layout is chosen by the compiler; ops treat the cache as a
    value (a write returns the updated cache).

    ```mlir
    !tern.kv_cache<5x512x4x8xf32>   // layers x context x kv_heads x head_dim x element
    ```
  }];
  let parameters = (ins
    "int64_t":$numLayers,
    "int64_t":$contextLength,
    "int64_t":$numKVHeads,
    "int64_t":$headDim,
    "Type":$elementType
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Width of one key (or value) row: numKVHeads * headDim.
    int64_t getKVWidth() const { return getNumKVHeads() * getHeadDim(); }
  }];
}

#endif // TERN_DIALECT_TERNTYPES_TD
