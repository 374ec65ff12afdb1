#include "bert/tasks/task_data.h"

#include "bert/tasks/question_answering.h"

#include "bert/util/error.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>

namespace bert::tasks {

Task parse_task(const std::string& name) {
  if (name == "classify") return Task::classify;
  if (name == "multilabel") return Task::multilabel;
  if (name == "regress") return Task::regress;
  if (name == "tag") return Task::tag;
  if (name == "qa") return Task::qa;
  if (name == "choice") return Task::choice;
  throw Error("--task: expected classify, multilabel, regress, tag, qa, choice or auto, found \"" + name + "\"");
}

std::string task_name(Task task) {
  switch (task) {
    case Task::classify: return "classify";
    case Task::multilabel: return "multilabel";
    case Task::regress: return "regress";
    case Task::tag: return "tag";
    case Task::qa: return "qa";
    case Task::choice: return "choice";
  }
  return "classify";
}

size_t TaskExample::length() const {
  size_t longest = ids.size();
  for (const auto& c : choice_ids) longest = std::max(longest, c.size());
  return longest;
}

size_t TaskExample::tokens() const {
  size_t total = ids.size();
  for (const auto& c : choice_ids) total += c.size();
  return total;
}

int64_t fit_max_seq_len(int64_t requested, int64_t max_position_embeddings) {
  if (requested <= max_position_embeddings) return requested;
  log::info("[data] --max-seq-len {} lowered to {}: the model has {} positions", requested, max_position_embeddings,
            max_position_embeddings);
  return max_position_embeddings;
}

int64_t resolve_max_seq_len(int64_t requested, Task task) {
  if (requested > 0) return requested;
  return task == Task::qa ? 384 : 128;
}

namespace {

nlohmann::json column_json(const data::ColumnRef& c) {
  return c.is_index() ? nlohmann::json(c.index()) : nlohmann::json(c.name());
}

nlohmann::json columns_json(const std::vector<data::ColumnRef>& columns) {
  auto j = nlohmann::json::array();
  for (const auto& c : columns) j.push_back(column_json(c));
  return j;
}

data::ColumnRef column_from_json(const nlohmann::json& j, const std::string& key) {
  if (j.is_string()) return data::ColumnRef(j.get<std::string>());
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return data::ColumnRef(j.get<size_t>());
  throw Error(std::string("config.json: ") + kFinetuneInputsKey + "." + key + ": expected a column name or index, found " +
              j.dump());
}

std::vector<data::ColumnRef> columns_from_json(const nlohmann::json& j, const std::string& key) {
  if (!j.is_array()) throw Error(std::string("config.json: ") + kFinetuneInputsKey + "." + key + ": expected a list");
  std::vector<data::ColumnRef> columns;
  for (const auto& c : j) columns.push_back(column_from_json(c, key));
  return columns;
}

int64_t count_from_json(const nlohmann::json& inputs, const std::string& key) {
  const auto& j = inputs.at(key);
  if (!j.is_number_integer() || j.get<int64_t>() < 0)
    throw Error(std::string("config.json: ") + kFinetuneInputsKey + "." + key + ": expected a count, found " + j.dump());
  return j.get<int64_t>();
}

}  // namespace

nlohmann::json finetune_inputs(const TaskDataOptions& o) {
  nlohmann::json j = {{"max_seq_len", o.max_seq_len}};
  if (o.task == Task::qa) {
    if (o.qa.doc_stride >= 0) j["doc_stride"] = o.qa.doc_stride;
    j["max_query_len"] = o.qa.max_query_len;
    return j;
  }
  if (o.conll) return j;
  j["text_column"] = column_json(o.table.text);
  if (o.table.text_pair) j["text_pair_column"] = column_json(*o.table.text_pair);
  if (!o.table.indicator_labels.empty()) j["label_columns"] = columns_json(o.table.indicator_labels);
  else if (o.table.label) j["label_column"] = column_json(*o.table.label);
  if (!o.table.choices.empty()) j["choice_columns"] = columns_json(o.table.choices);
  if (o.task == Task::multilabel) j["label_separator"] = std::string(1, o.label_separator);
  return j;
}

void apply_finetune_settings(const nlohmann::json& inputs, TaskDataOptions& o) {
  if (!inputs.is_object()) return;
  // The windows only with the length they were made for: a --max-seq-len of the user's own gets
  // the usual defaults (a stride of a third of it), not a stride that may not fit.
  if (o.max_seq_len == 0 && inputs.contains("max_seq_len")) {
    o.max_seq_len = count_from_json(inputs, "max_seq_len");
    if (o.qa.doc_stride < 0 && inputs.contains("doc_stride")) o.qa.doc_stride = count_from_json(inputs, "doc_stride");
    if (!o.max_query_len_given && inputs.contains("max_query_len"))
      o.qa.max_query_len = count_from_json(inputs, "max_query_len");
  }
  if (!o.label_separator_given && inputs.contains("label_separator")) {
    const auto& sep = inputs["label_separator"];
    if (!sep.is_string() || sep.get<std::string>().size() != 1)
      throw Error(std::string("config.json: ") + kFinetuneInputsKey + ".label_separator: expected one character");
    o.label_separator = sep.get<std::string>()[0];
  }
}

void apply_finetune_columns(const nlohmann::json& inputs, const std::string& path, TaskDataOptions& o) {
  if (o.columns_given || o.conll || !inputs.is_object() || !inputs.contains("text_column") || data::is_squad_path(path))
    return;
  if (o.txt_is_lines && !o.has_labels && ends_with(path, ".txt")) return;  // one text per line: nothing to choose
  auto table = o.table;
  table.text = column_from_json(inputs["text_column"], "text_column");
  table.text_pair.reset();
  if (inputs.contains("text_pair_column")) table.text_pair = column_from_json(inputs["text_pair_column"], "text_pair_column");
  if (o.has_labels && inputs.contains("label_columns")) {
    table.indicator_labels = columns_from_json(inputs["label_columns"], "label_columns");
    table.label.reset();
  } else if (o.has_labels && inputs.contains("label_column")) {
    table.label = column_from_json(inputs["label_column"], "label_column");
  }
  if (inputs.contains("choice_columns")) table.choices = columns_from_json(inputs["choice_columns"], "choice_columns");
  std::vector<data::ColumnRef> used = {table.text};
  if (table.text_pair) used.push_back(*table.text_pair);
  if (o.has_labels && table.label) used.push_back(*table.label);
  if (o.has_labels) used.insert(used.end(), table.indicator_labels.begin(), table.indicator_labels.end());
  used.insert(used.end(), table.choices.begin(), table.choices.end());
  // Each named column exactly once in the header, each index within the first row: anything else
  // keeps the defaults (and says why) rather than fail on a column the user never named.
  const auto first_row = data::read_first_row(path, table);
  std::string names, missing;
  for (const auto& c : used) {
    names += (names.empty() ? "" : ", ") + c.to_string();
    const bool found = c.is_index() ? c.index() < first_row.size()
                                    : table.has_header && std::count(first_row.begin(), first_row.end(), c.name()) == 1;
    if (!found) missing += (missing.empty() ? "" : ", ") + c.to_string();
  }
  if (!missing.empty()) {
    std::string layout = "read without a header, " + counted(first_row.size(), "column");
    if (table.has_header) {
      std::string header;
      for (const auto& name : first_row) header += (header.empty() ? "" : ", ") + name;
      layout = "header " + quote_snippet(header, 100);
    }
    log::warn("[data] {}: the model was fine-tuned on columns {} (config.json's {}), but this file has no single {} "
              "({}): reading the default columns; choose them with --text-column, --text-pair-column, --label-column",
              path, names, kFinetuneInputsKey, missing, layout);
    return;
  }
  o.table = table;
  log::info("[data] {}: the columns the model was fine-tuned on: {} (--text-column etc. choose others)", path, names);
}

TaskExample encode_row(const data::LabelledRow& row, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                       size_t& truncated) {
  auto full = row.text_pair ? tok.encode(row.text, std::string_view(*row.text_pair)) : tok.encode(row.text);
  auto enc = full;
  if (static_cast<int64_t>(full.size()) > o.max_seq_len) {
    enc = row.text_pair ? tok.encode(row.text, std::string_view(*row.text_pair), static_cast<size_t>(o.max_seq_len))
                        : tok.encode(row.text, std::nullopt, static_cast<size_t>(o.max_seq_len));
    ++truncated;
  }
  TaskExample ex;
  ex.ids = std::move(enc.ids);
  ex.type_ids = std::move(enc.type_ids);
  ex.line = row.line;
  return ex;
}

TaskExample encode_choices(const data::LabelledRow& row, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                           size_t& truncated) {
  TaskExample ex;
  ex.line = row.line;
  bool cut = false;
  for (const auto& choice : row.choices) {
    // As transformers' run_swag.py: the context, then the shared start of the candidates (SWAG's
    // sent2) and the candidate joined by a space, truncated longest-first.
    const std::string second = row.text_pair ? *row.text_pair + " " + choice : choice;
    auto enc = tok.encode(row.text, std::string_view(second));
    if (static_cast<int64_t>(enc.size()) > o.max_seq_len) {
      enc = tok.encode(row.text, std::string_view(second), static_cast<size_t>(o.max_seq_len));
      cut = true;
    }
    ex.choice_ids.push_back(std::move(enc.ids));
    ex.choice_type_ids.push_back(std::move(enc.type_ids));
  }
  truncated += cut;
  return ex;
}

TaskExample encode_sentence(const data::TaggedSentence& s, const std::vector<int64_t>& word_labels,
                            const TaskDataOptions& o, const tokenizer::Tokenizer& tok, size_t& truncated,
                            size_t& words_lost) {
  // Join words with one space and remember each word's byte span.
  std::string text;
  std::vector<std::pair<size_t, size_t>> spans;
  for (const auto& w : s.words) {
    if (!text.empty()) text += ' ';
    spans.emplace_back(text.size(), text.size() + w.size());
    text += w;
  }
  auto enc = tok.encode(text);
  if (static_cast<int64_t>(enc.size()) > o.max_seq_len) {
    enc = tok.encode(text, std::nullopt, static_cast<size_t>(o.max_seq_len));
    ++truncated;
  }
  TaskExample ex;
  ex.ids = enc.ids;
  ex.type_ids = enc.type_ids;
  ex.line = s.line;
  ex.token_labels.assign(enc.size(), -100);
  ex.word_of_piece.assign(enc.size(), -1);
  size_t word = 0;
  std::vector<bool> seen(s.words.size(), false);
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc.sequence_ids[i] < 0) continue;  // [CLS], [SEP]
    const size_t start = enc.offsets[i].first;
    while (word + 1 < spans.size() && start >= spans[word].second) ++word;
    if (seen[word] && !o.label_all_subtokens) continue;
    ex.word_of_piece[i] = seen[word] ? -1 : static_cast<int64_t>(word);
    if (!word_labels.empty()) ex.token_labels[i] = word_labels[word];
    seen[word] = true;
  }
  words_lost += static_cast<size_t>(std::count(seen.begin(), seen.end(), false));
  return ex;
}

namespace {

TaskDataset read_and_encode(const std::string& path, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                            data::LabelMap& labels, bool build_labels) {
  TaskDataset d;
  d.path = path;
  if (o.task == Task::qa) {
    data::SquadReadOptions squad;
    squad.has_answers = o.has_labels;
    squad.skip_bad_rows = o.table.skip_bad_rows;
    d.squad = data::read_squad(path, squad);
    d.read_summary = d.squad.summary(path);
    build_qa_features(o, tok, d);
    return d;
  }
  if (o.task == Task::tag) {
    auto options = o.conll_options;
    options.has_tags = o.has_labels;
    options.keep_lines = o.table.keep_fields;  // prediction: the output repeats each token's line
    auto conll = data::read_conll(path, options);
    d.read_summary = conll.report.summary(path);
    d.sentences = std::move(conll.sentences);
    std::vector<std::vector<int64_t>> tag_ids;
    if (o.has_labels) {
      if (build_labels && labels.size() == 0) labels = data::LabelMap::build(data::collect_tags(d.sentences));
      tag_ids = labels.encode(d.sentences, path);
    }
    for (size_t i = 0; i < d.sentences.size(); ++i)
      d.examples.push_back(encode_sentence(d.sentences[i], o.has_labels ? tag_ids[i] : std::vector<int64_t>{}, o, tok,
                                           d.truncated, d.words_lost_to_truncation));
    return d;
  }
  auto table_options = o.table;
  if (!o.has_labels) {
    table_options.label.reset();
    table_options.indicator_labels.clear();
    // Text to predict on or embed, in a .txt file: one text per line, as on stdin; no header line
    // to lose, quotes taken literally.
    if (o.txt_is_lines && ends_with(path, ".txt")) {
      table_options.has_header = false;
      table_options.delimiter = '\t';
      table_options.quoting = data::Quoting::kNone;
    }
  }
  if (!table_options.indicator_labels.empty() && o.task != Task::multilabel)
    throw Error("--label-columns: one 0/1 column per label is multi-label data, but the task is " + task_name(o.task) +
                " (use --task multilabel, or --label-column)");
  if (o.task == Task::multilabel) table_options.label_set_separator = o.label_separator;
  table_options.numeric_label = o.has_labels && o.task == Task::regress;  // a bad score is a bad row
  if (o.task == Task::choice && table_options.choices.size() < 2)
    throw Error("multiple choice: name the candidate columns with --choice-columns (at least two), e.g. "
                "--choice-columns ending0,ending1,ending2,ending3");
  if (o.task != Task::choice) table_options.choices.clear();
  auto table = data::read_labelled_table(path, table_options);
  d.read_summary = table.report.summary(path);
  d.rows = std::move(table.rows);
  d.header = table.report.header;
  std::vector<int64_t> class_ids;
  std::vector<std::vector<int64_t>> label_sets;
  std::vector<double> targets;
  if (o.has_labels && o.task == Task::classify) {
    if (build_labels && labels.size() == 0) labels = data::LabelMap::build(data::collect_labels(d.rows));
    class_ids = labels.encode(d.rows, path);
  } else if (o.has_labels && o.task == Task::multilabel && !table_options.indicator_labels.empty()) {
    // One 0/1 column per label: the columns are the labels, in the order given.
    const auto& columns = table.report.indicator_label_names;
    if (build_labels && labels.size() == 0) labels = data::LabelMap::from_names(columns);
    if (std::set<std::string>(columns.begin(), columns.end()) !=
        std::set<std::string>(labels.names().begin(), labels.names().end())) {
      std::string have, want;
      for (const auto& c : columns) have += (have.empty() ? "" : ", ") + c;
      for (const auto& n : labels.names()) want += (want.empty() ? "" : ", ") + n;
      throw Error(path + ": the label columns (" + have + ") are not the model's labels (" + want + ")");
    }
    for (const auto& row : d.rows) {
      std::vector<int64_t> ids;
      for (const auto& name : row.label_set) ids.push_back(labels.id(name, path, row.line));
      label_sets.push_back(std::move(ids));
    }
  } else if (o.has_labels && o.task == Task::multilabel) {
    if (build_labels && labels.size() == 0) {
      auto names = data::collect_label_sets(d.rows, o.label_separator, path);
      if (names.empty()) throw Error(path + ": no row has a label (multi-label data needs at least one label name)");
      labels = data::LabelMap::build(names);
    }
    label_sets = labels.encode_sets(d.rows, o.label_separator, path);
  } else if (o.has_labels && o.task == Task::regress) {
    targets = data::regression_targets(d.rows, path);
  }
  d.examples.reserve(d.rows.size());
  if (o.task == Task::choice) {
    for (const auto& row : d.rows) {
      auto ex = encode_choices(row, o, tok, d.truncated);
      if (o.has_labels) ex.label = std::stoll(row.label);  // the reader checked it is a candidate's number
      d.examples.push_back(std::move(ex));
    }
    return d;
  }
  for (size_t i = 0; i < d.rows.size(); ++i) {
    auto ex = encode_row(d.rows[i], o, tok, d.truncated);
    if (!class_ids.empty()) ex.label = class_ids[i];
    if (!label_sets.empty()) ex.label_set = std::move(label_sets[i]);
    if (!targets.empty()) ex.target = static_cast<float>(targets[i]);
    d.examples.push_back(std::move(ex));
  }
  return d;
}

}  // namespace

TaskDataset load_task_data(const std::string& path, const TaskDataOptions& o, const tokenizer::Tokenizer& tok,
                           data::LabelMap& labels, bool build_labels) {
  TaskDataset d = read_and_encode(path, o, tok, labels, build_labels);
  // A token the model has no embedding for (a tokenizer larger than the model's vocab_size) would
  // fail deep in the forward pass as "index out of range"; said here with the example's line.
  if (o.model_vocab_size > 0)
    for (const auto& ex : d.examples) {
      auto check = [&](const std::vector<int64_t>& ids) {
        for (int64_t id : ids)
          if (id >= o.model_vocab_size)
            throw Error(path + ":" + std::to_string(ex.line) + ": token \"" + tok.id_to_token(id) + "\" has id " +
                        std::to_string(id) + ", beyond the model's vocab_size " + std::to_string(o.model_vocab_size) +
                        " (the tokenizer has tokens the model lacks)");
      };
      check(ex.ids);
      for (const auto& choice : ex.choice_ids) check(choice);
    }
  return d;
}

namespace {

// Consecutive runs of batch_size indices of `order` (the last one may be shorter).
std::vector<std::vector<size_t>> cut_into_batches(const std::vector<size_t>& order, size_t batch_size) {
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += batch_size)
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + batch_size)));
  return batches;
}

}  // namespace

std::vector<std::vector<size_t>> length_grouped_batches(const std::vector<TaskExample>& examples, int64_t batch_size,
                                                        std::mt19937_64* rng) {
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t bs = static_cast<size_t>(std::max<int64_t>(1, batch_size));
  if (rng) {
    std::shuffle(order.begin(), order.end(), *rng);
    const size_t window = bs * 50;
    for (size_t start = 0; start < order.size(); start += window) {
      auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + window));
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), end,
                       [&](size_t a, size_t b) { return examples[a].length() > examples[b].length(); });
    }
  } else {
    // Evaluation: longest first keeps padding minimal; results are put back in input order.
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return examples[a].length() > examples[b].length(); });
  }
  auto batches = cut_into_batches(order, bs);
  if (rng) std::shuffle(batches.begin(), batches.end(), *rng);
  return batches;
}

std::vector<std::vector<size_t>> shuffled_batches(size_t count, int64_t batch_size, std::mt19937_64& rng) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  return cut_into_batches(order, static_cast<size_t>(std::max<int64_t>(1, batch_size)));
}

std::vector<std::vector<size_t>> split_by_length(const std::vector<TaskExample>& examples,
                                                 const std::vector<size_t>& rows, double chunk_cost) {
  std::vector<size_t> sorted = rows;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](size_t a, size_t b) { return examples[a].length() > examples[b].length(); });
  const size_t n = sorted.size();
  // best[j]: the cheapest cut of the first j rows; a sub-batch of rows i..j-1 pads to row i's length
  // (multiple choice: each of its candidates does).
  std::vector<double> best(n + 1, std::numeric_limits<double>::infinity());
  std::vector<size_t> cut(n + 1, 0);
  best[0] = 0;
  for (size_t j = 1; j <= n; ++j)
    for (size_t i = 0; i < j; ++i) {
      const auto& first = examples[sorted[i]];
      const double sequences = static_cast<double>(std::max<size_t>(1, first.choice_ids.size()));
      const double cost = best[i] + static_cast<double>(j - i) * sequences * static_cast<double>(first.length()) +
                          chunk_cost;
      if (cost < best[j]) {
        best[j] = cost;
        cut[j] = i;
      }
    }
  std::vector<std::vector<size_t>> chunks;
  for (size_t j = n; j > 0; j = cut[j])
    chunks.emplace_back(sorted.begin() + static_cast<std::ptrdiff_t>(cut[j]),
                        sorted.begin() + static_cast<std::ptrdiff_t>(j));
  std::reverse(chunks.begin(), chunks.end());
  return chunks;
}

std::vector<std::vector<size_t>> in_order_batches(size_t count, int64_t batch_size) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  return cut_into_batches(order, static_cast<size_t>(std::max<int64_t>(1, batch_size)));
}

namespace {

// Multiple choice: (B, K, S) arrays, every candidate of the batch padded to the longest one.
TaskBatch collate_choices(const std::vector<TaskExample>& examples, const std::vector<size_t>& indices, int64_t pad_id,
                          const torch::Device& device, int64_t S) {
  const int64_t B = static_cast<int64_t>(indices.size());
  const int64_t K = static_cast<int64_t>(examples[indices.at(0)].choice_ids.size());
  auto ids = torch::full({B, K, S}, pad_id, torch::kLong);
  auto types = torch::zeros({B, K, S}, torch::kLong);
  auto mask = torch::zeros({B, K, S}, torch::kLong);
  auto labels = torch::empty({B}, torch::kLong);
  auto ids_a = ids.accessor<int64_t, 3>(), types_a = types.accessor<int64_t, 3>(), mask_a = mask.accessor<int64_t, 3>();
  auto labels_a = labels.accessor<int64_t, 1>();
  TaskBatch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& ex = examples[indices[static_cast<size_t>(b)]];
    if (static_cast<int64_t>(ex.choice_ids.size()) != K)
      throw Error(fmt::format("collate_task_batch: examples with {} and {} choices in one batch", K, ex.choice_ids.size()));
    for (int64_t k = 0; k < K; ++k) {
      const auto& seq = ex.choice_ids[static_cast<size_t>(k)];
      const auto& seq_types = ex.choice_type_ids[static_cast<size_t>(k)];
      for (size_t s = 0; s < seq.size(); ++s) {
        ids_a[b][k][static_cast<int64_t>(s)] = seq[s];
        types_a[b][k][static_cast<int64_t>(s)] = seq_types[s];
        mask_a[b][k][static_cast<int64_t>(s)] = 1;
      }
    }
    labels_a[b] = ex.label;
    batch.real_tokens += static_cast<int64_t>(ex.tokens());
  }
  batch.input_ids = ids.to(device);
  batch.token_type_ids = types.to(device);
  batch.attention_mask = mask.to(device);
  batch.labels = labels.to(device);
  batch.indices = indices;
  return batch;
}

}  // namespace

TaskBatch collate_task_batch(const std::vector<TaskExample>& examples, const std::vector<size_t>& indices, Task task,
                             int64_t pad_id, const torch::Device& device, int64_t num_labels, int64_t pad_to) {
  const int64_t B = static_cast<int64_t>(indices.size());
  int64_t S = pad_to;
  for (auto i : indices) S = std::max<int64_t>(S, static_cast<int64_t>(examples[i].length()));
  if (task == Task::choice) return collate_choices(examples, indices, pad_id, device, S);
  auto ids = torch::full({B, S}, pad_id, torch::kLong);
  auto types = torch::zeros({B, S}, torch::kLong);
  auto mask = torch::zeros({B, S}, torch::kLong);
  auto token_labels = torch::full({B, S}, -100, torch::kLong);
  auto class_labels = torch::empty({B}, torch::kLong);
  auto targets = torch::empty({B}, torch::kFloat);
  auto label_sets = torch::zeros({B, task == Task::multilabel ? num_labels : 0}, torch::kFloat);
  auto positions = torch::zeros({B, 2}, torch::kLong);
  auto ids_a = ids.accessor<int64_t, 2>(), types_a = types.accessor<int64_t, 2>(), mask_a = mask.accessor<int64_t, 2>();
  auto tl_a = token_labels.accessor<int64_t, 2>();
  auto sets_a = label_sets.accessor<float, 2>();
  TaskBatch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& ex = examples[indices[static_cast<size_t>(b)]];
    for (size_t s = 0; s < ex.ids.size(); ++s) {
      ids_a[b][static_cast<int64_t>(s)] = ex.ids[s];
      types_a[b][static_cast<int64_t>(s)] = ex.type_ids[s];
      mask_a[b][static_cast<int64_t>(s)] = 1;
      if (!ex.token_labels.empty()) tl_a[b][static_cast<int64_t>(s)] = ex.token_labels[s];
    }
    class_labels[b] = ex.label;
    for (int64_t id : ex.label_set) {
      if (id >= sets_a.size(1)) throw Error("collate_task_batch: label id " + std::to_string(id) + " of a multi-label "
                                            "example but only " + std::to_string(num_labels) + " labels");
      sets_a[b][id] = 1.0f;
    }
    targets[b] = ex.target;
    positions[b][0] = ex.start_position;
    positions[b][1] = ex.end_position;
    batch.real_tokens += static_cast<int64_t>(ex.ids.size());
  }
  batch.input_ids = ids.to(device);
  batch.token_type_ids = types.to(device);
  batch.attention_mask = mask.to(device);
  batch.labels = (task == Task::tag          ? token_labels
                  : task == Task::qa         ? positions
                  : task == Task::regress    ? targets
                  : task == Task::multilabel ? label_sets
                                             : class_labels)
                     .to(device);
  batch.indices = indices;
  return batch;
}

}  // namespace bert::tasks
