// The tern dialect definition and its enum attributes (packing, scale granularity, rope style,
// quantized format).
#ifndef TERN_DIALECT_TERNBASE_TD
#define TERN_DIALECT_TERNBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Tern_Dialect : Dialect {
  let name = "tern";
  let cppNamespace = "::mlir::tern";
  let summary = "Graph-level IR for ternary (BitNet b1.58) and LLaMA-style decoders";
  let description = [{
    Values are tensors whose first dimension is the token count (usually dynamic).
    Weights are `tern.weight` constants that reference bytes in the imported model file,
    so the IR stays printable without embedding megabytes. Ternary weight matrices have
    their own type, `!tern.ternary`, which carries the packing layout and the scale
    granularity; float matrices the compiler block-quantizes (the lm_head with
    `--lm-head=q8|q6|q4`) have `!tern.quantized`; the KV cache is a value of type
    `!tern.kv_cache` owned by the runtime.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
}

//===----------------------------------------------------------------------===//
// Enums. Cases are only ever appended so that serialized values stay stable.
//===----------------------------------------------------------------------===//

def Tern_PackingKind : I32EnumAttr<"PackingKind",
    "storage layout of a ternary weight matrix", [
      I32EnumAttrCase<"unpacked", 0>,   // one int8 in {-1, 0, 1} per weight
      I32EnumAttrCase<"i2_s", 1>,       // bitnet.cpp I2_S: 2-bit codes, one f32 tensor scale
      I32EnumAttrCase<"tq1_0", 2>,      // llama.cpp TQ1_0: base-3 packing, f16 scale per 256
      I32EnumAttrCase<"tq2_0", 3>,      // llama.cpp TQ2_0: 2-bit codes, f16 scale per 256
      I32EnumAttrCase<"hf_packed", 4>,  // Hugging Face BitNet: uint8 [N/4, K], codes w+1
      I32EnumAttrCase<"i2_b128", 5>,    // CPU kernels: rows padded to 128, 2-bit codes w+1
                                        // interleaved in 32-byte blocks (docs/kernels.md)
      I32EnumAttrCase<"tl2_t64", 6>     // x86 lookup-table decode: 3 weights -> 4-bit index
                                        // + sign, 64-row tiles (docs/kernels.md)
    ]> {
  let cppNamespace = "::mlir::tern";
  let genSpecializedAttr = 0;
}
def Tern_PackingKindAttr : EnumAttr<Tern_Dialect, Tern_PackingKind, "packing"> {
  let assemblyFormat = "$value";
}

def Tern_ScaleKind : I32EnumAttr<"ScaleKind",
    "granularity of the float scales of a ternary weight matrix", [
      I32EnumAttrCase<"per_tensor", 0>,
      I32EnumAttrCase<"per_block", 1>,
      I32EnumAttrCase<"per_row", 2>
    ]> {
  let cppNamespace = "::mlir::tern";
  let genSpecializedAttr = 0;
}
def Tern_ScaleKindAttr : EnumAttr<Tern_Dialect, Tern_ScaleKind, "scale"> {
  let assemblyFormat = "$value";
}

def Tern_RopeStyle : I32EnumAttr<"RopeStyle",
    "which pairs of a head's lanes a rotary embedding rotates together", [
      I32EnumAttrCase<"normal", 0>,   // adjacent pairs (2j, 2j+1): llama.cpp LLaMA GGUF
      I32EnumAttrCase<"neox", 1>      // pairs (j, j+d/2): HF rotate_half, llama.cpp NEOX
    ]> {
  let cppNamespace = "::mlir::tern";
  let genSpecializedAttr = 0;
}
def Tern_RopeStyleAttr : EnumAttr<Tern_Dialect, Tern_RopeStyle, "rope_style"> {
  let assemblyFormat = "$value";
}

def Tern_QuantFormat : I32EnumAttr<"QuantFormat",
    "layout of a block-quantized float weight matrix (docs/kernels.md)", [
      I32EnumAttrCase<"q8_b32", 0>,   // int8 codes in [-127, 127], f16 scale per 32 weights
      I32EnumAttrCase<"q4_b32", 1>,   // 4-bit codes in [-8, 7], f16 scale per 32 weights
      I32EnumAttrCase<"q6_b32", 2>    // 6-bit codes in [-32, 31], f16 scale per 32 weights
    ]> {
  let cppNamespace = "::mlir::tern";
  let genSpecializedAttr = 0;
}
def Tern_QuantFormatAttr : EnumAttr<Tern_Dialect, Tern_QuantFormat, "quant_format"> {
  let assemblyFormat = "$value";
}

#endif // TERN_DIALECT_TERNBASE_TD
