// Fuzz target: loading a WordPiece tokenizer from user files (bert/tokenizer/wordpiece.h): the
// vocab.txt reader and, when the mode byte asks for it, tokenizer_config.json through
// from_directory. The input's last byte is the mode; with a config, the config is taken from the
// front of the input (FuzzedDataProvider::ConsumeRandomLengthString: up to the first backslash
// that is not doubled) and the rest is vocab.txt. Both are written to a per-process scratch
// directory and loaded as `bert` loads them. A tokenizer that loads is then used: special ids
// and id/token lookups must agree, a few texts (and the vocabulary's own tokens) must encode to
// ids inside the vocabulary, and save() followed by from_directory() must give back the same
// vocabulary, options and ids, as wordpiece.h promises.
#include <fuzzer/FuzzedDataProvider.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

namespace {

namespace fs = std::filesystem;
using bert::tokenizer::WordPieceOptions;
using bert::tokenizer::WordPieceTokenizer;

// The scratch directories, removed at exit.
struct ScratchDirs {
  fs::path load = bert::fuzz::scratch_path("vocab-load");
  fs::path save = bert::fuzz::scratch_path("vocab-save");
  ScratchDirs() {
    fs::create_directories(load);
    fs::create_directories(save);
  }
  ~ScratchDirs() {
    std::error_code ec;
    fs::remove_all(load, ec);
    fs::remove_all(save, ec);
  }
};

void check_ids(const WordPieceTokenizer& tok, const std::vector<int64_t>& ids) {
  for (int64_t id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "id outside the vocabulary");
}

void use(const WordPieceTokenizer& tok) {
  const auto& o = tok.options();
  FUZZ_CHECK(tok.id_to_token(tok.unk_id()) == o.unk_token && tok.id_to_token(tok.cls_id()) == o.cls_token &&
                 tok.id_to_token(tok.sep_id()) == o.sep_token && tok.id_to_token(tok.pad_id()) == o.pad_token &&
                 tok.id_to_token(tok.mask_id()) == o.mask_token,
             "special id does not name its token");
  const int64_t n = tok.vocab_size();
  for (int64_t id = 0; id < n && id < 200; ++id) {
    const std::string t = tok.id_to_token(id);
    const int64_t back = tok.token_to_id(t);  // a later duplicate line wins, as in Python's dict
    FUZZ_CHECK(back >= id && back < n && tok.id_to_token(back) == t, "token_to_id(id_to_token(id))");
    check_ids(tok, tok.encode(t).ids);
  }
  FUZZ_CHECK(tok.id_to_token(-1) == o.unk_token && tok.id_to_token(n) == o.unk_token, "out-of-range id_to_token");
  static const char* kTexts[] = {"Hello, world! [CLS] [MASK] unaffable", "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 ##s",
                                 "", "\xEF\xBB\xBF x\xCC\x81 I\xCC\x87 \xC4\xB0"};
  for (const char* text : kTexts) {
    const auto e = tok.encode(text, std::string_view("a pair"), 16);
    check_ids(tok, e.ids);
    tok.decode(e.ids);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScratchDirs dirs;
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const fs::path config = dirs.load / "tokenizer_config.json";
  const fs::path vocab = dirs.load / "vocab.txt";
  const bool with_config = mode & 1;
  if (with_config) {
    bert::fuzz::write_bytes(config.string(), in.ConsumeRandomLengthString(size));
  } else {
    fs::remove(config);
  }
  bert::fuzz::write_bytes(vocab.string(), in.ConsumeRemainingBytesAsString());

  std::optional<WordPieceTokenizer> tok;
  try {
    if (with_config) {
      tok.emplace(WordPieceTokenizer::from_directory(dirs.load.string()));
    } else {
      WordPieceOptions o;
      o.vocab_path = vocab.string();
      o.do_lower_case = mode & 2;
      o.tokenize_chinese_chars = mode & 4;
      if (mode & 8) o.strip_accents = static_cast<bool>(mode & 16);
      tok.emplace(o);
    }
  } catch (const bert::Error&) {
    return 0;
  }
  use(*tok);

  tok->save(dirs.save.string());
  const WordPieceTokenizer back = WordPieceTokenizer::from_directory(dirs.save.string());
  const auto &a = tok->options(), &b = back.options();
  FUZZ_CHECK(back.vocab_size() == tok->vocab_size(), "save/load changed the vocabulary size");
  for (int64_t id = 0; id < tok->vocab_size(); ++id)
    FUZZ_CHECK(back.id_to_token(id) == tok->id_to_token(id), "save/load changed a vocabulary line");
  FUZZ_CHECK(a.do_lower_case == b.do_lower_case && tok->strips_accents() == back.strips_accents() &&
                 a.tokenize_chinese_chars == b.tokenize_chinese_chars && a.never_split == b.never_split &&
                 a.max_input_chars_per_word == b.max_input_chars_per_word && a.unk_token == b.unk_token &&
                 a.cls_token == b.cls_token && a.sep_token == b.sep_token && a.pad_token == b.pad_token &&
                 a.mask_token == b.mask_token,
             "save/load changed an option");
  const std::string text = "Hello [MASK] caf\xC3\xA9 " + tok->id_to_token(tok->vocab_size() - 1);
  FUZZ_CHECK(back.encode(text).ids == tok->encode(text).ids, "save/load changed the ids");
  return 0;
}
