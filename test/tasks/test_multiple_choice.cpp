// Multiple choice (--task choice): how a row becomes one sequence per candidate (with SWAG's shared
// start), its label checks, batches of (B, K, S), and the model's scores and loss. CTest
// choice_interop checks the same against transformers on real rows; the reference case
// test/data/reference/choice-gelu checks the head's outputs.
#include <catch2/catch.hpp>

#include "bert/tasks/task_model.h"
#include "bert/tokenizer/load.h"
#include "bert/util/error.h"
#include "test/test_helpers.h"
#include "test/test_paths.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace bert;
using namespace bert::tasks;
using Catch::Matchers::Contains;

namespace {

const tokenizer::Tokenizer& tiny_tokenizer() {
  static const auto tok = tokenizer::load_tokenizer(test::data_path("hf-tiny"));
  return *tok;
}

TaskDataOptions choice_options() {
  TaskDataOptions o;
  o.task = Task::choice;
  o.table.text = "context";
  o.table.label = data::ColumnRef("label");
  o.table.choices = {"a", "b", "c"};
  o.max_seq_len = 64;
  return o;
}

std::string write_temp(const std::string& name, const std::string& contents) {
  const auto path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".tsv");
  std::ofstream(path) << contents;
  return path.string();
}

std::string load_error(const std::string& path, const TaskDataOptions& o) {
  data::LabelMap labels;
  try {
    load_task_data(path, o, tiny_tokenizer(), labels, true);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a multiple-choice row is one [CLS] context [SEP] candidate [SEP] sequence per candidate", "[choice]") {
  const auto& tok = tiny_tokenizer();
  const auto path = write_temp("choice_rows", "context\tstart\ta\tb\tc\tlabel\n"
                                              "the dog ran\tthen it\tbarked\tflew away\tsang\t0\n"
                                              "red sky at night\tso the\tsailor smiled\tmoon fell\tsea froze\t2\n");
  auto o = choice_options();
  data::LabelMap labels;
  const auto d = load_task_data(path, o, tok, labels, true);
  REQUIRE(d.examples.size() == 2);
  CHECK(d.examples[0].label == 0);
  CHECK(d.examples[1].label == 2);
  REQUIRE(d.examples[1].choice_ids.size() == 3);
  CHECK(d.examples[1].choice_ids[1] == tok.encode("red sky at night", std::string_view("moon fell")).ids);
  CHECK(d.examples[1].choice_type_ids[1] == tok.encode("red sky at night", std::string_view("moon fell")).type_ids);
  CHECK(d.examples[0].ids.empty());

  // SWAG's sent2: the start every candidate shares, joined to each by a space.
  o.table.text_pair = data::ColumnRef("start");
  const auto with_start = load_task_data(path, o, tok, labels, true);
  CHECK(with_start.examples[0].choice_ids[2] == tok.encode("the dog ran", std::string_view("then it sang")).ids);

  // Cut to max_seq_len like a pair: counted once per row, whichever candidates were cut.
  o.max_seq_len = 6;
  const auto cut = load_task_data(path, o, tok, labels, true);
  CHECK(cut.truncated == 2);
  for (const auto& ex : cut.examples)
    for (const auto& seq : ex.choice_ids) CHECK(seq.size() <= 6);
  CHECK(cut.examples[1].length() == 6);
  CHECK(cut.examples[1].tokens() == 18);
  std::filesystem::remove(path);
}

TEST_CASE("multiple-choice labels and columns are checked", "[choice]") {
  const auto bad_label = write_temp("choice_bad", "context\ta\tb\tc\tlabel\nx y\tp\tq\tr\t1\nz\tp\tq\tr\t3\nw\tp\tq\tr\tb\n");
  auto o = choice_options();
  CHECK(load_error(bad_label, o) ==
        bad_label + ":3: label: expected the number of the right choice, 0 to 2, found \"3\"");
  o.table.skip_bad_rows = true;
  data::LabelMap labels;
  const auto kept = load_task_data(bad_label, o, tiny_tokenizer(), labels, true);
  CHECK(kept.examples.size() == 1);
  CHECK(kept.rows.size() == 1);  // rows and examples stay aligned for predict's output
  CHECK_THAT(kept.read_summary, Contains("2 bad rows skipped"));  // counted by the table reader
  o.table.choices = {"a"};
  CHECK_THAT(load_error(bad_label, o), Contains("--choice-columns"));
  std::filesystem::remove(bad_label);
}

TEST_CASE("multiple-choice batches are (B, K, S) and the model scores each candidate", "[choice]") {
  const auto& tok = tiny_tokenizer();
  const auto path = write_temp("choice_batch", "context\ta\tb\tc\tlabel\n"
                                               "one\ttwo three four\tfive\tsix seven\t1\n"
                                               "eight nine ten eleven\ttwelve\tthirteen\tfourteen\t2\n");
  auto o = choice_options();
  data::LabelMap labels;
  const auto d = load_task_data(path, o, tok, labels, true);
  const auto batch = collate_task_batch(d.examples, {0, 1}, Task::choice, tok.pad_id(), torch::kCPU);
  const int64_t S = static_cast<int64_t>(std::max(d.examples[0].length(), d.examples[1].length()));
  REQUIRE(batch.input_ids.sizes() == std::vector<int64_t>{2, 3, S});
  CHECK(batch.attention_mask.sizes() == batch.input_ids.sizes());
  CHECK(batch.labels.sizes() == std::vector<int64_t>{2});
  CHECK(batch.labels[1].item<int64_t>() == 2);
  CHECK(batch.attention_mask[0][1].sum().item<int64_t>() == static_cast<int64_t>(d.examples[0].choice_ids[1].size()));
  CHECK(batch.real_tokens == static_cast<int64_t>(d.examples[0].tokens() + d.examples[1].tokens()));

  auto config = test::small_bert_config(2, 4);
  config.vocab_size = tok.vocab_size();
  TaskModel model(Task::choice, config);
  CHECK(model.config().architecture == "BertForMultipleChoice");
  model.module().eval();
  const auto logits = model.forward(batch);
  REQUIRE(logits.sizes() == std::vector<int64_t>{2, 3});
  // Each candidate is scored alone: the row's score of a candidate equals that of the candidate
  // run as a batch of its own.
  const auto single = collate_task_batch(d.examples, {1}, Task::choice, tok.pad_id(), torch::kCPU);
  CHECK(torch::allclose(model.forward(single)[0], logits[1], 1e-5, 1e-6));
  const auto loss = model.loss(logits, batch);
  const auto want = torch::nn::functional::cross_entropy(logits, batch.labels);
  CHECK(loss.item<double>() == Approx(want.item<double>()).epsilon(1e-6));
  std::filesystem::remove(path);
}
