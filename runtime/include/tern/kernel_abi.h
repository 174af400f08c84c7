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

/* Every generated CUDA kernel is a PTX `.entry` named by its symbol (KernelLibrary kind Ptx:
 * the section holds one NUL-terminated PTX module with every kernel) with 64-bit parameters
 *     (binding_0, ..., binding_{n-1}, call)
 * binding_i: the device address of the dispatch's binding i, resolved like a CPU binding but
 *            in device memory: the session's device arena, the model's weight sections
 *            (uploaded once, 256-byte aligned), the layer's device KV cache, the call's token
 *            ids (int32, copied to the device before the call).
 * call:      the device address of a tern_cuda_call_t holding this call's rows and pos. The
 *            runtime writes it before each call (CUDA graphs replay with new values), so no
 *            launch parameter changes from call to call.
 * Launch: KernelDispatch.grid holds six numbers, grid (x, y, z) blocks of (x, y, z) threads,
 * computed by the compiler for the entry point's max_rows; a block with nothing to do for
 * fewer rows returns at once. Kernels use static shared memory only (at most 48 KiB). The
 * dispatches of an entry point run in order on one stream. A `last_row` dispatch gets a call
 * record {1, pos + rows - 1} and its row-indexed arena bindings moved to the last row. */
typedef struct tern_cuda_call_s {
  int64_t rows; /* token rows in this call */
  int64_t pos;  /* position of the first row */
} tern_cuda_call_t;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TERN_KERNEL_ABI_H */
