// RUN: tern-opt --split-input-file --tern-fuse-gate-up %s | FileCheck %s
// Tests that gate and up projections of one input that meet in act(gate) * up become one
// matmul over concat_weights, two column slices and a tern.glu.

// BitNet: relu2, ternary matmuls whose duplicate quantize_act merge.
// CHECK-LABEL: func.func @bitnet_relu2(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>
func.func @bitnet_relu2(%x: tensor<?x64xf32>) -> tensor<?x128xf32> {
  // CHECK: %[[WG:.+]] = tern.weight "gate"
  // CHECK: %[[Q8:.+]], %[[S:.+]] = tern.quantize_act %[[X]]
  // CHECK: %[[WU:.+]] = tern.weight "up"
  // CHECK: %[[W:.+]] = tern.concat_weights %[[WG]], %[[WU]] : !tern.ternary<128x64, unpacked, per_tensor>, !tern.ternary<128x64, unpacked, per_tensor> -> !tern.ternary<256x64, unpacked, per_row>
  // CHECK: %[[GU:.+]] = tern.ternary_matmul %[[Q8]], %[[S]], %[[W]] : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<256x64, unpacked, per_row> -> tensor<?x256xf32>
  // CHECK: %[[G:.+]] = tern.slice_columns %[[GU]] {offset = 0 : i64} : tensor<?x256xf32> -> tensor<?x128xf32>
  // CHECK: %[[U:.+]] = tern.slice_columns %[[GU]] {offset = 128 : i64} : tensor<?x256xf32> -> tensor<?x128xf32>
  // CHECK: %[[H:.+]] = tern.glu %[[G]], %[[U]] {activation = "relu2"} : tensor<?x128xf32>
  // CHECK-NOT: tern.relu2
  // CHECK-NOT: tern.mul
  // CHECK: return %[[H]]
  %wg = tern.weight "gate" {dtype = "f32", offset = 0, size = 32768, ternarize} : !tern.ternary<128x64, unpacked, per_tensor>
  %q1, %s1 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %g = tern.ternary_matmul %q1, %s1, %wg : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<128x64, unpacked, per_tensor> -> tensor<?x128xf32>
  %wu = tern.weight "up" {dtype = "f32", offset = 32768, size = 32768, ternarize} : !tern.ternary<128x64, unpacked, per_tensor>
  %q2, %s2 = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %u = tern.ternary_matmul %q2, %s2, %wu : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<128x64, unpacked, per_tensor> -> tensor<?x128xf32>
  %a = tern.relu2 %g : tensor<?x128xf32>
  %h = tern.mul %a, %u : tensor<?x128xf32>
  return %h : tensor<?x128xf32>
}

// -----

// LLaMA: silu on float matmuls; the up projection comes first in the program and the
// product's operands are swapped, yet the gate is still the activated one.
// CHECK-LABEL: func.func @llama_silu(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>
func.func @llama_silu(%x: tensor<?x64xf32>) -> tensor<?x172xf32> {
  // CHECK-DAG: %[[WU:.+]] = tern.weight "blk.0.ffn_up.weight"
  // CHECK-DAG: %[[WG:.+]] = tern.weight "blk.0.ffn_gate.weight"
  // CHECK: %[[W:.+]] = tern.concat_weights %[[WG]], %[[WU]] : tensor<172x64xf32>, tensor<172x64xf32> -> tensor<344x64xf32>
  // CHECK: %[[GU:.+]] = tern.matmul %[[X]], %[[W]] : tensor<?x64xf32>, tensor<344x64xf32> -> tensor<?x344xf32>
  // CHECK: %[[G:.+]] = tern.slice_columns %[[GU]] {offset = 0 : i64}
  // CHECK: %[[U:.+]] = tern.slice_columns %[[GU]] {offset = 172 : i64}
  // CHECK: %[[H:.+]] = tern.glu %[[G]], %[[U]] {activation = "silu"} : tensor<?x172xf32>
  // CHECK: return %[[H]]
  %wu = tern.weight "blk.0.ffn_up.weight" {dtype = "f32", offset = 0, size = 44032} : tensor<172x64xf32>
  %u = tern.matmul %x, %wu : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %wg = tern.weight "blk.0.ffn_gate.weight" {dtype = "f32", offset = 44032, size = 44032} : tensor<172x64xf32>
  %g = tern.matmul %x, %wg : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %a = tern.silu %g : tensor<?x172xf32>
  %h = tern.mul %u, %a : tensor<?x172xf32>
  return %h : tensor<?x172xf32>
}

// -----

// gelu works the same way.
// CHECK-LABEL: func.func @gelu(
func.func @gelu(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  // CHECK: tern.glu %{{.+}}, %{{.+}} {activation = "gelu"} : tensor<?x32xf32>
  %wg = tern.weight "g" {dtype = "f16", offset = 0, size = 4096} : tensor<32x64xf16>
  %wu = tern.weight "u" {dtype = "f16", offset = 4096, size = 4096} : tensor<32x64xf16>
  %g = tern.matmul %x, %wg : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  %u = tern.matmul %x, %wu : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x32xf32>
  %a = tern.gelu %g : tensor<?x32xf32>
  %h = tern.mul %a, %u : tensor<?x32xf32>
  return %h : tensor<?x32xf32>
}

// -----

// No fusion when an intermediate has another user (the activated gate is returned) or
// when the product is not act(gate) * up.
// CHECK-LABEL: func.func @not_gated(
func.func @not_gated(%x: tensor<?x64xf32>, %y: tensor<?x64xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK-NOT: tern.concat_weights
  // CHECK-NOT: tern.glu
  %wg = tern.weight "g" {dtype = "f32", offset = 0, size = 8192} : tensor<32x64xf32>
  %wu = tern.weight "u" {dtype = "f32", offset = 8192, size = 8192} : tensor<32x64xf32>
  %g = tern.matmul %x, %wg : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %u = tern.matmul %x, %wu : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %a = tern.silu %g : tensor<?x32xf32>
  %h = tern.mul %a, %u : tensor<?x32xf32>

  %g2 = tern.matmul %y, %wg : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %u2 = tern.matmul %y, %wu : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %h2 = tern.mul %g2, %u2 : tensor<?x32xf32>

  return %h, %a, %h2 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}
