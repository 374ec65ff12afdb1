// Tests of the labelled CSV/TSV reader (bert/data/table_reader.h): RFC 4180 quoting and literal
// quoting, BOM, CRLF, missing final newline, column selection by name and index, the message of
// every kind of bad row (file:line and what was found), skip_bad_rows accounting, and — when the
// shared data sets beside the project exist — every GLUE TSV and the SMS spam file with the flags
// they need and their known row counts. Those last cases WARN and return when
// BERT_SOURCE_DIR/../shared/data is absent, so the suite passes on a bare checkout.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bert/data/table_reader.h"
#include "bert/util/error.h"

namespace fs = std::filesystem;
using namespace bert::data;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

TableOptions opts(ColumnRef text, std::optional<ColumnRef> label = std::nullopt,
                  std::optional<ColumnRef> pair = std::nullopt) {
  TableOptions o;
  o.text = std::move(text);
  o.label = std::move(label);
  o.text_pair = std::move(pair);
  return o;
}

// The message of the bert::Error that parsing throws ("" if none).
std::string error_of(std::string_view contents, const std::string& path, const TableOptions& o) {
  try {
    parse_labelled_table(contents, path, o);
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kShared = std::string(BERT_SOURCE_DIR) + "/../shared/data";

bool have_shared(const std::string& relative) {
  if (fs::exists(kShared + "/" + relative)) return true;
  WARN("skipped: " << kShared << "/" << relative << " is absent (shared data sets not installed)");
  return false;
}

}  // namespace

TEST_CASE("TSV with a header, columns by name", "[table_reader]") {
  const auto d = parse_labelled_table("sentence\tlabel\nit 's good \t1\nbad\t0\n", "x.tsv",
                                      opts("sentence", ColumnRef("label")));
  REQUIRE(d.rows.size() == 2);
  CHECK(d.rows[0].text == "it 's good ");  // text kept as is (trailing space included)
  CHECK(d.rows[0].label == "1");
  CHECK(d.rows[0].line == 2);
  CHECK_FALSE(d.rows[0].text_pair);
  CHECK(d.rows[1].text == "bad");
  CHECK(d.rows[1].line == 3);
  CHECK(d.report.delimiter == '\t');
  CHECK(d.report.quoting == Quoting::kNone);  // auto: TSV has no quoting
  CHECK(d.report.header == std::vector<std::string>{"sentence", "label"});
  CHECK(d.report.num_columns == 2);
  CHECK(d.report.rows_read == 2);
  CHECK_THAT(d.report.summary("x.tsv"), Contains("2 rows"));
}

TEST_CASE("sentence pairs and columns by index without a header", "[table_reader]") {
  TableOptions o = opts(size_t{1}, ColumnRef(size_t{0}), ColumnRef(size_t{2}));
  o.has_header = false;
  const auto d = parse_labelled_table("yes\tA man.\tA person.\nno\tA cat.\tA dog.", "pairs.tsv", o);
  REQUIRE(d.rows.size() == 2);
  CHECK(d.rows[1].text == "A cat.");
  REQUIRE(d.rows[1].text_pair);
  CHECK(*d.rows[1].text_pair == "A dog.");
  CHECK(d.rows[1].label == "no");
  CHECK(d.report.header.empty());
  CHECK(d.report.num_columns == 3);
}

TEST_CASE("label is optional and trimmed", "[table_reader]") {
  const auto d = parse_labelled_table("text\nhello world\n", "in.tsv", opts("text"));
  REQUIRE(d.rows.size() == 1);
  CHECK(d.rows[0].label.empty());
  const auto csv = parse_labelled_table("text,label\nhi, spam \n", "x.csv", opts("text", ColumnRef("label")));
  CHECK(csv.rows[0].label == "spam");
}

TEST_CASE("an empty label field is kept for multi-label data", "[table_reader]") {
  TableOptions o;
  o.label = "l";
  CHECK_THROWS_AS(parse_labelled_table("t\tl\nfoo\t\n", "m.tsv", o), bert::Error);
  o.label_set_separator = ',';
  const auto d = parse_labelled_table("t\tl\nfoo\t \nbar\tA,B\n", "m.tsv", o);
  REQUIRE(d.rows.size() == 2);
  CHECK(d.rows[0].label.empty());
  CHECK(d.rows[1].label == "A,B");
  o.label_set_separator = '\t';  // unquoted TSV: refused; quoted CSV fields may hold the separator
  CHECK_THAT(error_of("t\tl\nfoo\tA\n", "m.tsv", o), Contains("--label-separator 'tab' is also the file's unquoted"));
  o.label_set_separator = ',';
  CHECK(parse_labelled_table("t,l\nfoo,\"A,B\"\n", "m.csv", o).rows[0].label == "A,B");
}

TEST_CASE("one 0/1 column per label gives each row's label set", "[table_reader][multilabel]") {
  TableOptions o;
  o.text = "text";
  o.label.reset();
  o.indicator_labels = {"toxic", "insult", ColumnRef(size_t{3})};
  const auto d = parse_labelled_table("text,toxic,insult,obscene\nyou fool,1,1,0\nhello,0,0, 0\nugh,0,0,1\n", "k.csv", o);
  REQUIRE(d.rows.size() == 3);
  CHECK(d.report.indicator_label_names == std::vector<std::string>{"toxic", "insult", "obscene"});
  CHECK(d.rows[0].label_set == std::vector<std::string>{"toxic", "insult"});
  CHECK(d.rows[1].label_set.empty());
  CHECK(d.rows[2].label_set == std::vector<std::string>{"obscene"});
  CHECK(error_of("text,toxic,insult,obscene\nyou fool,1,yes,0\n", "k.csv", o) ==
        "k.csv:2: expected 0 or 1 in label column 2 \"insult\", found \"yes\"");
  o.indicator_labels = {"toxic", "text"};
  CHECK_THAT(error_of("text,toxic\nhi,1\n", "k.csv", o), StartsWith("k.csv: the text and label columns are the same"));
  o.indicator_labels = {"toxic", "toxic"};
  CHECK_THAT(error_of("text,toxic\nhi,1\n", "k.csv", o), StartsWith("k.csv: the label and label columns are the same"));
  o.has_header = false;
  o.text = 0;
  o.indicator_labels = {ColumnRef(size_t{1}), ColumnRef(size_t{2})};
  const auto bare = parse_labelled_table("hi\t1\t0\n", "k.tsv", o);
  CHECK(bare.report.indicator_label_names == std::vector<std::string>{"1", "2"});
  CHECK(bare.rows[0].label_set == std::vector<std::string>{"1"});
}

TEST_CASE("multiple-choice rows: one column per candidate, in the order given", "[table_reader][choice]") {
  TableOptions o = opts("sent1", ColumnRef("label"));
  o.choices = {"ending1", "ending0", ColumnRef(size_t{4})};
  const auto d = parse_labelled_table("sent1\tending0\tending1\tlabel\tending2\nShe ran.\tA\tB\t2\tC\n", "c.tsv", o);
  REQUIRE(d.rows.size() == 1);
  CHECK(d.rows[0].choices == std::vector<std::string>{"B", "A", "C"});
  CHECK(d.rows[0].label == "2");
  CHECK(error_of("sent1\tending0\tending1\tlabel\tending2\nShe ran.\tA\t\t1\tC\n", "c.tsv", o) ==
        "c.tsv:2: empty choice in column 2 \"ending1\": found an empty field");
  o.choices = {"ending0", "ending0"};
  CHECK_THAT(error_of("sent1\tending0\tlabel\nx\ty\t0\n", "c.tsv", o),
             StartsWith("c.tsv: the choice and choice columns are the same"));
  o.choices = {"ending0", "label"};
  CHECK_THAT(error_of("sent1\tending0\tlabel\nx\ty\t0\n", "c.tsv", o),
             StartsWith("c.tsv: the label and choice columns are the same"));
  o.choices = {"ending0", "ending9"};
  CHECK_THAT(error_of("sent1\tending0\tlabel\nx\ty\t0\n", "c.tsv", o), Contains("ending9"));
}

TEST_CASE("RFC 4180 quoting in CSV", "[table_reader]") {
  const std::string csv =
      "text,label\n"
      "\"a, b\",x\n"                    // embedded delimiter
      "\"she said \"\"hi\"\"\",y\n"     // doubled quotes
      "\"two\nlines\",z\n"              // embedded newline: the record spans lines 4-5
      "5\" tall,w\n"                    // a quote inside an unquoted field is literal
      "\"\",v\n"                        // (bad: empty text, checked below with skip)
      "plain,\"quoted label\"\n";
  TableOptions o = opts("text", ColumnRef("label"));
  o.skip_bad_rows = true;
  const auto d = parse_labelled_table(csv, "q.csv", o);
  CHECK(d.report.quoting == Quoting::kRfc4180);
  CHECK(d.report.delimiter == ',');
  REQUIRE(d.rows.size() == 5);
  CHECK(d.rows[0].text == "a, b");
  CHECK(d.rows[0].line == 2);
  CHECK(d.rows[1].text == "she said \"hi\"");
  CHECK(d.rows[2].text == "two\nlines");
  CHECK(d.rows[2].line == 4);
  CHECK(d.rows[3].text == "5\" tall");
  CHECK(d.rows[3].line == 6);  // line numbers stay right after a multi-line record
  CHECK(d.rows[4].label == "quoted label");
  CHECK(d.rows[4].line == 8);
  CHECK(d.report.bad_rows_skipped == 1);
  REQUIRE(d.report.first_reasons.size() == 1);
  CHECK_THAT(d.report.first_reasons[0], StartsWith("q.csv:7: empty text"));
}

TEST_CASE("quoting none keeps every character (MRPC-style quotes)", "[table_reader]") {
  const std::string tsv = "Quality\t#1 String\t#2 String\n1\t\" the witness \" ,\tas only \" the\n";
  TableOptions o = opts("#1 String", ColumnRef("Quality"), ColumnRef("#2 String"));
  o.quoting = Quoting::kNone;
  const auto d = parse_labelled_table(tsv, "mrpc.tsv", o);
  REQUIRE(d.rows.size() == 1);
  CHECK(d.rows[0].text == "\" the witness \" ,");
  CHECK(*d.rows[0].text_pair == "as only \" the");
  // Read with RFC quoting instead, the unbalanced quote swallows the rest of the file.
  o.quoting = Quoting::kRfc4180;
  CHECK_THAT(error_of(tsv, "mrpc.tsv", o), Contains("read it with quoting \"none\""));
}

TEST_CASE("UTF-8 BOM, CRLF and a missing final newline", "[table_reader]") {
  SECTION("BOM before the header") {
    const auto d = parse_labelled_table("\xEF\xBB\xBFsentence\tlabel\nok\t1\n", "b.tsv",
                                        opts("sentence", ColumnRef("label")));
    CHECK(d.report.header[0] == "sentence");
    CHECK(d.rows[0].line == 2);
  }
  SECTION("CRLF line ends, literal quoting") {
    const auto d = parse_labelled_table("t\tl\r\nfoo\t1\r\nbar\t0\r\n", "c.tsv", opts("t", ColumnRef("l")));
    REQUIRE(d.rows.size() == 2);
    CHECK(d.rows[0].label == "1");
    CHECK(d.rows[1].text == "bar");
    CHECK(d.report.header[1] == "l");
  }
  SECTION("CRLF line ends, RFC quoting, quoted last field") {
    const auto d = parse_labelled_table("t,l\r\n\"a,b\",\"1\"\r\nc,0\r\n", "c.csv", opts("t", ColumnRef("l")));
    REQUIRE(d.rows.size() == 2);
    CHECK(d.rows[0].text == "a,b");
    CHECK(d.rows[0].label == "1");
    CHECK(d.rows[1].label == "0");
    CHECK(d.rows[1].line == 3);
  }
  SECTION("no final newline") {
    const auto d = parse_labelled_table("t\tl\nfoo\t1\nbar\t0", "n.tsv", opts("t", ColumnRef("l")));
    REQUIRE(d.rows.size() == 2);
    CHECK(d.rows[1].label == "0");
    const auto q = parse_labelled_table("t,l\nfoo,\"1\"", "n.csv", opts("t", ColumnRef("l")));
    CHECK(q.rows[0].label == "1");
  }
  SECTION("blank lines are counted, not errors") {
    const auto d = parse_labelled_table("t\tl\n\nfoo\t1\n\n\n", "e.tsv", opts("t", ColumnRef("l")));
    CHECK(d.rows.size() == 1);
    CHECK(d.rows[0].line == 3);
    CHECK(d.report.blank_lines == 3);
    CHECK_THAT(d.report.summary("e.tsv"), Contains("3 blank lines"));
  }
}

TEST_CASE("column selection errors", "[table_reader]") {
  const std::string tsv = "sentence\tlabel\nfoo\t1\n";
  SECTION("unknown name lists the available columns") {
    const std::string e = error_of(tsv, "h.tsv", opts("text", ColumnRef("label")));
    CHECK_THAT(e, StartsWith("h.tsv: no column named \"text\" (for the text) in the header on line 1;"));
    CHECK_THAT(e, Contains("available: 0 \"sentence\", 1 \"label\""));
  }
  SECTION("a comma-separated file read with tabs: the hint names the delimiter") {
    CHECK_THAT(error_of("sentence,label\nfoo,1\n", "c.tsv", opts("sentence", ColumnRef("label"))),
               Contains("available: 0 \"sentence,label\" (the header is one column holding ',': give --delimiter ,?)"));
    CHECK_THAT(error_of("sentence,label\nfoo,1\n", "c.tsv", opts(size_t{0}, ColumnRef(size_t{1}))),
               Contains("has 1 column: 0 \"sentence,label\" (the header is one column holding ','"));
  }
  SECTION("index out of range") {
    CHECK_THAT(error_of(tsv, "h.tsv", opts("sentence", ColumnRef(size_t{2}))),
               Contains("label column index 2 (0-based) does not exist: the header on line 1 has 2 columns"));
  }
  SECTION("name without a header") {
    TableOptions o = opts("sentence");
    o.has_header = false;
    CHECK_THAT(error_of(tsv, "h.tsv", o), Contains("selected by name, but the file is read without a header"));
    TableOptions l = opts(size_t{0}, ColumnRef("label"));
    l.has_header = false;
    CHECK_THAT(error_of(tsv, "h.tsv", l), StartsWith("h.tsv: label column \"label\" is selected by name"));
  }
  SECTION("ambiguous name") {
    CHECK_THAT(error_of("a\tb\ta\nx\ty\tz\n", "h.tsv", opts("a")),
               Contains("text column \"a\" is ambiguous: the header on line 1 has it at columns 0 and 2"));
  }
  SECTION("two roles on one column") {
    CHECK_THAT(error_of(tsv, "h.tsv", opts("sentence", ColumnRef(size_t{0}))),
               Contains("the text and label columns are the same"));
  }
  SECTION("ColumnRef::parse") {
    CHECK(ColumnRef::parse("3").is_index());
    CHECK(ColumnRef::parse("3").index() == 3);
    CHECK_FALSE(ColumnRef::parse("#1 String").is_index());
    CHECK(ColumnRef::parse("#1 String").name() == "#1 String");
    CHECK_THROWS_AS(ColumnRef::parse(""), bert::Error);
    const ColumnRef zero = 0;  // an int literal is an index, not a null const char*
    CHECK(zero.is_index());
    CHECK_THROWS_AS(ColumnRef(-1), std::invalid_argument);
  }
}

TEST_CASE("each kind of bad row names file:line and what was found", "[table_reader]") {
  const TableOptions o = opts("t", ColumnRef("l"));
  SECTION("wrong field count") {
    CHECK(error_of("t\tl\nok\t1\na\tb\t1\n", "w.tsv", o) ==
          "w.tsv:3: expected 2 tab-separated fields (as in the header on line 1), found 3: \"a\\tb\\t1\"");
    CHECK(error_of("t\tl\nonly text\n", "w.tsv", o) ==
          "w.tsv:2: expected 2 tab-separated fields (as in the header on line 1), found 1: \"only text\"");
  }
  SECTION("a long run of invalid bytes is cut in the message (found by fuzz_table_reader)") {
    // quote_snippet cut only at a character boundary, and continuation bytes never make one.
    const std::string junk(1000, '\x9B');
    const std::string e = error_of("t\tl\n" + junk + "\tx\ty\n", "w.tsv", o);
    CHECK_THAT(e, StartsWith("w.tsv:2: expected 2 tab-separated fields (as in the header on line 1), found 3: \"" +
                             junk.substr(0, 120)));
    CHECK_THAT(e, Catch::Matchers::EndsWith("\"... (1004 bytes)"));
    CHECK(e.size() < 300);
  }
  SECTION("wrong field count without a header refers to the first row") {
    TableOptions n = opts(size_t{0}, ColumnRef(size_t{1}));
    n.has_header = false;
    CHECK_THAT(error_of("a\t1\nb\t1\t2\n", "w.tsv", n),
               StartsWith("w.tsv:2: expected 2 tab-separated fields (as in the first row (line 1)), found 3"));
  }
  SECTION("empty text") {
    CHECK(error_of("t\tl\n\t1\n", "e.tsv", o) == "e.tsv:2: empty text in column 0 \"t\": found an empty field");
    CHECK(error_of("t\tl\n   \t1\n", "e.tsv", o) ==
          "e.tsv:2: empty text in column 0 \"t\": found only whitespace \"   \"");
  }
  SECTION("empty label and empty text pair") {
    CHECK_THAT(error_of("t\tl\nfoo\t\n", "e.tsv", o), StartsWith("e.tsv:2: empty label in column 1 \"l\""));
    CHECK_THAT(error_of("t\tp\tl\nfoo\t\t1\n", "e.tsv", opts("t", ColumnRef("l"), ColumnRef("p"))),
               StartsWith("e.tsv:2: empty text pair in column 1 \"p\""));
  }
  SECTION("invalid UTF-8") {
    CHECK(error_of("t\tl\nok\t1\nab\xFF\t1\n", "u.tsv", o) ==
          "u.tsv:3: invalid UTF-8 in column 0 \"t\" at byte 3 of the field: found bytes \\xFF (the file must be "
          "UTF-8 encoded)");
    // Only selected columns are checked.
    const auto d = parse_labelled_table("t\tjunk\tl\nok\t\xC3\t1\n", "u.tsv", o);
    CHECK(d.rows.size() == 1);
  }
  SECTION("unterminated quote") {
    const std::string e = error_of("t,l\nok,1\n\"never closed,1\nmore,0\n", "q.csv", o);
    CHECK_THAT(e, StartsWith("q.csv:3: unterminated quoted field: the quote opened at line 3, byte 1 is never "
                             "closed (end of file reached at line 4)"));
  }
  SECTION("junk after a closing quote") {
    CHECK_THAT(error_of("t,l\n\"a\"b,1\n", "q.csv", o),
               StartsWith("q.csv:2: unexpected 'b' after the closing quote of a quoted field (line 2, byte 4)"));
  }
  SECTION("no rows at all") {
    CHECK(error_of("", "z.tsv", o) == "z.tsv: the file is empty (expected a header line)");
    CHECK(error_of("t\tl\n", "z.tsv", o) == "z.tsv: no data rows after the header");
  }
}

TEST_CASE("skip_bad_rows skips, counts and reports", "[table_reader]") {
  TableOptions o = opts("t", ColumnRef("l"));
  o.skip_bad_rows = true;
  o.max_reported_reasons = 2;
  const std::string tsv = "t\tl\ngood\t1\n\t0\nx\ty\tz\nfine\t0\nbad\xFE\t1\nlast\t1";
  const auto d = parse_labelled_table(tsv, "s.tsv", o);
  REQUIRE(d.rows.size() == 3);
  CHECK(d.rows[0].line == 2);
  CHECK(d.rows[1].line == 5);
  CHECK(d.rows[2].line == 7);
  CHECK(d.report.rows_read == 3);
  CHECK(d.report.bad_rows_skipped == 3);
  REQUIRE(d.report.first_reasons.size() == 2);  // only the first two kept verbatim
  CHECK_THAT(d.report.first_reasons[0], StartsWith("s.tsv:3: empty text"));
  CHECK_THAT(d.report.first_reasons[1], StartsWith("s.tsv:4: expected 2"));
  CHECK_THAT(d.report.summary("s.tsv"), Contains("3 bad rows skipped, first: s.tsv:3: empty text"));

  SECTION("an unterminated quote skips only its own line") {
    TableOptions c = opts("t", ColumnRef("l"));
    c.skip_bad_rows = true;
    const auto q = parse_labelled_table("t,l\na,1\n\"b,1\nc,0\nd,1\n", "s.csv", c);
    REQUIRE(q.rows.size() == 3);
    CHECK(q.rows[1].text == "c");
    CHECK(q.rows[1].line == 4);
    CHECK(q.report.bad_rows_skipped == 1);
    CHECK_THAT(q.report.first_reasons[0], StartsWith("s.csv:3: unterminated quoted field"));
  }
  SECTION("a regression label that is not a number is a bad row") {
    TableOptions r = opts("t", ColumnRef("l"));
    r.numeric_label = true;
    const std::string scores = "t\tl\na\t3.8\nb\tn/a\nc\t +1e-1 \n";
    CHECK(error_of(scores, "r.tsv", r) ==
          "r.tsv:3: label \"n/a\" is not a number (a regression task needs a finite decimal number such as 3.8 in "
          "every row)");
    r.skip_bad_rows = true;
    const auto kept = parse_labelled_table(scores, "r.tsv", r);
    REQUIRE(kept.rows.size() == 2);
    CHECK(kept.rows[1].label == "+1e-1");
    CHECK(kept.report.bad_rows_skipped == 1);
  }
  SECTION("all rows bad is still an error") {
    CHECK_THAT(error_of("t\tl\n\t1\n", "s.tsv", o), Contains("no data rows after the header (all 1 rows were bad"));
  }
}

TEST_CASE("delimiter and quoting resolution", "[table_reader]") {
  CHECK(delimiter_for_path("a/b.TSV", "") == '\t');
  CHECK(delimiter_for_path("b.txt", "x,y") == '\t');
  CHECK(delimiter_for_path("b.csv", "x\ty") == ',');
  CHECK(delimiter_for_path("SMSSpamCollection", "ham\thi") == '\t');
  CHECK_THROWS_WITH(delimiter_for_path("data.dat", "a,b"), Contains("give the delimiter explicitly"));
  CHECK(parse_delimiter("tab") == '\t');
  CHECK(parse_delimiter("\\t") == '\t');
  CHECK(parse_delimiter("comma") == ',');
  CHECK(parse_delimiter(";") == ';');
  CHECK_THROWS_AS(parse_delimiter("\""), bert::Error);
  CHECK_THROWS_AS(parse_delimiter("ab"), bert::Error);
  CHECK(parse_quoting("RFC4180") == Quoting::kRfc4180);
  CHECK(parse_quoting("csv") == Quoting::kRfc4180);
  CHECK(parse_quoting("none") == Quoting::kNone);
  CHECK(parse_quoting("auto") == Quoting::kAuto);
  CHECK_THROWS_WITH(parse_quoting("maybe"), Contains("expected auto"));

  // An explicit delimiter overrides the extension, and auto quoting follows the delimiter.
  TableOptions o = opts("t", ColumnRef("l"));
  o.delimiter = ',';
  const auto d = parse_labelled_table("t,l\n\"x\",1\n", "data.txt", o);
  CHECK(d.report.quoting == Quoting::kRfc4180);
  CHECK(d.rows[0].text == "x");
}

TEST_CASE("read_labelled_table reads a file and names a missing one", "[table_reader]") {
  const fs::path dir = fs::temp_directory_path() / ("bert_table_reader_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "small.csv").string();
  {
    std::ofstream out(path, std::ios::binary);
    out << "text,label\r\n\"Hello, world\",pos\r\nBye,neg";
  }
  const auto d = read_labelled_table(path, opts("text", ColumnRef("label")));
  REQUIRE(d.rows.size() == 2);
  CHECK(d.rows[0].text == "Hello, world");
  CHECK(d.rows[1].label == "neg");
  CHECK_THROWS_WITH(read_labelled_table((dir / "missing.csv").string(), opts("text")), Contains("missing.csv"));
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Real data (skipped without ../shared/data)

TEST_CASE("GLUE SST-2 loads", "[table_reader][shared_data]") {
  if (!have_shared("glue/SST-2/train.tsv")) return;
  const auto o = opts("sentence", ColumnRef("label"));
  const auto train = read_labelled_table(kShared + "/glue/SST-2/train.tsv", o);
  const auto dev = read_labelled_table(kShared + "/glue/SST-2/dev.tsv", o);
  CHECK(train.rows.size() == 67349);
  CHECK(dev.rows.size() == 872);
  CHECK(train.rows[0].text == "hide new secretions from the parental units ");
  CHECK(train.rows[0].label == "0");
  CHECK(train.report.bad_rows_skipped == 0);
}

TEST_CASE("GLUE CoLA loads (no header, no final newline in dev)", "[table_reader][shared_data]") {
  if (!have_shared("glue/CoLA/train.tsv")) return;
  TableOptions o = opts(size_t{3}, ColumnRef(size_t{1}));
  o.has_header = false;
  const auto train = read_labelled_table(kShared + "/glue/CoLA/train.tsv", o);
  const auto dev = read_labelled_table(kShared + "/glue/CoLA/dev.tsv", o);
  CHECK(train.rows.size() == 8551);
  CHECK(dev.rows.size() == 1043);
  CHECK(train.rows[0].text == "Our friends won't buy this analysis, let alone the next one we propose.");
  CHECK(train.rows[0].label == "1");
  CHECK(dev.rows.back().text == "John talked to Bill about himself.");
  CHECK(dev.rows.back().line == 1043);
}

TEST_CASE("GLUE MRPC loads (BOM, literal quotes, pairs)", "[table_reader][shared_data]") {
  if (!have_shared("glue/MRPC/train.tsv")) return;
  // Quoting "none" is what auto gives for TSV; spelled out because RFC quoting breaks this file.
  TableOptions o = opts("#1 String", ColumnRef("Quality"), ColumnRef("#2 String"));
  o.quoting = Quoting::kNone;
  const auto train = read_labelled_table(kShared + "/glue/MRPC/train.tsv", o);
  const auto dev = read_labelled_table(kShared + "/glue/MRPC/dev.tsv", o);
  CHECK(train.rows.size() == 3667);  // 3,668 lines = header + 3,667 pairs
  CHECK(dev.rows.size() == 408);
  CHECK(train.report.header[0] == "Quality");  // BOM stripped
  CHECK(train.rows[0].label == "1");
  CHECK(train.rows[0].text ==
        "Amrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .");
  CHECK_THAT(*train.rows[0].text_pair, StartsWith("Referring to him as only \" the witness \""));
}

TEST_CASE("GLUE STS-B loads (float scores)", "[table_reader][shared_data]") {
  if (!have_shared("glue/STS-B/train.tsv")) return;
  const auto o = opts("sentence1", ColumnRef("score"), ColumnRef("sentence2"));
  const auto train = read_labelled_table(kShared + "/glue/STS-B/train.tsv", o);
  const auto dev = read_labelled_table(kShared + "/glue/STS-B/dev.tsv", o);
  CHECK(train.rows.size() == 5749);
  CHECK(dev.rows.size() == 1500);
  CHECK(train.rows[0].text == "A plane is taking off.");
  CHECK(*train.rows[0].text_pair == "An air plane is taking off.");
  CHECK(train.rows[0].label == "5.000");
}

TEST_CASE("SMS spam loads (no header, no extension)", "[table_reader][shared_data]") {
  if (!have_shared("sms_spam/SMSSpamCollection")) return;
  TableOptions o = opts(size_t{1}, ColumnRef(size_t{0}));
  o.has_header = false;
  const auto d = read_labelled_table(kShared + "/sms_spam/SMSSpamCollection", o);
  CHECK(d.rows.size() == 5574);
  CHECK(d.report.delimiter == '\t');
  size_t spam = 0;
  for (const auto& r : d.rows) spam += r.label == "spam";
  CHECK(spam == 747);
}
