/* A stand-in for the NVIDIA driver library (libcuda.so.1) for tests without a GPU: the driver
 * functions the runtime's cuda device calls, on host memory, running the tiny test model's C
 * kernels (tests/executor/TinyKernels.c) where a GPU would run their PTX. Stream work runs at
 * once; a stream being captured records launches only. It checks what a real driver checks
 * and a wrong runtime would trip over: a current context for every call that needs one,
 * launch parameters that point into live device allocations, copies inside them, no copies,
 * events or synchronization while capturing. Environment knobs:
 *   FAKE_CUDA_COMPUTE_CAPABILITY  "90" (default) is 9.0
 *   FAKE_CUDA_MAX_THREADS         most threads per block of every kernel (default 1024)
 *   FAKE_CUDA_FAIL                a driver function that fails: cuInit (no device),
 *                                 cuModuleLoadDataEx (invalid PTX, with a JIT log),
 *                                 cuMemAlloc_v2 (out of memory), cuLaunchKernel (launch failure)
 * fake_cuda_counters() reports what happened and fake_cuda_take_launches() which kernels ran
 * with which call record, for the tests' checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API __attribute__((visibility("default")))

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void (*Kernel)(void *const *bindings, int64_t rows, int64_t pos, int64_t begin,
                       int64_t end);

enum {
  SUCCESS = 0,
  INVALID_VALUE = 1,
  OUT_OF_MEMORY = 2,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_CONTEXT = 201,
  INVALID_PTX = 218,
  INVALID_HANDLE = 400,
  NOT_FOUND = 500,
  ILLEGAL_ADDRESS = 700,
  LAUNCH_FAILED = 719,
  CAPTURE_UNSUPPORTED = 900,
};

/* The tiny model's kernels (TinyKernels.c, linked in). */
void tiny_embedding(void *const *, int64_t, int64_t, int64_t, int64_t);
void tiny_rms_norm(void *const *, int64_t, int64_t, int64_t, int64_t);
void tiny_matmul(void *const *, int64_t, int64_t, int64_t, int64_t);
void tiny_kv_cache_write(void *const *, int64_t, int64_t, int64_t, int64_t);

static const struct KnownKernel {
  const char *name;
  Kernel kernel;
  int bindings;
  int64_t items; /* the C kernel's work items: all of them in one call */
} kKernels[] = {
    {"tiny_embedding", tiny_embedding, 3, 1},
    {"tiny_rms_norm", tiny_rms_norm, 3, 1},
    {"tiny_matmul", tiny_matmul, 3, 4},
    {"tiny_kv_cache_write", tiny_kv_cache_write, 4, 1},
};

typedef struct Counters {
  uint64_t launches;        /* kernels run, directly or by a graph */
  uint64_t direct_launches; /* cuLaunchKernel outside a capture */
  uint64_t graph_launches;
  uint64_t graphs_instantiated;
  uint64_t device_allocations; /* cuMemAlloc_v2 calls */
  uint64_t host_allocations;   /* cuMemHostAlloc calls */
  int64_t live_allocations;    /* device and pinned memory not yet freed */
  int64_t live_contexts;       /* primary context retains not yet released */
  int64_t live_modules;
  int64_t live_streams;
  int64_t live_events;
  int64_t live_graphs;         /* executable graphs not yet destroyed */
} Counters;

static Counters counters;

API void fake_cuda_counters(Counters *out) { *out = counters; }

/* The kernels run since the last fake_cuda_take_launches, with the call record each read. */
typedef struct LoggedLaunch {
  const char *kernel;
  int64_t rows, pos;
} LoggedLaunch;

#define MAX_LOGGED 256
static LoggedLaunch logged[MAX_LOGGED];
static size_t loggedCount;

API size_t fake_cuda_take_launches(LoggedLaunch *out, size_t capacity) {
  const size_t count = loggedCount < capacity ? loggedCount : capacity;
  memcpy(out, logged, count * sizeof(LoggedLaunch));
  loggedCount = 0;
  return count;
}

static int fails(const char *function) {
  const char *name = getenv("FAKE_CUDA_FAIL");
  return name && strcmp(name, function) == 0;
}

/* Contexts: one primary context; a thread-local stack of current ones. */
static char primaryContext;
static __thread int currentDepth;
#define NEED_CONTEXT()                                                                          \
  do {                                                                                          \
    if (currentDepth == 0)                                                                      \
      return INVALID_CONTEXT;                                                                   \
  } while (0)

/* Device allocations, to check that kernels and copies stay inside them. */
#define MAX_ALLOCATIONS 256
static struct {
  uintptr_t base;
  size_t size;
} allocations[MAX_ALLOCATIONS];

static int inside(uintptr_t address, size_t bytes) {
  for (int i = 0; i < MAX_ALLOCATIONS; ++i)
    if (allocations[i].base && address >= allocations[i].base &&
        address + bytes <= allocations[i].base + allocations[i].size)
      return 1;
  return 0;
}

typedef struct Function {
  const struct KnownKernel *known; /* NULL: in the module but not a kernel the fake can run */
} Function;

typedef struct Module {
  char *text;
  Function functions[sizeof(kKernels) / sizeof(kKernels[0])];
} Module;

/* One launch as recorded: the function, geometry and parameter values (as a real capture keeps
 * them). */
typedef struct Recorded {
  const Function *function;
  unsigned grid[3], block[3];
  CUdeviceptr params[8];
} Recorded;

typedef struct Graph {
  Recorded *launches;
  size_t count, capacity;
} Graph;

typedef struct Stream {
  Graph *capture; /* non-null while capturing */
  int invalidated;
} Stream;

typedef struct Event {
  double seconds;
  int recorded;
} Event;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- errors, initialisation, devices, contexts ---------------------------------------- */

static const struct {
  CUresult code;
  const char *name, *text;
} kErrors[] = {
    {SUCCESS, "CUDA_SUCCESS", "no error"},
    {INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
};

API CUresult cuGetErrorName(CUresult error, const char **name) {
  for (size_t i = 0; i < sizeof(kErrors) / sizeof(kErrors[0]); ++i)
    if (kErrors[i].code == error) {
      *name = kErrors[i].name;
      return SUCCESS;
    }
  *name = NULL;
  return INVALID_VALUE;
}

API CUresult cuGetErrorString(CUresult error, const char **text) {
  for (size_t i = 0; i < sizeof(kErrors) / sizeof(kErrors[0]); ++i)
    if (kErrors[i].code == error) {
      *text = kErrors[i].text;
      return SUCCESS;
    }
  *text = NULL;
  return INVALID_VALUE;
}

API CUresult cuInit(unsigned flags) {
  if (flags != 0)
    return INVALID_VALUE;
  return fails("cuInit") ? NO_DEVICE : SUCCESS;
}

API CUresult cuDriverGetVersion(int *version) {
  *version = 12040;
  return SUCCESS;
}

API CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return SUCCESS;
}

API CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return INVALID_DEVICE;
  *device = 0;
  return SUCCESS;
}

API CUresult cuDeviceGetName(char *name, int length, CUdevice device) {
  if (device != 0 || length < 1)
    return INVALID_VALUE;
  snprintf(name, (size_t)length, "Fake CUDA Device");
  return SUCCESS;
}

API CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice device) {
  const char *capability = getenv("FAKE_CUDA_COMPUTE_CAPABILITY");
  const int packed = capability ? atoi(capability) : 90;
  if (device != 0)
    return INVALID_DEVICE;
  if (attribute == 75) /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
    *value = packed / 10;
  else if (attribute == 76) /* ..._MINOR */
    *value = packed % 10;
  else
    return INVALID_VALUE;
  return SUCCESS;
}

API CUresult cuDevicePrimaryCtxRetain(void **context, CUdevice device) {
  if (device != 0)
    return INVALID_DEVICE;
  *context = &primaryContext;
  counters.live_contexts += 1;
  return SUCCESS;
}

API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  if (device != 0 || counters.live_contexts == 0)
    return INVALID_CONTEXT;
  counters.live_contexts -= 1;
  return SUCCESS;
}

API CUresult cuCtxPushCurrent_v2(void *context) {
  if (context != &primaryContext || counters.live_contexts == 0)
    return INVALID_CONTEXT;
  currentDepth += 1;
  return SUCCESS;
}

API CUresult cuCtxPopCurrent_v2(void **context) {
  if (currentDepth == 0)
    return INVALID_CONTEXT;
  currentDepth -= 1;
  if (context)
    *context = &primaryContext;
  return SUCCESS;
}

API CUresult cuCtxSynchronize(void) {
  NEED_CONTEXT();
  return SUCCESS;
}

API CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  NEED_CONTEXT();
  *free = (size_t)1 << 30;
  *total = (size_t)2 << 30;
  return SUCCESS;
}

/* ---- modules ------------------------------------------------------------------------- */

API CUresult cuModuleLoadDataEx(Module **module, const void *image, unsigned count,
                                int *options, void **values) {
  NEED_CONTEXT();
  const char *text = (const char *)image;
  const int broken = fails("cuModuleLoadDataEx") || !strstr(text, ".version") ||
                     !strstr(text, ".entry");
  for (unsigned i = 0; i < count; ++i)
    if (options[i] == 5 /* CU_JIT_ERROR_LOG_BUFFER */ && broken) {
      size_t size = 0;
      for (unsigned j = 0; j < count; ++j)
        if (options[j] == 6 /* ..._SIZE_BYTES */)
          size = (size_t)(uintptr_t)values[j];
      if (size > 0)
        snprintf((char *)values[i], size, "ptxas fatal   : fake JIT failure in this image\n");
    }
  if (broken)
    return INVALID_PTX;
  Module *m = calloc(1, sizeof(Module));
  m->text = strdup(text);
  *module = m;
  counters.live_modules += 1;
  return SUCCESS;
}

API CUresult cuModuleUnload(Module *module) {
  NEED_CONTEXT();
  free(module->text);
  free(module);
  counters.live_modules -= 1;
  return SUCCESS;
}

API CUresult cuModuleGetFunction(Function **function, Module *module, const char *name) {
  NEED_CONTEXT();
  char pattern[256];
  snprintf(pattern, sizeof(pattern), ".entry %s(", name);
  if (!strstr(module->text, pattern))
    return NOT_FOUND;
  for (size_t i = 0; i < sizeof(kKernels) / sizeof(kKernels[0]); ++i)
    if (strcmp(kKernels[i].name, name) == 0) {
      module->functions[i].known = &kKernels[i];
      *function = &module->functions[i];
      return SUCCESS;
    }
  /* An entry the fake cannot run: a handle that fails when launched. */
  static Function unknown;
  *function = &unknown;
  return SUCCESS;
}

API CUresult cuFuncGetAttribute(int *value, int attribute, Function *function) {
  const char *most = getenv("FAKE_CUDA_MAX_THREADS");
  (void)function;
  if (attribute != 0) /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK */
    return INVALID_VALUE;
  *value = most ? atoi(most) : 1024;
  return SUCCESS;
}

/* ---- memory -------------------------------------------------------------------------- */

API CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  NEED_CONTEXT();
  if (bytes == 0)
    return INVALID_VALUE;
  if (fails("cuMemAlloc_v2"))
    return OUT_OF_MEMORY;
  for (int i = 0; i < MAX_ALLOCATIONS; ++i)
    if (!allocations[i].base) {
      void *memory = aligned_alloc(256, (bytes + 255) / 256 * 256);
      /* Garbage, as device memory is: the runtime must not rely on zeroed allocations. */
      memset(memory, 0xa5, bytes);
      allocations[i].base = (uintptr_t)memory;
      allocations[i].size = bytes;
      *pointer = (CUdeviceptr)(uintptr_t)memory;
      counters.device_allocations += 1;
      counters.live_allocations += 1;
      return SUCCESS;
    }
  return OUT_OF_MEMORY;
}

API CUresult cuMemFree_v2(CUdeviceptr pointer) {
  NEED_CONTEXT();
  for (int i = 0; i < MAX_ALLOCATIONS; ++i)
    if (allocations[i].base == (uintptr_t)pointer) {
      free((void *)allocations[i].base);
      allocations[i].base = 0;
      counters.live_allocations -= 1;
      return SUCCESS;
    }
  return INVALID_VALUE;
}

API CUresult cuMemsetD8_v2(CUdeviceptr pointer, unsigned char value, size_t bytes) {
  NEED_CONTEXT();
  if (!inside((uintptr_t)pointer, bytes))
    return INVALID_VALUE;
  memset((void *)(uintptr_t)pointer, value, bytes);
  return SUCCESS;
}

API CUresult cuMemcpyHtoD_v2(CUdeviceptr destination, const void *source, size_t bytes) {
  NEED_CONTEXT();
  if (!inside((uintptr_t)destination, bytes))
    return INVALID_VALUE;
  memcpy((void *)(uintptr_t)destination, source, bytes);
  return SUCCESS;
}

static CUresult streamOperation(Stream *stream) {
  if (stream->capture) {
    stream->invalidated = 1; /* as a real capture is, by an operation it cannot take */
    return CAPTURE_UNSUPPORTED;
  }
  return SUCCESS;
}

API CUresult cuMemsetD8Async(CUdeviceptr pointer, unsigned char value, size_t bytes,
                             Stream *stream) {
  NEED_CONTEXT();
  CUresult status = streamOperation(stream);
  if (status)
    return status;
  if (!inside((uintptr_t)pointer, bytes))
    return INVALID_VALUE;
  memset((void *)(uintptr_t)pointer, value, bytes);
  return SUCCESS;
}

API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr destination, const void *source, size_t bytes,
                                  Stream *stream) {
  NEED_CONTEXT();
  CUresult status = streamOperation(stream);
  if (status)
    return status;
  if (!inside((uintptr_t)destination, bytes))
    return INVALID_VALUE;
  memcpy((void *)(uintptr_t)destination, source, bytes);
  return SUCCESS;
}

API CUresult cuMemcpyDtoHAsync_v2(void *destination, CUdeviceptr source, size_t bytes,
                                  Stream *stream) {
  NEED_CONTEXT();
  CUresult status = streamOperation(stream);
  if (status)
    return status;
  if (!inside((uintptr_t)source, bytes))
    return INVALID_VALUE;
  memcpy(destination, (const void *)(uintptr_t)source, bytes);
  return SUCCESS;
}

API CUresult cuMemHostAlloc(void **pointer, size_t bytes, unsigned flags) {
  NEED_CONTEXT();
  if (flags > 7)
    return INVALID_VALUE;
  *pointer = calloc(1, bytes);
  counters.host_allocations += 1;
  counters.live_allocations += 1;
  return SUCCESS;
}

API CUresult cuMemFreeHost(void *pointer) {
  NEED_CONTEXT();
  free(pointer);
  counters.live_allocations -= 1;
  return SUCCESS;
}

/* ---- streams, graphs, launches ------------------------------------------------------- */

API CUresult cuStreamCreate(Stream **stream, unsigned flags) {
  NEED_CONTEXT();
  if (flags > 1)
    return INVALID_VALUE;
  *stream = calloc(1, sizeof(Stream));
  counters.live_streams += 1;
  return SUCCESS;
}

API CUresult cuStreamDestroy_v2(Stream *stream) {
  NEED_CONTEXT();
  if (stream->capture)
    return INVALID_HANDLE;
  free(stream);
  counters.live_streams -= 1;
  return SUCCESS;
}

API CUresult cuStreamSynchronize(Stream *stream) {
  NEED_CONTEXT();
  return streamOperation(stream);
}

API CUresult cuStreamBeginCapture_v2(Stream *stream, int mode) {
  NEED_CONTEXT();
  if (stream->capture || mode < 0 || mode > 2)
    return INVALID_VALUE;
  stream->capture = calloc(1, sizeof(Graph));
  stream->invalidated = 0;
  return SUCCESS;
}

static void freeGraph(Graph *graph) {
  free(graph->launches);
  free(graph);
}

API CUresult cuStreamEndCapture(Stream *stream, Graph **graph) {
  NEED_CONTEXT();
  if (!stream->capture)
    return INVALID_VALUE;
  Graph *captured = stream->capture;
  stream->capture = NULL;
  if (stream->invalidated) {
    freeGraph(captured);
    *graph = NULL;
    return CAPTURE_UNSUPPORTED;
  }
  *graph = captured;
  return SUCCESS;
}

API CUresult cuGraphInstantiateWithFlags(Graph **exec, Graph *graph, unsigned long long flags) {
  NEED_CONTEXT();
  if (flags != 0)
    return INVALID_VALUE;
  Graph *copy = calloc(1, sizeof(Graph));
  copy->count = copy->capacity = graph->count;
  copy->launches = malloc(sizeof(Recorded) * (graph->count ? graph->count : 1));
  memcpy(copy->launches, graph->launches, sizeof(Recorded) * graph->count);
  *exec = copy;
  counters.graphs_instantiated += 1;
  counters.live_graphs += 1;
  return SUCCESS;
}

API CUresult cuGraphDestroy(Graph *graph) {
  freeGraph(graph);
  return SUCCESS;
}

API CUresult cuGraphExecDestroy(Graph *exec) {
  freeGraph(exec);
  counters.live_graphs -= 1;
  return SUCCESS;
}

/* Runs one launch now: its bindings must lie in device memory, its call record too. */
static CUresult run(const Recorded *launch) {
  const struct KnownKernel *known = launch->function->known;
  if (!known)
    return LAUNCH_FAILED;
  void *bindings[8];
  for (int i = 0; i < known->bindings; ++i) {
    if (!inside((uintptr_t)launch->params[i], 4))
      return ILLEGAL_ADDRESS;
    bindings[i] = (void *)(uintptr_t)launch->params[i];
  }
  const CUdeviceptr call = launch->params[known->bindings];
  if (!inside((uintptr_t)call, 2 * sizeof(int64_t)))
    return ILLEGAL_ADDRESS;
  const int64_t *record = (const int64_t *)(uintptr_t)call; /* tern_cuda_call_t: rows, pos */
  if (record[0] < 1 || record[1] < 0)
    return ILLEGAL_ADDRESS;
  known->kernel(bindings, record[0], record[1], 0, known->items);
  counters.launches += 1;
  if (loggedCount < MAX_LOGGED)
    logged[loggedCount++] = (LoggedLaunch){known->name, record[0], record[1]};
  return SUCCESS;
}

API CUresult cuLaunchKernel(Function *function, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, unsigned shared,
                            Stream *stream, void **params, void **extra) {
  NEED_CONTEXT();
  if (!gx || !gy || !gz || !bx || !by || !bz || bx * by * bz > 1024 || shared != 0 || extra)
    return INVALID_VALUE;
  if (fails("cuLaunchKernel"))
    return LAUNCH_FAILED;
  Recorded launch = {function, {gx, gy, gz}, {bx, by, bz}, {0}};
  const int count = function->known ? function->known->bindings + 1 : 0;
  for (int i = 0; i < count; ++i)
    launch.params[i] = *(const CUdeviceptr *)params[i];
  if (stream->capture) {
    Graph *graph = stream->capture;
    if (graph->count == graph->capacity) {
      graph->capacity = graph->capacity ? 2 * graph->capacity : 8;
      graph->launches = realloc(graph->launches, sizeof(Recorded) * graph->capacity);
    }
    graph->launches[graph->count++] = launch;
    return SUCCESS;
  }
  counters.direct_launches += 1;
  return run(&launch);
}

/* The launch configuration cuLaunchKernelEx takes: only the programmatic-serialization
 * attribute (id 6) is accepted; the launch is then an ordinary one, since the fake runs kernels
 * one after another anyway. */
typedef struct {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int programmatic;
  } value;
} LaunchAttribute;
typedef struct {
  unsigned gx, gy, gz, bx, by, bz, shared;
  Stream *stream;
  LaunchAttribute *attrs;
  unsigned num_attrs;
} LaunchConfig;

API CUresult cuLaunchKernelEx(const LaunchConfig *config, Function *function, void **params,
                              void **extra) {
  NEED_CONTEXT();
  if (!config || config->num_attrs > 1 || (config->num_attrs && config->attrs->id != 6))
    return INVALID_VALUE;
  return cuLaunchKernel(function, config->gx, config->gy, config->gz, config->bx, config->by,
                        config->bz, config->shared, config->stream, params, extra);
}

API CUresult cuGraphLaunch(Graph *exec, Stream *stream) {
  NEED_CONTEXT();
  CUresult status = streamOperation(stream);
  if (status)
    return status;
  counters.graph_launches += 1;
  for (size_t i = 0; i < exec->count; ++i)
    if ((status = run(&exec->launches[i])) != SUCCESS)
      return status;
  return SUCCESS;
}

/* ---- events -------------------------------------------------------------------------- */

API CUresult cuEventCreate(Event **event, unsigned flags) {
  NEED_CONTEXT();
  if (flags > 15)
    return INVALID_VALUE;
  *event = calloc(1, sizeof(Event));
  counters.live_events += 1;
  return SUCCESS;
}

API CUresult cuEventDestroy_v2(Event *event) {
  NEED_CONTEXT();
  free(event);
  counters.live_events -= 1;
  return SUCCESS;
}

API CUresult cuEventRecord(Event *event, Stream *stream) {
  NEED_CONTEXT();
  CUresult status = streamOperation(stream);
  if (status)
    return status;
  event->seconds = now();
  event->recorded = 1;
  return SUCCESS;
}

API CUresult cuEventElapsedTime(float *milliseconds, Event *start, Event *end) {
  NEED_CONTEXT();
  if (!start->recorded || !end->recorded)
    return INVALID_HANDLE;
  *milliseconds = (float)((end->seconds - start->seconds) * 1e3);
  return SUCCESS;
}
