// Reader for the labelled CSV/TSV files that `bert finetune`, `bert evaluate` and `bert predict`
// take: one example a row, a text column, an optional second text (sentence pairs) and an optional
// label. Real data sets disagree on every detail — GLUE's TSVs have literal quotes inside fields
// (MRPC, STS-B), a UTF-8 BOM (MRPC), no header (CoLA) or no final newline (CoLA dev) — so the
// delimiter, quoting, header and columns are all options, and every row that cannot be read
// cleanly is either an error naming file:line, the column and what was found, or (with
// skip_bad_rows) skipped and counted in the report: no row is ever dropped silently. Only the
// selected columns are validated (UTF-8, non-empty), so junk in an unused column does not reject a
// row. Torch-free so that the parsing rules can be tested on their own.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bert::data {

// How quote characters are treated.
//   kRfc4180: a field that *starts* with '"' is quoted: it may hold the delimiter, newlines and
//             doubled quotes ("" -> "); after the closing quote only the delimiter or the end of
//             the line may follow. A '"' inside an unquoted field is literal (as in Python's csv).
//   kNone:    every character is literal and a record is exactly one line (needed for GLUE TSVs,
//             whose fields contain unbalanced quotes).
//   kAuto:    kRfc4180 for a comma delimiter, kNone for any other (TSV has no quoting
//             convention; Hugging Face's GLUE processors also read the TSVs with quotechar=None).
enum class Quoting { kAuto, kRfc4180, kNone };

// A column chosen by header name or by 0-based index.
class ColumnRef {
 public:
  // Implicit on purpose, so that options read `o.text = 3;` or `o.label = "label";`. The int
  // overload keeps a literal 0 from being taken for a null const char*.
  ColumnRef(size_t index) : ref_(index) {}                  // NOLINT(runtime/explicit)
  ColumnRef(int index);                                     // NOLINT; std::invalid_argument if < 0
  ColumnRef(std::string name) : ref_(std::move(name)) {}    // NOLINT
  ColumnRef(const char* name) : ref_(std::string(name)) {}  // NOLINT
  // For command-line flags: all digits -> index, anything else -> header name.
  static ColumnRef parse(const std::string& spec);

  bool is_index() const { return std::holds_alternative<size_t>(ref_); }
  size_t index() const { return std::get<size_t>(ref_); }
  const std::string& name() const { return std::get<std::string>(ref_); }
  std::string to_string() const;  // "3" or "\"sentence\"", for messages

 private:
  std::variant<size_t, std::string> ref_;
};

struct TableOptions {
  std::optional<char> delimiter;    // nullopt: from the extension (see delimiter_for_path)
  Quoting quoting = Quoting::kAuto;
  bool has_header = true;           // first non-blank record names the columns
  ColumnRef text = ColumnRef(size_t{0});
  std::optional<ColumnRef> text_pair;
  std::optional<ColumnRef> label;   // absent for prediction input
  // Multi-label data with one column per label (Kaggle's toxic-comment layout): each holds 0 or 1,
  // and a row's set is the names of its columns holding 1. Used instead of `label`.
  std::vector<ColumnRef> indicator_labels;
  // Multi-label data: the label field is a set of names separated by this character, so it may be
  // empty (the empty set); a separator equal to an unquoted delimiter is refused.
  std::optional<char> label_set_separator;
  // Multiple choice (SWAG's layout): one column per candidate answer, each a non-empty text; the
  // label, if any, must then be a candidate's number (0 to choices - 1).
  std::vector<ColumnRef> choices;
  bool numeric_label = false;       // regression: the label must be a number (parse_number)
  bool skip_bad_rows = false;       // skip and count bad rows instead of throwing
  bool keep_fields = false;         // keep every field of each row (prediction output repeats them)
  size_t max_reported_reasons = 5;  // how many skip reasons the report keeps verbatim
};

struct LabelledRow {
  std::string text;
  std::optional<std::string> text_pair;
  std::string label;  // raw string with surrounding whitespace trimmed; "" when no label column
  std::vector<std::string> label_set;  // with indicator_labels: the names of the columns holding 1
  std::vector<std::string> choices;    // with TableOptions::choices: the candidates, in column order
  size_t line = 0;    // 1-based line where the record starts
  std::vector<std::string> fields;  // all fields as read, only with TableOptions::keep_fields
};

struct TableReadReport {
  char delimiter = '\t';                 // as resolved
  Quoting quoting = Quoting::kNone;      // as resolved (never kAuto)
  std::vector<std::string> header;       // empty without a header
  std::vector<std::string> indicator_label_names;  // with indicator_labels: header names (without a header: indexes)
  size_t num_columns = 0;                // every row must have exactly this many fields
  size_t rows_read = 0;                  // rows returned
  size_t bad_rows_skipped = 0;           // only with skip_bad_rows
  size_t blank_lines = 0;                // empty lines, skipped (not an error)
  std::vector<std::string> first_reasons;  // "file:line: why" for the first skipped rows
  std::string summary(const std::string& path) const;  // one line for the log
};

struct TableData {
  std::vector<LabelledRow> rows;
  TableReadReport report;
};

// Parses a number as written in data files: optional sign, decimal or exponent notation, no
// trailing junk (surrounding whitespace ignored); locale-independent. nullopt for anything else,
// including nan and inf.
std::optional<double> parse_number(std::string_view s);

// Why `label` cannot be a regression target, for a "file:line: " prefix.
std::string not_a_regression_target(const std::string& label);

// Reads a whole file. Throws bert::Error for an unreadable file, an unresolvable column, a file
// without data rows, and (unless skip_bad_rows) the first bad row.
TableData read_labelled_table(const std::string& path, const TableOptions& options);

// Same, from memory; `path` is used to infer the delimiter and in messages.
TableData parse_labelled_table(std::string_view contents, const std::string& path,
                               const TableOptions& options);

// The fields of a file's first record as read_labelled_table would split them (trimmed): the
// header, or without one the first row; empty when it cannot be split (or the file not read).
// Reads the file's first MiB only.
std::vector<std::string> read_first_row(const std::string& path, const TableOptions& options);

// '\t' for .tsv and .txt, ',' for .csv (case-insensitive). Any other name: '\t' when
// first_line contains a tab, otherwise a bert::Error asking for an explicit delimiter (guessing a
// comma would split free text that merely contains commas).
char delimiter_for_path(const std::string& path, std::string_view first_line);

// Flag parsers: "tab", "\\t", "comma", "semicolon", "pipe", or a single character other than a
// quote or newline / "auto", "rfc4180" (alias "csv"), "none" (alias "literal").
char parse_delimiter(const std::string& spec);
Quoting parse_quoting(const std::string& spec);
std::string to_string(Quoting quoting);

}  // namespace bert::data
