/* Stand-in for a generated CPU kernel library: the tiny test model's kernels, specialised on
 * its shapes (vocab 16, width 8, n_block 4) the way generated code is. */
#include <math.h>
#include <stdint.h>

#ifndef TINY_ABI_VERSION
#define TINY_ABI_VERSION 1u
#endif

#define VOCAB 16
#define WIDTH 8
#define N_BLOCK 4

__attribute__((visibility("default"))) const uint32_t tern_kernel_abi_version = TINY_ABI_VERSION;

/* table f32 (16, 8); tokens int32 (rows); out (rows, 8) */
__attribute__((visibility("default"))) void tiny_embedding(void *const *b, int64_t rows,
                                                           int64_t pos, int64_t begin,
                                                           int64_t end) {
  const float *table = (const float *)b[0];
  const int32_t *tokens = (const int32_t *)b[1];
  float *out = (float *)b[2];
  (void)pos, (void)begin, (void)end;
  for (int64_t t = 0; t < rows; ++t)
    for (int i = 0; i < WIDTH; ++i)
      out[t * WIDTH + i] = table[tokens[t] * WIDTH + i];
}

/* x (rows, 8); w f32 (8); y (rows, 8); eps 1e-5 */
__attribute__((visibility("default"))) void tiny_rms_norm(void *const *b, int64_t rows,
                                                          int64_t pos, int64_t begin,
                                                          int64_t end) {
  const float *x = (const float *)b[0], *w = (const float *)b[1];
  float *y = (float *)b[2];
  (void)pos, (void)begin, (void)end;
  for (int64_t t = 0; t < rows; ++t) {
    float sum = 0;
    for (int i = 0; i < WIDTH; ++i)
      sum += x[t * WIDTH + i] * x[t * WIDTH + i];
    float inv = 1.0f / sqrtf(sum / WIDTH + 1e-5f);
    for (int i = 0; i < WIDTH; ++i)
      y[t * WIDTH + i] = x[t * WIDTH + i] * inv * w[i];
  }
}

/* x (rows, 8); w f32 (16, 8); y (rows, 16); columns [begin * 4, end * 4) */
__attribute__((visibility("default"))) void tiny_matmul(void *const *b, int64_t rows,
                                                        int64_t pos, int64_t begin,
                                                        int64_t end) {
  const float *x = (const float *)b[0], *w = (const float *)b[1];
  float *y = (float *)b[2];
  (void)pos;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t o = begin * N_BLOCK; o < end * N_BLOCK; ++o) {
      float acc = 0;
      for (int i = 0; i < WIDTH; ++i)
        acc += x[t * WIDTH + i] * w[o * WIDTH + i];
      y[t * VOCAB + o] = acc;
    }
}

/* k (rows, 8); v (rows, 8); key and value caches (context, 8): rows go to positions pos.. */
__attribute__((visibility("default"))) void tiny_kv_cache_write(void *const *b, int64_t rows,
                                                                int64_t pos, int64_t begin,
                                                                int64_t end) {
  const float *k = (const float *)b[0], *v = (const float *)b[1];
  float *kCache = (float *)b[2], *vCache = (float *)b[3];
  (void)begin, (void)end;
  for (int64_t t = 0; t < rows; ++t)
    for (int i = 0; i < WIDTH; ++i) {
      kCache[(pos + t) * WIDTH + i] = k[t * WIDTH + i];
      vCache[(pos + t) * WIDTH + i] = v[t * WIDTH + i];
    }
}
