// `bert tokenizer`: train a SentencePiece vocabulary on raw text, encode or decode text with
// any tokenizer directory (WordPiece or SentencePiece, picked by load_tokenizer), and describe
// one. encode/decode exist so that scripts (scripts/compare_sentencepiece.py) and people can
// see exactly the ids the trainer will feed the model, without writing C++. Results go to
// stdout, one line per input line, so outputs line up with inputs; logs go to stderr.
#include "apps/commands.h"
#include "apps/common.h"
#include "bert/data/corpus_reader.h"
#include "bert/tokenizer/load.h"
#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace bert::app {

namespace {

// Lines are handed to encode_batch in blocks: big enough to keep every thread busy, small enough
// that a multi-gigabyte file is never held in memory at once.
constexpr size_t kBlockLines = 8192;

// One line of a text file without its "\n" and "\r", as the trainer reads its corpus.
bool read_line(std::istream& in, std::string& line) {
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::ifstream open_input(const std::string& path, const char* command) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string("tokenizer ") + command + ": cannot open input file " + path);
  return in;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// train

struct TokenizerTrainOptions {
  CommonOptions common;
  tokenizer::SentencePieceTrainOptions train;
  bool lowercase = false;
};

void run_tokenizer_train(TokenizerTrainOptions o) {
  apply_common_options(o.common);
  if (o.lowercase) o.train.normalization_rule = "nmt_nfkc_cf";
  o.train.threads = o.common.threads;
  // Files, directories and globs, as pre-training's --corpus takes them.
  std::vector<std::string> files;
  for (const auto& f : data::expand_corpus_inputs(o.train.inputs)) files.push_back(f.path);
  o.train.inputs = files;
  tokenizer::train_sentencepiece(o.train);
  const auto t = tokenizer::SentencePieceTokenizer::from_directory(o.train.out_dir);
  log::info("[tokenizer] {} pieces; special tokens [PAD]={} [UNK]={} [CLS]={} [SEP]={} [MASK]={}", t.vocab_size(),
            t.pad_id(), t.unk_id(), t.cls_id(), t.sep_id(), t.mask_id());
}

void setup_tokenizer_train(CLI::App& parent) {
  auto o = std::make_shared<TokenizerTrainOptions>();
  auto& t = o->train;
  auto* cmd = parent.add_subcommand(
      "train",
      "Train a SentencePiece tokenizer on text files (one sentence or paragraph per line); writes "
      "spm.model, spm.vocab, tokenizer.json (for Hugging Face tokenizers) and tokenizer_config.json with [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4. "
      "--threads also sets the training threads");
  cmd->add_option("--input", t.inputs, "text files, directories or globs, as pre-training's --corpus, UTF-8, one text per line (blank "
                  "lines skipped)")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--type", t.type, "model type: unigram|bpe (default: unigram)")
      ->check(CLI::IsMember({"unigram", "bpe"}));
  cmd->add_option("--vocab-size", t.vocab_size, "vocabulary size, special tokens included (default: 8000)")
      ->check(CLI::Range(6, 1 << 24));
  cmd->add_option("--out", t.out_dir, "output directory (created)")->required();
  cmd->add_option("--character-coverage", t.character_coverage,
                  "share of characters the vocabulary must cover; rarer ones become [UNK] (default: 0.9995)")
      ->check(CLI::Range(0.0, 1.0));
  auto* norm = cmd->add_option("--normalization", t.normalization_rule,
                               "text normalization: nmt_nfkc|nmt_nfkc_cf (lower-cases)|identity (default: nmt_nfkc)")
                   ->check(CLI::IsMember({"nmt_nfkc", "nmt_nfkc_cf", "identity"}));
  cmd->add_flag("--lowercase", o->lowercase, "lower-case the text: same as --normalization nmt_nfkc_cf (default: off)")
      ->excludes(norm);
  cmd->add_option("--input-sentence-size", t.input_sentence_size,
                  "train on at most this many lines, sampled uniformly; 0 = all (default: 1000000)")
      ->check(non_negative_number());
  add_common_options(cmd, o->common);
  cmd->callback([o] { run_tokenizer_train(*o); });
}

// ---------------------------------------------------------------------------------------------
// encode

struct TokenizerEncodeOptions {
  CommonOptions common;
  std::string tokenizer, text, text_pair, input, format = "ids";
  size_t max_length = 0;
  bool has_text = false, has_pair = false;
};

void write_encoding(const tokenizer::Encoding& e, const std::string& format, std::string& out) {
  if (format == "jsonl") {
    nlohmann::json j;
    j["ids"] = e.ids;
    j["type_ids"] = e.type_ids;
    j["tokens"] = e.tokens;
    j["offsets"] = e.offsets;
    j["word_ids"] = e.word_ids;
    j["sequence_ids"] = e.sequence_ids;
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    for (size_t i = 0; i < e.size(); ++i) {
      if (i) out += ' ';
      out += format == "tokens" ? e.tokens[i] : std::to_string(e.ids[i]);
    }
  }
  out += '\n';
}

void run_tokenizer_encode(const TokenizerEncodeOptions& o) {
  apply_common_options(o.common);
  if (o.has_text == !o.input.empty()) throw Error("tokenizer encode: give exactly one of --text and --input");
  const auto tok = tokenizer::load_tokenizer(o.tokenizer);
  std::string out;
  if (o.has_text) {
    data::check_utf8(o.text, "--text", 1);
    if (o.has_pair) data::check_utf8(o.text_pair, "--text-pair", 1);
    const auto e = o.has_pair ? tok->encode(o.text, std::string_view(o.text_pair), o.max_length)
                              : tok->encode(o.text, std::nullopt, o.max_length);
    write_encoding(e, o.format, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }

  std::ifstream in = open_input(o.input, "encode");
  // A block's lines with a tab are encoded as pairs, the others as single texts (encode_batch
  // takes pairs for all its texts or none), then written back in input order.
  std::vector<std::string> singles, firsts, seconds;
  std::vector<bool> is_pair;
  size_t lines = 0;
  auto flush = [&] {
    if (is_pair.empty()) return;
    const auto one = tok->encode_batch(singles, nullptr, o.max_length, o.common.threads);
    const auto two = tok->encode_batch(firsts, &seconds, o.max_length, o.common.threads);
    out.clear();
    size_t i1 = 0, i2 = 0;
    for (bool p : is_pair) write_encoding(p ? two[i2++] : one[i1++], o.format, out);
    std::fwrite(out.data(), 1, out.size(), stdout);
    singles.clear();
    firsts.clear();
    seconds.clear();
    is_pair.clear();
  };
  std::string line;
  while (read_line(in, line)) {
    ++lines;
    data::check_utf8(line, o.input, lines);  // the tokenizer would drop the bad bytes unseen
    const size_t tab = line.find('\t');
    is_pair.push_back(tab != std::string::npos);
    if (tab == std::string::npos) {
      singles.push_back(line);
    } else {
      firsts.push_back(line.substr(0, tab));
      seconds.push_back(line.substr(tab + 1));
    }
    if (is_pair.size() == kBlockLines) flush();
  }
  flush();
  std::fflush(stdout);
  log::debug("[tokenizer] encoded {} lines from {}", lines, o.input);
}

void setup_tokenizer_encode(CLI::App& parent) {
  auto o = std::make_shared<TokenizerEncodeOptions>();
  auto* cmd = parent.add_subcommand(
      "encode", "Encode text with a tokenizer directory ([CLS] text [SEP] pair [SEP]); one output line per text");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer directory (vocab.txt or spm.model)")->required();
  auto* text = cmd->add_option("--text", o->text, "the text to encode (default: none; or use --input)");
  auto* pair = cmd->add_option("--text-pair", o->text_pair, "second segment for --text (default: none)")->needs(text);
  auto* input = cmd->add_option("--input", o->input,
                                "file with one text per line, or text<TAB>pair; \\r\\n line ends accepted (default: none)");
  text->excludes(input);
  cmd->add_option("--max-length,--max-seq-len", o->max_length,
                  "truncate (longest_first) to this many tokens, specials included; 0 = no limit (default: 0)")
      ->check(non_negative_number());
  cmd->add_option("--format", o->format,
                  "ids (space-separated) | tokens (space-separated) | jsonl (ids, type_ids, tokens, offsets, word_ids, "
                  "sequence_ids) (default: ids)")
      ->check(CLI::IsMember({"ids", "tokens", "jsonl"}));
  add_common_options(cmd, o->common);
  cmd->callback([o, text, pair] {
    o->has_text = text->count() > 0;
    o->has_pair = pair->count() > 0;
    run_tokenizer_encode(*o);
  });
}

// ---------------------------------------------------------------------------------------------
// decode

struct TokenizerDecodeOptions {
  CommonOptions common;
  std::string tokenizer, ids, input;
  bool keep_special = false, has_ids = false;
};

std::vector<int64_t> parse_ids(const std::string& line, const std::string& where) {
  std::vector<int64_t> ids;
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size()) {
      throw Error(where + ": expected integer ids separated by spaces, found '" + word + "'");
    }
    ids.push_back(id);
  }
  return ids;
}

void run_tokenizer_decode(const TokenizerDecodeOptions& o) {
  apply_common_options(o.common);
  if (o.has_ids == !o.input.empty()) throw Error("tokenizer decode: give exactly one of --ids and --input");
  const auto tok = tokenizer::load_tokenizer(o.tokenizer);
  if (o.has_ids) {
    std::cout << tok->decode(parse_ids(o.ids, "--ids"), !o.keep_special) << "\n";
    return;
  }
  std::ifstream in = open_input(o.input, "decode");
  std::string line, out;
  size_t n = 0;
  while (read_line(in, line)) {
    ++n;
    out += tok->decode(parse_ids(line, o.input + ":" + std::to_string(n)), !o.keep_special);
    out += '\n';
    if (out.size() > (1u << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void setup_tokenizer_decode(CLI::App& parent) {
  auto o = std::make_shared<TokenizerDecodeOptions>();
  auto* cmd = parent.add_subcommand("decode", "Decode ids back to text; one output line per input line");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer directory (vocab.txt or spm.model)")->required();
  auto* ids = cmd->add_option("--ids", o->ids, "space-separated ids (default: none; or use --input)");
  auto* input = cmd->add_option("--input", o->input, "file with one line of space-separated ids per text (default: none)");
  ids->excludes(input);
  cmd->add_flag("--keep-special", o->keep_special, "write [CLS] [SEP] [PAD] [MASK] [UNK] out (default: dropped)");
  add_common_options(cmd, o->common);
  cmd->callback([o, ids] {
    o->has_ids = ids->count() > 0;
    run_tokenizer_decode(*o);
  });
}

// ---------------------------------------------------------------------------------------------
// info

struct TokenizerInfoOptions {
  CommonOptions common;
  std::string dir;
};

void run_tokenizer_info(const TokenizerInfoOptions& o) {
  apply_common_options(o.common);
  const auto tok = tokenizer::load_tokenizer(o.dir);
  std::cout << tokenizer::describe_tokenizer(*tok, o.dir);
}

void setup_tokenizer_info(CLI::App& parent) {
  auto o = std::make_shared<TokenizerInfoOptions>();
  auto* cmd = parent.add_subcommand("info", "Describe a tokenizer directory (kind, vocabulary, special tokens)");
  cmd->add_option("dir", o->dir, "tokenizer directory (vocab.txt or spm.model)")->required();
  add_common_options(cmd, o->common);
  cmd->callback([o] { run_tokenizer_info(*o); });
}

void setup_tokenizer(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Train, inspect and run tokenizers (WordPiece, SentencePiece)");
  cmd->require_subcommand(1);
  setup_tokenizer_train(*cmd);
  setup_tokenizer_encode(*cmd);
  setup_tokenizer_decode(*cmd);
  setup_tokenizer_info(*cmd);
}

}  // namespace bert::app
