// RUN: tern-opt --split-input-file --tern-fuse-residual-norm %s | FileCheck %s
// Tests that a residual tern.add folds into the rms_norm / rms_norm_quantize of its sum, whose
// sum result then serves every later use of the add.

// CHECK-LABEL: func.func @add_then_norm_quant(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>, %[[D:[^:]+]]: tensor<?x64xf32>, %[[E:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @add_then_norm_quant(%x: tensor<?x64xf32>, %d: tensor<?x64xf32>, %e: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>) {
  // CHECK-NOT: tern.add %[[X]]
  // CHECK: %[[Q:.+]], %[[S:.+]], %[[SUM:.+]] = tern.rms_norm_quantize %[[X]], %[[W]] residual %[[D]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
  // CHECK-NEXT: %[[O:.+]] = tern.add %[[SUM]], %[[E]] : tensor<?x64xf32>
  // CHECK-NEXT: return %[[Q]], %[[S]], %[[O]]
  %h = tern.add %x, %d : tensor<?x64xf32>
  %q, %s = tern.rms_norm_quantize %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %o = tern.add %h, %e : tensor<?x64xf32>
  return %q, %s, %o : tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
}

// -----

// The final norm of a LLaMA model: the sum has no other use.
// CHECK-LABEL: func.func @add_then_norm(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>, %[[D:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @add_then_norm(%x: tensor<?x64xf32>, %d: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // CHECK-NOT: tern.add
  // CHECK: %[[Y:.+]], %{{.+}} = tern.rms_norm %[[X]], %[[W]] residual %[[D]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xf32>
  // CHECK-NEXT: return %[[Y]]
  %h = tern.add %x, %d : tensor<?x64xf32>
  %y = tern.rms_norm %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Two decoder layers' residual stream: each add fuses into the norm after it, and the second
// add reads the first fused op's sum.
// CHECK-LABEL: func.func @residual_stream(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>, %[[A:[^:]+]]: tensor<?x64xf32>, %[[F:[^:]+]]: tensor<?x64xf32>, %[[W1:[^:]+]]: tensor<64xf32>, %[[W2:[^:]+]]: tensor<64xf32>
func.func @residual_stream(%x: tensor<?x64xf32>, %a: tensor<?x64xf32>, %f: tensor<?x64xf32>, %w1: tensor<64xf32>, %w2: tensor<64xf32>) -> (tensor<?x64xi8>, tensor<?x64xf32>) {
  // CHECK-NOT: tern.add
  // CHECK: %[[Q:.+]], %{{.+}}, %[[H1:.+]] = tern.rms_norm_quantize %[[X]], %[[W1]] residual %[[A]]
  // CHECK-NOT: tern.add
  // CHECK: %[[Y:.+]], %{{.+}} = tern.rms_norm %[[H1]], %[[W2]] residual %[[F]]
  // CHECK-NEXT: return %[[Q]], %[[Y]]
  %h1 = tern.add %x, %a : tensor<?x64xf32>
  %q, %s = tern.rms_norm_quantize %h1, %w1 {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %h2 = tern.add %h1, %f : tensor<?x64xf32>
  %y = tern.rms_norm %h2, %w2 {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %q, %y : tensor<?x64xi8>, tensor<?x64xf32>
}

// -----

// An add that no norm reads stays.
// CHECK-LABEL: func.func @add_not_normed(
func.func @add_not_normed(%x: tensor<?x64xf32>, %d: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: %[[H:.+]] = tern.add
  // CHECK: tern.rms_norm %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK-NOT: residual
  // CHECK: return %[[H]]
  %h = tern.add %x, %d : tensor<?x64xf32>
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %h, %y : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// A use of the sum before the norm needs it earlier than the fused op would compute it.
// CHECK-LABEL: func.func @used_before_norm(
func.func @used_before_norm(%x: tensor<?x64xf32>, %d: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: %[[H:.+]] = tern.add
  // CHECK: tern.mul %[[H]], %[[H]]
  // CHECK: tern.rms_norm %[[H]], %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %h = tern.add %x, %d : tensor<?x64xf32>
  %m = tern.mul %h, %h : tensor<?x64xf32>
  %y = tern.rms_norm %h, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %m, %y : tensor<?x64xf32>, tensor<?x64xf32>
}
