// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q8" %s -verify-diagnostics
// Tests that tern-quantize-lm-head refuses lm_heads its formats do not apply to, naming the
// ternc flag.

func.func @ternary_lm_head(%x: tensor<?x64xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "output.weight" {dtype = "tq2_0", offset = 0, size = 8704} : !tern.ternary<512x64, tq2_0, per_tensor>
  // expected-error @+1 {{lm_head format 'q8' (ternc --lm-head=q8) applies to a float lm_head; 'output.weight' is '!tern.ternary<512x64, tq2_0, per_tensor>' (leave --lm-head=source)}}
  %l = tern.logits %x, %w : tensor<?x64xf32>, !tern.ternary<512x64, tq2_0, per_tensor> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

func.func @width_not_multiple_of_32(%x: tensor<?x48xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "output.weight" {dtype = "f32", offset = 0, size = 98304} : tensor<512x48xf32>
  // expected-error @+1 {{lm_head format 'q8' (ternc --lm-head=q8) needs the lm_head width to be a multiple of 32; 'output.weight' is 'tensor<512x48xf32>'}}
  %l = tern.logits %x, %w : tensor<?x48xf32>, tensor<512x48xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

func.func @not_a_weight(%x: tensor<?x64xf32>, %w: tensor<512x64xf32>) -> tensor<?x512xf32> {
  // expected-error @+1 {{lm_head format 'q8' (ternc --lm-head=q8) needs the lm_head to be a tern.weight}}
  %l = tern.logits %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

func.func @other_format(%x: tensor<?x64xf32>) -> tensor<?x512xf32> {
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 131072} : !tern.quantized<512x64, q4_b32>
  %q, %s = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  // expected-error @+1 {{lm_head format 'q8' (ternc --lm-head=q8) cannot apply: 'w' is already '!tern.quantized<512x64, q4_b32>'}}
  %l = tern.logits %q, %w scale %s : tensor<?x64xi8>, !tern.quantized<512x64, q4_b32>, tensor<?xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
