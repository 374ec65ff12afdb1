// What finetune records in config.json ("finetune_inputs") and how evaluate and predict take it
// back: the columns only when none is given and the file's header has them, the sequence length and
// question-answering windows where not given. The CLI end-to-end test runs the same through
// `bert finetune`, `bert evaluate` and `bert predict` on STS-B.
#include <catch2/catch.hpp>

#include "bert/tasks/task_data.h"
#include "bert/util/error.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace bert;
using namespace bert::tasks;
using Catch::Matchers::Contains;

namespace {

std::string write_temp(const std::string& name, const std::string& contents) {
  const auto path = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << contents;
  return path.string();
}

// As to_task_data_options leaves them when the command line names no column and no length.
TaskDataOptions nothing_given(bool has_labels) {
  TaskDataOptions o;
  o.has_labels = has_labels;
  o.table.label = data::ColumnRef(size_t{1});
  o.max_seq_len = 0;
  o.columns_given = o.max_query_len_given = o.label_separator_given = false;
  return o;
}

}  // namespace

TEST_CASE("finetune_inputs records the columns by name or index, and the lengths", "[finetune_inputs]") {
  TaskDataOptions o;
  o.task = Task::regress;
  o.table.text = "sentence1";
  o.table.text_pair = data::ColumnRef("sentence2");
  o.table.label = data::ColumnRef(size_t{9});
  o.max_seq_len = 96;
  CHECK(finetune_inputs(o) == nlohmann::json{{"text_column", "sentence1"}, {"text_pair_column", "sentence2"},
                                             {"label_column", 9}, {"max_seq_len", 96}});
  o.task = Task::multilabel;
  o.table.text_pair.reset();
  o.table.indicator_labels = {"toxic", "insult"};
  o.label_separator = '|';
  CHECK(finetune_inputs(o) == nlohmann::json{{"text_column", "sentence1"}, {"label_columns", {"toxic", "insult"}},
                                             {"label_separator", "|"}, {"max_seq_len", 96}});
  TaskDataOptions qa;
  qa.task = Task::qa;
  qa.max_seq_len = 256;
  qa.qa.max_query_len = 40;
  CHECK(finetune_inputs(qa) == nlohmann::json{{"max_seq_len", 256}, {"max_query_len", 40}});  // stride not given
  qa.qa.doc_stride = 64;
  CHECK(finetune_inputs(qa)["doc_stride"] == 64);
}

TEST_CASE("evaluate and predict take the model's lengths where none is given", "[finetune_inputs]") {
  const nlohmann::json inputs = {{"max_seq_len", 48}, {"doc_stride", 16}, {"max_query_len", 20}, {"label_separator", "|"}};
  auto o = nothing_given(true);
  apply_finetune_settings(inputs, o);
  CHECK(o.max_seq_len == 48);
  CHECK(o.qa.doc_stride == 16);
  CHECK(o.qa.max_query_len == 20);
  CHECK(o.label_separator == '|');
  TaskDataOptions given;  // the command line's values stay
  given.max_seq_len = 200;
  given.qa.doc_stride = 50;
  given.qa.max_query_len = 30;
  given.label_separator = ';';
  apply_finetune_settings(inputs, given);
  CHECK(given.max_seq_len == 200);
  CHECK(given.qa.doc_stride == 50);
  CHECK(given.qa.max_query_len == 30);
  CHECK(given.label_separator == ';');
  // A length of the user's own: the model's windows (made for its length) are not taken.
  auto shorter = nothing_given(true);
  shorter.max_seq_len = 128;
  apply_finetune_settings({{"max_seq_len", 384}, {"doc_stride", 128}, {"max_query_len", 40}}, shorter);
  CHECK(shorter.max_seq_len == 128);
  CHECK(shorter.qa.doc_stride == -1);  // a third of 128, later
  CHECK(shorter.qa.max_query_len == 64);
  auto bad = nothing_given(true);
  CHECK_THROWS_WITH(apply_finetune_settings({{"max_seq_len", "long"}}, bad),
                    Contains("finetune_inputs.max_seq_len: expected a count, found \"long\""));
}

TEST_CASE("evaluate and predict read the model's columns when the header has them", "[finetune_inputs]") {
  const nlohmann::json inputs = {{"text_column", "sentence1"}, {"text_pair_column", "sentence2"},
                                 {"label_column", "score"}, {"max_seq_len", 128}};
  // `o` after apply_finetune_columns(recorded, a file named `name` holding `contents`).
  auto applied = [](const nlohmann::json& recorded, const std::string& name, const std::string& contents,
                    TaskDataOptions o) {
    const auto path = write_temp(name, contents);
    apply_finetune_columns(recorded, path, o);
    std::filesystem::remove(path);
    return o;
  };
  const std::string stsb = "id\tsentence1\tsentence2\tscore\n1\ta\tb\t4.0\n";
  const auto o = applied(inputs, "fi_stsb.tsv", stsb, nothing_given(true));
  CHECK(o.table.text.name() == "sentence1");
  REQUIRE(o.table.text_pair);
  CHECK(o.table.text_pair->name() == "sentence2");
  REQUIRE(o.table.label);
  CHECK(o.table.label->name() == "score");

  SECTION("a column given on the command line: none is taken") {
    auto given = nothing_given(true);
    given.columns_given = true;
    const auto g = applied(inputs, "fi_stsb.tsv", stsb, given);
    CHECK(g.table.text.is_index());
    CHECK_FALSE(g.table.text_pair);
  }
  SECTION("prediction input needs no label column") {
    auto unlabelled = nothing_given(false);
    unlabelled.table.label.reset();
    const auto p = applied(inputs, "fi_unlabelled.tsv", "sentence2\tsentence1\nb\ta\n", unlabelled);
    CHECK(p.table.text.name() == "sentence1");
    CHECK_FALSE(p.table.label);
  }
  SECTION("a header without them, with one twice, or none: the defaults stay") {
    const auto other = applied(inputs, "fi_other.tsv", "sentence\tlabel\nx\t1\n", nothing_given(true));
    CHECK(other.table.text.is_index());
    CHECK(other.table.text.index() == 0);
    CHECK_FALSE(other.table.text_pair);
    const auto twice =
        applied(inputs, "fi_twice.tsv", "sentence1\tsentence2\tscore\tsentence1\na\tb\t1\tc\n", nothing_given(true));
    CHECK(twice.table.text.is_index());
    auto headerless = nothing_given(true);
    headerless.table.has_header = false;
    const auto none = applied(inputs, "fi_stsb.tsv", stsb, headerless);
    CHECK(none.table.text.is_index());
    CHECK_FALSE(none.table.text_pair);
  }
  SECTION("columns by index: taken when the file is that wide") {
    const nlohmann::json by_index = {{"text_column", 3}, {"label_column", 1}};
    auto headerless = nothing_given(true);
    headerless.table.has_header = false;
    CHECK(applied(by_index, "fi_cola.tsv", "gj04\t1\t\tOur friends won't buy this analysis.\n", headerless)
              .table.text.index() == 3);
    // Column 3 does not exist in a two-column file.
    CHECK(applied(by_index, "fi_narrow.tsv", "index\tsentence\n0\tfine\n", nothing_given(false)).table.text.index() == 0);
  }
  SECTION("one text per line in a .txt: nothing to choose") {
    CHECK(applied(inputs, "fi_lines.txt", "sentence1\tsentence2\n", nothing_given(false)).table.text.is_index());
  }
}
