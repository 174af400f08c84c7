// The tiny executor test model's kernels (tests/executor/TinyKernels.c) for the cuda device,
// following kernel_abi.h: 64-bit binding addresses, then the call record. One block; its
// threads split each row's elements. tiny_kernels.ptx is this file compiled with
//   nvcc -ptx -arch=compute_80 -o tiny_kernels.ptx tiny_kernels.cu
// and its `.version` lowered to 7.0 (it uses nothing newer), so that drivers from CUDA 11 on
// load it; ptxas accepts it for sm_80 and sm_90.
#include <stdint.h>

struct Call {
  int64_t rows;
  int64_t pos;
};

#define VOCAB 16
#define WIDTH 8

// table f32 (16, 8); tokens int32 (rows); out (rows, 8)
extern "C" __global__ void tiny_embedding(const float *table, const int32_t *tokens, float *out,
                                          const Call *call) {
  for (int64_t t = 0; t < call->rows; ++t)
    for (int i = threadIdx.x; i < WIDTH; i += blockDim.x)
      out[t * WIDTH + i] = table[tokens[t] * WIDTH + i];
}

// x (rows, 8); w f32 (8); y (rows, 8); eps 1e-5. Every thread sums the row itself, in the
// order the C kernel does.
extern "C" __global__ void tiny_rms_norm(const float *x, const float *w, float *y,
                                         const Call *call) {
  for (int64_t t = 0; t < call->rows; ++t) {
    float sum = 0;
    for (int i = 0; i < WIDTH; ++i)
      sum += x[t * WIDTH + i] * x[t * WIDTH + i];
    const float inv = 1.0f / sqrtf(sum / WIDTH + 1e-5f);
    for (int i = threadIdx.x; i < WIDTH; i += blockDim.x)
      y[t * WIDTH + i] = x[t * WIDTH + i] * inv * w[i];
  }
}

// x (rows, 8); w f32 (16, 8); y (rows, 16)
extern "C" __global__ void tiny_matmul(const float *x, const float *w, float *y,
                                       const Call *call) {
  for (int64_t t = 0; t < call->rows; ++t)
    for (int o = threadIdx.x; o < VOCAB; o += blockDim.x) {
      float acc = 0;
      for (int i = 0; i < WIDTH; ++i)
        acc += x[t * WIDTH + i] * w[o * WIDTH + i];
      y[t * VOCAB + o] = acc;
    }
}

// k (rows, 8); v (rows, 8); key and value caches (context, 8): rows go to positions pos..
extern "C" __global__ void tiny_kv_cache_write(const float *k, const float *v, float *kCache,
                                               float *vCache, const Call *call) {
  for (int64_t t = 0; t < call->rows; ++t)
    for (int i = threadIdx.x; i < WIDTH; i += blockDim.x) {
      kCache[(call->pos + t) * WIDTH + i] = k[t * WIDTH + i];
      vCache[(call->pos + t) * WIDTH + i] = v[t * WIDTH + i];
    }
}
