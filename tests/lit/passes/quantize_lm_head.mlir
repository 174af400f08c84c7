// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q8" %s | FileCheck %s --check-prefix=Q8
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q6" %s | FileCheck %s --check-prefix=Q6
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q4" %s | FileCheck %s --check-prefix=Q4
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=f16" %s | FileCheck %s --check-prefix=F16
// RUN: tern-opt --split-input-file --tern-quantize-lm-head %s | FileCheck %s --check-prefix=SOURCE
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q4 share-embedding=true" %s | FileCheck %s --check-prefix=SHARED
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q6 share-embedding=true" %s | FileCheck %s --check-prefix=SHARED6
// Running twice changes nothing more:
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q8" "--tern-quantize-lm-head=format=q8" %s | FileCheck %s --check-prefix=Q8
// RUN: tern-opt --split-input-file "--tern-quantize-lm-head=format=q6" "--tern-quantize-lm-head=format=q6" %s | FileCheck %s --check-prefix=Q6
// Tests that tern-quantize-lm-head stores the lm_head as asked: q8/q6/q4 give it a !tern.quantized
// type and feed the logits int8 rows, f16 gives it an f16 tensor type, source (the default)
// changes nothing; a tied embedding's twin weight keeps the file's type unless share-embedding.

// Tied embedding: the importer reads token_embd.weight twice, for the lookup and the logits.
// Q8-LABEL: func.func @tied(
// Q8-SAME: %[[TOK:[^:]+]]: tensor<?xi32>
// Q8: %[[E:.+]] = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : tensor<512x64xf16>
// Q8: tern.embedding %[[E]], %[[TOK]] : tensor<512x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
// Q8: %[[H:.+]] = tern.rms_norm
// Q8: %[[W:.+]] = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : !tern.quantized<512x64, q8_b32>
// Q8: %[[Q:.+]], %[[S:.+]] = tern.quantize_act %[[H]] : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
// Q8-NOT: tern.quantize_act
// Q8: %[[L:.+]] = tern.logits %[[Q]], %[[W]] scale %[[S]] : tensor<?x64xi8>, !tern.quantized<512x64, q8_b32>, tensor<?xf32> -> tensor<?x512xf32>
// Q8: return %[[L]]
// Q6-LABEL: func.func @tied(
// Q6: %[[E:.+]] = tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf16>
// Q6: tern.embedding %[[E]], %{{.+}} : tensor<512x64xf16>
// Q6: %[[H:.+]] = tern.rms_norm
// Q6: %[[W:.+]] = tern.weight "token_embd.weight" {dtype = "f16", offset = 0 : i64, size = 65536 : i64} : !tern.quantized<512x64, q6_b32>
// Q6: %[[Q:.+]], %[[S:.+]] = tern.quantize_act %[[H]] : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
// Q6-NOT: tern.quantize_act
// Q6: %[[L:.+]] = tern.logits %[[Q]], %[[W]] scale %[[S]] : tensor<?x64xi8>, !tern.quantized<512x64, q6_b32>, tensor<?xf32> -> tensor<?x512xf32>
// Q6: return %[[L]]
// Q4-LABEL: func.func @tied(
// Q4: tern.embedding %{{.+}}, %{{.+}} : tensor<512x64xf16>
// Q4: tern.logits %{{.+}}, %{{.+}} scale %{{.+}} : tensor<?x64xi8>, !tern.quantized<512x64, q4_b32>, tensor<?xf32> -> tensor<?x512xf32>
// With share-embedding both weight ops get the new type: one table.
// SHARED-LABEL: func.func @tied(
// SHARED: %[[E:.+]] = tern.weight "token_embd.weight" {{.*}} : !tern.quantized<512x64, q4_b32>
// SHARED: tern.embedding %[[E]], %{{.+}} : !tern.quantized<512x64, q4_b32>, tensor<?xi32> -> tensor<?x64xf32>
// SHARED: %[[W:.+]] = tern.weight "token_embd.weight" {{.*}} : !tern.quantized<512x64, q4_b32>
// SHARED: tern.logits %{{.+}}, %[[W]] scale %{{.+}} : tensor<?x64xi8>, !tern.quantized<512x64, q4_b32>, tensor<?xf32> -> tensor<?x512xf32>
// SHARED6-LABEL: func.func @tied(
// SHARED6: %[[E:.+]] = tern.weight "token_embd.weight" {{.*}} : !tern.quantized<512x64, q6_b32>
// SHARED6: tern.embedding %[[E]], %{{.+}} : !tern.quantized<512x64, q6_b32>, tensor<?xi32> -> tensor<?x64xf32>
// SHARED6: tern.logits %{{.+}}, %{{.+}} scale %{{.+}} : tensor<?x64xi8>, !tern.quantized<512x64, q6_b32>, tensor<?xf32> -> tensor<?x512xf32>
// F16-LABEL: func.func @tied(
// F16: tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf16>
// F16: tern.logits %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<512x64xf16> -> tensor<?x512xf32>
// SOURCE-LABEL: func.func @tied(
// SOURCE-NOT: quantize_act
// SOURCE-NOT: !tern.quantized
// SOURCE: tern.logits %{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<512x64xf16> -> tensor<?x512xf32>
func.func @tied(%tokens: tensor<?xi32>, %n: tensor<64xf32>) -> tensor<?x512xf32> {
  %e = tern.weight "token_embd.weight" {dtype = "f16", offset = 0, size = 65536} : tensor<512x64xf16>
  %x = tern.embedding %e, %tokens : tensor<512x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
  %h = tern.rms_norm %x, %n {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %w = tern.weight "token_embd.weight" {dtype = "f16", offset = 0, size = 65536} : tensor<512x64xf16>
  %l = tern.logits %h, %w : tensor<?x64xf32>, tensor<512x64xf16> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

// A separate output.weight (f32 in the file) is quantized alone; the embedding keeps its type.
// SHARED-LABEL: func.func @untied(
// SHARED: tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf32>
// Q8-LABEL: func.func @untied(
// Q8: tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf32>
// Q8: tern.weight "output.weight" {{.*}} : !tern.quantized<512x64, q8_b32>
// Q6-LABEL: func.func @untied(
// Q6: tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf32>
// Q6: tern.weight "output.weight" {dtype = "f32", {{.*}}} : !tern.quantized<512x64, q6_b32>
// F16-LABEL: func.func @untied(
// F16: tern.weight "token_embd.weight" {{.*}} : tensor<512x64xf32>
// F16: tern.weight "output.weight" {dtype = "f32", {{.*}}} : tensor<512x64xf16>
func.func @untied(%tokens: tensor<?xi32>) -> tensor<?x512xf32> {
  %e = tern.weight "token_embd.weight" {dtype = "f32", offset = 0, size = 131072} : tensor<512x64xf32>
  %x = tern.embedding %e, %tokens : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %w = tern.weight "output.weight" {dtype = "f32", offset = 131072, size = 131072} : tensor<512x64xf32>
  %l = tern.logits %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}

// -----

// A weight that something else reads too keeps its type; the logits get a retyped copy. So does
// one op read by both the embedding and the logits, unless share-embedding.
// Q8-LABEL: func.func @shared_with_matmul(
// Q8: %[[W:.+]] = tern.weight "w" {{.*}} : tensor<512x64xf32>
// Q8: %[[WQ:.+]] = tern.weight "w" {{.*}} : !tern.quantized<512x64, q8_b32>
// Q8: tern.matmul %{{.+}}, %[[W]]
// Q8: tern.logits %{{.+}}, %[[WQ]] scale
func.func @shared_with_matmul(%x: tensor<?x64xf32>) -> (tensor<?x512xf32>, tensor<?x512xf32>) {
  %w = tern.weight "w" {dtype = "f32", offset = 0, size = 131072} : tensor<512x64xf32>
  %m = tern.matmul %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  %l = tern.logits %x, %w : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  return %m, %l : tensor<?x512xf32>, tensor<?x512xf32>
}

// -----

// Q8-LABEL: func.func @one_op_for_both(
// Q8: %[[E:.+]] = tern.weight "e" {{.*}} : tensor<512x64xf32>
// Q8: %[[W:.+]] = tern.weight "e" {{.*}} : !tern.quantized<512x64, q8_b32>
// Q8: tern.embedding %[[E]]
// Q8: tern.logits %{{.+}}, %[[W]] scale
// SHARED-LABEL: func.func @one_op_for_both(
// SHARED: %[[E:.+]] = tern.weight "e" {{.*}} : !tern.quantized<512x64, q4_b32>
// SHARED-NOT: tern.weight
// SHARED: tern.embedding %[[E]]
// SHARED: tern.logits %{{.+}}, %[[E]] scale
func.func @one_op_for_both(%tokens: tensor<?xi32>) -> tensor<?x512xf32> {
  %e = tern.weight "e" {dtype = "f32", offset = 0, size = 131072} : tensor<512x64xf32>
  %x = tern.embedding %e, %tokens : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %l = tern.logits %x, %e : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
  return %l : tensor<?x512xf32>
}
