// Runs one kernel dispatch of any family in docs/kernels.md with the plain C++ reference twins.
// This is the slow checking path (`--kernels=reference`, codegen differential tests): unlike
// generated kernels it allocates scratch memory on every call.
#ifndef TERN_RUNTIME_KERNELS_REFERENCE_REFERENCEDISPATCH_H
#define TERN_RUNTIME_KERNELS_REFERENCE_REFERENCEDISPATCH_H

#include "KernelSpec.h"
#include "tern/tern.h"

#include <cstdint>
#include <vector>

namespace tern {

// Computes what |spec| says (family and parameters, docs/kernels.md) on |bindings|, in the
// order the family's table row lists them, for |rows| token rows starting at position |pos|
// and work items [begin, end) of the family's grid[0] (ternary_matmul, matmul and
// quantized_matmul: output columns [begin * n_block, end * n_block); attention: heads
// [begin, end); the row-wise families given row_items: rows [begin, end) of the call's rows,
// which the twin computes all in the slice holding row 0; other families: 1 item).
// INVALID_ARGUMENT names an unknown family, a missing or bad parameter, or a bad slice;
// OUT_OF_RANGE a position past the kernel's context or its position table, or a token id
// outside the vocabulary.
// Thread-safe: calls with disjoint slices may run concurrently.
tern_status_t runReferenceKernel(const KernelSpec &spec, void *const *bindings, int64_t rows,
                                 int64_t pos, int64_t begin, int64_t end);

// What a dispatch of |spec| needs, for checking a plan before anything runs.
struct ReferenceKernelShape {
  int64_t gridItems = 1; // grid[0]: n / n_block, heads, row_items, or 1
  // Work item i is row i (row_items): a call needs only min(gridItems, rows) items.
  bool itemsAreRows = false;
  // Per binding, in order: the bytes a call with |rows| rows reads or writes from the
  // binding's start (strided rows count up to the last row's last element).
  std::vector<uint64_t> bindingBytes;
};

// Checks |spec|'s family and parameters (the same checks runReferenceKernel makes) and
// describes its grid and the binding sizes it needs for |rows| rows. INVALID_ARGUMENT as above.
tern_status_t describeReferenceKernel(const KernelSpec &spec, int64_t rows,
                                      ReferenceKernelShape *out);

} // namespace tern

#endif
