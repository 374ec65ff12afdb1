#include "bert/model/dropout_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// One clone per instruction set, picked by the dynamic loader (an ifunc: glibc), where the compiler
// knows the x86-64 levels (GCC 11+); the loops are written so that each clone vectorises (32-bit
// lanes throughout). Elsewhere one baseline build of the same loops.
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define BERT_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BERT_KERNEL
#endif

namespace bert::model::dropout_kernels {

namespace {

// Chris Wellons' "lowbias32" integer hash: a bijection of 32-bit words with low bias.
inline uint32_t lowbias32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// Two rounds keyed by the seed's halves; the index's high half (non-zero only past 2³² elements)
// folds into the second key, so each 2³²-element block has a key of its own.
struct Key {
  uint32_t k0, k1;
  Key(uint64_t seed, uint64_t block)
      : k0(static_cast<uint32_t>(seed)),
        k1(static_cast<uint32_t>(seed >> 32) ^ lowbias32(static_cast<uint32_t>(block) * 0x9e3779b9U + 1U)) {}
  uint32_t word(uint32_t low) const { return lowbias32(lowbias32(low ^ k0) ^ k1); }
};

inline float bf16_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof f);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffU) > 0x7f800000U) return static_cast<uint16_t>((u >> 16) | 0x40U);  // NaN stays NaN
  return static_cast<uint16_t>((u + 0x7fffU + ((u >> 16) & 1U)) >> 16);
}

// Splits [begin, end) where the index's high 32 bits change, so the loops run on 32-bit indices.
template <typename Body>
void for_each_block(int64_t begin, int64_t end, Body body) {
  while (begin < end) {
    const uint64_t block = static_cast<uint64_t>(begin) >> 32;
    const int64_t block_end = std::min<int64_t>(end, static_cast<int64_t>((block + 1) << 32));
    body(block, begin, block_end);
    begin = block_end;
  }
}

BERT_KERNEL void forward_f32_block(const float* in, float* out, uint8_t* keep, int64_t begin, int64_t end,
                                   Key key, uint32_t threshold, float scale) {
  for (int64_t i = begin; i < end; ++i) {
    const uint32_t kept = key.word(static_cast<uint32_t>(i)) < threshold;
    keep[i] = static_cast<uint8_t>(kept);
    out[i] = in[i] * (kept ? scale : 0.0f);
  }
}

BERT_KERNEL void forward_bf16_block(const uint16_t* in, uint16_t* out, uint8_t* keep, int64_t begin, int64_t end,
                                    Key key, uint32_t threshold, float scale) {
  for (int64_t i = begin; i < end; ++i) {
    const uint32_t kept = key.word(static_cast<uint32_t>(i)) < threshold;
    keep[i] = static_cast<uint8_t>(kept);
    out[i] = float_to_bf16(bf16_to_float(in[i]) * (kept ? scale : 0.0f));
  }
}

}  // namespace

uint32_t keep_threshold(double p_keep) {
  const double scaled = std::ldexp(p_keep, 32);
  if (scaled >= 4294967295.0) return 0xffffffffU;
  if (scaled <= 0.0) return 0;
  return static_cast<uint32_t>(std::llround(scaled));
}

uint32_t keep_word(uint64_t seed, uint64_t i) { return Key(seed, i >> 32).word(static_cast<uint32_t>(i)); }

void forward_f32(const float* in, float* out, uint8_t* keep, int64_t begin, int64_t end, uint64_t seed,
                 uint32_t threshold, float scale) {
  for_each_block(begin, end, [&](uint64_t block, int64_t b, int64_t e) {
    forward_f32_block(in, out, keep, b, e, Key(seed, block), threshold, scale);
  });
}

void forward_bf16(const uint16_t* in, uint16_t* out, uint8_t* keep, int64_t begin, int64_t end, uint64_t seed,
                  uint32_t threshold, float scale) {
  for_each_block(begin, end, [&](uint64_t block, int64_t b, int64_t e) {
    forward_bf16_block(in, out, keep, b, e, Key(seed, block), threshold, scale);
  });
}

BERT_KERNEL void backward_f32(const float* grad, const uint8_t* keep, float* out, int64_t begin, int64_t end,
                              float scale) {
  for (int64_t i = begin; i < end; ++i) out[i] = grad[i] * (keep[i] ? scale : 0.0f);
}

BERT_KERNEL void backward_bf16(const uint16_t* grad, const uint8_t* keep, uint16_t* out, int64_t begin, int64_t end,
                               float scale) {
  for (int64_t i = begin; i < end; ++i) out[i] = float_to_bf16(bf16_to_float(grad[i]) * (keep[i] ? scale : 0.0f));
}

}  // namespace bert::model::dropout_kernels
