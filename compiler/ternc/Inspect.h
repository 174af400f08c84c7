// `ternc inspect`: a readable (or JSON) account of a model file and whether it can be compiled.
#ifndef TERN_COMPILER_TERNC_INSPECT_H
#define TERN_COMPILER_TERNC_INSPECT_H

#include "frontends/common/ModelDescription.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace tern {
namespace onnx {
struct ONNXSummary;
} // namespace onnx

// Everything `inspect` reports, as JSON; the text report prints the same fields.
llvm::json::Value inspectionToJSON(const fe::ModelDescription &model);
void printInspection(const fe::ModelDescription &model, llvm::raw_ostream &os);

// One line per kind of linear weight: "ternary tq2_0 (per-block scales), multiply: 210 tensors".
std::vector<std::string> summarizeLinearWeights(const fe::ModelDescription &model);

// The ONNX report (InspectONNX.cpp, built when the ONNX frontend is): signature, weights by
// type, op histogram and why the graph cannot be compiled yet.
llvm::json::Value onnxInspectionToJSON(const onnx::ONNXSummary &summary);
void printONNXInspection(const onnx::ONNXSummary &summary, llvm::raw_ostream &os);

} // namespace tern

#endif
