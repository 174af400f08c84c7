// Plain, obviously-correct implementations of the tern ops; speed is not a goal here.
#include "ReferenceKernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace tern::ref {

void embedding(const float* table, const int32_t* tokens, int64_t rows, int64_t width,
               float* out) {
  for (int64_t t = 0; t < rows; ++t)
    std::memcpy(out + t * width, table + int64_t(tokens[t]) * width, sizeof(float) * width);
}

void positionEmbedding(const float* table, int64_t pos, int64_t rows, int64_t width,
                       float* out) {
  std::memcpy(out, table + pos * width, sizeof(float) * rows * width);
}

void rmsNorm(const float* x, const float* w, int64_t rows, int64_t width, float eps, float* y) {
  for (int64_t t = 0; t < rows; ++t) {
    const float* xr = x + t * width;
    double sumSquares = 0;
    for (int64_t i = 0; i < width; ++i)
      sumSquares += double(xr[i]) * xr[i];
    float inv = float(1.0 / std::sqrt(sumSquares / width + eps));
    for (int64_t i = 0; i < width; ++i)
      y[t * width + i] = xr[i] * inv * w[i];
  }
}

void layerNorm(const float* x, const float* w, const float* b, int64_t rows, int64_t width,
               float eps, float* y) {
  for (int64_t t = 0; t < rows; ++t) {
    const float* xr = x + t * width;
    double sum = 0;
    for (int64_t i = 0; i < width; ++i)
      sum += xr[i];
    const double mean = sum / width;
    // Two passes: the centered sum keeps its precision when |mean| is large against the spread.
    double sumSquares = 0;
    for (int64_t i = 0; i < width; ++i)
      sumSquares += (xr[i] - mean) * (xr[i] - mean);
    const float inv = float(1.0 / std::sqrt(sumSquares / width + eps));
    for (int64_t i = 0; i < width; ++i) {
      const float c = float(xr[i] - mean);
      const float v = c * inv * w[i];
      y[t * width + i] = b ? v + b[i] : v;
    }
  }
}

void quantizeActivations(const float* x, int64_t rows, int64_t width, int8_t* q, float* scale) {
  for (int64_t t = 0; t < rows; ++t) {
    const float* xr = x + t * width;
    float absMax = 0;
    for (int64_t i = 0; i < width; ++i)
      absMax = std::max(absMax, std::fabs(xr[i]));
    float s = 127.0f / std::max(absMax, 1e-5f);
    scale[t] = s;
    for (int64_t i = 0; i < width; ++i) {
      // nearbyint in the default rounding mode rounds half to even, like torch.round.
      float r = std::nearbyint(xr[i] * s);
      q[t * width + i] = int8_t(std::min(127.0f, std::max(-128.0f, r)));
    }
  }
}

void ternaryMatmul(const int8_t* q, const float* qScale, const int8_t* w, const float* wScale,
                   int64_t scaleGroup, bool divideByScale, int64_t rows, int64_t n, int64_t k,
                   float* y) {
  for (int64_t t = 0; t < rows; ++t) {
    const int8_t* qr = q + t * k;
    for (int64_t o = 0; o < n; ++o) {
      const int8_t* wr = w + o * k;
      double sum = 0;
      int64_t i = 0;
      while (i < k) {
        // A scale group never straddles rows except for per-tensor scales, which cover it all.
        int64_t flat = o * k + i;
        int64_t group = flat / scaleGroup;
        int64_t end = std::min(k, (group + 1) * scaleGroup - o * k);
        int32_t acc = 0;
        for (; i < end; ++i)
          acc += int32_t(qr[i]) * wr[i];
        sum += divideByScale ? double(acc) / wScale[group] : double(acc) * wScale[group];
      }
      y[t * n + o] = float(sum / qScale[t]);
    }
  }
}

void quantizedMatmul(const int8_t* q, const float* qScale, const int8_t* codes,
                     const float* blockScales, int64_t block, int64_t rows, int64_t n, int64_t k,
                     float* y) {
  const int64_t blocks = k / block;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t o = 0; o < n; ++o) {
      double sum = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t acc = 0;
        for (int64_t i = b * block; i < (b + 1) * block; ++i)
          acc += int32_t(q[t * k + i]) * codes[o * k + i];
        sum += double(blockScales[o * blocks + b]) * acc;
      }
      y[t * n + o] = float(sum / qScale[t]);
    }
}

void matmul(const float* x, const float* w, int64_t rows, int64_t n, int64_t k, float* y) {
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t o = 0; o < n; ++o) {
      double sum = 0;
      for (int64_t i = 0; i < k; ++i)
        sum += double(x[t * k + i]) * w[o * k + i];
      y[t * n + o] = float(sum);
    }
}

void rope(float* x, int64_t rows, int64_t heads, int64_t headDim, int64_t pos, double theta,
          double freqScale, bool neox) {
  const int64_t half = headDim / 2;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + (t * heads + h) * headDim;
      for (int64_t i = 0; i < half; ++i) {
        double freq = std::pow(theta, -2.0 * double(i) / double(headDim)) * freqScale;
        double angle = double(pos + t) * freq;
        double c = std::cos(angle), s = std::sin(angle);
        int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        double va = v[a], vb = v[b];
        v[a] = float(va * c - vb * s);
        v[b] = float(va * s + vb * c);
      }
    }
}

void kvCacheWrite(const KVCacheLayout& layout, float* kCache, float* vCache, int64_t layer,
                  int64_t pos, int64_t rows, const float* k, const float* v) {
  const int64_t width = layout.rowWidth();
  float* kDst = kCache + layer * layout.layerStride() + pos * width;
  float* vDst = vCache + layer * layout.layerStride() + pos * width;
  std::memcpy(kDst, k, sizeof(float) * rows * width);
  std::memcpy(vDst, v, sizeof(float) * rows * width);
}

void attention(const KVCacheLayout& layout, const float* kCache, const float* vCache,
               int64_t layer, int64_t pos, int64_t rows, int64_t heads, float scale,
               const float* q, double* scratch, float* out) {
  const int64_t d = layout.headDim, width = layout.rowWidth();
  const int64_t group = heads / layout.kvHeads;
  const float* kl = kCache + layer * layout.layerStride();
  const float* vl = vCache + layer * layout.layerStride();
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = 0; h < heads; ++h) {
      const float* qh = q + (t * heads + h) * d;
      const int64_t kvh = h / group, last = pos + t;
      double maxScore = -INFINITY;
      for (int64_t p = 0; p <= last; ++p) {
        const float* kp = kl + p * width + kvh * d;
        double dot = 0;
        for (int64_t i = 0; i < d; ++i)
          dot += double(qh[i]) * kp[i];
        scratch[p] = dot * scale;
        maxScore = std::max(maxScore, scratch[p]);
      }
      double total = 0;
      for (int64_t p = 0; p <= last; ++p)
        total += (scratch[p] = std::exp(scratch[p] - maxScore));
      float* oh = out + (t * heads + h) * d;
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0;
        for (int64_t p = 0; p <= last; ++p)
          acc += scratch[p] * vl[p * width + kvh * d + i];
        oh[i] = float(acc / total);
      }
    }
}

void relu(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu2(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    float r = std::max(x[i], 0.0f);
    out[i] = r * r;
  }
}

void silu(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = float(double(x[i]) / (1.0 + std::exp(-double(x[i]))));
}

void gelu(const float* x, int64_t n, float* out) {
  const double c = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; ++i) {
    double v = x[i];
    out[i] = float(0.5 * v * (1.0 + std::tanh(c * (v + 0.044715 * v * v * v))));
  }
}

void mul(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = a[i] * b[i];
}

void add(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = a[i] + b[i];
}

void biasAdd(const float* x, const float* bias, int64_t rows, int64_t width, float* out) {
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t i = 0; i < width; ++i)
      out[t * width + i] = x[t * width + i] + bias[i];
}

void ropeFromTable(float* x, int64_t rows, int64_t heads, int64_t headDim, int64_t stride,
                   int64_t pos, const float* table, bool neox) {
  const int64_t half = headDim / 2;
  for (int64_t t = 0; t < rows; ++t) {
    const float* angles = table + (pos + t) * half * 2;
    for (int64_t h = 0; h < heads; ++h) {
      float* v = x + t * stride + h * headDim;
      for (int64_t i = 0; i < half; ++i) {
        const float c = angles[2 * i], s = angles[2 * i + 1];
        int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const float va = v[a], vb = v[b];
        v[a] = va * c - vb * s;
        v[b] = va * s + vb * c;
      }
    }
  }
}

void attentionHeads(const float* kCache, const float* vCache, int64_t kvHeads, int64_t headDim,
                    int64_t heads, int64_t headBegin, int64_t headEnd, int64_t pos, int64_t rows,
                    float scale, const float* q, int64_t qStride, double* scratch, float* out) {
  const int64_t d = headDim, width = kvHeads * headDim;
  const int64_t group = heads / kvHeads;
  for (int64_t t = 0; t < rows; ++t)
    for (int64_t h = headBegin; h < headEnd; ++h) {
      const float* qh = q + t * qStride + h * d;
      const int64_t kvh = h / group, last = pos + t;
      double maxScore = -INFINITY;
      for (int64_t p = 0; p <= last; ++p) {
        const float* kp = kCache + p * width + kvh * d;
        double dot = 0;
        for (int64_t i = 0; i < d; ++i)
          dot += double(qh[i]) * kp[i];
        scratch[p] = dot * scale;
        maxScore = std::max(maxScore, scratch[p]);
      }
      double total = 0;
      for (int64_t p = 0; p <= last; ++p)
        total += (scratch[p] = std::exp(scratch[p] - maxScore));
      float* oh = out + (t * heads + h) * d;
      for (int64_t i = 0; i < d; ++i) {
        double acc = 0;
        for (int64_t p = 0; p <= last; ++p)
          acc += scratch[p] * vCache[p * width + kvh * d + i];
        oh[i] = float(acc / total);
      }
    }
}

}  // namespace tern::ref
