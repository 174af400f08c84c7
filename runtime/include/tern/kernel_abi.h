/* The ABI between kernels the compiler generates and the runtime that calls them. */
#ifndef TERN_KERNEL_ABI_H
#define TERN_KERNEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any change below; KernelLibrary.abi_version records the one a library was built for
 * and the runtime refuses others. */
#define TERN_KERNEL_ABI_VERSION 1u

/* Every generated CPU kernel is an exported C function of this type.
 * |bindings|: the dispatch's resolved bindings (artifact schema `Binding`), in order; pointers
 *             into the arena, weight sections (64-byte aligned), KV cache, or token ids.
 * |rows|:     token rows in this call (1 for decode, up to the entry point's max_rows).
 * |pos|:      position of the first row in the sequence.
 * |begin|, |end|: the slice [begin, end) of the dispatch's grid[0] work items this call
 *             computes. The runtime splits grid[0] across its threads; calls with disjoint
 *             slices run concurrently and must not write the same bytes.
 * Kernels allocate nothing, take no locks and return only when their slice is done. What each
 * family reads and writes is in docs/kernels.md. */
typedef void (*tern_cpu_kernel_fn)(void* const* bindings, int64_t rows, int64_t pos,
                                   int64_t begin, int64_t end);

/* A CPU kernel library (ELF shared object) also exports this symbol: a uint32_t equal to the
 * TERN_KERNEL_ABI_VERSION it was generated for. */
#define TERN_KERNEL_ABI_VERSION_SYMBOL "tern_kernel_abi_version"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TERN_KERNEL_ABI_H */
