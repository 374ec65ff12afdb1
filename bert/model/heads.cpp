#include "bert/model/heads.h"

#include <torch/nn/functional/loss.h>

namespace bert::model {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

BertPredictionHeadTransformImpl::BertPredictionHeadTransformImpl(const BertConfig& c) : activation_(c.hidden_act) {
  dense = register_module("dense", Linear(c.hidden_size, c.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

torch::Tensor BertPredictionHeadTransformImpl::forward(const torch::Tensor& x) {
  return LayerNorm(apply_activation(activation_, dense(x)));
}

UntiedDecoderImpl::UntiedDecoderImpl(int64_t vocab_size, int64_t hidden_size, double initializer_range) {
  weight = register_parameter("weight", torch::empty({vocab_size, hidden_size}).normal_(0.0, initializer_range));
}

BertLMPredictionHeadImpl::BertLMPredictionHeadImpl(const BertConfig& c) {
  transform = register_module("transform", BertPredictionHeadTransform(c));
  if (!c.ties_word_embeddings())
    decoder = register_module("decoder", UntiedDecoder(c.vocab_size, c.hidden_size, c.initializer_range));
  bias = register_parameter("bias", torch::zeros({c.vocab_size}));
}

torch::Tensor BertLMPredictionHeadImpl::forward(const torch::Tensor& hidden, const torch::Tensor& decoder_weight) {
  return torch::linear(transform(hidden), decoder ? decoder->weight : decoder_weight, bias);
}

BertPreTrainingHeadsImpl::BertPreTrainingHeadsImpl(const BertConfig& c) {
  predictions = register_module("predictions", BertLMPredictionHead(c));
  seq_relationship = register_module("seq_relationship", Linear(c.hidden_size, 2));
}

BertForPreTrainingImpl::BertForPreTrainingImpl(const BertConfig& c) {
  bert = register_module("bert", BertModel(c));
  cls = register_module("cls", BertPreTrainingHeads(c));
  init_bert_weights(*cls, c);  // bert initialised itself
}

PreTrainingOutput BertForPreTrainingImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                  const torch::Tensor& token_type_ids, const ForwardOptions& options,
                                                  const torch::Tensor& mlm_positions) {
  PreTrainingOutput out;
  out.bert = bert(input_ids, attention_mask, token_type_ids, options);
  auto sequence = out.bert.last_hidden_state;  // (B, S, H)
  if (mlm_positions.defined())
    sequence = sequence.reshape({-1, sequence.size(-1)}).index_select(0, mlm_positions);  // (N, H)
  out.prediction_logits = cls->predictions(sequence, bert->embeddings->word_embeddings->weight);
  out.seq_relationship_logits = cls->seq_relationship(out.bert.pooler_output);
  return out;
}

BertForSequenceClassificationImpl::BertForSequenceClassificationImpl(const BertConfig& c) {
  bert = register_module("bert", BertModel(c));
  dropout = register_module("dropout", Dropout(c.effective_classifier_dropout()));
  classifier = register_module("classifier", Linear(c.hidden_size, c.num_labels));
  init_bert_weights(*classifier, c);  // bert initialised itself
}

ClassifierOutput BertForSequenceClassificationImpl::forward(const torch::Tensor& input_ids,
                                                            const torch::Tensor& attention_mask,
                                                            const torch::Tensor& token_type_ids,
                                                            const ForwardOptions& options) {
  ClassifierOutput out;
  out.bert = bert(input_ids, attention_mask, token_type_ids, options);
  out.logits = classifier(dropout(out.bert.pooler_output));  // (B, num_labels)
  return out;
}

BertForTokenClassificationImpl::BertForTokenClassificationImpl(const BertConfig& c) {
  bert = register_module("bert", BertModel(c, /*add_pooling_layer=*/false));
  dropout = register_module("dropout", Dropout(c.effective_classifier_dropout()));
  classifier = register_module("classifier", Linear(c.hidden_size, c.num_labels));
  init_bert_weights(*classifier, c);  // bert initialised itself
}

ClassifierOutput BertForTokenClassificationImpl::forward(const torch::Tensor& input_ids,
                                                         const torch::Tensor& attention_mask,
                                                         const torch::Tensor& token_type_ids,
                                                         const ForwardOptions& options) {
  ClassifierOutput out;
  out.bert = bert(input_ids, attention_mask, token_type_ids, options);
  out.logits = classifier(dropout(out.bert.last_hidden_state));  // (B, S, num_labels)
  return out;
}

BertForQuestionAnsweringImpl::BertForQuestionAnsweringImpl(const BertConfig& c) {
  bert = register_module("bert", BertModel(c, /*add_pooling_layer=*/false));
  qa_outputs = register_module("qa_outputs", Linear(c.hidden_size, c.num_labels));
  init_bert_weights(*qa_outputs, c);  // bert initialised itself
}

ClassifierOutput BertForQuestionAnsweringImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                       const torch::Tensor& token_type_ids, const ForwardOptions& options) {
  ClassifierOutput out;
  out.bert = bert(input_ids, attention_mask, token_type_ids, options);
  out.logits = qa_outputs(out.bert.last_hidden_state);  // (B, S, 2)
  return out;
}

BertForMultipleChoiceImpl::BertForMultipleChoiceImpl(const BertConfig& c) {
  bert = register_module("bert", BertModel(c));
  dropout = register_module("dropout", Dropout(c.effective_classifier_dropout()));
  classifier = register_module("classifier", Linear(c.hidden_size, 1));
  init_bert_weights(*classifier, c);  // bert initialised itself
}

ClassifierOutput BertForMultipleChoiceImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                                    const torch::Tensor& token_type_ids, const ForwardOptions& options) {
  const int64_t choices = input_ids.size(1), length = input_ids.size(-1);
  auto flat = [&](const torch::Tensor& t) { return t.defined() ? t.reshape({-1, length}) : t; };
  ClassifierOutput out;
  out.bert = bert(flat(input_ids), flat(attention_mask), flat(token_type_ids), options);
  out.logits = classifier(dropout(out.bert.pooler_output)).reshape({-1, choices});  // (B, K)
  return out;
}

torch::Tensor masked_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return F::cross_entropy(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), labels.reshape({-1}),
                          F::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
}

torch::Tensor sequence_classification_loss(const BertConfig& config, const torch::Tensor& logits,
                                           const torch::Tensor& labels) {
  auto logits32 = logits.to(torch::kFloat);
  const std::string problem =
      config.problem_type.value_or(config.num_labels == 1 ? "regression" : "single_label_classification");
  if (problem == "regression") {
    if (config.num_labels == 1) return F::mse_loss(logits32.squeeze(-1), labels.to(torch::kFloat).reshape({-1}));
    return F::mse_loss(logits32, labels.to(torch::kFloat));
  }
  if (problem == "multi_label_classification")
    return F::binary_cross_entropy_with_logits(logits32, labels.to(torch::kFloat));
  return F::cross_entropy(logits32.reshape({-1, config.num_labels}), labels.reshape({-1}));
}

torch::Tensor token_classification_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return masked_lm_loss(logits, labels);
}

torch::Tensor question_answering_loss(const torch::Tensor& logits, const torch::Tensor& positions) {
  auto logits32 = logits.to(torch::kFloat);
  const int64_t S = logits32.size(1);
  auto clamped = positions.clamp(0, S);
  auto options = F::CrossEntropyFuncOptions().ignore_index(S);
  return (F::cross_entropy(logits32.select(-1, 0), clamped.select(1, 0), options) +
          F::cross_entropy(logits32.select(-1, 1), clamped.select(1, 1), options)) / 2;
}

}  // namespace bert::model
