// bert/tasks/question_answering.h on hand-made data and logits: the windows over a long context
// (stride, layout, token types), the answer labels of each window, and how answers are read back
// (best span over all windows, spans outside the context or too long refused, "no answer" and its
// threshold, the probability score, character offsets in non-ASCII text). CTest qa_interop checks
// the same against transformers on real data.
#include <catch2/catch.hpp>

#include "bert/tasks/question_answering.h"
#include "bert/tokenizer/load.h"
#include "bert/util/error.h"
#include "test/test_paths.h"

#include <cmath>
#include <string>
#include <vector>

using namespace bert;
using namespace bert::tasks;

namespace {

// 25 words, each one WordPiece token of the fixture's vocabulary.
const char* const kWords[] = {"one",      "two",      "three",     "four",     "five",    "six",   "seven",
                              "eight",    "nine",     "ten",       "eleven",   "twelve",  "thirteen", "fourteen",
                              "fifteen",  "sixteen",  "seventeen", "eighteen", "nineteen", "twenty", "red",
                              "blue",     "green",    "black",     "white"};

std::string context_of_words() {
  std::string s;
  for (const char* w : kWords) s += (s.empty() ? "" : " ") + std::string(w);
  return s;
}

// The character offset of word `w` in context_of_words().
size_t word_start(size_t w) {
  size_t offset = 0;
  for (size_t i = 0; i < w; ++i) offset += std::string(kWords[i]).size() + 1;
  return offset;
}

data::Answer answer(const std::string& context, size_t first_word, size_t last_word) {
  data::Answer a;
  a.char_start = word_start(first_word);
  a.begin = a.char_start;
  a.end = word_start(last_word) + std::string(kWords[last_word]).size();
  a.text = context.substr(a.begin, a.end - a.begin);
  return a;
}

struct Fixture {
  std::unique_ptr<tokenizer::Tokenizer> tok = tokenizer::load_tokenizer(test::data_path("hf-tiny"));
  TaskDataOptions options;
  TaskDataset data;

  Fixture() {
    options.task = Task::qa;
    options.max_seq_len = 16;  // question "who ?" = 2 tokens → 11 context tokens per window
    options.qa.doc_stride = 4;  // windows start at context tokens 0, 7, 14
  }
  void add(const std::string& question, const std::string& context, std::vector<data::Answer> answers) {
    data.squad.contexts.push_back(context);
    data::Question q;
    q.id = std::to_string(data.squad.questions.size() + 1);
    q.question = question;
    q.context = data.squad.contexts.size() - 1;
    q.answers = std::move(answers);
    data.squad.questions.push_back(q);
  }
  void build() { build_qa_features(options, *tok, data); }
  // The same logit everywhere in every window, to be changed by hand.
  std::pair<std::vector<std::vector<float>>, std::vector<std::vector<float>>> flat_logits(float value = 0) const {
    std::vector<std::vector<float>> s, e;
    for (const auto& ex : data.examples) s.emplace_back(ex.ids.size(), value), e.emplace_back(ex.ids.size(), value);
    return {s, e};
  }
};

}  // namespace

TEST_CASE("a long context is read in windows that share doc_stride tokens", "[tasks][qa]") {
  Fixture f;
  const auto context = context_of_words();
  REQUIRE(f.tok->encode(context).size() == 25 + 2);  // one token per word
  f.add("who ?", context, {answer(context, 12, 13)});
  f.build();
  REQUIRE(f.data.examples.size() == 3);
  const int64_t begins[] = {0, 7, 14};
  for (size_t w = 0; w < 3; ++w) {
    const auto& ex = f.data.examples[w];
    INFO("window " << w);
    CHECK(ex.question == 0);
    CHECK(ex.context_position == 4);  // [CLS] who ? [SEP]
    CHECK(ex.context_token_begin == begins[w]);
    CHECK(ex.context_tokens == 11);
    REQUIRE(ex.ids.size() == 16);
    CHECK(ex.ids.front() == f.tok->cls_id());
    CHECK(ex.ids[3] == f.tok->sep_id());
    CHECK(ex.ids.back() == f.tok->sep_id());
    CHECK(ex.ids[4] == f.tok->token_to_id(kWords[begins[w]]));
    CHECK(ex.type_ids[3] == 0);
    CHECK(ex.type_ids[4] == 1);
    CHECK(ex.type_ids.back() == 1);
  }
  // Words 12-13 lie in the second window only (context tokens 7..17).
  CHECK(f.data.examples[0].start_position == 0);
  CHECK(f.data.examples[1].start_position == 4 + 12 - 7);
  CHECK(f.data.examples[1].end_position == 4 + 13 - 7);
  CHECK(f.data.examples[2].start_position == 0);
  CHECK(f.data.examples[2].end_position == 0);
  CHECK(f.data.qa.doc_stride == 4);
}

TEST_CASE("an answer cut by a window's edge is labelled [CLS] there and found in the next window", "[tasks][qa]") {
  Fixture f;
  const auto context = context_of_words();
  f.add("who ?", context, {answer(context, 17, 18)});  // window 2 ends at token 17
  f.build();
  REQUIRE(f.data.examples.size() == 3);
  CHECK(f.data.examples[1].start_position == 0);
  CHECK(f.data.examples[1].end_position == 0);
  CHECK(f.data.examples[2].start_position == 4 + 17 - 14);
  CHECK(f.data.examples[2].end_position == 4 + 18 - 14);
}

TEST_CASE("a short context is one window; the stride defaults to a third of max_seq_len", "[tasks][qa]") {
  Fixture f;
  f.options.qa.doc_stride = -1;
  f.options.max_seq_len = 64;
  f.add("who ?", "one two three", {});
  f.build();
  REQUIRE(f.data.examples.size() == 1);
  CHECK(f.data.examples[0].ids.size() == 4 + 3 + 1);
  CHECK(f.data.qa.doc_stride == 21);
  // A window that cannot hold more than the stride is an error naming the question and the flags.
  Fixture g;
  g.options.qa.doc_stride = 11;
  g.add("who ?", "one two", {});
  g.data.squad.questions.back().where = "q.json:3";
  try {
    g.build();
    FAIL("no error");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("q.json:3: the question's 2 tokens leave 11 context tokens per window"));
    CHECK_THAT(e.what(), Catch::Matchers::Contains("--doc-stride 11"));
  }
}

TEST_CASE("answers: the best span of all windows by start + end logit, within the context and max_answer_len",
          "[tasks][qa]") {
  Fixture f;
  const auto context = context_of_words();
  f.add("who ?", context, {});
  f.build();
  auto [start, end] = f.flat_logits(-100);
  // Window 1: words 12..13 score 5 + 4.
  start[1][4 + 12 - 7] = 5, end[1][4 + 13 - 7] = 4;
  // Window 2: words 20..21 score 6 + 3.5, a bit better.
  start[2][4 + 20 - 14] = 6, end[2][4 + 21 - 14] = 3.5;
  // Higher logits that make no span: in the question, end before start, and too long a span.
  start[0][1] = 50, end[0][2] = 50;  // question tokens
  start[0][4 + 5] = 30, end[0][4 + 2] = 25;  // end before start
  auto answers = answer_questions(f.data, start, end);
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].text == "red blue");
  CHECK(*answers[0].start == word_start(20));
  CHECK(*answers[0].end == word_start(21) + 4);

  f.data.qa.max_answer_len = 1;  // only one-token answers: the best is a single word now
  answers = answer_questions(f.data, start, end);
  CHECK(answers[0].text == "six");  // word 5: start 30 + end -100 beats every other one-token span
}

TEST_CASE("no answer when the [CLS] score beats the best span by more than the threshold", "[tasks][qa]") {
  Fixture f;
  const auto context = context_of_words();
  f.add("who ?", context, {});
  f.build();
  auto [start, end] = f.flat_logits();
  start[1][4 + 12 - 7] = 5, end[1][4 + 13 - 7] = 4;  // best span: 9
  for (size_t w = 0; w < 3; ++w) start[w][0] = 5, end[w][0] = 5;  // [CLS]: 10 everywhere ...
  start[2][0] = 4.5;                                                 // ... but 9.5 in window 2 (the minimum)

  f.data.qa.allow_no_answer = false;
  CHECK(answer_questions(f.data, start, end)[0].text == "thirteen fourteen");
  f.data.qa.allow_no_answer = true;
  auto none = answer_questions(f.data, start, end)[0];
  CHECK(none.no_answer());
  CHECK(none.text.empty());
  // Its score: the probability of [CLS] as start and end in window 2, over [CLS] and the 11 context tokens.
  const double p_start = std::exp(4.5) / (std::exp(4.5) + 11.0), p_end = std::exp(5.0) / (std::exp(5.0) + 11.0);
  CHECK(none.score == Approx(p_start * p_end).epsilon(1e-6));
  f.data.qa.null_threshold = 0.5;  // 9.5 - 9 = 0.5 is not more than 0.5
  CHECK(answer_questions(f.data, start, end)[0].text == "thirteen fourteen");
}

TEST_CASE("an answer's score is its probability in its window; offsets count characters", "[tasks][qa]") {
  Fixture f;
  f.options.max_seq_len = 64;
  const std::string context = "Zürich und Bern";  // ü: 2 bytes, 1 character
  f.add("who ?", context, {});
  f.build();
  REQUIRE(f.data.examples.size() == 1);
  auto [start, end] = f.flat_logits();
  const auto& ex = f.data.examples[0];
  const size_t last = static_cast<size_t>(ex.context_position + ex.context_tokens - 1);  // "bern"
  start[0][last] = 2, end[0][last] = 3;
  start[0][ex.ids.size() - 1] = 40;  // the final [SEP] is no answer token, nor part of the softmax
  auto a = answer_questions(f.data, start, end)[0];
  CHECK(a.text == "Bern");
  CHECK(*a.start == 11);
  CHECK(*a.end == 15);
  const double others = static_cast<double>(ex.context_tokens);  // [CLS] and the other context tokens: logit 0
  CHECK(a.score == Approx(std::exp(2.0) / (std::exp(2.0) + others) * std::exp(3.0) / (std::exp(3.0) + others)).epsilon(1e-6));
}

TEST_CASE("gold answers per question", "[tasks][qa]") {
  Fixture f;
  const auto context = context_of_words();
  f.add("who ?", context, {answer(context, 0, 1), answer(context, 0, 0)});
  f.add("who ?", context, {});
  auto gold = gold_answers(f.data);
  REQUIRE(gold.size() == 2);
  CHECK(gold[0] == std::vector<std::string>{"one two", "one"});
  CHECK(gold[1].empty());
}
