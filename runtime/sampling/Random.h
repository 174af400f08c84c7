// A seeded PRNG whose stream is identical on every platform (xoshiro256** seeded by splitmix64).
#ifndef TERN_SAMPLING_RANDOM_H
#define TERN_SAMPLING_RANDOM_H

#include <cstdint>

namespace tern {

// The C++ <random> engines are portable but their distributions are not, so the sampler draws
// from this generator and converts bits to doubles itself.
class Random {
public:
  explicit Random(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed) {
    // splitmix64 spreads any seed, including 0, over the 256-bit state (never all zero).
    for (uint64_t& word : state) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  uint64_t next() {
    uint64_t result = rotl(state[1] * 5, 7) * 9;
    uint64_t t = state[1] << 17;
    state[2] ^= state[0];
    state[3] ^= state[1];
    state[1] ^= state[2];
    state[0] ^= state[3];
    state[2] ^= t;
    state[3] = rotl(state[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits: exact in a double, so the same on every platform.
  double nextUnit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t state[4];
};

} // namespace tern

#endif // TERN_SAMPLING_RANDOM_H
