// The interface every tokenizer of the project implements (WordPiece now, sentencepiece later),
// so that data loading, training and the CLI never depend on which one a checkpoint uses. An
// Encoding carries, besides the model inputs, the alignment information (byte offsets, word and
// sequence ids) that token-level tasks such as NER need to map labels onto word pieces. Encoding
// is deterministic and const, so one tokenizer can serve any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bert::tokenizer {

struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;        // 0 for [CLS] A [SEP], 1 for B [SEP]
  std::vector<int64_t> attention_mask;  // all 1: encode() never pads
  std::vector<std::string> tokens;      // id_to_token(ids[i])
  // Byte offsets [start, end) into the UTF-8 text the token came from (text or pair, see
  // sequence_ids); (0, 0) for the special tokens the tokenizer added.
  std::vector<std::pair<size_t, size_t>> offsets;
  // Index of the pre-tokenized word (whitespace- and punctuation-split) a piece came from,
  // counted per sequence as Hugging Face's fast tokenizers do; -1 for added special tokens.
  std::vector<int64_t> word_ids;
  std::vector<int64_t> sequence_ids;  // 0 = text, 1 = pair, -1 = added special token

  size_t size() const { return ids.size(); }
};

// Hugging Face's "longest_first" truncation (truncation side right), as its tokenizers library does
// it: the longer sequence is cut first; when both must be cut, each keeps half the budget and the
// longer one (the pair on ties) the odd token. Returns how many tokens of each sequence
// to keep so that they plus the special tokens fit in max_length (0 = no limit). Throws
// bert::Error when max_length cannot even hold the special tokens.
std::pair<size_t, size_t> longest_first_lengths(size_t len_a, size_t len_b, bool has_pair, size_t max_length);

// Lays out [CLS] a [SEP] (b [SEP]) from pieces that have `id`, `begin`, `end` and `word`;
// `token_of(id)` gives a piece's string. Shared by both tokenizers so the layout is one code.
template <typename Piece, typename TokenOf>
Encoding assemble_encoding(const std::vector<Piece>& a, const std::vector<Piece>& b, bool has_pair, int64_t cls,
                           int64_t sep, TokenOf token_of) {
  Encoding e;
  const size_t total = a.size() + b.size() + (has_pair ? 3 : 2);
  e.ids.reserve(total);
  e.type_ids.reserve(total);
  e.tokens.reserve(total);
  e.offsets.reserve(total);
  e.word_ids.reserve(total);
  e.sequence_ids.reserve(total);
  auto add = [&](int64_t id, int64_t type, size_t begin, size_t end, int64_t word, int64_t seq) {
    e.ids.push_back(id);
    e.type_ids.push_back(type);
    e.tokens.push_back(token_of(id));
    e.offsets.emplace_back(begin, end);
    e.word_ids.push_back(word);
    e.sequence_ids.push_back(seq);
  };
  add(cls, 0, 0, 0, -1, -1);
  for (const auto& p : a) add(p.id, 0, p.begin, p.end, p.word, 0);
  add(sep, 0, 0, 0, -1, -1);
  if (has_pair) {
    for (const auto& p : b) add(p.id, 1, p.begin, p.end, p.word, 1);
    add(sep, 1, 0, 0, -1, -1);
  }
  e.attention_mask.assign(e.ids.size(), 1);
  return e;
}

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // [CLS] text [SEP] (pair [SEP]). max_length > 0 truncates with Hugging Face's
  // "longest_first" strategy so that the result, special tokens included, has at most
  // max_length tokens; 0 means no truncation.
  virtual Encoding encode(std::string_view text,
                          std::optional<std::string_view> pair = std::nullopt,
                          size_t max_length = 0) const = 0;

  // encode() over a batch on `threads` threads (<= 0: every core), results in input order.
  // `pairs` may be null; otherwise it must have texts.size() entries.
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                     const std::vector<std::string>* pairs = nullptr,
                                     size_t max_length = 0, int threads = 0) const;

  virtual std::string decode(const std::vector<int64_t>& ids,
                             bool skip_special_tokens = true) const = 0;

  virtual int64_t vocab_size() const = 0;
  virtual int64_t token_to_id(std::string_view token) const = 0;  // -1 if absent
  virtual std::string id_to_token(int64_t id) const = 0;

  virtual int64_t pad_id() const = 0;
  virtual int64_t unk_id() const = 0;
  virtual int64_t cls_id() const = 0;
  virtual int64_t sep_id() const = 0;
  virtual int64_t mask_id() const = 0;
};

}  // namespace bert::tokenizer
