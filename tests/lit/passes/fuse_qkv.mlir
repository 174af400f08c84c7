// RUN: tern-opt --split-input-file --tern-fuse-qkv %s | FileCheck %s
// Tests that q/k/v projections of one input become one matmul over concat_weights and three
// column slices, for BitNet ternary matmuls (whose three quantize_act merge) and float ones.

// CHECK-LABEL: func.func @bitnet_qkv(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>
func.func @bitnet_qkv(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK: %[[WQ:.+]] = tern.weight "q"
  // CHECK: %[[Q8:.+]], %[[S:.+]] = tern.quantize_act %[[X]]
  // CHECK-NOT: tern.quantize_act
  // CHECK-DAG: %[[WK:.+]] = tern.weight "k"
  // CHECK-DAG: %[[WV:.+]] = tern.weight "v"
  // CHECK: %[[W:.+]] = tern.concat_weights %[[WQ]], %[[WK]], %[[WV]] : !tern.ternary<64x64, hf_packed, per_tensor>, !tern.ternary<32x64, hf_packed, per_tensor>, !tern.ternary<32x64, hf_packed, per_tensor> -> !tern.ternary<128x64, hf_packed, per_row>
  // CHECK: %[[QKV:.+]] = tern.ternary_matmul %[[Q8]], %[[S]], %[[W]] {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<128x64, hf_packed, per_row> -> tensor<?x128xf32>
  // CHECK: %[[Q:.+]] = tern.slice_columns %[[QKV]] {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  // CHECK: %[[K:.+]] = tern.slice_columns %[[QKV]] {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  // CHECK: %[[V:.+]] = tern.slice_columns %[[QKV]] {offset = 96 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  // CHECK-NOT: tern.ternary_matmul
  // CHECK: return %[[Q]], %[[K]], %[[V]]
  %wq = tern.weight "q" {dtype = "u8", offset = 0, size = 1024, scale_name = "q_scale"} : !tern.ternary<64x64, hf_packed, per_tensor>
  %q1, %s1 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %q = tern.ternary_matmul %q1, %s1, %wq {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, hf_packed, per_tensor> -> tensor<?x64xf32>
  %wk = tern.weight "k" {dtype = "u8", offset = 1024, size = 512, scale_name = "k_scale"} : !tern.ternary<32x64, hf_packed, per_tensor>
  %q2, %s2 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %k = tern.ternary_matmul %q2, %s2, %wk {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, hf_packed, per_tensor> -> tensor<?x32xf32>
  %wv = tern.weight "v" {dtype = "u8", offset = 1536, size = 512, scale_name = "v_scale"} : !tern.ternary<32x64, hf_packed, per_tensor>
  %q3, %s3 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %v = tern.ternary_matmul %q3, %s3, %wv {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, hf_packed, per_tensor> -> tensor<?x32xf32>
  return %q, %k, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// LLaMA-style float projections (stories260K) of one normalized input.
// CHECK-LABEL: func.func @float_qkv(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>
func.func @float_qkv(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK: %[[W:.+]] = tern.concat_weights %{{.+}}, %{{.+}}, %{{.+}} : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
  // CHECK: %[[QKV:.+]] = tern.matmul %[[X]], %[[W]] : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
  // CHECK: %[[Q:.+]] = tern.slice_columns %[[QKV]] {offset = 0 : i64}
  // CHECK: %[[K:.+]] = tern.slice_columns %[[QKV]] {offset = 64 : i64}
  // CHECK: %[[V:.+]] = tern.slice_columns %[[QKV]] {offset = 96 : i64}
  // CHECK: return %[[Q]], %[[K]], %[[V]]
  %wq = tern.weight "blk.0.attn_q.weight" {dtype = "f32", offset = 0, size = 16384} : tensor<64x64xf32>
  %q = tern.matmul %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %wk = tern.weight "blk.0.attn_k.weight" {dtype = "f32", offset = 16384, size = 8192} : tensor<32x64xf32>
  %k = tern.matmul %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %wv = tern.weight "blk.0.attn_v.weight" {dtype = "f32", offset = 24576, size = 8192} : tensor<32x64xf32>
  %v = tern.matmul %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %q, %k, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Weights that cannot be stacked keep their own matmuls: mixed float element types, and
// ternary matmuls that disagree on divide_by_scale.
// CHECK-LABEL: func.func @not_stackable(
func.func @not_stackable(%x: tensor<?x64xf32>, %q8: tensor<?x64xi8>, %s: tensor<?xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK-NOT: tern.concat_weights
  // CHECK-COUNT-3: tern.matmul
  // CHECK-COUNT-3: tern.ternary_matmul
  // CHECK-NOT: tern.concat_weights
  %wq = tern.weight "q" {dtype = "f32", offset = 0, size = 16384} : tensor<64x64xf32>
  %q = tern.matmul %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %wk = tern.weight "k" {dtype = "f16", offset = 16384, size = 4096} : tensor<32x64xf16>
  %k = tern.matmul %x, %wk : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  %wv = tern.weight "v" {dtype = "f32", offset = 24576, size = 8192} : tensor<32x64xf32>
  %v = tern.matmul %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %tq = tern.weight "tq" {dtype = "i2_s", offset = 0, size = 1056} : !tern.ternary<64x64, i2_s, per_tensor>
  %tk = tern.weight "tk" {dtype = "i2_s", offset = 2000, size = 544} : !tern.ternary<32x64, i2_s, per_tensor>
  %a = tern.ternary_matmul %q8, %s, %tq : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, i2_s, per_tensor> -> tensor<?x64xf32>
  %b = tern.ternary_matmul %q8, %s, %tk {divide_by_scale} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, i2_s, per_tensor> -> tensor<?x32xf32>
  %c = tern.ternary_matmul %q8, %s, %tk : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, i2_s, per_tensor> -> tensor<?x32xf32>
  return %q, %k, %v, %a, %b, %c : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Weights that are not tern.weight constants (function arguments) and float weights with
// a separate scale tensor are not stacked; pairs are left to tern-fuse-gate-up.
// CHECK-LABEL: func.func @not_weights(
func.func @not_weights(%x: tensor<?x64xf32>, %a: tensor<64x64xf32>, %b: tensor<32x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK-NOT: tern.concat_weights
  %q = tern.matmul %x, %a : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = tern.matmul %x, %b : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %v = tern.matmul %x, %b : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %y = tern.add %x, %x : tensor<?x64xf32>
  %ws = tern.weight "scaled" {dtype = "f16", offset = 0, size = 8192, scale_name = "scaled.scale"} : tensor<64x64xf16>
  %s1 = tern.matmul %y, %ws : tensor<?x64xf32>, tensor<64x64xf16> -> tensor<?x64xf32>
  %s2 = tern.matmul %y, %ws : tensor<?x64xf32>, tensor<64x64xf16> -> tensor<?x64xf32>
  %s3 = tern.matmul %y, %ws : tensor<?x64xf32>, tensor<64x64xf16> -> tensor<?x64xf32>
  %z = tern.add %y, %y : tensor<?x64xf32>
  %wp = tern.weight "pair" {dtype = "f32", offset = 0, size = 16384} : tensor<64x64xf32>
  %p1 = tern.matmul %z, %wp : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %p2 = tern.matmul %z, %wp : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %q, %k, %v, %s1, %s2, %s3, %p1, %p2 : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}
