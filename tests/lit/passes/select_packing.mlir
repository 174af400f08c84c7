// RUN: tern-opt --split-input-file --tern-select-packing %s | FileCheck %s
// RUN: tern-opt --split-input-file "--tern-select-packing=target=x86-64-v3" %s | FileCheck %s
// RUN: tern-opt --split-input-file "--tern-select-packing=target=generic" %s | FileCheck %s
// RUN: tern-opt --split-input-file "--tern-select-packing=target=sm_90" %s | FileCheck %s
// Tests that every ternary weight (and concatenation of them) gets i2_b128 on CPU and GPU targets,
// that the file's layout is kept in source_packing, and that float weights are untouched.

// CHECK-LABEL: func.func @weights(
func.func @weights(%q8: tensor<?x256xi8>, %s: tensor<?xf32>) -> (tensor<?x64xf32>, tensor<?x128xf32>, tensor<64x256xf16>, !tern.ternary<64x256, unpacked, per_tensor>) {
  // CHECK: %[[A:.+]] = tern.weight "a" {dtype = "tq2_0", offset = 0 : i64, size = 4352 : i64, source_packing = #tern<packing tq2_0>} : !tern.ternary<64x256, i2_b128, per_block 256>
  %a = tern.weight "a" {dtype = "tq2_0", offset = 0, size = 4352} : !tern.ternary<64x256, tq2_0, per_block 256>
  // CHECK: %[[B:.+]] = tern.weight "b" {dtype = "u8", offset = 8192 : i64, scale_name = "b_scale", size = 4096 : i64, source_packing = #tern<packing hf_packed>} : !tern.ternary<64x256, i2_b128, per_tensor>
  %b = tern.weight "b" {dtype = "u8", offset = 8192, size = 4096, scale_name = "b_scale"} : !tern.ternary<64x256, hf_packed, per_tensor>
  // A weight that leaves the tern ops (here: returned) keeps its type.
  // CHECK: %[[C:.+]] = tern.weight "c" {dtype = "f32", offset = 16384 : i64, size = 65536 : i64, ternarize} : !tern.ternary<64x256, unpacked, per_tensor>
  %c = tern.weight "c" {dtype = "f32", offset = 16384, size = 65536, ternarize} : !tern.ternary<64x256, unpacked, per_tensor>
  // CHECK: %[[F:.+]] = tern.weight "f" {dtype = "f16", offset = 0 : i64, size = 32768 : i64} : tensor<64x256xf16>
  %f = tern.weight "f" {dtype = "f16", offset = 0, size = 32768} : tensor<64x256xf16>
  // CHECK: %[[Y:.+]] = tern.ternary_matmul %{{.+}}, %{{.+}}, %[[A]] : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, i2_b128, per_block 256> -> tensor<?x64xf32>
  %y = tern.ternary_matmul %q8, %s, %a : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, tq2_0, per_block 256> -> tensor<?x64xf32>
  // CHECK: %[[D:.+]] = tern.weight "d" {dtype = "u8", offset = 12288 : i64, size = 4096 : i64, source_packing = #tern<packing hf_packed>} : !tern.ternary<64x256, i2_b128, per_tensor>
  %d = tern.weight "d" {dtype = "u8", offset = 12288, size = 4096} : !tern.ternary<64x256, hf_packed, per_tensor>
  // CHECK: %[[BC:.+]] = tern.concat_weights %[[B]], %[[D]] : !tern.ternary<64x256, i2_b128, per_tensor>, !tern.ternary<64x256, i2_b128, per_tensor> -> !tern.ternary<128x256, i2_b128, per_row>
  %bc = tern.concat_weights %b, %d : !tern.ternary<64x256, hf_packed, per_tensor>, !tern.ternary<64x256, hf_packed, per_tensor> -> !tern.ternary<128x256, hf_packed, per_row>
  // CHECK: tern.ternary_matmul %{{.+}}, %{{.+}}, %[[BC]] : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<128x256, i2_b128, per_row> -> tensor<?x128xf32>
  %z = tern.ternary_matmul %q8, %s, %bc : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<128x256, hf_packed, per_row> -> tensor<?x128xf32>
  // CHECK: return %[[Y]], %{{.+}}, %[[F]], %[[C]] : tensor<?x64xf32>, tensor<?x128xf32>, tensor<64x256xf16>, !tern.ternary<64x256, unpacked, per_tensor>
  return %y, %z, %f, %c : tensor<?x64xf32>, tensor<?x128xf32>, tensor<64x256xf16>, !tern.ternary<64x256, unpacked, per_tensor>
}

// -----

// A weight already in i2_b128 keeps its recorded source layout; running twice changes
// nothing more.
// CHECK-LABEL: func.func @already_packed(
func.func @already_packed(%q8: tensor<?x256xi8>, %s: tensor<?xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: tern.weight "p" {dtype = "i2_s", offset = 0 : i64, size = 4128 : i64, source_packing = #tern<packing i2_s>} : !tern.ternary<64x256, i2_b128, per_tensor>
  %p = tern.weight "p" {dtype = "i2_s", offset = 0, size = 4128, source_packing = #tern<packing i2_s>} : !tern.ternary<64x256, i2_b128, per_tensor>
  // CHECK: tern.weight "n" {dtype = "x", offset = 0 : i64, size = 4096 : i64} : !tern.ternary<64x256, i2_b128, per_tensor>
  %n = tern.weight "n" {dtype = "x", offset = 0, size = 4096} : !tern.ternary<64x256, i2_b128, per_tensor>
  %y = tern.ternary_matmul %q8, %s, %p : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, i2_b128, per_tensor> -> tensor<?x64xf32>
  %z = tern.ternary_matmul %q8, %s, %n : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, i2_b128, per_tensor> -> tensor<?x64xf32>
  return %y, %z : tensor<?x64xf32>, tensor<?x64xf32>
}
