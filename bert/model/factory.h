// Which head a checkpoint carries, decided from config.json's `architectures`, and a factory
// that builds the matching module tree. Commands that accept "any BERT directory" (info,
// convert, embed) go through here instead of repeating the switch.
#pragma once

#include "bert/model/heads.h"

#include <memory>
#include <string>

namespace bert::model {

enum class Architecture {
  Model,
  PreTraining,
  SequenceClassification,
  TokenClassification,
  QuestionAnswering,
  MultipleChoice
};

// "BertForPreTraining" → PreTraining, ...; MLM-only variants (BertForMaskedLM, BertLMHeadModel)
// and BertForNextSentencePrediction map to PreTraining (the head the file lacks is initialised
// fresh, and convert does not write it). Unknown names are an error.
Architecture architecture_from_name(const std::string& name, const std::string& source);
std::string architecture_name(Architecture arch);

std::shared_ptr<torch::nn::Module> make_model(Architecture arch, const BertConfig& config);

}  // namespace bert::model
