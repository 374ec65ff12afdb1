// Batch assembly (see the header): one pass per example copying ids and segment ids into
// preallocated padded arrays; masking is delegated to mask_tokens() so it stays one tested function.
#include "bert/data/collate.h"

#include <algorithm>
#include <string>
#include <utility>

#include "bert/util/error.h"

namespace bert::data {

int64_t padded_length(int64_t longest, int64_t pad_to_multiple_of, int64_t max_length) {
  if (pad_to_multiple_of < 1)
    throw Error("collate: pad_to_multiple_of must be >= 1, got " + std::to_string(pad_to_multiple_of));
  if (max_length > 0 && longest > max_length)
    throw Error("collate: an example has " + std::to_string(longest) + " tokens, more than max_length " +
                std::to_string(max_length));
  int64_t len = (longest + pad_to_multiple_of - 1) / pad_to_multiple_of * pad_to_multiple_of;
  // Rounding must not create positions the model has no embedding for.
  if (max_length > 0) len = std::min(len, max_length);
  return len;
}

PretrainingBatch collate(const std::vector<PretrainingExample>& examples, const CollateOptions& options) {
  if (examples.empty()) throw Error("collate: empty batch");
  size_t longest = 0;
  for (const auto& e : examples) {
    if (e.segment_ids.size() != e.tokens.size())
      throw Error("collate: an example has " + std::to_string(e.tokens.size()) + " tokens but " +
                  std::to_string(e.segment_ids.size()) + " segment ids");
    longest = std::max(longest, e.tokens.size());
  }
  PretrainingBatch b;
  b.batch_size = static_cast<int64_t>(examples.size());
  b.seq_len = padded_length(static_cast<int64_t>(longest), options.pad_to_multiple_of, options.max_length);
  const size_t total = static_cast<size_t>(b.batch_size * b.seq_len);
  b.input_ids.assign(total, options.pad_id);
  b.token_type_ids.assign(total, 0);
  b.attention_mask.assign(total, 0);
  b.mlm_labels.assign(total, kIgnoreIndex);
  b.next_sentence_label.resize(examples.size());
  for (size_t r = 0; r < examples.size(); ++r) {
    const auto& e = examples[r];
    const size_t row = r * static_cast<size_t>(b.seq_len);
    std::copy(e.tokens.begin(), e.tokens.end(), b.input_ids.begin() + static_cast<std::ptrdiff_t>(row));
    std::copy(e.segment_ids.begin(), e.segment_ids.end(), b.token_type_ids.begin() + static_cast<std::ptrdiff_t>(row));
    std::fill_n(b.attention_mask.begin() + static_cast<std::ptrdiff_t>(row), e.tokens.size(), 1);
    b.next_sentence_label[r] = e.next_sentence_label < 0 ? kIgnoreIndex : e.next_sentence_label;
  }
  return b;
}

namespace {

PretrainingBatch with_masks(PretrainingBatch b, MaskedBatch m) {
  b.input_ids = std::move(m.input_ids);
  b.mlm_labels = std::move(m.labels);
  b.masked_positions = std::move(m.masked_positions);
  return b;
}

}  // namespace

PretrainingBatch collate_and_mask(const std::vector<PretrainingExample>& examples, const CollateOptions& options,
                                  const MaskingOptions& masking, std::mt19937_64& rng) {
  PretrainingBatch b = collate(examples, options);
  MaskedBatch m = mask_tokens(b.input_ids, b.batch_size, b.seq_len, masking, rng);
  return with_masks(std::move(b), std::move(m));
}

PretrainingBatch collate_and_mask(const std::vector<PretrainingExample>& examples, const CollateOptions& options,
                                  const MaskingOptions& masking, const std::vector<uint64_t>& example_seeds) {
  PretrainingBatch b = collate(examples, options);
  MaskedBatch m = mask_tokens(b.input_ids, b.batch_size, b.seq_len, masking, example_seeds);
  return with_masks(std::move(b), std::move(m));
}

}  // namespace bert::data
