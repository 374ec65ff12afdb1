// Tests of bert/data/conll_reader.h: CoNLL column files (sentences, -DOCSTART-, blank and
// whitespace-only lines, tag column choice, CRLF/BOM/no final newline, and the errors for a wrong
// column count, a missing tag column and invalid UTF-8), LabelMap (numeric vs lexicographic vs
// first-seen order, unknown labels named by file:line), regression label parsing and the
// classification-or-regression rule. The CoNLL-2003 and GLUE cases use the shared data sets
// beside the project and WARN and return when BERT_SOURCE_DIR/../shared/data is absent.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "bert/data/conll_reader.h"
#include "bert/data/table_reader.h"
#include "bert/util/error.h"

namespace fs = std::filesystem;
using namespace bert::data;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

std::string conll_error(std::string_view contents, const ConllOptions& o = {}) {
  try {
    parse_conll(contents, "c.txt", o);
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "";
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "";
}

LabelledRow row(std::string label, size_t line) {
  LabelledRow r;
  r.text = "t";
  r.label = std::move(label);
  r.line = line;
  return r;
}

const std::string kShared = std::string(BERT_SOURCE_DIR) + "/../shared/data";

bool have_shared(const std::string& relative) {
  if (fs::exists(kShared + "/" + relative)) return true;
  WARN("skipped: " << kShared << "/" << relative << " is absent (shared data sets not installed)");
  return false;
}

const char* const kSample =
    "-DOCSTART- -X- -X- O\n"   // 1
    "\n"                       // 2
    "EU NNP B-NP B-ORG\n"      // 3
    "rejects VBZ B-VP O\n"     // 4
    "German JJ B-NP B-MISC\n"  // 5
    "\n"                       // 6
    "\n"                       // 7
    "Peter NNP B-NP B-PER\n"   // 8
    "Blackburn NNP I-NP I-PER\n"  // 9
    "-DOCSTART- -X- -X- O\n"   // 10
    "BRUSSELS NNP B-NP B-LOC\n";  // 11

}  // namespace

TEST_CASE("CoNLL sentences, documents and the last column as tag", "[conll_reader]") {
  const auto d = parse_conll(kSample, "c.txt");
  REQUIRE(d.sentences.size() == 3);
  CHECK(d.sentences[0].words == std::vector<std::string>{"EU", "rejects", "German"});
  CHECK(d.sentences[0].tags == std::vector<std::string>{"B-ORG", "O", "B-MISC"});
  CHECK(d.sentences[0].line == 3);
  CHECK(d.sentences[1].words == std::vector<std::string>{"Peter", "Blackburn"});
  CHECK(d.sentences[1].line == 8);
  // -DOCSTART- ends a sentence even without a blank line before it.
  CHECK(d.sentences[2].words == std::vector<std::string>{"BRUSSELS"});
  CHECK(d.sentences[2].line == 11);
  CHECK(d.report.sentences == 3);
  CHECK(d.report.tokens == 6);
  CHECK(d.report.documents == 2);
  CHECK(d.report.num_columns == 4);
  CHECK_THAT(d.report.summary("c.txt"), Contains("3 sentences, 6 tokens"));
}

TEST_CASE("CoNLL tag column, words only, separators and line ends", "[conll_reader]") {
  SECTION("explicit tag column") {
    ConllOptions o;
    o.tag_column = 1;
    const auto d = parse_conll(kSample, "c.txt", o);
    CHECK(d.sentences[0].tags == std::vector<std::string>{"NNP", "VBZ", "JJ"});
  }
  SECTION("words only (prediction input)") {
    ConllOptions o;
    o.has_tags = false;
    const auto d = parse_conll("one\ntwo\n\nthree\n", "w.txt", o);
    REQUIRE(d.sentences.size() == 2);
    CHECK(d.sentences[0].words == std::vector<std::string>{"one", "two"});
    CHECK(d.sentences[0].tags.empty());
  }
  SECTION("tabs, runs of spaces, CRLF, BOM, whitespace-only separator, no final newline") {
    const auto d = parse_conll("\xEF\xBB\xBFHello\tB-X\r\n  world   I-X \r\n \t \r\nBye O", "m.txt");
    REQUIRE(d.sentences.size() == 2);
    CHECK(d.sentences[0].words == std::vector<std::string>{"Hello", "world"});
    CHECK(d.sentences[0].tags == std::vector<std::string>{"B-X", "I-X"});
    CHECK(d.sentences[1].tags == std::vector<std::string>{"O"});
    CHECK(d.sentences[1].line == 4);
  }
  SECTION("vertical tab and form feed separate columns and make a blank line, as in Python's str.split()") {
    const auto d = parse_conll("a\vB-X\n\f\nb\fO\n", "v.txt");
    REQUIRE(d.sentences.size() == 2);
    CHECK(d.sentences[0].words == std::vector<std::string>{"a"});
    CHECK(d.sentences[0].tags == std::vector<std::string>{"B-X"});
    CHECK(d.sentences[1].tags == std::vector<std::string>{"O"});
  }
}

TEST_CASE("CoNLL errors name file:line and what was found", "[conll_reader]") {
  CHECK(conll_error("EU NNP B-NP B-ORG\nrejects VBZ O\n") ==
        "c.txt:2: expected 4 whitespace-separated columns (as on line 1, the first token line), found 3: "
        "\"rejects VBZ O\"");
  ConllOptions o;
  o.tag_column = 4;
  CHECK(conll_error("\nEU NNP B-NP B-ORG\n", o) ==
        "c.txt:2: tag column 4 (0-based) does not exist: the line has 4 columns: \"EU NNP B-NP B-ORG\"");
  CHECK_THAT(conll_error("lonely\nwords\n"), StartsWith("c.txt:1: expected at least a word and a tag column, found 1"));
  CHECK(conll_error("ok O\nbad\xC3( O\n") ==
        "c.txt:2: invalid UTF-8 at byte 4: found byte \\xC3 (the file must be UTF-8 encoded)");
  CHECK(conll_error("-DOCSTART- -X- -X- O\n\n\n") == "c.txt: no tokens found (expected one `word ... tag` line per token)");
  CHECK_THAT(error_of([] { read_conll("/nonexistent/conll.txt"); }), Contains("/nonexistent/conll.txt"));
}

TEST_CASE("LabelMap order", "[labels]") {
  SECTION("integer-like labels in numeric order") {
    const auto m = LabelMap::build({"1", "0", "10", "2", "1"});
    CHECK(m.names() == std::vector<std::string>{"0", "1", "2", "10"});
    CHECK(*m.find("10") == 3);
    CHECK(LabelMap::build({"1", "-1"}).names() == std::vector<std::string>{"-1", "1"});
  }
  SECTION("other labels in byte order") {
    CHECK(LabelMap::build({"spam", "ham", "spam"}).names() == std::vector<std::string>{"ham", "spam"});
    CHECK(LabelMap::build({"O", "B-PER", "I-PER", "B-LOC"}).names() ==
          std::vector<std::string>{"B-LOC", "B-PER", "I-PER", "O"});
    // One non-number makes the whole set lexicographic.
    CHECK(LabelMap::build({"10", "2", "x"}).names() == std::vector<std::string>{"10", "2", "x"});
  }
  SECTION("first-seen order") {
    const auto m = LabelMap::build({"O", "B-PER", "O", "I-PER"}, LabelOrder::kFirstSeen);
    CHECK(m.names() == std::vector<std::string>{"O", "B-PER", "I-PER"});
  }
  SECTION("from stored names") {
    const auto m = LabelMap::from_names({"neg", "pos"});
    CHECK(m.name(1) == "pos");
    CHECK(m.size() == 2);
    CHECK_THROWS_AS(m.name(2), std::out_of_range);
    CHECK_THAT(error_of([] { LabelMap::from_names({"a", "b", "a"}); }), Contains("\"a\" twice (ids 0 and 2)"));
    CHECK_THROWS_AS(LabelMap::build({}), bert::Error);
    CHECK_THROWS_AS(LabelMap::build({"a", ""}), bert::Error);
  }
}

TEST_CASE("LabelMap names unknown labels by file:line", "[labels]") {
  const auto m = LabelMap::build({"0", "1"});
  CHECK(m.id("1", "dev.tsv", 7) == 1);
  CHECK(error_of([&] { m.id("2", "dev.tsv", 7); }) ==
        "dev.tsv:7: unknown label \"2\" (not among the 2 labels the model was trained on: \"0\", \"1\")");
  const std::vector<LabelledRow> rows{row("0", 2), row("1", 3), row("yes", 9)};
  CHECK(error_of([&] { m.encode(rows, "dev.tsv"); }) ==
        "dev.tsv:9: unknown label \"yes\" (not among the 2 labels the model was trained on: \"0\", \"1\")");
  CHECK(m.encode(std::vector<LabelledRow>{row("1", 2), row("0", 3)}, "dev.tsv") == std::vector<int64_t>{1, 0});
  CHECK(collect_labels(rows) == std::vector<std::string>{"0", "1", "yes"});

  // Tags: token i of a sentence is on line sentence.line + i.
  const auto data = parse_conll("a B-PER\nb O\n\nc O\nd B-ORG\n", "dev.txt");
  const auto tags = LabelMap::build({"O", "B-PER"});
  CHECK(error_of([&] { tags.encode(data.sentences, "dev.txt"); }) ==
        "dev.txt:5: unknown label \"B-ORG\" (not among the 2 labels the model was trained on: \"B-PER\", \"O\")");
  const auto all = LabelMap::build(collect_tags(data.sentences));
  CHECK(all.encode(data.sentences, "dev.txt") == std::vector<std::vector<int64_t>>{{1, 2}, {2, 0}});
}

TEST_CASE("multi-label sets: split, collected, encoded", "[labels][multilabel]") {
  CHECK(split_label_set("PER,LOC", ',', "t.tsv", 2) == std::vector<std::string>{"PER", "LOC"});
  CHECK(split_label_set(" LOC , PER ,LOC", ',', "t.tsv", 2) == std::vector<std::string>{"LOC", "PER"});
  CHECK(split_label_set("", ',', "t.tsv", 2).empty());
  CHECK(split_label_set("  ", ',', "t.tsv", 2).empty());
  CHECK(split_label_set("a|b c", '|', "t.tsv", 2) == std::vector<std::string>{"a", "b c"});
  CHECK(error_of([] { split_label_set("PER,,LOC", ',', "t.tsv", 4); }) ==
        "t.tsv:4: empty label name in the label set \"PER,,LOC\" (labels separated by ','; an empty field is the "
        "empty set)");
  CHECK_THAT(error_of([] { split_label_set("PER,", ',', "t.tsv", 5); }), StartsWith("t.tsv:5: empty label name"));

  const std::vector<LabelledRow> rows{row("PER,LOC", 2), row("", 3), row("ORG", 4)};
  const auto names = collect_label_sets(rows, ',', "t.tsv");
  CHECK(names == std::vector<std::string>{"PER", "LOC", "ORG"});
  const auto m = LabelMap::build(names);
  CHECK(m.names() == std::vector<std::string>{"LOC", "ORG", "PER"});
  CHECK(m.encode_sets(rows, ',', "t.tsv") == std::vector<std::vector<int64_t>>{{2, 0}, {}, {1}});
  CHECK(error_of([&] { m.encode_sets({row("LOC,MISC", 7)}, ',', "dev.tsv"); }) ==
        "dev.tsv:7: unknown label \"MISC\" (not among the 3 labels the model was trained on: \"LOC\", \"ORG\", \"PER\")");
}

TEST_CASE("regression labels", "[labels]") {
  CHECK(parse_number("3.800") == 3.8);
  CHECK(parse_number(" 4 ") == 4.0);
  CHECK(parse_number("+1.5") == 1.5);
  CHECK(parse_number("-2e3") == -2000.0);
  CHECK(parse_number(".5") == 0.5);
  CHECK_FALSE(parse_number("abc"));
  CHECK_FALSE(parse_number("1,5"));  // decimal comma: never guessed
  CHECK_FALSE(parse_number("3.8x"));
  CHECK_FALSE(parse_number(""));
  CHECK_FALSE(parse_number("nan"));
  CHECK_FALSE(parse_number("inf"));
  CHECK_FALSE(parse_number("+-1"));
  CHECK(parse_regression_label("5.000", "train.tsv", 2) == 5.0);
  CHECK(error_of([] { parse_regression_label("high", "train.tsv", 12); }) ==
        "train.tsv:12: label \"high\" is not a number (a regression task needs a finite decimal number such as 3.8 "
        "in every row)");
  CHECK(regression_targets({row("0.5", 2), row("4", 3)}, "t.tsv") == std::vector<double>{0.5, 4.0});
  CHECK_THAT(error_of([] { regression_targets({row("0.5", 2), row("n/a", 3)}, "t.tsv"); }), StartsWith("t.tsv:3:"));
}

TEST_CASE("infer_task", "[labels]") {
  CHECK(infer_task({"0", "1", "1", "0"}).kind == TaskKind::kClassification);
  CHECK(infer_task({"ham", "spam"}).kind == TaskKind::kClassification);
  CHECK(infer_task({"1.0", "0.0"}).kind == TaskKind::kClassification);  // integer-valued
  CHECK(infer_task({"1", "2", "3", "4", "5"}).kind == TaskKind::kClassification);
  const auto reg = infer_task({"5.000", "3.800", "1"});
  CHECK(reg.kind == TaskKind::kRegression);
  CHECK_THAT(reg.reason, Contains("\"3.800\" is not an integer"));
  std::vector<std::string> many;
  for (int i = 0; i <= 10; ++i) many.push_back(std::to_string(i));
  const auto ints = infer_task(many);  // 11 distinct integers > 10
  CHECK(ints.kind == TaskKind::kRegression);
  CHECK(ints.distinct_labels == 11);
  CHECK(infer_task(many, 20).kind == TaskKind::kClassification);
  CHECK_THAT(infer_task({"1", "x"}).reason, Contains("\"x\" is not a number"));
  CHECK_FALSE(infer_task({"1", "x"}).stray_label);  // "1" alone reads as a class
  // A few words among what would otherwise be regression targets: most likely bad rows.
  std::vector<std::string> scores;
  for (int i = 0; i < 60; ++i) scores.push_back(std::to_string(i % 50) + ".5");
  auto with = [&](std::vector<std::string> words) {
    auto labels = scores;
    labels.insert(labels.begin() + 7, words.begin(), words.end());
    return infer_task(labels);
  };
  const auto stray = with({"n/a", "-", "n/a"});
  CHECK(stray.kind == TaskKind::kClassification);
  CHECK(stray.stray_label == "n/a");  // the first in file order
  CHECK(with({"a", "b", "c"}).stray_label == "a");
  CHECK_FALSE(with({"a", "b", "c", "d"}).stray_label);  // four distinct words: classes after all
  CHECK_FALSE(with({"a", "a", "a", "a"}).stray_label);  // on more than 5 % of the rows: a class
  std::vector<std::string> words(1000, "pos");
  words.push_back("0.5");  // one number among words: classification, nothing stray
  CHECK_FALSE(infer_task(words).stray_label);
  for (int i = 11; i <= 30; ++i) many.push_back(std::to_string(i));
  many.push_back("other");
  CHECK(infer_task(many).stray_label == "other");
  CHECK_FALSE(infer_task(many, 40).stray_label);  // 31 integers read as classes: "other" is one more
  CHECK_FALSE(infer_task({"1", "1.0", "x"}).stray_label);
  CHECK_THROWS_AS(infer_task({}), bert::Error);
  CHECK(to_string(TaskKind::kRegression) == "regression");
}

// ---------------------------------------------------------------------------------------------
// Real data (skipped without ../shared/data)

TEST_CASE("CoNLL-2003 loads", "[conll_reader][shared_data]") {
  if (!have_shared("conll2003/train.txt")) return;
  const auto train = read_conll(kShared + "/conll2003/train.txt");
  const auto valid = read_conll(kShared + "/conll2003/valid.txt");
  CHECK(train.sentences.size() == 14041);
  CHECK(valid.sentences.size() == 3250);
  CHECK(train.report.tokens == 203621);
  CHECK(valid.report.tokens == 51362);
  CHECK(train.report.documents == 946);
  CHECK(train.sentences[0].words.front() == "EU");
  CHECK(train.sentences[0].line == 3);
  const auto tags = LabelMap::build(collect_tags(train.sentences));
  CHECK(tags.names() == std::vector<std::string>{"B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG",
                                                 "I-PER", "O"});
  CHECK(tags.encode(valid.sentences, "valid.txt").size() == 3250);  // no unknown tags in valid
}

TEST_CASE("task inference on GLUE labels", "[labels][shared_data]") {
  if (!have_shared("glue/STS-B/train.tsv") || !have_shared("glue/SST-2/train.tsv")) return;
  TableOptions o;
  o.text = ColumnRef("sentence1");
  o.text_pair = ColumnRef("sentence2");
  o.label = ColumnRef("score");
  const auto stsb = read_labelled_table(kShared + "/glue/STS-B/train.tsv", o);
  CHECK(infer_task(collect_labels(stsb.rows)).kind == TaskKind::kRegression);
  CHECK(regression_targets(stsb.rows, "train.tsv").size() == 5749);
  o.text = ColumnRef("sentence");
  o.text_pair.reset();
  o.label = ColumnRef("label");
  const auto sst = read_labelled_table(kShared + "/glue/SST-2/train.tsv", o);
  CHECK(infer_task(collect_labels(sst.rows)).kind == TaskKind::kClassification);
  CHECK(LabelMap::build(collect_labels(sst.rows)).names() == std::vector<std::string>{"0", "1"});
}
