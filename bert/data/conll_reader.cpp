// Implementation of conll_reader.h: the CoNLL column reader, LabelMap, number parsing for
// regression labels, and the classification-or-regression rule. Numbers are parsed with
// std::from_chars, not strtod, so that a German or French locale in the user's environment cannot
// turn "3.800" into 3 or into an error.
#include "bert/data/conll_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "bert/util/text.h"
#include "bert/util/files.h"

namespace bert::data {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kDocStart = "-DOCSTART-";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}


// Space/tab-separated columns of one line (no empty columns: runs of separators count once).
// ASCII whitespace, as Python's str.split() (which conlleval-style readers use) sees it.
bool is_column_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

void split_columns(std::string_view line, std::vector<std::string_view>& cols) {
  cols.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_column_space(line[i])) ++i;
    if (i >= line.size()) break;
    size_t j = i;
    while (j < line.size() && !is_column_space(line[j])) ++j;
    cols.push_back(line.substr(i, j - i));
    i = j;
  }
}

std::string known_labels(const std::vector<std::string>& names) {
  constexpr size_t kMaxShown = 20;
  std::string s;
  for (size_t i = 0; i < names.size() && i < kMaxShown; ++i) {
    if (i) s += ", ";
    s += quote_snippet(names[i], 40);
  }
  if (names.size() > kMaxShown) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CoNLL

std::string ConllReport::summary(const std::string& path) const {
  return path + ": " + std::to_string(sentences) + " sentences, " + std::to_string(tokens) + " tokens, " +
         std::to_string(documents) + " -DOCSTART- documents, " + std::to_string(num_columns) + " columns";
}

ConllData parse_conll(std::string_view contents, const std::string& path, const ConllOptions& options) {
  if (contents.substr(0, kBom.size()) == kBom) contents.remove_prefix(kBom.size());
  ConllData out;
  ConllReport& rep = out.report;
  TaggedSentence current;
  size_t tag_col = 0, first_token_line = 0;
  std::vector<std::string_view> cols;

  auto flush = [&]() {
    if (current.words.empty()) return;
    rep.tokens += current.words.size();
    out.sentences.push_back(std::move(current));
    current = TaggedSentence();
  };

  size_t pos = 0, line_no = 0;
  while (pos < contents.size()) {
    ++line_no;
    size_t eol = contents.find('\n', pos);
    if (eol == std::string_view::npos) eol = contents.size();
    std::string_view line = contents.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto where = [&]() { return path + ":" + std::to_string(line_no) + ": "; };

    split_columns(line, cols);
    if (cols.empty()) {  // blank line: sentence boundary
      flush();
      continue;
    }
    if (cols[0] == kDocStart) {
      flush();
      ++rep.documents;
      continue;
    }
    size_t bad_at = 0;
    if (!tokenizer::unicode::is_valid_utf8(line, &bad_at)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(line[bad_at]));
      throw Error(where() + "invalid UTF-8 at byte " + std::to_string(bad_at + 1) + ": found byte " + buf +
                  " (the file must be UTF-8 encoded)");
    }
    if (rep.num_columns == 0) {
      // The first token line fixes the layout for the whole file.
      rep.num_columns = cols.size();
      first_token_line = line_no;
      if (options.word_column >= cols.size()) {
        throw Error(where() + "word column " + std::to_string(options.word_column) + " (0-based) does not exist: "
                    "the line has " + std::to_string(cols.size()) + " columns: " + quote_snippet(line));
      }
      if (options.has_tags) {
        tag_col = options.tag_column ? *options.tag_column : cols.size() - 1;
        if (tag_col >= cols.size()) {
          throw Error(where() + "tag column " + std::to_string(tag_col) + " (0-based) does not exist: the line has " +
                      std::to_string(cols.size()) + " columns: " + quote_snippet(line));
        }
        if (tag_col == options.word_column) {
          throw Error(where() + "expected at least a word and a tag column, found " + std::to_string(cols.size()) +
                      (cols.size() == 1 ? " column: " : " columns with the tag column equal to the word column: ") +
                      quote_snippet(line));
        }
      }
    } else if (cols.size() != rep.num_columns) {
      throw Error(where() + "expected " + std::to_string(rep.num_columns) + " whitespace-separated columns (as on line " +
                  std::to_string(first_token_line) + ", the first token line), found " + std::to_string(cols.size()) +
                  ": " + quote_snippet(line));
    }
    if (current.words.empty()) current.line = line_no;
    current.words.emplace_back(cols[options.word_column]);
    if (options.has_tags) current.tags.emplace_back(cols[tag_col]);
    if (options.keep_lines) current.lines.emplace_back(line);
  }
  flush();
  rep.sentences = out.sentences.size();
  if (out.sentences.empty()) throw Error(path + ": no tokens found (expected one `word ... tag` line per token)");
  return out;
}

ConllData read_conll(const std::string& path, const ConllOptions& options) {
  const std::string contents = read_text_file(path);
  return parse_conll(contents, path, options);
}

// ---------------------------------------------------------------------------------------------
// Numbers

double parse_regression_label(const std::string& label, const std::string& file, size_t line) {
  if (auto v = parse_number(label)) return *v;
  throw Error(file + ":" + std::to_string(line) + ": " + not_a_regression_target(label));
}

std::vector<double> regression_targets(const std::vector<LabelledRow>& rows, const std::string& file) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(parse_regression_label(r.label, file, r.line));
  return out;
}

// ---------------------------------------------------------------------------------------------
// LabelMap

LabelMap LabelMap::build(const std::vector<std::string>& labels, LabelOrder order) {
  if (labels.empty()) throw Error("cannot build a label map from no labels");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& l : labels) {
    if (l.empty()) throw Error("cannot build a label map: empty label");
    if (seen.insert(l).second) names.push_back(l);
  }
  if (order == LabelOrder::kSorted) {
    // Numeric order only when *every* label is a number: mixing the two orders would make the ids
    // depend on which labels happen to occur.
    std::vector<std::pair<double, std::string>> numeric;
    for (const auto& n : names) {
      const auto v = parse_number(n);
      if (!v) break;
      numeric.emplace_back(*v, n);
    }
    if (numeric.size() == names.size()) {
      std::sort(numeric.begin(), numeric.end());  // ties ("1" vs "1.0") by bytes
      for (size_t i = 0; i < names.size(); ++i) names[i] = numeric[i].second;
    } else {
      std::sort(names.begin(), names.end());
    }
  }
  return from_names(std::move(names));
}

LabelMap LabelMap::from_names(std::vector<std::string> names) {
  LabelMap m;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!m.ids_.emplace(names[i], static_cast<int64_t>(i)).second)
      throw Error("label list has " + quote_snippet(names[i]) + " twice (ids " + std::to_string(m.ids_[names[i]]) +
                  " and " + std::to_string(i) + ")");
  }
  m.names_ = std::move(names);
  return m;
}

const std::string& LabelMap::name(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= names_.size())
    throw std::out_of_range("label id " + std::to_string(id) + " out of range [0, " + std::to_string(names_.size()) + ")");
  return names_[static_cast<size_t>(id)];
}

bool LabelMap::has_placeholder_names() const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] != "LABEL_" + std::to_string(i)) return false;
  return !names_.empty();
}

std::optional<int64_t> LabelMap::find(const std::string& label) const {
  const auto it = ids_.find(label);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int64_t LabelMap::id(const std::string& label, const std::string& file, size_t line) const {
  if (auto i = find(label)) return *i;
  throw Error(file + ":" + std::to_string(line) + ": unknown label " + quote_snippet(label) +
              " (not among the " + std::to_string(names_.size()) + " labels the model was trained on: " +
              known_labels(names_) + ")");
}

std::vector<int64_t> LabelMap::encode(const std::vector<LabelledRow>& rows, const std::string& file) const {
  std::vector<int64_t> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(id(r.label, file, r.line));
  return out;
}

std::vector<std::vector<int64_t>> LabelMap::encode(const std::vector<TaggedSentence>& sentences,
                                                   const std::string& file) const {
  std::vector<std::vector<int64_t>> out;
  out.reserve(sentences.size());
  for (const auto& s : sentences) {
    std::vector<int64_t> ids;
    ids.reserve(s.tags.size());
    // Tokens of a sentence sit on consecutive lines, so token i is on line s.line + i.
    for (size_t i = 0; i < s.tags.size(); ++i) ids.push_back(id(s.tags[i], file, s.line + i));
    out.push_back(std::move(ids));
  }
  return out;
}

std::vector<std::string> collect_labels(const std::vector<LabelledRow>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.label);
  return out;
}

std::vector<std::string> collect_tags(const std::vector<TaggedSentence>& sentences) {
  std::vector<std::string> out;
  for (const auto& s : sentences) out.insert(out.end(), s.tags.begin(), s.tags.end());
  return out;
}

std::vector<std::string> split_label_set(const std::string& field, char separator, const std::string& file,
                                         size_t line) {
  std::vector<std::string> names;
  if (trim(field).empty()) return names;
  size_t start = 0;
  while (true) {
    const size_t end = std::min(field.find(separator, start), field.size());
    const std::string name(trim(std::string_view(field).substr(start, end - start)));
    if (name.empty())
      throw Error(file + ":" + std::to_string(line) + ": empty label name in the label set \"" + field +
                  "\" (labels separated by '" + std::string(1, separator) + "'; an empty field is the empty set)");
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    if (end == field.size()) break;
    start = end + 1;
  }
  return names;
}

std::vector<std::string> collect_label_sets(const std::vector<LabelledRow>& rows, char separator,
                                            const std::string& file) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    auto names = split_label_set(r.label, separator, file, r.line);
    out.insert(out.end(), names.begin(), names.end());
  }
  return out;
}

std::vector<std::vector<int64_t>> LabelMap::encode_sets(const std::vector<LabelledRow>& rows, char separator,
                                                        const std::string& file) const {
  std::vector<std::vector<int64_t>> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    std::vector<int64_t> ids;
    for (const auto& name : split_label_set(r.label, separator, file, r.line)) ids.push_back(id(name, file, r.line));
    out.push_back(std::move(ids));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Task inference

std::string to_string(TaskKind kind) {
  return kind == TaskKind::kRegression ? "regression" : "classification";
}

TaskInference infer_task(const std::vector<std::string>& labels, size_t max_integer_classes) {
  if (labels.empty()) throw Error("cannot infer the task from no labels");
  TaskInference t;
  std::set<std::string> distinct_strings(labels.begin(), labels.end());
  t.distinct_labels = distinct_strings.size();
  std::set<double> values;
  const std::string* fractional = nullptr;
  for (const auto& l : distinct_strings) {
    const auto v = parse_number(l);
    if (!v) {
      t.kind = TaskKind::kClassification;
      t.reason = "classification: label " + quote_snippet(l) + " is not a number (" + std::to_string(t.distinct_labels) +
                 " distinct labels)";
      std::vector<std::string> numbers;
      std::set<std::string> others;
      for (const auto& label : labels) {
        if (parse_number(label)) numbers.push_back(label);
        else others.insert(label);
      }
      // A stray is rare: at most 3 distinct words, on at most 5 % of the rows.
      if (numbers.empty() || others.size() > 3 || (labels.size() - numbers.size()) * 20 > labels.size()) return t;
      try {
        if (infer_task(numbers, max_integer_classes).kind == TaskKind::kRegression)
          t.stray_label = *std::find_if(labels.begin(), labels.end(), [](const auto& x) { return !parse_number(x); });
      } catch (const Error&) {  // "1" and "1.0" among the numbers: integers, so not a regression reading
      }
      return t;
    }
    values.insert(*v);
    if (!fractional && *v != std::floor(*v)) fractional = &l;
  }
  if (!fractional && values.size() < distinct_strings.size()) {
    // As classes, "1" and "1.0" would be two; as numbers they are one. Neither reading is safe.
    std::map<double, const std::string*> first_spelling;
    for (const auto& l : distinct_strings) {
      auto [it, fresh] = first_spelling.emplace(*parse_number(l), &l);
      if (!fresh)
        throw Error("labels " + quote_snippet(*it->second) + " and " + quote_snippet(l) +
                    " are the same number written two ways: write each class the same way (or give --task regress)");
    }
  }
  if (fractional) {
    t.kind = TaskKind::kRegression;
    t.reason = "regression: every label is a number and " + quote_snippet(*fractional) + " is not an integer (" +
               std::to_string(values.size()) + " distinct values)";
  } else if (values.size() > max_integer_classes) {
    t.kind = TaskKind::kRegression;
    t.reason = "regression: every label is an integer and there are " + std::to_string(values.size()) +
               " distinct values (more than " + std::to_string(max_integer_classes) + ")";
  } else {
    t.kind = TaskKind::kClassification;
    t.reason = "classification: every label is an integer and there are " + std::to_string(values.size()) +
               " distinct values (at most " + std::to_string(max_integer_classes) + ")";
  }
  return t;
}

}  // namespace bert::data
