#include "bert/tasks/inference.h"

#include "bert/data/corpus_reader.h"
#include "bert/io/checkpoint.h"
#include "bert/tasks/fill_mask.h"
#include "bert/tasks/task_model.h"
#include "bert/tokenizer/load.h"
#include "bert/tokenizer/unicode.h"
#include "bert/train/run_log.h"
#include "bert/util/checks.h"
#include "bert/util/device.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

namespace bert::tasks {

namespace {

// A raw text's words as BERT's pre-tokenizer sees them (transformers' token-classification pipeline
// too): split at whitespace, each punctuation mark and CJK character a word of its own, so that
// "Paris." is tagged as "Paris" and ".", as CoNLL-style training data has them.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::string current;
  auto finish = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const char32_t cp = tokenizer::unicode::decode_utf8(text, pos);
    if (tokenizer::unicode::is_whitespace(cp)) {
      finish();
    } else if (tokenizer::unicode::is_punctuation(cp) || tokenizer::unicode::is_chinese_char(cp)) {
      finish();
      words.push_back(text.substr(start, pos - start));
    } else {
      current.append(text, start, pos - start);
    }
  }
  finish();
  return words;
}

// Texts given on the command line or stdin, tokenized exactly as a data file's rows would be
// (for tagging, a text is split into words by split_words).
TaskDataset dataset_from_texts(const PredictInput& in, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                               Task task) {
  TaskDataset d;
  d.path = in.source;
  auto line_of = [&](size_t i) { return i < in.lines.size() ? in.lines[i] : i + 1; };
  // Checked as a file's rows would be: one place to tell the user which text is wrong.
  auto check_text = [&](const std::string& text, const std::string& where, size_t line, const char* what) {
    data::check_utf8(text, where, line);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
      throw Error(where + ":" + std::to_string(line) + ": empty " + what + " (expected text to predict on)");
  };
  for (size_t i = 0; i < in.texts.size(); ++i) {
    check_text(in.texts[i], in.source, line_of(i), task == Task::qa ? "question" : "text");
    if (i < in.text_pairs.size())
      check_text(in.text_pairs[i], in.source, line_of(i), task == Task::qa ? "context" : "text pair");
  }
  for (size_t k = 0; k < in.choices.size(); ++k) check_text(in.choices[k], "--choice", k + 1, "candidate");
  if (task == Task::qa) {  // text = question, pair = context
    if (in.text_pairs.empty())
      throw Error("a question-answering model needs a context for each question: --question Q --context C (or "
                  "stdin lines \"question<TAB>context\")");
    for (size_t i = 0; i < in.texts.size(); ++i) {
      data::Question q;
      q.id = std::to_string(i + 1);
      q.question = in.texts[i];
      q.where = in.source + ":" + std::to_string(line_of(i));
      if (d.squad.contexts.empty() || d.squad.contexts.back() != in.text_pairs[i]) d.squad.contexts.push_back(in.text_pairs[i]);
      q.context = d.squad.contexts.size() - 1;
      d.squad.questions.push_back(std::move(q));
    }
    build_qa_features(o, tok, d);
    return d;
  }
  for (size_t i = 0; i < in.texts.size(); ++i) {
    if (task == Task::tag) {
      data::TaggedSentence s;
      s.words = split_words(in.texts[i]);
      s.line = line_of(i);
      d.examples.push_back(encode_sentence(s, {}, o, tok, d.truncated, d.words_lost_to_truncation));
      d.sentences.push_back(std::move(s));
    } else {
      data::LabelledRow row;
      row.text = in.texts[i];
      if (!in.text_pairs.empty()) row.text_pair = in.text_pairs[i];
      row.line = line_of(i);
      if (task == Task::choice) {
        if (in.choices.size() < 2)
          throw Error("a multiple-choice model needs the candidates: --text CONTEXT --choice A --choice B ... (at least "
                      "two), or --input FILE with --choice-columns");
        row.choices = in.choices;
        d.examples.push_back(encode_choices(row, o, tok, d.truncated));
      } else {
        if (!in.choices.empty()) throw Error("--choice: the model is not a multiple-choice model");
        d.examples.push_back(encode_row(row, o, tok, d.truncated));
      }
      d.rows.push_back(std::move(row));
    }
  }
  return d;
}

// How the model read its data when we fine-tuned it (config.json's finetune_inputs); null for a
// model from elsewhere.
nlohmann::json finetune_inputs_of(const TaskModel& model) {
  return model.config().extra.value(kFinetuneInputsKey, nlohmann::json());
}

enum class OutputFormat { jsonl, csv, tsv, conll, json };

// By the output file's extension: .csv, .tsv/.txt (CoNLL layout for tagging), .json (one JSON
// document), anything else and stdout JSON lines.
OutputFormat output_format(const std::string& output, Task task) {
  if (ends_with(output, ".json")) return OutputFormat::json;  // QA: SQuAD's {"id": "answer"}; else a list of rows
  if (ends_with(output, ".csv") && task != Task::tag) return OutputFormat::csv;
  if (ends_with(output, ".tsv") || ends_with(output, ".txt") || ends_with(output, ".conll"))
    return task == Task::tag ? OutputFormat::conll : OutputFormat::tsv;
  return OutputFormat::jsonl;
}

// One delimited row; fields holding the delimiter, quotes or line breaks are RFC 4180-quoted.
void write_row(std::ostream& out, const std::vector<std::string>& fields, char delim) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& f = fields[i];
    if (i) out << delim;
    if (f.find_first_of(std::string(1, delim) + "\"\r\n") == std::string::npos) {
      out << f;
      continue;
    }
    out << '"';
    for (char c : f) out << (c == '"' ? "\"\"" : std::string(1, c));
    out << '"';
  }
  out << '\n';
}

// The rows to predict on: a data file (every column kept for the output), or --text / stdin texts
// read as that file's rows would be. `inputs`: how the model read its data (finetune_inputs).
TaskDataset read_predict_input(const PredictInput& in, TaskDataOptions& options, const tokenizer::Tokenizer& tokenizer,
                               const nlohmann::json& inputs) {
  options.has_labels = false;
  if (!in.file.empty()) {
    data::LabelMap none;
    options.table.keep_fields = true;  // the output repeats every input column
    apply_finetune_columns(inputs, in.file, options);
    auto data = load_task_data(in.file, options, tokenizer, none, false);
    log::info("[data] {}", data.read_summary);
    return data;
  }
  if (!in.text_pairs.empty() && in.text_pairs.size() != in.texts.size())
    throw Error("--text-pair: give one per --text (found " + std::to_string(in.text_pairs.size()) + " for " +
                std::to_string(in.texts.size()) + " texts)");
  if (!in.text_pairs.empty() && options.task != Task::qa && inputs.contains("text_column") &&
      !inputs.contains("text_pair_column"))
    log::warn("[predict] the model was fine-tuned on single texts (config.json's {}), but {} gives text pairs{}",
              kFinetuneInputsKey, in.source, in.source == "stdin" ? " (a TAB in a line starts the pair)" : "");
  return dataset_from_texts(in, options, tokenizer, options.task);
}

// The input's columns as predict writes them back before its own: all of a file's (a .txt's one
// column is `text`), `text` (and `text_pair`, `choice_K`) for --text / stdin.
class InputColumns {
 public:
  InputColumns(const TaskDataset& data, const std::vector<std::string>& prediction_columns) : data_(data) {
    from_file_ = !data.rows.empty() && !data.rows.front().fields.empty();
    if (from_file_ && data.header.empty() && data.rows.front().fields.size() == 1 && ends_with(data.path, ".txt")) {
      names_ = {"text"};  // one text per line, as on stdin
    } else if (from_file_) {
      names_ = data.header;
      for (size_t c = names_.size(); c < data.rows.front().fields.size(); ++c) names_.push_back("column_" + std::to_string(c));
    } else {
      names_ = {"text"};
      if (!data.rows.empty() && data.rows.front().text_pair) names_.push_back("text_pair");
      for (size_t k = 0; !data.rows.empty() && k < data.rows.front().choices.size(); ++k)
        names_.push_back("choice_" + std::to_string(k));
    }
    // An input column named like a prediction column (STS-B's gold "score") or like another input
    // column is renamed, not lost: JSON keeps one value per key, and a table needs distinct names.
    std::set<std::string> taken(prediction_columns.begin(), prediction_columns.end());
    for (auto& column : names_) {
      std::string name = column;
      while (taken.count(name)) name = "input_" + name;
      if (name != column)
        log::warn("[predict] input column \"{}\" is written as \"{}\" (the name is taken by {})", column, name,
                  std::count(prediction_columns.begin(), prediction_columns.end(), column) ? "a prediction column"
                                                                                          : "another input column");
      taken.insert(name);
      column = name;
    }
  }

  std::vector<std::string> values(size_t row) const {
    const auto& r = data_.rows[row];
    if (from_file_) return r.fields;
    std::vector<std::string> v = {r.text};
    if (r.text_pair) v.push_back(*r.text_pair);
    v.insert(v.end(), r.choices.begin(), r.choices.end());
    return v;
  }
  template <class Json>
  void add_to(Json& j, size_t row) const {
    const auto v = values(row);
    for (size_t c = 0; c < v.size(); ++c) j[names_[c]] = v[c];
  }
  // A file read without a header gets none back: the same layout as the input, new columns last.
  void write_header(std::ostream& out, const std::vector<std::string>& prediction_columns, char delim) const {
    if (from_file_ && data_.header.empty()) return;
    std::vector<std::string> header = names_;
    header.insert(header.end(), prediction_columns.begin(), prediction_columns.end());
    write_row(out, header, delim);
  }

 private:
  const TaskDataset& data_;
  bool from_file_ = false;
  std::vector<std::string> names_;
};

// Writes the finished output to `output` (stdout when empty or "-"); returns `count`.
size_t emit(const std::string& output, const std::string& text, size_t count, const std::string& noun) {
  const bool to_stdout = output.empty() || output == "-";
  if (to_stdout) std::cout << text;
  else write_file_atomic(output, text);
  log::info("[predict] {}{}", counted(count, noun), to_stdout ? "" : " written to " + output);
  return count;
}

// Question answering: one record per question, in the format the extension names: .json is
// SQuAD's predictions file ({"id": "answer"}, what its official evaluation script reads), .csv and
// .tsv a table, anything else (and stdout) JSON lines {"id", "question", "answer", "score", "start",
// "end"} with start/end the answer's character offsets in the context (null for no answer).
size_t write_answers(const TaskDataset& data, const std::vector<QaAnswer>& answers, const std::string& output) {
  const auto format = output_format(output, Task::qa);
  const auto& questions = data.squad.questions;
  std::ostringstream out;
  if (format == OutputFormat::json) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (size_t i = 0; i < questions.size(); ++i) j[questions[i].id] = answers[i].text;
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (format == OutputFormat::csv || format == OutputFormat::tsv) {
    const char delim = format == OutputFormat::csv ? ',' : '\t';
    write_row(out, {"id", "question", "answer", "score", "start", "end"}, delim);
    for (size_t i = 0; i < questions.size(); ++i) {
      const auto& a = answers[i];
      write_row(out, {questions[i].id, questions[i].question, a.text, fmt::format("{:.6f}", a.score),
                      a.start ? std::to_string(*a.start) : "", a.end ? std::to_string(*a.end) : ""}, delim);
    }
  } else {
    for (size_t i = 0; i < questions.size(); ++i) {
      const auto& a = answers[i];
      nlohmann::ordered_json j = {{"id", questions[i].id}, {"question", questions[i].question}, {"answer", a.text},
                                  {"score", a.score}, {"start", nullptr}, {"end", nullptr}};
      if (a.start) j["start"] = *a.start, j["end"] = *a.end;
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return emit(output, out.str(), questions.size(), "answer");
}

// What evaluate and predict both start from: the model on its device and its tokenizer, and
// the data options with the task the model was trained for.
struct LoadedModel {
  torch::Device device;
  train::Precision precision;
  TaskModel model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  TaskDataOptions data;
};

// Outputs that are NaN or inf make every prediction from them meaningless: an error, not a file.
void require_finite_outputs(const Predictions& p, const TaskDataset& data, const InferenceOptions& o) {
  if (p.non_finite == 0) return;
  throw Error(o.model_dir + ": " + std::to_string(p.non_finite) + " of " + std::to_string(data.examples.size()) +
              " examples got NaN or infinite outputs (damaged weights or config.json" +
              (o.precision == "fp16" ? ", or an fp16 overflow: try --precision bf16 or fp32" : "") +
              "); nothing was written");
}

LoadedModel load_for_inference(const InferenceOptions& o) {
  require_directory("--model", o.model_dir);
  const torch::Device device = parse_device(o.device);
  const auto precision = train::parse_precision(o.precision);
  train::check_precision_supported(precision, device);
  auto model = TaskModel::load(o.model_dir);
  model.module().to(device);
  auto options = o.data;
  options.task = model.task();
  options.model_vocab_size = model.config().vocab_size;
  apply_finetune_settings(finetune_inputs_of(model), options);
  options.max_seq_len =
      fit_max_seq_len(resolve_max_seq_len(options.max_seq_len, model.task()), model.config().max_position_embeddings);
  if (model.task() == Task::tag) options.conll = true;
  // A question-answering model trained on SQuAD v2.0 data answers "none" unless told otherwise.
  const auto& extra = model.config().extra;
  if (extra.contains(kAllowNoAnswerKey) && extra[kAllowNoAnswerKey].is_boolean() && extra[kAllowNoAnswerKey].get<bool>())
    options.qa.allow_no_answer = true;
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir, model.config().vocab_size);
  return {device, precision, std::move(model), std::move(tokenizer), options};
}

// `predict` with a pre-trained model: the top-k tokens at each [MASK] (fill_mask.h).
size_t run_fill_mask(const InferenceOptions& o, const model::BertConfig& config, const PredictInput& in,
                     const std::string& output) {
  require_non_negative("--top-k", o.top_k);
  const torch::Device device = parse_device(o.device);
  const auto precision = train::parse_precision(o.precision);
  train::check_precision_supported(precision, device);
  auto model = load_masked_lm(o.model_dir, config);
  model->to(device);
  auto tokenizer = tokenizer::load_tokenizer(o.model_dir, config.vocab_size);
  auto options = o.data;
  options.task = Task::classify;  // rows of one text (or a pair), read as a classifier's
  options.model_vocab_size = config.vocab_size;
  // Not given: as long as the model reads (transformers' pipeline does not truncate at all).
  options.max_seq_len = options.max_seq_len > 0 ? fit_max_seq_len(options.max_seq_len, config.max_position_embeddings)
                                                : config.max_position_embeddings;
  auto data = read_predict_input(in, options, *tokenizer, nlohmann::json());
  const int64_t mask_id = tokenizer->mask_id();
  const std::string mask = tokenizer->id_to_token(mask_id);
  size_t masks = 0;
  for (size_t i = 0; i < data.examples.size(); ++i) {
    const auto& ids = data.examples[i].ids;
    const auto n = static_cast<size_t>(std::count(ids.begin(), ids.end(), mask_id));
    masks += n;
    if (n > 0) continue;
    const auto& row = data.rows[i];
    const auto whole = tokenizer->encode(row.text, row.text_pair ? std::optional<std::string_view>(*row.text_pair)
                                                                  : std::nullopt).ids;
    const bool cut_off = std::count(whole.begin(), whole.end(), mask_id) > 0;
    throw Error(data.path + ":" + std::to_string(row.line) + ": " +
                (cut_off ? "every " + mask + " lies past --max-seq-len " + std::to_string(options.max_seq_len) +
                               " (the text is " + std::to_string(whole.size()) + " tokens long)"
                         : "no " + mask + " in the text: " + o.model_dir +
                               " is a pre-trained model, and predict fills in the " + mask +
                               " tokens of its input (\"The capital of France is " + mask + ".\")"));
  }
  FillMaskOptions fill;
  fill.top_k = o.top_k > 0 ? o.top_k : 5;
  fill.targets = target_ids(o.targets, *tokenizer);
  fill.batch_size = o.batch_size;
  fill.precision = precision;
  log::info("[predict] {}: the top {} tokens at each of {} in {}", o.model_dir, fill.top_k, counted(masks, mask),
            counted(data.examples.size(), "text"));
  const auto filled = fill_masks(model, *tokenizer, data.examples, fill, device);

  const auto format = output_format(output, Task::classify);
  const bool table = format == OutputFormat::csv || format == OutputFormat::tsv;
  const std::vector<std::string> prediction_columns =
      table ? std::vector<std::string>{"mask", "rank", "token", "token_str", "score", "sequence"}
            : std::vector<std::string>{"masks"};
  const InputColumns inputs(data, prediction_columns);
  std::ostringstream out;
  if (table) {  // a row per candidate: the mask's number in its text (from 1), the candidate's rank (from 1)
    const char delim = format == OutputFormat::csv ? ',' : '\t';
    inputs.write_header(out, prediction_columns, delim);
    for (size_t i = 0; i < filled.size(); ++i)
      for (size_t m = 0; m < filled[i].size(); ++m)
        for (size_t r = 0; r < filled[i][m].size(); ++r) {
          const auto& c = filled[i][m][r];
          auto row = inputs.values(i);
          for (auto field : {std::to_string(m + 1), std::to_string(r + 1), std::to_string(c.token), c.token_str,
                             fmt::format("{:.6g}", c.score), c.sequence})
            row.push_back(std::move(field));
          write_row(out, row, delim);
        }
  } else {  // "masks": one list per mask of {score, token, token_str, sequence}, as transformers' pipeline
    if (format == OutputFormat::json) out << "[";
    for (size_t i = 0; i < filled.size(); ++i) {
      nlohmann::ordered_json j;
      inputs.add_to(j, i);
      auto per_mask = nlohmann::ordered_json::array();
      for (const auto& candidates : filled[i]) {
        auto list = nlohmann::ordered_json::array();
        for (const auto& c : candidates)
          list.push_back({{"score", c.score}, {"token", c.token}, {"token_str", c.token_str}, {"sequence", c.sequence}});
        per_mask.push_back(std::move(list));
      }
      j["masks"] = std::move(per_mask);
      const auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (format == OutputFormat::json) out << (i ? ",\n " : "\n ") << line;
      else out << line << "\n";
    }
    if (format == OutputFormat::json) out << "\n]\n";
  }
  return emit(output, out.str(), data.examples.size(), "text");
}

}  // namespace

std::map<std::string, double> run_evaluate(const InferenceOptions& o, const std::string& data_file,
                                           const std::string& output) {
  require_positive("--batch-size", o.batch_size);
  io::refuse_output_over_model_or_data("--output", output, o.model_dir, data_file);
  auto loaded = load_for_inference(o);
  auto& [device, precision, model, tokenizer, options] = loaded;
  apply_finetune_columns(finetune_inputs_of(model), data_file, options);
  auto labels = model.label_map();
  TaskDataset data;
  try {
    data = load_task_data(data_file, options, *tokenizer, labels, /*build_labels=*/false);
  } catch (const Error& first) {
    // A model saved with transformers' placeholder names LABEL_0, LABEL_1, ...: data labelled
    // 0, 1, ... means those classes, as transformers reads them.
    if (!labels.has_placeholder_names()) throw;
    std::vector<std::string> numbers;
    for (size_t i = 0; i < labels.size(); ++i) numbers.push_back(std::to_string(i));
    auto numbered = data::LabelMap::from_names(numbers);
    try {
      data = load_task_data(data_file, options, *tokenizer, numbered, /*build_labels=*/false);
    } catch (const Error&) {
      throw first;  // the data's labels are neither: the message about the model's names
    }
    log::info("[evaluate] labels 0..{} read as the model's LABEL_0..LABEL_{}", labels.size() - 1, labels.size() - 1);
  }
  log::info("[evaluate] {}", data.read_summary);
  if (model.task() == Task::qa && data.squad.unanswerable > 0 && !data.qa.allow_no_answer) {
    data.qa.allow_no_answer = true;  // SQuAD v2.0 evaluation: "none" is a possible answer
    log::info("[evaluate] the data has unanswerable questions: answers may be \"none\" (SQuAD v2.0)");
  }
  auto predictions = predict_dataset(model, data, o.batch_size, precision, device, tokenizer->pad_id(), o.threshold);
  require_finite_outputs(predictions, data, o);
  auto result = evaluate_predictions(model, data, predictions, o.scheme);
  std::cout << result.report;
  if (!output.empty()) {
    nlohmann::json j(result.metrics);
    j["examples"] = model.task() == Task::qa ? data.squad.questions.size() : data.examples.size();
    j.update(result.details);
    train::write_metrics_file(output, j);
  }
  return result.metrics;
}

size_t run_predict(const InferenceOptions& o, const PredictInput& in, const std::string& output) {
  require_positive("--batch-size", o.batch_size);
  io::refuse_output_over_model_or_data("--output", output, o.model_dir, in.file);
  require_directory("--model", o.model_dir);
  io::require_config_json(o.model_dir);
  const auto config = model::BertConfig::load((std::filesystem::path(o.model_dir) / "config.json").string());
  if (!task_of_config(config)) return run_fill_mask(o, config, in, output);
  if (o.top_k || !o.targets.empty())
    throw Error(std::string(o.top_k ? "--top-k" : "--target") + ": only for a pre-trained model's [MASK] predictions; " +
                o.model_dir + " is a fine-tuned " + config.architecture);
  auto loaded = load_for_inference(o);
  auto& [device, precision, model, tokenizer, options] = loaded;
  auto data = read_predict_input(in, options, *tokenizer, finetune_inputs_of(model));
  auto p = predict_dataset(model, data, o.batch_size, precision, device, tokenizer->pad_id(), o.threshold);
  require_finite_outputs(p, data, o);
  if (model.task() == Task::qa) return write_answers(data, p.answers, output);
  const bool pick_one = model.task() == Task::classify || model.task() == Task::choice;
  auto names = model.label_map().names();
  if (model.task() == Task::choice)  // the candidates' numbers
    for (size_t k = 0; k < data.examples.at(0).choice_ids.size(); ++k) names.push_back(std::to_string(k));
  const bool with_probabilities = pick_one || model.task() == Task::multilabel;
  auto predicted_names = [&](size_t i) {
    std::vector<std::string> v;
    for (auto id : p.label_sets[i]) v.push_back(names[static_cast<size_t>(id)]);
    return v;
  };
  auto prediction_field = [&](size_t i) {
    if (pick_one) return names[static_cast<size_t>(p.classes[i])];
    std::string joined;
    for (const auto& name : predicted_names(i)) joined += (joined.empty() ? "" : std::string(1, options.label_separator)) + name;
    return joined;
  };
  const auto format = output_format(output, model.task());
  std::ostringstream out;
  // The input's columns, then the prediction columns.
  std::vector<std::string> prediction_columns;
  if (with_probabilities) {
    prediction_columns.push_back("prediction");
    for (const auto& n : names) prediction_columns.push_back("prob_" + n);
  } else if (model.task() != Task::tag) {
    prediction_columns.push_back("score");
  }
  const InputColumns inputs(data, prediction_columns);
  if (format == OutputFormat::jsonl || format == OutputFormat::json) {
    // .json: one list of the rows JSON lines would give, a row a line.
    if (format == OutputFormat::json) out << "[";
    for (size_t i = 0; i < data.examples.size(); ++i) {
      nlohmann::json j;
      if (model.task() == Task::tag) {
        j["words"] = data.sentences[i].words;
        j["tags"] = p.tags[i];
      } else {
        inputs.add_to(j, i);
        if (with_probabilities) {
          if (pick_one) j["prediction"] = prediction_field(i);
          else j["prediction"] = predicted_names(i);
          for (size_t c = 0; c < names.size(); ++c) j["prob_" + names[c]] = p.probabilities[i][c];
        } else {
          j["score"] = p.values[i];
        }
      }
      if (format == OutputFormat::json) out << (i ? ",\n " : "\n ") << j.dump();
      else out << j.dump() << "\n";
    }
    if (format == OutputFormat::json) out << "\n]\n";
  } else if (format == OutputFormat::conll) {
    // Each token's input line (gold tags included, so conlleval reads the result) and the predicted
    // tag, after the line's own separator.
    for (size_t i = 0; i < data.examples.size(); ++i) {
      const auto& s = data.sentences[i];
      for (size_t w = 0; w < s.words.size(); ++w) {
        const std::string& line = w < s.lines.size() ? s.lines[w] : s.words[w];
        const char separator = line.find('\t') == std::string::npos && line.find(' ') != std::string::npos ? ' ' : '\t';
        out << line << separator << p.tags[i][w] << '\n';
      }
      out << '\n';
    }
  } else {
    const char delim = format == OutputFormat::csv ? ',' : '\t';
    inputs.write_header(out, prediction_columns, delim);
    for (size_t i = 0; i < data.rows.size(); ++i) {
      std::vector<std::string> row = inputs.values(i);
      if (with_probabilities) {
        row.push_back(prediction_field(i));
        for (size_t c = 0; c < names.size(); ++c) row.push_back(fmt::format("{:.6f}", p.probabilities[i][c]));
      } else {
        row.push_back(fmt::format("{:.6f}", p.values[i]));
      }
      write_row(out, row, delim);
    }
  }
  return emit(output, out.str(), data.examples.size(), "prediction");
}

}  // namespace bert::tasks
