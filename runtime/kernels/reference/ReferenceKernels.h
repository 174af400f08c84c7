// Reference kernels: plain C++ twins of every tern op, for differential tests and
// `--kernels=reference`. Row-major buffers; rows are tokens.
#ifndef TERN_RUNTIME_KERNELS_REFERENCE_REFERENCEKERNELS_H
#define TERN_RUNTIME_KERNELS_REFERENCE_REFERENCEKERNELS_H

#include <cstdint>

namespace tern::ref {

// tern.embedding: out[t] = table[tokens[t]]. Callers check token ids against the vocabulary.
void embedding(const float* table,     // (vocab, width)
               const int32_t* tokens,  // (rows)
               int64_t rows, int64_t width,
               float* out);            // (rows, width)

// tern.position_embedding: out[t] = table[pos + t]. Callers keep pos + rows within the table.
void positionEmbedding(const float* table,  // (positions, width)
                       int64_t pos, int64_t rows, int64_t width,
                       float* out);         // (rows, width)

// tern.rms_norm: y = x / sqrt(mean(x^2) + eps) * w, accumulated in double.
void rmsNorm(const float* x,  // (rows, width)
             const float* w,  // (width)
             int64_t rows, int64_t width, float eps,
             float* y);       // (rows, width); may alias x

// tern.layer_norm: mu = mean(x) and var = mean((x - mu)^2) in double; c = float(x - mu) (the
// difference in double, rounded once); inv = float(1 / sqrt(var + eps));
// y = c * inv * w (+ b), in float in that order. |b| may be null (no bias).
void layerNorm(const float* x,  // (rows, width)
               const float* w,  // (width)
               const float* b,  // (width) or null
               int64_t rows, int64_t width, float eps,
               float* y);       // (rows, width); may alias x

// tern.quantize_act: s = 127 / max(max|x|, 1e-5); q = clamp(round(x * s), -128, 127), rounding
// half to even as torch.round does.
void quantizeActivations(const float* x,  // (rows, width)
                         int64_t rows, int64_t width,
                         int8_t* q,       // (rows, width)
                         float* scale);   // (rows)

// tern.ternary_matmul: y[t][n] = sum over scale groups g of (int32 dot of q[t] and w[n] over g)
// * wScale[g] / qScale[t]; with |divideByScale| the group scale divides instead.
// Scale groups are |scaleGroup| consecutive weights in row-major order (n*k for per-tensor).
void ternaryMatmul(const int8_t* q,       // (rows, k)
                   const float* qScale,   // (rows)
                   const int8_t* w,       // (n, k), each -1, 0 or 1
                   const float* wScale,   // (n * k / scaleGroup)
                   int64_t scaleGroup, bool divideByScale,
                   int64_t rows, int64_t n, int64_t k,
                   float* y);             // (rows, n)

// tern.logits with a block-quantized lm_head (the `quantized_matmul` family): weight o is
// codes[o][i] * blockScales[o][i / block]; y[t][o] = sum over blocks b of blockScales[o][b] *
// (exact int32 dot of q[t] and codes[o] over block b), accumulated in double, / qScale[t].
void quantizedMatmul(const int8_t* q,            // (rows, k)
                     const float* qScale,        // (rows)
                     const int8_t* codes,        // (n, k)
                     const float* blockScales,   // (n, k / block)
                     int64_t block, int64_t rows, int64_t n, int64_t k,
                     float* y);                  // (rows, n)

// tern.matmul / tern.logits: y = x W^T, accumulated in double.
void matmul(const float* x,  // (rows, k)
            const float* w,  // (n, k)
            int64_t rows, int64_t n, int64_t k,
            float* y);       // (rows, n)

// tern.rope in place. Row t is position |pos| + t; frequency i of a head is
// theta^(-2i/headDim) * freqScale. |neox| pairs (i, i + d/2); otherwise (2i, 2i + 1).
void rope(float* x,  // (rows, heads * headDim)
          int64_t rows, int64_t heads, int64_t headDim, int64_t pos,
          double theta, double freqScale, bool neox);

struct KVCacheLayout {
  int64_t layers, context, kvHeads, headDim;
  int64_t rowWidth() const { return kvHeads * headDim; }
  int64_t layerStride() const { return context * rowWidth(); }
};

// tern.kv_cache_write: rows of k and v go to positions pos..pos+rows-1 of |layer|.
void kvCacheWrite(const KVCacheLayout& layout,
                  float* kCache, float* vCache,  // (layers, context, kvHeads * headDim)
                  int64_t layer, int64_t pos, int64_t rows,
                  const float* k, const float* v);  // (rows, kvHeads * headDim)

// tern.attention: causal grouped-query attention; query row t (position pos + t) attends to
// cache positions 0..pos+t; head h reads kv head h / (heads / kvHeads). Softmax in double.
void attention(const KVCacheLayout& layout,
               const float* kCache, const float* vCache,
               int64_t layer, int64_t pos, int64_t rows, int64_t heads, float scale,
               const float* q,   // (rows, heads * headDim)
               double* scratch,  // (context)
               float* out);      // (rows, heads * headDim)

// Elementwise ops over |n| values; out may alias an input.
void relu(const float* x, int64_t n, float* out);  // x > 0 ? x : +0 (-0 and NaN give +0)
void relu2(const float* x, int64_t n, float* out);
void silu(const float* x, int64_t n, float* out);
void gelu(const float* x, int64_t n, float* out);  // tanh approximation
void mul(const float* a, const float* b, int64_t n, float* out);
void add(const float* a, const float* b, int64_t n, float* out);

// tern.bias_add: out[t][j] = x[t][j] + bias[j]; out may alias x.
void biasAdd(const float* x,     // (rows, width)
             const float* bias,  // (width)
             int64_t rows, int64_t width,
             float* out);        // (rows, width)

// tern.rope from a precomputed table, as the `rope` kernel family runs it: row t (position
// pos + t) of |x| starts at x + t * stride; pair i of each head rotates by table[pos + t][i].
void ropeFromTable(float* x,            // (rows, heads * headDim), row stride |stride|
                   int64_t rows, int64_t heads, int64_t headDim, int64_t stride, int64_t pos,
                   const float* table,  // (context, headDim / 2, 2) of (cos, sin)
                   bool neox);

// tern.attention for heads [headBegin, headEnd) over one layer's cache, with strided queries:
// the `attention` kernel family. Same arithmetic as attention() above.
void attentionHeads(const float* kCache, const float* vCache,  // (context, kvHeads * headDim)
                    int64_t kvHeads, int64_t headDim, int64_t heads, int64_t headBegin,
                    int64_t headEnd, int64_t pos, int64_t rows, float scale,
                    const float* q,  // (rows, heads * headDim), row stride |qStride|
                    int64_t qStride,
                    double* scratch,  // (pos + rows)
                    float* out);      // (rows, heads * headDim)

}  // namespace tern::ref

#endif
