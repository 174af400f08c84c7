// RUN: tern-opt --tern-graph-pipeline=target=x86-64-v3 --tern-outline-kernels --tern-plan-memory="max-rows=4 last-row-logits=1" %s | FileCheck %s
// Tests the graph pipeline and the program passes ternc runs after it on one OPT-style layer
// (GPT-2's ops with separate q/k/v projections): learned positions, LayerNorm with biases,
// biased linears and ReLU. q, k and v fuse into one matmul whose slices the bias_adds read
// with its row stride; LayerNorm is left alone by tern-fuse-norm-quant; a bias_add writes
// over a matmul output that dies there; the final LayerNorm runs for the last row only.

// CHECK-DAG: func.func private @[[POS:tern_k[0-9]+_position_embedding]]() attributes {tern.kernel_family = "position_embedding", tern.kernel_params = {dtype = "f32", positions = 32 : i64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[LN:tern_k[0-9]+_layer_norm]]() attributes {tern.kernel_family = "layer_norm", tern.kernel_params = {bias = 1 : i64, eps = 1.000000e-05 : f64, width = 16 : i64}}
// CHECK-DAG: func.func private @[[BQKV:tern_k[0-9]+_bias_add]]() attributes {tern.kernel_family = "bias_add", tern.kernel_params = {width = 16 : i64, x_stride = 48 : i64}}
// CHECK-DAG: func.func private @[[B16:tern_k[0-9]+_bias_add]]() attributes {tern.kernel_family = "bias_add", tern.kernel_params = {width = 16 : i64, x_stride = 16 : i64}}
// CHECK-DAG: func.func private @[[B64:tern_k[0-9]+_bias_add]]() attributes {tern.kernel_family = "bias_add", tern.kernel_params = {width = 64 : i64, x_stride = 64 : i64}}
// CHECK-DAG: func.func private @[[RELU:tern_k[0-9]+_relu]]() attributes {tern.kernel_family = "relu", tern.kernel_params = {width = 64 : i64}}
//       CHECK: func.func @forward(
//   CHECK-NOT: rms_norm
//       CHECK: tern.position_embedding {{.*}}kernel = @[[POS]]
//       CHECK: %[[H:.+]] = tern.layer_norm {{.*}}kernel = @[[LN]]
//       CHECK: %[[W:.+]] = tern.concat_weights {{.*}} -> tensor<48x16xf32>
//  CHECK-NEXT: %[[QKV:.+]] = tern.matmul %[[H]], %[[W]]
//  CHECK-NEXT: %[[Q:.+]] = tern.slice_columns %[[QKV]] {offset = 0 : i64
//  CHECK-NEXT: %[[K:.+]] = tern.slice_columns %[[QKV]] {offset = 16 : i64
//  CHECK-NEXT: %[[V:.+]] = tern.slice_columns %[[QKV]] {offset = 32 : i64
//  CHECK-NEXT: %[[QB:.+]] = tern.bias_add %[[Q]], %{{.+}} {kernel = @[[BQKV]], tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides
//  CHECK-NEXT: %[[KB:.+]] = tern.bias_add %[[K]], %{{.+}} {kernel = @[[BQKV]], tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides
//  CHECK-NEXT: %[[VB:.+]] = tern.bias_add %[[V]], %{{.+}} {kernel = @[[BQKV]], tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.row_strides
//  CHECK-NEXT: tern.kv_cache_write %{{.+}}, %[[KB]], %[[VB]]
//  CHECK-NEXT: tern.attention %[[QB]]
//       CHECK: tern.matmul {{.*}}tern.arena_offsets = array<i64: [[O:[0-9]+]]>
//  CHECK-NEXT: tern.bias_add {{.*}}kernel = @[[B16]], tern.arena_offsets = array<i64: [[O]]>, tern.inplace_operand = 0
//       CHECK: tern.layer_norm {{.*}}kernel = @[[LN]]
//       CHECK: tern.matmul {{.*}}tern.arena_offsets = array<i64: [[UP:[0-9]+]]>
//  CHECK-NEXT: %[[UB:.+]] = tern.bias_add {{.*}}kernel = @[[B64]], tern.arena_offsets = array<i64: [[UP]]>, tern.inplace_operand = 0
//  CHECK-NEXT: tern.relu %[[UB]] {kernel = @[[RELU]]
//       CHECK: tern.layer_norm {{.*}}kernel = @[[LN]], tern.arena_offsets = array<i64: {{[0-9]+}}>, tern.last_row
//  CHECK-NEXT: tern.logits {{.*}}tern.last_row
func.func @forward(%tok: tensor<?xi32>, %pos: index, %kv: !tern.kv_cache<1x16x2x8xf32>)
    -> (tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>) {
  %wte = tern.weight "wte" {dtype = "f32", offset = 0 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %wpe = tern.weight "wpe" {dtype = "f32", offset = 2048 : i64, size = 2048 : i64} : tensor<32x16xf32>
  %e = tern.embedding %wte, %tok : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %p = tern.position_embedding %wpe, %tok, %pos : tensor<32x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
  %x = tern.add %e, %p : tensor<?x16xf32>
  %lnw = tern.weight "ln_1.weight" {dtype = "f32", offset = 4096 : i64, size = 64 : i64} : tensor<16xf32>
  %lnb = tern.weight "ln_1.bias" {dtype = "f32", offset = 4160 : i64, size = 64 : i64} : tensor<16xf32>
  %h = tern.layer_norm %x, %lnw, %lnb {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %wq = tern.weight "q.weight" {dtype = "f32", offset = 4224 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %wk = tern.weight "k.weight" {dtype = "f32", offset = 5248 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %wv = tern.weight "v.weight" {dtype = "f32", offset = 6272 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %bq = tern.weight "q.bias" {dtype = "f32", offset = 7296 : i64, size = 64 : i64} : tensor<16xf32>
  %bk = tern.weight "k.bias" {dtype = "f32", offset = 7360 : i64, size = 64 : i64} : tensor<16xf32>
  %bv = tern.weight "v.bias" {dtype = "f32", offset = 7424 : i64, size = 64 : i64} : tensor<16xf32>
  %q = tern.matmul %h, %wq : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %qb = tern.bias_add %q, %bq : tensor<?x16xf32>, tensor<16xf32>
  %k = tern.matmul %h, %wk : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %kb = tern.bias_add %k, %bk : tensor<?x16xf32>, tensor<16xf32>
  %v = tern.matmul %h, %wv : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %vb = tern.bias_add %v, %bv : tensor<?x16xf32>, tensor<16xf32>
  %kv1 = tern.kv_cache_write %kv, %kb, %vb, %pos {layer = 0 : i64} : !tern.kv_cache<1x16x2x8xf32>, tensor<?x16xf32>, tensor<?x16xf32>
  %a = tern.attention %qb, %kv1, %pos {head_dim = 8 : i64, layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.35355339059327373 : f64} : tensor<?x16xf32>, !tern.kv_cache<1x16x2x8xf32>
  %wo = tern.weight "o.weight" {dtype = "f32", offset = 7488 : i64, size = 1024 : i64} : tensor<16x16xf32>
  %bo = tern.weight "o.bias" {dtype = "f32", offset = 8512 : i64, size = 64 : i64} : tensor<16xf32>
  %o = tern.matmul %a, %wo : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %ob = tern.bias_add %o, %bo : tensor<?x16xf32>, tensor<16xf32>
  %y = tern.add %x, %ob : tensor<?x16xf32>
  %ln2w = tern.weight "ln_2.weight" {dtype = "f32", offset = 8576 : i64, size = 64 : i64} : tensor<16xf32>
  %ln2b = tern.weight "ln_2.bias" {dtype = "f32", offset = 8640 : i64, size = 64 : i64} : tensor<16xf32>
  %h2 = tern.layer_norm %y, %ln2w, %ln2b {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %wup = tern.weight "fc1.weight" {dtype = "f32", offset = 8704 : i64, size = 4096 : i64} : tensor<64x16xf32>
  %bup = tern.weight "fc1.bias" {dtype = "f32", offset = 12800 : i64, size = 256 : i64} : tensor<64xf32>
  %u = tern.matmul %h2, %wup : tensor<?x16xf32>, tensor<64x16xf32> -> tensor<?x64xf32>
  %ub = tern.bias_add %u, %bup : tensor<?x64xf32>, tensor<64xf32>
  %r = tern.relu %ub : tensor<?x64xf32>
  %wdown = tern.weight "fc2.weight" {dtype = "f32", offset = 13056 : i64, size = 4096 : i64} : tensor<16x64xf32>
  %bdown = tern.weight "fc2.bias" {dtype = "f32", offset = 17152 : i64, size = 64 : i64} : tensor<16xf32>
  %d = tern.matmul %r, %wdown : tensor<?x64xf32>, tensor<16x64xf32> -> tensor<?x16xf32>
  %db = tern.bias_add %d, %bdown : tensor<?x16xf32>, tensor<16xf32>
  %z = tern.add %y, %db : tensor<?x16xf32>
  %lnfw = tern.weight "ln_f.weight" {dtype = "f32", offset = 17216 : i64, size = 64 : i64} : tensor<16xf32>
  %lnfb = tern.weight "ln_f.bias" {dtype = "f32", offset = 17280 : i64, size = 64 : i64} : tensor<16xf32>
  %n = tern.layer_norm %z, %lnfw, %lnfb {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32>
  %l = tern.logits %n, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l, %kv1 : tensor<?x32xf32>, !tern.kv_cache<1x16x2x8xf32>
}
