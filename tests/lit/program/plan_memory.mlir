// RUN: tern-opt --split-input-file --tern-plan-memory="max-rows=4" %s | FileCheck %s
// RUN: tern-opt --split-input-file --tern-plan-memory="max-rows=4 last-row-logits=1" %s | FileCheck %s --check-prefix=LAST
// Tests the activation arena of a one-layer decoder with a fused QKV projection, planned for
// 4 rows. Byte sizes: x, n, o, n2 256 (4 x 16 f32), qkv 384, a 128, logits 512. Lifetimes (op
// index, weights included): x [1, 16] (the residual add writes over it and n2 reads it),
// n [3, 5], qkv [5, 12] (q/k/v are views, rope rotates in place), a [12, 14], o [14, 15],
// n2 [16, 17], logits [17, 18]. Largest first at the lowest free offset: logits 0, qkv 0 (not
// live with logits), x 384, n 640, o 0 (qkv dead), n2 640, a 640; so every pair of live
// buffers is disjoint and n, n2, a share bytes, as do qkv, o and logits.

// CHECK-LABEL: func.func @forward
//  CHECK-SAME:   tern.arena_bytes = 896 : i64, tern.max_rows = 4 : i64
//       CHECK: tern.embedding {{.*}}tern.arena_offsets = array<i64: 384>, tern.row_strides = array<i64: 64>
//       CHECK: tern.rms_norm {{.*}}tern.arena_offsets = array<i64: 640>, tern.row_strides = array<i64: 64>
//       CHECK: tern.matmul {{.*}}tern.arena_offsets = array<i64: 0>, tern.row_strides = array<i64: 96>
//       CHECK: tern.slice_columns {{.*}}tern.arena_offsets = array<i64: 0>, tern.row_strides = array<i64: 96>
//       CHECK: tern.slice_columns {{.*}}tern.arena_offsets = array<i64: 32>, tern.row_strides = array<i64: 96>
//       CHECK: tern.slice_columns {{.*}}tern.arena_offsets = array<i64: 64>, tern.row_strides = array<i64: 96>
//       CHECK: tern.rope {{.*}}tern.arena_offsets = array<i64: 0>, tern.row_strides = array<i64: 96>
//       CHECK: tern.rope {{.*}}tern.arena_offsets = array<i64: 32>, tern.row_strides = array<i64: 96>
//       CHECK: tern.attention {{.*}}tern.arena_offsets = array<i64: 640>, tern.row_strides = array<i64: 32>
//       CHECK: tern.matmul {{.*}}tern.arena_offsets = array<i64: 0>, tern.row_strides = array<i64: 64>
//       CHECK: tern.add {{.*}}tern.arena_offsets = array<i64: 384>, tern.inplace_operand = 0 : i64, tern.row_strides = array<i64: 64>
//       CHECK: tern.rms_norm {{.*}}tern.arena_offsets = array<i64: 640>, tern.row_strides = array<i64: 64>
//       CHECK: tern.logits {{.*}}tern.arena_offsets = array<i64: 0>, tern.row_strides = array<i64: 128>

// With last-row-logits the final norm and logits hold one row (64 and 128 bytes, stride 0).
// LAST-LABEL: func.func @forward
//  LAST-SAME:   tern.arena_bytes = 896 : i64
//       LAST: tern.rms_norm {{.*}}tern.arena_offsets = array<i64: 640>, tern.row_strides = array<i64: 64>
//   LAST-NOT: tern.last_row
//       LAST: tern.add
//       LAST: tern.rms_norm {{.*}}tern.last_row, tern.row_strides = array<i64: 0>
//       LAST: tern.logits {{.*}}tern.last_row, tern.row_strides = array<i64: 0>
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %n = tern.rms_norm %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %w = tern.weight "qkv" {dtype = "f32", offset = 2112 : i64, size = 1536 : i64} : tensor<24x16xf32>
  %qkv = tern.matmul %n, %w : tensor<?x16xf32>, tensor<24x16xf32> -> tensor<?x24xf32>
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %k = tern.slice_columns %qkv {offset = 8 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %v = tern.slice_columns %qkv {offset = 16 : i64} : tensor<?x24xf32> -> tensor<?x8xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr = tern.rope neox %k, %pos {head_dim = 8 : i64, num_heads = 1 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kv1 = tern.kv_cache_write %kv, %kr, %v, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x1x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
  %a = tern.attention %qr, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 0.35355339059327373 : f64} : tensor<?x8xf32>, !tern.kv_cache<1x16x1x8xf32>
  %wo = tern.weight "wo" {dtype = "f32", offset = 3648 : i64, size = 512 : i64} : tensor<16x8xf32>
  %o = tern.matmul %a, %wo : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
  %h = tern.add %x, %o : tensor<?x16xf32>
  %n2 = tern.rms_norm %h, %nw {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>
  %l = tern.logits %n2, %emb : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv1 : tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests that an add whose operands both live on is not computed in place, and that an
// operand read again later keeps its bytes: %a and %b are both read by the second add.
// CHECK-LABEL: func.func @forward
//       CHECK: tern.add {{.*}}{tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides
//       CHECK: tern.add {{.*}}tern.inplace_operand = 0
// LAST-LABEL: func.func @forward
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %a = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %b = tern.silu %a : tensor<?x16xf32>
  %c = tern.add %a, %b : tensor<?x16xf32>
  %d = tern.mul %a, %b : tensor<?x16xf32>
  %e = tern.add %c, %d : tensor<?x16xf32>
  return %e, %kv : tensor<?x16xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests a GPT-2-style FFN: the bias_add writes over the up projection's output, which dies
// there (a contiguous input), but not over a strided column view; with last-row-logits the
// final layer_norm runs for the last row only, as rms_norm does.
// CHECK-LABEL: func.func @forward
//       CHECK: tern.bias_add {{.*}}{tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides = array<i64: 64>}
//       CHECK: tern.matmul {{.*}}tern.arena_offsets = array<i64: [[UP:[0-9]+]]>, tern.row_strides = array<i64: 256>
//  CHECK-NEXT: tern.bias_add {{.*}}tern.arena_offsets = array<i64: [[UP]]>, tern.inplace_operand = 0 : i64, tern.row_strides = array<i64: 256>
//       CHECK: tern.layer_norm {{.*}}tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides = array<i64: 64>
// LAST-LABEL: func.func @forward
//       LAST: tern.layer_norm {{.*}}tern.last_row, tern.row_strides = array<i64: 0>
//       LAST: tern.logits {{.*}}tern.last_row, tern.row_strides = array<i64: 0>
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %w2 = tern.weight "w2" {dtype = "f32", offset = 2048 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %xx = tern.matmul %x, %w2 : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  %half = tern.slice_columns %xx {offset = 16 : i64} : tensor<?x32xf32> -> tensor<?x16xf32>
  %b16 = tern.weight "b16" {dtype = "f32", offset = 4096 : i64, size = 64 : i64} : tensor<16xf32>
  %hb = tern.bias_add %half, %b16 : tensor<?x16xf32>, tensor<16xf32>
  %wup = tern.weight "up" {dtype = "f32", offset = 4160 : i64, size = 4096 : i64} : tensor<64x16xf32>
  %bup = tern.weight "up.bias" {dtype = "f32", offset = 8256 : i64, size = 256 : i64} : tensor<64xf32>
  %u = tern.matmul %hb, %wup : tensor<?x16xf32>, tensor<64x16xf32> -> tensor<?x64xf32>
  %ub = tern.bias_add %u, %bup : tensor<?x64xf32>, tensor<64xf32>
  %r = tern.relu %ub : tensor<?x64xf32>
  %wdown = tern.weight "down" {dtype = "f32", offset = 8512 : i64, size = 4096 : i64} : tensor<16x64xf32>
  %d = tern.matmul %r, %wdown : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
  %lnw = tern.weight "ln.weight" {dtype = "f32", offset = 12608 : i64, size = 64 : i64} : tensor<16xf32>
  %n = tern.layer_norm %d, %lnw, %b16 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %l = tern.logits %n, %emb : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv : tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}

// -----

// Tests that the sum of a norm with a fused residual add takes the storage of the addend read
// for the last time there: the residual %d in the first norm (its input %x is read again), the
// input %e in the second. With last-row-logits the final norm, whose sum nothing reads, holds one
// row of each result.
// CHECK-LABEL: func.func @forward
//       CHECK: tern.silu {{.*}}tern.arena_offsets = array<i64: [[D:[0-9]+]]>
//       CHECK: tern.rms_norm {{.*}} residual {{.*}}tern.arena_offsets = array<i64: {{[0-9]+}}, [[D]]>, tern.inplace_operand = 2 : i64, tern.row_strides = array<i64: 64, 64>
//       CHECK: tern.mul {{.*}}tern.arena_offsets = array<i64: [[E:[0-9]+]]>
//       CHECK: tern.rms_norm {{.*}} residual {{.*}}tern.arena_offsets = array<i64: {{[0-9]+}}, [[E]]>, tern.inplace_operand = 0 : i64, tern.row_strides = array<i64: 64, 64>
// LAST-LABEL: func.func @forward
//       LAST: tern.rms_norm {{.*}} residual {{.*}}tern.inplace_operand = 2 : i64
//       LAST: tern.rms_norm {{.*}} residual {{.*}}tern.last_row, tern.row_strides = array<i64: 0, 0>
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x1x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>) {
  %emb = tern.weight "emb" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %x = tern.embedding %emb, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %d = tern.silu %x : tensor<?x16xf32>
  %nw = tern.weight "norm" {dtype = "f32", offset = 2048 : i64, size = 64 : i64} : tensor<16xf32>
  %y:2 = tern.rms_norm %x, %nw residual %d {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %e = tern.mul %y#0, %x : tensor<?x16xf32>
  %z:2 = tern.rms_norm %e, %nw residual %y#1 {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<?x16xf32> -> tensor<?x16xf32>
  %l = tern.logits %z#0, %emb : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv : tensor<?x32xf32>, !tern.kv_cache<1x16x1x8xf32>
}
