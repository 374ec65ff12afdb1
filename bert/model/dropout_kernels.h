// The element loops of our CPU dropout (bert/model/layers.h), free of LibTorch so that they compile
// at -O3 with one clone per instruction set (AVX-512, AVX2, baseline), picked at load time.
//
// Element i of a call is kept when keep_word(seed, i) < threshold, a keyed hash of its index: the
// mask depends only on the seed and the index, never on how the range is split among threads.
// Ranges are [begin, end) of the whole tensor's flat index; bf16 values are passed as their raw
// 16 bits (rounded to nearest even on the way back, as c10::BFloat16 does).
#pragma once

#include <cstdint>

namespace bert::model::dropout_kernels {

// Element i is kept with probability p_keep: threshold = p_keep · 2³², capped at 2³² − 1.
uint32_t keep_threshold(double p_keep);

// The 32-bit word of element i for a 64-bit seed.
uint32_t keep_word(uint64_t seed, uint64_t i);

// out[i] = in[i] · scale where kept, else 0; keep[i] = 1 or 0.
void forward_f32(const float* in, float* out, uint8_t* keep, int64_t begin, int64_t end, uint64_t seed,
                 uint32_t threshold, float scale);
void forward_bf16(const uint16_t* in, uint16_t* out, uint8_t* keep, int64_t begin, int64_t end, uint64_t seed,
                  uint32_t threshold, float scale);

// out[i] = grad[i] · scale where keep[i], else 0.
void backward_f32(const float* grad, const uint8_t* keep, float* out, int64_t begin, int64_t end, float scale);
void backward_bf16(const uint16_t* grad, const uint8_t* keep, uint16_t* out, int64_t begin, int64_t end, float scale);

}  // namespace bert::model::dropout_kernels
