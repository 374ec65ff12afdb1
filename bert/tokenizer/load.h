// Opening a tokenizer directory without knowing its kind. Checkpoints, the trainer and the CLI
// only hold a directory path; this picks WordPiece (vocab.txt, Hugging Face's BertTokenizer
// layout) or SentencePiece (spm.model, written by `bert tokenizer train`) from
// tokenizer_config.json's "tokenizer_class" when there is one, else from the files present, so
// that adding a tokenizer kind touches this file and not every caller.
#pragma once

#include <memory>
#include <string>

#include "bert/tokenizer/tokenizer.h"

namespace bert::tokenizer {

// Throws bert::Error naming the directory and what was looked for when it holds no tokenizer,
// when its tokenizer_class is not one we implement, or when it holds both kinds of file without
// a tokenizer_class to choose between them.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir);
// The same, for a model whose embedding table has `model_vocab_size` rows: a tokenizer with more
// tokens (ids the model cannot look up) is an error here, not "index out of range" mid-run.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir, int64_t model_vocab_size);

// Several lines for `bert tokenizer info`: kind, files, vocabulary size, special tokens and their
// ids, normalization settings, and an example encoding.
std::string describe_tokenizer(const Tokenizer& tokenizer, const std::string& dir);

}  // namespace bert::tokenizer
