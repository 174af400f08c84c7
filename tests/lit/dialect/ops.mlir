// RUN: tern-opt %s | tern-opt | FileCheck %s
// RUN: tern-opt %s --mlir-print-op-generic | tern-opt | FileCheck %s
// Tests that every tern type, attribute and op prints and parses back unchanged, from the
// custom form and from the generic form.

// CHECK: module attributes
// CHECK-SAME: tern.hparams = {num_layers = 5 : i64}
// CHECK-SAME: test.packings = [#tern<packing unpacked>, #tern<packing i2_s>, #tern<packing tq1_0>, #tern<packing tq2_0>, #tern<packing hf_packed>, #tern<packing i2_b128>]
// CHECK-SAME: test.quant_formats = [#tern<quant_format q8_b32>, #tern<quant_format q4_b32>, #tern<quant_format q6_b32>]
// CHECK-SAME: test.rope_styles = [#tern<rope_style normal>, #tern<rope_style neox>]
// CHECK-SAME: test.scales = [#tern<scale per_tensor>, #tern<scale per_block>, #tern<scale per_row>]
module attributes {
  tern.hparams = {num_layers = 5 : i64},
  test.packings = [#tern<packing unpacked>, #tern<packing i2_s>, #tern<packing tq1_0>,
                   #tern<packing tq2_0>, #tern<packing hf_packed>, #tern<packing i2_b128>],
  test.scales = [#tern<scale per_tensor>, #tern<scale per_block>, #tern<scale per_row>],
  test.quant_formats = [#tern<quant_format q8_b32>, #tern<quant_format q4_b32>,
                        #tern<quant_format q6_b32>],
  test.rope_styles = [#tern<rope_style normal>, #tern<rope_style neox>]
} {

// CHECK-LABEL: func.func private @types(
// CHECK-SAME: !tern.ternary<2560x2560, tq2_0, per_block 256>
// CHECK-SAME: !tern.ternary<2560x6912, tq1_0, per_block 256>
// CHECK-SAME: !tern.ternary<64x64, hf_packed, per_tensor>
// CHECK-SAME: !tern.ternary<128x64, i2_s, per_tensor>
// CHECK-SAME: !tern.ternary<3x5, unpacked, per_row>
// CHECK-SAME: !tern.ternary<3x5, unpacked, per_row 5>
// CHECK-SAME: !tern.kv_cache<5x512x4x8xf32>
// CHECK-SAME: !tern.kv_cache<30x4096x5x128xf16>
// CHECK-SAME: !tern.quantized<128256x2560, q8_b32>
// CHECK-SAME: !tern.quantized<512x32, q4_b32>
// CHECK-SAME: !tern.quantized<128256x2560, q6_b32>
func.func private @types(!tern.ternary<2560x2560, tq2_0, per_block 256>,
                         !tern.ternary<2560x6912, tq1_0, per_block 256>,
                         !tern.ternary<64x64, hf_packed, per_tensor>,
                         !tern.ternary<128x64, i2_s, per_tensor>,
                         !tern.ternary<3x5, unpacked, per_row>,
                         !tern.ternary<3x5, unpacked, per_row 5>,
                         !tern.kv_cache<5x512x4x8xf32>,
                         !tern.kv_cache<30x4096x5x128xf16>,
                         !tern.quantized<128256x2560, q8_b32>,
                         !tern.quantized<512x32, q4_b32>,
                         !tern.quantized<128256x2560, q6_b32>)

// CHECK-LABEL: func.func @weights()
func.func @weights() -> (tensor<512x64xf16>, !tern.ternary<64x256, tq2_0, per_block 256>,
                         !tern.ternary<64x64, hf_packed, per_tensor>,
                         !tern.ternary<64x64, unpacked, per_tensor>) {
  // CHECK: tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : tensor<512x64xf16>
  %emb = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : tensor<512x64xf16>
  // CHECK: tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 1024 : i64, size = 8448 : i64} : !tern.ternary<64x256, tq2_0, per_block 256>
  %q = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 1024 : i64, size = 8448 : i64} : !tern.ternary<64x256, tq2_0, per_block 256>
  // CHECK: tern.weight "model.layers.0.self_attn.q_proj.weight" {dtype = "u8", file = "model-00002-of-00002.safetensors", offset = 96 : i64, scale_name = "model.layers.0.self_attn.q_proj.weight_scale", size = 1024 : i64} : !tern.ternary<64x64, hf_packed, per_tensor>
  %hf = tern.weight "model.layers.0.self_attn.q_proj.weight" {dtype = "u8", file = "model-00002-of-00002.safetensors", offset = 96, scale_name = "model.layers.0.self_attn.q_proj.weight_scale", size = 1024} : !tern.ternary<64x64, hf_packed, per_tensor>
  // CHECK: tern.weight "model.layers.0.mlp.up_proj.weight" {dtype = "f32", offset = 8 : i64, size = 16384 : i64, ternarize} : !tern.ternary<64x64, unpacked, per_tensor>
  %online = "tern.weight"() <{name = "model.layers.0.mlp.up_proj.weight", dtype = "f32", offset = 8 : i64, size = 16384 : i64, ternarize}> : () -> !tern.ternary<64x64, unpacked, per_tensor>
  return %emb, %q, %hf, %online : tensor<512x64xf16>, !tern.ternary<64x256, tq2_0, per_block 256>, !tern.ternary<64x64, hf_packed, per_tensor>, !tern.ternary<64x64, unpacked, per_tensor>
}

// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[TOKENS:[^:]+]]: tensor<?xi32>, %[[POS:[^:]+]]: index, %[[KV:[^:]+]]: !tern.kv_cache<5x512x4x8xf32>
// CHECK-SAME: -> (tensor<?x512xf32>, !tern.kv_cache<5x512x4x8xf32>)
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<5x512x4x8xf32>)
    -> (tensor<?x512xf32>, !tern.kv_cache<5x512x4x8xf32>) {
  %table = tern.weight "token_embd.weight" {dtype = "f32", offset = 0, size = 131072} : tensor<512x64xf32>
  %norm = tern.weight "blk.0.attn_norm.weight" {dtype = "f32", offset = 131072, size = 256} : tensor<64xf32>
  %wq = tern.weight "blk.0.attn_q.weight" {dtype = "i2_s", offset = 131328, size = 1056} : !tern.ternary<64x64, i2_s, per_tensor>
  %wk = tern.weight "blk.0.attn_k.weight" {dtype = "f16", offset = 132384, size = 2048} : tensor<32x64xf16>
  %wv = tern.weight "blk.0.attn_v.weight" {dtype = "bf16", offset = 134432, size = 2048} : tensor<32x64xbf16>
  %lm = tern.weight "output.weight" {dtype = "tq1_0", offset = 136480, size = 6784} : !tern.ternary<512x256, tq1_0, per_block 256>

  // CHECK: %[[X:.+]] = tern.embedding %{{.+}}, %[[TOKENS]] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %x = tern.embedding %table, %tokens : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: %[[H:.+]] = tern.rms_norm %[[X]], %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %h = tern.rms_norm %x, %norm {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: %[[Q8:.+]], %[[S:.+]] = tern.quantize_act %[[H]] : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %q8, %s = tern.quantize_act %h : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK: %[[Q:.+]] = tern.ternary_matmul %[[Q8]], %[[S]], %{{.+}} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, i2_s, per_tensor> -> tensor<?x64xf32>
  %q = tern.ternary_matmul %q8, %s, %wq : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, i2_s, per_tensor> -> tensor<?x64xf32>
  // CHECK: %[[QD:.+]] = tern.ternary_matmul %[[Q8]], %[[S]], %{{.+}} {divide_by_scale} : tensor<?x64xi8>
  %qd = tern.ternary_matmul %q8, %s, %wq {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, i2_s, per_tensor> -> tensor<?x64xf32>
  // CHECK: %[[K:.+]] = tern.matmul %[[H]], %{{.+}} : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  %k = tern.matmul %h, %wk : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  // CHECK: %[[V:.+]] = tern.matmul %[[H]], %{{.+}} : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  %v = tern.matmul %h, %wv : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  // The default freq_scale (1.0) is not printed.
  // CHECK: %[[QR:.+]] = tern.rope neox %[[Q]], %[[POS]] {head_dim = 8 : i64, num_heads = 8 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>
  %qr = tern.rope neox %q, %pos {theta = 10000.0 : f64, head_dim = 8 : i64, num_heads = 8 : i64, freq_scale = 1.0 : f64} : tensor<?x64xf32>
  // CHECK: %[[KR:.+]] = tern.rope normal %[[K]], %[[POS]] {freq_scale = 2.500000e-01 : f64, head_dim = 8 : i64, num_heads = 4 : i64, theta = 5.000000e+05 : f64} : tensor<?x32xf32>
  %kr = tern.rope normal %k, %pos {theta = 500000.0 : f64, head_dim = 8 : i64, num_heads = 4 : i64, freq_scale = 0.25 : f64} : tensor<?x32xf32>
  // CHECK: %[[KV1:.+]] = tern.kv_cache_write %[[KV]], %[[KR]], %[[V]], %[[POS]] {layer = 0 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  %kv1 = tern.kv_cache_write %kv, %kr, %v, %pos {layer = 0 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  // CHECK: %[[A:.+]] = tern.attention %[[QR]], %[[KV1]], %[[POS]] {head_dim = 8 : i64, layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.35355339059327379 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  %a = tern.attention %qr, %kv1, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.35355339059327379 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  // CHECK: %[[R2:.+]] = tern.relu2 %[[A]] : tensor<?x64xf32>
  %r2 = tern.relu2 %a : tensor<?x64xf32>
  // CHECK: %[[SI:.+]] = tern.silu %[[R2]] : tensor<?x64xf32>
  %si = tern.silu %r2 : tensor<?x64xf32>
  // CHECK: %[[GE:.+]] = tern.gelu %[[SI]] : tensor<?x64xf32>
  %ge = tern.gelu %si : tensor<?x64xf32>
  // CHECK: %[[M:.+]] = tern.mul %[[GE]], %[[QD]] : tensor<?x64xf32>
  %m = tern.mul %ge, %qd : tensor<?x64xf32>
  // CHECK: %[[Y:.+]] = tern.add %[[X]], %[[M]] : tensor<?x64xf32>
  %y = tern.add %x, %m : tensor<?x64xf32>
  // CHECK: tern.logits %[[Y]], %{{.+}} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  %tied = tern.logits %y, %table : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  // CHECK: %[[LOGITS:.+]] = tern.logits %{{.+}}, %{{.+}} : tensor<?x256xf32>, !tern.ternary<512x256, tq1_0, per_block 256> -> tensor<?x512xf32>
  %wide = tensor.empty(%pos) : tensor<?x256xf32>
  %logits = tern.logits %wide, %lm : tensor<?x256xf32>, !tern.ternary<512x256, tq1_0, per_block 256> -> tensor<?x512xf32>
  // CHECK: return %[[LOGITS]], %[[KV1]] : tensor<?x512xf32>, !tern.kv_cache<5x512x4x8xf32>
  return %logits, %kv1 : tensor<?x512xf32>, !tern.kv_cache<5x512x4x8xf32>
}

// The ops of GPT-2 and OPT-style decoders: learned positions, LayerNorm with and without a
// bias, linear biases and plain ReLU.
// CHECK-LABEL: func.func @gpt2_style(
// CHECK-SAME: %[[TOKENS:[^:]+]]: tensor<?xi32>, %[[POS:[^:]+]]: index
func.func @gpt2_style(%tokens: tensor<?xi32>, %pos: index) -> tensor<?x64xf32> {
  %wte = tern.weight "wte" {dtype = "f32", offset = 0, size = 131072} : tensor<512x64xf32>
  %wpe = tern.weight "wpe" {dtype = "f16", offset = 131072, size = 131072} : tensor<1024x64xf16>
  %lnw = tern.weight "ln_1.weight" {dtype = "f32", offset = 262144, size = 256} : tensor<64xf32>
  %lnb = tern.weight "ln_1.bias" {dtype = "bf16", offset = 262400, size = 128} : tensor<64xbf16>
  %w = tern.weight "fc.weight" {dtype = "f32", offset = 262528, size = 65536} : tensor<256x64xf32>
  %b = tern.weight "fc.bias" {dtype = "f16", offset = 328064, size = 512} : tensor<256xf16>

  // CHECK: %[[E:.+]] = tern.embedding
  %e = tern.embedding %wte, %tokens : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: %[[P:.+]] = tern.position_embedding %{{.+}}, %[[TOKENS]], %[[POS]] : tensor<1024x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
  %p = tern.position_embedding %wpe, %tokens, %pos : tensor<1024x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: %[[X:.+]] = tern.add %[[E]], %[[P]]
  %x = tern.add %e, %p : tensor<?x64xf32>
  // CHECK: %[[H:.+]] = tern.layer_norm %[[X]], %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64xbf16>
  %h = tern.layer_norm %x, %lnw, %lnb {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64xbf16>
  // CHECK: %[[H2:.+]] = tern.layer_norm %[[H]], %{{.+}} {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK-NOT: tensor<64xbf16>
  %h2 = tern.layer_norm %h, %lnw {epsilon = 1.0e-6 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: %[[F:.+]] = tern.matmul %[[H2]]
  %f = tern.matmul %h2, %w : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  // CHECK: %[[FB:.+]] = tern.bias_add %[[F]], %{{.+}} : tensor<?x256xf32>, tensor<256xf16>
  %fb = tern.bias_add %f, %b : tensor<?x256xf32>, tensor<256xf16>
  // CHECK: %[[R:.+]] = tern.relu %[[FB]] : tensor<?x256xf32>
  %r = tern.relu %fb : tensor<?x256xf32>
  // CHECK: tern.slice_columns %[[R]]
  %y = tern.slice_columns %r {offset = 0 : i64} : tensor<?x256xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// The ops the graph passes produce: repacked weights, stacked weights, column views,
// fused norm + quantization, gated units and tiled matmuls.
// CHECK-LABEL: func.func @fused(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>
func.func @fused(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x172xf32>, tensor<?x172xf32>) {
  // CHECK: %[[N:.+]] = tern.weight "blk.0.attn_norm.weight" {dtype = "f32", offset = 0 : i64, size = 256 : i64} : tensor<64xf32>
  %n = tern.weight "blk.0.attn_norm.weight" {dtype = "f32", offset = 0, size = 256} : tensor<64xf32>
  // CHECK: %[[WQ:.+]] = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 256 : i64, size = 1088 : i64, source_packing = #tern<packing tq2_0>} : !tern.ternary<64x256, i2_b128, per_block 256>
  %wq = tern.weight "blk.0.attn_q.weight" {dtype = "tq2_0", offset = 256, size = 1088, source_packing = #tern<packing tq2_0>} : !tern.ternary<64x256, i2_b128, per_block 256>
  %wk = tern.weight "blk.0.attn_k.weight" {dtype = "tq2_0", offset = 2048, size = 544, source_packing = #tern<packing tq2_0>} : !tern.ternary<32x256, i2_b128, per_block 256>
  %wv = tern.weight "blk.0.attn_v.weight" {dtype = "tq2_0", offset = 4096, size = 544, source_packing = #tern<packing tq2_0>} : !tern.ternary<32x256, i2_b128, per_block 256>
  // CHECK: %[[WQKV:.+]] = tern.concat_weights %[[WQ]], %{{.+}}, %{{.+}} : !tern.ternary<64x256, i2_b128, per_block 256>, !tern.ternary<32x256, i2_b128, per_block 256>, !tern.ternary<32x256, i2_b128, per_block 256> -> !tern.ternary<128x256, i2_b128, per_row>
  %wqkv = tern.concat_weights %wq, %wk, %wv : !tern.ternary<64x256, i2_b128, per_block 256>, !tern.ternary<32x256, i2_b128, per_block 256>, !tern.ternary<32x256, i2_b128, per_block 256> -> !tern.ternary<128x256, i2_b128, per_row>
  %wg = tern.weight "blk.0.ffn_gate.weight" {dtype = "f16", offset = 8192, size = 22016} : tensor<172x64xf16>
  %wu = tern.weight "blk.0.ffn_up.weight" {dtype = "f16", offset = 30208, size = 22016} : tensor<172x64xf16>
  // CHECK: %[[WGU:.+]] = tern.concat_weights %{{.+}}, %{{.+}} : tensor<172x64xf16>, tensor<172x64xf16> -> tensor<344x64xf16>
  %wgu = tern.concat_weights %wg, %wu : tensor<172x64xf16>, tensor<172x64xf16> -> tensor<344x64xf16>

  // CHECK: %[[Q8:.+]], %[[S:.+]] = tern.rms_norm_quantize %[[X]], %[[N]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %q8, %s = tern.rms_norm_quantize %x, %n {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK: %{{.+}}, %{{.+}}, %[[SUM:.+]] = tern.rms_norm_quantize %[[X]], %[[N]] residual %[[X]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
  %rq:3 = tern.rms_norm_quantize %x, %n residual %x {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
  // CHECK: tern.rms_norm %[[SUM]], %[[N]] residual %[[X]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  %rn:2 = tern.rms_norm %rq#2, %n residual %x {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  // CHECK: tern.rms_norm_quantize %[[X]], %[[N]] up(%[[SUM]] : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %gq:2 = tern.rms_norm_quantize %x, %n up(%rq#2 : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK: tern.rms_norm %[[X]], %[[N]] up(%[[SUM]] : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %gn = tern.rms_norm %x, %n up(%rq#2 : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %wide = tensor.empty() : tensor<1x256xi8>
  %ws = tensor.empty() : tensor<1xf32>
  // CHECK: %[[QKV:.+]] = tern.ternary_matmul %{{.+}}, %{{.+}}, %[[WQKV]] {n_block = 32 : i64} : tensor<1x256xi8>, tensor<1xf32>, !tern.ternary<128x256, i2_b128, per_row> -> tensor<1x128xf32>
  %qkv = tern.ternary_matmul %wide, %ws, %wqkv {n_block = 32 : i64} : tensor<1x256xi8>, tensor<1xf32>, !tern.ternary<128x256, i2_b128, per_row> -> tensor<1x128xf32>
  // CHECK: tern.slice_columns %[[QKV]] {offset = 64 : i64} : tensor<1x128xf32> -> tensor<1x32xf32>
  %k1 = tern.slice_columns %qkv {offset = 64 : i64} : tensor<1x128xf32> -> tensor<1x32xf32>
  // CHECK: %[[GU:.+]] = tern.matmul %[[X]], %[[WGU]] {n_block = 8 : i64} : tensor<?x64xf32>, tensor<344x64xf16> -> tensor<?x344xf32>
  %gu = tern.matmul %x, %wgu {n_block = 8 : i64} : tensor<?x64xf32>, tensor<344x64xf16> -> tensor<?x344xf32>
  // CHECK: %[[G:.+]] = tern.slice_columns %[[GU]] {offset = 0 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
  %g = tern.slice_columns %gu {offset = 0 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
  // CHECK: %[[U:.+]] = tern.slice_columns %[[GU]] {offset = 172 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
  %u = tern.slice_columns %gu {offset = 172 : i64} : tensor<?x344xf32> -> tensor<?x172xf32>
  // CHECK: %[[H:.+]] = tern.glu %[[G]], %[[U]] {activation = "silu"} : tensor<?x172xf32>
  %h = tern.glu %g, %u {activation = "silu"} : tensor<?x172xf32>
  // CHECK: tern.glu %[[G]], %[[U]] {activation = "relu2"} : tensor<?x172xf32>
  %h2 = tern.glu %g, %u {activation = "relu2"} : tensor<?x172xf32>
  // CHECK: tern.glu %[[G]], %[[U]] {activation = "gelu"} : tensor<?x172xf32>
  %h3 = tern.glu %g, %u {activation = "gelu"} : tensor<?x172xf32>
  %k = tern.slice_columns %gu {offset = 0 : i64} : tensor<?x344xf32> -> tensor<?x32xf32>
  %q = tern.slice_columns %gu {offset = 200 : i64} : tensor<?x344xf32> -> tensor<?x64xf32>
  return %q, %k, %k, %h, %h3 : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x172xf32>, tensor<?x172xf32>
}

// The block-quantized lm_head of tern-quantize-lm-head: a tied table read by the embedding and
// by the logits, which take int8 rows and their scales.
// CHECK-LABEL: func.func @quantized_lm_head(
// CHECK-SAME: %[[T:[^:]+]]: tensor<?xi32>
func.func @quantized_lm_head(%tokens: tensor<?xi32>) -> tensor<?x512xf32> {
  // CHECK: %[[W:.+]] = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : !tern.quantized<512x64, q8_b32>
  %w = tern.weight "token_embd.weight" {dtype = "f16", offset = 0, size = 65536} : !tern.quantized<512x64, q8_b32>
  // CHECK: %[[X:.+]] = tern.embedding %[[W]], %[[T]] : !tern.quantized<512x64, q8_b32>, tensor<?xi32> -> tensor<?x64xf32>
  %x = tern.embedding %w, %tokens : !tern.quantized<512x64, q8_b32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: %[[Q:.+]], %[[S:.+]] = tern.quantize_act %[[X]]
  %q, %s = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK: %[[L:.+]] = tern.logits %[[Q]], %[[W]] scale %[[S]] : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32> -> tensor<?x512xf32>
  %l = tern.logits %q, %w scale %s : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32> -> tensor<?x512xf32>
  // CHECK: tern.logits %[[Q]], %{{.+}} scale %[[S]] {{.*}}!tern.quantized<512x64, q4_b32>
  %w4 = tern.weight "output.weight" {dtype = "f32", offset = 65536, size = 131072} : !tern.quantized<512x64, q4_b32>
  %l4 = tern.logits %q, %w4 scale %s : tensor<?x64xi8>, !tern.quantized<512x64, q4_b32>, tensor<?xf32> -> tensor<?x512xf32>
  // CHECK: return %[[L]]
  return %l : tensor<?x512xf32>
}

// Static token counts and elementwise ops on other ranks and float types verify too.
// CHECK-LABEL: func.func @static_rows(
func.func @static_rows(%x: tensor<4x64xf32>, %t: tensor<4xi32>, %table: tensor<512x64xf16>,
                       %w: tensor<64xbf16>, %v: tensor<8x2x3xf16>, %w3: tensor<3xf16>,
                       %c0: index) -> tensor<8x2x3xf16> {
  // CHECK: tern.embedding %{{.+}}, %{{.+}} : tensor<512x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  %e = tern.embedding %table, %t : tensor<512x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  // CHECK: tern.rms_norm %{{.+}}, %{{.+}} {epsilon = 9.9999999999999995E-7 : f64} : tensor<4x64xf32>, tensor<64xbf16>
  %n = tern.rms_norm %e, %w {epsilon = 1.0e-6 : f64} : tensor<4x64xf32>, tensor<64xbf16>
  // CHECK: tern.quantize_act %{{.+}} : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
  %q:2 = tern.quantize_act %n : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
  // CHECK: tern.position_embedding %{{.+}}, %{{.+}}, %{{.+}} : tensor<512x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  %pe = tern.position_embedding %table, %t, %c0 : tensor<512x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  // CHECK: tern.layer_norm %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<8x2x3xf16>, tensor<3xf16>
  %ln = tern.layer_norm %v, %w3 {epsilon = 1.0e-5 : f64} : tensor<8x2x3xf16>, tensor<3xf16>
  // CHECK: tern.relu %{{.+}} : tensor<8x2x3xf16>
  %rl = tern.relu %ln : tensor<8x2x3xf16>
  // CHECK: tern.silu %{{.+}} : tensor<8x2x3xf16>
  %s = tern.silu %rl : tensor<8x2x3xf16>
  // CHECK: tern.add %{{.+}}, %{{.+}} : tensor<8x2x3xf16>
  %r = "tern.add"(%s, %v) : (tensor<8x2x3xf16>, tensor<8x2x3xf16>) -> tensor<8x2x3xf16>
  return %r : tensor<8x2x3xf16>
}

}
