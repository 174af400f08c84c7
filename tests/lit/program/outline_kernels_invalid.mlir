// RUN: tern-opt --split-input-file --verify-diagnostics --tern-outline-kernels %s
// Tests that ops no kernel family can run are rejected with the reason.
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 32768 : i64} : tensor<32x256xf32>
  %x = tern.embedding %emb, %tok : tensor<32x256xf32>, tensor<?xi32> -> tensor<?x256xf32>
  %q, %s = tern.quantize_act %x : tensor<?x256xf32> -> tensor<?x256xi8>, tensor<?xf32>
  %w = tern.weight "w" {dtype = "tq2_0", offset = 0 : i64, size = 1056 : i64} : !tern.ternary<16x256, tq2_0, per_block 256>
  // expected-error @below {{ternary weight packing 'tq2_0' has no kernel; run tern-select-packing (expected i2_b128 or tl2_t64)}}
  %y = tern.ternary_matmul %q, %s, %w : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<16x256, tq2_0, per_block 256> -> tensor<?x16xf32>
  return %y, %kv : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %a = tern.slice_columns %x {offset = 8 : i64} : tensor<?x16xf32> -> tensor<?x8xf32>
  // expected-error @below {{the input is a column view of a wider value; this kernel family reads contiguous rows only}}
  %b = tern.silu %a : tensor<?x8xf32>
  return %b, %kv : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// The kernels read position rows unchecked, so the table must cover the cache's context.
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %wpe = tern.weight "wpe" {dtype = "f32", offset = 0 : i64, size = 256 : i64} : tensor<8x8xf32>
  // expected-error @below {{the position table has 8 rows but the KV cache holds 16 positions; compile with a context of at most 8}}
  %p = tern.position_embedding %wpe, %tok, %pos : tensor<8x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  return %p, %kv : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %a = tern.slice_columns %x {offset = 8 : i64} : tensor<?x16xf32> -> tensor<?x8xf32>
  %w = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 32 : i64} : tensor<8xf32>
  // expected-error @below {{the input is a column view of a wider value; this kernel family reads contiguous rows only}}
  %b = tern.layer_norm %a, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  return %b, %kv : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
}
