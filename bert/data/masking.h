// Dynamic masking for the masked-language-model objective: a pure function of a padded batch of
// token ids and a random generator, applied anew to every batch so a sequence is masked
// differently each time it is seen (RoBERTa's dynamic masking; Google's static masking fixed it
// at data-creation time). Two selection rules: Google's (max_predictions > 0: exactly
// min(max_predictions, max(1, round(n * p))) tokens, n = the sequence's non-pad tokens, taken in
// random order) and Hugging Face's (max_predictions == 0: every token independently with
// probability p). With a per-vocab-id `is_continuation` table, whole words are selected together
// (Google's whole-word masking). Selected tokens become [MASK] / a random non-special token / stay
// unchanged with the given ratios. The generator is std::mt19937_64, whose output is fixed by the
// C++ standard and whose state streams with << and >>, so a checkpoint can save it and the masks
// are identical on any platform (the draws avoid the unportable std distributions).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace bert::data {

constexpr int64_t kIgnoreIndex = -100;  // label of positions without a prediction (PyTorch's default)

struct MaskingOptions {
  double mlm_probability = 0.15;
  // Of the selected tokens: replaced by [MASK], by a random token, and (the rest) left unchanged.
  double mask_token_ratio = 0.8;
  double random_token_ratio = 0.1;
  // Google's per-sequence cap (e.g. 20 for 128 tokens); 0 = Hugging Face's independent selection
  // (uncapped). Whole-word masking always uses Google's count, capped when this is > 0.
  int64_t max_predictions = 20;
  int64_t vocab_size = 0;
  int64_t mask_id = -1;
  int64_t pad_id = 0;  // not counted in n, never selected
  // Never selected and never used as a random replacement ([CLS], [SEP], [PAD], [MASK], ...).
  // pad_id is treated as special whether listed or not.
  std::vector<int64_t> special_ids;
  // Empty: token-level masking. Otherwise vocab_size entries, true where the piece continues the
  // previous one's word (WordPiece "##x"; sentencepiece pieces without a leading U+2581).
  std::vector<bool> is_continuation;
};

// Specials {cls, sep, pad, mask}; [UNK] stays maskable, as in Hugging Face.
MaskingOptions make_masking_options(int64_t vocab_size, int64_t cls_id, int64_t sep_id, int64_t pad_id,
                                    int64_t mask_id);

struct MaskedBatch {
  std::vector<int64_t> input_ids;         // rows * cols, masked
  std::vector<int64_t> labels;            // rows * cols, the original id where predicted, else -100
  std::vector<int64_t> masked_positions;  // flat indices (row * cols + col) of predictions, ascending
};

// `input_ids` is a row-major rows x cols matrix padded with options.pad_id. Throws bert::Error on
// invalid options or an id outside [0, vocab_size).
MaskedBatch mask_tokens(const std::vector<int64_t>& input_ids, int64_t rows, int64_t cols,
                        const MaskingOptions& options, std::mt19937_64& rng);
// The same with a generator of its own for each row, seeded with row_seeds[r]: a row's masks then
// depend on its seed alone, not on the rows before it, so data-parallel workers that each mask their
// own rows get exactly what one process masking all of them gets.
MaskedBatch mask_tokens(const std::vector<int64_t>& input_ids, int64_t rows, int64_t cols,
                        const MaskingOptions& options, const std::vector<uint64_t>& row_seeds);

namespace detail {

// Pieces with an exact contract, exposed for the tests.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);  // [0, n), unbiased
double uniform01(std::mt19937_64& rng);                    // [0, 1), 53 bits
// Python 3's int(round(x)) (half to even), as in Google's count: max(1, round(n * p)), capped.
int64_t num_to_predict(int64_t n_tokens, double p, int64_t max_predictions);
// The k-th id (0-based) of [0, vocab_size) that is not in `sorted_specials` (sorted, unique).
int64_t nth_non_special(int64_t k, const std::vector<int64_t>& sorted_specials);
// The words of one sequence as (first position, length), in order. A position is a candidate
// unless its id is special. A continuation piece (is_continuation[id]) joins the word of the
// position just before it if that one is a candidate, so a word never spans a special token;
// with an empty is_continuation every candidate is a word of its own.
std::vector<std::pair<int64_t, int64_t>> word_spans(const int64_t* ids, int64_t n, const std::vector<bool>& is_candidate,
                                                    const std::vector<bool>& is_continuation);

}  // namespace detail

}  // namespace bert::data
