// RUN: tern-opt --split-input-file "--tern-select-packing=target=x86-64-v4 layout=tl2_t64" %s | FileCheck %s
// RUN: tern-opt --split-input-file "--tern-select-packing=target=native layout=tl2_t64" %s | FileCheck %s
// Tests that layout=tl2_t64 gives the lookup-table layout to the ternary weights it can hold
// (N a multiple of 64, K <= 24576, read only by ternary matmuls), to the parts of a
// concatenation only together, and i2_b128 to the rest.

// CHECK-LABEL: func.func @lookup_tables(
func.func @lookup_tables(%q8: tensor<?x256xi8>, %s: tensor<?xf32>, %qlong: tensor<?x24588xi8>)
    -> (tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x128xf32>, tensor<?x96xf32>, tensor<?x64xf32>) {
  // CHECK: %[[A:.+]] = tern.weight "a" {{.*}}source_packing = #tern<packing tq2_0>} : !tern.ternary<64x256, tl2_t64, per_block 256>
  %a = tern.weight "a" {dtype = "tq2_0", offset = 0, size = 4352} : !tern.ternary<64x256, tq2_0, per_block 256>
  // N = 96 is not a multiple of 64: i2_b128.
  // CHECK: %[[B:.+]] = tern.weight "b" {{.*}} : !tern.ternary<96x256, i2_b128, per_block 256>
  %b = tern.weight "b" {dtype = "tq2_0", offset = 4352, size = 6528} : !tern.ternary<96x256, tq2_0, per_block 256>
  // Two parts of 64 rows: both tl2_t64, and their concatenation.
  // CHECK: %[[C:.+]] = tern.weight "c" {{.*}} : !tern.ternary<64x256, tl2_t64, per_tensor>
  // CHECK: %[[D:.+]] = tern.weight "d" {{.*}} : !tern.ternary<64x256, tl2_t64, per_tensor>
  %c = tern.weight "c" {dtype = "u8", offset = 16384, size = 4096} : !tern.ternary<64x256, hf_packed, per_tensor>
  %d = tern.weight "d" {dtype = "u8", offset = 20480, size = 4096} : !tern.ternary<64x256, hf_packed, per_tensor>
  // CHECK: %[[CD:.+]] = tern.concat_weights %[[C]], %[[D]] : {{.*}} -> !tern.ternary<128x256, tl2_t64, per_row>
  %cd = tern.concat_weights %c, %d : !tern.ternary<64x256, hf_packed, per_tensor>, !tern.ternary<64x256, hf_packed, per_tensor> -> !tern.ternary<128x256, hf_packed, per_row>
  // 64 + 32 rows: the 32-row part cannot be tl2_t64, so neither is the 64-row one.
  // CHECK: %[[E:.+]] = tern.weight "e" {{.*}} : !tern.ternary<64x256, i2_b128, per_tensor>
  // CHECK: %[[F:.+]] = tern.weight "f" {{.*}} : !tern.ternary<32x256, i2_b128, per_tensor>
  %e = tern.weight "e" {dtype = "u8", offset = 24576, size = 4096} : !tern.ternary<64x256, hf_packed, per_tensor>
  %f = tern.weight "f" {dtype = "u8", offset = 28672, size = 2048} : !tern.ternary<32x256, hf_packed, per_tensor>
  // CHECK: tern.concat_weights %[[E]], %[[F]] : {{.*}} -> !tern.ternary<96x256, i2_b128, per_row>
  %ef = tern.concat_weights %e, %f : !tern.ternary<64x256, hf_packed, per_tensor>, !tern.ternary<32x256, hf_packed, per_tensor> -> !tern.ternary<96x256, hf_packed, per_row>
  // K = 24588 > 24576: the tables would not fit the kernel's stack budget.
  // CHECK: tern.weight "g" {{.*}} : !tern.ternary<64x24588, i2_b128, per_tensor>
  %g = tern.weight "g" {dtype = "u8", offset = 32768, size = 393408} : !tern.ternary<64x24588, hf_packed, per_tensor>
  // CHECK: tern.ternary_matmul %{{.+}}, %{{.+}}, %[[A]] : {{.*}}tl2_t64
  %y = tern.ternary_matmul %q8, %s, %a : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, tq2_0, per_block 256> -> tensor<?x64xf32>
  %z = tern.ternary_matmul %q8, %s, %b : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<96x256, tq2_0, per_block 256> -> tensor<?x96xf32>
  %u = tern.ternary_matmul %q8, %s, %cd : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<128x256, hf_packed, per_row> -> tensor<?x128xf32>
  %v = tern.ternary_matmul %q8, %s, %ef : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<96x256, hf_packed, per_row> -> tensor<?x96xf32>
  %x = tern.ternary_matmul %qlong, %s, %g : tensor<?x24588xi8>, tensor<?xf32>, !tern.ternary<64x24588, hf_packed, per_tensor> -> tensor<?x64xf32>
  return %y, %z, %u, %v, %x : tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x128xf32>, tensor<?x96xf32>, tensor<?x64xf32>
}
