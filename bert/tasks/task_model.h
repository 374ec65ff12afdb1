// A fine-tuned model of any of the six tasks behind one face: build it from a config (new
// head) or load it from a checkpoint directory, run batches, turn logits into predictions and
// predictions into the metrics people report. Used by finetune (dev evaluation), evaluate and
// predict.
#pragma once

#include "bert/data/conll_reader.h"
#include "bert/model/heads.h"
#include "bert/tasks/question_answering.h"
#include "bert/tasks/task_data.h"
#include "bert/train/precision.h"

#include <map>
#include <memory>
#include <string>

namespace bert::tasks {

// The task a checkpoint's head was trained for, from its architecture (and problem_type); none for
// an encoder without a task head (BertModel, BertForPreTraining, BertForMaskedLM).
std::optional<Task> task_of_config(const model::BertConfig& config);

class TaskModel {
 public:
  // A new task head on `config` (num_labels, id2label, problem_type set by the caller).
  TaskModel(Task task, const model::BertConfig& config);
  // Loads a fine-tuned checkpoint directory; the task comes from its architecture/problem type.
  static TaskModel load(const std::string& dir);

  // Logits: classify and multilabel (B, C), regress (B, 1), tag (B, S, C), qa (B, S, 2) (answer start, end),
  // choice (B, K) (one score per candidate).
  torch::Tensor forward(const TaskBatch& batch);
  // Cross-entropy (classify, tag; class_weights per class), binary cross-entropy with logits
  // averaged over examples x labels (multilabel, as transformers; class_weights is then the
  // positive-example weight per label), MSE (regress) or the mean of the answer start's and end's
  // cross-entropies (qa); choice: cross-entropy over the candidates.
  torch::Tensor loss(const torch::Tensor& logits, const TaskBatch& batch, const torch::Tensor& class_weights = {});

  torch::nn::Module& module() { return *module_; }
  const model::BertConfig& config() const { return config_; }
  model::BertConfig& config() { return config_; }
  Task task() const { return task_; }
  data::LabelMap label_map() const;  // from config id2label (classify/multilabel/tag); empty for qa and choice

 private:
  Task task_;
  model::BertConfig config_;
  std::shared_ptr<torch::nn::Module> module_;
  model::BertForSequenceClassification sequence_ = nullptr;
  model::BertForTokenClassification token_ = nullptr;
  model::BertForQuestionAnswering qa_ = nullptr;
  model::BertForMultipleChoice choice_ = nullptr;
};

struct Predictions {
  std::vector<int64_t> classes;                 // classify; choice: the candidate picked
  std::vector<std::vector<float>> probabilities;  // classify, choice: softmax per example; multilabel: sigmoid per label
  std::vector<std::vector<int64_t>> label_sets;   // multilabel: the labels whose probability is >= the threshold
  std::vector<double> values;                   // regress
  std::vector<std::vector<std::string>> tags;   // tag: one per word
  std::vector<QaAnswer> answers;                // qa: one per question (not per window)
  size_t non_finite = 0;                        // examples (qa: windows) with a NaN or inf output
};

// Runs the whole dataset in eval mode (no grad), batches longest-first, outputs in input order
// (qa: the windows' logits are read into one answer per question, as data.qa says).
// threshold: a multilabel example gets every label whose probability reaches it.
Predictions predict_dataset(TaskModel& model, const TaskDataset& data, int64_t batch_size, train::Precision precision,
                            const torch::Device& device, int64_t pad_id, double threshold = 0.5);

struct EvaluationResult {
  std::map<std::string, double> metrics;  // flat keys (accuracy, macro_f1, mcc, micro_f1, pearson, entity_f1, ...)
  std::string report;                     // the readable table
  // What the flat keys cannot hold, for `evaluate --output`: classification's and multiple
  // choice's {"labels": [...], "confusion_matrix": [[...]]} (rows gold, columns predicted).
  nlohmann::json details = nlohmann::json::object();
};

EvaluationResult evaluate_predictions(const TaskModel& model, const TaskDataset& data, const Predictions& predictions,
                                      const std::string& scheme = "bio");

// The data's own labels as predictions (what a perfect model would say): evaluated, they give the
// metric names a real evaluation reports, known before any training.
Predictions gold_predictions(const TaskDataset& data, Task task);

}  // namespace bert::tasks
