// SentencePiece tokenizer (unigram or BPE) behind the project's Tokenizer interface, plus the
// trainer that builds one from raw text. It exists so that a BERT model can be pre-trained on a
// language or domain for which no WordPiece vocabulary fits: `bert tokenizer train` learns a
// vocabulary from the corpus, and the rest of the pipeline sees the same Encoding structure as
// with WordPiece ([CLS] A [SEP] B [SEP], type ids, longest_first truncation, byte offsets into
// the original text, word ids). The model file is a plain sentencepiece model, so the Python
// `sentencepiece` package loads it and produces the same ids (scripts/compare_sentencepiece.py).
//
// Special tokens. Models trained here reserve fixed ids, in this documented order:
//   0 [PAD]  (sentencepiece's pad piece, a control symbol)
//   1 [UNK]  (sentencepiece's unknown piece: characters outside the vocabulary)
//   2 [CLS]  3 [SEP]  4 [MASK]  (user-defined symbols)
// The five written in a text are cut out before the rest is encoded and become their ids, as
// transformers does with its special (added) tokens.
// bos/eos are disabled. Models trained elsewhere load too if they contain the five pieces
// (their strings can be renamed in tokenizer_config.json, as Hugging Face configs do).
//
// No LibTorch dependency, like the WordPiece tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bert/tokenizer/tokenizer.h"

#include <nlohmann/json_fwd.hpp>

namespace bert::tokenizer {

// The tokenizer_config.json "tokenizer_class" that marks a directory written by
// train_sentencepiece(); load_tokenizer() dispatches on it.
inline constexpr const char* kSentencePieceTokenizerClass = "BertSentencePieceTokenizer";
// What a unigram or BPE directory's tokenizer_config.json says instead, beside spm.model and
// tokenizer.json: transformers builds its tokenizer from tokenizer.json, load_tokenizer() from
// spm.model.
inline constexpr const char* kHuggingFaceFastTokenizerClass = "PreTrainedTokenizerFast";
// File names inside a sentencepiece tokenizer directory.
inline constexpr const char* kSentencePieceModelFile = "spm.model";
inline constexpr const char* kSentencePieceVocabFile = "spm.vocab";

// The ids train_sentencepiece() gives the special tokens.
inline constexpr int64_t kSentencePiecePadId = 0;
inline constexpr int64_t kSentencePieceUnkId = 1;
inline constexpr int64_t kSentencePieceClsId = 2;
inline constexpr int64_t kSentencePieceSepId = 3;
inline constexpr int64_t kSentencePieceMaskId = 4;

struct SentencePieceTrainOptions {
  // Text files, one sentence (or paragraph) per line; a trailing "\r" is dropped and blank lines
  // are skipped. Lines longer than 4192 bytes are skipped by sentencepiece (a warning says how
  // many).
  std::vector<std::string> inputs;
  std::string type = "unigram";  // "unigram" or "bpe"
  int vocab_size = 8000;         // total, the 5 special tokens included
  double character_coverage = 0.9995;  // rarer characters become [UNK]; 1.0 keeps all
  // "nmt_nfkc" (NFKC + whitespace clean-up), "nmt_nfkc_cf" (the same, case-folded: an uncased
  // model) or "identity" (no normalization; runs of spaces are still collapsed).
  std::string normalization_rule = "nmt_nfkc";
  // At most this many lines (uniformly sampled) are used to train; 0 = all of them.
  int64_t input_sentence_size = 1000000;
  // Training threads, 0 = every core. Training is deterministic for a given corpus, options and
  // thread count, but sentencepiece's unigram EM sums per thread, so another thread count can give
  // a slightly different unigram vocabulary (tokenizer_config.json records the count used).
  int threads = 0;
  std::string out_dir;  // created; receives spm.model, spm.vocab, tokenizer_config.json
};

// Trains a sentencepiece model and writes out_dir/spm.model, out_dir/spm.vocab and
// out_dir/tokenizer_config.json. Throws bert::Error for a missing input file, a corpus without a
// single non-blank line (naming the files), an invalid option, or a failure of sentencepiece
// itself (e.g. a vocabulary too large for the corpus; its message is included).
void train_sentencepiece(const SentencePieceTrainOptions& options);

struct SentencePieceOptions {
  std::string model_path;   // a sentencepiece .model file
  std::string model_proto;  // or the model itself, serialized (model_path then only names where it came from)
  std::string pad_token = "[PAD]";
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string mask_token = "[MASK]";
};

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Loads options.model_path. Throws bert::Error (naming the file) when it is missing or not a
  // sentencepiece model, when one of the five special tokens is not a piece of the model, or when
  // unk_token is not the model's unknown piece.
  explicit SentencePieceTokenizer(SentencePieceOptions options);
  ~SentencePieceTokenizer() override;
  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;

  // Reads dir/spm.model and, when present, dir/tokenizer_config.json (special token strings).
  // Without spm.model, a unigram or BPE dir/tokenizer.json stands for it (what transformers'
  // save_pretrained leaves of our directory): the model is rebuilt from it.
  static SentencePieceTokenizer from_directory(const std::string& dir);

  // Offsets: byte ranges into the text; the space that a leading "▁" stands for is not part of
  // the range (so text.substr(offset) is the visible piece, as for WordPiece), except for a piece
  // that is nothing but whitespace. A character that normalization expands into several pieces
  // ("½" -> "1" "⁄" "2") gives each of them its whole range. Word ids: a new word starts at every
  // piece that begins with "▁" (U+2581) and at every special token found in the text.
  Encoding encode(std::string_view text, std::optional<std::string_view> pair = std::nullopt,
                  size_t max_length = 0) const override;
  // The pieces of one text without special tokens.
  std::vector<std::string> tokenize(std::string_view text) const;
  // Ids of tokenize(text), without special tokens (what Python's sp.encode(text) returns).
  std::vector<int64_t> encode_ids(std::string_view text) const;
  // skip_special_tokens: the five specials are dropped and the rest is decoded by sentencepiece
  // ("▁" back to spaces), so decode(encode(x).ids) is x as normalized by the model. Otherwise
  // the special tokens are written out, separated from the surrounding text by one space. Ids
  // outside the vocabulary are written out as the unknown token in both modes (as WordPiece).
  std::string decode(const std::vector<int64_t>& ids,
                     bool skip_special_tokens = true) const override;

  int64_t vocab_size() const override;
  int64_t token_to_id(std::string_view token) const override;  // -1 if not a piece
  // The piece for id; the unknown token's string for ids outside the vocabulary.
  std::string id_to_token(int64_t id) const override;

  int64_t pad_id() const override;
  int64_t unk_id() const override;
  int64_t cls_id() const override;
  int64_t sep_id() const override;
  int64_t mask_id() const override;

  const SentencePieceOptions& options() const;
  // The same tokenizer as Hugging Face's `tokenizers` library describes one (tokenizer.json: the
  // unigram pieces and scores, the model's normalization table, "▁" word starts, the [CLS] A [SEP]
  // B [SEP] template), so that transformers' AutoTokenizer loads a directory of ours and gives the
  // same ids (scripts/sentencepiece_hf_interop.py). Unigram and BPE models (sentencepiece's word and
  // char models have none): has_hugging_face_form() says whether this one has; otherwise bert::Error.
  bool has_hugging_face_form() const;
  std::string hugging_face_tokenizer_json() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The sentencepiece model (a serialized ModelProto) that a unigram or BPE tokenizer.json stands for,
// the inverse of SentencePieceTokenizer::hugging_face_tokenizer_json(): the pieces and their scores
// (BPE: ranked by id, as a trained model's scores are), the normalization table ("Precompiled"),
// whitespace handling (Strip, Metaspace's prepend_scheme), the special tokens' roles from
// `specials`. `path` names the file in errors.
std::string sentencepiece_model_from_tokenizer_json(const nlohmann::json& tokenizer_json,
                                                    const SentencePieceOptions& specials, const std::string& path);

}  // namespace bert::tokenizer
