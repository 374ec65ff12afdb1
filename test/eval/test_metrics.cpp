// Tests of bert/eval/metrics.h. The classification, multi-label and regression numbers are pinned against
// scikit-learn 1.9.1 / scipy 1.17.1: they are what scripts/metrics_reference.py prints for the
// same label vectors (copied verbatim from that script; change both together). The entity cases
// pin conlleval's semantics (stray I-, type changes, IOB1's B-) with numbers seqeval 1.2.2 (a
// conlleval port, default mode) gives for the same sentences, printed by the same script.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "bert/eval/metrics.h"
#include "bert/util/error.h"

#include <ostream>

// Catch2 prints vectors through LibTorch's operator<< for std::vector, which needs the element's.
namespace bert::eval {
inline std::ostream& operator<<(std::ostream& os, const Entity& e) {
  return os << e.type << "[" << e.begin << ", " << e.end << ")";
}
}  // namespace bert::eval

using namespace bert::eval;
using Catch::Matchers::Contains;

namespace {

constexpr double kTol = 1e-12;

void check_vector(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i);
    CHECK(got[i] == Approx(want[i]).margin(kTol));
  }
}

std::vector<double> field(const std::vector<ClassMetrics>& classes, double ClassMetrics::*member) {
  std::vector<double> out;
  for (const auto& m : classes) out.push_back(m.*member);
  return out;
}

std::vector<size_t> supports(const std::vector<ClassMetrics>& classes) {
  std::vector<size_t> out;
  for (const auto& m : classes) out.push_back(m.support);
  return out;
}

}  // namespace

TEST_CASE("binary classification matches scikit-learn", "[metrics]") {
  // scripts/metrics_reference.py [binary]
  const std::vector<int64_t> gold{0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
  const std::vector<int64_t> pred{0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1};
  const auto r = classification_report(gold, pred, {"0", "1"});
  CHECK(r.examples == 12);
  CHECK(r.accuracy == Approx(0.5833333333333334).margin(kTol));
  CHECK(r.macro_precision == Approx(0.5625).margin(kTol));
  CHECK(r.macro_recall == Approx(0.5571428571428572).margin(kTol));
  CHECK(r.macro_f1 == Approx(0.5555555555555556).margin(kTol));
  CHECK(r.weighted_precision == Approx(0.5729166666666666).margin(kTol));
  CHECK(r.weighted_recall == Approx(0.5833333333333334).margin(kTol));
  CHECK(r.weighted_f1 == Approx(0.5740740740740741).margin(kTol));
  check_vector(field(r.per_class, &ClassMetrics::precision), {0.5, 0.625});
  check_vector(field(r.per_class, &ClassMetrics::recall), {0.4, 0.7142857142857143});
  check_vector(field(r.per_class, &ClassMetrics::f1), {0.4444444444444444, 0.6666666666666666});
  CHECK(supports(r.per_class) == std::vector<size_t>{5, 7});
  REQUIRE(r.binary_f1);
  CHECK(*r.binary_precision == Approx(0.625).margin(kTol));
  CHECK(*r.binary_recall == Approx(0.7142857142857143).margin(kTol));
  CHECK(*r.binary_f1 == Approx(0.6666666666666666).margin(kTol));
  CHECK(r.mcc == Approx(0.11952286093343936).margin(kTol));
  CHECK(r.confusion == std::vector<std::vector<size_t>>{{2, 3}, {2, 5}});

  const auto m = metrics_map(r);
  CHECK(m.at("accuracy") == r.accuracy);
  CHECK(m.at("f1") == *r.binary_f1);
  CHECK(m.at("precision") == *r.binary_precision);
  CHECK(m.at("recall") == *r.binary_recall);
  CHECK(m.at("macro_f1") == r.macro_f1);
  CHECK(m.at("weighted_f1") == r.weighted_f1);
  CHECK(m.at("mcc") == r.mcc);
  CHECK(m.at("examples") == 12);
  CHECK(m.at("f1.0") == r.per_class[0].f1);
  CHECK(m.at("recall.1") == r.per_class[1].recall);
}

TEST_CASE("binary F1 takes the second label as the positive class", "[metrics]") {
  // Same data with names ham/spam: the positive class is id 1 whatever it is called; swapping
  // the ids swaps which class's F1 is reported.
  const std::vector<int64_t> gold{0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
  const std::vector<int64_t> pred{0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1};
  const auto r = classification_report(gold, pred, {"ham", "spam"});
  CHECK(*r.binary_f1 == Approx(0.6666666666666666).margin(kTol));
  std::vector<int64_t> g2, p2;
  for (auto v : gold) g2.push_back(1 - v);
  for (auto v : pred) p2.push_back(1 - v);
  const auto swapped = classification_report(g2, p2, {"spam", "ham"});
  CHECK(*swapped.binary_f1 == Approx(0.4444444444444444).margin(kTol));
  CHECK(swapped.mcc == Approx(r.mcc).margin(kTol));  // MCC is symmetric in the classes
  CHECK(metrics_map(r).count("f1.spam") == 1);
}

TEST_CASE("three-class classification matches scikit-learn", "[metrics]") {
  // scripts/metrics_reference.py [three_class]
  const std::vector<int64_t> gold{0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 2, 1, 0, 0, 2};
  const std::vector<int64_t> pred{0, 2, 2, 1, 1, 0, 2, 0, 0, 2, 1, 1, 2, 2, 2};
  const auto r = classification_report(gold, pred, {"a", "b", "c"});
  CHECK(r.accuracy == Approx(0.6).margin(kTol));
  CHECK(r.macro_precision == Approx(0.6071428571428571).margin(kTol));
  CHECK(r.macro_recall == Approx(0.5888888888888889).margin(kTol));
  CHECK(r.macro_f1 == Approx(0.594017094017094).margin(kTol));
  CHECK(r.weighted_precision == Approx(0.611904761904762).margin(kTol));
  CHECK(r.weighted_recall == Approx(0.6).margin(kTol));
  CHECK(r.weighted_f1 == Approx(0.6017094017094017).margin(kTol));
  check_vector(field(r.per_class, &ClassMetrics::precision), {0.75, 0.5, 0.5714285714285714});
  check_vector(field(r.per_class, &ClassMetrics::recall), {0.6, 0.5, 0.6666666666666666});
  check_vector(field(r.per_class, &ClassMetrics::f1), {0.6666666666666666, 0.5, 0.6153846153846154});
  CHECK(supports(r.per_class) == std::vector<size_t>{5, 4, 6});
  CHECK(r.mcc == Approx(0.39044759485022357).margin(kTol));
  CHECK(r.confusion == std::vector<std::vector<size_t>>{{3, 0, 2}, {1, 2, 1}, {0, 2, 4}});
  CHECK_FALSE(r.binary_f1);
  CHECK(metrics_map(r).count("f1") == 0);
}

TEST_CASE("classes never predicted or absent everywhere follow scikit-learn", "[metrics]") {
  // scripts/metrics_reference.py [absent_classes]: class 2 is never predicted (precision 0),
  // class 3 occurs nowhere and is left out of the macro average.
  const std::vector<int64_t> gold{0, 1, 2, 2, 0, 1, 0, 2};
  const std::vector<int64_t> pred{0, 1, 1, 1, 0, 0, 0, 1};
  const auto r = classification_report(gold, pred, {"w", "x", "y", "z"});
  CHECK(r.accuracy == Approx(0.5).margin(kTol));
  CHECK(r.macro_precision == Approx(0.3333333333333333).margin(kTol));
  CHECK(r.macro_recall == Approx(0.5).margin(kTol));
  CHECK(r.macro_f1 == Approx(0.3968253968253968).margin(kTol));
  CHECK(r.weighted_precision == Approx(0.34375).margin(kTol));
  CHECK(r.weighted_recall == Approx(0.5).margin(kTol));
  CHECK(r.weighted_f1 == Approx(0.4047619047619047).margin(kTol));
  check_vector(field(r.per_class, &ClassMetrics::precision), {0.75, 0.25, 0.0, 0.0});
  check_vector(field(r.per_class, &ClassMetrics::f1), {0.8571428571428571, 0.3333333333333333, 0.0, 0.0});
  CHECK(supports(r.per_class) == std::vector<size_t>{3, 2, 3, 0});
  CHECK(r.mcc == Approx(0.3273268353539886).margin(kTol));
}

TEST_CASE("degenerate classification inputs", "[metrics]") {
  SECTION("a constant prediction has MCC 0, as scikit-learn returns") {
    const auto r = classification_report({0, 1, 1, 0}, {1, 1, 1, 1}, {"0", "1"});
    CHECK(r.mcc == 0.0);
    CHECK(r.accuracy == 0.5);
    CHECK(r.per_class[0].precision == 0.0);  // no predictions of class 0: zero_division -> 0
  }
  SECTION("perfect predictions") {
    const auto r = classification_report({0, 1, 2}, {0, 1, 2}, {"a", "b", "c"});
    CHECK(r.mcc == Approx(1.0));
    CHECK(r.macro_f1 == Approx(1.0));
  }
  SECTION("bad input is an invalid_argument") {
    CHECK_THROWS_AS(classification_report({0, 1}, {0}, {"a", "b"}), std::invalid_argument);
    CHECK_THROWS_AS(classification_report({}, {}, {"a", "b"}), std::invalid_argument);
    CHECK_THROWS_WITH(classification_report({0, 2}, {0, 1}, {"a", "b"}), Contains("out of range"));
  }
}

TEST_CASE("classification format_report is a readable table", "[metrics]") {
  const auto r = classification_report({0, 1, 1, 0, 1}, {0, 1, 0, 0, 1}, {"ham", "spam"});
  const std::string s = format_report(r);
  CHECK_THAT(s, Contains("precision"));
  CHECK_THAT(s, Contains("macro avg"));
  CHECK_THAT(s, Contains("weighted avg"));
  CHECK_THAT(s, Contains("Matthews correlation"));
  CHECK_THAT(s, Contains("positive class \"spam\""));
  CHECK_THAT(s, Contains("confusion matrix"));
  CHECK_THAT(s, Contains("0.8000"));  // accuracy 4/5
}

TEST_CASE("multi-label metrics match scikit-learn", "[metrics][multilabel]") {
  // scripts/metrics_reference.py [sets]: rows with an empty gold set, an empty prediction and
  // both empty; label "d" occurs nowhere (it still counts in the macro average, as in sklearn).
  const std::vector<std::vector<int64_t>> gold{{0, 1}, {2}, {}, {0}, {1, 2}, {}, {0, 2}, {1}, {}, {0, 1, 2}};
  const std::vector<std::vector<int64_t>> pred{{0}, {2}, {1}, {0, 1}, {1, 2}, {}, {2}, {}, {}, {0, 1}};
  const auto r = multilabel_report(gold, pred, {"a", "b", "c", "d"});
  CHECK(r.examples == 10);
  CHECK(r.subset_accuracy == Approx(0.4).margin(kTol));
  CHECK(r.hamming_loss == Approx(0.15).margin(kTol));
  CHECK(r.micro_precision == Approx(0.8).margin(kTol));
  CHECK(r.micro_recall == Approx(0.6666666666666666).margin(kTol));
  CHECK(r.micro_f1 == Approx(0.7272727272727273).margin(kTol));
  CHECK(r.macro_precision == Approx(0.625).margin(kTol));
  CHECK(r.macro_recall == Approx(0.5).margin(kTol));
  CHECK(r.macro_f1 == Approx(0.5535714285714286).margin(kTol));
  CHECK(r.weighted_precision == Approx(0.8333333333333334).margin(kTol));
  CHECK(r.weighted_recall == Approx(0.6666666666666666).margin(kTol));
  CHECK(r.weighted_f1 == Approx(0.7380952380952381).margin(kTol));
  CHECK(r.samples_precision == Approx(0.55).margin(kTol));
  CHECK(r.samples_recall == Approx(0.4666666666666667).margin(kTol));
  CHECK(r.samples_f1 == Approx(0.48).margin(kTol));
  check_vector(field(r.per_label, &ClassMetrics::precision), {1.0, 0.5, 1.0, 0.0});
  check_vector(field(r.per_label, &ClassMetrics::recall), {0.75, 0.5, 0.75, 0.0});
  check_vector(field(r.per_label, &ClassMetrics::f1), {0.8571428571428571, 0.5, 0.8571428571428571, 0.0});
  CHECK(supports(r.per_label) == std::vector<size_t>{4, 4, 4, 0});

  const auto m = metrics_map(r);
  CHECK(m.at("micro_f1") == r.micro_f1);
  CHECK(m.at("samples_f1") == r.samples_f1);
  CHECK(m.at("f1.b") == 0.5);
  const std::string table = format_report(r);
  CHECK_THAT(table, Contains("micro avg"));
  CHECK_THAT(table, Contains("samples avg"));
  CHECK_THAT(table, Contains("Hamming loss: 0.1500"));

  SECTION("order and repeats inside a set do not matter") {
    const auto again = multilabel_report({{1, 0, 1}}, {{0, 1}}, {"a", "b"});
    CHECK(again.subset_accuracy == 1.0);
    CHECK(again.micro_f1 == 1.0);
  }
  SECTION("bad input is an invalid_argument") {
    CHECK_THROWS_AS(multilabel_report({{0}}, {}, {"a"}), std::invalid_argument);
    CHECK_THROWS_AS(multilabel_report({}, {}, {"a"}), std::invalid_argument);
    CHECK_THROWS_WITH(multilabel_report({{0}}, {{2}}, {"a", "b"}), Contains("out of range"));
  }
}

TEST_CASE("regression metrics match scikit-learn and scipy", "[metrics]") {
  // scripts/metrics_reference.py [scores]
  const std::vector<double> gold{0.0, 1.2, 2.5, 2.5, 3.8, 4.0, 5.0, 1.2, 3.0, 0.6};
  const std::vector<double> pred{0.3, 1.0, 2.9, 2.2, 3.1, 4.5, 4.8, 2.0, 2.0, 0.1};
  const auto r = regression_report(gold, pred);
  CHECK(r.examples == 10);
  CHECK(r.mse == Approx(0.30499999999999994).margin(kTol));
  CHECK(r.pearson == Approx(0.9360521697078914).margin(kTol));
  CHECK(r.spearman == Approx(0.9266098374248514).margin(kTol));
  check_vector(average_ranks(gold), {1.0, 3.5, 5.5, 5.5, 8.0, 9.0, 10.0, 3.5, 7.0, 2.0});
  const auto m = metrics_map(r);
  CHECK(m.at("mse") == r.mse);
  CHECK(m.at("pearson") == r.pearson);
  CHECK(m.at("spearman") == r.spearman);
  CHECK_THAT(format_report(r), Contains("Spearman"));
}

TEST_CASE("correlations of degenerate inputs", "[metrics]") {
  CHECK(std::isnan(pearson_correlation({1, 1, 1}, {1, 2, 3})));  // scipy: nan for a constant input
  CHECK(std::isnan(spearman_correlation({1, 2, 3}, {5, 5, 5})));
  CHECK(pearson_correlation({1, 2, 3}, {2, 4, 6}) == Approx(1.0));
  CHECK(spearman_correlation({1, 2, 3, 4}, {1, 8, 27, 1000}) == Approx(1.0));  // monotone
  CHECK(pearson_correlation({1e9 + 1, 1e9 + 2, 1e9 + 3}, {3, 2, 1}) == Approx(-1.0));  // large offset
  CHECK_THROWS_AS(mean_squared_error({1.0}, {}), std::invalid_argument);
}

TEST_CASE("extract_entities follows conlleval", "[metrics][entities]") {
  using V = std::vector<Entity>;
  SECTION("plain BIO") {
    CHECK(extract_entities({"B-PER", "I-PER", "O", "B-LOC"}, Scheme::kBIO) ==
          V{{"PER", 0, 2}, {"LOC", 3, 4}});
  }
  SECTION("B- after B- of the same type starts a new entity") {
    CHECK(extract_entities({"B-PER", "B-PER", "I-PER"}, Scheme::kBIO) == V{{"PER", 0, 1}, {"PER", 1, 3}});
  }
  SECTION("a stray I- after O starts an entity (not dropped)") {
    CHECK(extract_entities({"O", "I-ORG", "I-ORG", "O"}, Scheme::kBIO) == V{{"ORG", 1, 3}});
    CHECK(extract_entities({"I-ORG"}, Scheme::kBIO) == V{{"ORG", 0, 1}});
  }
  SECTION("a type change inside I- tags starts a new entity") {
    CHECK(extract_entities({"B-PER", "I-LOC", "I-LOC", "I-PER"}, Scheme::kBIO) ==
          V{{"PER", 0, 1}, {"LOC", 1, 3}, {"PER", 3, 4}});
  }
  SECTION("IOB1: I- starts entities, B- only splits adjacent same-type entities") {
    CHECK(extract_entities({"I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"}, Scheme::kIOB1) ==
          V{{"PER", 0, 2}, {"PER", 2, 3}, {"LOC", 4, 5}, {"ORG", 5, 6}});
  }
  SECTION("types may contain hyphens (split at the first one)") {
    CHECK(extract_entities({"B-GPE-LOC", "I-GPE-LOC"}, Scheme::kBIO) == V{{"GPE-LOC", 0, 2}});
  }
  SECTION("empty sentence and all-O") {
    CHECK(extract_entities({}, Scheme::kBIO).empty());
    CHECK(extract_entities({"O", "O"}, Scheme::kBIO).empty());
  }
  SECTION("invalid tags are errors naming the tag and position") {
    CHECK_THROWS_WITH(extract_entities({"O", "PER"}, Scheme::kBIO), Contains("\"PER\" at token 1"));
    CHECK_THROWS_AS(extract_entities({"B-"}, Scheme::kBIO), bert::Error);
    CHECK_THROWS_AS(extract_entities({"O-PER"}, Scheme::kBIO), bert::Error);
    CHECK_THROWS_AS(extract_entities({"E-PER"}, Scheme::kIOB1), bert::Error);
  }
}

TEST_CASE("tag set checks and scheme names", "[metrics][entities]") {
  CHECK(is_entity_tag_set({"O", "B-PER", "I-PER", "B-MISC"}, Scheme::kBIO));
  CHECK_FALSE(is_entity_tag_set({"NN", "VBZ"}, Scheme::kBIO));  // POS tags: token accuracy only
  CHECK(parse_scheme("BIO") == Scheme::kBIO);
  CHECK(parse_scheme("iob2") == Scheme::kBIO);
  CHECK(parse_scheme("iob1") == Scheme::kIOB1);
  CHECK_THROWS_WITH(parse_scheme("bilou"), Contains("expected bio"));
}

TEST_CASE("entity metrics match seqeval/conlleval on BIO data", "[metrics][entities]") {
  // scripts/metrics_reference.py [bio]: a too-long LOC, a too-short ORG, a stray I-PER that
  // matches a gold B-PER, and a PER split by a type change.
  const std::vector<std::vector<std::string>> gold{
      {"B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"},
      {"O", "B-MISC", "I-MISC", "O", "B-PER"},
      {"B-PER", "I-PER", "I-PER", "O"}};
  const std::vector<std::vector<std::string>> pred{
      {"B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "O"},
      {"O", "B-MISC", "I-MISC", "O", "I-PER"},
      {"B-PER", "I-LOC", "I-PER", "O"}};
  const auto r = tagging_report(gold, pred, Scheme::kBIO);
  CHECK(r.sentences == 3);
  CHECK(r.tokens == 17);
  CHECK(r.gold_entities == 6);
  CHECK(r.predicted_entities == 8);
  CHECK(r.correct_entities == 3);
  CHECK(r.precision == Approx(0.375).margin(kTol));
  CHECK(r.recall == Approx(0.5).margin(kTol));
  CHECK(r.f1 == Approx(0.42857142857142855).margin(kTol));
  CHECK(r.token_accuracy == Approx(0.7647058823529411).margin(kTol));
  REQUIRE(r.per_type.size() == 4);
  CHECK(r.per_type[0].type == "LOC");
  CHECK(r.per_type[0].predicted == 2);
  CHECK(r.per_type[0].f1 == 0.0);
  CHECK(r.per_type[1].type == "MISC");
  CHECK(r.per_type[1].f1 == Approx(1.0));
  CHECK(r.per_type[2].type == "ORG");
  CHECK(r.per_type[2].f1 == 0.0);
  CHECK(r.per_type[3].type == "PER");
  CHECK(r.per_type[3].precision == Approx(0.5).margin(kTol));
  CHECK(r.per_type[3].recall == Approx(0.6666666666666666).margin(kTol));
  CHECK(r.per_type[3].f1 == Approx(0.5714285714285714).margin(kTol));

  const auto m = metrics_map(r);
  CHECK(m.at("entity_precision") == r.precision);
  CHECK(m.at("entity_recall") == r.recall);
  CHECK(m.at("entity_f1") == r.f1);
  CHECK(m.at("token_accuracy") == r.token_accuracy);
  CHECK(m.at("entity_f1.PER") == r.per_type[3].f1);
  const std::string s = format_report(r);
  CHECK_THAT(s, Contains("found: 8; correct: 3"));
  CHECK_THAT(s, Contains("MISC"));
}

TEST_CASE("entity metrics match seqeval/conlleval on IOB1 data", "[metrics][entities]") {
  // scripts/metrics_reference.py [iob1]: B-PER splits two gold PERs that the prediction merges;
  // the prediction splits a gold LOC with B-LOC.
  const auto r = tagging_report({{"I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-ORG"}},
                                {{"I-PER", "I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"}}, Scheme::kIOB1);
  CHECK(r.gold_entities == 4);
  CHECK(r.predicted_entities == 4);
  CHECK(r.correct_entities == 1);
  CHECK(r.precision == Approx(0.25).margin(kTol));
  CHECK(r.recall == Approx(0.25).margin(kTol));
  CHECK(r.f1 == Approx(0.25).margin(kTol));
  CHECK(r.token_accuracy == Approx(0.7142857142857143).margin(kTol));
}

TEST_CASE("entity metrics edge cases", "[metrics][entities]") {
  SECTION("no predicted entities: precision and F1 are 0, as conlleval prints") {
    const auto r = tagging_report({{"B-PER", "O"}}, {{"O", "O"}}, Scheme::kBIO);
    CHECK(r.precision == 0.0);
    CHECK(r.recall == 0.0);
    CHECK(r.f1 == 0.0);
    CHECK(r.token_accuracy == 0.5);
  }
  SECTION("entities never cross sentence boundaries") {
    const auto r = tagging_report({{"O", "B-PER"}, {"B-PER", "O"}}, {{"O", "B-PER"}, {"I-PER", "O"}}, Scheme::kBIO);
    CHECK(r.gold_entities == 2);
    CHECK(r.correct_entities == 2);
  }
  SECTION("shape mismatches are invalid_argument") {
    CHECK_THROWS_AS(tagging_report({{"O"}}, {{"O", "O"}}, Scheme::kBIO), std::invalid_argument);
    CHECK_THROWS_AS(tagging_report({{"O"}}, {}, Scheme::kBIO), std::invalid_argument);
  }
}

// ---------------------------------------------------------------------------------------------
// Question answering: SQuAD v2.0's official evaluation (expected values computed with its
// normalize_answer / compute_exact / compute_f1 definitions in Python).

TEST_CASE("SQuAD answer normalization", "[metrics][qa]") {
  CHECK(normalize_answer("The  Quick, brown fox!") == "quick brown fox");
  CHECK(normalize_answer("an apple a day") == "apple day");
  CHECK(normalize_answer("Theory of the \xC3\x85ngstr\xC3\xB6m") == "theory of \xC3\xA5ngstr\xC3\xB6m");  // Å lower-cased
  CHECK(normalize_answer("the-cat") == "thecat");  // punctuation goes first, so "the" is no word of its own
  CHECK(normalize_answer("\xC3\x9C" "bermensch's THE end") == "\xC3\xBC" "bermenschs end");
  CHECK(normalize_answer("a_b the_c") == "ab thec");
  CHECK(normalize_answer("\xC4\xB0stanbul") == "i\xCC\x87stanbul");  // Python's full lower-case mapping of İ
  CHECK(normalize_answer("  ").empty());
}

TEST_CASE("SQuAD exact match and F1, answerable and unanswerable", "[metrics][qa]") {
  const std::vector<std::vector<std::string>> gold = {
      {"Denver Broncos", "The Denver Broncos"}, {"Santa Clara, California"}, {}, {"the"}, {"New York City"}};
  const std::vector<std::string> pred = {"Denver Broncos", "Santa Clara", "", "", "York"};
  auto r = squad_report(gold, pred);
  CHECK(r.questions == 5);
  CHECK(r.exact_match == Approx(0.6));
  CHECK(r.f1 == Approx(0.86));
  CHECK(r.has_answer == 4);  // "the" normalizes to nothing, yet the question had an answer
  CHECK(r.has_answer_exact_match == Approx(0.5));
  CHECK(r.has_answer_f1 == Approx(0.825));
  CHECK(r.no_answer == 1);
  CHECK(r.no_answer_exact_match == Approx(1.0));
  auto m = metrics_map(r);
  CHECK(m.at("f1") == Approx(0.86));
  CHECK(m.at("no_answer_total") == 1);
  CHECK(m.count("has_answer_f1") == 1);
  // Only answerable questions: SQuAD v1.1's two numbers, no breakdown.
  auto v1 = metrics_map(squad_report({{"Denver Broncos"}}, {"the broncos"}));
  CHECK(v1.at("exact_match") == 0.0);
  CHECK(v1.at("f1") == Approx(2 * 1.0 * 0.5 / 1.5));
  CHECK(v1.count("has_answer_f1") == 0);
  CHECK_THROWS_AS(squad_report({{"a"}}, {}), std::invalid_argument);
  CHECK(format_report(r).find("unanswerable 1") != std::string::npos);
}
