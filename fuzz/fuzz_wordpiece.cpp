// Fuzz target: the WordPiece tokenizer (bert/tokenizer/wordpiece.h) on arbitrary bytes, with the
// real bert-base-uncased vocabulary (test/data/tokenizer/vocab.txt; BERT_FUZZ_VOCAB overrides
// it) under four option sets: uncased (the default), cased without CJK splitting, uncased
// without accent stripping but with never_split and a short max_input_chars_per_word, and cased
// with accent stripping and special tokens that do not all start with '['. The last input
// bytes pick the set, the truncation length and whether a tab splits the text into a pair.
// Checked: the Encoding's documented shape ([CLS] a [SEP] (b [SEP]), parallel vectors, ids in the
// vocabulary, offsets inside the text they point into, word/sequence ids), that encode agrees
// with encode_ids and tokenize, that truncation keeps prefixes, and that decode never fails.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"
#include "fuzz/fuzz_common.h"

namespace {

using bert::tokenizer::Encoding;
using bert::tokenizer::WordPieceOptions;
using bert::tokenizer::WordPieceTokenizer;

std::vector<std::unique_ptr<WordPieceTokenizer>> make_tokenizers() {
  const char* env = std::getenv("BERT_FUZZ_VOCAB");
  const std::string vocab = env && *env ? env : BERT_FUZZ_VOCAB;
  std::vector<std::unique_ptr<WordPieceTokenizer>> out;
  WordPieceOptions uncased;
  uncased.vocab_path = vocab;
  out.push_back(std::make_unique<WordPieceTokenizer>(uncased));

  WordPieceOptions cased = uncased;
  cased.do_lower_case = false;
  cased.tokenize_chinese_chars = false;
  out.push_back(std::make_unique<WordPieceTokenizer>(cased));

  WordPieceOptions keep_accents = uncased;
  keep_accents.strip_accents = false;
  keep_accents.never_split = {"[unused0]", "hello", "caf\xC3\xA9", "\xE4\xB8\x80", "##s", "e\xCC\x81"};
  keep_accents.max_input_chars_per_word = 6;
  out.push_back(std::make_unique<WordPieceTokenizer>(keep_accents));

  WordPieceOptions odd_specials = cased;
  odd_specials.strip_accents = true;
  odd_specials.tokenize_chinese_chars = true;
  odd_specials.cls_token = "the";
  odd_specials.mask_token = "##ing";
  odd_specials.pad_token = "\xC2\xA3";  // £
  out.push_back(std::make_unique<WordPieceTokenizer>(odd_specials));
  return out;
}

// Non-special tokens of an encoding, for one sequence.
std::vector<int64_t> sequence_ids(const Encoding& e, int64_t seq) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < e.size(); ++i)
    if (e.sequence_ids[i] == seq) ids.push_back(e.ids[i]);
  return ids;
}

void check_encoding(const WordPieceTokenizer& tok, const Encoding& e, std::string_view text,
                    std::optional<std::string_view> pair, size_t max_length) {
  const size_t n = e.size();
  FUZZ_CHECK(e.type_ids.size() == n && e.attention_mask.size() == n && e.tokens.size() == n &&
                 e.offsets.size() == n && e.word_ids.size() == n && e.sequence_ids.size() == n,
             "Encoding vectors differ in length");
  FUZZ_CHECK(n >= (pair ? 3u : 2u), "fewer tokens than the special tokens");
  FUZZ_CHECK(max_length == 0 || n <= max_length, "longer than max_length");
  FUZZ_CHECK(e.ids.front() == tok.cls_id() && e.ids.back() == tok.sep_id(), "not [CLS] ... [SEP]");
  int64_t last_word[2] = {-1, -1};
  size_t separators = 0;
  for (size_t i = 0; i < n; ++i) {
    FUZZ_CHECK(e.ids[i] >= 0 && e.ids[i] < tok.vocab_size(), "id outside the vocabulary");
    FUZZ_CHECK(e.tokens[i] == tok.id_to_token(e.ids[i]), "token string differs from id_to_token");
    FUZZ_CHECK(e.attention_mask[i] == 1, "attention mask not 1");
    const int64_t seq = e.sequence_ids[i];
    const auto [begin, end] = e.offsets[i];
    if (seq < 0) {
      FUZZ_CHECK(begin == 0 && end == 0 && e.word_ids[i] == -1, "added special token with offsets or word");
      FUZZ_CHECK(i == 0 || e.ids[i] == tok.sep_id(), "added token other than [CLS]/[SEP]");
      separators += i > 0;
      continue;
    }
    FUZZ_CHECK(seq == 0 || (seq == 1 && pair), "bad sequence id");
    FUZZ_CHECK(static_cast<size_t>(seq) == separators, "sequence id does not follow the layout");
    FUZZ_CHECK(e.type_ids[i] == seq, "type id differs from sequence id");
    const std::string_view src = seq == 0 ? text : *pair;
    FUZZ_CHECK(begin < end && end <= src.size(), "offsets outside the text");
    FUZZ_CHECK(e.word_ids[i] >= last_word[seq], "word ids decrease");
    last_word[seq] = e.word_ids[i];
  }
  FUZZ_CHECK(separators == (pair ? 2u : 1u), "wrong number of [SEP]");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = make_tokenizers();
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  const uint8_t length = in.ConsumeIntegral<uint8_t>();
  const std::string bytes = in.ConsumeRemainingBytesAsString();

  const WordPieceTokenizer& tok = *tokenizers[mode & 3];
  std::string_view text = bytes;
  std::optional<std::string_view> pair;
  if (mode & 4) {
    const size_t tab = text.find('\t');
    if (tab != std::string_view::npos) {
      pair = text.substr(tab + 1);
      text = text.substr(0, tab);
    }
  }
  const size_t max_length = (mode & 8) ? length : 0;

  const Encoding full = tok.encode(text, pair);
  check_encoding(tok, full, text, pair, 0);
  const std::vector<int64_t> a = tok.encode_ids(text);
  FUZZ_CHECK(sequence_ids(full, 0) == a, "encode and encode_ids disagree");
  const std::vector<std::string> pieces = tok.tokenize(text);
  FUZZ_CHECK(pieces.size() == a.size(), "tokenize and encode_ids differ in length");
  for (size_t i = 0; i < a.size(); ++i) FUZZ_CHECK(tok.token_to_id(pieces[i]) >= 0, "tokenize gave an unknown piece");
  if (pair) FUZZ_CHECK(sequence_ids(full, 1) == tok.encode_ids(*pair), "pair ids disagree with encode_ids");

  if (max_length > 0) {
    try {
      const Encoding cut = tok.encode(text, pair, max_length);
      check_encoding(tok, cut, text, pair, max_length);
      for (int64_t seq : {0, 1}) {
        const auto kept = sequence_ids(cut, seq), all = sequence_ids(full, seq);
        FUZZ_CHECK(kept.size() <= all.size() && std::equal(kept.begin(), kept.end(), all.begin()),
                   "truncation did not keep a prefix");
      }
    } catch (const bert::Error&) {
      FUZZ_CHECK(max_length < (pair ? 3u : 2u), "bert::Error for a max_length that holds the special tokens");
    }
  }

  tok.decode(full.ids, true);
  tok.decode(full.ids, false);
  // Arbitrary ids, negative and out-of-range ones included: decode must map them to [UNK].
  std::vector<int64_t> ids;
  for (size_t i = 0; i + 2 <= bytes.size() && ids.size() < 64; i += 2)
    ids.push_back(static_cast<int16_t>((static_cast<uint8_t>(bytes[i]) << 8) | static_cast<uint8_t>(bytes[i + 1])) * 3);
  tok.decode(ids, mode & 16);
  return 0;
}
