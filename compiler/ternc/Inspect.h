// `ternc inspect`: a readable (or JSON) account of a model file and whether it can be compiled.
#ifndef TERN_COMPILER_TERNC_INSPECT_H
#define TERN_COMPILER_TERNC_INSPECT_H

#include "frontends/common/ModelDescription.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace tern {

// Everything `inspect` reports, as JSON; the text report prints the same fields.
llvm::json::Value inspectionToJSON(const fe::ModelDescription &model);
void printInspection(const fe::ModelDescription &model, llvm::raw_ostream &os);

// One line per kind of linear weight: "ternary tq2_0 (per-block scales), multiply: 210 tensors".
std::vector<std::string> summarizeLinearWeights(const fe::ModelDescription &model);

} // namespace tern

#endif
