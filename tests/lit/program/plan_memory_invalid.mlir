// RUN: tern-opt --split-input-file --verify-diagnostics --tern-plan-memory %s
// Tests that a rope whose input is read elsewhere is rejected: it rotates in place.
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 1024 : i64} : tensor<32x8xf32>
  %x = tern.embedding %emb, %tok : tensor<32x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  // expected-error @below {{rope rotates its input in place, but the input has other users}}
  %r = tern.rope neox %x, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %s = tern.add %r, %x : tensor<?x8xf32>
  return %s, %kv : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}
