// Evaluation metrics for `bert finetune`, `bert evaluate` and `bert predict`: classification
// (accuracy, per-class precision/recall/F1, macro/weighted averages, binary F1, Matthews
// correlation, confusion matrix), multi-label classification (subset accuracy, Hamming loss,
// micro/macro/weighted/samples averages), regression (MSE, Pearson, Spearman) and entity-level tagging
// scores with the semantics of the CoNLL shared tasks' `conlleval` script. The numbers are meant to
// be comparable with what people publish, so each follows a named reference exactly —
// scikit-learn for classification and scipy for correlations (test/eval/test_metrics.cpp pins
// them against numbers computed by scripts/metrics_reference.py), conlleval for entities — and
// the choices where references differ (zero divisions, which classes a macro average covers) are
// documented below. Each report has a readable table (format_report) and a flat name -> value map
// for JSON output (metrics_map). Torch-free: inputs are plain vectors of ids, values or tags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bert::eval {

// ---------------------------------------------------------------------------------------------
// Classification

struct ClassMetrics {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;  // 0 where undefined (no predictions / no support),
                                             // as scikit-learn's default zero_division
  size_t support = 0;    // gold examples of the class
  size_t predicted = 0;  // examples predicted as the class
  size_t true_positives = 0;
};

struct ClassificationReport {
  size_t examples = 0;
  std::vector<ClassMetrics> per_class;         // one per class name, in id order
  std::vector<std::vector<size_t>> confusion;  // confusion[gold][predicted]
  double accuracy = 0;
  // Averages over the classes that occur in the gold or the predicted labels, as scikit-learn's
  // f1_score(average="macro") does without a labels= argument: a class of the label map that is
  // absent from both does not drag the macro average down.
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;  // weighted by support
  // Multi-class Matthews correlation (Gorodkin's R_K, scikit-learn's matthews_corrcoef); 0 when
  // either side has a single class.
  double mcc = 0;
  // Only for two classes: precision/recall/F1 of the positive class, which is id 1 (the second
  // label: "1" of "0"/"1", "spam" of "ham"/"spam" under LabelMap's sorted order).
  std::optional<double> binary_precision, binary_recall, binary_f1;
};

// gold and pred hold class ids in [0, class_names.size()); throws std::invalid_argument on
// mismatched lengths, an empty input or an id out of range.
ClassificationReport classification_report(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                           const std::vector<std::string>& class_names);

// ---------------------------------------------------------------------------------------------
// Multi-label classification: each example has a set of labels (possibly empty), as
// scikit-learn's indicator-matrix input.

struct MultilabelReport {
  size_t examples = 0;
  std::vector<ClassMetrics> per_label;  // one per label name, in id order (each label a binary task)
  double subset_accuracy = 0;           // predicted set equal to the gold set (sklearn's accuracy_score)
  double hamming_loss = 0;              // wrong (example, label) decisions over examples x labels
  // micro: from the counts summed over labels; macro: the mean over *every* label of the label
  // map, including labels absent from both sides (scikit-learn averages every indicator column);
  // weighted: by support; samples: per example, then the mean. Zero divisions give 0, as
  // scikit-learn's zero_division=0 (so an example with no gold and no predicted label scores 0 in
  // the samples averages).
  double micro_precision = 0, micro_recall = 0, micro_f1 = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;
  double samples_precision = 0, samples_recall = 0, samples_f1 = 0;
};

// gold and pred hold one set of label ids in [0, label_names.size()) per example (order and
// repeats do not matter); throws std::invalid_argument on mismatched lengths, an empty input or an
// id out of range.
MultilabelReport multilabel_report(const std::vector<std::vector<int64_t>>& gold,
                                   const std::vector<std::vector<int64_t>>& pred,
                                   const std::vector<std::string>& label_names);

// ---------------------------------------------------------------------------------------------
// Regression

struct RegressionReport {
  size_t examples = 0;
  double mse = 0;
  double pearson = 0;   // NaN when either side is constant (as scipy.stats.pearsonr)
  double spearman = 0;  // Pearson of the average ranks (ties share the mean rank); NaN if constant
};

RegressionReport regression_report(const std::vector<double>& gold, const std::vector<double>& pred);
double mean_squared_error(const std::vector<double>& gold, const std::vector<double>& pred);
double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y);
double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks; tied values get the mean of the ranks they span (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& values);

// ---------------------------------------------------------------------------------------------
// Tagging (entities)

// The tag scheme of the input. conlleval decodes both with one rule set: B-X always starts an
// entity; I-X continues the entity before it when that has type X, and otherwise (after O, at the
// start of a sentence, or after another type) starts a new one. So BIO (IOB2, where every entity
// starts with B-) and IOB1 (where B- only separates two adjacent entities of the same type)
// decode identically, and a "stray" I- in BIO output is read as an entity start rather than
// dropped. The argument documents what the data is and selects the legal prefixes (B, I; O).
enum class Scheme { kBIO, kIOB1 };
Scheme parse_scheme(const std::string& spec);  // "bio" (alias "iob2"), "iob1"; bert::Error else
std::string to_string(Scheme scheme);

struct Entity {
  std::string type;
  size_t begin = 0, end = 0;  // token positions, [begin, end)
  bool operator==(const Entity& o) const { return begin == o.begin && end == o.end && type == o.type; }
  bool operator<(const Entity& o) const {
    return begin != o.begin ? begin < o.begin : end != o.end ? end < o.end : type < o.type;
  }
};

// True for "O" and for "B-TYPE"/"I-TYPE" with a non-empty TYPE (split at the first '-', so types
// may contain hyphens, as in conlleval).
bool is_valid_tag(const std::string& tag, Scheme scheme);
// True when every tag is valid: the test for whether entity metrics apply to a tag set at all
// (POS tags, say, are not entity tags; report token accuracy for them instead).
bool is_entity_tag_set(const std::vector<std::string>& tags, Scheme scheme);

// Entities of one sentence in order. Throws bert::Error naming the position for an invalid tag.
std::vector<Entity> extract_entities(const std::vector<std::string>& tags, Scheme scheme);

struct EntityTypeMetrics {
  std::string type;
  double precision = 0, recall = 0, f1 = 0;  // 0 where undefined, as conlleval prints them
  size_t gold = 0, predicted = 0, correct = 0;
};

struct TaggingReport {
  size_t sentences = 0, tokens = 0;
  double token_accuracy = 0;  // tags equal, over all tokens (conlleval's "accuracy")
  // An entity is correct when a predicted one has exactly its type, begin and end.
  size_t gold_entities = 0, predicted_entities = 0, correct_entities = 0;
  double precision = 0, recall = 0, f1 = 0;
  std::vector<EntityTypeMetrics> per_type;  // sorted by type, every type in gold or predictions
};

// One tag sequence per sentence; entities never cross sentences. Throws std::invalid_argument for
// mismatched shapes and bert::Error for invalid tags.
TaggingReport tagging_report(const std::vector<std::vector<std::string>>& gold,
                             const std::vector<std::vector<std::string>>& pred, Scheme scheme);

// ---------------------------------------------------------------------------------------------
// Extractive question answering: SQuAD v2.0's official evaluation. Answers are compared after
// normalize_answer (lower-case, ASCII punctuation removed, the words a/an/the removed, whitespace
// collapsed); exact match and token-overlap F1 take the best gold answer. A gold answer that
// normalizes to nothing is dropped; a question left without gold answers is unanswerable and
// scores 1 only for an empty prediction (F1 likewise when either side has no tokens). With only
// answerable questions this is SQuAD v1.1's metric.

std::string normalize_answer(std::string_view text);

struct SquadReport {
  size_t questions = 0;
  double exact_match = 0, f1 = 0;  // means over questions, 0..1 (the official script prints x100)
  size_t has_answer = 0, no_answer = 0;  // questions with / without gold answers
  double has_answer_exact_match = 0, has_answer_f1 = 0;
  double no_answer_exact_match = 0;  // the share of unanswerable questions answered with nothing
};

// gold: each question's answer texts ({} = unanswerable); pred: each question's answer ("" = none).
// Throws std::invalid_argument for mismatched lengths or no questions.
SquadReport squad_report(const std::vector<std::vector<std::string>>& gold, const std::vector<std::string>& pred);

// ---------------------------------------------------------------------------------------------
// Output

// Readable multi-line tables (scikit-learn's classification_report layout plus MCC and the
// confusion matrix; conlleval's layout for tagging).
std::string format_report(const ClassificationReport& report);
std::string format_report(const MultilabelReport& report);
std::string format_report(const RegressionReport& report);
std::string format_report(const TaggingReport& report);
std::string format_report(const SquadReport& report);

// Flat maps for JSON. Classification: examples, accuracy, macro_precision, macro_recall, macro_f1,
// weighted_precision, weighted_recall, weighted_f1, mcc, (two classes) precision, recall, f1, and
// per class precision.<name>, recall.<name>, f1.<name>. Multi-label: examples, subset_accuracy,
// hamming_loss, {micro,macro,weighted,samples}_{precision,recall,f1}, and per label
// precision.<name>, recall.<name>, f1.<name>. Regression: examples, mse, pearson,
// spearman. Tagging: sentences, tokens, token_accuracy, entity_precision, entity_recall,
// entity_f1, and per type entity_precision.<type>, entity_recall.<type>, entity_f1.<type>.
// Question answering: total, exact_match, f1, and when the data has both kinds of question
// has_answer_{total,exact_match,f1}, no_answer_{total,exact_match}.
std::map<std::string, double> metrics_map(const ClassificationReport& report);
std::map<std::string, double> metrics_map(const MultilabelReport& report);
std::map<std::string, double> metrics_map(const RegressionReport& report);
std::map<std::string, double> metrics_map(const TaggingReport& report);
std::map<std::string, double> metrics_map(const SquadReport& report);

}  // namespace bert::eval
