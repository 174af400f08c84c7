// RUN: tern-opt --split-input-file "--tern-select-packing=target=x86-64-v3 layout=tl2_t64" %s -verify-diagnostics
// RUN: not tern-opt --split-input-file "--tern-select-packing=target=sm_90 layout=tl2_t64" %s 2>&1 | FileCheck %s --check-prefix=GPU
// RUN: not tern-opt --split-input-file "--tern-select-packing=target=x86-64-v4 layout=tl3" %s 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// Tests that tern-select-packing refuses tl2_t64 where no kernel reads it and unknown layouts.

// GPU: tern-select-packing: the tl2_t64 layout needs an AVX-512 CPU target (x86-64-v4 or native), not 'sm_90'
// UNKNOWN: tern-select-packing: unknown ternary layout 'tl3' (known: i2_b128, tl2_t64)
// expected-error @+1 {{tern-select-packing: the tl2_t64 layout needs an AVX-512 CPU target (x86-64-v4 or native), not 'x86-64-v3'}}
func.func @no_avx512() -> !tern.ternary<64x256, tq2_0, per_block 256> {
  %a = tern.weight "a" {dtype = "tq2_0", offset = 0, size = 4352} : !tern.ternary<64x256, tq2_0, per_block 256>
  return %a : !tern.ternary<64x256, tq2_0, per_block 256>
}
