// Implementation of the labelled CSV/TSV reader (table_reader.h). Two layers: a record splitter
// that knows only delimiters, quotes and line ends (and reports a record it cannot split rather
// than throwing, so that skip_bad_rows can resume after it), and the labelled layer that resolves
// columns, checks each row and turns the first problem into a message naming file:line, the
// column and what was found. The whole file is read into memory: fine-tuning sets are small, and
// one pass over a string_view keeps line numbering exact.
#include "bert/data/table_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "bert/util/text.h"
#include "bert/util/files.h"

namespace bert::data {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}


std::string describe_char(char c) {
  if (c == '\t') return "a tab";
  if (c == '\r') return "a carriage return";
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7F) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "byte 0x%02X", u);
    return buf;
  }
  return std::string("'") + c + "'";
}

std::string delimiter_name(char d) {
  switch (d) {
    case '\t': return "tab";
    case ',': return "comma";
    case ';': return "semicolon";
    case '|': return "pipe";
    default: return std::string("'") + d + "'";
  }
}

// One record as split from the text. `error` non-empty means it could not be split; the reader
// has then already moved past it.
struct RawRecord {
  std::vector<std::string> fields;
  size_t line = 0;
  std::string error;
};

class RecordReader {
 public:
  RecordReader(std::string_view data, char delimiter, Quoting quoting)
      : d_(data), delim_(delimiter), quoting_(quoting) {}

  // Next record, skipping (and counting) blank lines; false at the end of the data.
  bool next(RawRecord& rec) {
    while (pos_ < d_.size()) {
      const size_t eol = line_end(pos_);
      std::string_view ln = d_.substr(pos_, eol - pos_);
      if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
      rec.fields.clear();
      rec.error.clear();
      rec.line = line_;
      if (ln.empty()) {
        ++blank_lines_;
        advance_line(eol);
        continue;
      }
      if (quoting_ == Quoting::kNone) {
        split_literal(ln, rec.fields);
        advance_line(eol);
      } else {
        split_quoted(rec, eol);
      }
      return true;
    }
    return false;
  }

  size_t blank_lines() const { return blank_lines_; }

 private:
  size_t line_end(size_t from) const {
    const size_t e = d_.find('\n', from);
    return e == std::string_view::npos ? d_.size() : e;
  }
  void advance_line(size_t eol) {
    pos_ = std::min(eol + 1, d_.size());
    ++line_;
  }

  void split_literal(std::string_view ln, std::vector<std::string>& fields) const {
    size_t start = 0;
    while (true) {
      const size_t t = ln.find(delim_, start);
      if (t == std::string_view::npos) {
        fields.emplace_back(ln.substr(start));
        return;
      }
      fields.emplace_back(ln.substr(start, t - start));
      start = t + 1;
    }
  }

  // RFC 4180 splitting from pos_ (the start of a physical line, `first_eol` its end).
  void split_quoted(RawRecord& rec, size_t first_eol) {
    const size_t n = d_.size();
    size_t p = pos_;
    size_t line = line_;
    size_t line_start = pos_;
    std::string field;
    while (true) {
      field.clear();
      if (p < n && d_[p] == '"') {
        const size_t open_line = line, open_byte = p - line_start + 1;
        ++p;
        bool closed = false;
        while (p < n) {
          const char c = d_[p];
          if (c == '"') {
            if (p + 1 < n && d_[p + 1] == '"') {
              field += '"';
              p += 2;
              continue;
            }
            ++p;
            closed = true;
            break;
          }
          if (c == '\n') {
            ++line;
            line_start = p + 1;
          }
          field += c;
          ++p;
        }
        if (!closed) {
          // A final newline is counted above but starts no line of its own.
          const size_t eof_line = (n > 0 && d_[n - 1] == '\n') ? line - 1 : line;
          rec.error = "unterminated quoted field: the quote opened at line " + std::to_string(open_line) +
                      ", byte " + std::to_string(open_byte) +
                      " is never closed (end of file reached at line " + std::to_string(eof_line) +
                      "); if quotes in this file are literal text, read it with quoting \"none\"";
          // Resume right after the record's first line: everything the open quote swallowed
          // gets its own chance to parse.
          advance_line(first_eol);
          return;
        }
        rec.fields.push_back(field);
        if (p >= n) break;
        const char c = d_[p];
        if (c == delim_) {
          ++p;
          continue;
        }
        if (c == '\n' || (c == '\r' && (p + 1 >= n || d_[p + 1] == '\n'))) {
          p = std::min(line_end(p) + 1, n);
          ++line;
          break;
        }
        rec.error = "unexpected " + describe_char(c) + " after the closing quote of a quoted field (line " +
                    std::to_string(line) + ", byte " + std::to_string(p - line_start + 1) +
                    "): a quote inside a quoted field must be doubled (\"\"); if quotes in this file are "
                    "literal text, read it with quoting \"none\"";
        pos_ = std::min(line_end(p) + 1, n);
        line_ = line + 1;
        return;
      }
      // Unquoted field: up to the delimiter or the end of the line; quotes in it are literal.
      size_t q = p;
      while (q < n && d_[q] != delim_ && d_[q] != '\n') ++q;
      std::string_view f = d_.substr(p, q - p);
      const bool at_delim = q < n && d_[q] == delim_;
      if (!at_delim && !f.empty() && f.back() == '\r') f.remove_suffix(1);
      rec.fields.emplace_back(f);
      if (at_delim) {
        p = q + 1;
        continue;
      }
      p = std::min(q + 1, n);
      ++line;
      break;
    }
    pos_ = p;
    line_ = line;
  }

  std::string_view d_;
  char delim_;
  Quoting quoting_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t blank_lines_ = 0;
};

std::string column_label(size_t index, const std::vector<std::string>& header) {
  std::string s = "column " + std::to_string(index);
  if (index < header.size()) s += " " + quote_snippet(header[index], 40);
  return s;
}

std::string list_columns(const std::vector<std::string>& header) {
  std::string s;
  for (size_t i = 0; i < header.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(i) + " " + quote_snippet(header[i], 40);
  }
  return s;
}

// A header read as one column that holds another common delimiter: the likely cause of a missing
// column ("sentence,label" in a .tsv).
std::string other_delimiter_hint(const std::vector<std::string>& header) {
  if (header.size() != 1) return "";
  for (const auto& [c, flag] : {std::pair<char, const char*>{',', ","}, {'\t', "tab"}, {';', ";"}, {'|', "|"}})
    if (header[0].find(c) != std::string::npos)
      return std::string(" (the header is one column holding '") + flag + "': give --delimiter " + flag + "?)";
  return "";
}

// Resolves one ColumnRef; `width_source` says where the column count came from, for messages.
size_t resolve_column(const ColumnRef& ref, const char* role, const std::string& path,
                      const std::vector<std::string>& header, size_t num_columns,
                      const std::string& width_source) {
  if (ref.is_index()) {
    if (ref.index() >= num_columns) {
      std::string msg = path + ": " + role + " column index " + std::to_string(ref.index()) +
                        " (0-based) does not exist: " + width_source + " has " + std::to_string(num_columns) +
                        (num_columns == 1 ? " column" : " columns");
      if (!header.empty()) msg += ": " + list_columns(header) + other_delimiter_hint(header);
      throw Error(msg);
    }
    return ref.index();
  }
  if (header.empty()) {
    throw Error(path + ": " + role + " column " + ref.to_string() +
                " is selected by name, but the file is read without a header; select it by 0-based index "
                "or read the file with a header");
  }
  const std::string want(trim(ref.name()));
  std::vector<size_t> hits;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == want) hits.push_back(i);
  if (hits.size() == 1) return hits[0];
  if (hits.size() > 1) {
    throw Error(path + ": " + role + " column " + ref.to_string() + " is ambiguous: " + width_source +
                " has it at columns " + std::to_string(hits[0]) + " and " + std::to_string(hits[1]) +
                "; select it by 0-based index");
  }
  throw Error(path + ": no column named " + ref.to_string() + " (for the " + role + ") in " + width_source +
              "; available: " + list_columns(header) + other_delimiter_hint(header));
}

// Checks one selected field's encoding; returns a reason or "".
std::string check_utf8(const std::string& value, size_t index, const std::vector<std::string>& header) {
  size_t at = 0;
  if (tokenizer::unicode::is_valid_utf8(value, &at)) return "";
  std::string bytes;
  for (size_t i = at; i < value.size() && i < at + 4; ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(value[i]));
    bytes += buf;
  }
  return "invalid UTF-8 in " + column_label(index, header) + " at byte " + std::to_string(at + 1) +
         " of the field: found bytes " + bytes + " (the file must be UTF-8 encoded)";
}

std::string check_not_empty(const std::string& value, const char* what, size_t index,
                            const std::vector<std::string>& header) {
  if (!trim(value).empty()) return "";
  return std::string("empty ") + what + " in " + column_label(index, header) + ": found " +
         (value.empty() ? std::string("an empty field") : "only whitespace " + quote_snippet(value));
}

std::string join_fields(const std::vector<std::string>& fields, char delim) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s += delim;
    s += fields[i];
  }
  return s;
}

}  // namespace

ColumnRef::ColumnRef(int index) : ref_(size_t{0}) {
  if (index < 0) throw std::invalid_argument("column index " + std::to_string(index) + " is negative");
  ref_ = static_cast<size_t>(index);
}

ColumnRef ColumnRef::parse(const std::string& spec) {
  const std::string_view t = trim(spec);
  if (!t.empty() && t.size() < 10 &&
      std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return ColumnRef(static_cast<size_t>(std::stoul(std::string(t))));
  }
  if (t.empty()) throw Error("empty column name (expected a header name or a 0-based index)");
  return ColumnRef(std::string(t));
}

std::string ColumnRef::to_string() const {
  return is_index() ? std::to_string(index()) : quote_snippet(name(), 60);
}

std::string to_string(Quoting quoting) {
  switch (quoting) {
    case Quoting::kAuto: return "auto";
    case Quoting::kRfc4180: return "rfc4180";
    case Quoting::kNone: return "none";
  }
  return "?";
}

Quoting parse_quoting(const std::string& spec) {
  const std::string s = lower_ascii(std::string(trim(spec)));
  if (s == "auto") return Quoting::kAuto;
  if (s == "rfc4180" || s == "csv") return Quoting::kRfc4180;
  if (s == "none" || s == "literal") return Quoting::kNone;
  throw Error("unknown quoting " + quote_snippet(spec) + ": expected auto, rfc4180 (or csv) or none (or literal)");
}

char parse_delimiter(const std::string& spec) {
  const std::string s = lower_ascii(spec);
  if (s == "tab" || s == "\\t" || s == "\t") return '\t';
  if (s == "comma") return ',';
  if (s == "semicolon") return ';';
  if (s == "pipe") return '|';
  if (spec.size() == 1 && spec[0] != '"' && spec[0] != '\n' && spec[0] != '\r') return spec[0];
  throw Error("bad delimiter " + quote_snippet(spec) +
              ": expected tab, comma, semicolon, pipe or a single character other than a quote or a newline");
}

char delimiter_for_path(const std::string& path, std::string_view first_line) {
  const size_t slash = path.find_last_of('/');
  const std::string base = path.substr(slash == std::string::npos ? 0 : slash + 1);
  const size_t dot = base.find_last_of('.');
  const std::string ext = dot == std::string::npos ? "" : lower_ascii(base.substr(dot));
  if (ext == ".tsv" || ext == ".txt") return '\t';
  if (ext == ".csv") return ',';
  if (first_line.find('\t') != std::string_view::npos) return '\t';
  throw Error(path + ": cannot tell the delimiter from the file name (expected .csv, .tsv or .txt) and the first "
              "line has no tab; give the delimiter explicitly (tab, comma, ...)");
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  // from_chars takes no leading '+', which spreadsheets and printf("%+f") write.
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string not_a_regression_target(const std::string& label) {
  return "label " + quote_snippet(label) +
         " is not a number (a regression task needs a finite decimal number such as 3.8 in every row)";
}

std::string TableReadReport::summary(const std::string& path) const {
  std::string s = path + ": " + counted(rows_read, "row") + " (" + delimiter_name(delimiter) + "-separated, quoting " +
                  to_string(quoting) + ", " + counted(num_columns, "column") + ", " +
                  (header.empty() ? "no header" : "header") + ")";
  if (blank_lines) s += "; " + counted(blank_lines, "blank line") + " ignored";
  if (bad_rows_skipped) {
    s += "; " + counted(bad_rows_skipped, "bad row") + " skipped";
    if (!first_reasons.empty()) s += ", first: " + first_reasons.front();
  }
  return s;
}

namespace {

// The delimiter and quoting a file is read with: the options', else from the name and first line.
void resolve_layout(std::string_view contents, const std::string& path, const TableOptions& options,
                    TableReadReport& rep) {
  const size_t nl = contents.find('\n');
  rep.delimiter = options.delimiter ? *options.delimiter
                                    : delimiter_for_path(path, contents.substr(0, nl == std::string_view::npos
                                                                                      ? contents.size()
                                                                                      : nl));
  if (rep.delimiter == '\n' || rep.delimiter == '\r')
    throw Error(path + ": the delimiter cannot be a line break");
  rep.quoting = options.quoting != Quoting::kAuto ? options.quoting
                                                  : (rep.delimiter == ',' ? Quoting::kRfc4180 : Quoting::kNone);
  if (rep.quoting == Quoting::kRfc4180 && rep.delimiter == '"')
    throw Error(path + ": the delimiter cannot be the quote character with rfc4180 quoting");
}

}  // namespace

std::vector<std::string> read_first_row(const std::string& path, const TableOptions& options) {
  // The file's start only: the whole is read again by read_labelled_table.
  std::string file(size_t{1} << 20, '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(file.data(), static_cast<std::streamsize>(file.size()));
  file.resize(static_cast<size_t>(in.gcount()));
  std::string_view contents = file;
  if (contents.substr(0, kBom.size()) == kBom) contents.remove_prefix(kBom.size());
  TableReadReport layout;
  resolve_layout(contents, path, options, layout);
  RecordReader reader(contents, layout.delimiter, layout.quoting);
  RawRecord rec;
  std::vector<std::string> fields;
  if (reader.next(rec) && rec.error.empty())
    for (const auto& f : rec.fields) fields.emplace_back(trim(f));
  return fields;
}

TableData parse_labelled_table(std::string_view contents, const std::string& path, const TableOptions& options) {
  if (contents.substr(0, kBom.size()) == kBom) contents.remove_prefix(kBom.size());

  TableData out;
  TableReadReport& rep = out.report;
  resolve_layout(contents, path, options, rep);
  // Unquoted, a label set holding the delimiter would split into fields (a quoted CSV field may hold it).
  if (options.label && options.label_set_separator == rep.delimiter && rep.quoting == Quoting::kNone) {
    const std::string separator = rep.delimiter == '\t' ? "tab" : std::string(1, rep.delimiter);
    throw Error(path + ": --label-separator '" + separator + "' is also the file's unquoted field delimiter, so a "
                "label set would split into fields; choose another separator");
  }

  RecordReader reader(contents, rep.delimiter, rep.quoting);
  RawRecord rec;
  std::string width_source;
  if (options.has_header) {
    if (!reader.next(rec)) throw Error(path + ": the file is empty (expected a header line)");
    if (!rec.error.empty()) throw Error(path + ":" + std::to_string(rec.line) + ": in the header: " + rec.error);
    for (const auto& f : rec.fields) rep.header.emplace_back(trim(f));
    rep.num_columns = rep.header.size();
    width_source = "the header on line " + std::to_string(rec.line);
  }

  // Column indexes: resolved now with a header, at the first well-formed row without one.
  size_t text_col = 0, pair_col = 0, label_col = 0;
  std::vector<size_t> indicator_cols, choice_cols;
  bool resolved = false;
  auto resolve = [&]() {
    text_col = resolve_column(options.text, "text", path, rep.header, rep.num_columns, width_source);
    if (options.text_pair)
      pair_col = resolve_column(*options.text_pair, "text pair", path, rep.header, rep.num_columns, width_source);
    if (options.label)
      label_col = resolve_column(*options.label, "label", path, rep.header, rep.num_columns, width_source);
    // Two roles on one column is always a mistake in the flags, never in the data.
    auto clash = [&](size_t a, const char* ra, size_t b, const char* rb) {
      if (a == b)
        throw Error(path + ": the " + ra + " and " + rb + " columns are the same (" + column_label(a, rep.header) + ")");
    };
    if (options.text_pair) clash(text_col, "text", pair_col, "text pair");
    if (options.label) clash(text_col, "text", label_col, "label");
    if (options.text_pair && options.label) clash(pair_col, "text pair", label_col, "label");
    indicator_cols.clear();
    rep.indicator_label_names.clear();
    for (const auto& ref : options.indicator_labels) {
      const size_t c = resolve_column(ref, "label", path, rep.header, rep.num_columns, width_source);
      clash(text_col, "text", c, "label");
      if (options.text_pair) clash(pair_col, "text pair", c, "label");
      for (size_t other : indicator_cols) clash(other, "label", c, "label");
      indicator_cols.push_back(c);
      rep.indicator_label_names.push_back(rep.header.empty() ? std::to_string(c) : rep.header[c]);
    }
    choice_cols.clear();
    for (const auto& ref : options.choices) {
      const size_t c = resolve_column(ref, "choice", path, rep.header, rep.num_columns, width_source);
      clash(text_col, "text", c, "choice");
      if (options.text_pair) clash(pair_col, "text pair", c, "choice");
      if (options.label) clash(label_col, "label", c, "choice");
      for (size_t other : choice_cols) clash(other, "choice", c, "choice");
      choice_cols.push_back(c);
    }
    resolved = true;
  };
  if (options.has_header) resolve();
  if (!options.has_header) {
    // A name cannot be resolved without a header: say so before reading any row.
    if (!options.text.is_index()) resolve_column(options.text, "text", path, rep.header, 0, "");
    if (options.text_pair && !options.text_pair->is_index())
      resolve_column(*options.text_pair, "text pair", path, rep.header, 0, "");
    if (options.label && !options.label->is_index()) resolve_column(*options.label, "label", path, rep.header, 0, "");
    for (const auto& ref : options.indicator_labels)
      if (!ref.is_index()) resolve_column(ref, "label", path, rep.header, 0, "");
    for (const auto& ref : options.choices)
      if (!ref.is_index()) resolve_column(ref, "choice", path, rep.header, 0, "");
  }

  auto bad = [&](size_t line, const std::string& reason) {
    const std::string msg = path + ":" + std::to_string(line) + ": " + reason;
    if (!options.skip_bad_rows) throw Error(msg);
    ++rep.bad_rows_skipped;
    if (rep.first_reasons.size() < options.max_reported_reasons) rep.first_reasons.push_back(msg);
  };

  while (reader.next(rec)) {
    if (!rec.error.empty()) {
      bad(rec.line, rec.error);
      continue;
    }
    if (!resolved) {
      rep.num_columns = rec.fields.size();
      width_source = "the first row (line " + std::to_string(rec.line) + ")";
      resolve();
    }
    if (rec.fields.size() != rep.num_columns) {
      bad(rec.line, "expected " + std::to_string(rep.num_columns) + " " + delimiter_name(rep.delimiter) +
                        "-separated fields (as in " + width_source + "), found " + std::to_string(rec.fields.size()) +
                        ": " + quote_snippet(join_fields(rec.fields, rep.delimiter), 120));
      continue;
    }
    std::string reason = check_utf8(rec.fields[text_col], text_col, rep.header);
    if (reason.empty() && options.text_pair) reason = check_utf8(rec.fields[pair_col], pair_col, rep.header);
    if (reason.empty() && options.label) reason = check_utf8(rec.fields[label_col], label_col, rep.header);
    if (reason.empty()) reason = check_not_empty(rec.fields[text_col], "text", text_col, rep.header);
    if (reason.empty() && options.text_pair)
      reason = check_not_empty(rec.fields[pair_col], "text pair", pair_col, rep.header);
    if (reason.empty() && options.label && !options.label_set_separator)
      reason = check_not_empty(rec.fields[label_col], "label", label_col, rep.header);
    for (size_t c : choice_cols) {
      if (reason.empty()) reason = check_utf8(rec.fields[c], c, rep.header);
      if (reason.empty()) reason = check_not_empty(rec.fields[c], "choice", c, rep.header);
    }
    if (reason.empty() && !choice_cols.empty() && options.label) {
      // Multiple choice: the label is the right candidate's number.
      const auto value = trim(rec.fields[label_col]);
      const bool in_range = !value.empty() && value.size() < 10 &&
                            std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                            std::stoull(std::string(value)) < choice_cols.size();
      if (!in_range)
        reason = "label: expected the number of the right choice, 0 to " + std::to_string(choice_cols.size() - 1) +
                 ", found " + quote_snippet(std::string(value), 40);
    }
    if (reason.empty() && options.label && options.numeric_label && !parse_number(rec.fields[label_col]))
      reason = not_a_regression_target(std::string(trim(rec.fields[label_col])));
    std::vector<std::string> label_set;
    for (size_t k = 0; k < indicator_cols.size() && reason.empty(); ++k) {
      const auto value = trim(rec.fields[indicator_cols[k]]);
      if (value == "1") label_set.push_back(rep.indicator_label_names[k]);
      else if (value != "0")
        reason = "expected 0 or 1 in label " + column_label(indicator_cols[k], rep.header) + ", found " +
                 quote_snippet(std::string(value), 40);
    }
    if (!reason.empty()) {
      bad(rec.line, reason);
      continue;
    }
    LabelledRow row;
    if (options.keep_fields) row.fields = rec.fields;
    row.text = std::move(rec.fields[text_col]);
    if (options.text_pair) row.text_pair = std::move(rec.fields[pair_col]);
    if (options.label) row.label = std::string(trim(rec.fields[label_col]));
    row.label_set = std::move(label_set);
    for (size_t c : choice_cols) row.choices.push_back(rec.fields[c]);
    row.line = rec.line;
    out.rows.push_back(std::move(row));
  }
  rep.blank_lines = reader.blank_lines();
  rep.rows_read = out.rows.size();
  if (out.rows.empty()) {
    std::string msg = path + ": no data rows";
    if (options.has_header) msg += " after the header";
    if (rep.bad_rows_skipped && !rep.first_reasons.empty()) {
      msg += " (all " + std::to_string(rep.bad_rows_skipped) + " rows were bad and skipped; first: " +
             rep.first_reasons.front() + ")";
    }
    throw Error(msg);
  }
  return out;
}

TableData read_labelled_table(const std::string& path, const TableOptions& options) {
  const std::string contents = read_text_file(path);
  return parse_labelled_table(contents, path, options);
}

}  // namespace bert::data
