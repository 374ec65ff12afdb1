// The task heads on top of BertModel, named as Hugging Face names them:
//   BertForPreTraining            bert.* + cls.predictions.* (MLM) + cls.seq_relationship.* (NSP)
//   BertForSequenceClassification bert.* + classifier.*  (num_labels = 1: regression)
//   BertForTokenClassification    bert.* (no pooler) + classifier.*
//   BertForQuestionAnswering      bert.* (no pooler) + qa_outputs.* (start and end logits; no dropout, as HF)
//   BertForMultipleChoice         bert.* + classifier.* (one score per candidate, from its pooled output)
// The MLM decoder is tied to the word embeddings unless the config says tie_word_embeddings false
// (no weight of its own, as in HF's saved
// files) and has its own bias `cls.predictions.bias`. Losses are free functions so the
// training loop can weigh or skip them; they reproduce HF's loss definitions.
#pragma once

#include "bert/model/bert_model.h"

namespace bert::model {

constexpr int64_t kIgnoreIndex = -100;  // label value excluded from every loss (HF's convention)

// cls.predictions.transform: dense → activation → LayerNorm.
class BertPredictionHeadTransformImpl : public torch::nn::Module {
 public:
  explicit BertPredictionHeadTransformImpl(const BertConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

  Linear dense = nullptr;
  torch::nn::LayerNorm LayerNorm = nullptr;  // NOLINT: HF's key name

 private:
  std::string activation_;
};
TORCH_MODULE(BertPredictionHeadTransform);

// The masked-LM decoder's own (V, H) matrix, "cls.predictions.decoder.weight": only for a config
// with tie_word_embeddings false (BERT ties it to the word embeddings).
class UntiedDecoderImpl : public torch::nn::Module {
 public:
  UntiedDecoderImpl(int64_t vocab_size, int64_t hidden_size, double initializer_range);
  torch::Tensor weight;
};
TORCH_MODULE(UntiedDecoder);

// cls.predictions: transform, then the decoder plus its own bias. The decoder is the word
// embedding matrix passed in, unless the config unties it.
class BertLMPredictionHeadImpl : public torch::nn::Module {
 public:
  explicit BertLMPredictionHeadImpl(const BertConfig& config);
  // hidden (..., H), decoder_weight (V, H) → logits (..., V)
  torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& decoder_weight);

  BertPredictionHeadTransform transform = nullptr;
  UntiedDecoder decoder = nullptr;  // tie_word_embeddings false only
  torch::Tensor bias;  // (V)
};
TORCH_MODULE(BertLMPredictionHead);

class BertPreTrainingHeadsImpl : public torch::nn::Module {
 public:
  explicit BertPreTrainingHeadsImpl(const BertConfig& config);

  BertLMPredictionHead predictions = nullptr;
  Linear seq_relationship = nullptr;
};
TORCH_MODULE(BertPreTrainingHeads);

struct PreTrainingOutput {
  torch::Tensor prediction_logits;        // (B, S, V), or (N, V) at the requested positions
  torch::Tensor seq_relationship_logits;  // (B, 2)
  BertOutput bert;
};

class BertForPreTrainingImpl : public torch::nn::Module {
 public:
  explicit BertForPreTrainingImpl(const BertConfig& config);
  // mlm_positions: optional flat indices into (B*S) where MLM logits are wanted; scoring only
  // the masked positions saves most of the head's compute (the vocabulary is large).
  PreTrainingOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                            const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {},
                            const torch::Tensor& mlm_positions = {});

  BertModel bert = nullptr;
  BertPreTrainingHeads cls = nullptr;
};
TORCH_MODULE(BertForPreTraining);

struct ClassifierOutput {
  torch::Tensor logits;  // (B, num_labels) or (B, S, num_labels)
  BertOutput bert;
};

class BertForSequenceClassificationImpl : public torch::nn::Module {
 public:
  explicit BertForSequenceClassificationImpl(const BertConfig& config);
  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                           const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {});

  BertModel bert = nullptr;
  Dropout dropout = nullptr;
  Linear classifier = nullptr;
};
TORCH_MODULE(BertForSequenceClassification);

class BertForTokenClassificationImpl : public torch::nn::Module {
 public:
  explicit BertForTokenClassificationImpl(const BertConfig& config);
  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                           const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {});

  BertModel bert = nullptr;
  Dropout dropout = nullptr;
  Linear classifier = nullptr;
};
TORCH_MODULE(BertForTokenClassification);

class BertForQuestionAnsweringImpl : public torch::nn::Module {
 public:
  explicit BertForQuestionAnsweringImpl(const BertConfig& config);
  // logits (B, S, 2): [..., 0] scores each token as the answer's first, [..., 1] as its last.
  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                           const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {});

  BertModel bert = nullptr;
  Linear qa_outputs = nullptr;
};
TORCH_MODULE(BertForQuestionAnswering);

class BertForMultipleChoiceImpl : public torch::nn::Module {
 public:
  explicit BertForMultipleChoiceImpl(const BertConfig& config);
  // Inputs (B, K, S): K candidates per example, each read with its context as one sequence.
  // logits (B, K): a cross-entropy over the K candidates picks one.
  ClassifierOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {},
                           const torch::Tensor& token_type_ids = {}, const ForwardOptions& options = {});

  BertModel bert = nullptr;
  Dropout dropout = nullptr;
  Linear classifier = nullptr;  // hidden → 1, whatever num_labels says (HF ignores it too)
};
TORCH_MODULE(BertForMultipleChoice);

// Mean cross-entropy over positions whose label is not kIgnoreIndex. logits (N, V), labels (N).
torch::Tensor masked_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels);
// HF's BertForSequenceClassification loss: MSE when num_labels = 1 (or problem_type regression),
// BCE-with-logits for multi_label_classification, cross-entropy otherwise.
torch::Tensor sequence_classification_loss(const BertConfig& config, const torch::Tensor& logits,
                                            const torch::Tensor& labels);
// Cross-entropy over (B*S) with kIgnoreIndex ignored.
torch::Tensor token_classification_loss(const torch::Tensor& logits, const torch::Tensor& labels);
// HF's BertForQuestionAnswering loss: the mean of the start and end positions' cross-entropies.
// logits (B, S, 2), positions (B, 2) = (start, end) token indexes; positions outside the sequence
// are clamped to S and ignored, as HF does.
torch::Tensor question_answering_loss(const torch::Tensor& logits, const torch::Tensor& positions);

}  // namespace bert::model
