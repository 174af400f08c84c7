// RUN: tern-opt --split-input-file "--tern-select-packing=target=sm_75" %s -verify-diagnostics
// Tests that tern-select-packing rejects a target it has no ternary layout for.

// expected-error @+1 {{tern-select-packing: no ternary weight layout for target 'sm_75' (known: x86-64-v4, x86-64-v3, generic, native, sm_80, sm_90, sm_90a)}}
func.func @unknown_gpu_target() -> !tern.ternary<64x256, tq2_0, per_block 256> {
  %a = tern.weight "a" {dtype = "tq2_0", offset = 0, size = 4352} : !tern.ternary<64x256, tq2_0, per_block 256>
  return %a : !tern.ternary<64x256, tq2_0, per_block 256>
}
