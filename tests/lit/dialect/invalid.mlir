// RUN: tern-opt %s -split-input-file -verify-diagnostics
// Tests that every tern type and op verifier rejects malformed IR with its message.

//===----------------------------------------------------------------------===//
// !tern.ternary
//===----------------------------------------------------------------------===//

// expected-error @+1 {{ternary weight must have rank 2 (N x K), got rank 1}}
func.func private @ternary_rank1(!tern.ternary<64, tq2_0, per_tensor>)

// -----

// expected-error @+1 {{ternary weight must have rank 2 (N x K), got rank 3}}
func.func private @ternary_rank3(!tern.ternary<2x64x64, tq2_0, per_tensor>)

// -----

// expected-error @+1 {{ternary weight dimensions must be positive, got 0x64}}
func.func private @ternary_zero(!tern.ternary<0x64, unpacked, per_tensor>)

// -----

// expected-error @+1 {{hf_packed weight needs N divisible by 4, got N = 6}}
func.func private @hf_packed_rows(!tern.ternary<6x64, hf_packed, per_tensor>)

// -----

//===----------------------------------------------------------------------===//
// !tern.quantized
//===----------------------------------------------------------------------===//

// expected-error @+1 {{quantized weight must have rank 2 (N x K), got rank 1}}
func.func private @quantized_rank1(!tern.quantized<64, q8_b32>)

// -----

// expected-error @+1 {{quantized weight dimensions must be positive, got 0x64}}
func.func private @quantized_zero(!tern.quantized<0x64, q8_b32>)

// -----

// expected-error @+1 {{q4_b32 needs K to be a multiple of 32, got K = 48}}
func.func private @quantized_width(!tern.quantized<64x48, q4_b32>)

// -----

// expected-error @+1 {{unknown quantized format 'q5_b32' (known: q8_b32, q6_b32, q4_b32)}}
func.func private @quantized_format(!tern.quantized<64x64, q5_b32>)

// -----

// expected-error @+1 {{per_tensor scale takes no group size, got 32}}
func.func private @per_tensor_group(!tern.ternary<64x64, i2_s, per_tensor 32>)

// -----

// expected-error @+1 {{per_block scale needs a positive group size, got 0}}
func.func private @per_block_no_group(!tern.ternary<64x256, tq2_0, per_block>)

// -----

// expected-error @+1 {{per_block scale needs a positive group size, got -256}}
func.func private @per_block_negative(!tern.ternary<64x256, tq2_0, per_block -256>)

// -----

// expected-error @+1 {{per_block group size 100 does not divide K = 256}}
func.func private @per_block_divides(!tern.ternary<64x256, tq2_0, per_block 100>)

// -----

// expected-error @+1 {{per_row group size must be K = 64 (or omitted), got 32}}
func.func private @per_row_group(!tern.ternary<64x64, unpacked, per_row 32>)

// -----

// expected-error @+1 {{unknown ternary packing 'q4_0'}}
func.func private @bad_packing(!tern.ternary<64x64, q4_0, per_tensor>)

// -----

// expected-error @+1 {{unknown scale kind 'per_column'}}
func.func private @bad_scale(!tern.ternary<64x64, tq2_0, per_column>)

// -----

// expected-error @+1 {{expected '>'}}
func.func private @trailing(!tern.ternary<64x64, tq2_0, per_block 256, 1>)

// -----

//===----------------------------------------------------------------------===//
// !tern.kv_cache
//===----------------------------------------------------------------------===//

// expected-error @+1 {{kv_cache needs 4 dimensions (layers x context x kv_heads x head_dim), got 3}}
func.func private @kv_rank(!tern.kv_cache<5x512x4xf32>)

// -----

// expected-error @+1 {{kv_cache dimensions must be positive, got 5x0x4x8}}
func.func private @kv_zero(!tern.kv_cache<5x0x4x8xf32>)

// -----

// expected-error @+1 {{kv_cache element type must be a float type, got 'i32'}}
func.func private @kv_element(!tern.kv_cache<5x512x4x8xi32>)

// -----

//===----------------------------------------------------------------------===//
// tern.weight
//===----------------------------------------------------------------------===//

func.func @weight_name() {
  // expected-error @+1 {{'tern.weight' op needs a non-empty tensor name}}
  %w = tern.weight "" {dtype = "f32", offset = 0, size = 4} : tensor<1xf32>
  return
}

// -----

func.func @weight_dtype() {
  // expected-error @+1 {{'tern.weight' op needs a non-empty dtype}}
  %w = tern.weight "w" {dtype = "", offset = 0, size = 4} : tensor<1xf32>
  return
}

// -----

func.func @weight_offset() {
  // expected-error @+1 {{'tern.weight' op offset must be non-negative, got -1}}
  %w = tern.weight "w" {dtype = "f32", offset = -1, size = 4} : tensor<1xf32>
  return
}

// -----

func.func @weight_size() {
  // expected-error @+1 {{'tern.weight' op size must be positive, got 0}}
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 0} : tensor<1xf32>
  return
}

// -----

func.func @weight_file() {
  // expected-error @+1 {{'tern.weight' op has an empty 'file'}}
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 4, file = ""} : tensor<1xf32>
  return
}

// -----

func.func @weight_scale_name() {
  // expected-error @+1 {{'tern.weight' op has an empty 'scale_name'}}
  %w = tern.weight "w" {dtype = "u8", offset = 0, size = 4, scale_name = ""} : !tern.ternary<4x4, hf_packed, per_tensor>
  return
}

// -----

func.func @weight_ternarize() {
  // expected-error @+1 {{'tern.weight' op 'ternarize' needs a !tern.ternary result, got 'tensor<4x4xf32>'}}
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 64, ternarize} : tensor<4x4xf32>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{'tern.weight' op result #0 must be statically shaped tensor of any type values or ternary weight matrix}}
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 4} : tensor<?xf32>
  return
}

// -----

func.func @weight_missing_attr() {
  // expected-error @+1 {{'tern.weight' op requires attribute 'size'}}
  %w = "tern.weight"() <{name = "w", dtype = "f32", offset = 0 : i64}> : () -> tensor<1xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// tern.embedding, tern.position_embedding, tern.rms_norm, tern.layer_norm, tern.quantize_act
//===----------------------------------------------------------------------===//

func.func @embedding_width(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'tern.embedding' op result width is 32 but table width is 64}}
  %x = tern.embedding %t, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

func.func @embedding_rows(%t: tensor<512x64xf32>, %ids: tensor<4xi32>) {
  // expected-error @+1 {{'tern.embedding' op row counts disagree: tokens has 4 rows, result has 3}}
  %x = tern.embedding %t, %ids : tensor<512x64xf32>, tensor<4xi32> -> tensor<3x64xf32>
  return
}

// -----

func.func @embedding_token_type(%t: tensor<512x64xf32>, %ids: tensor<?xi64>) {
  // expected-error @+1 {{'tern.embedding' op operand #1 must be 1D tensor of 32-bit signless integer values}}
  %x = tern.embedding %t, %ids : tensor<512x64xf32>, tensor<?xi64> -> tensor<?x64xf32>
  return
}

// -----

func.func @rms_norm_rank0(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op needs an input of rank >= 1}}
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<f32>, tensor<1xf32>
  return
}

// -----

func.func @rms_norm_width(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op weight length is 32 but input width is 64}}
  %y = tern.rms_norm %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @rms_norm_residual_type(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op residual type 'tensor<4x64xf32>' differs from the input type 'tensor<?x64xf32>'}}
  %y:2 = tern.rms_norm %x, %w residual %r {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<4x64xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @rms_norm_quantize_sum_type(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op sum type 'tensor<?x32xf32>' differs from the input type 'tensor<?x64xf32>'}}
  %q:3 = tern.rms_norm_quantize %x, %w residual %x {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x32xf32>
  return
}

// -----

func.func @rms_norm_quantize_sum_without_residual(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op has a sum result but no residual}}
  %q:3 = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op epsilon must be positive, got 0}}
  %y = tern.rms_norm %x, %w {epsilon = 0.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rms_norm_result(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op failed to verify that all of {input, result} have same type}}
  %y = "tern.rms_norm"(%x, %w) <{epsilon = 1.0e-5 : f64, operandSegmentSizes = array<i32: 1, 1, 0, 0>}> : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf16>
  return
}

// -----

func.func @position_embedding_width(%t: tensor<1024x64xf32>, %ids: tensor<?xi32>, %pos: index) {
  // expected-error @+1 {{'tern.position_embedding' op result width is 32 but table width is 64}}
  %p = tern.position_embedding %t, %ids, %pos : tensor<1024x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

func.func @position_embedding_rows(%t: tensor<1024x64xf32>, %ids: tensor<4xi32>, %pos: index) {
  // expected-error @+1 {{'tern.position_embedding' op row counts disagree: tokens has 4 rows, result has 2}}
  %p = tern.position_embedding %t, %ids, %pos : tensor<1024x64xf32>, tensor<4xi32> -> tensor<2x64xf32>
  return
}

// -----

func.func @position_embedding_quantized(%t: !tern.quantized<1024x64, q8_b32>, %ids: tensor<?xi32>, %pos: index) {
  // expected-error @+1 {{'tern.position_embedding' op operand #0 must be 2D tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %p = "tern.position_embedding"(%t, %ids, %pos) : (!tern.quantized<1024x64, q8_b32>, tensor<?xi32>, index) -> tensor<?x64xf32>
  return
}

// -----

func.func @layer_norm_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'tern.layer_norm' op weight length is 32 but input width is 64}}
  %y = tern.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<32xf32>, tensor<64xf32>
  return
}

// -----

func.func @layer_norm_bias(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %b: tensor<48xf32>) {
  // expected-error @+1 {{'tern.layer_norm' op bias length is 48 but input width is 64}}
  %y = tern.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<48xf32>
  return
}

// -----

func.func @layer_norm_epsilon(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.layer_norm' op epsilon must be positive, got -1}}
  %y = tern.layer_norm %x, %w {epsilon = -1.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @layer_norm_result(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.layer_norm' op failed to verify that all of {input, result} have same type}}
  %y = "tern.layer_norm"(%x, %w) <{epsilon = 1.0e-5 : f64}> : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @quantize_width(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{'tern.quantize_act' op quantized width is 32 but input width is 64}}
  %q, %s = tern.quantize_act %x : tensor<?x64xf32> -> tensor<?x32xi8>, tensor<?xf32>
  return
}

// -----

func.func @quantize_rows(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'tern.quantize_act' op row counts disagree: input has 4 rows, scale has 3}}
  %q, %s = tern.quantize_act %x : tensor<4x64xf32> -> tensor<?x64xi8>, tensor<3xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// tern.ternary_matmul, tern.matmul, tern.logits
//===----------------------------------------------------------------------===//

func.func @ternary_matmul_k(%q: tensor<?x32xi8>, %s: tensor<?xf32>, %w: !tern.ternary<64x256, tq2_0, per_block 256>) {
  // expected-error @+1 {{'tern.ternary_matmul' op input width is 32 but weight K is 256}}
  %y = tern.ternary_matmul %q, %s, %w : tensor<?x32xi8>, tensor<?xf32>, !tern.ternary<64x256, tq2_0, per_block 256> -> tensor<?x64xf32>
  return
}

// -----

func.func @ternary_matmul_n(%q: tensor<?x256xi8>, %s: tensor<?xf32>, %w: !tern.ternary<64x256, tq2_0, per_block 256>) {
  // expected-error @+1 {{'tern.ternary_matmul' op result width is 128 but weight N is 64}}
  %y = tern.ternary_matmul %q, %s, %w : tensor<?x256xi8>, tensor<?xf32>, !tern.ternary<64x256, tq2_0, per_block 256> -> tensor<?x128xf32>
  return
}

// -----

func.func @ternary_matmul_rows(%q: tensor<2x256xi8>, %s: tensor<3xf32>, %w: !tern.ternary<64x256, tq2_0, per_block 256>) {
  // expected-error @+1 {{'tern.ternary_matmul' op row counts disagree: input has 2 rows, input_scale has 3}}
  %y = tern.ternary_matmul %q, %s, %w : tensor<2x256xi8>, tensor<3xf32>, !tern.ternary<64x256, tq2_0, per_block 256> -> tensor<?x64xf32>
  return
}

// -----

func.func @ternary_matmul_float_weight(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{'tern.ternary_matmul' op operand #2 must be ternary weight matrix, but got 'tensor<64x64xf32>'}}
  %y = "tern.ternary_matmul"(%q, %s, %w) : (tensor<?x64xi8>, tensor<?xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @matmul_k(%x: tensor<?x64xf32>, %w: tensor<32x48xf16>) {
  // expected-error @+1 {{'tern.matmul' op input width is 64 but weight K is 48}}
  %y = tern.matmul %x, %w : tensor<?x64xf32>, tensor<32x48xf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @matmul_n(%x: tensor<?x64xf32>, %w: tensor<32x64xf16>) {
  // expected-error @+1 {{'tern.matmul' op result width is 16 but weight N is 32}}
  %y = tern.matmul %x, %w : tensor<?x64xf32>, tensor<32x64xf16> -> tensor<?x16xf32>
  return
}

// -----

func.func @matmul_rows(%x: tensor<5x64xf32>, %w: tensor<32x64xf16>) {
  // expected-error @+1 {{'tern.matmul' op row counts disagree: input has 5 rows, result has 1}}
  %y = tern.matmul %x, %w : tensor<5x64xf32>, tensor<32x64xf16> -> tensor<1x32xf32>
  return
}

// -----

func.func @logits_quantized_needs_scale(%x: tensor<?x64xf32>, %w: !tern.quantized<512x64, q8_b32>) {
  // expected-error @+1 {{'tern.logits' op a '!tern.quantized<512x64, q8_b32>' lm_head needs i8 input rows and their 'scale' (tern.quantize_act)}}
  %y = tern.logits %x, %w : tensor<?x64xf32>, !tern.quantized<512x64, q8_b32> -> tensor<?x512xf32>
  return
}

// -----

func.func @logits_scale_needs_quantized(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<512x64xf16>) {
  // expected-error @+1 {{'tern.logits' op i8 input rows and a 'scale' need a !tern.quantized lm_head, got 'tensor<512x64xf16>'}}
  %y = tern.logits %q, %w scale %s : tensor<?x64xi8>, tensor<512x64xf16>, tensor<?xf32> -> tensor<?x512xf32>
  return
}

// -----

func.func @logits_quantized_rows(%q: tensor<2x64xi8>, %s: tensor<3xf32>, %w: !tern.quantized<512x64, q4_b32>) {
  // expected-error @+1 {{'tern.logits' op row counts disagree: input has 2 rows, scale has 3}}
  %y = tern.logits %q, %w scale %s : tensor<2x64xi8>, !tern.quantized<512x64, q4_b32>, tensor<3xf32> -> tensor<2x512xf32>
  return
}

// -----

func.func @logits_quantized_width(%q: tensor<?x32xi8>, %s: tensor<?xf32>, %w: !tern.quantized<512x64, q8_b32>) {
  // expected-error @+1 {{'tern.logits' op input width is 32 but lm_head width is 64}}
  %y = tern.logits %q, %w scale %s : tensor<?x32xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32> -> tensor<?x512xf32>
  return
}

// -----

func.func @embedding_quantized_width(%t: !tern.quantized<512x64, q8_b32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{'tern.embedding' op result width is 32 but table width is 64}}
  %x = tern.embedding %t, %ids : !tern.quantized<512x64, q8_b32>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

func.func @logits_width(%x: tensor<?x64xf32>, %w: tensor<512x32xf32>) {
  // expected-error @+1 {{'tern.logits' op input width is 64 but lm_head width is 32}}
  %y = tern.logits %x, %w : tensor<?x64xf32>, tensor<512x32xf32> -> tensor<?x512xf32>
  return
}

// -----

func.func @logits_vocab(%x: tensor<?x64xf32>, %w: !tern.ternary<512x64, unpacked, per_tensor>) {
  // expected-error @+1 {{'tern.logits' op result width is 256 but lm_head vocabulary is 512}}
  %y = tern.logits %x, %w : tensor<?x64xf32>, !tern.ternary<512x64, unpacked, per_tensor> -> tensor<?x256xf32>
  return
}

// -----

func.func @logits_rows(%x: tensor<1x64xf32>, %w: tensor<512x64xf16>) {
  // expected-error @+1 {{'tern.logits' op row counts disagree: input has 1 rows, result has 2}}
  %y = tern.logits %x, %w : tensor<1x64xf32>, tensor<512x64xf16> -> tensor<2x512xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// tern.rope
//===----------------------------------------------------------------------===//

func.func @rope_head_dim(%x: tensor<?x56xf32>, %pos: index) {
  // expected-error @+1 {{'tern.rope' op head_dim must be positive and even, got 7}}
  %y = tern.rope neox %x, %pos {theta = 1.0e4 : f64, head_dim = 7 : i64, num_heads = 8 : i64} : tensor<?x56xf32>
  return
}

// -----

func.func @rope_num_heads(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error @+1 {{'tern.rope' op num_heads must be positive, got 0}}
  %y = tern.rope neox %x, %pos {theta = 1.0e4 : f64, head_dim = 8 : i64, num_heads = 0 : i64} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error @+1 {{'tern.rope' op theta must be positive, got -1}}
  %y = tern.rope normal %x, %pos {theta = -1.0 : f64, head_dim = 8 : i64, num_heads = 8 : i64} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_freq_scale(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error @+1 {{'tern.rope' op freq_scale must be positive, got 0}}
  %y = tern.rope normal %x, %pos {theta = 1.0e4 : f64, head_dim = 8 : i64, num_heads = 8 : i64, freq_scale = 0.0 : f64} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_width(%x: tensor<?x48xf32>, %pos: index) {
  // expected-error @+1 {{'tern.rope' op input width is 48 but num_heads * head_dim is 64}}
  %y = tern.rope neox %x, %pos {theta = 1.0e4 : f64, head_dim = 8 : i64, num_heads = 8 : i64} : tensor<?x48xf32>
  return
}

// -----

func.func @rope_style(%x: tensor<?x64xf32>, %pos: index) {
  // expected-error @+1 {{expected rope style 'normal' or 'neox', got 'gptj'}}
  %y = tern.rope gptj %x, %pos {theta = 1.0e4 : f64, head_dim = 8 : i64, num_heads = 8 : i64} : tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// tern.kv_cache_write
//===----------------------------------------------------------------------===//

func.func @kv_write_layer(%kv: !tern.kv_cache<5x512x4x8xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: index) {
  // expected-error @+1 {{'tern.kv_cache_write' op layer 5 is out of range for a cache of 5 layers}}
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 5 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x32xf32>
  return
}

// -----

func.func @kv_write_key(%kv: !tern.kv_cache<5x512x4x8xf32>, %k: tensor<?x64xf32>, %v: tensor<?x32xf32>, %pos: index) {
  // expected-error @+1 {{'tern.kv_cache_write' op key width is 64 but the cache's kv_heads * head_dim is 32}}
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<?x64xf32>, tensor<?x32xf32>
  return
}

// -----

func.func @kv_write_value(%kv: !tern.kv_cache<5x512x4x8xf32>, %k: tensor<?x32xf32>, %v: tensor<?x16xf32>, %pos: index) {
  // expected-error @+1 {{'tern.kv_cache_write' op value width is 16 but the cache's kv_heads * head_dim is 32}}
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x16xf32>
  return
}

// -----

func.func @kv_write_rows(%kv: !tern.kv_cache<5x512x4x8xf32>, %k: tensor<2x32xf32>, %v: tensor<3x32xf32>, %pos: index) {
  // expected-error @+1 {{'tern.kv_cache_write' op row counts disagree: key has 2 rows, value has 3}}
  %kv1 = tern.kv_cache_write %kv, %k, %v, %pos {layer = 0 : i64} : !tern.kv_cache<5x512x4x8xf32>, tensor<2x32xf32>, tensor<3x32xf32>
  return
}

// -----

func.func @kv_write_result(%kv: !tern.kv_cache<5x512x4x8xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: index) {
  // expected-error @+1 {{'tern.kv_cache_write' op failed to verify that all of {cache, result} have same type}}
  %kv1 = "tern.kv_cache_write"(%kv, %k, %v, %pos) <{layer = 0 : i64}> : (!tern.kv_cache<5x512x4x8xf32>, tensor<?x32xf32>, tensor<?x32xf32>, index) -> !tern.kv_cache<5x256x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// tern.attention
//===----------------------------------------------------------------------===//

func.func @attention_positive(%q: tensor<?x64xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op num_heads, num_kv_heads and head_dim must be positive, got 8, 0, 8}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 0 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_groups(%q: tensor<?x48xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op num_heads 6 is not a multiple of num_kv_heads 4}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 6 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : tensor<?x48xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_cache_heads(%q: tensor<?x64xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op num_kv_heads 2 and head_dim 8 do not match the cache's 4 and 8}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_cache_head_dim(%q: tensor<?x128xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op num_kv_heads 4 and head_dim 16 do not match the cache's 4 and 8}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 16 : i64, scale = 0.25 : f64} : tensor<?x128xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x64xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op scale must be positive, got 0}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.0 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_layer(%q: tensor<?x64xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op layer -1 is out of range for a cache of 5 layers}}
  %a = tern.attention %q, %kv, %pos {layer = -1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : tensor<?x64xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

func.func @attention_width(%q: tensor<?x32xf32>, %kv: !tern.kv_cache<5x512x4x8xf32>, %pos: index) {
  // expected-error @+1 {{'tern.attention' op query width is 32 but num_heads * head_dim is 64}}
  %a = tern.attention %q, %kv, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.35 : f64} : tensor<?x32xf32>, !tern.kv_cache<5x512x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

func.func @add_types(%a: tensor<?x64xf32>, %b: tensor<?x32xf32>) {
  // expected-error @+1 {{'tern.add' op requires the same type for all operands and results}}
  %c = "tern.add"(%a, %b) : (tensor<?x64xf32>, tensor<?x32xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @relu_int(%a: tensor<?x64xi32>) {
  // expected-error @+1 {{'tern.relu' op operand #0 must be ranked tensor of floating-point values}}
  %c = tern.relu %a : tensor<?x64xi32>
  return
}

// -----

func.func @bias_add_length(%x: tensor<?x64xf32>, %b: tensor<63xf32>) {
  // expected-error @+1 {{'tern.bias_add' op bias length is 63 but input width is 64}}
  %y = tern.bias_add %x, %b : tensor<?x64xf32>, tensor<63xf32>
  return
}

// -----

func.func @bias_add_int(%x: tensor<?x64xf32>, %b: tensor<64xi32>) {
  // expected-error @+1 {{'tern.bias_add' op operand #1 must be 1D tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %y = tern.bias_add %x, %b : tensor<?x64xf32>, tensor<64xi32>
  return
}

// -----

func.func @bias_add_result(%x: tensor<?x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'tern.bias_add' op failed to verify that all of {input, result} have same type}}
  %y = "tern.bias_add"(%x, %b) : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @relu2_int(%a: tensor<?x64xi32>) {
  // expected-error @+1 {{'tern.relu2' op operand #0 must be ranked tensor of floating-point values}}
  %c = tern.relu2 %a : tensor<?x64xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Ops produced by the graph passes
//===----------------------------------------------------------------------===//

func.func @source_packing_float() {
  // expected-error @+1 {{'tern.weight' op 'source_packing' needs a !tern.ternary result, got 'tensor<4xf32>'}}
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 16, source_packing = #tern<packing tq2_0>} : tensor<4xf32>
  return
}

// -----

func.func @rms_norm_quantize_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op weight length is 32 but input width is 64}}
  %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<32xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return
}

// -----

func.func @rms_norm_quantize_width(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op quantized width is 32 but input width is 64}}
  %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x32xi8>, tensor<?xf32>
  return
}

// -----

func.func @rms_norm_quantize_epsilon(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op epsilon must be positive, got 0}}
  %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 0.0 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return
}

// -----

func.func @rms_norm_quantize_rows(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op row counts disagree: input has 4 rows, scale has 3}}
  %q, %s = tern.rms_norm_quantize %x, %w {epsilon = 1.0e-5 : f64} : tensor<4x64xf32>, tensor<64xf32> -> tensor<4x64xi8>, tensor<3xf32>
  return
}

// -----

func.func @concat_one(%a: !tern.ternary<64x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op needs at least two operands, got 1}}
  %w = tern.concat_weights %a : !tern.ternary<64x64, i2_b128, per_tensor> -> !tern.ternary<64x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_k(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x128, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 has K = 128 but operand 0 has K = 64}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x128, i2_b128, per_tensor> -> !tern.ternary<96x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_packing(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x64, i2_s, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 has packing i2_s but operand 0 has i2_b128}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_s, per_tensor> -> !tern.ternary<96x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_scale(%a: !tern.ternary<64x256, tq2_0, per_block 256>, %b: !tern.ternary<32x256, tq2_0, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 has scale kind per_tensor group 0 but operand 0 has per_block group 256}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x256, tq2_0, per_block 256>, !tern.ternary<32x256, tq2_0, per_tensor> -> !tern.ternary<96x256, tq2_0, per_row>
  return
}

// -----

func.func @concat_rows(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op result is 128x64 but the operands stack to 96x64}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_b128, per_tensor> -> !tern.ternary<128x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_result_packing(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op result packing unpacked differs from the operands' i2_b128}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_b128, per_tensor> -> !tern.ternary<96x64, unpacked, per_row>
  return
}

// -----

func.func @concat_result_scale(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op result scale kind must be per_row (each operand keeps its own scales), got per_tensor}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_b128, per_tensor> -> !tern.ternary<96x64, i2_b128, per_tensor>
  return
}

// -----

func.func @concat_mixed(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: tensor<32x64xf32>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 is 'tensor<32x64xf32>' but operand 0 is a !tern.ternary matrix}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, tensor<32x64xf32> -> !tern.ternary<96x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_ternary_result(%a: !tern.ternary<64x64, i2_b128, per_tensor>, %b: !tern.ternary<32x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.concat_weights' op stacks !tern.ternary matrices, so the result must be one, got 'tensor<96x64xf32>'}}
  %w = tern.concat_weights %a, %b : !tern.ternary<64x64, i2_b128, per_tensor>, !tern.ternary<32x64, i2_b128, per_tensor> -> tensor<96x64xf32>
  return
}

// -----

func.func @concat_float_result(%a: tensor<64x64xf32>, %b: tensor<32x64xf32>) {
  // expected-error @+1 {{'tern.concat_weights' op stacks float matrices, so the result must be one, got '!tern.ternary<96x64, i2_b128, per_row>'}}
  %w = tern.concat_weights %a, %b : tensor<64x64xf32>, tensor<32x64xf32> -> !tern.ternary<96x64, i2_b128, per_row>
  return
}

// -----

func.func @concat_float_element(%a: tensor<64x64xf32>, %b: tensor<32x64xf16>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 has element type 'f16' but operand 0 has 'f32'}}
  %w = tern.concat_weights %a, %b : tensor<64x64xf32>, tensor<32x64xf16> -> tensor<96x64xf32>
  return
}

// -----

func.func @concat_float_k(%a: tensor<64x64xf32>, %b: tensor<32x32xf32>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 has K = 32 but operand 0 has K = 64}}
  %w = tern.concat_weights %a, %b : tensor<64x64xf32>, tensor<32x32xf32> -> tensor<96x64xf32>
  return
}

// -----

func.func @concat_float_rows(%a: tensor<64x64xf32>, %b: tensor<32x64xf32>) {
  // expected-error @+1 {{'tern.concat_weights' op result is 'tensor<64x64xf32>' but the operands stack to 'tensor<96x64xf32>'}}
  %w = tern.concat_weights %a, %b : tensor<64x64xf32>, tensor<32x64xf32> -> tensor<64x64xf32>
  return
}

// -----

func.func @concat_float_dynamic(%a: tensor<64x64xf32>, %b: tensor<?x64xf32>) {
  // expected-error @+1 {{'tern.concat_weights' op operand 1 must have a static shape, got 'tensor<?x64xf32>'}}
  %w = tern.concat_weights %a, %b : tensor<64x64xf32>, tensor<?x64xf32> -> tensor<96x64xf32>
  return
}

// -----

func.func @slice_range(%y: tensor<?x128xf32>) {
  // expected-error @+1 {{'tern.slice_columns' op columns [100, 132) are out of range for an input of width 128}}
  %p = tern.slice_columns %y {offset = 100 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @slice_negative(%y: tensor<?x128xf32>) {
  // expected-error @+1 {{'tern.slice_columns' op offset must be non-negative, got -1}}
  %p = tern.slice_columns %y {offset = -1 : i64} : tensor<?x128xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @slice_dynamic(%y: tensor<?x?xf32>) {
  // expected-error @+1 {{'tern.slice_columns' op needs static widths, got ? -> 32}}
  %p = tern.slice_columns %y {offset = 0 : i64} : tensor<?x?xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @slice_rows(%y: tensor<4x128xf32>) {
  // expected-error @+1 {{'tern.slice_columns' op row counts disagree: input has 4 rows, result has 2}}
  %p = tern.slice_columns %y {offset = 0 : i64} : tensor<4x128xf32> -> tensor<2x32xf32>
  return
}

// -----

func.func @glu_activation(%g: tensor<?x172xf32>, %u: tensor<?x172xf32>) {
  // expected-error @+1 {{'tern.glu' op activation must be "relu2", "silu" or "gelu", got "tanh"}}
  %h = tern.glu %g, %u {activation = "tanh"} : tensor<?x172xf32>
  return
}

// -----

func.func @glu_types(%g: tensor<?x172xf32>, %u: tensor<?x64xf32>) {
  // expected-error @+1 {{'tern.glu' op failed to verify that all of {gate, up, result} have same type}}
  %h = "tern.glu"(%g, %u) {activation = "silu"} : (tensor<?x172xf32>, tensor<?x64xf32>) -> tensor<?x172xf32>
  return
}

// -----

func.func @n_block_divides(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: !tern.ternary<96x64, i2_b128, per_tensor>) {
  // expected-error @+1 {{'tern.ternary_matmul' op n_block 64 does not divide N = 96}}
  %y = tern.ternary_matmul %q, %s, %w {n_block = 64 : i64} : tensor<?x64xi8>, tensor<?xf32>, !tern.ternary<96x64, i2_b128, per_tensor> -> tensor<?x96xf32>
  return
}

// -----

func.func @n_block_positive(%x: tensor<?x64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{'tern.matmul' op n_block must be positive, got 0}}
  %y = tern.matmul %x, %w {n_block = 0 : i64} : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
  return
}

// -----

func.func @rms_norm_up_without_activation(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op has an up operand but no activation}}
  %y = tern.rms_norm %g, %w up(%u : tensor<?x64xf32>) {epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rms_norm_activation_without_up(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm' op has an activation but no up operand}}
  %y = tern.rms_norm %x, %w {activation = "relu2", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rms_norm_quantize_residual_and_up(%x: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op has both a residual and an up operand; a fused norm reads either a residual sum or a gated product}}
  %q:3 = tern.rms_norm_quantize %x, %w residual %x up(%u : tensor<?x64xf32>) {activation = "relu2", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>, tensor<?x64xf32>
  return
}

// -----

func.func @rms_norm_quantize_gated_silu(%g: tensor<?x64xf32>, %u: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op gated activation 'silu' is not supported; expected relu2}}
  %q:2 = tern.rms_norm_quantize %g, %w up(%u : tensor<?x64xf32>) {activation = "silu", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return
}

// -----

func.func @rms_norm_quantize_up_type(%g: tensor<?x64xf32>, %u: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'tern.rms_norm_quantize' op up type 'tensor<4x64xf32>' differs from the input type 'tensor<?x64xf32>'}}
  %q:2 = tern.rms_norm_quantize %g, %w up(%u : tensor<4x64xf32>) {activation = "relu2", epsilon = 1.0e-5 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  return
}
