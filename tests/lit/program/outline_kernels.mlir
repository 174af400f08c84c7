// RUN: tern-opt --split-input-file --tern-outline-kernels %s | FileCheck %s
// Tests that every compute op gets one kernel of docs/kernels.md, that equal kernels are
// declared once (both norms share one), and that strides follow the fused QKV output (24).

//       CHECK: module
// CHECK-DAG: func.func private @[[EMB:tern_k[0-9]+_embedding]]() attributes {tern.kernel_family = "embedding", tern.kernel_params = {dtype = "f32", vocab = 32 : i64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[NORM:tern_k[0-9]+_rms_norm]]() attributes {tern.kernel_family = "rms_norm", tern.kernel_params = {eps = 1.000000e-05 : f64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[QKV:tern_k[0-9]+_matmul]]() attributes {tern.kernel_family = "matmul", tern.kernel_params = {dtype = "f16", k = 16 : i64, n = 24 : i64, n_block = 8 : i64, x_stride = 16 : i64}}
// CHECK-DAG: func.func private @[[ROPE:tern_k[0-9]+_rope]]() attributes {tern.kernel_family = "rope", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, heads = 1 : i64, stride = 24 : i64, style = "neox"}}
// CHECK-DAG: func.func private @[[KVW:tern_k[0-9]+_kv_cache_write]]() attributes {tern.kernel_family = "kv_cache_write", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, k_stride = 24 : i64, kv_heads = 1 : i64, v_stride = 24 : i64}}
// CHECK-DAG: func.func private @[[ATT:tern_k[0-9]+_attention]]() attributes {tern.kernel_family = "attention", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, heads = 1 : i64, kv_heads = 1 : i64, q_stride = 24 : i64, scale = 0.35355339059327373 : f64}}
// CHECK-DAG: func.func private @[[OUT:tern_k[0-9]+_matmul]]() attributes {tern.kernel_family = "matmul", tern.kernel_params = {dtype = "f32", k = 8 : i64, n = 16 : i64, n_block = 16 : i64, x_stride = 8 : i64}}
// CHECK-DAG: func.func private @[[ADD:tern_k[0-9]+_add]]() attributes {tern.kernel_family = "add", tern.kernel_params = {width = 16 : i64}}
// CHECK-DAG: func.func private @[[LOGITS:tern_k[0-9]+_matmul]]() attributes {tern.kernel_family = "matmul", tern.kernel_params = {dtype = "f32", k = 16 : i64, n = 32 : i64, n_block = 16 : i64, x_stride = 16 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.embedding {{.*}}kernel = @[[EMB]]
//       CHECK: tern.rms_norm {{.*}}kernel = @[[NORM]]
//       CHECK: tern.matmul {{.*}}kernel = @[[QKV]]
//       CHECK: tern.slice_columns
//   CHECK-NOT: kernel
//       CHECK: tern.rope {{.*}}kernel = @[[ROPE]]
//       CHECK: tern.rope {{.*}}kernel = @[[ROPE]]
//       CHECK: tern.kv_cache_write {{.*}}kernel = @[[KVW]]
//       CHECK: tern.attention {{.*}}kernel = @[[ATT]]
//       CHECK: tern.matmul {{.*}}kernel = @[[OUT]]
//       CHECK: tern.add {{.*}}kernel = @[[ADD]]
//       CHECK: tern.rms_norm {{.*}}kernel = @[[NORM]]
//       CHECK: tern.logits {{.*}}kernel = @[[LOGITS]]
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %n = tern.rms_norm %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %w = tern.weight "qkv" {dtype = "f16", offset = 2112 : i64, size = 768 : i64} : tensor<24x16xf16>
  %qkv = tern.matmul %n, %w {n_block = 8 : i64} : tensor<?x16xf32>, tensor<24x16xf16> -> tensor<?x24xf32>
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %k = tern.slice_columns %qkv {offset = 8 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %v = tern.slice_columns %qkv {offset = 16 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr = tern.rope neox %k, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kv1 = tern.kv_cache_write %kv, %kr, %v, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x1x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %a = tern.attention %qr, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.35355339059327373 : f64} : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
  %wo = tern.weight "wo" {dtype = "f32", offset = 2880 : i64, size = 512 : i64} : tensor<16x8xf32>
  %o = tern.matmul %a, %wo : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  %h = tern.add %x, %o : tensor<?x16xf32>
  %n2 = tern.rms_norm %h, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %l = tern.logits %n2, %emb : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv1 : tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests the ternary forms: fused norm + quantization, an i2_b128 matmul and a glu over the
// two halves of a fused gate/up output (in_stride 64).
//       CHECK: module
// CHECK-DAG: func.func private @[[NQ:tern_k[0-9]+_rms_norm_quantize]]() attributes {tern.kernel_family = "rms_norm_quantize", tern.kernel_params = {eps = 1.000000e-05 : f64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[TM:tern_k[0-9]+_ternary_matmul]]() attributes {tern.kernel_family = "ternary_matmul", tern.kernel_params = {divide_by_scale = 1 : i64, k = 16 : i64, n = 64 : i64, n_block = 4 : i64, packing = "i2_b128"}}
// CHECK-DAG: func.func private @[[GLU:tern_k[0-9]+_glu]]() attributes {tern.kernel_family = "glu", tern.kernel_params = {activation = "relu2", in_stride = 64 : i64, width = 32 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.rms_norm_quantize {{.*}}kernel = @[[NQ]]
//       CHECK: tern.ternary_matmul {{.*}}kernel = @[[TM]]
//       CHECK: tern.glu {{.*}}kernel = @[[GLU]]
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %q, %s = tern.rms_norm_quantize %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xi8>, tensor<?xf32>
  %g = tern.weight "gate" {dtype = "f32", offset = 2112 : i64, size = 2048 : i64, ternarize} : !tern.ternary<32x16, i2_b128, per_tensor>
  %u = tern.weight "up" {dtype = "f32", offset = 4160 : i64, size = 2048 : i64, ternarize} : !tern.ternary<32x16, i2_b128, per_tensor>
  %gu = tern.concat_weights %g, %u : !tern.ternary<32x16, i2_b128, per_tensor>, !tern.ternary<32x16, i2_b128, per_tensor> -> !tern.ternary<64x16, i2_b128, per_row>
  %y = tern.ternary_matmul %q, %s, %gu {divide_by_scale, n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<64x16, i2_b128, per_row> -> tensor<?x64xf32>
  %gate = tern.slice_columns %y {offset = 0 : i64} : tensor<?x64xf32> -> tensor<?x32xf32>
  %up = tern.slice_columns %y {offset = 32 : i64} : tensor<?x64xf32> -> tensor<?x32xf32>
  %h = tern.glu %gate, %up {activation = "relu2"} : tensor<?x32xf32>
  return %h, %kv : tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests the quantized lm_head (tern-quantize-lm-head=format=q4): the tied table's embedding
// decodes q4_b32 rows, the logits run quantized_matmul on the fused norm's int8 rows; an f16
// lm_head converted from f32 (format=f16) is an f16 matmul.
//       CHECK: module
// CHECK-DAG: func.func private @[[QEMB:tern_k[0-9]+_embedding]]() attributes {tern.kernel_family = "embedding", tern.kernel_params = {dtype = "q4_b32", vocab = 32 : i64, width = 64 : i64}}
// CHECK-DAG: func.func private @[[QMM:tern_k[0-9]+_quantized_matmul]]() attributes {tern.kernel_family = "quantized_matmul", tern.kernel_params = {format = "q4_b32", k = 64 : i64, n = 32 : i64, n_block = 16 : i64}}
// CHECK-DAG: func.func private @[[F16:tern_k[0-9]+_matmul]]() attributes {tern.kernel_family = "matmul", tern.kernel_params = {dtype = "f16", k = 64 : i64, n = 32 : i64, n_block = 16 : i64, x_stride = 64 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.embedding {{.*}}kernel = @[[QEMB]]
//       CHECK: tern.logits {{.*}} scale {{.*}}kernel = @[[QMM]]
//       CHECK: tern.logits {{.*}}kernel = @[[F16]]
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f16", offset = 0 : i64, size = 4096 : i64} : !tern.quantized<32x64, q4_b32>
  %x = tern.embedding %emb, %tok : !tern.quantized<32x64, q4_b32>, tensor<?xi32> -> tensor<?x64xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 4096 : i64, size = 256 : i64} : tensor<64xf32>
  %q, %s = tern.rms_norm_quantize %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %l = tern.logits %q, %emb scale %s : tensor<?x64xi8>, !tern.quantized<32x64, q4_b32>, tensor<?xf32> -> tensor<?x32xf32>
  %out = tern.weight "out" {dtype = "f32", offset = 4352 : i64, size = 8192 : i64} : tensor<32x64xf16>
  %l2 = tern.logits %x, %out : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  return %l, %l2, %kv : tensor<?x32xf32>, tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests the ops of GPT-2 and OPT-style decoders: learned positions read from the call's
// position, LayerNorm with and without a bias, the biases of q, k and v read out of the fused
// QKV output (row stride 48) and of the FFN's up projection (contiguous), and plain ReLU.
//       CHECK: module
// CHECK-DAG: func.func private @[[POS:tern_k[0-9]+_position_embedding]]() attributes {tern.kernel_family = "position_embedding", tern.kernel_params = {dtype = "f16", positions = 32 : i64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[LNB:tern_k[0-9]+_layer_norm]]() attributes {tern.kernel_family = "layer_norm", tern.kernel_params = {bias = 1 : i64, eps = 1.000000e-05 : f64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[LN:tern_k[0-9]+_layer_norm]]() attributes {tern.kernel_family = "layer_norm", tern.kernel_params = {bias = 0 : i64, eps = 1.000000e-05 : f64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[BQKV:tern_k[0-9]+_bias_add]]() attributes {tern.kernel_family = "bias_add", tern.kernel_params = {width = 16 : i64, x_stride = 48 : i64}}
// CHECK-DAG: func.func private @[[BUP:tern_k[0-9]+_bias_add]]() attributes {tern.kernel_family = "bias_add", tern.kernel_params = {width = 64 : i64, x_stride = 64 : i64}}
// CHECK-DAG: func.func private @[[RELU:tern_k[0-9]+_relu]]() attributes {tern.kernel_family = "relu", tern.kernel_params = {width = 64 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.position_embedding {{.*}}kernel = @[[POS]]
//       CHECK: tern.layer_norm {{.*}}kernel = @[[LNB]]
// CHECK-COUNT-3: tern.bias_add {{.*}}kernel = @[[BQKV]]
//       CHECK: tern.bias_add {{.*}}kernel = @[[BUP]]
//       CHECK: tern.relu {{.*}}kernel = @[[RELU]]
//       CHECK: tern.layer_norm {{.*}}kernel = @[[LN]]
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x2x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>) {
  %wte = tern.weight "wte" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %wpe = tern.weight "wpe" {dtype = "f16", offset = 2048 : i64, size = 1024 : i64} : tensor<32x16xf16>
  %e = tern.embedding %wte, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %p = tern.position_embedding %wpe, %tok, %pos : tensor<32x16xf16>, tensor<?xi32> -> tensor<?x16xf32>
  %x = tern.add %e, %p : tensor<?x16xf32>
  %lnw = tern.weight "ln.weight" {dtype = "f32", offset = 3072 : i64, size = 64 : i64} : tensor<16xf32>
  %lnb = tern.weight "ln.bias" {dtype = "f32", offset = 3136 : i64, size = 64 : i64} : tensor<16xf32>
  %h = tern.layer_norm %x, %lnw, %lnb {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %wqkv = tern.weight "qkv" {dtype = "f32", offset = 3200 : i64, size = 3072 : i64} : tensor<48x16xf32>
  %qkv = tern.matmul %h, %wqkv : tensor<?x16xf32>, tensor<48x16xf32> -> tensor<?x48xf32>
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x48xf32> -> tensor<?x16xf32>
  %k = tern.slice_columns %qkv {offset = 16 : i64} : tensor<?x48xf32> -> tensor<?x16xf32>
  %v = tern.slice_columns %qkv {offset = 32 : i64} : tensor<?x48xf32> -> tensor<?x16xf32>
  %bq = tern.weight "q.bias" {dtype = "f32", offset = 6272 : i64, size = 64 : i64} : tensor<16xf32>
  %bk = tern.weight "k.bias" {dtype = "f32", offset = 6336 : i64, size = 64 : i64} : tensor<16xf32>
  %bv = tern.weight "v.bias" {dtype = "f32", offset = 6400 : i64, size = 64 : i64} : tensor<16xf32>
  %qb = tern.bias_add %q, %bq : tensor<?x16xf32>, tensor<16xf32>
  %kb = tern.bias_add %k, %bk : tensor<?x16xf32>, tensor<16xf32>
  %vb = tern.bias_add %v, %bv : tensor<?x16xf32>, tensor<16xf32>
  %kv1 = tern.kv_cache_write %kv, %kb, %vb, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x2x8xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  %a = tern.attention %qb, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35355339059327373 : f64} : tensor<?x16xf32>, !tern.kv_cache<1x16x2x8xf32>
  %y = tern.add %x, %a : tensor<?x16xf32>
  %wup = tern.weight "up" {dtype = "f32", offset = 6464 : i64, size = 4096 : i64} : tensor<64x16xf32>
  %bup = tern.weight "up.bias" {dtype = "f32", offset = 10560 : i64, size = 256 : i64} : tensor<64xf32>
  %u = tern.matmul %y, %wup : tensor<?x16xf32>, tensor<64x16xf32> -> tensor<?x64xf32>
  %ub = tern.bias_add %u, %bup : tensor<?x64xf32>, tensor<64xf32>
  %r = tern.relu %ub : tensor<?x64xf32>
  %wdown = tern.weight "down" {dtype = "f32", offset = 10816 : i64, size = 4096 : i64} : tensor<16x64xf32>
  %d = tern.matmul %r, %wdown : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
  %z = tern.add %y, %d : tensor<?x16xf32>
  %n = tern.layer_norm %z, %lnw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %l = tern.logits %n, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv1 : tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>
}
