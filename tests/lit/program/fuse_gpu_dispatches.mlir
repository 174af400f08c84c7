// RUN: tern-opt --split-input-file --tern-outline-kernels --tern-fuse-gpu-dispatches %s | FileCheck %s
// Tests that a rope and the KV-cache write of the keys it rotated (the last kv heads of q and k
// rotated together, or k rotated alone) become one rope_kv_cache_write dispatch, that the
// declarations only they used are erased, and that a write of keys the rope did not rotate, or
// not right after it, keeps its own kernel. Then the decode-only fusion of a ternary matmul
// and the norm after it.

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

// The norm dispatched right after a ternary matmul runs in the matmul's dispatch at decode: the
// matmul keeps its kernel (prefill) and gets the fused one as tern.decode_kernel, and the norm
// is marked for the program builder. A norm after anything else (the embedding) and a matmul
// followed by no norm are left alone.
//       CHECK: func.func private @[[FUSED:tern_k[0-9]+_ternary_matmul_rms_norm_quantize]]() attributes {tern.kernel_family = "ternary_matmul_rms_norm_quantize", tern.kernel_params = {divide_by_scale = 1 : i64, eps = 1.000000e-05 : f64, k = 16 : i64, n = 16 : i64, n_block = 4 : i64, packing = "i2_b128", residual = 1 : i64, width = 16 : i64}}
//       CHECK: func.func @forward
//       CHECK: tern.rms_norm_quantize %{{[a-z0-9]+}}, %{{[a-z0-9]+}} {
//   CHECK-NOT: decode_fused_into_previous
//   CHECK-NOT: decode_kernel
//       CHECK: tern.ternary_matmul {{.*}}kernel = @tern_k{{[0-9]+}}_ternary_matmul, {{.*}}tern.decode_kernel = @[[FUSED]]
//       CHECK: tern.rms_norm_quantize {{.*}}kernel = @tern_k{{[0-9]+}}_rms_norm_quantize, {{.*}}tern.decode_fused_into_previous
//       CHECK: tern.ternary_matmul
//   CHECK-NOT: tern.decode_kernel
//       CHECK: return
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %q, %s = tern.rms_norm_quantize %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xi8>, tensor<?xf32>
  %o = tern.weight "o" {dtype = "f32", offset = 2112 : i64, size = 1024 : i64, ternarize} : !tern.ternary<16x16, i2_b128, per_tensor>
  %y = tern.ternary_matmul %q, %s, %o {divide_by_scale, n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<16x16, i2_b128, per_tensor> -> tensor<?x16xf32>
  %nw2 = tern.weight "norm2" {dtype = "f32", offset = 3136 : i64, size = 64 : i64} : tensor<16xf32>
  %q2, %s2, %sum = tern.rms_norm_quantize %y, %nw2 residual %x {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>, tensor<?x16xf32>
  %y2 = tern.ternary_matmul %q2, %s2, %o {divide_by_scale, n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<16x16, i2_b128, per_tensor> -> tensor<?x16xf32>
  return %y2, %kv : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}
