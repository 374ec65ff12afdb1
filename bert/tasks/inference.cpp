#include "bert/tasks/inference.h"

#include "bert/tasks/task_model.h"
#include "bert/tokenizer/load.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#include <iostream>
#include <sstream>

namespace bert::tasks {

namespace {

// Texts given on the command line or stdin, tokenized exactly as a data file's rows would be
// (for tagging, a text is split into words at whitespace).
TaskDataset dataset_from_texts(const PredictInput& in, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                               Task task) {
  TaskDataset d;
  d.path = "<input>";
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (task == Task::tag) {
      data::TaggedSentence s;
      std::istringstream words(in.texts[i]);
      for (std::string w; words >> w;) s.words.push_back(w);
      s.line = i + 1;
      d.examples.push_back(encode_sentence(s, {}, o, tok, d.truncated, d.words_lost_to_truncation));
      d.sentences.push_back(std::move(s));
    } else {
      data::LabelledRow row;
      row.text = in.texts[i];
      if (!in.text_pairs.empty()) row.text_pair = in.text_pairs[i];
      row.line = i + 1;
      d.examples.push_back(encode_row(row, o, tok, d.truncated));
      d.rows.push_back(std::move(row));
    }
  }
  return d;
}

}  // namespace

std::map<std::string, double> run_evaluate(const InferenceOptions& o, const std::string& data_file,
                                           const std::string& output) {
  const torch::Device device(o.device);
  const auto precision = train::parse_precision(o.precision);
  train::check_precision_supported(precision, device);
  auto model = TaskModel::load(o.model_dir);
  model.module().to(device);
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir);
  auto options = o.data;
  options.task = model.task();
  if (model.task() == Task::tag) options.conll = true;
  auto labels = model.label_map();
  auto data = load_task_data(data_file, options, *tokenizer, labels, /*build_labels=*/false);
  log::info("[evaluate] {}", data.read_summary);
  auto predictions = predict_dataset(model, data, o.batch_size, precision, device, tokenizer->pad_id());
  auto result = evaluate_predictions(model, data, predictions, o.scheme);
  std::cout << result.report;
  if (!output.empty()) {
    nlohmann::json j(result.metrics);
    j["examples"] = data.examples.size();
    write_file_atomic(output, j.dump(2) + "\n");
    log::info("[evaluate] metrics written to {}", output);
  }
  return result.metrics;
}

size_t run_predict(const InferenceOptions& o, const PredictInput& in, const std::string& output) {
  const torch::Device device(o.device);
  const auto precision = train::parse_precision(o.precision);
  train::check_precision_supported(precision, device);
  auto model = TaskModel::load(o.model_dir);
  model.module().to(device);
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir);
  auto options = o.data;
  options.task = model.task();
  options.has_labels = false;
  if (model.task() == Task::tag) options.conll = true;
  TaskDataset data;
  if (!in.file.empty()) {
    data::LabelMap none;
    data = load_task_data(in.file, options, *tokenizer, none, false);
  } else {
    if (!in.text_pairs.empty() && in.text_pairs.size() != in.texts.size())
      throw Error("--text-pair: give one per --text (found " + std::to_string(in.text_pairs.size()) + " for " +
                  std::to_string(in.texts.size()) + " texts)");
    data = dataset_from_texts(in, options, *tokenizer, model.task());
  }
  auto p = predict_dataset(model, data, o.batch_size, precision, device, tokenizer->pad_id());
  const auto names = model.label_map().names();
  std::ostringstream out;
  for (size_t i = 0; i < data.examples.size(); ++i) {
    nlohmann::json j;
    if (model.task() == Task::classify) {
      j["label"] = names[static_cast<size_t>(p.classes[i])];
      nlohmann::json probs = nlohmann::json::object();
      for (size_t c = 0; c < names.size(); ++c) probs[names[c]] = p.probabilities[i][c];
      j["probabilities"] = probs;
    } else if (model.task() == Task::regress) {
      j["score"] = p.values[i];
    } else {
      j["words"] = data.sentences[i].words;
      j["tags"] = p.tags[i];
    }
    out << j.dump() << "\n";
  }
  if (output.empty() || output == "-") std::cout << out.str();
  else write_file_atomic(output, out.str());
  return data.examples.size();
}

}  // namespace bert::tasks
