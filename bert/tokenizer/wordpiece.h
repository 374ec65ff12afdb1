// WordPiece tokenizer that reproduces Hugging Face transformers' BertTokenizer (the Python
// "slow" tokenizer, transformers >= 4.34 behaviour) id for id: special tokens matched verbatim
// in the raw text, per-character lower-casing, text clean-up, CJK isolation, NFC, whitespace
// split, accent stripping, punctuation split, then greedy longest-match-first WordPiece.
// Exactness matters because a model pre-trained or fine-tuned with Hugging Face must see the
// same ids here; speed matters because the trainer tokenizes whole corpora on the fly, so the
// hot path works on bytes with an ASCII fast path and a string_view-keyed hash table.
// No LibTorch dependency: the tokenizer is usable from tools and tests on its own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bert/tokenizer/tokenizer.h"

namespace bert::tokenizer {

struct WordPieceOptions {
  std::string vocab_path;  // vocab.txt: one token per line, id = line number - 1
  bool do_lower_case = true;
  std::optional<bool> strip_accents;  // unset: follows do_lower_case (original BERT)
  bool tokenize_chinese_chars = true;
  // Whitespace-separated tokens kept whole (no lower-casing after the initial pass, no accent
  // stripping, no punctuation split), as BertTokenizer's never_split.
  std::vector<std::string> never_split;
  size_t max_input_chars_per_word = 100;  // longer words become [UNK]
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
};

class WordPieceTokenizer final : public Tokenizer {
 public:
  // Loads options.vocab_path. Throws bert::Error (file and line) when the file is missing, has
  // an empty or non-UTF-8 line, or lacks one of the five special tokens.
  explicit WordPieceTokenizer(WordPieceOptions options);
  // Same, with the vocabulary given in memory (options.vocab_path is only used in messages).
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options);
  ~WordPieceTokenizer() override;
  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;

  // Reads dir/vocab.txt (or, without it, the WordPiece vocabulary and normalizer settings of
  // dir/tokenizer.json, which transformers 5 writes instead) and, when present,
  // dir/tokenizer_config.json (the Hugging Face format: do_lower_case, strip_accents,
  // tokenize_chinese_chars, never_split, special token strings).
  static WordPieceTokenizer from_directory(const std::string& dir);
  // Writes vocab.txt, tokenizer_config.json and special_tokens_map.json so that
  // transformers.BertTokenizer.from_pretrained(dir) loads an equivalent tokenizer.
  void save(const std::string& dir) const;

  Encoding encode(std::string_view text, std::optional<std::string_view> pair = std::nullopt,
                  size_t max_length = 0) const override;
  // The word pieces of one text without special tokens (transformers' tokenize()).
  std::vector<std::string> tokenize(std::string_view text) const;
  // Ids of tokenize(text), without special tokens.
  std::vector<int64_t> encode_ids(std::string_view text) const;
  // transformers' decode(): pieces joined by spaces, "##" continuations glued, then
  // clean_up_tokenization (" ." -> "." ...). skip_special_tokens drops all five specials.
  std::string decode(const std::vector<int64_t>& ids,
                     bool skip_special_tokens = true) const override;

  int64_t vocab_size() const override;
  int64_t token_to_id(std::string_view token) const override;
  // The vocab line for id; the unknown token's string for ids outside the vocabulary (as
  // transformers does).
  std::string id_to_token(int64_t id) const override;

  int64_t pad_id() const override;
  int64_t unk_id() const override;
  int64_t cls_id() const override;
  int64_t sep_id() const override;
  int64_t mask_id() const override;

  const WordPieceOptions& options() const;
  bool strips_accents() const;  // the effective strip_accents setting

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bert::tokenizer
