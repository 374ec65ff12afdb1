// Masked-LM and next-sentence losses and accuracies of a BertForPreTraining on pre-training
// batches: the pieces the pre-training loop and `bert evaluate --corpus` share.
#pragma once

#include "bert/data/collate.h"
#include "bert/data/token_cache.h"
#include "bert/model/heads.h"
#include "bert/tokenizer/tokenizer.h"
#include "bert/train/precision.h"
#include "bert/train/pretrain.h"
#include "bert/train/pretraining_batches.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>

namespace bert::train {

struct PretrainingTensors {
  torch::Tensor input_ids, token_type_ids, attention_mask, mlm_labels, masked_positions, nsp_labels;
  int64_t real_tokens = 0;  // non-padding tokens; attention_mask is left undefined when there is none
};
PretrainingTensors to_tensors(const data::PretrainingBatch& batch, const torch::Device& device);
// Non-padding tokens of a batch (what tokens/s counts).
int64_t real_tokens(const data::PretrainingBatch& batch);

struct PretrainingLosses {
  torch::Tensor total, mlm, nsp;  // nsp undefined without NSP
  torch::Tensor mlm_correct;      // masked positions predicted right
  int64_t mlm_count = 0;
  torch::Tensor nsp_correct;
};
// Forward pass (under autocast) and losses. The MLM head runs on the masked positions only.
PretrainingLosses pretraining_losses(model::BertForPreTraining& model, const PretrainingTensors& t, bool nsp,
                                     Precision precision, const torch::Device& device);

// Sums over evaluation batches (no gradients); to_json gives mlm_loss, mlm_accuracy, perplexity,
// masked_tokens, sequences and, with NSP, nsp_loss and nsp_accuracy, each key after `prefix`.
struct PretrainingEvalTotals {
  double mlm_loss_sum = 0, nsp_loss_sum = 0;
  int64_t masked = 0, mlm_correct = 0, sequences = 0, nsp_correct = 0;
  void add(model::BertForPreTraining& model, const data::PretrainingBatch& batch, bool nsp, Precision precision,
           const torch::Device& device);
  nlohmann::json to_json(const std::string& prefix, bool nsp) const;
};

// The example/masking/collation settings of a run's options, for this tokenizer.
BatchSourceOptions pretraining_batch_options(const PretrainOptions& options, const tokenizer::Tokenizer& tokenizer);
// The token-cache settings of a run's corpus flags (inputs, layout) with this cache directory.
data::TokenCacheOptions corpus_cache_options(const PretrainOptions& options, const std::vector<std::string>& inputs,
                                             const std::string& cache_dir);

// `bert evaluate --model DIR --corpus FILE...`: masked-LM accuracy and perplexity (and NSP
// accuracy when the checkpoint has the NSP head and `objective.nsp`) over the corpus, masked with
// a fixed seed so that two checkpoints see the same masks. The corpus and data flags come from
// `objective` (corpus, layout, seq_len, batch_size, mlm_prob, max_predictions, seed, ...).
struct CorpusEvalOptions {
  std::string model_dir;
  PretrainOptions objective;
  int64_t max_batches = 0;  // 0 = one full pass over the corpus
  std::string precision = "fp32", device = "cpu";
};
nlohmann::json run_corpus_evaluation(const CorpusEvalOptions& options);

}  // namespace bert::train
