#include "bert/model/factory.h"

#include "bert/util/error.h"

namespace bert::model {

Architecture architecture_from_name(const std::string& name, const std::string& source) {
  if (name == "BertModel") return Architecture::Model;
  if (name == "BertForPreTraining" || name == "BertForMaskedLM" || name == "BertLMHeadModel" ||
      name == "BertForNextSentencePrediction")
    return Architecture::PreTraining;
  if (name == "BertForSequenceClassification") return Architecture::SequenceClassification;
  if (name == "BertForTokenClassification") return Architecture::TokenClassification;
  if (name == "BertForQuestionAnswering") return Architecture::QuestionAnswering;
  if (name == "BertForMultipleChoice") return Architecture::MultipleChoice;
  throw Error(source + ": unsupported architecture \"" + name +
              "\" (expected BertModel, BertForPreTraining, BertForMaskedLM, BertForNextSentencePrediction, "
              "BertForSequenceClassification, "
              "BertForTokenClassification, BertForQuestionAnswering or BertForMultipleChoice)");
}

std::string architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Model: return "BertModel";
    case Architecture::PreTraining: return "BertForPreTraining";
    case Architecture::SequenceClassification: return "BertForSequenceClassification";
    case Architecture::TokenClassification: return "BertForTokenClassification";
    case Architecture::QuestionAnswering: return "BertForQuestionAnswering";
    case Architecture::MultipleChoice: return "BertForMultipleChoice";
  }
  return "BertModel";
}

std::shared_ptr<torch::nn::Module> make_model(Architecture arch, const BertConfig& config) {
  switch (arch) {
    case Architecture::Model: return BertModel(config).ptr();
    case Architecture::PreTraining: return BertForPreTraining(config).ptr();
    case Architecture::SequenceClassification: return BertForSequenceClassification(config).ptr();
    case Architecture::TokenClassification: return BertForTokenClassification(config).ptr();
    case Architecture::QuestionAnswering: return BertForQuestionAnswering(config).ptr();
    case Architecture::MultipleChoice: return BertForMultipleChoice(config).ptr();
  }
  return nullptr;
}

}  // namespace bert::model
