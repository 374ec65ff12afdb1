// Tests of the SentencePiece tokenizer, its trainer, load_tokenizer() and the `bert tokenizer`
// CLI. Small unigram and BPE models are trained once per run on the bundled Alice corpus (a
// second or two) into a temporary directory, then checked for what the rest of the project relies
// on: special ids 0..4, decode(encode(x)) == normalized x over the whole corpus, offsets that
// point at the right bytes, word ids, pairs and longest_first truncation, thread safety, and
// errors that name the file at fault. The [cli] case runs the real binary (BERT_BINARY_PATH).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bert/tokenizer/load.h"
#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"

namespace fs = std::filesystem;
using bert::tokenizer::Encoding;
using bert::tokenizer::SentencePieceTokenizer;
using bert::tokenizer::SentencePieceTrainOptions;

namespace {

const std::string kCorpus = BERT_TEST_DATA_DIR "/corpus/alice-in-wonderland.txt";

fs::path temp_root() {
  static const fs::path root = [] {
    auto p = fs::temp_directory_path() / ("bert_spm_test_" + std::to_string(::getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    // Removed at exit; the models are shared by every test case of the run.
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("bert_spm_test_" + std::to_string(::getpid()))); });
    return p;
  }();
  return root;
}

SentencePieceTrainOptions train_options(const std::string& type, int vocab, const std::string& name) {
  SentencePieceTrainOptions o;
  o.inputs = {kCorpus};
  o.type = type;
  o.vocab_size = vocab;
  o.threads = 2;
  o.out_dir = (temp_root() / name).string();
  return o;
}

// Unigram, every character covered: every corpus line must round-trip exactly.
const fs::path& unigram_dir() {
  static const fs::path dir = [] {
    auto o = train_options("unigram", 800, "unigram");
    o.character_coverage = 1.0;
    bert::tokenizer::train_sentencepiece(o);
    return fs::path(o.out_dir);
  }();
  return dir;
}

// BPE with the default coverage: rare characters become [UNK].
const fs::path& bpe_dir() {
  static const fs::path dir = [] {
    auto o = train_options("bpe", 1000, "bpe");
    bert::tokenizer::train_sentencepiece(o);
    return fs::path(o.out_dir);
  }();
  return dir;
}

const SentencePieceTokenizer& unigram() {
  static const SentencePieceTokenizer t = SentencePieceTokenizer::from_directory(unigram_dir().string());
  return t;
}
const SentencePieceTokenizer& bpe() {
  static const SentencePieceTokenizer t = SentencePieceTokenizer::from_directory(bpe_dir().string());
  return t;
}

// Non-blank corpus lines, "\r" stripped (as the trainer reads them).
const std::vector<std::string>& corpus_lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    std::ifstream in(kCorpus, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") != std::string::npos) out.push_back(line);
    }
    return out;
  }();
  return lines;
}

// What nmt_nfkc does to ordinary text: NFKC, drop format characters such as the BOM, and
// collapse whitespace runs to one space with none at either end.
std::string nmt_normalize(const std::string& s) {
  utf8proc_uint8_t* nfkc = utf8proc_NFKC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  REQUIRE(nfkc != nullptr);
  const std::string n(reinterpret_cast<char*>(nfkc));
  std::free(nfkc);
  std::string out;
  bool space = false;
  for (utf8proc_ssize_t pos = 0; pos < static_cast<utf8proc_ssize_t>(n.size());) {
    utf8proc_int32_t cp;
    const utf8proc_ssize_t len =
        utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(n.data()) + pos, n.size() - pos, &cp);
    REQUIRE(len > 0);
    const auto cat = utf8proc_category(cp);
    if (cp == ' ' || cp == '\t' || cat == UTF8PROC_CATEGORY_ZS) {
      space = true;
    } else if (cat != UTF8PROC_CATEGORY_CF) {
      if (space && !out.empty()) out += ' ';
      space = false;
      out.append(n, pos, len);
    }
    pos += len;
  }
  return out;
}

std::string strip_meta(const std::string& piece) {
  const std::string meta = "\xE2\x96\x81";
  return piece.rfind(meta, 0) == 0 ? piece.substr(meta.size()) : piece;
}

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("trained models reserve the special ids 0..4", "[sentencepiece][train]") {
  for (const fs::path* dir : {&unigram_dir(), &bpe_dir()}) {
    INFO("model " << dir->string());
    CHECK(fs::is_regular_file(*dir / "spm.model"));
    CHECK(fs::is_regular_file(*dir / "spm.vocab"));
    const SentencePieceTokenizer t = SentencePieceTokenizer::from_directory(dir->string());
    CHECK(t.pad_id() == 0);
    CHECK(t.unk_id() == 1);
    CHECK(t.cls_id() == 2);
    CHECK(t.sep_id() == 3);
    CHECK(t.mask_id() == 4);
    const std::vector<std::string> names = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int64_t id = 0; id < 5; ++id) {
      CHECK(t.id_to_token(id) == names[id]);
      CHECK(t.token_to_id(names[id]) == id);
    }
    CHECK(t.token_to_id("no such piece") == -1);
    CHECK(t.id_to_token(-1) == "[UNK]");
    CHECK(t.id_to_token(t.vocab_size()) == "[UNK]");
    const auto cfg = nlohmann::json::parse(std::ifstream(*dir / "tokenizer_config.json"));
    // transformers builds the class it names from the tokenizer.json beside it.
    CHECK(cfg["tokenizer_class"] == bert::tokenizer::kHuggingFaceFastTokenizerClass);
    CHECK(fs::is_regular_file(*dir / "tokenizer.json"));
    CHECK(cfg["special_token_ids"]["[MASK]"] == 4);
    CHECK(cfg["mask_token"] == "[MASK]");
  }
  CHECK(unigram().vocab_size() == 800);
  CHECK(bpe().vocab_size() == 1000);
  const auto cfg = nlohmann::json::parse(std::ifstream(bpe_dir() / "tokenizer_config.json"));
  CHECK(cfg["model_type"] == "bpe");
  CHECK(cfg["normalization_rule"] == "nmt_nfkc");
}

TEST_CASE("decode(encode(x)) is the normalized text for every corpus line", "[sentencepiece][decode]") {
  const auto& lines = corpus_lines();
  REQUIRE(lines.size() > 2500);
  // Unigram with full character coverage: exact for every line.
  size_t exact = 0;
  for (const auto& line : lines) {
    const Encoding e = unigram().encode(line);
    const bool same = unigram().decode(e.ids) == nmt_normalize(line);
    if (!same) UNSCOPED_INFO("line: " << line << "\ndecoded: " << unigram().decode(e.ids));
    exact += same;
    CHECK(std::count(e.ids.begin(), e.ids.end(), unigram().unk_id()) == 0);
  }
  CHECK(exact == lines.size());

  // BPE with 0.9995 coverage: lines without [UNK] are exact, and [UNK] is rare.
  size_t with_unk = 0, bpe_exact = 0;
  for (const auto& line : lines) {
    const Encoding e = bpe().encode(line);
    if (std::count(e.ids.begin(), e.ids.end(), bpe().unk_id()) > 0) {
      ++with_unk;
      continue;
    }
    bpe_exact += bpe().decode(e.ids) == nmt_normalize(line);
  }
  CHECK(bpe_exact + with_unk == lines.size());
  CHECK(with_unk < lines.size() / 20);  // 49 of 2791 lines with sentencepiece 0.1.97
  CHECK(unigram().decode({}) == "");
}

TEST_CASE("decode with and without special tokens", "[sentencepiece][decode]") {
  const auto& t = unigram();
  const Encoding e = t.encode("Alice was beginning", std::string_view("to get very tired"));
  CHECK(t.decode(e.ids) == "Alice was beginning to get very tired");
  CHECK(t.decode(e.ids, false) == "[CLS] Alice was beginning [SEP] to get very tired [SEP]");
  const std::vector<int64_t> padded = {t.cls_id(), t.token_to_id("\xE2\x96\x81" "the"), t.sep_id(),
                                       t.pad_id(), t.pad_id()};
  CHECK(t.decode(padded) == "the");
  CHECK(t.decode(padded, false) == "[CLS] the [SEP] [PAD] [PAD]");
  // Out of range: the unknown token, never a crash inside sentencepiece.
  CHECK(t.decode({t.token_to_id("\xE2\x96\x81" "the"), 999999}) == "the [UNK]");
  CHECK(t.decode({-5}, false) == "[UNK]");
}

TEST_CASE("encode_ids and tokenize agree with encode", "[sentencepiece]") {
  const auto& t = bpe();
  const std::string text = "\"Curiouser and curiouser!\" cried Alice";
  const Encoding e = t.encode(text);
  const auto ids = t.encode_ids(text);
  CHECK(std::vector<int64_t>(e.ids.begin() + 1, e.ids.end() - 1) == ids);
  const auto pieces = t.tokenize(text);
  CHECK(std::vector<std::string>(e.tokens.begin() + 1, e.tokens.end() - 1) == pieces);
  for (size_t i = 0; i < e.size(); ++i) CHECK(e.tokens[i] == t.id_to_token(e.ids[i]));
  CHECK(e.attention_mask == std::vector<int64_t>(e.size(), 1));
}

TEST_CASE("offsets point at the bytes of each piece", "[sentencepiece][offsets]") {
  const auto& t = unigram();
  SECTION("hand-written text: spaces, tabs, multi-byte characters") {
    const std::string text = "  Alice\tsaid:  \xE2\x80\x9C" "Curious\xE2\x80\x9D  caf\xC3\xA9 ";
    const Encoding e = t.encode(text);
    std::string visible;
    for (size_t i = 1; i + 1 < e.size(); ++i) {
      const auto [b, en] = e.offsets[i];
      REQUIRE(b <= en);
      REQUIRE(en <= text.size());
      const std::string src = text.substr(b, en - b);
      INFO("piece " << e.tokens[i] << " source '" << src << "'");
      if (e.tokens[i] == "\xE2\x96\x81") {  // a lone word boundary: the whitespace itself
        CHECK(src.find_first_not_of(" \t") == std::string::npos);
        continue;
      }
      if (e.ids[i] != t.unk_id()) CHECK(src == strip_meta(e.tokens[i]));
      CHECK(src.find_first_of(" \t") == std::string::npos);
      visible += src;
    }
    CHECK(visible == "Alicesaid:\xE2\x80\x9C" "Curious\xE2\x80\x9D" "caf\xC3\xA9");
    CHECK(e.offsets.front() == std::make_pair<size_t, size_t>(0, 0));
    CHECK(e.offsets.back() == std::make_pair<size_t, size_t>(0, 0));
  }
  SECTION("every ASCII corpus line: the source bytes are the piece") {
    size_t checked = 0;
    for (const auto& line : corpus_lines()) {
      const Encoding e = t.encode(line);
      size_t prev_end = 0;
      for (size_t i = 1; i + 1 < e.size(); ++i) {
        const auto [b, en] = e.offsets[i];
        REQUIRE(b >= prev_end);  // in order, no overlap
        REQUIRE(en <= line.size());
        prev_end = en;
        if (!is_ascii(line)) continue;
        const std::string src = line.substr(b, en - b);
        // A lone "▁" piece stands for the whitespace before a word: that is its source.
        const bool space = e.tokens[i] == "\xE2\x96\x81" && src.find_first_not_of(" ") == std::string::npos;
        if (src != strip_meta(e.tokens[i]) && !space)
          FAIL("line '" << line << "' piece " << e.tokens[i] << " source '" << src << "'");
        ++checked;
      }
    }
    CHECK(checked > 20000);
  }
  SECTION("pieces of one expanded character share its range") {
    // NFKC turns "½" into "1⁄2": several pieces from one source character.
    const std::string text = "paying 4\xC2\xBD per cent";
    const Encoding e = t.encode(text);
    size_t sharing = 0;
    for (size_t i = 1; i + 1 < e.size(); ++i) {
      INFO("piece " << e.tokens[i] << " at " << e.offsets[i].first << ".." << e.offsets[i].second);
      CHECK(e.offsets[i].first < e.offsets[i].second);  // none points nowhere
      if (e.offsets[i] == std::make_pair<size_t, size_t>(8, 10)) ++sharing;
    }
    CHECK(sharing >= 2);
  }
  SECTION("a special token in the text is cut out with its own bytes, no lone \xE2\x96\x81 before it") {
    // As transformers splits at its added tokens: "the " and " sat" are encoded apart.
    const std::string text = "the [MASK] sat";
    const Encoding e = t.encode(text);
    const auto it = std::find(e.ids.begin(), e.ids.end(), t.mask_id());
    REQUIRE(it != e.ids.end());
    const size_t m = static_cast<size_t>(it - e.ids.begin());
    CHECK(e.offsets[m] == std::make_pair<size_t, size_t>(4, 10));
    CHECK(e.tokens[m - 1] != "\xE2\x96\x81");
    CHECK(e.offsets[m - 1].second == 3);  // "the" ends before the space
    CHECK(e.offsets[m + 1].first == 11);  // "sat" starts after it
    CHECK(e.word_ids[m + 1] == e.word_ids[m] + 1);
  }
}

TEST_CASE("word ids start at each \xE2\x96\x81 piece and count per sequence", "[sentencepiece][offsets]") {
  const auto& t = bpe();
  const Encoding e = t.encode("Alice's unbelievable adventures", std::string_view("Queen of Hearts"));
  int64_t expected = -1;
  int64_t seq = -1;
  for (size_t i = 0; i < e.size(); ++i) {
    INFO("token " << i << " " << e.tokens[i]);
    if (e.sequence_ids[i] < 0) {
      CHECK(e.word_ids[i] == -1);
      continue;
    }
    if (e.sequence_ids[i] != seq) {
      seq = e.sequence_ids[i];
      expected = -1;
    }
    if (expected < 0 || e.tokens[i].rfind("\xE2\x96\x81", 0) == 0) ++expected;
    CHECK(e.word_ids[i] == expected);
  }
  // 3 words in the text, 3 in the pair; "unbelievable" needs several pieces in a 1000 vocab.
  CHECK(*std::max_element(e.word_ids.begin(), e.word_ids.end()) == 2);
  CHECK(e.size() > 6 + 3);
  // Special tokens found in the text are words of their own.
  const Encoding m = t.encode("the[MASK]sat");
  std::vector<int64_t> words(m.word_ids.begin() + 1, m.word_ids.end() - 1);
  const size_t at = static_cast<size_t>(std::find(m.ids.begin(), m.ids.end(), t.mask_id()) - m.ids.begin());
  CHECK(m.word_ids[at] == m.word_ids[at - 1] + 1);
  CHECK(m.word_ids[at + 1] == m.word_ids[at] + 1);
}

TEST_CASE("pairs and longest_first truncation", "[sentencepiece][truncation]") {
  const auto& t = unigram();
  const std::string a = "Alice was beginning to get very tired of sitting by her sister on the bank";
  const std::string b = "and of having nothing to do";
  const Encoding full = t.encode(a, std::string_view(b));
  const size_t la = static_cast<size_t>(std::count(full.sequence_ids.begin(), full.sequence_ids.end(), 0));
  const size_t lb = static_cast<size_t>(std::count(full.sequence_ids.begin(), full.sequence_ids.end(), 1));
  REQUIRE(la > lb + 4);
  CHECK(full.ids.front() == t.cls_id());
  CHECK(full.ids[la + 1] == t.sep_id());
  CHECK(full.ids.back() == t.sep_id());
  CHECK(std::count(full.type_ids.begin(), full.type_ids.end(), 1) == static_cast<long>(lb + 1));
  CHECK(full.type_ids[la + 1] == 0);

  // Reference: the tokenizers library's rule. The shorter (second) text is kept whole while it fits
  // in half of the budget; after that each keeps half, the longer (first) one the odd token.
  for (size_t max_length = 3; max_length <= la + lb + 4; ++max_length) {
    const size_t budget = max_length - 3;
    size_t ka = la, kb = lb;
    if (ka + kb > budget) {
      kb = std::min(lb, budget / 2);
      ka = lb <= budget / 2 ? budget - lb : budget / 2 + budget % 2;
    }
    const Encoding e = t.encode(a, std::string_view(b), max_length);
    INFO("max_length " << max_length);
    CHECK(e.size() == std::min(max_length, la + lb + 3));
    CHECK(static_cast<size_t>(std::count(e.sequence_ids.begin(), e.sequence_ids.end(), 0)) == ka);
    CHECK(static_cast<size_t>(std::count(e.sequence_ids.begin(), e.sequence_ids.end(), 1)) == kb);
    // Truncation keeps the first pieces: a prefix of the untruncated encoding.
    CHECK(std::equal(e.ids.begin() + 1, e.ids.begin() + 1 + static_cast<long>(ka), full.ids.begin() + 1));
  }
  const Encoding single = t.encode(a, std::nullopt, 5);
  CHECK(single.size() == 5);
  CHECK(single.ids.back() == t.sep_id());
  CHECK(t.encode(a, std::nullopt, 2).size() == 2);
  CHECK_THROWS_AS(t.encode(a, std::nullopt, 1), bert::Error);
  CHECK_THROWS_AS(t.encode(a, std::string_view(b), 2), bert::Error);
  // Empty texts.
  CHECK(t.encode("").ids == std::vector<int64_t>{t.cls_id(), t.sep_id()});
  CHECK(t.encode("", std::string_view("")).size() == 3);
}

TEST_CASE("special tokens in the text map to their ids", "[sentencepiece][special]") {
  for (const SentencePieceTokenizer* t : {&unigram(), &bpe()}) {
    const Encoding e = t->encode("The [MASK] sat on the mat. [SEP] [CLS]");
    CHECK(std::count(e.ids.begin(), e.ids.end(), t->mask_id()) == 1);
    CHECK(std::count(e.ids.begin(), e.ids.end(), t->sep_id()) == 2);  // text's + the added one
    CHECK(std::count(e.ids.begin(), e.ids.end(), t->cls_id()) == 2);
    CHECK(t->decode(e.ids) == "The sat on the mat.");
    // [PAD] too, although sentencepiece never makes its control piece from text: transformers
    // matches every special token written in a text.
    const Encoding p = t->encode("[PAD]");
    CHECK(std::count(p.ids.begin(), p.ids.end(), t->pad_id()) == 1);
  }
}

TEST_CASE("characters outside the vocabulary become [UNK]", "[sentencepiece]") {
  const auto& t = bpe();
  const std::string text = "Alice \xE4\xB8\xAD\xE6\x96\x87 Wonderland";  // two CJK characters
  const Encoding e = t.encode(text);
  const auto it = std::find(e.ids.begin(), e.ids.end(), t.unk_id());
  REQUIRE(it != e.ids.end());
  const auto [b, en] = e.offsets[static_cast<size_t>(it - e.ids.begin())];
  CHECK(text.substr(b, en - b) == "\xE4\xB8\xAD\xE6\x96\x87");
  CHECK(t.decode(e.ids) == "Alice Wonderland");
  CHECK(t.decode(e.ids, false).find("[UNK]") != std::string::npos);
}

TEST_CASE("encode_batch on several threads equals encode", "[sentencepiece][batch]") {
  const auto& t = unigram();
  const auto& texts = corpus_lines();
  std::vector<std::string> pairs(texts.rbegin(), texts.rend());
  for (int threads : {1, 4}) {
    const auto batch = t.encode_batch(texts, &pairs, 40, threads);
    REQUIRE(batch.size() == texts.size());
    size_t same = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const Encoding e = t.encode(texts[i], std::string_view(pairs[i]), 40);
      same += e.ids == batch[i].ids && e.offsets == batch[i].offsets && e.word_ids == batch[i].word_ids;
    }
    CHECK(same == texts.size());
  }
}

TEST_CASE("lower-casing normalization", "[sentencepiece][train]") {
  auto o = train_options("unigram", 400, "lower");
  o.normalization_rule = "nmt_nfkc_cf";
  bert::tokenizer::train_sentencepiece(o);
  const auto t = SentencePieceTokenizer::from_directory(o.out_dir);
  CHECK(t.decode(t.encode("ALICE and the Queen").ids) == "alice and the queen");
  const auto cfg = nlohmann::json::parse(std::ifstream(fs::path(o.out_dir) / "tokenizer_config.json"));
  CHECK(cfg["do_lower_case"] == true);
}

TEST_CASE("load_tokenizer picks the kind of a directory", "[sentencepiece][load]") {
  using bert::tokenizer::load_tokenizer;
  SECTION("WordPiece (Hugging Face layout)") {
    const auto t = load_tokenizer(BERT_TEST_DATA_DIR "/hf-tiny");
    CHECK(dynamic_cast<const bert::tokenizer::WordPieceTokenizer*>(t.get()) != nullptr);
    const std::string info = bert::tokenizer::describe_tokenizer(*t, BERT_TEST_DATA_DIR "/hf-tiny");
    CHECK(info.find("WordPiece") != std::string::npos);
    CHECK(info.find("[MASK]=" + std::to_string(t->mask_id())) != std::string::npos);
  }
  SECTION("SentencePiece") {
    const auto t = load_tokenizer(unigram_dir().string());
    REQUIRE(dynamic_cast<const SentencePieceTokenizer*>(t.get()) != nullptr);
    CHECK(t->encode("Alice").ids == unigram().encode("Alice").ids);
    const std::string info = bert::tokenizer::describe_tokenizer(*t, unigram_dir().string());
    CHECK(info.find("SentencePiece (unigram)") != std::string::npos);
    CHECK(info.find("[PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4") != std::string::npos);
    CHECK(info.find("vocab size: 800") != std::string::npos);
  }
  SECTION("without a config: by the files present") {
    const fs::path dir = temp_root() / "noconfig";
    fs::create_directories(dir);
    fs::copy_file(unigram_dir() / "spm.model", dir / "spm.model", fs::copy_options::overwrite_existing);
    CHECK(dynamic_cast<const SentencePieceTokenizer*>(load_tokenizer(dir.string()).get()) != nullptr);
    // Both kinds and nothing to choose: an error that says so.
    fs::copy_file(BERT_TEST_DATA_DIR "/hf-tiny/vocab.txt", dir / "vocab.txt", fs::copy_options::overwrite_existing);
    const std::string both = error_of([&] { load_tokenizer(dir.string()); });
    CHECK(both.find("both vocab.txt and spm.model") != std::string::npos);
    // A config decides.
    std::ofstream(dir / "tokenizer_config.json") << R"({"tokenizer_class": "BertTokenizerFast"})";
    CHECK(dynamic_cast<const bert::tokenizer::WordPieceTokenizer*>(load_tokenizer(dir.string()).get()) != nullptr);
    std::ofstream(dir / "tokenizer_config.json") << R"({"tokenizer_class": "RobertaTokenizer"})";
    const std::string bad = error_of([&] { load_tokenizer(dir.string()); });
    CHECK(bad.find("tokenizer_config.json") != std::string::npos);
    CHECK(bad.find("RobertaTokenizer") != std::string::npos);
  }
  SECTION("a directory with no tokenizer names what was looked for") {
    const fs::path dir = temp_root() / "empty_dir";
    fs::create_directories(dir);
    const std::string msg = error_of([&] { load_tokenizer(dir.string()); });
    CHECK(msg.find(dir.string()) != std::string::npos);
    CHECK(msg.find("vocab.txt") != std::string::npos);
    CHECK(msg.find("spm.model") != std::string::npos);
    const std::string missing = error_of([&] { load_tokenizer((temp_root() / "nope").string()); });
    CHECK(missing.find("nope") != std::string::npos);
  }
}

TEST_CASE("bad training input and bad model files are errors naming the path", "[sentencepiece][errors]") {
  SECTION("missing input file") {
    auto o = train_options("unigram", 100, "err_missing");
    o.inputs = {kCorpus, (temp_root() / "no_such_corpus.txt").string()};
    const std::string msg = error_of([&] { bert::tokenizer::train_sentencepiece(o); });
    CHECK(msg.find("no_such_corpus.txt") != std::string::npos);
    CHECK(msg.find("not found") != std::string::npos);
  }
  SECTION("empty corpus") {
    const fs::path f1 = temp_root() / "blank1.txt", f2 = temp_root() / "blank2.txt";
    std::ofstream(f1) << "\n   \r\n\t\n";
    std::ofstream(f2) << "";
    auto o = train_options("unigram", 100, "err_empty");
    o.inputs = {f1.string(), f2.string()};
    const std::string msg = error_of([&] { bert::tokenizer::train_sentencepiece(o); });
    CHECK(msg.find("empty corpus") != std::string::npos);
    CHECK(msg.find("blank1.txt") != std::string::npos);
    CHECK(msg.find("blank2.txt") != std::string::npos);
  }
  SECTION("vocabulary too large for the corpus") {
    const fs::path f = temp_root() / "tiny.txt";
    std::ofstream(f) << "the cat sat on the mat\nthe dog sat on the log\n";
    auto o = train_options("unigram", 5000, "err_vocab");
    o.inputs = {f.string()};
    const std::string msg = error_of([&] { bert::tokenizer::train_sentencepiece(o); });
    CHECK(msg.find("tiny.txt") != std::string::npos);
    CHECK(msg.find("Vocabulary size too high") != std::string::npos);  // sentencepiece's words
  }
  SECTION("invalid options") {
    auto o = train_options("wordpiece", 100, "err_opts");
    CHECK(error_of([&] { bert::tokenizer::train_sentencepiece(o); }).find("'wordpiece'") != std::string::npos);
    o = train_options("bpe", 3, "err_opts");
    CHECK(error_of([&] { bert::tokenizer::train_sentencepiece(o); }).find("at least 6") != std::string::npos);
    o = train_options("bpe", 100, "err_opts");
    o.normalization_rule = "nfd";
    CHECK(error_of([&] { bert::tokenizer::train_sentencepiece(o); }).find("'nfd'") != std::string::npos);
  }
  SECTION("model file that is not a sentencepiece model") {
    const fs::path dir = temp_root() / "corrupt";
    fs::create_directories(dir);
    std::ofstream(dir / "spm.model") << "this is not a protobuf";
    const std::string msg = error_of([&] { SentencePieceTokenizer::from_directory(dir.string()); });
    CHECK(msg.find((dir / "spm.model").string()) != std::string::npos);
  }
  SECTION("model without the special tokens") {
    const fs::path dir = temp_root() / "renamed";
    fs::create_directories(dir);
    fs::copy_file(unigram_dir() / "spm.model", dir / "spm.model", fs::copy_options::overwrite_existing);
    std::ofstream(dir / "tokenizer_config.json") << R"({"mask_token": {"content": "<mask>"}})";
    const std::string msg = error_of([&] { SentencePieceTokenizer::from_directory(dir.string()); });
    CHECK(msg.find("'<mask>'") != std::string::npos);
    CHECK(msg.find("spm.model") != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI, through the real binary.

namespace {

struct Run {
  int status;
  std::string out;
};

Run run_bert(const std::string& args, bool merge_stderr = true) {
  const std::string cmd = std::string(BERT_BINARY_PATH) + " " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("bert tokenizer train / encode / info", "[sentencepiece][cli]") {
  const fs::path dir = temp_root() / "cli_bpe";
  // Trained once, not once per section.
  static const Run trained = run_bert("tokenizer train --input " + kCorpus +
                                      " --type bpe --vocab-size 600 --threads 2 --out " + dir.string());
  INFO(trained.out);
  REQUIRE(trained.status == 0);
  REQUIRE(fs::is_regular_file(dir / "spm.model"));
  Run r;
  const auto t = SentencePieceTokenizer::from_directory(dir.string());
  CHECK(t.vocab_size() == 600);

  SECTION("encode --format jsonl matches the library") {
    r = run_bert("tokenizer encode --tokenizer " + dir.string() +
                     " --text 'Down the Rabbit-Hole' --text-pair 'Alice [MASK]' --format jsonl",
                 false);
    REQUIRE(r.status == 0);
    const auto lines = split_lines(r.out);
    REQUIRE(lines.size() == 1);
    const auto j = nlohmann::json::parse(lines[0]);
    const Encoding e = t.encode("Down the Rabbit-Hole", std::string_view("Alice [MASK]"));
    CHECK(j["ids"].get<std::vector<int64_t>>() == e.ids);
    CHECK(j["type_ids"].get<std::vector<int64_t>>() == e.type_ids);
    CHECK(j["tokens"].get<std::vector<std::string>>() == e.tokens);
    CHECK(j["word_ids"].get<std::vector<int64_t>>() == e.word_ids);
    CHECK(j["offsets"].size() == e.size());
    CHECK(j["offsets"][1][0] == e.offsets[1].first);
    CHECK(j["offsets"][1][1] == e.offsets[1].second);
  }
  SECTION("encode --input: one output line per input line, pairs after a tab") {
    const fs::path in = temp_root() / "cli_input.txt";
    std::ofstream(in) << "Alice was beginning\r\n\nto get very tired\tof sitting\n";
    r = run_bert("tokenizer encode --tokenizer " + dir.string() + " --input " + in.string() +
                     " --format ids --max-length 6",
                 false);
    REQUIRE(r.status == 0);
    const auto lines = split_lines(r.out);
    REQUIRE(lines.size() == 3);
    auto ids_text = [](const Encoding& e) {
      std::string s;
      for (int64_t id : e.ids) s += (s.empty() ? "" : " ") + std::to_string(id);
      return s;
    };
    CHECK(lines[0] == ids_text(t.encode("Alice was beginning", std::nullopt, 6)));
    CHECK(lines[1] == ids_text(t.encode("")));
    CHECK(lines[2] == ids_text(t.encode("to get very tired", std::string_view("of sitting"), 6)));
    r = run_bert("tokenizer encode --tokenizer " + dir.string() + " --text 'Alice' --format tokens", false);
    CHECK(r.out == "[CLS] " + t.encode("Alice").tokens[1] + " [SEP]\n");
  }
  SECTION("info") {
    r = run_bert("tokenizer info " + dir.string());
    CHECK(r.status == 0);
    CHECK(r.out.find("SentencePiece (bpe)") != std::string::npos);
    CHECK(r.out.find("vocab size: 600") != std::string::npos);
    r = run_bert(std::string("tokenizer info ") + BERT_TEST_DATA_DIR "/hf-tiny");
    CHECK(r.status == 0);
    CHECK(r.out.find("WordPiece") != std::string::npos);
  }
  SECTION("errors: one line naming the path") {
    for (const std::string& args : std::vector<std::string>{
             "tokenizer train --input /no/such/corpus.txt --vocab-size 100 --out " + (temp_root() / "x").string(),
          "tokenizer encode --tokenizer /no/such/corpus.txt --text hi",
          "tokenizer info /no/such/corpus.txt"}) {
      r = run_bert(args);
      INFO(args << "\n" << r.out);
      CHECK(r.status != 0);
      CHECK(r.out.rfind("error: ", 0) == 0);
      CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);
      CHECK(r.out.find("/no/such/corpus.txt") != std::string::npos);
    }
    // --text and --input exclude each other.
    r = run_bert("tokenizer encode --tokenizer " + dir.string() + " --text a --input b");
    CHECK(r.status != 0);
  }
}

// transformers' save_pretrained keeps tokenizer.json and drops spm.model: the model rebuilt from
// tokenizer.json must encode every corpus line (and a pair) as the original does.
TEST_CASE("a directory with tokenizer.json and no spm.model gives the original's ids", "[sentencepiece][hf]") {
  const std::string awkward = "Ｆｕｌｌ－ｗｉｄｔｈ   spaces,  ½ café [MASK] x\u2603";
  for (const fs::path* dir : {&unigram_dir(), &bpe_dir()}) {
    const auto original = SentencePieceTokenizer::from_directory(dir->string());
    const fs::path resaved = temp_root() / (dir->filename().string() + "_without_model");
    fs::create_directories(resaved);
    for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(*dir / name, resaved / name);
    const auto loaded = bert::tokenizer::load_tokenizer(resaved.string());
    REQUIRE(dynamic_cast<const SentencePieceTokenizer*>(loaded.get()) != nullptr);
    size_t differ = 0;
    for (const auto& line : corpus_lines()) differ += loaded->encode(line).ids != original.encode(line).ids;
    CHECK(differ == 0);
    CHECK(loaded->encode(awkward, std::string_view("and a pair")).ids ==
          original.encode(awkward, std::string_view("and a pair")).ids);
    CHECK(loaded->decode(original.encode(awkward).ids) == original.decode(original.encode(awkward).ids));
    // Its own tokenizer.json is the one it came from.
    const auto& rebuilt = dynamic_cast<const SentencePieceTokenizer&>(*loaded);
    CHECK(nlohmann::json::parse(rebuilt.hugging_face_tokenizer_json()) ==
          nlohmann::json::parse(std::ifstream(*dir / "tokenizer.json")));
  }
  // Not a sentencepiece model: named.
  CHECK_THROWS_WITH(bert::tokenizer::sentencepiece_model_from_tokenizer_json(
                        nlohmann::json{{"model", {{"type", "WordPiece"}}}}, {}, "x/tokenizer.json"),
                    Catch::Contains("x/tokenizer.json: model type \"WordPiece\" is not a sentencepiece model"));
}
