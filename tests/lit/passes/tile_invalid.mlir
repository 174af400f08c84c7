// RUN: tern-opt --split-input-file "--tern-tile=threads=0" %s -verify-diagnostics
// RUN: not tern-opt --split-input-file "--tern-tile=target=sm_75" %s 2>&1 | FileCheck %s --check-prefix=TARGET
// Tests that tern-tile rejects a thread count below 1 and a target it has no rule for.

// TARGET: error: tern-tile: no tiling rule for target 'sm_75' (known: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90, sm_90a)
// expected-error @+1 {{tern-tile: threads must be at least 1, got 0}}
func.func @no_threads(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x64xf32> {
  %y = tern.matmul %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
