// What a profile of an entry point must report, read straight from the artifact's FlatBuffer:
// each distinct kernel's dispatches and the bytes those dispatches bind (for profile tests).
// A run that needs no logits (a prefill chunk before the last) skips the logits-only ones.
#ifndef TERN_TESTS_EXECUTOR_ENTRYPLAN_H
#define TERN_TESTS_EXECUTOR_ENTRYPLAN_H

#include "tern/artifact/Artifact.h"

#include <cstdint>
#include <map>
#include <string>

namespace tern::test {

// One distinct kernel of an entry point.
struct PlannedKernel {
  std::string family;
  uint64_t dispatches = 0;         // per run of the entry point
  uint64_t logitsOnly = 0;         // those among the entry's logits-only dispatches
  uint64_t weightBytesPerCall = 0; // SectionSlice sizes of one dispatch
  bool uniformWeightBytes = true;  // every dispatch binds the same weight bytes
  int64_t kvHeads = 0, headDim = 0; // attention's parameters, else 0
};

struct EntryPlan {
  int64_t maxRows = 0;
  uint64_t dispatches = 0;                  // per run
  uint64_t logitsOnly = 0;                  // the last ones, skipped by a run without logits
  std::map<std::string, PlannedKernel> kernels; // by symbol
};

inline int64_t descriptorInt(const schema::KernelDescriptor &descriptor, const char *name) {
  if (descriptor.params())
    for (const schema::KernelParam *param : *descriptor.params())
      if (param->name() && param->name()->str() == name)
        return param->int_value();
  return 0;
}

// The plan of entry point |name| of |artifact|; false when it has none.
inline bool readEntryPlan(const Artifact &artifact, const std::string &name, EntryPlan *plan) {
  const auto *entries = artifact.root().entry_points();
  const auto *libraries = artifact.root().kernel_libraries();
  if (!entries || !libraries)
    return false;
  for (const schema::EntryPoint *entry : *entries) {
    if (!entry->name() || entry->name()->str() != name || !entry->dispatches())
      continue;
    plan->maxRows = entry->max_rows();
    plan->logitsOnly = entry->logits_only_dispatches();
    const uint64_t body = entry->dispatches()->size() - plan->logitsOnly;
    for (const schema::KernelDispatch *dispatch : *entry->dispatches()) {
      const schema::KernelLibrary &library = *libraries->Get(dispatch->kernel_library());
      const schema::KernelDescriptor &descriptor =
          *library.descriptors()->Get(dispatch->kernel());
      uint64_t weightBytes = 0;
      if (dispatch->bindings())
        for (const schema::Binding *binding : *dispatch->bindings())
          if (binding->kind() == schema::BindingKind::SectionSlice)
            weightBytes += binding->size();
      PlannedKernel &kernel = plan->kernels[library.kernels()->Get(dispatch->kernel())->str()];
      if (kernel.dispatches == 0) {
        kernel.family = descriptor.family() ? descriptor.family()->str() : "";
        kernel.weightBytesPerCall = weightBytes;
        kernel.kvHeads = kernel.family == "attention" ? descriptorInt(descriptor, "kv_heads") : 0;
        kernel.headDim = kernel.family == "attention" ? descriptorInt(descriptor, "head_dim") : 0;
      }
      kernel.uniformWeightBytes = kernel.uniformWeightBytes && kernel.weightBytesPerCall == weightBytes;
      kernel.logitsOnly += plan->dispatches >= body;
      kernel.dispatches += 1;
      plan->dispatches += 1;
    }
    return true;
  }
  return false;
}

} // namespace tern::test

#endif
