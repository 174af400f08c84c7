// RUN: tern-opt --split-input-file --tern-fuse-norm-quant %s | FileCheck %s
// Tests that an rms_norm feeding only quantize_act ops becomes one rms_norm_quantize, after
// duplicate quantize_act ops of the normalized value are merged.

// CHECK-LABEL: func.func @norm_then_quant(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @norm_then_quant(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> (tensor<?x64xi8>, tensor<?xf32>) {
  // CHECK-NOT: tern.rms_norm %
  // CHECK-NOT: tern.quantize_act
  // CHECK: %[[Q:.+]], %[[S:.+]] = tern.rms_norm_quantize %[[X]], %[[W]] {epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // CHECK-NEXT: return %[[Q]], %[[S]]
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q, %s = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return %q, %s : tensor<?x64xi8>, tensor<?xf32>
}

// -----

// Three projections quantize the same normalized row: one fused op serves them all.
// CHECK-LABEL: func.func @three_quants(
// CHECK-SAME: %[[X:[^:]+]]: tensor<?x64xf32>, %[[W:[^:]+]]: tensor<64xf32>
func.func @three_quants(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %wq: !tern.ternary<64x64, unpacked, per_tensor>, %wk: !tern.ternary<32x64, unpacked, per_tensor>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK: %[[Q:.+]], %[[S:.+]] = tern.rms_norm_quantize %[[X]], %[[W]]
  // CHECK-NOT: tern.rms_norm_quantize
  // CHECK-NOT: tern.quantize_act
  // CHECK: tern.ternary_matmul %[[Q]], %[[S]], %{{.+}} : {{.*}} -> tensor<?x64xf32>
  // CHECK: tern.ternary_matmul %[[Q]], %[[S]], %{{.+}} : {{.*}} -> tensor<?x32xf32>
  // CHECK: tern.ternary_matmul %[[Q]], %[[S]], %{{.+}} : {{.*}} -> tensor<?x32xf32>
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q1, %s1 = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %a = tern.ternary_matmul %q1, %s1, %wq : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<64x64, unpacked, per_tensor> -> tensor<?x64xf32>
  %q2, %s2 = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %b = tern.ternary_matmul %q2, %s2, %wk : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, unpacked, per_tensor> -> tensor<?x32xf32>
  %q3, %s3 = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %c = tern.ternary_matmul %q3, %s3, %wk : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<32x64, unpacked, per_tensor> -> tensor<?x32xf32>
  return %a, %b, %c : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// A norm whose result is also used as floats (a float matmul) stays unfused.
// CHECK-LABEL: func.func @float_user(
func.func @float_user(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %m: tensor<32x64xf32>) -> (tensor<?x64xi8>, tensor<?xf32>, tensor<?x32xf32>) {
  // CHECK: %[[Y:.+]] = tern.rms_norm
  // CHECK: tern.quantize_act %[[Y]]
  // CHECK: tern.matmul %[[Y]]
  // CHECK-NOT: tern.rms_norm_quantize
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q, %s = tern.quantize_act %y : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %f = tern.matmul %y, %m : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %q, %s, %f : tensor<?x64xi8>, tensor<?xf32>, tensor<?x32xf32>
}

// -----

// quantize_act of a value that is not a norm is left alone (and deduplicated).
// CHECK-LABEL: func.func @no_norm(
// CHECK-SAME: %[[X:[^:]+]]: tensor<4x64xf32>
func.func @no_norm(%x: tensor<4x64xf32>) -> (tensor<4x64xi8>, tensor<4xf32>, tensor<4x64xi8>) {
  // CHECK: %[[Q:.+]], %[[S:.+]] = tern.quantize_act %[[X]]
  // CHECK-NOT: tern.quantize_act
  // CHECK: return %[[Q]], %[[S]], %[[Q]]
  %q, %s = tern.quantize_act %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
  %q2, %s2 = tern.quantize_act %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
  return %q, %s, %q2 : tensor<4x64xi8>, tensor<4xf32>, tensor<4x64xi8>
}
