#include "bert/tasks/task_model.h"

#include "bert/eval/metrics.h"
#include "bert/io/checkpoint.h"
#include "bert/util/error.h"

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

namespace bert::tasks {

namespace F = torch::nn::functional;

TaskModel::TaskModel(Task task, const model::BertConfig& config) : task_(task), config_(config) {
  if (task == Task::qa) {
    config_.architecture = "BertForQuestionAnswering";
    config_.num_labels = 2;  // start, end
    config_.id2label.clear();
    config_.problem_type.reset();
    qa_ = model::BertForQuestionAnswering(config_);
    module_ = qa_.ptr();
  } else if (task == Task::choice) {
    config_.architecture = "BertForMultipleChoice";
    config_.id2label.clear();  // the candidates are columns, not labels
    config_.problem_type.reset();
    choice_ = model::BertForMultipleChoice(config_);
    module_ = choice_.ptr();
  } else if (task == Task::tag) {
    config_.architecture = "BertForTokenClassification";
    token_ = model::BertForTokenClassification(config_);
    module_ = token_.ptr();
  } else {
    config_.architecture = "BertForSequenceClassification";
    if (task == Task::regress) {
      config_.num_labels = 1;
      config_.problem_type = "regression";
    } else if (task == Task::multilabel) {
      config_.problem_type = "multi_label_classification";
    } else {
      config_.problem_type = "single_label_classification";
    }
    sequence_ = model::BertForSequenceClassification(config_);
    module_ = sequence_.ptr();
  }
}

std::optional<Task> task_of_config(const model::BertConfig& config) {
  if (config.architecture == "BertForTokenClassification") return Task::tag;
  if (config.architecture == "BertForQuestionAnswering") return Task::qa;
  if (config.architecture == "BertForMultipleChoice") return Task::choice;
  if (config.architecture != "BertForSequenceClassification") return std::nullopt;
  if (config.problem_type == std::optional<std::string>("multi_label_classification")) return Task::multilabel;
  if (config.num_labels == 1 || config.problem_type == std::optional<std::string>("regression")) return Task::regress;
  return Task::classify;
}

TaskModel TaskModel::load(const std::string& dir) {
  const std::string config_file = (std::filesystem::path(dir) / "config.json").string();
  io::require_config_json(dir);
  auto config = model::BertConfig::load(config_file);
  const auto head_task = task_of_config(config);
  if (!head_task)
    throw Error(config_file + ": architecture " + config.architecture +
                " is not a fine-tuned model (expected BertForSequenceClassification, BertForTokenClassification, "
                "BertForQuestionAnswering or BertForMultipleChoice; a pre-trained model is evaluated with evaluate "
                "--corpus, or fine-tuned first)");
  const Task task = *head_task;
  if (task == Task::classify || task == Task::multilabel || task == Task::tag) {
    std::set<std::string> seen;
    for (int64_t i = 0; i < config.num_labels; ++i) {
      auto it = config.id2label.find(i);
      const std::string name = it != config.id2label.end() ? it->second : "LABEL_" + std::to_string(i);
      if (!seen.insert(name).second)
        throw Error(config_file + ": 'id2label' names \"" + name + "\" twice; each of the classifier's " +
                    std::to_string(config.num_labels) + " outputs needs a name of its own");
    }
  }
  if (task == Task::regress && config.num_labels > 1)
    throw Error(config_file + ": a regression head with " + std::to_string(config.num_labels) +
                " outputs (num_labels); only single-score regression is supported");
  std::optional<TaskModel> loaded;
  {
    model::SkipWeightInit skip;  // every weight comes from the file (a missing head is an error below)
    loaded.emplace(task, config);
  }
  TaskModel& m = *loaded;
  auto report = io::load_weights(m.module(), io::read_weights(dir), dir);
  if (!report.initialised.empty())
    throw Error(dir + ": the checkpoint lacks the task head ('" + report.initialised.front() + "')");
  return std::move(*loaded);
}

data::LabelMap TaskModel::label_map() const {
  std::vector<std::string> names;
  if (task_ == Task::qa || task_ == Task::choice) return data::LabelMap::from_names(names);  // spans, candidates
  for (int64_t i = 0; i < config_.num_labels; ++i) {
    auto it = config_.id2label.find(i);
    names.push_back(it != config_.id2label.end() ? it->second : "LABEL_" + std::to_string(i));
  }
  return data::LabelMap::from_names(names);
}

torch::Tensor TaskModel::forward(const TaskBatch& b) {
  if (token_) return token_->forward(b.input_ids, b.attention_mask, b.token_type_ids).logits;
  if (qa_) return qa_->forward(b.input_ids, b.attention_mask, b.token_type_ids).logits;
  if (choice_) return choice_->forward(b.input_ids, b.attention_mask, b.token_type_ids).logits;
  return sequence_->forward(b.input_ids, b.attention_mask, b.token_type_ids).logits;
}

torch::Tensor TaskModel::loss(const torch::Tensor& logits, const TaskBatch& b, const torch::Tensor& class_weights) {
  if (task_ == Task::qa) return model::question_answering_loss(logits, b.labels);
  auto l32 = logits.to(torch::kFloat);
  if (task_ == Task::regress) return F::mse_loss(l32.squeeze(-1), b.labels);
  if (task_ == Task::multilabel) {
    auto options = F::BinaryCrossEntropyWithLogitsFuncOptions();
    if (class_weights.defined()) options.pos_weight(class_weights);
    return F::binary_cross_entropy_with_logits(l32, b.labels, options);
  }
  auto options = F::CrossEntropyFuncOptions().ignore_index(model::kIgnoreIndex);
  if (class_weights.defined()) options.weight(class_weights);
  return F::cross_entropy(l32.reshape({-1, l32.size(-1)}), b.labels.reshape({-1}), options);
}

Predictions predict_dataset(TaskModel& model, const TaskDataset& data, int64_t batch_size, train::Precision precision,
                            const torch::Device& device, int64_t pad_id, double threshold) {
  torch::NoGradGuard no_grad;
  model.module().eval();
  Predictions p;
  const size_t n = data.examples.size();
  const auto task = model.task();
  const auto names = task == Task::tag ? model.label_map().names() : std::vector<std::string>{};
  const bool pick_one = task == Task::classify || task == Task::choice;  // softmax, argmax
  if (pick_one) p.classes.assign(n, 0);
  if (pick_one || task == Task::multilabel) p.probabilities.assign(n, {});
  if (task == Task::multilabel) p.label_sets.assign(n, {});
  if (task == Task::regress) p.values.assign(n, 0.0);
  if (task == Task::tag) p.tags.assign(n, {});
  std::vector<std::vector<float>> start_logits, end_logits;  // qa: per window
  if (task == Task::qa) start_logits.assign(n, {}), end_logits.assign(n, {});
  for (const auto& indices : length_grouped_batches(data.examples, batch_size, nullptr)) {
    auto batch = collate_task_batch(data.examples, indices, task, pad_id, device, model.config().num_labels);
    torch::Tensor logits;
    {
      train::AutocastGuard autocast(precision, device);
      logits = model.forward(batch);
    }
    logits = logits.to(torch::kCPU, torch::kFloat);
    p.non_finite += static_cast<size_t>((~torch::isfinite(logits).flatten(1).all(1)).sum().item<int64_t>());
    for (size_t r = 0; r < indices.size(); ++r) {
      const size_t i = indices[r];
      if (task == Task::qa) {
        const auto length = static_cast<int64_t>(data.examples[i].ids.size());
        auto window = logits[static_cast<int64_t>(r)].slice(0, 0, length).t().contiguous();  // (2, length)
        const float* v = window.data_ptr<float>();
        start_logits[i].assign(v, v + length);
        end_logits[i].assign(v + length, v + 2 * length);
      } else if (task == Task::regress) {
        p.values[i] = logits[static_cast<int64_t>(r)][0].item<double>();
      } else if (pick_one) {
        auto probs = torch::softmax(logits[static_cast<int64_t>(r)], -1).contiguous();
        p.probabilities[i].assign(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
        p.classes[i] = probs.argmax().item<int64_t>();
      } else if (task == Task::multilabel) {
        auto probs = torch::sigmoid(logits[static_cast<int64_t>(r)]).contiguous();
        p.probabilities[i].assign(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
        for (size_t c = 0; c < p.probabilities[i].size(); ++c)
          if (p.probabilities[i][c] >= threshold) p.label_sets[i].push_back(static_cast<int64_t>(c));
      } else {
        const auto& ex = data.examples[i];
        const size_t words = data.sentences[i].words.size();
        p.tags[i].assign(words, names.empty() ? "O" : names[0]);
        // Words cut off by truncation are predicted "O" (counted in data.words_lost_to_truncation).
        if (std::find(names.begin(), names.end(), "O") != names.end())
          std::fill(p.tags[i].begin(), p.tags[i].end(), "O");
        auto best = logits[static_cast<int64_t>(r)].argmax(-1).contiguous();  // (S)
        const int64_t* best_ptr = best.data_ptr<int64_t>();
        for (size_t s = 0; s < ex.word_of_piece.size(); ++s)
          if (ex.word_of_piece[s] >= 0) p.tags[i][static_cast<size_t>(ex.word_of_piece[s])] = names[static_cast<size_t>(best_ptr[s])];
      }
    }
  }
  if (task == Task::qa) p.answers = answer_questions(data, start_logits, end_logits);
  return p;
}

EvaluationResult evaluate_predictions(const TaskModel& model, const TaskDataset& data, const Predictions& p,
                                      const std::string& scheme) {
  EvaluationResult r;
  if (model.task() == Task::classify || model.task() == Task::choice) {
    std::vector<int64_t> gold;
    for (const auto& ex : data.examples) gold.push_back(ex.label);
    auto names = model.label_map().names();
    if (model.task() == Task::choice)  // the candidates' numbers, as the label column gives them
      for (size_t k = 0; k < (data.examples.empty() ? 0 : data.examples[0].choice_ids.size()); ++k)
        names.push_back(std::to_string(k));
    auto report = eval::classification_report(gold, p.classes, names);
    r.metrics = eval::metrics_map(report);
    r.report = eval::format_report(report);
    r.details = {{"labels", names}, {"confusion_matrix", report.confusion}};
  } else if (model.task() == Task::multilabel) {
    std::vector<std::vector<int64_t>> gold;
    for (const auto& ex : data.examples) gold.push_back(ex.label_set);
    auto report = eval::multilabel_report(gold, p.label_sets, model.label_map().names());
    r.metrics = eval::metrics_map(report);
    r.report = eval::format_report(report);
  } else if (model.task() == Task::regress) {
    std::vector<double> gold;
    for (const auto& ex : data.examples) gold.push_back(ex.target);
    auto report = eval::regression_report(gold, p.values);
    r.metrics = eval::metrics_map(report);
    r.report = eval::format_report(report);
  } else if (model.task() == Task::qa) {
    std::vector<std::string> predicted;
    for (const auto& a : p.answers) predicted.push_back(a.text);
    auto report = eval::squad_report(gold_answers(data), predicted);
    r.metrics = eval::metrics_map(report);
    r.report = eval::format_report(report);
  } else {
    std::vector<std::vector<std::string>> gold;
    for (const auto& s : data.sentences) gold.push_back(s.tags);
    auto report = eval::tagging_report(gold, p.tags, eval::parse_scheme(scheme));
    r.metrics = eval::metrics_map(report);
    r.report = eval::format_report(report);
  }
  return r;
}

Predictions gold_predictions(const TaskDataset& data, Task task) {
  Predictions p;
  for (const auto& ex : data.examples) {
    if (task == Task::classify || task == Task::choice) p.classes.push_back(ex.label);
    if (task == Task::multilabel) p.label_sets.push_back(ex.label_set);
    if (task == Task::regress) p.values.push_back(ex.target);
  }
  if (task == Task::tag)
    for (const auto& s : data.sentences) p.tags.push_back(s.tags);
  if (task == Task::qa)
    for (const auto& answers : gold_answers(data)) {
      QaAnswer a;
      if (!answers.empty()) a.text = answers[0];
      p.answers.push_back(a);
    }
  return p;
}

}  // namespace bert::tasks
