// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q6" %s -verify-diagnostics
// Tests that tern-quantize-lm-head's q6 refuses what q8 and q4 refuse, naming its own flag value.

func.func @width_not_multiple_of_32(%x: tensor<?x80xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "output.weight" {dtype = "f32", offset = 0, size = 163840} : tensor<512x80xf32>
  // expected-error @+1 {{lm_head format 'q6' (ternc --lm-head=q6) needs the lm_head width to be a multiple of 32; 'output.weight' is 'tensor<512x80xf32>'}}
  %l = tern.logits %x, %w : tensor<?x80xf32>, tensor<512x80xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

func.func @other_format(%x: tensor<?x64xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 131072} : !tern.quantized<512x64, q8_b32>
  %q, %s = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // expected-error @+1 {{lm_head format 'q6' (ternc --lm-head=q6) cannot apply: 'w' is already '!tern.quantized<512x64, q8_b32>'}}
  %l = tern.logits %q, %w scale %s : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

func.func @ternary_lm_head(%x: tensor<?x64xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "output.weight" {dtype = "tq2_0", offset = 0, size = 8704} : !tern.ternary<512x64, tq2_0, per_tensor>
  // expected-error @+1 {{lm_head format 'q6' (ternc --lm-head=q6) applies to a float lm_head}}
  %l = tern.logits %x, %w : tensor<?x64xf32>, !tern.ternary<512x64, tq2_0, per_tensor> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
