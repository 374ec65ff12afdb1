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
  const auto stsb = write_temp("fi_stsb.tsv", "id\tsentence1\tsentence2\tscore\n1\ta\tb\t4.0\n");
  auto o = nothing_given(true);
  apply_finetune_columns(inputs, stsb, o);
  CHECK(o.table.text.name() == "sentence1");
  REQUIRE(o.table.text_pair);
  CHECK(o.table.text_pair->name() == "sentence2");
  REQUIRE(o.table.label);
  CHECK(o.table.label->name() == "score");

  SECTION("a column given on the command line: none is taken") {
    auto g = nothing_given(true);
    g.columns_given = true;
    apply_finetune_columns(inputs, stsb, g);
    CHECK(g.table.text.is_index());
    CHECK_FALSE(g.table.text_pair);
  }
  SECTION("prediction input needs no label column") {
    const auto unlabelled = write_temp("fi_unlabelled.tsv", "sentence2\tsentence1\nb\ta\n");
    auto p = nothing_given(false);
    p.table.label.reset();
    apply_finetune_columns(inputs, unlabelled, p);
    CHECK(p.table.text.name() == "sentence1");
    CHECK_FALSE(p.table.label);
    std::filesystem::remove(unlabelled);
  }
  SECTION("a header without them: the defaults stay") {
    const auto other = write_temp("fi_other.tsv", "sentence\tlabel\nx\t1\n");
    auto d = nothing_given(true);
    apply_finetune_columns(inputs, other, d);
    CHECK(d.table.text.is_index());
    CHECK(d.table.text.index() == 0);
    CHECK_FALSE(d.table.text_pair);
    std::filesystem::remove(other);
  }
  SECTION("a name twice in the header, or a file read without one: the defaults stay") {
    const auto twice = write_temp("fi_twice.tsv", "sentence1\tsentence2\tscore\tsentence1\na\tb\t1\tc\n");
    auto d = nothing_given(true);
    apply_finetune_columns(inputs, twice, d);
    CHECK(d.table.text.is_index());
    auto n = nothing_given(true);
    n.table.has_header = false;
    apply_finetune_columns(inputs, stsb, n);
    CHECK(n.table.text.is_index());
    CHECK_FALSE(n.table.text_pair);
    std::filesystem::remove(twice);
  }
  SECTION("columns by index: taken when the file is that wide") {
    const nlohmann::json by_index = {{"text_column", 3}, {"label_column", 1}};
    const auto cola = write_temp("fi_cola.tsv", "gj04\t1\t\tOur friends won't buy this analysis.\n");
    auto wide = nothing_given(true);
    wide.table.has_header = false;
    apply_finetune_columns(by_index, cola, wide);
    CHECK(wide.table.text.index() == 3);
    const auto narrow_file = write_temp("fi_narrow.tsv", "index\tsentence\n0\tfine\n");
    auto narrow = nothing_given(false);
    apply_finetune_columns(by_index, narrow_file, narrow);
    CHECK(narrow.table.text.index() == 0);  // column 3 does not exist there
    std::filesystem::remove(cola);
    std::filesystem::remove(narrow_file);
  }
  SECTION("one text per line in a .txt: nothing to choose") {
    const auto lines = write_temp("fi_lines.txt", "sentence1\tsentence2\n");
    auto t = nothing_given(false);
    apply_finetune_columns(inputs, lines, t);
    CHECK(t.table.text.is_index());
    std::filesystem::remove(lines);
  }
  std::filesystem::remove(stsb);
}
