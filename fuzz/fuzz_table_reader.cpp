// Fuzz target: the labelled CSV/TSV reader (bert/data/table_reader.h) on arbitrary bytes, under
// every combination of its options. The options come from the last six bytes of the input
// (FuzzedDataProvider reads integers from the end); the seeds are heads of real data files with
// those six bytes appended. Checked besides "no crash": what parse_labelled_table promises about the rows it
// returns (selected fields valid UTF-8 and non-empty, field counts, line numbers, the report).
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "bert/data/table_reader.h"
#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "bert/util/text.h"
#include "fuzz/fuzz_common.h"

namespace {

using bert::data::ColumnRef;
using bert::data::Quoting;

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n\v\f") == std::string::npos; }

// A column by 0-based index or, with by_name, by one of the header names GLUE files use.
ColumnRef pick_column(uint8_t code, bool by_name) {
  static const char* kNames[] = {"sentence", "label", "#1 String", "#2 String",
                                 "Quality",  "sentence1", "sentence2", "score"};
  if (by_name) return ColumnRef(kNames[code % 8]);
  return ColumnRef(static_cast<size_t>(code % 10));
}

void check_flag_parsers(const std::string& spec) {
  try {
    const char d = bert::data::parse_delimiter(spec);
    FUZZ_CHECK(d != '"' && d != '\n' && d != '\r', "parse_delimiter returned a quote or line break");
  } catch (const bert::Error&) {
  }
  try {
    bert::data::to_string(bert::data::parse_quoting(spec));
  } catch (const bert::Error&) {
  }
  try {
    const ColumnRef c = ColumnRef::parse(spec);
    c.to_string();
  } catch (const bert::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // The last six bytes, from the end: mode, text column, pair column, label column, an explicit
  // delimiter, and how many skip reasons to keep.
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const uint8_t text_code = in.ConsumeIntegral<uint8_t>();
  const uint8_t pair_code = in.ConsumeIntegral<uint8_t>();
  const uint8_t label_code = in.ConsumeIntegral<uint8_t>();
  const char explicit_delimiter = in.ConsumeIntegral<char>();
  const uint8_t reasons = in.ConsumeIntegral<uint8_t>();
  const std::string contents = in.ConsumeRemainingBytesAsString();

  bert::data::TableOptions opt;
  std::string path;
  switch (mode & 3) {
    case 0: path = "fuzz.tsv"; break;
    case 1: path = "fuzz.csv"; break;
    case 2: path = "fuzz"; break;  // delimiter guessed from the first line (or an error)
    default:
      path = "fuzz.dat";
      opt.delimiter = explicit_delimiter;  // any byte, line breaks and quotes included
  }
  static const Quoting kQuoting[] = {Quoting::kAuto, Quoting::kRfc4180, Quoting::kNone, Quoting::kAuto};
  opt.quoting = kQuoting[(mode >> 2) & 3];
  opt.has_header = mode & 16;
  opt.skip_bad_rows = mode & 32;
  opt.keep_fields = mode & 64;
  const bool by_name = (mode & 128) && opt.has_header;
  opt.text = pick_column(text_code, by_name);
  if (pair_code) opt.text_pair = pick_column(pair_code - 1, by_name);
  if (label_code) opt.label = pick_column(label_code - 1, by_name);
  opt.max_reported_reasons = reasons % 8;

  check_flag_parsers(contents.substr(0, 12));
  // Every reader quotes user data in its messages through quote_snippet, which promises a short
  // rendering: at most max_bytes bytes (plus the rest of a cut character), each escaped to at
  // most 4 characters, two quotes and a "... (N bytes)" note.
  const size_t snippet_max = reasons % 64;
  FUZZ_CHECK(bert::quote_snippet(contents, snippet_max).size() <= 2 + 4 * (snippet_max + 3) + 32,
             "quote_snippet longer than promised");

  bert::data::TableData t;
  try {
    t = bert::data::parse_labelled_table(contents, path, opt);
  } catch (const bert::Error&) {
    return 0;
  }
  const auto& rep = t.report;
  FUZZ_CHECK(!t.rows.empty(), "success without rows");
  FUZZ_CHECK(rep.rows_read == t.rows.size(), "rows_read differs from the rows returned");
  FUZZ_CHECK(rep.quoting != Quoting::kAuto, "quoting not resolved");
  FUZZ_CHECK(opt.skip_bad_rows || rep.bad_rows_skipped == 0, "rows skipped without skip_bad_rows");
  FUZZ_CHECK(rep.first_reasons.size() <= opt.max_reported_reasons, "too many reasons kept");
  FUZZ_CHECK(rep.first_reasons.size() <= rep.bad_rows_skipped, "more reasons than skipped rows");
  FUZZ_CHECK(!opt.has_header || rep.header.size() == rep.num_columns, "header width differs from num_columns");
  size_t last_line = 0;
  for (const auto& row : t.rows) {
    FUZZ_CHECK(row.line > last_line, "row line numbers not increasing");
    last_line = row.line;
    FUZZ_CHECK(bert::tokenizer::unicode::is_valid_utf8(row.text) && !blank(row.text), "bad text accepted");
    FUZZ_CHECK(row.text_pair.has_value() == opt.text_pair.has_value(), "text_pair presence");
    if (row.text_pair)
      FUZZ_CHECK(bert::tokenizer::unicode::is_valid_utf8(*row.text_pair) && !blank(*row.text_pair),
                 "bad text pair accepted");
    if (opt.label) {
      FUZZ_CHECK(!row.label.empty() && !blank(row.label) && bert::tokenizer::unicode::is_valid_utf8(row.label),
                 "bad label accepted");
      FUZZ_CHECK(row.label.find_first_of(" \t\r\n\v\f") != 0 &&
                     row.label.find_last_not_of(" \t\r\n\v\f") == row.label.size() - 1,
                 "label not trimmed");
    } else {
      FUZZ_CHECK(row.label.empty(), "label without a label column");
    }
    if (opt.keep_fields) FUZZ_CHECK(row.fields.size() == rep.num_columns, "kept fields differ from num_columns");
  }
  rep.summary(path);
  return 0;
}
