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
