// Masked-token prediction with a pre-trained model's masked-LM head: what `bert predict` does for
// a checkpoint without a fine-tuned head, as transformers' "fill-mask" pipeline does it: at each
// [MASK] of a text, the top-k vocabulary tokens by softmax probability, each with the text
// decoded with that token in the mask's place.
#pragma once

#include "bert/model/heads.h"
#include "bert/tasks/task_data.h"
#include "bert/tokenizer/tokenizer.h"
#include "bert/train/precision.h"

#include <string>
#include <vector>

namespace bert::tasks {

// A pre-trained model (BertForPreTraining, or transformers' BertForMaskedLM: no NSP head) from a
// checkpoint directory; an error when its weights have no masked-LM head (cls.predictions.*).
// `config`: the directory's config.json, already read by the caller; `has_nsp_head` (optional) says
// whether the next-sentence head was in the file.
model::BertForPreTraining load_masked_lm(const std::string& dir, const model::BertConfig& config,
                                         bool* has_nsp_head = nullptr);

struct MaskCandidate {
  int64_t token = 0;      // vocabulary id
  std::string token_str;  // the id decoded alone
  double score = 0;       // softmax probability over the whole vocabulary
  std::string sequence;   // the text decoded with `token` at this mask (transformers' "sequence")
};

struct FillMaskOptions {
  int64_t top_k = 5;
  std::vector<int64_t> targets;  // when given, only these ids are ranked (probabilities stay the full softmax's)
  int64_t batch_size = 64;
  train::Precision precision = train::Precision::fp32;
};

// For each example, one candidate list per [MASK] (left to right), best first. transformers'
// rules: the sequence leaves out special tokens when the text has one mask; with several, it
// keeps them ([CLS], the other [MASK]s), so that the other masks stay visible.
std::vector<std::vector<std::vector<MaskCandidate>>> fill_masks(model::BertForPreTraining& model,
                                                                 const tokenizer::Tokenizer& tokenizer,
                                                                 const std::vector<TaskExample>& examples,
                                                                 const FillMaskOptions& options,
                                                                 const torch::Device& device);

// --target words as vocabulary ids: a word that is no single token stands for its first piece, with
// a warning (as transformers' pipeline does); duplicates are dropped.
std::vector<int64_t> target_ids(const std::vector<std::string>& targets, const tokenizer::Tokenizer& tokenizer);

}  // namespace bert::tasks
