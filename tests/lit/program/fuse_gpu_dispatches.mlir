// RUN: tern-opt --split-input-file --tern-outline-kernels --tern-fuse-gpu-dispatches %s | FileCheck %s
// Tests that a rope and the KV-cache write of the keys it rotated (the last kv heads of q and k
// rotated together, or k rotated alone) become one rope_kv_cache_write dispatch, that the
// declarations only they used are erased, and that a write of keys the rope did not rotate, or
// not right after it, keeps its own kernel.

// CHECK-LABEL: module
//   CHECK-NOT: tern_k{{[0-9]+}}_rope()
//   CHECK-NOT: _kv_cache_write()
//       CHECK: func.func private @[[FUSED:tern_k[0-9]+_rope_kv_cache_write]]() attributes {tern.kernel_family = "rope_kv_cache_write", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, heads = 3 : i64, kv_heads = 1 : i64, stride = 32 : i64, style = "neox", v_stride = 32 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.rope {{.*}}tern.fused_into_next
//   CHECK-NOT: kernel
//       CHECK: tern.kv_cache_write {{.*}}kernel = @[[FUSED]]
//       CHECK: tern.attention {{.*}}kernel = @tern_k
func.func @forward(%qkv: tensor<?x32xf32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %qk = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x32xf32> -> tensor<?x24xf32>
  %v = tern.slice_columns %qkv {offset = 24 : i64} : tensor<?x32xf32> -> tensor<?x8xf32>
  %r = tern.rope neox %qk, %pos {head_dim = 8 : i64, num_heads = 3 : i64, theta = 1.0e+04 : f64} : tensor<?x24xf32>
  %q = tern.slice_columns %r {offset = 0 : i64} : tensor<?x24xf32> -> tensor<?x16xf32>
  %k = tern.slice_columns %r {offset = 16 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x1x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %a = tern.attention %q, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.35355339059327373 : f64} : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
  return %a, %kv1 : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// k rotated on its own, right before the write: all of its heads are keys.
//       CHECK: func.func private @[[QROPE:tern_k[0-9]+_rope]]() attributes {tern.kernel_family = "rope", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, heads = 1 : i64
//       CHECK: func.func private @[[FUSED:tern_k[0-9]+_rope_kv_cache_write]]() attributes {tern.kernel_family = "rope_kv_cache_write", tern.kernel_params = {context = 16 : i64, head_dim = 8 : i64, heads = 1 : i64, kv_heads = 1 : i64, stride = 24 : i64, style = "neox", v_stride = 24 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.rope {{.*}}kernel = @[[QROPE]]
//       CHECK: tern.rope {{.*}}tern.fused_into_next
//       CHECK: tern.kv_cache_write {{.*}}kernel = @[[FUSED]]
func.func @forward(%qkv: tensor<?x24xf32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %k = tern.slice_columns %qkv {offset = 8 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %v = tern.slice_columns %qkv {offset = 16 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr = tern.rope neox %k, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kv1 = tern.kv_cache_write %kv, %kr, %v, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x1x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %a = tern.attention %qr, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.35355339059327373 : f64} : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
  return %a, %kv1 : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// The keys are not rotated (a model without rope writes its k as computed), and a rope whose
// next dispatch is not the write: nothing is fused.
//   CHECK-NOT: rope_kv_cache_write
//       CHECK: func.func @forward
//       CHECK: tern.rope {{.*}}kernel = @tern_k
//       CHECK: tern.kv_cache_write {{.*}}kernel = @tern_k{{[0-9]+}}_kv_cache_write
//   CHECK-NOT: fused_into_next
func.func @forward(%qkv: tensor<?x24xf32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %k = tern.slice_columns %qkv {offset = 8 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %v = tern.slice_columns %qkv {offset = 16 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x1x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %a = tern.attention %qr, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.35355339059327373 : f64} : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
  return %a, %kv1 : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// At decode, a residual rms_norm_quantize between two ternary matmuls is split between them:
// the matmul before it gets ternary_matmul_residual_stats as its decode kernel, the one after
// it rms_norm_stats_ternary_matmul, and the norm the records [its own, the one to zero]. Two
// such norms here: each producer zeroes the other's record. Prefill keeps every kernel.
//   CHECK-DAG: func.func private @[[P:tern_k[0-9]+_ternary_matmul_residual_stats]]() attributes {tern.kernel_family = "ternary_matmul_residual_stats", tern.kernel_params = {divide_by_scale = 0 : i64, k = 32 : i64, n = 16 : i64, n_block = 4 : i64, packing = "i2_b128"}}
//   CHECK-DAG: func.func private @[[C:tern_k[0-9]+_rms_norm_stats_ternary_matmul]]() attributes {tern.kernel_family = "rms_norm_stats_ternary_matmul", tern.kernel_params = {divide_by_scale = 0 : i64, eps = 1.000000e-05 : f64, k = 16 : i64, n = 32 : i64, n_block = 4 : i64, packing = "i2_b128"}}
//       CHECK: func.func @forward
//       CHECK: tern.ternary_matmul {{.*}}kernel = @tern_k{{[0-9]+}}_ternary_matmul,{{.*}} tern.decode_kernel = @[[P]]
//       CHECK: tern.rms_norm_quantize {{.*}}kernel = @tern_k{{[0-9]+}}_rms_norm_quantize,{{.*}} tern.decode_norm_stats = array<i64: 0, 1>
//       CHECK: tern.ternary_matmul {{.*}}kernel = @tern_k{{[0-9]+}}_ternary_matmul,{{.*}} tern.decode_kernel = @[[C]]
//       CHECK: tern.ternary_matmul {{.*}}tern.decode_kernel = @[[P]]
//       CHECK: tern.rms_norm_quantize {{.*}}tern.decode_norm_stats = array<i64: 1, 0>
//       CHECK: tern.ternary_matmul {{.*}}tern.decode_kernel = @[[C]]
func.func @forward(%x: tensor<?x16xf32>, %q0: tensor<?x32xi8>, %s0: tensor<?xf32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %nw = tern.weight "norm" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %wd = tern.weight "down" {dtype = "f32", offset = 64 : i64, size = 2048 : i64, ternarize} : !tern.ternary<16x32, i2_b128, per_tensor>
  %wu = tern.weight "up" {dtype = "f32", offset = 2112 : i64, size = 2048 : i64, ternarize} : !tern.ternary<32x16, i2_b128, per_tensor>
  %y1 = tern.ternary_matmul %q0, %s0, %wd {n_block = 4 : i64} : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<16x32, i2_b128, per_tensor> -> tensor<?x16xf32>
  %q1, %s1, %h1 = tern.rms_norm_quantize %x, %nw residual %y1 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>, tensor<?x16xf32>
  %u1 = tern.ternary_matmul %q1, %s1, %wu {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<32x16, i2_b128, per_tensor> -> tensor<?x32xf32>
  %qa, %sa = tern.quantize_act %u1 : tensor<?x32xf32> -> tensor<?x32xi8>, tensor<?xf32>
  %y2 = tern.ternary_matmul %qa, %sa, %wd {n_block = 4 : i64} : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<16x32, i2_b128, per_tensor> -> tensor<?x16xf32>
  %q2, %s2, %h2 = tern.rms_norm_quantize %y2, %nw residual %h1 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>, tensor<?x16xf32>
  %u2 = tern.ternary_matmul %q2, %s2, %wu {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<32x16, i2_b128, per_tensor> -> tensor<?x32xf32>
  %qb, %sb = tern.quantize_act %u2 : tensor<?x32xf32> -> tensor<?x32xi8>, tensor<?xf32>
  %y3 = tern.ternary_matmul %qb, %sb, %wd {n_block = 4 : i64} : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<16x32, i2_b128, per_tensor> -> tensor<?x16xf32>
  %o = tern.add %h2, %y3 : tensor<?x16xf32>
  return %o, %kv : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Not split: a norm whose sum nothing reads after its consumer, and one whose codes have a
// second reader.
//   CHECK-NOT: residual_stats
//   CHECK-NOT: decode_norm_stats
func.func @forward(%x: tensor<?x16xf32>, %q0: tensor<?x32xi8>, %s0: tensor<?xf32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %nw = tern.weight "norm" {dtype = "f32", offset = 0 : i64, size = 64 : i64} : tensor<16xf32>
  %wd = tern.weight "down" {dtype = "f32", offset = 64 : i64, size = 2048 : i64, ternarize} : !tern.ternary<16x32, i2_b128, per_tensor>
  %wu = tern.weight "up" {dtype = "f32", offset = 2112 : i64, size = 2048 : i64, ternarize} : !tern.ternary<32x16, i2_b128, per_tensor>
  %y1 = tern.ternary_matmul %q0, %s0, %wd {n_block = 4 : i64} : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<16x32, i2_b128, per_tensor> -> tensor<?x16xf32>
  %q1, %s1, %h1 = tern.rms_norm_quantize %x, %nw residual %y1 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>, tensor<?x16xf32>
  %u1 = tern.ternary_matmul %q1, %s1, %wu {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<32x16, i2_b128, per_tensor> -> tensor<?x32xf32>
  %qa, %sa = tern.quantize_act %u1 : tensor<?x32xf32> -> tensor<?x32xi8>, tensor<?xf32>
  %y2 = tern.ternary_matmul %qa, %sa, %wd {n_block = 4 : i64} : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<16x32, i2_b128, per_tensor> -> tensor<?x16xf32>
  %q2, %s2, %h2 = tern.rms_norm_quantize %y2, %nw residual %x {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>, tensor<?x16xf32>
  %u2 = tern.ternary_matmul %q2, %s2, %wu {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<32x16, i2_b128, per_tensor> -> tensor<?x32xf32>
  %v2 = tern.ternary_matmul %q2, %s2, %wu {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<32x16, i2_b128, per_tensor> -> tensor<?x32xf32>
  %o = tern.add %h2, %h2 : tensor<?x16xf32>
  return %o, %kv : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}
