// Tests of bert/data/squad_reader.h: SQuAD's nested JSON, JSON lines (and JSON lines under a .json
// name, as `datasets` writes them), both answer layouts, character (not byte) answer offsets in
// non-ASCII contexts, unanswerable questions, shared contexts, and the errors: an answer not at its
// offset, a duplicate id, a missing field, invalid JSON with its line, and --skip-bad-rows.
#include <catch2/catch.hpp>

#include "bert/data/squad_reader.h"
#include "bert/util/error.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using namespace bert::data;
using Catch::Matchers::Contains;

namespace {

struct TempFile {
  fs::path path;
  TempFile(const std::string& name, const std::string& text)
      : path(fs::temp_directory_path() / ("bert_squad_" + std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() { fs::remove(path); }
  std::string str() const { return path.string(); }
};

std::string error_of(const std::string& name, const std::string& text, const SquadReadOptions& o = {}) {
  TempFile f(name, text);
  try {
    read_squad(f.str(), o);
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "";
}

// "Zürich" has a two-byte ü: the answer "Bern" starts at character 29 but byte 30.
const char* const kNested = R"({"version": "v2.0", "data": [{"title": "Swiss", "paragraphs": [
  {"context": "Zürich is large; the capital Bern is not.",
   "qas": [{"id": "q1", "question": "What is the capital?", "answers": [{"text": "Bern", "answer_start": 29}]},
           {"id": "q2", "question": "Which city is large?", "answers": [{"text": "Zürich", "answer_start": 0},
                                                                       {"text": "Zürich is large", "answer_start": 0}]},
           {"id": "q3", "question": "What is the river?", "answers": [], "is_impossible": true}]},
  {"context": "Second paragraph.", "qas": [{"id": "q4", "question": "Which?", "answers": [{"text": "paragraph", "answer_start": 7}]}]}
]}]})";

}  // namespace

TEST_CASE("SQuAD JSON: questions, character offsets as byte spans, unanswerable questions", "[data][squad]") {
  TempFile f("nested.json", kNested);
  auto file = read_squad(f.str());
  REQUIRE(file.questions.size() == 4);
  REQUIRE(file.contexts.size() == 2);
  CHECK(file.unanswerable == 1);
  const auto& q1 = file.questions[0];
  CHECK(q1.id == "q1");
  CHECK(q1.question == "What is the capital?");
  CHECK(q1.context == 0);
  REQUIRE(q1.answers.size() == 1);
  CHECK(q1.answers[0].char_start == 29);
  CHECK(q1.answers[0].begin == 30);  // one more byte than characters: ü
  CHECK(file.contexts[0].substr(q1.answers[0].begin, q1.answers[0].end - q1.answers[0].begin) == "Bern");
  CHECK(file.questions[1].answers.size() == 2);
  CHECK(file.questions[2].answers.empty());
  CHECK(file.questions[3].context == 1);
  CHECK_THAT(q1.where, Contains("data[0].paragraphs[0].qas[0]"));
  CHECK(file.summary("x.json") == "x.json: 4 questions on 2 contexts, 1 unanswerable");
  CHECK(code_point_count(file.contexts[0], q1.answers[0].begin) == 29);
}

TEST_CASE("SQuAD JSON lines in both answer layouts, also under a .json name", "[data][squad]") {
  const std::string lines =
      R"({"id": "a", "question": "Who?", "context": "Ann met Bob.", "answers": {"text": ["Bob"], "answer_start": [8]}})"
      "\n\n"
      R"({"id": "b", "question": "Who first?", "context": "Ann met Bob.", "answers": [{"text": "Ann", "answer_start": 0}]})"
      "\r\n"
      R"({"question": "Where?", "context": "Nowhere.", "answers": {"text": [], "answer_start": []}})"
      "\n";
  for (const char* name : {"q.jsonl", "q.json"}) {
    TempFile f(name, lines);
    auto file = read_squad(f.str());
    REQUIRE(file.questions.size() == 3);
    CHECK(file.contexts.size() == 2);  // the repeated context is stored once
    CHECK(file.questions[1].context == 0);
    CHECK(file.questions[0].answers[0].begin == 8);
    CHECK(file.questions[2].id == "3");  // no id: its position
    CHECK(file.unanswerable == 1);
    CHECK(file.questions[2].where == f.str() + ":4");
  }
}

TEST_CASE("prediction input needs no answers", "[data][squad]") {
  SquadReadOptions o;
  o.has_answers = false;
  TempFile f("p.jsonl", R"({"id": 7, "question": "Who?", "context": "Ann."})" "\n");
  auto file = read_squad(f.str(), o);
  REQUIRE(file.questions.size() == 1);
  CHECK(file.questions[0].id == "7");
  CHECK(file.unanswerable == 0);
  CHECK_THAT(error_of("p2.jsonl", R"({"id": 7, "question": "Who?", "context": "Ann."})" "\n"),
             Contains("p2.jsonl:1: no \"answers\""));
}

TEST_CASE("SQuAD errors name the question, what was expected and what was found", "[data][squad]") {
  // A byte offset where a character offset belongs: one too far after the ü.
  auto bytes = error_of("b.json", R"({"data": [{"paragraphs": [{"context": "Zürich and Bern", "qas": [
      {"id": "x", "question": "?", "answers": [{"text": "Bern", "answer_start": 12}]}]}]}]})");
  CHECK_THAT(bytes, Contains("data[0].paragraphs[0].qas[0]"));
  CHECK_THAT(bytes, Contains("\"Bern\" is not at character 12"));
  CHECK_THAT(bytes, Contains("found \"ern\""));
  CHECK_THAT(bytes, Contains("code points"));
  CHECK_THAT(error_of("far.jsonl", R"({"question": "?", "context": "abc", "answers": [{"text": "abc", "answer_start": 9}]})"),
             Contains("the context is only 3 characters long"));
  CHECK_THAT(error_of("dup.jsonl", "{\"id\": \"a\", \"question\": \"?\", \"context\": \"c\", \"answers\": []}\n"
                                   "{\"id\": \"a\", \"question\": \"?\", \"context\": \"c\", \"answers\": []}\n"),
             Contains("dup.jsonl:2: the id \"a\" is used twice"));
  CHECK_THAT(error_of("noq.jsonl", R"({"context": "c", "answers": []})"), Contains("noq.jsonl:1: missing \"question\""));
  CHECK_THAT(error_of("num.jsonl", R"({"question": 3, "context": "c", "answers": []})"),
             Contains("\"question\" must be a string, found a number"));
  CHECK_THAT(error_of("bad.jsonl", "{\"question\": \"?\", \"context\": \"c\", \"answers\": []}\n{\"question\": \n"),
             Contains("bad.jsonl:2: not valid JSON"));
  CHECK_THAT(error_of("bad.json", "[{\"question\": \"?\",\n \"context\": }]"), Contains("bad.json: not valid JSON"));
  // nlohmann::json throws out_of_range, not parse_error, for a number too large (found by fuzz_squad_reader)
  CHECK_THAT(error_of("huge.jsonl", R"({"question": "?", "context": "c", "answers": [{"text": "c", "answer_start": 33E3333}]})"),
             Contains("huge.jsonl:1: not valid JSON"));
  CHECK_THAT(error_of("len.jsonl", R"({"question": "?", "context": "c", "answers": {"text": ["c"], "answer_start": []}})"),
             Contains("1 texts but 0 answer_start values"));
  CHECK_THAT(error_of("other.json", R"({"rows": []})"), Contains("expected SQuAD JSON"));
  CHECK_THAT(error_of("empty.json", "  \n"), Contains("empty file"));
}

TEST_CASE("skipping bad rows skips and counts questions whose answer is not in the context", "[data][squad]") {
  SquadReadOptions o;
  o.skip_bad_rows = true;
  TempFile f("skip.jsonl", "{\"id\": \"ok\", \"question\": \"?\", \"context\": \"abc\", \"answers\": [{\"text\": \"b\", \"answer_start\": 1}]}\n"
                           "{\"id\": \"bad\", \"question\": \"?\", \"context\": \"abc\", \"answers\": [{\"text\": \"b\", \"answer_start\": 2}]}\n");
  auto file = read_squad(f.str(), o);
  REQUIRE(file.questions.size() == 1);
  CHECK(file.questions[0].id == "ok");
  CHECK(file.skipped == 1);
  CHECK_THAT(file.summary("s"), Contains("1 bad questions skipped"));
}
