// Tests of the corpus side of pre-training: the rule-based sentence splitter (each rule and its
// documented exceptions), the corpus reader (both layouts on small temporary files with BOMs,
// CRLF, wrapped lines and runs of blank lines; UTF-8 errors; input expansion), and the token
// cache (contents equal to tokenizing directly, reuse, rebuild on corpus / tokenizer / option
// changes, recovery from truncated or corrupted files and from an interrupted build), plus a
// plausibility check on the bundled Alice in Wonderland.
#include <catch2/catch.hpp>

#include "test/test_paths.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bert/data/corpus_reader.h"
#include "bert/data/sentence_splitter.h"
#include "bert/data/token_cache.h"
#include "bert/data/tokenized_corpus.h"
#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"
#include "bert/util/files.h"

namespace fs = std::filesystem;
using bert::data::CorpusLayout;
using bert::data::CorpusReaderOptions;
using bert::data::split_sentences;
using bert::data::TokenCache;
using bert::data::TokenCacheOptions;

namespace {

const std::string kTokenizerDir = std::string(BERT_TEST_DATA_DIR) + "/hf-tiny";

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view s : split_sentences(text)) out.emplace_back(s);
  return out;
}

using Sentences = std::vector<std::string>;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bert-corpus-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<std::vector<std::string>> read_docs(const std::vector<std::string>& inputs,
                                                CorpusLayout layout, size_t paragraphs_per_document = 0) {
  CorpusReaderOptions o;
  o.layout = layout;
  o.paragraphs_per_document = paragraphs_per_document;
  return bert::data::read_corpus_documents(inputs, o);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "(no error)";
}

const bert::tokenizer::WordPieceTokenizer& tiny_tokenizer() {
  static const auto t = bert::tokenizer::WordPieceTokenizer::from_directory(kTokenizerDir);
  return t;
}

// What the cache must hold: the reader's documents, each sentence tokenized directly, empty
// sentences and then empty documents dropped.
std::vector<std::vector<std::vector<uint32_t>>> tokenize_directly(
    const std::vector<std::string>& inputs, const CorpusReaderOptions& o,
    const bert::tokenizer::WordPieceTokenizer& tok) {
  std::vector<std::vector<std::vector<uint32_t>>> docs;
  for (const auto& doc : bert::data::read_corpus_documents(inputs, o)) {
    std::vector<std::vector<uint32_t>> sentences;
    for (const auto& s : doc) {
      const std::vector<int64_t> ids = tok.encode_ids(s);
      if (!ids.empty()) sentences.emplace_back(ids.begin(), ids.end());
    }
    if (!sentences.empty()) docs.push_back(std::move(sentences));
  }
  return docs;
}

void require_same_view(const bert::data::TokenizedCorpusView& got,
                       const bert::data::TokenizedCorpusView& want) {
  REQUIRE(got.num_documents == want.num_documents);
  REQUIRE(got.num_sentences == want.num_sentences);
  REQUIRE(got.num_tokens == want.num_tokens);
  REQUIRE(std::equal(got.tokens, got.tokens + got.num_tokens, want.tokens));
  REQUIRE(std::equal(got.sentence_starts, got.sentence_starts + got.num_sentences + 1, want.sentence_starts));
  REQUIRE(std::equal(got.document_starts, got.document_starts + got.num_documents + 1, want.document_starts));
}

void set_mtime_later(const std::string& path, int seconds) {
  fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(seconds));
}

std::vector<std::string> leftover_tmp_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) out.push_back(e.path().string());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Sentence splitter

TEST_CASE("splitter: terminators followed by a capital end sentences", "[corpus][splitter]") {
  CHECK(split("Hello world. How are you? I am fine! Thanks.") ==
        Sentences{"Hello world.", "How are you?", "I am fine!", "Thanks."});
  CHECK(split("Really?! Yes. Wow!!! Amazing.") == Sentences{"Really?!", "Yes.", "Wow!!!", "Amazing."});
  CHECK(split("It was 1990. 2000 was better.") == Sentences{"It was 1990.", "2000 was better."});
  CHECK(split("Er kam. Übrigens war es kalt.") == Sentences{"Er kam.", "Übrigens war es kalt."});
  CHECK(split("One sentence without an end") == Sentences{"One sentence without an end"});
}

TEST_CASE("splitter: no split before lower case or without whitespace", "[corpus][splitter]") {
  CHECK(split("‘What?’ she asked. Nobody answered.") == Sentences{"‘What?’ she asked.", "Nobody answered."});
  CHECK(split("Call it end.Next thing") == Sentences{"Call it end.Next thing"});
  CHECK(split("Yahoo! is a company.") == Sentences{"Yahoo! is a company."});
  CHECK(split("He shouted “wait!” and ran.") == Sentences{"He shouted “wait!” and ran."});
}

TEST_CASE("splitter: abbreviations do not end sentences", "[corpus][splitter]") {
  CHECK(split("Mr. Smith met Dr. Jones at St. Paul's. They talked.") ==
        Sentences{"Mr. Smith met Dr. Jones at St. Paul's.", "They talked."});
  CHECK(split("Mrs. Bennet and Ms. Lucas called on Prof. Moriarty. He was out.") ==
        Sentences{"Mrs. Bennet and Ms. Lucas called on Prof. Moriarty.", "He was out."});
  CHECK(split("Fruit, e.g. Apples, and nuts, i.e. Walnuts, etc. Were sold.") ==
        Sentences{"Fruit, e.g. Apples, and nuts, i.e. Walnuts, etc. Were sold."});
  CHECK(split("Smith vs. Jones was settled. Acme Inc. Paid.") ==
        Sentences{"Smith vs. Jones was settled.", "Acme Inc. Paid."});
  CHECK(split("Gen. Lee and Col. Mustard met Capt. Hook and Lt. Dan on Mt. Everest.") ==
        Sentences{"Gen. Lee and Col. Mustard met Capt. Hook and Lt. Dan on Mt. Everest."});
  CHECK(split("Martin Luther King Jr. Was born. Sr. Maria too.") ==
        Sentences{"Martin Luther King Jr. Was born.", "Sr. Maria too."});
  CHECK(split("See Fig. 3 and Fig. A for details. Ltd. Co. Names too.") ==
        Sentences{"See Fig. 3 and Fig. A for details.", "Ltd. Co. Names too."});
  // Abbreviations after an opening bracket or quote, and in all capitals.
  CHECK(split("He waved (Mr. Darcy did not). Then he left.") ==
        Sentences{"He waved (Mr. Darcy did not).", "Then he left."});
  CHECK(split("MR. SMITH ARRIVED. THE END.") == Sentences{"MR. SMITH ARRIVED.", "THE END."});
  // The list matches as written: "fig." the fruit ends a sentence.
  CHECK(split("He ate a fig. Then he left.") == Sentences{"He ate a fig.", "Then he left."});
}

TEST_CASE("splitter: number abbreviations need a digit after them", "[corpus][splitter]") {
  CHECK(split("See No. 5 for details. No. I won't.") ==
        Sentences{"See No. 5 for details.", "No.", "I won't."});
  CHECK(split("Read Vol. 2, pp. 10-12. It helps.") == Sentences{"Read Vol. 2, pp. 10-12.", "It helps."});
}

TEST_CASE("splitter: initials and dotted abbreviations", "[corpus][splitter]") {
  CHECK(split("J. R. R. Tolkien wrote it. He was British.") ==
        Sentences{"J. R. R. Tolkien wrote it.", "He was British."});
  CHECK(split("CHAPTER I. Down the Rabbit-Hole") == Sentences{"CHAPTER I. Down the Rabbit-Hole"});
  CHECK(split("The U.S. Army marched. It rained.") == Sentences{"The U.S. Army marched.", "It rained."});
  CHECK(split("É. Zola wrote novels.") == Sentences{"É. Zola wrote novels."});
}

TEST_CASE("splitter: decimals and numbers", "[corpus][splitter]") {
  CHECK(split("Pi is 3.14 roughly. It is irrational.") == Sentences{"Pi is 3.14 roughly.", "It is irrational."});
  CHECK(split("Version 2.0.1 is out. Get it.") == Sentences{"Version 2.0.1 is out.", "Get it."});
  CHECK(split("It costs $4.50. Cheap.") == Sentences{"It costs $4.50.", "Cheap."});
}

TEST_CASE("splitter: closing quotes and brackets stay with their sentence", "[corpus][splitter]") {
  CHECK(split("He said, \"Stop.\" Then he left.") == Sentences{"He said, \"Stop.\"", "Then he left."});
  CHECK(split("‘Oh dear!’ said the Rabbit. ‘I shall be late!’ And off it ran.") ==
        Sentences{"‘Oh dear!’ said the Rabbit.", "‘I shall be late!’", "And off it ran."});
  CHECK(split("(This is one.) This is two.") == Sentences{"(This is one.)", "This is two."});
  CHECK(split("It ended.” “Did it?” she asked.") == Sentences{"It ended.”", "“Did it?” she asked."});
  CHECK(split("She said so.' 'Fine,' he said.") == Sentences{"She said so.'", "'Fine,' he said."});
  CHECK(split("Done. [Applause] Thanks.") == Sentences{"Done.", "[Applause] Thanks."});
  // An opening quote must lead to a capital: no split before ‘and.
  CHECK(split("He stopped. ‘and then?’ he said.") == Sentences{"He stopped. ‘and then?’ he said."});
}

TEST_CASE("splitter: ellipses", "[corpus][splitter]") {
  CHECK(split("I wonder... Maybe not.") == Sentences{"I wonder...", "Maybe not."});
  CHECK(split("Wait… what is it?") == Sentences{"Wait… what is it?"});
  CHECK(split("Wait… What? Nothing.") == Sentences{"Wait…", "What?", "Nothing."});
  CHECK(split("So… ‘Yes’ he said.") == Sentences{"So…", "‘Yes’ he said."});
  CHECK(split("And then . . . Nothing.") == Sentences{"And then . . .", "Nothing."});
}

TEST_CASE("splitter: CJK full stops, whitespace, edge cases", "[corpus][splitter]") {
  CHECK(split("你好。我很好！谢谢？") == Sentences{"你好。", "我很好！", "谢谢？"});
  CHECK(split("").empty());
  CHECK(split("   \t ").empty());
  CHECK(split("  Lead and trail.   Spaces here.  ") == Sentences{"Lead and trail.", "Spaces here."});
  CHECK(split("...") == Sentences{"..."});
  CHECK(split(". A") == Sentences{".", "A"});
  // Views point into the input.
  const std::string text = "First one. Second one.";
  for (std::string_view s : split_sentences(text)) {
    CHECK(s.data() >= text.data());
    CHECK(s.data() + s.size() <= text.data() + text.size());
  }
  // Invalid UTF-8 is never split inside and does not crash.
  CHECK(split("Bad \xC3. \xFF Next. Good.") == Sentences{"Bad \xC3. \xFF Next.", "Good."});
  CHECK(split("Ends in half a char \xE2\x80") == Sentences{"Ends in half a char \xE2\x80"});
  CHECK_FALSE(bert::data::sentence_abbreviations().empty());
  CHECK_FALSE(bert::data::sentence_number_abbreviations().empty());
}

// ---------------------------------------------------------------------------------------------
// Corpus reader

TEST_CASE("reader: prose layout with BOM, CRLF, wrapped lines and blank runs", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "a.txt",
             "\xEF\xBB\xBF"
             "The first line of a paragraph\r\n"
             "  continues here. Second sentence.\r\n"
             "\r\n\r\n \t \r\n\r\n"
             "New paragraph. Mr. Smith\r\n"
             "wraps too.");  // no final newline
  const auto docs = read_docs({tmp / "a.txt"}, CorpusLayout::prose);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0] == Sentences{"The first line of a paragraph continues here.", "Second sentence.",
                             "New paragraph.", "Mr. Smith wraps too."});

  SECTION("paragraphs_per_document cuts documents") {
    const auto cut = read_docs({tmp / "a.txt"}, CorpusLayout::prose, 1);
    REQUIRE(cut.size() == 2);
    CHECK(cut[0] == Sentences{"The first line of a paragraph continues here.", "Second sentence."});
    CHECK(cut[1] == Sentences{"New paragraph.", "Mr. Smith wraps too."});
  }
  SECTION("each file is a document") {
    write_file(tmp / "b.txt", "\n\nOther file.\n");
    write_file(tmp / "c.txt", "\n \n\n");  // no sentences: no document
    const auto two = read_docs({tmp.path().string()}, CorpusLayout::prose);
    REQUIRE(two.size() == 2);
    CHECK(two[1] == Sentences{"Other file."});
  }
}

TEST_CASE("reader: google layout", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "g.txt",
             "\xEF\xBB\xBF"
             "First sentence. Not split here.\r\n"
             "  Second sentence  \r\n"
             "\r\n\r\n"
             "\t\r\n"
             "Doc two, one line.\r\n"
             "\r\n"
             "Doc three.");
  write_file(tmp / "h.txt", "Next file starts a document.\nSecond line.\n\n\n");
  const auto docs = read_docs({tmp / "g.txt", tmp / "h.txt"}, CorpusLayout::google);
  REQUIRE(docs.size() == 4);
  CHECK(docs[0] == Sentences{"First sentence. Not split here.", "Second sentence"});
  CHECK(docs[1] == Sentences{"Doc two, one line."});
  CHECK(docs[2] == Sentences{"Doc three."});
  CHECK(docs[3] == Sentences{"Next file starts a document.", "Second line."});
}

TEST_CASE("reader: invalid UTF-8 names file, line and byte column", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "bad.txt", "fine line\r\nalso fine\r\nab\xFF" "cd\r\n");
  for (CorpusLayout layout : {CorpusLayout::prose, CorpusLayout::google}) {
    const std::string msg = error_of([&] { read_docs({tmp / "bad.txt"}, layout); });
    CHECK_THAT(msg, Catch::Contains(tmp / "bad.txt" + ":3:") && Catch::Contains("byte column 3") &&
                        Catch::Contains("0xFF") && Catch::Contains("UTF-8"));
  }
  // On a line with a BOM the column counts the BOM's bytes, as an editor's byte column would.
  write_file(tmp / "bom.txt", "\xEF\xBB\xBF" "a\xC3(");
  CHECK_THAT(error_of([&] { read_docs({tmp / "bom.txt"}, CorpusLayout::google); }),
             Catch::Contains(":1: invalid UTF-8 at byte column 5"));
  // Latin-1 text, the usual culprit.
  write_file(tmp / "latin1.txt", "Caf\xE9 au lait.\n");
  CHECK_THAT(error_of([&] { read_docs({tmp / "latin1.txt"}, CorpusLayout::prose); }),
             Catch::Contains("latin1.txt:1: invalid UTF-8 at byte column 4"));
}

TEST_CASE("reader: Project Gutenberg header and footer are dropped in prose", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "pg.txt",
             "The Project Gutenberg eBook of Test\r\n\r\nRelease date: never.\r\n\r\n"
             "***START OF THE PROJECT GUTENBERG EBOOK TEST***\r\n\r\n"
             "CHAPTER I. The Start\r\n\r\nReal text here. More of it.\r\n\r\n"
             "End of the Project Gutenberg EBook of Test, by Nobody\r\n\r\n"
             "    *** END OF THE PROJECT GUTENBERG EBOOK TEST ***\r\n\r\n"
             "Licence text. Lots of it.\r\n");
  const auto docs = read_docs({tmp / "pg.txt"}, CorpusLayout::prose);
  REQUIRE(docs.size() == 1);
  CHECK(docs[0] == Sentences{"CHAPTER I. The Start", "Real text here.", "More of it."});

  CorpusReaderOptions keep;
  keep.strip_gutenberg_boilerplate = false;
  const auto all = bert::data::read_corpus_documents({tmp / "pg.txt"}, keep);
  REQUIRE(all.size() == 1);
  CHECK(all[0].front() == "The Project Gutenberg eBook of Test");
  CHECK(all[0].back() == "Lots of it.");

  // Without a start marker, an end-marker-like line is ordinary text.
  write_file(tmp / "plain.txt", "Text.\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n\nMore.\n");
  const auto plain = read_docs({tmp / "plain.txt"}, CorpusLayout::prose);
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].back() == "More.");
}

TEST_CASE("reader: input expansion of files, directories and globs", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "d/b.txt", "B.\n");
  write_file(tmp / "d/a.txt", "A.\n");
  write_file(tmp / "d/sub/c.md", "C.\n");
  write_file(tmp / "d/.hidden", "hidden\n");
  write_file(tmp / "d/.git/config", "hidden too\n");
  write_file(tmp / "e.txt", "E.\n");
  fs::create_directories(tmp.path() / "empty");

  auto paths = [](const std::vector<bert::data::CorpusFile>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(fs::path(f.path).lexically_relative(fs::path(f.path).parent_path().parent_path()).string());
    return out;
  };
  const auto dir = bert::data::expand_corpus_inputs({tmp / "d"});
  REQUIRE(dir.size() == 3);
  CHECK(fs::path(dir[0].path).filename() == "a.txt");
  CHECK(fs::path(dir[1].path).filename() == "b.txt");
  CHECK(fs::path(dir[2].path).filename() == "c.md");
  CHECK(dir[0].size == 3);
  CHECK(fs::path(dir[0].path).is_absolute());

  // A glob, sorted globally and de-duplicated with the explicit file.
  const auto globbed = bert::data::expand_corpus_inputs({tmp / "*.txt", tmp / "d/*.txt", tmp / "e.txt"});
  REQUIRE(globbed.size() == 3);
  CHECK(paths(globbed) == std::vector<std::string>{"d/a.txt", "d/b.txt", fs::path(tmp.path()).filename().string() + "/e.txt"});

  // A glob that matches a directory expands it.
  CHECK(bert::data::expand_corpus_inputs({tmp / "d*"}).size() == 3);

  CHECK_THAT(error_of([&] { bert::data::expand_corpus_inputs({tmp / "missing.txt"}); }),
             Catch::Contains("missing.txt") && Catch::Contains("no such file"));
  CHECK_THAT(error_of([&] { bert::data::expand_corpus_inputs({tmp / "*.nothing"}); }),
             Catch::Contains("*.nothing") && Catch::Contains("matches no file"));
  CHECK_THAT(error_of([&] { bert::data::expand_corpus_inputs({tmp / "empty"}); }),
             Catch::Contains("contains no files"));
  CHECK_THAT(error_of([] { bert::data::parse_corpus_layout("wiki"); }),
             Catch::Contains("\"wiki\"") && Catch::Contains("google") && Catch::Contains("prose"));
  CHECK(bert::data::parse_corpus_layout("google") == CorpusLayout::google);
}

TEST_CASE("reader: progress reaches the total, long lines are an error", "[corpus][reader]") {
  TempDir tmp;
  write_file(tmp / "a.txt", "One. Two.\n\nThree.\n");
  write_file(tmp / "b.txt", "Four.\n");
  const auto files = bert::data::expand_corpus_inputs({tmp.path().string()});
  uint64_t last = 0;
  size_t sentences = 0, documents = 0;
  bert::data::CorpusCallbacks cb;
  cb.sentence = [&](std::string_view) { ++sentences; };
  cb.end_document = [&] { ++documents; };
  cb.progress = [&](uint64_t b) {
    CHECK(b >= last);
    last = b;
  };
  bert::data::read_corpus(files, CorpusReaderOptions{}, cb);
  CHECK(sentences == 4);
  CHECK(documents == 2);
  CHECK(last == files[0].size + files[1].size);

  write_file(tmp / "long.txt", std::string(bert::data::kMaxLineBytes + 10, 'a'));
  CHECK_THAT(error_of([&] { read_docs({tmp / "long.txt"}, CorpusLayout::google); }),
             Catch::Contains("long.txt:1: line longer than"));
}

TEST_CASE("reader: a prose file without blank lines is read in bounded pieces", "[corpus][reader]") {
  TempDir tmp;
  std::string text;
  const size_t n = 100000;  // 1.6 MB, more than kMaxParagraphBytes, in one "paragraph"
  for (size_t i = 0; i < n; ++i) text += "Word word word.\n";
  REQUIRE(text.size() > bert::data::kMaxParagraphBytes);
  write_file(tmp / "flat.txt", text);
  size_t sentences = 0, documents = 0, longest = 0;
  bert::data::CorpusCallbacks cb;
  cb.sentence = [&](std::string_view s) {
    ++sentences;
    longest = std::max(longest, s.size());
  };
  cb.end_document = [&] { ++documents; };
  bert::data::read_corpus(bert::data::expand_corpus_inputs({tmp / "flat.txt"}), CorpusReaderOptions{}, cb);
  CHECK(sentences == n);
  CHECK(documents == 1);
  CHECK(longest == std::string("Word word word.").size());
}

TEST_CASE("reader: Alice in Wonderland reads as plausible prose", "[corpus][reader]") {
  const std::string alice = bert::test::data_path("corpus/alice-in-wonderland.txt");
  const auto docs = read_docs({alice}, CorpusLayout::prose);
  REQUIRE(docs.size() == 1);
  const Sentences& s = docs[0];
  INFO(s.size() << " sentences");
  CHECK(s.size() > 900);
  CHECK(s.size() < 2500);
  auto has = [&](const std::string& want) { return std::find(s.begin(), s.end(), want) != s.end(); };
  CHECK(has("In another moment down went Alice after it, never once considering how in the world "
            "she was to get out again."));
  CHECK(has("Alice was not a bit hurt, and she jumped up on to her feet in a moment: she looked up, "
            "but it was all dark overhead; before her was another long passage, and the White Rabbit "
            "was still in sight, hurrying down it."));
  CHECK(s.front() == "ALICE’S ADVENTURES IN WONDERLAND");
  CHECK(s.back() == "THE END");
  for (const auto& sentence : s) {
    INFO(sentence);
    CHECK(sentence.find("Project Gutenberg") == std::string::npos);  // licence dropped
    CHECK(sentence.find('\r') == std::string::npos);
    CHECK(sentence.front() != ' ');  // wrapped lines are joined with one space, then trimmed
    CHECK(sentence.back() != ' ');
  }
}

// ---------------------------------------------------------------------------------------------
// Token cache

namespace {

TokenCacheOptions cache_options(const TempDir& tmp, std::vector<std::string> inputs,
                                CorpusLayout layout = CorpusLayout::prose) {
  TokenCacheOptions o;
  o.inputs = std::move(inputs);
  o.reader.layout = layout;
  o.tokenizer_dir = kTokenizerDir;
  o.cache_dir = tmp / "cache";
  o.show_progress = false;
  o.threads = 2;
  o.batch_bytes = 64;  // many small batches: exercises batch edges in a tiny corpus
  return o;
}

void write_small_corpus(const TempDir& tmp) {
  write_file(tmp / "corpus/one.txt",
             "\xEF\xBB\xBF" "Alice was beginning to get very tired. She had\r\n"
             "nothing to do!\r\n\r\n‘What is the use of a book,’ thought Alice. Dr. Who?\r\n");
  write_file(tmp / "corpus/two.txt", "\n\n\n");  // no document
  write_file(tmp / "corpus/three.txt",
             "\x01\x02\n\nThe cat sat on the mat. It was 3.14 metres wide.\nSo it goes.\n");
}

}  // namespace

TEST_CASE("cache: build equals direct tokenization, then is reused", "[corpus][cache]") {
  TempDir tmp;
  write_small_corpus(tmp);
  const TokenCacheOptions o = cache_options(tmp, {tmp / "corpus"});
  const auto want_docs = tokenize_directly(o.inputs, o.reader, tiny_tokenizer());
  const bert::data::InMemoryCorpus want(want_docs);

  {
    const TokenCache built = TokenCache::open(o);
    CHECK_FALSE(built.stats().reused);
    CHECK(built.stats().files == 3);
    CHECK(built.stats().documents == 2);
    CHECK(built.stats().sentences == 7);  // "\x01\x02" tokenizes to nothing and is dropped
    CHECK(built.stats().tokens == want.view().num_tokens);
    CHECK(built.stats().fingerprint.size() == 16);
    CHECK(built.stats().build_seconds > 0);
    require_same_view(built.view(), want.view());
    CHECK_THAT(built.summary(), Catch::Contains("built now"));
  }
  const TokenCache reused = TokenCache::open(o, &tiny_tokenizer());
  CHECK(reused.stats().reused);
  CHECK(reused.stats().documents == 2);
  CHECK_THAT(reused.summary(), Catch::Contains("reused"));
  require_same_view(reused.view(), want.view());
  CHECK(leftover_tmp_files(tmp.path() / "cache").empty());

  SECTION("a moved TokenCache keeps its view") {
    TokenCache moved = TokenCache::open(o);
    TokenCache other = std::move(moved);
    require_same_view(other.view(), want.view());
  }
  SECTION("relative inputs reuse the cache built from absolute ones") {
    struct RestoreCwd {
      fs::path old = fs::current_path();
      ~RestoreCwd() { fs::current_path(old); }
    } restore;
    fs::current_path(tmp.path());
    TokenCacheOptions rel = o;
    rel.inputs = {"corpus"};
    CHECK(TokenCache::open(rel).stats().reused);
  }
}

TEST_CASE("cache: rebuilt when the corpus, tokenizer or options change", "[corpus][cache]") {
  TempDir tmp;
  write_small_corpus(tmp);
  // A private copy of the tokenizer, so that it can be changed.
  fs::create_directories(tmp.path() / "tok");
  fs::copy_file(kTokenizerDir + "/vocab.txt", tmp / "tok/vocab.txt");
  fs::copy_file(kTokenizerDir + "/tokenizer_config.json", tmp / "tok/tokenizer_config.json");
  TokenCacheOptions o = cache_options(tmp, {tmp / "corpus"});
  o.tokenizer_dir = tmp / "tok";
  REQUIRE_FALSE(TokenCache::open(o).stats().reused);
  REQUIRE(TokenCache::open(o).stats().reused);

  SECTION("touching a file") {
    set_mtime_later(tmp / "corpus/three.txt", 5);
    CHECK_FALSE(TokenCache::open(o).stats().reused);
    CHECK(TokenCache::open(o).stats().reused);
  }
  SECTION("editing a file") {
    write_file(tmp / "corpus/three.txt", "Completely new text. Two sentences.\n");
    const TokenCache c = TokenCache::open(o);
    CHECK_FALSE(c.stats().reused);
    CHECK(c.stats().sentences == 6);
    require_same_view(c.view(), bert::data::InMemoryCorpus(tokenize_directly(o.inputs, o.reader, tiny_tokenizer())).view());
  }
  SECTION("adding a file") {
    write_file(tmp / "corpus/four.txt", "More text.\n");
    const TokenCache c = TokenCache::open(o);
    CHECK_FALSE(c.stats().reused);
    CHECK(c.stats().documents == 3);
  }
  SECTION("changing the tokenizer") {
    const std::string cfg = tmp / "tok/tokenizer_config.json";
    std::string text = bert::read_text_file(cfg);
    const auto at = text.find("\"do_lower_case\": true");
    REQUIRE(at != std::string::npos);
    text.replace(at, std::strlen("\"do_lower_case\": true"), "\"do_lower_case\": false");
    write_file(cfg, text);
    const TokenCache c = TokenCache::open(o);
    CHECK_FALSE(c.stats().reused);
    // Cased tokenization of the same text: a capitalised word now maps to another id.
    auto cased = bert::tokenizer::WordPieceTokenizer::from_directory(tmp / "tok");
    require_same_view(c.view(), bert::data::InMemoryCorpus(tokenize_directly(o.inputs, o.reader, cased)).view());
  }
  SECTION("changing the layout or its options") {
    TokenCacheOptions g = o;
    g.reader.layout = CorpusLayout::google;
    CHECK_FALSE(TokenCache::open(g).stats().reused);
    TokenCacheOptions p = o;
    p.reader.paragraphs_per_document = 1;
    CHECK_FALSE(TokenCache::open(p).stats().reused);
    CHECK(TokenCache::open(p).stats().reused);
  }
  SECTION("forcing a rebuild") {
    TokenCacheOptions f = o;
    f.force_rebuild = true;
    CHECK_FALSE(TokenCache::open(f).stats().reused);
  }
}

TEST_CASE("cache: truncated, corrupt or incomplete files are detected and rebuilt", "[corpus][cache]") {
  TempDir tmp;
  write_small_corpus(tmp);
  const TokenCacheOptions o = cache_options(tmp, {tmp / "corpus"});
  const bert::data::InMemoryCorpus want(tokenize_directly(o.inputs, o.reader, tiny_tokenizer()));
  REQUIRE_FALSE(TokenCache::open(o).stats().reused);
  const fs::path dir = o.cache_dir;

  auto patch = [](const fs::path& file, size_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };

  SECTION("truncated token file") {
    fs::resize_file(dir / "tokens.u32", fs::file_size(dir / "tokens.u32") - 4);
  }
  SECTION("truncated to less than a header") { fs::resize_file(dir / "documents.u64", 10); }
  SECTION("bad magic") { patch(dir / "sentences.u64", 0, "XXXX"); }
  SECTION("offsets out of order") {
    patch(dir / "sentences.u64", 64 + 8 * 2, std::string(8, '\xFF'));
  }
  SECTION("a file from another build") {
    const TempDir other;
    write_small_corpus(other);
    TokenCacheOptions o2 = cache_options(other, {other / "corpus"});
    REQUIRE_FALSE(TokenCache::open(o2).stats().reused);
    fs::copy_file(fs::path(o2.cache_dir) / "documents.u64", dir / "documents.u64",
                  fs::copy_options::overwrite_existing);
  }
  SECTION("missing meta.json (an interrupted build)") {
    fs::remove(dir / "meta.json");
    write_file((dir / "tokens.u32.tmp.12345").string(), "partial");
  }
  SECTION("garbage meta.json") { write_file((dir / "meta.json").string(), "{\"format_version\": 1,"); }
  SECTION("missing data file") { fs::remove(dir / "sentences.u64"); }

  const TokenCache c = TokenCache::open(o);
  CHECK_FALSE(c.stats().reused);
  require_same_view(c.view(), want.view());
  CHECK(TokenCache::open(o).stats().reused);
}

TEST_CASE("cache: a failed build leaves no complete-looking cache behind", "[corpus][cache]") {
  TempDir tmp;
  write_small_corpus(tmp);
  const TokenCacheOptions o = cache_options(tmp, {tmp / "corpus"});
  REQUIRE_FALSE(TokenCache::open(o).stats().reused);
  // A file with invalid UTF-8 near its end: the build fails half-way.
  write_file(tmp / "corpus/zz.txt", std::string(2000, 'x') + " Text.\n\nMore text. Bad \xC0 byte.\n");
  CHECK_THAT(error_of([&] { TokenCache::open(o); }), Catch::Contains("zz.txt:3: invalid UTF-8"));
  const fs::path dir = o.cache_dir;
  CHECK_FALSE(fs::exists(dir / "meta.json"));
  CHECK(leftover_tmp_files(dir).empty());
  write_file(tmp / "corpus/zz.txt", "Fixed now.\n");
  const TokenCache c = TokenCache::open(o);
  CHECK_FALSE(c.stats().reused);
  CHECK(c.stats().documents == 3);
}

TEST_CASE("cache: a cache directory inside the corpus directory is not corpus", "[corpus][cache]") {
  TempDir tmp;
  write_small_corpus(tmp);
  TokenCacheOptions o = cache_options(tmp, {tmp / "corpus"});
  o.cache_dir = tmp / "corpus/cache/";
  const TokenCache built = TokenCache::open(o);
  CHECK(built.stats().files == 3);
  const TokenCache again = TokenCache::open(o);
  CHECK(again.stats().reused);
  CHECK(again.stats().files == 3);
}

TEST_CASE("cache: empty corpus and bad options are errors", "[corpus][cache]") {
  TempDir tmp;
  write_file(tmp / "empty/a.txt", "\n\n  \n");
  write_file(tmp / "empty/b.txt", "\x01\x02\n");  // a sentence, but no tokens
  TokenCacheOptions o = cache_options(tmp, {tmp / "empty"});
  CHECK_THAT(error_of([&] { TokenCache::open(o); }), Catch::Contains("yields no tokens"));
  CHECK_FALSE(fs::exists(fs::path(o.cache_dir) / "meta.json"));

  write_file(tmp / "ok.txt", "Text.\n");
  TokenCacheOptions no_tok = cache_options(tmp, {tmp / "ok.txt"});
  no_tok.tokenizer_dir = tmp / "nowhere";
  CHECK_THAT(error_of([&] { TokenCache::open(no_tok); }), Catch::Contains("no tokenizer files"));
  TokenCacheOptions no_inputs = cache_options(tmp, {});
  CHECK_THAT(error_of([&] { TokenCache::open(no_inputs); }), Catch::Contains("no corpus inputs"));
  TokenCacheOptions bad_input = cache_options(tmp, {tmp / "nope/*.txt"});
  CHECK_THAT(error_of([&] { TokenCache::open(bad_input); }), Catch::Contains("matches no file"));
  write_file(tmp / "file-not-dir", "x");
  TokenCacheOptions bad_dir = cache_options(tmp, {tmp / "ok.txt"});
  bad_dir.cache_dir = tmp / "file-not-dir/cache";
  CHECK_THAT(error_of([&] { TokenCache::open(bad_dir); }), Catch::Contains("cannot create"));
}

TEST_CASE("cache: Alice in Wonderland, 1 thread and all threads agree", "[corpus][cache]") {
  TempDir tmp;
  const std::string alice = bert::test::data_path("corpus/alice-in-wonderland.txt");
  TokenCacheOptions o = cache_options(tmp, {alice});
  o.batch_bytes = size_t{1} << 16;
  o.threads = 1;
  const TokenCache one = TokenCache::open(o);
  TokenCacheOptions all = o;
  all.cache_dir = tmp / "cache-all";
  all.threads = 0;
  const TokenCache many = TokenCache::open(all);
  require_same_view(one.view(), many.view());
  const auto& s = one.stats();
  CHECK(s.documents == 1);
  CHECK(s.sentences > 900);
  CHECK(s.tokens > 30000);
  CHECK(s.tokens < 60000);
  // The known sentence is in the cache as its own token span.
  const auto& tok = tiny_tokenizer();
  const std::vector<int64_t> ids = tok.encode_ids(
      "In another moment down went Alice after it, never once considering how in the world she "
      "was to get out again.");
  const auto v = one.view();
  bool found = false;
  for (size_t i = 0; i < v.num_sentences && !found; ++i) {
    found = v.sentence_length(i) == ids.size() &&
            std::equal(ids.begin(), ids.end(), v.sentence_tokens(i),
                       [](int64_t a, uint32_t b) { return static_cast<uint32_t>(a) == b; });
  }
  CHECK(found);
}
