// RUN: tern-opt --split-input-file --tern-fuse-rope %s | FileCheck %s
// Tests that the ropes of adjacent column slices of one buffer (q and k of a fused QKV output)
// become one rope over their union, sliced again for the users, and that ropes that differ
// (theta, position, non-adjacent columns) stay apart.

// CHECK-LABEL: func.func @q_and_k(
// CHECK-SAME: %[[QKV:[^:]+]]: tensor<?x128xf32>, %[[POS:[^:]+]]: index
func.func @q_and_k(%qkv: tensor<?x128xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  // CHECK: %[[V:.+]] = tern.slice_columns %[[QKV]] {offset = 96 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  // CHECK: %[[QK:.+]] = tern.slice_columns %[[QKV]] {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x96xf32>
  // CHECK: %[[R:.+]] = tern.rope neox %[[QK]], %[[POS]] {head_dim = 16 : i64, num_heads = 6 : i64, theta = 1.000000e+04 : f64} : tensor<?x96xf32>
  // CHECK: %[[QR:.+]] = tern.slice_columns %[[R]] {offset = 0 : i64} : tensor<?x96xf32> -> tensor<?x64xf32>
  // CHECK: %[[KR:.+]] = tern.slice_columns %[[R]] {offset = 64 : i64} : tensor<?x96xf32> -> tensor<?x32xf32>
  // CHECK-NOT: tern.rope
  // CHECK: return %[[QR]], %[[KR]], %[[V]]
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  %k = tern.slice_columns %qkv {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  %v = tern.slice_columns %qkv {offset = 96 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 16 : i64, num_heads = 4 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>
  %kr = tern.rope neox %k, %pos {head_dim = 16 : i64, num_heads = 2 : i64, theta = 1.000000e+04 : f64} : tensor<?x32xf32>
  return %qr, %kr, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @different_theta(
// CHECK-COUNT-2: tern.rope
func.func @different_theta(%qkv: tensor<?x128xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  %k = tern.slice_columns %qkv {offset = 64 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  %qr = tern.rope neox %q, %pos {head_dim = 16 : i64, num_heads = 4 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>
  %kr = tern.rope neox %k, %pos {head_dim = 16 : i64, num_heads = 2 : i64, theta = 5.000000e+05 : f64} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @not_adjacent(
// CHECK-COUNT-2: tern.rope
func.func @not_adjacent(%qkv: tensor<?x128xf32>, %pos: index) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  %q = tern.slice_columns %qkv {offset = 0 : i64} : tensor<?x128xf32> -> tensor<?x64xf32>
  %k = tern.slice_columns %qkv {offset = 96 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  %qr = tern.rope normal %q, %pos {head_dim = 16 : i64, num_heads = 4 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>
  %kr = tern.rope normal %k, %pos {head_dim = 16 : i64, num_heads = 2 : i64, theta = 1.000000e+04 : f64} : tensor<?x32xf32>
  return %qr, %kr : tensor<?x64xf32>, tensor<?x32xf32>
}
