// Implementation of metrics.h. Everything is computed from counts (confusion matrix, entity
// counts) in double or long double; sums over a data set are exact integers until the final
// divisions, so results match scikit-learn / scipy to the last few ulps rather than depending on
// summation order. The entity decoder restates conlleval's start/end rules for B/I/O tags in
// one place (starts_entity), and the tests pin it on the cases where schemes and tools differ.
#include "bert/eval/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string_view>

#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"

namespace bert::eval {

namespace {

double ratio(size_t num, size_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

// F1 from counts: 2tp / (2tp + fp + fn), which is the harmonic mean of precision and recall
// where both are defined and 0 where scikit-learn and conlleval report 0.
double f1_from_counts(size_t tp, size_t predicted, size_t support) {
  return ratio(2 * tp, predicted + support);
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

// Precision, recall and F1 of one class from its counts.
void score_from_counts(ClassMetrics& m) {
  m.precision = ratio(m.true_positives, m.predicted);
  m.recall = ratio(m.true_positives, m.support);
  m.f1 = f1_from_counts(m.true_positives, m.predicted, m.support);
}

// scikit-learn's classification_report layout: a header, then one row per class or average.
size_t name_width(const std::vector<ClassMetrics>& classes) {
  size_t w = 12;
  for (const auto& m : classes) w = std::max(w, m.name.size());
  return w;
}
std::string report_header(size_t w) { return pad_left("", w) + "   precision     recall   f1-score    support\n"; }
std::string report_row(const std::string& name, size_t w, double precision, double recall, double f1, size_t support) {
  return pad_left(name, w) + fmt("%12.4f", precision) + fmt("%11.4f", recall) + fmt("%11.4f", f1) +
         pad_left(std::to_string(support), 11) + "\n";
}

void add_average(std::map<std::string, double>& m, const std::string& average, double precision, double recall,
                 double f1) {
  m[average + "_precision"] = precision;
  m[average + "_recall"] = recall;
  m[average + "_f1"] = f1;
}

void add_per_class(std::map<std::string, double>& m, const std::vector<ClassMetrics>& classes) {
  for (const auto& c : classes) {
    m["precision." + c.name] = c.precision;
    m["recall." + c.name] = c.recall;
    m["f1." + c.name] = c.f1;
  }
}

void check_same_size(size_t a, size_t b, const char* what) {
  if (a != b)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(a) + " gold values but " +
                                std::to_string(b) + " predictions");
  if (a == 0) throw std::invalid_argument(std::string(what) + ": no examples");
}

// Splits a tag at its first '-' (as conlleval does, so types may contain hyphens).
// Returns false for a tag that is neither "O" nor PREFIX-TYPE with a non-empty type.
bool split_tag(const std::string& tag, char& prefix, std::string_view& type) {
  if (tag == "O") {
    prefix = 'O';
    type = {};
    return true;
  }
  if (tag.size() < 3 || tag[1] != '-' || tag[0] == 'O') return false;  // "O-X" is no tag
  prefix = tag[0];
  type = std::string_view(tag).substr(2);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Classification

ClassificationReport classification_report(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                           const std::vector<std::string>& class_names) {
  check_same_size(gold.size(), pred.size(), "classification_report");
  const size_t k = class_names.size();
  if (k == 0) throw std::invalid_argument("classification_report: no classes");
  ClassificationReport r;
  r.examples = gold.size();
  r.confusion.assign(k, std::vector<size_t>(k, 0));
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i] < 0 || static_cast<size_t>(gold[i]) >= k || pred[i] < 0 || static_cast<size_t>(pred[i]) >= k)
      throw std::invalid_argument("classification_report: class id out of range at example " + std::to_string(i) +
                                  " (gold " + std::to_string(gold[i]) + ", predicted " + std::to_string(pred[i]) +
                                  ", " + std::to_string(k) + " classes)");
    ++r.confusion[static_cast<size_t>(gold[i])][static_cast<size_t>(pred[i])];
  }

  size_t correct = 0;
  r.per_class.resize(k);
  for (size_t c = 0; c < k; ++c) {
    ClassMetrics& m = r.per_class[c];
    m.name = class_names[c];
    m.true_positives = r.confusion[c][c];
    correct += m.true_positives;
    for (size_t j = 0; j < k; ++j) {
      m.support += r.confusion[c][j];
      m.predicted += r.confusion[j][c];
    }
    score_from_counts(m);
  }
  r.accuracy = ratio(correct, r.examples);

  size_t present = 0;
  for (const auto& m : r.per_class) {
    if (m.support == 0 && m.predicted == 0) continue;  // absent from both sides: not averaged
    ++present;
    r.macro_precision += m.precision;
    r.macro_recall += m.recall;
    r.macro_f1 += m.f1;
    const double w = static_cast<double>(m.support);
    r.weighted_precision += w * m.precision;
    r.weighted_recall += w * m.recall;
    r.weighted_f1 += w * m.f1;
  }
  r.macro_precision /= static_cast<double>(present);
  r.macro_recall /= static_cast<double>(present);
  r.macro_f1 /= static_cast<double>(present);
  const double n = static_cast<double>(r.examples);
  r.weighted_precision /= n;
  r.weighted_recall /= n;
  r.weighted_f1 /= n;

  // Matthews correlation, multi-class form: (c*s - sum t_k p_k) / sqrt((s^2 - sum p_k^2)(s^2 -
  // sum t_k^2)) with c correct, s examples, t_k / p_k gold / predicted counts of class k. The
  // integer sums are exact in long double for any realistic data set.
  long double tp_sum = 0, pp_sum = 0, tt_sum = 0;
  for (const auto& m : r.per_class) {
    tp_sum += static_cast<long double>(m.support) * m.predicted;
    pp_sum += static_cast<long double>(m.predicted) * m.predicted;
    tt_sum += static_cast<long double>(m.support) * m.support;
  }
  const long double s = static_cast<long double>(r.examples);
  const long double cov_tp = static_cast<long double>(correct) * s - tp_sum;
  const long double cov_pp = s * s - pp_sum;
  const long double cov_tt = s * s - tt_sum;
  r.mcc = (cov_pp == 0 || cov_tt == 0) ? 0.0 : static_cast<double>(cov_tp / std::sqrt(cov_pp * cov_tt));

  if (k == 2) {
    r.binary_precision = r.per_class[1].precision;
    r.binary_recall = r.per_class[1].recall;
    r.binary_f1 = r.per_class[1].f1;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Multi-label classification

MultilabelReport multilabel_report(const std::vector<std::vector<int64_t>>& gold,
                                   const std::vector<std::vector<int64_t>>& pred,
                                   const std::vector<std::string>& label_names) {
  check_same_size(gold.size(), pred.size(), "multilabel_report");
  const size_t k = label_names.size();
  if (k == 0) throw std::invalid_argument("multilabel_report: no labels");
  MultilabelReport r;
  r.examples = gold.size();
  r.per_label.resize(k);
  for (size_t c = 0; c < k; ++c) r.per_label[c].name = label_names[c];
  // One example's set as an indicator row.
  auto indicator = [&](const std::vector<int64_t>& set, size_t example, const char* side) {
    std::vector<bool> row(k, false);
    for (int64_t id : set) {
      if (id < 0 || static_cast<size_t>(id) >= k)
        throw std::invalid_argument(std::string("multilabel_report: ") + side + " label id " + std::to_string(id) +
                                    " out of range at example " + std::to_string(example) + " (" +
                                    std::to_string(k) + " labels)");
      row[static_cast<size_t>(id)] = true;
    }
    return row;
  };
  size_t exact = 0, wrong_decisions = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    const auto g = indicator(gold[i], i, "gold"), p = indicator(pred[i], i, "predicted");
    size_t both = 0, in_gold = 0, in_pred = 0;
    for (size_t c = 0; c < k; ++c) {
      ClassMetrics& m = r.per_label[c];
      m.support += g[c];
      m.predicted += p[c];
      m.true_positives += g[c] && p[c];
      both += g[c] && p[c];
      in_gold += g[c];
      in_pred += p[c];
      wrong_decisions += g[c] != p[c];
    }
    exact += g == p;
    r.samples_precision += ratio(both, in_pred);
    r.samples_recall += ratio(both, in_gold);
    r.samples_f1 += f1_from_counts(both, in_pred, in_gold);
  }
  const double n = static_cast<double>(r.examples);
  r.subset_accuracy = ratio(exact, r.examples);
  r.hamming_loss = ratio(wrong_decisions, r.examples * k);
  r.samples_precision /= n;
  r.samples_recall /= n;
  r.samples_f1 /= n;

  size_t tp = 0, predicted = 0, support = 0;
  for (auto& m : r.per_label) {
    score_from_counts(m);
    tp += m.true_positives;
    predicted += m.predicted;
    support += m.support;
    r.macro_precision += m.precision / static_cast<double>(k);
    r.macro_recall += m.recall / static_cast<double>(k);
    r.macro_f1 += m.f1 / static_cast<double>(k);
  }
  r.micro_precision = ratio(tp, predicted);
  r.micro_recall = ratio(tp, support);
  r.micro_f1 = f1_from_counts(tp, predicted, support);
  for (const auto& m : r.per_label) {
    if (support == 0) break;  // no gold label anywhere: the weighted averages stay 0
    const double w = static_cast<double>(m.support) / static_cast<double>(support);
    r.weighted_precision += w * m.precision;
    r.weighted_recall += w * m.recall;
    r.weighted_f1 += w * m.f1;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Regression

double mean_squared_error(const std::vector<double>& gold, const std::vector<double>& pred) {
  check_same_size(gold.size(), pred.size(), "mean_squared_error");
  long double sum = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    const long double d = static_cast<long double>(gold[i]) - pred[i];
    sum += d * d;
  }
  return static_cast<double>(sum / gold.size());
}

double pearson_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  check_same_size(x.size(), y.size(), "pearson_correlation");
  // Two passes (means first) so that large offsets do not cancel catastrophically.
  long double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.size();
  my /= y.size();
  long double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const long double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  const double r = static_cast<double>(sxy / std::sqrt(sxx * syy));
  return std::clamp(r, -1.0, 1.0);  // rounding can step just outside
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    // Positions i..j (0-based) share ranks i+1..j+1; their mean is (i + j) / 2 + 1.
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t t = i; t <= j; ++t) ranks[order[t]] = rank;
    i = j + 1;
  }
  return ranks;
}

double spearman_correlation(const std::vector<double>& x, const std::vector<double>& y) {
  check_same_size(x.size(), y.size(), "spearman_correlation");
  return pearson_correlation(average_ranks(x), average_ranks(y));
}

RegressionReport regression_report(const std::vector<double>& gold, const std::vector<double>& pred) {
  check_same_size(gold.size(), pred.size(), "regression_report");
  RegressionReport r;
  r.examples = gold.size();
  r.mse = mean_squared_error(gold, pred);
  r.pearson = pearson_correlation(gold, pred);
  r.spearman = spearman_correlation(gold, pred);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Tagging

Scheme parse_scheme(const std::string& spec) {
  std::string s = spec;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "bio" || s == "iob2") return Scheme::kBIO;
  if (s == "iob1") return Scheme::kIOB1;
  throw Error("unknown tag scheme \"" + spec + "\": expected bio (alias iob2) or iob1");
}

std::string to_string(Scheme scheme) { return scheme == Scheme::kIOB1 ? "iob1" : "bio"; }

bool is_valid_tag(const std::string& tag, Scheme /*scheme: both allow B, I, O*/) {
  char prefix;
  std::string_view type;
  if (!split_tag(tag, prefix, type)) return false;
  return prefix == 'O' || prefix == 'B' || prefix == 'I';
}

bool is_entity_tag_set(const std::vector<std::string>& tags, Scheme scheme) {
  return std::all_of(tags.begin(), tags.end(), [&](const std::string& t) { return is_valid_tag(t, scheme); });
}

std::vector<Entity> extract_entities(const std::vector<std::string>& tags, Scheme scheme) {
  std::vector<Entity> out;
  char prev_prefix = 'O';
  std::string_view prev_type;
  for (size_t i = 0; i < tags.size(); ++i) {
    char prefix;
    std::string_view type;
    if (!split_tag(tags[i], prefix, type) || !is_valid_tag(tags[i], scheme)) {
      throw Error("invalid " + to_string(scheme) + " tag \"" + tags[i] + "\" at token " + std::to_string(i) +
                  ": expected O, B-TYPE or I-TYPE");
    }
    // conlleval's rules restricted to B/I/O: an entity ends before O, before B-, and before a
    // tag of another type; an entity starts at B-, and at I- after O or after another type.
    if (prefix == 'O') {
      prev_prefix = 'O';
      prev_type = {};
      continue;
    }
    const bool starts = prefix == 'B' || prev_prefix == 'O' || prev_type != type;
    if (starts) {
      out.push_back(Entity{std::string(type), i, i + 1});
    } else {
      out.back().end = i + 1;
    }
    prev_prefix = prefix;
    prev_type = type;
  }
  return out;
}

TaggingReport tagging_report(const std::vector<std::vector<std::string>>& gold,
                             const std::vector<std::vector<std::string>>& pred, Scheme scheme) {
  if (gold.size() != pred.size())
    throw std::invalid_argument("tagging_report: " + std::to_string(gold.size()) + " gold sentences but " +
                                std::to_string(pred.size()) + " predicted");
  if (gold.empty()) throw std::invalid_argument("tagging_report: no sentences");
  TaggingReport r;
  r.sentences = gold.size();
  size_t equal_tags = 0;
  std::map<std::string, EntityTypeMetrics> types;
  for (size_t s = 0; s < gold.size(); ++s) {
    if (gold[s].size() != pred[s].size())
      throw std::invalid_argument("tagging_report: sentence " + std::to_string(s) + " has " +
                                  std::to_string(gold[s].size()) + " gold tags but " +
                                  std::to_string(pred[s].size()) + " predicted");
    r.tokens += gold[s].size();
    for (size_t i = 0; i < gold[s].size(); ++i) equal_tags += gold[s][i] == pred[s][i];
    const auto g = extract_entities(gold[s], scheme);
    const auto p = extract_entities(pred[s], scheme);
    for (const auto& e : g) ++types[e.type].gold;
    for (const auto& e : p) ++types[e.type].predicted;
    // Both lists are sorted by position and non-overlapping: a merge finds the exact matches.
    size_t i = 0, j = 0;
    while (i < g.size() && j < p.size()) {
      if (g[i] == p[j]) {
        ++types[g[i].type].correct;
        ++i;
        ++j;
      } else if (g[i] < p[j]) {
        ++i;
      } else {
        ++j;
      }
    }
  }
  r.token_accuracy = ratio(equal_tags, r.tokens);
  for (auto& [type, m] : types) {
    m.type = type;
    m.precision = ratio(m.correct, m.predicted);
    m.recall = ratio(m.correct, m.gold);
    m.f1 = f1_from_counts(m.correct, m.predicted, m.gold);
    r.gold_entities += m.gold;
    r.predicted_entities += m.predicted;
    r.correct_entities += m.correct;
    r.per_type.push_back(m);
  }
  r.precision = ratio(r.correct_entities, r.predicted_entities);
  r.recall = ratio(r.correct_entities, r.gold_entities);
  r.f1 = f1_from_counts(r.correct_entities, r.predicted_entities, r.gold_entities);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Output

std::string format_report(const ClassificationReport& r) {
  const size_t w = name_width(r.per_class);
  std::string s = report_header(w);
  auto row = [&](const std::string& name, double p, double rc, double f, size_t support) {
    s += report_row(name, w, p, rc, f, support);
  };
  for (const auto& m : r.per_class) row(m.name, m.precision, m.recall, m.f1, m.support);
  s += "\n" + pad_left("accuracy", w) + pad_left("", 23) + fmt("%11.4f", r.accuracy) +
       pad_left(std::to_string(r.examples), 11) + "\n";
  row("macro avg", r.macro_precision, r.macro_recall, r.macro_f1, r.examples);
  row("weighted avg", r.weighted_precision, r.weighted_recall, r.weighted_f1, r.examples);
  s += "\nMatthews correlation: " + fmt("%.4f", r.mcc) + "\n";
  if (r.binary_f1) {
    s += "binary (positive class \"" + r.per_class[1].name + "\"): precision " + fmt("%.4f", *r.binary_precision) +
         ", recall " + fmt("%.4f", *r.binary_recall) + ", F1 " + fmt("%.4f", *r.binary_f1) + "\n";
  }
  s += "\nconfusion matrix (rows: gold, columns: predicted):\n";
  size_t cw = 6;
  for (const auto& m : r.per_class) cw = std::max(cw, m.name.size() + 1);
  for (const auto& row_counts : r.confusion)
    for (size_t v : row_counts) cw = std::max(cw, std::to_string(v).size() + 1);
  s += pad_left("", w);
  for (const auto& m : r.per_class) s += pad_left(m.name, cw);
  s += "\n";
  for (size_t g = 0; g < r.confusion.size(); ++g) {
    s += pad_left(r.per_class[g].name, w);
    for (size_t v : r.confusion[g]) s += pad_left(std::to_string(v), cw);
    s += "\n";
  }
  return s;
}

std::string format_report(const MultilabelReport& r) {
  const size_t w = name_width(r.per_label);
  std::string s = report_header(w);
  auto row = [&](const std::string& name, double p, double rc, double f, size_t support) {
    s += report_row(name, w, p, rc, f, support);
  };
  size_t support = 0;
  for (const auto& m : r.per_label) {
    row(m.name, m.precision, m.recall, m.f1, m.support);
    support += m.support;
  }
  s += "\n";
  row("micro avg", r.micro_precision, r.micro_recall, r.micro_f1, support);
  row("macro avg", r.macro_precision, r.macro_recall, r.macro_f1, support);
  row("weighted avg", r.weighted_precision, r.weighted_recall, r.weighted_f1, support);
  row("samples avg", r.samples_precision, r.samples_recall, r.samples_f1, support);
  s += "\nsubset accuracy (exact set): " + fmt("%.4f", r.subset_accuracy) + " of " + std::to_string(r.examples) +
       " examples\nHamming loss: " + fmt("%.4f", r.hamming_loss) + "\n";
  return s;
}

std::string format_report(const RegressionReport& r) {
  return "examples " + std::to_string(r.examples) + "\nMSE      " + fmt("%.6f", r.mse) + "\nPearson  " +
         fmt("%.6f", r.pearson) + "\nSpearman " + fmt("%.6f", r.spearman) + "\n";
}

std::string format_report(const TaggingReport& r) {
  std::string s = "processed " + std::to_string(r.tokens) + " tokens in " + std::to_string(r.sentences) +
                  " sentences with " + std::to_string(r.gold_entities) + " entities; found: " +
                  std::to_string(r.predicted_entities) + "; correct: " + std::to_string(r.correct_entities) + ".\n";
  s += "token accuracy " + fmt("%6.2f%%", 100 * r.token_accuracy) + "; entity precision " +
       fmt("%6.2f%%", 100 * r.precision) + "; recall " + fmt("%6.2f%%", 100 * r.recall) + "; F1 " +
       fmt("%6.2f", 100 * r.f1) + "\n";
  size_t w = 8;
  for (const auto& m : r.per_type) w = std::max(w, m.type.size());
  s += pad_left("type", w) + "  precision     recall         F1       gold  predicted    correct\n";
  for (const auto& m : r.per_type) {
    s += pad_left(m.type, w) + fmt("%10.2f%%", 100 * m.precision) + fmt("%10.2f%%", 100 * m.recall) +
         fmt("%11.2f", 100 * m.f1) + pad_left(std::to_string(m.gold), 11) + pad_left(std::to_string(m.predicted), 11) +
         pad_left(std::to_string(m.correct), 11) + "\n";
  }
  return s;
}

std::map<std::string, double> metrics_map(const ClassificationReport& r) {
  std::map<std::string, double> m{
      {"examples", static_cast<double>(r.examples)},
      {"accuracy", r.accuracy},
      {"mcc", r.mcc},
  };
  add_average(m, "macro", r.macro_precision, r.macro_recall, r.macro_f1);
  add_average(m, "weighted", r.weighted_precision, r.weighted_recall, r.weighted_f1);
  if (r.binary_f1) {
    m["precision"] = *r.binary_precision;
    m["recall"] = *r.binary_recall;
    m["f1"] = *r.binary_f1;
  }
  add_per_class(m, r.per_class);
  return m;
}

std::map<std::string, double> metrics_map(const MultilabelReport& r) {
  std::map<std::string, double> m{
      {"examples", static_cast<double>(r.examples)},
      {"subset_accuracy", r.subset_accuracy},
      {"hamming_loss", r.hamming_loss},
  };
  add_average(m, "micro", r.micro_precision, r.micro_recall, r.micro_f1);
  add_average(m, "macro", r.macro_precision, r.macro_recall, r.macro_f1);
  add_average(m, "weighted", r.weighted_precision, r.weighted_recall, r.weighted_f1);
  add_average(m, "samples", r.samples_precision, r.samples_recall, r.samples_f1);
  add_per_class(m, r.per_label);
  return m;
}

std::map<std::string, double> metrics_map(const RegressionReport& r) {
  return {{"examples", static_cast<double>(r.examples)},
          {"mse", r.mse},
          {"pearson", r.pearson},
          {"spearman", r.spearman}};
}

std::map<std::string, double> metrics_map(const TaggingReport& r) {
  std::map<std::string, double> m{
      {"sentences", static_cast<double>(r.sentences)},
      {"tokens", static_cast<double>(r.tokens)},
      {"token_accuracy", r.token_accuracy},
      {"entity_precision", r.precision},
      {"entity_recall", r.recall},
      {"entity_f1", r.f1},
  };
  for (const auto& t : r.per_type) {
    m["entity_precision." + t.type] = t.precision;
    m["entity_recall." + t.type] = t.recall;
    m["entity_f1." + t.type] = t.f1;
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Question answering

namespace {

bool is_ascii_punctuation(char32_t c) { return c < 0x80 && std::ispunct(static_cast<int>(c)); }

std::vector<std::string> answer_tokens(std::string_view text) {
  const auto normalized = normalize_answer(text);
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start < normalized.size()) {
    size_t end = normalized.find(' ', start);
    if (end == std::string::npos) end = normalized.size();
    tokens.emplace_back(normalized.substr(start, end - start));
    start = end + 1;
  }
  return tokens;
}

double answer_f1(const std::vector<std::string>& gold, const std::vector<std::string>& pred) {
  if (gold.empty() || pred.empty()) return gold == pred ? 1.0 : 0.0;
  std::map<std::string, long> counts;
  for (const auto& t : gold) ++counts[t];
  long common = 0;
  for (const auto& t : pred)
    if (counts[t]-- > 0) ++common;
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / static_cast<double>(pred.size());
  const double recall = static_cast<double>(common) / static_cast<double>(gold.size());
  return 2 * precision * recall / (precision + recall);
}

}  // namespace

std::string normalize_answer(std::string_view text) {
  namespace u = bert::tokenizer::unicode;
  // Lower-case and drop ASCII punctuation, as code points.
  std::vector<char32_t> cps;
  for (size_t pos = 0; pos < text.size();) {
    char32_t lower[2];
    const int n = u::to_lower(u::decode_utf8(text, pos), lower);
    for (int i = 0; i < n; ++i)
      if (!is_ascii_punctuation(lower[i])) cps.push_back(lower[i]);
  }
  // Words are runs of Python's \w (letters, digits, underscore); a run that is exactly "a", "an" or
  // "the" becomes a space (the regex \b(a|an|the)\b). Then split at whitespace and join with one space.
  auto is_word = [](char32_t c) { return c == U'_' || u::is_alphanumeric(c); };
  std::string out, token;
  auto flush_token = [&] {
    if (!token.empty()) out += (out.empty() ? "" : " ") + token;
    token.clear();
  };
  for (size_t i = 0; i < cps.size();) {
    if (is_word(cps[i])) {
      size_t j = i;
      while (j < cps.size() && is_word(cps[j])) ++j;
      const std::u32string_view run(cps.data() + i, j - i);
      if (run == U"a" || run == U"an" || run == U"the") {
        flush_token();
      } else {
        for (size_t k = i; k < j; ++k) u::append_utf8(token, cps[k]);
      }
      i = j;
    } else {
      if (u::is_python_space(cps[i])) flush_token();
      else u::append_utf8(token, cps[i]);
      ++i;
    }
  }
  flush_token();
  return out;
}

SquadReport squad_report(const std::vector<std::vector<std::string>>& gold, const std::vector<std::string>& pred) {
  if (gold.size() != pred.size())
    throw std::invalid_argument("squad_report: " + std::to_string(gold.size()) + " questions but " +
                                std::to_string(pred.size()) + " predictions");
  if (gold.empty()) throw std::invalid_argument("squad_report: no questions");
  SquadReport r;
  r.questions = gold.size();
  double em_sum = 0, f1_sum = 0, has_em = 0, has_f1 = 0, no_em = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    std::vector<std::vector<std::string>> golds;
    for (const auto& g : gold[i]) {
      auto tokens = answer_tokens(g);
      if (!tokens.empty()) golds.push_back(std::move(tokens));
    }
    if (golds.empty()) golds.emplace_back();  // unanswerable: the only right answer is none
    const auto predicted = answer_tokens(pred[i]);
    double em = 0, f1 = 0;
    for (const auto& g : golds) {
      em = std::max(em, g == predicted ? 1.0 : 0.0);
      f1 = std::max(f1, answer_f1(g, predicted));
    }
    em_sum += em;
    f1_sum += f1;
    if (gold[i].empty()) {
      ++r.no_answer;
      no_em += em;
    } else {
      ++r.has_answer;
      has_em += em;
      has_f1 += f1;
    }
  }
  const double n = static_cast<double>(r.questions);
  r.exact_match = em_sum / n;
  r.f1 = f1_sum / n;
  if (r.has_answer) r.has_answer_exact_match = has_em / static_cast<double>(r.has_answer);
  if (r.has_answer) r.has_answer_f1 = has_f1 / static_cast<double>(r.has_answer);
  if (r.no_answer) r.no_answer_exact_match = no_em / static_cast<double>(r.no_answer);
  return r;
}

std::string format_report(const SquadReport& r) {
  std::string out = "questions    " + std::to_string(r.questions) + "\nexact match  " + fmt("%.4f", r.exact_match) +
                    "\nF1           " + fmt("%.4f", r.f1) + "\n";
  if (r.has_answer && r.no_answer)
    out += "answerable   " + std::to_string(r.has_answer) + ": exact match " + fmt("%.4f", r.has_answer_exact_match) +
           ", F1 " + fmt("%.4f", r.has_answer_f1) + "\nunanswerable " + std::to_string(r.no_answer) +
           ": answered with nothing " + fmt("%.4f", r.no_answer_exact_match) + "\n";
  return out;
}

std::map<std::string, double> metrics_map(const SquadReport& r) {
  std::map<std::string, double> m = {
      {"total", static_cast<double>(r.questions)}, {"exact_match", r.exact_match}, {"f1", r.f1}};
  if (r.has_answer && r.no_answer) {
    m["has_answer_total"] = static_cast<double>(r.has_answer);
    m["has_answer_exact_match"] = r.has_answer_exact_match;
    m["has_answer_f1"] = r.has_answer_f1;
    m["no_answer_total"] = static_cast<double>(r.no_answer);
    m["no_answer_exact_match"] = r.no_answer_exact_match;
  }
  return m;
}

}  // namespace bert::eval
