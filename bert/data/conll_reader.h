// Reader for CoNLL-style column files (token classification: NER, chunking, POS) and the label
// bookkeeping shared by every fine-tuning task: LabelMap (label string <-> class id), regression
// label parsing, and infer_task, which decides between classification and regression from the
// training labels. The CoNLL format has no header and no quoting: one token a line with
// whitespace-separated columns, sentences separated by blank lines, `-DOCSTART-` lines between
// documents. Errors name file:line and what was found, as in table_reader.h, because the files
// are hand-edited and converted by scripts as often as they are downloaded. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bert/data/table_reader.h"

namespace bert::data {

// ---------------------------------------------------------------------------------------------
// CoNLL files

struct TaggedSentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;  // same length as words; empty when read with has_tags = false
  size_t line = 0;                // 1-based line of the first token; token i is on line + i
  std::vector<std::string> lines;  // each token's whole line as read, only with ConllOptions::keep_lines
};

struct ConllOptions {
  size_t word_column = 0;
  // Column holding the tag, 0-based; nullopt means the last column (3 in CoNLL-2003's
  // `word POS chunk NER`, 1 in two-column `word tag` files).
  std::optional<size_t> tag_column;
  bool has_tags = true;  // false for prediction input: words only, any number of columns
  bool keep_lines = false;  // keep each token's line (prediction output repeats it)
};

struct ConllReport {
  size_t sentences = 0;
  size_t tokens = 0;
  size_t documents = 0;    // -DOCSTART- lines seen
  size_t num_columns = 0;  // every token line has exactly this many columns
  std::string summary(const std::string& path) const;
};

struct ConllData {
  std::vector<TaggedSentence> sentences;
  ConllReport report;
};

// Columns are separated by runs of spaces and/or tabs. A line that is empty or only whitespace
// ends the current sentence; so does a line whose first column is `-DOCSTART-` (itself
// skipped). CRLF line ends, a UTF-8 BOM and a missing final newline are accepted. Every token line
// must have the column count of the first one; a different count, invalid UTF-8 or a tag column
// beyond the line throws bert::Error naming file:line. A file without tokens is an error.
ConllData read_conll(const std::string& path, const ConllOptions& options = {});
ConllData parse_conll(std::string_view contents, const std::string& path, const ConllOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Labels

enum class LabelOrder {
  // Default. Numeric order when every label is a number ("0","1","2","10" -> 0,1,2,3; "-1","1"
  // -> 0,1), otherwise byte-wise lexicographic order ("B-LOC" < ... < "O"; "ham" < "spam").
  // Independent of the order of the training file, so a shuffled copy gives the same ids, and
  // "0"/"1" get ids 0/1 as in the GLUE label lists.
  kSorted,
  // Order of first appearance in the labels given to build().
  kFirstSeen,
};

class LabelMap {
 public:
  LabelMap() = default;
  // From training labels (duplicates allowed). Throws bert::Error for an empty list or an empty
  // label.
  static LabelMap build(const std::vector<std::string>& labels, LabelOrder order = LabelOrder::kSorted);
  // From a stored list (e.g. a checkpoint's id2label): id i is names[i]. Throws on duplicates.
  static LabelMap from_names(std::vector<std::string> names);

  size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::string& name(int64_t id) const;  // std::out_of_range for a bad id
  std::optional<int64_t> find(const std::string& label) const;
  // transformers' placeholder names LABEL_0, LABEL_1, ... (a config saved without id2label): they
  // stand for classes 0, 1, ... in the order of the data's sorted labels.
  bool has_placeholder_names() const;
  // The id of a label from dev/test data; an unknown label throws bert::Error
  // "file:line: unknown label "x" ... known labels: ...".
  int64_t id(const std::string& label, const std::string& file, size_t line) const;

  // Whole data sets: row labels / sentence tags to ids, with the errors of id().
  std::vector<int64_t> encode(const std::vector<LabelledRow>& rows, const std::string& file) const;
  std::vector<std::vector<int64_t>> encode(const std::vector<TaggedSentence>& sentences,
                                           const std::string& file) const;
  // Multi-label rows: each row's label field as a set of ids (see split_label_set).
  std::vector<std::vector<int64_t>> encode_sets(const std::vector<LabelledRow>& rows, char separator,
                                                const std::string& file) const;

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, int64_t> ids_;
};

// Labels of rows / tags of sentences, in file order, ready for LabelMap::build or infer_task.
std::vector<std::string> collect_labels(const std::vector<LabelledRow>& rows);
std::vector<std::string> collect_tags(const std::vector<TaggedSentence>& sentences);

// Multi-label data: a label field names a set of labels separated by `separator` ("PER,LOC"; an
// empty field is the empty set). Names are trimmed and repeats collapse; an empty name between
// separators ("PER,,LOC") throws bert::Error naming file:line.
std::vector<std::string> split_label_set(const std::string& field, char separator, const std::string& file,
                                         size_t line);
// Every label name of every row's set, in file order, ready for LabelMap::build.
std::vector<std::string> collect_label_sets(const std::vector<LabelledRow>& rows, char separator,
                                            const std::string& file);

// A regression target (parse_number, table_reader.h); throws bert::Error "file:line: label "x" is
// not a number ..." otherwise.
double parse_regression_label(const std::string& label, const std::string& file, size_t line);
std::vector<double> regression_targets(const std::vector<LabelledRow>& rows, const std::string& file);

enum class TaskKind { kClassification, kRegression };

struct TaskInference {
  TaskKind kind = TaskKind::kClassification;
  size_t distinct_labels = 0;
  std::string reason;  // one sentence for the log, e.g. why regression was chosen
  // Set when a few labels that are not numbers (the first, in file order, here) stand among labels
  // that would read as regression targets ("n/a" among STS-B scores): likely a bad row, not classes.
  std::optional<std::string> stray_label;
};

// Decides the task from the training labels. The rule:
//   * some label is not a number (parse_number)            -> classification (stray_label set
//     when at most 3 distinct labels, on at most 5 % of the rows, are not numbers and the rest
//     alone would be regression)
//   * all numbers, some value is not an integer (3.8)       -> regression
//   * all integer-valued ("1", "1.0"), more than
//     max_integer_classes distinct values                   -> regression
//   * otherwise (e.g. "0"/"1", star ratings 1..5)           -> classification
// Throws bert::Error for an empty list. Callers should let the user override it.
TaskInference infer_task(const std::vector<std::string>& labels, size_t max_integer_classes = 10);

std::string to_string(TaskKind kind);

}  // namespace bert::data
