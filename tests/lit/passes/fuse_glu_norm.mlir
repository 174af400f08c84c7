// RUN: tern-opt --split-input-file --tern-fuse-glu-norm %s | FileCheck %s
// Tests that a relu2 tern.glu whose only use is an rms_norm / rms_norm_quantize folds into that
// norm as its gated input (gate and up stay slices of the gate/up matmul output), and that a
// glu with another use, another activation or a norm with a residual stays.

// BitNet's FFN sub-norm.
// CHECK-LABEL: func.func @glu_then_norm_quant(
// CHECK-SAME: %[[GU:[^:]+]]: tensor<?x128xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @glu_then_norm_quant(%gu: tensor<?x128xf32>, %w: tensor<64xf32>) -> (tensor<?x64xi8>, tensor<?xf32>) {
  // CHECK: %[[G:.+]] = tern.slice_columns %[[GU]] {offset = 0 : i64}
  // CHECK-NEXT: %[[U:.+]] = tern.slice_columns %[[GU]] {offset = 64 : i64}
  // CHECK-NOT: tern.glu
  // CHECK-NEXT: %[[Q:.+]], %[[S:.+]] = tern.rms_norm_quantize %[[G]], %[[W]] up(%[[U]] : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK-NEXT: return %[[Q]], %[[S]]
  %g = tern.slice_columns %gu {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  %u = tern.slice_columns %gu {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x64xf32>
  %q, %s = tern.rms_norm_quantize %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return %q, %s : tensor<?x64xi8>, tensor<?xf32>
}

// -----

// CHECK-LABEL: func.func @glu_then_norm(
// CHECK-SAME: %[[G:[^:]+]]: tensor<?x64xf32>, %[[U:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @glu_then_norm(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // CHECK-NOT: tern.glu
  // CHECK: %[[Y:.+]] = tern.rms_norm %[[G]], %[[W]] up(%[[U]] : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK-NEXT: return %[[Y]]
  %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x64xf32>
  %y = tern.rms_norm %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// The glu's product is read again: it stays, and so does the plain norm.
// CHECK-LABEL: func.func @glu_with_another_use(
// CHECK-SAME: %[[G:[^:]+]]: tensor<?x64xf32>, %[[U:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @glu_with_another_use(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>) {
  // CHECK: %[[H:.+]] = tern.glu %[[G]], %[[U]] {activation = "relu2"} : tensor<?x64xf32>
  // CHECK-NEXT: tern.rms_norm_quantize %[[H]], %[[W]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK-NOT: up(
  %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x64xf32>
  %q, %s = tern.rms_norm_quantize %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return %q, %s, %h : tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
}

// -----

// LLaMA gates with silu, which the fused norms do not compute: the glu stays.
// CHECK-LABEL: func.func @silu_glu(
func.func @silu_glu(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // CHECK: %[[H:.+]] = tern.glu %{{.+}}, %{{.+}} {activation = "silu"}
  // CHECK-NEXT: tern.rms_norm %[[H]], %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %h = tern.glu %g, %u {activation = "silu"} : tensor<?x64xf32>
  %y = tern.rms_norm %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A norm that already adds a residual reads a sum, not a gated product: the glu stays.
// CHECK-LABEL: func.func @norm_with_residual(
func.func @norm_with_residual(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %r: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: %[[H:.+]] = tern.glu
  // CHECK-NEXT: tern.rms_norm %[[H]], %{{.+}} residual
  %h = tern.glu %g, %u {activation = "relu2"} : tensor<?x64xf32>
  %y:2 = tern.rms_norm %h, %w residual %r {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  return %y#0, %y#1 : tensor<?x64xf32>, tensor<?x64xf32>
}
