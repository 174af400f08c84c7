// RUN: tern-opt --tern-outline-kernels --tern-gpu-prefetch-ahead %s | FileCheck %s
// RUN: tern-opt --tern-outline-kernels --tern-gpu-prefetch-ahead %s | FileCheck %s --check-prefix=GONE
// Tests that every ternary matmul but the last gets a kernel that prefetches the next ternary
// matmul's i2_b128 codes (prefetch_bytes = n x 32 bytes per 128 weights of a row) and the
// tern.prefetch_next mark, that two matmuls of one shape followed by different matrices get
// different kernels, and that the plain kernel only the first two ran is erased.

// CHECK-DAG: func.func private @[[A:tern_k[0-9]+_ternary_matmul]]() attributes {tern.kernel_family = "ternary_matmul", tern.kernel_params = {divide_by_scale = 0 : i64, k = 16 : i64, n = 64 : i64, n_block = 4 : i64, packing = "i2_b128", prefetch_bytes = 2048 : i64}}
// CHECK-DAG: func.func private @[[B:tern_k[0-9]+_ternary_matmul]]() attributes {tern.kernel_family = "ternary_matmul", tern.kernel_params = {divide_by_scale = 0 : i64, k = 16 : i64, n = 64 : i64, n_block = 4 : i64, packing = "i2_b128", prefetch_bytes = 512 : i64}}
// CHECK-DAG: func.func private @[[C:tern_k[0-9]+_ternary_matmul]]() attributes {tern.kernel_family = "ternary_matmul", tern.kernel_params = {divide_by_scale = 0 : i64, k = 64 : i64, n = 16 : i64, n_block = 4 : i64, packing = "i2_b128"}}
// GONE-NOT: n = 64 : i64, n_block = 4 : i64, packing = "i2_b128"}}
//     CHECK: func.func @forward
//     CHECK: tern.ternary_matmul {{.*}}kernel = @[[A]]{{.*}}tern.prefetch_next
//     CHECK: tern.ternary_matmul {{.*}}kernel = @[[B]]{{.*}}tern.prefetch_next
//     CHECK: tern.ternary_matmul {{.*}}{kernel = @[[C]], n_block = 4 : i64} :
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, tensor<?x64xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %q, %s = tern.rms_norm_quantize %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xi8>, tensor<?xf32>
  %w1 = tern.weight "w1" {dtype = "f32", offset = 2112 : i64, size = 4096 : i64, ternarize} : !tern.ternary<64x16, i2_b128, per_tensor>
  %w2 = tern.weight "w2" {dtype = "f32", offset = 6208 : i64, size = 4096 : i64, ternarize} : !tern.ternary<64x16, i2_b128, per_tensor>
  %a = tern.ternary_matmul %q, %s, %w1 {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<64x16, i2_b128, per_tensor> -> tensor<?x64xf32>
  %b = tern.ternary_matmul %q, %s, %w2 {n_block = 4 : i64} : tensor<?x16xi8>, tensor<?xf32>, !tern.ternary<64x16, i2_b128, per_tensor> -> tensor<?x64xf32>
  %nw2 = tern.weight "norm2" {dtype = "f32", offset = 10304 : i64, size = 256 : i64} : tensor<64xf32>
  %q2, %s2 = tern.rms_norm_quantize %a, %nw2 {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %w3 = tern.weight "w3" {dtype = "f32", offset = 10560 : i64, size = 4096 : i64, ternarize} : !tern.ternary<16x64, i2_b128, per_tensor>
  %c = tern.ternary_matmul %q2, %s2, %w3 {n_block = 4 : i64} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<16x64, i2_b128, per_tensor> -> tensor<?x16xf32>
  return %c, %b, %kv : tensor<?x16xf32>, tensor<?x64xf32>, !tern.kv_cache<1x16x1x8xf32>
}
