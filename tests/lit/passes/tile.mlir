// RUN: tern-opt --split-input-file "--tern-tile=threads=1" %s | FileCheck %s --check-prefix=T1
// RUN: tern-opt --split-input-file "--tern-tile=target=x86-64-v3 threads=8" %s | FileCheck %s --check-prefix=T8
// Tests that tern-tile sets n_block on every matmul to the largest of 64..1 dividing N that
// leaves at least 4 * threads work items (N / n_block), and 1 when none does.

// T1-LABEL: func.func @tiles(
// T8-LABEL: func.func @tiles(
func.func @tiles(%q8: tensor<?x64xi8>, %s: tensor<?xf32>, %x: tensor<?x64xf32>,
                 %w2560: !tern.ternary<2560x64, i2_b128, per_tensor>,
                 %w128: !tern.ternary<128x64, i2_b128, per_row>,
                 %w172: tensor<172x64xf32>, %w24: tensor<24x64xf16>, %w7: tensor<7x64xf32>)
    -> (tensor<?x2560xf32>, tensor<?x128xf32>, tensor<?x172xf32>, tensor<?x24xf32>, tensor<?x7xf32>) {
  // N = 2560: 64 leaves 40 items, enough for 1 thread (4) and 8 threads (32).
  // T1: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {n_block = 64 : i64} : {{.*}} -> tensor<?x2560xf32>
  // T8: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {n_block = 64 : i64} : {{.*}} -> tensor<?x2560xf32>
  %a = tern.ternary_matmul %q8, %s, %w2560 : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<2560x64, i2_b128, per_tensor> -> tensor<?x2560xf32>
  // N = 128: 32 leaves 4 items (1 thread); 8 threads need 32 items, so 4.
  // T1: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {divide_by_scale, n_block = 32 : i64} : {{.*}} -> tensor<?x128xf32>
  // T8: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {divide_by_scale, n_block = 4 : i64} : {{.*}} -> tensor<?x128xf32>
  %b = tern.ternary_matmul %q8, %s, %w128 {divide_by_scale, n_block = 64 : i64} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<128x64, i2_b128, per_row> -> tensor<?x128xf32>
  // N = 172 = 4 * 43: 4 leaves 43 items for 1 and 8 threads.
  // T1: tern.matmul %{{.+}}, %{{.+}} {n_block = 4 : i64} : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // T8: tern.matmul %{{.+}}, %{{.+}} {n_block = 4 : i64} : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %c = tern.matmul %x, %w172 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // N = 24: 8 leaves only 3 items, 4 leaves 6 (enough for 1 thread); 8 threads would
  // need 32 items, more than N, so 1.
  // T1: tern.matmul %{{.+}}, %{{.+}} {n_block = 4 : i64} : tensor<?x64xf32>, tensor<24x64xf16> -> tensor<?x24xf32>
  // T8: tern.matmul %{{.+}}, %{{.+}} {n_block = 1 : i64} : tensor<?x64xf32>, tensor<24x64xf16> -> tensor<?x24xf32>
  %d = tern.matmul %x, %w24 : tensor<?x64xf32>, tensor<24x64xf16> -> tensor<?x24xf32>
  // N = 7 is prime: 1.
  // T1: tern.matmul %{{.+}}, %{{.+}} {n_block = 1 : i64} : tensor<?x64xf32>, tensor<7x64xf32> -> tensor<?x7xf32>
  // T8: tern.matmul %{{.+}}, %{{.+}} {n_block = 1 : i64} : tensor<?x64xf32>, tensor<7x64xf32> -> tensor<?x7xf32>
  %e = tern.matmul %x, %w7 : tensor<?x64xf32>, tensor<7x64xf32> -> tensor<?x7xf32>
  return %a, %b, %c, %d, %e : tensor<?x2560xf32>, tensor<?x128xf32>, tensor<?x172xf32>, tensor<?x24xf32>, tensor<?x7xf32>
}

// -----

// A tl2_t64 matmul computes whole 64-row tiles: n_block is 64 even where the rule above
// would give 4 (N = 128, 8 threads).
// T1-LABEL: func.func @lookup_table_tiles(
// T8-LABEL: func.func @lookup_table_tiles(
func.func @lookup_table_tiles(%q8: tensor<?x64xi8>, %s: tensor<?xf32>,
                              %w: !tern.ternary<128x64, tl2_t64, per_row>) -> tensor<?x128xf32> {
  // T1: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {n_block = 64 : i64} : {{.*}}tl2_t64
  // T8: tern.ternary_matmul %{{.+}}, %{{.+}}, %{{.+}} {n_block = 64 : i64} : {{.*}}tl2_t64
  %a = tern.ternary_matmul %q8, %s, %w : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<128x64, tl2_t64, per_row> -> tensor<?x128xf32>
  return %a : tensor<?x128xf32>
}
