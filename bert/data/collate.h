// Turns a list of pre-training examples into the padded, row-major arrays a training step feeds
// the model (input_ids, token_type_ids, attention_mask, MLM labels, NSP labels). Plain
// std::vector<int64_t> with explicit shapes rather than torch tensors keeps the data pipeline
// torch-free and testable on its own; the caller wraps each array with torch::from_blob. Rows are
// padded to the longest example of the batch (optionally rounded up to a multiple, e.g. 8 for
// tensor cores, never beyond max_length), which wastes far less compute than padding every batch
// to max_seq_len.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "bert/data/masking.h"
#include "bert/data/pretraining_examples.h"

namespace bert::data {

struct CollateOptions {
  int64_t pad_id = 0;
  int64_t pad_to_multiple_of = 1;  // 8 for tensor cores
  int64_t max_length = 0;          // > 0: rounding up never exceeds it (an example longer is an error)
};

struct PretrainingBatch {
  int64_t batch_size = 0, seq_len = 0;
  // batch_size x seq_len, row-major.
  std::vector<int64_t> input_ids, token_type_ids, attention_mask;
  std::vector<int64_t> mlm_labels;        // original id where predicted, else -100 (all -100 from collate())
  std::vector<int64_t> masked_positions;  // flat indices of the predicted positions, ascending
  // batch_size entries: 0 IsNext, 1 random next, -100 where the example has none (packed mode), so
  // cross-entropy's default ignore_index skips it.
  std::vector<int64_t> next_sentence_label;
};

// Pads and stacks; no masking. Throws bert::Error on an empty batch or an example over max_length.
PretrainingBatch collate(const std::vector<PretrainingExample>& examples, const CollateOptions& options);

// collate() then mask_tokens() on input_ids (options.pad_id should equal masking.pad_id).
PretrainingBatch collate_and_mask(const std::vector<PretrainingExample>& examples, const CollateOptions& options,
                                  const MaskingOptions& masking, std::mt19937_64& rng);
// The same with a generator seeded per example (mask_tokens with row seeds).
PretrainingBatch collate_and_mask(const std::vector<PretrainingExample>& examples, const CollateOptions& options,
                                  const MaskingOptions& masking, const std::vector<uint64_t>& example_seeds);

// The padded length: the longest example rounded up to a multiple, capped at max_length.
int64_t padded_length(int64_t longest, int64_t pad_to_multiple_of, int64_t max_length);

}  // namespace bert::data
