// RUN: tern-opt "--tern-quantize-lm-head=format=q5" %s -verify-diagnostics
// Tests that tern-quantize-lm-head rejects a format it does not know, listing the known ones.

// expected-error @+1 {{tern-quantize-lm-head: unknown lm_head format 'q5' (expected one of: source, f16, q8, q6, q4)}}
func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  return %x : tensor<?x64xf32>
}
