// Dynamic MLM masking (see the header). Per row: find the candidate positions (non-special),
// group them into words, choose which to predict (Google's fixed count in random word order, or
// Hugging Face's independent coin per token), then decide per chosen token between [MASK], a
// random non-special id and the original. All randomness is drawn from the caller's generator in
// a fixed order (rows top to bottom, positions left to right), which makes the result a function
// of the generator state alone.
#include "bert/data/masking.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "bert/util/error.h"

namespace bert::data {

namespace detail {

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  // Reject the lowest (2^64 mod n) outputs so that every residue is equally likely.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

int64_t num_to_predict(int64_t n_tokens, double p, int64_t max_predictions) {
  if (n_tokens <= 0 || p <= 0) return 0;
  // std::nearbyint rounds half to even in the default rounding mode, like Python 3's round().
  int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(static_cast<double>(n_tokens) * p)));
  if (max_predictions > 0) k = std::min(k, max_predictions);
  return k;
}

int64_t nth_non_special(int64_t k, const std::vector<int64_t>& sorted_specials) {
  // Walk the specials upwards: each one at or below the current candidate pushes it up by one.
  for (int64_t s : sorted_specials) {
    if (s <= k)
      ++k;
    else
      break;
  }
  return k;
}

std::vector<std::pair<int64_t, int64_t>> word_spans(const int64_t* ids, int64_t n, const std::vector<bool>& is_candidate,
                                                    const std::vector<bool>& is_continuation) {
  std::vector<std::pair<int64_t, int64_t>> words;
  for (int64_t i = 0; i < n; ++i) {
    if (!is_candidate[i]) continue;
    const bool continues = !is_continuation.empty() && i > 0 && is_candidate[i - 1] &&
                           is_continuation[static_cast<size_t>(ids[i])];
    if (continues)
      ++words.back().second;
    else
      words.emplace_back(i, 1);
  }
  return words;
}

}  // namespace detail

MaskingOptions make_masking_options(int64_t vocab_size, int64_t cls_id, int64_t sep_id, int64_t pad_id,
                                    int64_t mask_id) {
  MaskingOptions o;
  o.vocab_size = vocab_size;
  o.mask_id = mask_id;
  o.pad_id = pad_id;
  o.special_ids = {cls_id, sep_id, pad_id, mask_id};
  return o;
}

namespace {

std::vector<int64_t> checked_specials(const MaskingOptions& o) {
  if (o.vocab_size <= 0) throw Error("masking: vocab_size must be positive, got " + std::to_string(o.vocab_size));
  if (!(o.mlm_probability >= 0 && o.mlm_probability <= 1))
    throw Error("masking: mlm_probability must be in [0, 1], got " + std::to_string(o.mlm_probability));
  if (!(o.mask_token_ratio >= 0 && o.random_token_ratio >= 0 && o.mask_token_ratio + o.random_token_ratio <= 1 + 1e-12))
    throw Error("masking: mask/random token ratios must be non-negative with a sum of at most 1, got " +
                std::to_string(o.mask_token_ratio) + " and " + std::to_string(o.random_token_ratio));
  if (o.max_predictions < 0)
    throw Error("masking: max_predictions must be >= 0, got " + std::to_string(o.max_predictions));
  if (o.mask_id < 0 || o.mask_id >= o.vocab_size)
    throw Error("masking: mask_id " + std::to_string(o.mask_id) + " is outside the vocabulary of " +
                std::to_string(o.vocab_size));
  if (!o.is_continuation.empty() && static_cast<int64_t>(o.is_continuation.size()) != o.vocab_size)
    throw Error("masking: is_continuation has " + std::to_string(o.is_continuation.size()) +
                " entries, the vocabulary " + std::to_string(o.vocab_size));
  std::vector<int64_t> specials = o.special_ids;
  specials.push_back(o.pad_id);
  for (int64_t s : specials)
    if (s < 0 || s >= o.vocab_size)
      throw Error("masking: special id " + std::to_string(s) + " is outside the vocabulary of " +
                  std::to_string(o.vocab_size));
  std::sort(specials.begin(), specials.end());
  specials.erase(std::unique(specials.begin(), specials.end()), specials.end());
  if (o.random_token_ratio > 0 && static_cast<int64_t>(specials.size()) >= o.vocab_size)
    throw Error("masking: every vocabulary id is special, no random replacement exists");
  return specials;
}

// Both public forms: one generator for all rows, or (row_seeds set) re-seeded at each row.
MaskedBatch mask_rows(const std::vector<int64_t>& input_ids, int64_t rows, int64_t cols, const MaskingOptions& options,
                      std::mt19937_64& rng, const std::vector<uint64_t>* row_seeds) {
  if (rows < 0 || cols < 0 || static_cast<int64_t>(input_ids.size()) != rows * cols)
    throw Error("masking: input has " + std::to_string(input_ids.size()) + " ids, expected " + std::to_string(rows) +
                " x " + std::to_string(cols));
  const std::vector<int64_t> specials = checked_specials(options);
  const uint64_t num_replacements = static_cast<uint64_t>(options.vocab_size) - specials.size();
  const bool whole_word = !options.is_continuation.empty();
  // Google's counted selection for its own mode and for whole words; HF's coin per token otherwise.
  const bool counted = options.max_predictions > 0 || whole_word;

  MaskedBatch out;
  out.input_ids = input_ids;
  out.labels.assign(input_ids.size(), kIgnoreIndex);

  std::vector<bool> candidate(static_cast<size_t>(cols)), selected(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    if (row_seeds != nullptr) rng.seed((*row_seeds)[static_cast<size_t>(r)]);
    const int64_t* ids = input_ids.data() + r * cols;
    int64_t n_tokens = 0;
    for (int64_t i = 0; i < cols; ++i) {
      if (ids[i] < 0 || ids[i] >= options.vocab_size)
        throw Error("masking: token id " + std::to_string(ids[i]) + " at row " + std::to_string(r) + ", column " +
                    std::to_string(i) + " is outside the vocabulary of " + std::to_string(options.vocab_size));
      candidate[i] = !std::binary_search(specials.begin(), specials.end(), ids[i]);
      if (ids[i] != options.pad_id) ++n_tokens;  // [CLS]/[SEP] count, as in Google's len(tokens)
    }
    std::fill(selected.begin(), selected.end(), false);

    if (counted) {
      auto words = detail::word_spans(ids, cols, candidate, options.is_continuation);
      for (size_t i = words.size(); i > 1; --i) std::swap(words[i - 1], words[detail::uniform_below(rng, i)]);
      const int64_t target = detail::num_to_predict(n_tokens, options.mlm_probability, options.max_predictions);
      int64_t taken = 0;
      for (const auto& [start, len] : words) {
        if (taken >= target) break;
        if (taken + len > target) continue;  // a word that would overshoot is skipped, a shorter one may fit
        for (int64_t i = start; i < start + len; ++i) selected[i] = true;
        taken += len;
      }
    } else {
      for (int64_t i = 0; i < cols; ++i)
        if (candidate[i] && detail::uniform01(rng) < options.mlm_probability) selected[i] = true;
    }

    int64_t* masked = out.input_ids.data() + r * cols;
    int64_t* labels = out.labels.data() + r * cols;
    for (int64_t i = 0; i < cols; ++i) {
      if (!selected[i]) continue;
      labels[i] = ids[i];
      out.masked_positions.push_back(r * cols + i);
      const double u = detail::uniform01(rng);
      if (u < options.mask_token_ratio) {
        masked[i] = options.mask_id;
      } else if (u < options.mask_token_ratio + options.random_token_ratio) {
        const auto k = static_cast<int64_t>(detail::uniform_below(rng, num_replacements));
        masked[i] = detail::nth_non_special(k, specials);
      }  // else: unchanged, but still predicted
    }
  }
  return out;
}

}  // namespace

MaskedBatch mask_tokens(const std::vector<int64_t>& input_ids, int64_t rows, int64_t cols,
                        const MaskingOptions& options, std::mt19937_64& rng) {
  return mask_rows(input_ids, rows, cols, options, rng, nullptr);
}

MaskedBatch mask_tokens(const std::vector<int64_t>& input_ids, int64_t rows, int64_t cols,
                        const MaskingOptions& options, const std::vector<uint64_t>& row_seeds) {
  if (static_cast<int64_t>(row_seeds.size()) != rows)
    throw Error("masking: " + std::to_string(row_seeds.size()) + " row seeds for " + std::to_string(rows) + " rows");
  std::mt19937_64 rng;
  return mask_rows(input_ids, rows, cols, options, rng, &row_seeds);
}

}  // namespace bert::data
