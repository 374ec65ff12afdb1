// SentencePiece tokenizer and trainer. The heavy lifting (normalization, unigram/BPE
// segmentation, training) is Debian's libsentencepiece; this file adds what BERT needs on top:
// fixed special-token ids reserved at training time, the [CLS] A [SEP] B [SEP] layout with
// longest_first truncation, offsets that exclude the space a "▁" stands for, word ids, and
// errors that name the file at fault. Training reads the corpus through our own line iterator
// rather than sentencepiece's file reader so that CRLF files (the Gutenberg corpora) and blank
// lines are handled the same way at training and at encoding time (`bert tokenizer encode
// --input` strips "\r" too).
#include "bert/tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include <nlohmann/json.hpp>

#include "bert/tokenizer/unicode.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

namespace fs = std::filesystem;

namespace bert::tokenizer {

namespace {

constexpr std::string_view kMeta = "\xE2\x96\x81";  // U+2581, sentencepiece's word boundary
// sentencepiece's default max_sentence_length: longer training lines are skipped by it.
constexpr size_t kMaxSentenceBytes = 4192;

bool starts_with_meta(std::string_view piece) {
  return piece.size() >= kMeta.size() && piece.compare(0, kMeta.size(), kMeta) == 0;
}

// Start of the visible part of a piece's source bytes [begin, end): skips the whitespace (and
// format characters such as a BOM, which normalization drops) that the piece's leading "▁"
// stands for. A piece made only of such characters keeps its full range: those bytes are what
// it represents.
size_t visible_begin(std::string_view text, size_t begin, size_t end) {
  size_t pos = begin;
  while (pos < end) {
    size_t next = pos;
    const char32_t cp = unicode::decode_utf8(text, next);
    if (!unicode::is_whitespace(cp) && !unicode::is_control(cp)) return pos;
    pos = next;
  }
  return begin;
}

// A special token string from a Hugging Face style config: "[MASK]" or {"content": "[MASK]"}.
void read_special(const nlohmann::json& cfg, const char* key, const std::string& path,
                  std::string& out) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return;
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    out = (*it)["content"].get<std::string>();
  } else {
    throw Error(path + ": '" + key + "' must be a string or an object with a string \"content\", found " +
                it->dump());
  }
}

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// Reads the training files line by line for sentencepiece: trailing "\r" dropped, blank lines
// skipped, so CRLF and LF corpora train the same model.
class LineIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string>& files) : files_(files) { Next(); }
  bool done() const override { return done_; }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return status_; }
  void Next() override {
    while (!done_) {
      if (!in_.is_open()) {
        if (file_ == files_.size()) {
          done_ = true;
          return;
        }
        in_.open(files_[file_], std::ios::binary);
        if (!in_) {
          status_ = sentencepiece::util::Status(sentencepiece::util::StatusCode::kNotFound,
                                                files_[file_] + ": cannot open");
          done_ = true;
          return;
        }
      }
      if (std::getline(in_, line_)) {
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (line_.find_first_not_of(" \t\r\f\v") != std::string::npos) return;
      } else {
        in_.close();
        in_.clear();
        ++file_;
      }
    }
  }

 private:
  const std::vector<std::string>& files_;
  size_t file_ = 0;
  std::ifstream in_;
  std::string line_;
  bool done_ = false;
  sentencepiece::util::Status status_;
};

struct CorpusStats {
  int64_t lines = 0;       // non-blank
  int64_t long_lines = 0;  // over kMaxSentenceBytes (sentencepiece skips them)
  int64_t bytes = 0;
};

CorpusStats scan_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("tokenizer train: cannot open input file " + path);
  CorpusStats s;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\r\f\v") == std::string::npos) continue;
    ++s.lines;
    s.bytes += static_cast<int64_t>(line.size());
    if (line.size() > kMaxSentenceBytes) ++s.long_lines;
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Training

void train_sentencepiece(const SentencePieceTrainOptions& o) {
  if (o.inputs.empty()) throw Error("tokenizer train: no input file given");
  if (o.out_dir.empty()) throw Error("tokenizer train: no output directory given");
  if (o.type != "unigram" && o.type != "bpe") {
    throw Error("tokenizer train: model type must be 'unigram' or 'bpe', found '" + o.type + "'");
  }
  if (o.normalization_rule != "nmt_nfkc" && o.normalization_rule != "nmt_nfkc_cf" &&
      o.normalization_rule != "identity") {
    throw Error("tokenizer train: normalization must be 'nmt_nfkc', 'nmt_nfkc_cf' or 'identity', found '" +
                o.normalization_rule + "'");
  }
  // The five specials take ids 0..4; sentencepiece needs at least one more piece.
  if (o.vocab_size < 6) {
    throw Error("tokenizer train: vocab size must be at least 6 (5 special tokens + 1 piece), found " +
                std::to_string(o.vocab_size));
  }
  if (!(o.character_coverage > 0.0 && o.character_coverage <= 1.0)) {
    throw Error("tokenizer train: character coverage must be in (0, 1], found " +
                std::to_string(o.character_coverage));
  }
  if (o.input_sentence_size < 0) {
    throw Error("tokenizer train: input sentence size must be >= 0 (0 = all lines), found " +
                std::to_string(o.input_sentence_size));
  }

  // Check every file first so that a typo in the 10th path fails before minutes of training.
  std::vector<std::string> missing;
  for (const auto& f : o.inputs) {
    std::error_code ec;
    if (!fs::is_regular_file(f, ec)) missing.push_back(f);
  }
  if (!missing.empty()) {
    throw Error("tokenizer train: input file" + std::string(missing.size() > 1 ? "s" : "") +
                " not found (or not a regular file): " + join(missing));
  }
  CorpusStats total;
  std::vector<std::string> empty;
  for (const auto& f : o.inputs) {
    const CorpusStats s = scan_file(f);
    if (s.lines == 0) empty.push_back(f);
    total.lines += s.lines;
    total.long_lines += s.long_lines;
    total.bytes += s.bytes;
  }
  if (total.lines == 0) {
    throw Error("tokenizer train: empty corpus, no non-blank line in " + join(empty));
  }
  for (const auto& f : empty) log::warn("[tokenizer] {} has no non-blank line; skipped", f);
  if (total.long_lines > 0) {
    log::warn("[tokenizer] {} lines longer than {} bytes are skipped by sentencepiece", total.long_lines,
              kMaxSentenceBytes);
  }

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec || !fs::is_directory(o.out_dir)) {
    throw Error("tokenizer train: cannot create output directory " + o.out_dir +
                (ec ? " (" + ec.message() + ")" : std::string(" (a file is in the way)")));
  }

  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  const std::string prefix = (fs::path(o.out_dir) / "spm").string();
  // Special ids: pad 0 and unk 1 are sentencepiece's own reserved pieces (renamed); [CLS] [SEP]
  // [MASK] are user-defined symbols, which sentencepiece numbers right after the reserved ids
  // and always segments out of the text whole. bos/eos are off: [CLS]/[SEP] play their part.
  std::unordered_map<std::string, std::string> args{
      {"model_prefix", prefix},
      {"model_type", o.type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"normalization_rule_name", o.normalization_rule},
      {"input_sentence_size", std::to_string(o.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", std::to_string(kMaxSentenceBytes)},
      {"num_threads", std::to_string(threads)},
      {"pad_id", std::to_string(kSentencePiecePadId)},
      {"unk_id", std::to_string(kSentencePieceUnkId)},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"pad_piece", "[PAD]"},
      {"unk_piece", "[UNK]"},
      {"user_defined_symbols", "[CLS],[SEP],[MASK]"},
      // sentencepiece logs every EM step at INFO; show it only when we are at debug level.
      {"minloglevel", log::enabled(log::Level::debug) ? "0" : "2"},
  };

  log::info("[tokenizer] training a {} sentencepiece model, vocab {}, on {} lines ({:.1f} MB) from {} file(s)",
            o.type, o.vocab_size, total.lines, static_cast<double>(total.bytes) / 1e6, o.inputs.size());
  if (o.input_sentence_size > 0 && total.lines > o.input_sentence_size) {
    log::info("[tokenizer] sampling {} of the {} lines (input sentence size)", o.input_sentence_size,
              total.lines);
  }

  LineIterator lines(o.inputs);
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines);
  if (!status.ok()) {
    std::string hint;
    if (status.ToString().find("Vocabulary size") != std::string::npos)
      hint = " Lower the vocab size or give more text.";
    throw Error("tokenizer train: sentencepiece failed to train a " + o.type + " model with vocab size " +
                std::to_string(o.vocab_size) + " on " + join(o.inputs) + ": " + status.ToString() + "." +
                hint);
  }

  nlohmann::json cfg;
  cfg["tokenizer_class"] = kSentencePieceTokenizerClass;
  cfg["model_file"] = kSentencePieceModelFile;
  cfg["model_type"] = o.type;
  cfg["vocab_size"] = o.vocab_size;
  cfg["normalization_rule"] = o.normalization_rule;
  cfg["do_lower_case"] = o.normalization_rule == "nmt_nfkc_cf";
  cfg["character_coverage"] = o.character_coverage;
  cfg["input_sentence_size"] = o.input_sentence_size;
  cfg["inputs"] = o.inputs;
  cfg["training_lines"] = total.lines;
  cfg["num_threads"] = threads;  // a unigram vocabulary depends on it (see the header)
  cfg["pad_token"] = "[PAD]";
  cfg["unk_token"] = "[UNK]";
  cfg["cls_token"] = "[CLS]";
  cfg["sep_token"] = "[SEP]";
  cfg["mask_token"] = "[MASK]";
  cfg["special_token_ids"] = {{"[PAD]", kSentencePiecePadId}, {"[UNK]", kSentencePieceUnkId},
                              {"[CLS]", kSentencePieceClsId}, {"[SEP]", kSentencePieceSepId},
                              {"[MASK]", kSentencePieceMaskId}};
  write_file_atomic((fs::path(o.out_dir) / "tokenizer_config.json").string(), cfg.dump(2) + "\n");
  log::info("[tokenizer] wrote {}/{{spm.model,spm.vocab,tokenizer_config.json}}", o.out_dir);
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

struct SentencePieceTokenizer::Impl {
  SentencePieceOptions opt;
  sentencepiece::SentencePieceProcessor sp;
  int64_t size = 0;
  int64_t pad = -1, unk = -1, cls = -1, sep = -1, mask = -1;
  int meta = -1;  // the lone "▁" piece, if the vocabulary has it

  struct Piece {
    int64_t id;
    size_t begin, end;
    int64_t word;
  };

  bool is_special(int64_t id) const {
    return id == pad || id == unk || id == cls || id == sep || id == mask;
  }
  // [CLS]/[SEP]/[MASK]/[PAD] found in the text stand alone as words ([UNK] is ordinary text
  // that the vocabulary lacks, so it belongs to the word around it).
  bool is_text_special(int64_t id) const { return id == pad || id == cls || id == sep || id == mask; }

  void pieces(std::string_view text, std::vector<Piece>& out) const {
    const auto spt = sp.EncodeAsImmutableProto(text);
    const size_t n = spt.pieces_size();
    out.reserve(n);
    int64_t word = -1;
    bool after_special = false;
    for (size_t i = 0; i < n; ++i) {
      const auto p = spt.pieces(static_cast<int>(i));
      const int64_t id = p.id();
      const bool special = is_text_special(id);
      const bool starts_word = starts_with_meta(p.piece());
      if (word < 0 || starts_word || special || after_special) ++word;
      after_special = special;
      size_t begin = p.begin(), end = p.end();
      if (starts_word) begin = visible_begin(text, begin, end);
      out.push_back({id, begin, end, word});
    }
    // A character that normalization expands into several pieces ("½" -> "1", "⁄", "2") is
    // attributed by sentencepiece to the last of them; the others get an empty range at its
    // start. Give them the character's range too, so that no piece of the text points nowhere
    // (as Hugging Face's tokenizers do). Not for a lone "▁": it stands for the space before.
    for (size_t i = out.size(); i-- > 1;) {
      Piece& p = out[i - 1];
      const Piece& next = out[i];
      if (p.begin == p.end && next.begin == p.begin && next.end > p.end && p.id != meta) p.end = next.end;
    }
  }
};

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = std::move(options);
  const std::string& path = m.opt.model_path;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": sentencepiece model not found");
  const auto status = m.sp.Load(path);
  if (!status.ok()) {
    throw Error(path + ": not a valid sentencepiece model (" + status.ToString() + ")");
  }
  m.size = m.sp.GetPieceSize();
  // PieceToId answers the unknown id for strings that are not pieces, so check the round trip.
  auto find = [&](const std::string& token, const char* role) -> int64_t {
    const int id = m.sp.PieceToId(token);
    if (id < 0 || id >= m.size || m.sp.IdToPiece(id) != token) {
      throw Error(path + ": the " + std::string(role) + " token '" + token +
                  "' is not a piece of the model (expected [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4, "
                  "as `bert tokenizer train` reserves them; other names can be set in "
                  "tokenizer_config.json)");
    }
    return id;
  };
  m.pad = find(m.opt.pad_token, "pad");
  m.unk = find(m.opt.unk_token, "unknown");
  m.cls = find(m.opt.cls_token, "cls");
  m.sep = find(m.opt.sep_token, "sep");
  m.mask = find(m.opt.mask_token, "mask");
  const int meta = m.sp.PieceToId(kMeta);
  if (meta >= 0 && meta < m.size && m.sp.IdToPiece(meta) == kMeta) m.meta = meta;
  if (m.unk != m.sp.unk_id()) {
    throw Error(path + ": the unknown token '" + m.opt.unk_token + "' has id " + std::to_string(m.unk) +
                " but the model's unknown piece is '" + m.sp.IdToPiece(m.sp.unk_id()) + "' (id " +
                std::to_string(m.sp.unk_id()) + ")");
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;
SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;

SentencePieceTokenizer SentencePieceTokenizer::from_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": tokenizer directory not found");
  SentencePieceOptions o;
  o.model_path = (fs::path(dir) / kSentencePieceModelFile).string();
  if (!fs::is_regular_file(o.model_path, ec)) {
    throw Error(dir + ": no " + std::string(kSentencePieceModelFile) +
                " (a sentencepiece tokenizer directory, as `bert tokenizer train` writes it)");
  }
  const std::string cfg_path = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(cfg_path, ec)) {
    nlohmann::json cfg;
    try {
      cfg = nlohmann::json::parse(read_text_file(cfg_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(cfg_path + ": invalid JSON (" + e.what() + ")");
    }
    if (!cfg.is_object()) throw Error(cfg_path + ": expected a JSON object, found " + cfg.type_name());
    read_special(cfg, "pad_token", cfg_path, o.pad_token);
    read_special(cfg, "unk_token", cfg_path, o.unk_token);
    read_special(cfg, "cls_token", cfg_path, o.cls_token);
    read_special(cfg, "sep_token", cfg_path, o.sep_token);
    read_special(cfg, "mask_token", cfg_path, o.mask_token);
  }
  return SentencePieceTokenizer(std::move(o));
}

Encoding SentencePieceTokenizer::encode(std::string_view text, std::optional<std::string_view> pair,
                                        size_t max_length) const {
  const Impl& m = *impl_;
  std::vector<Impl::Piece> a, b;
  m.pieces(text, a);
  if (pair) m.pieces(*pair, b);
  const auto [keep_a, keep_b] = longest_first_lengths(a.size(), b.size(), pair.has_value(), max_length);
  a.resize(keep_a);
  b.resize(keep_b);

  return assemble_encoding(a, b, pair.has_value(), m.cls, m.sep,
                           [&](int64_t id) { return m.sp.IdToPiece(static_cast<int>(id)); });
}

std::vector<std::string> SentencePieceTokenizer::tokenize(std::string_view text) const {
  std::vector<Impl::Piece> pieces;
  impl_->pieces(text, pieces);
  std::vector<std::string> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) out.push_back(impl_->sp.IdToPiece(static_cast<int>(p.id)));
  return out;
}

std::vector<int64_t> SentencePieceTokenizer::encode_ids(std::string_view text) const {
  std::vector<int> ids;
  const auto status = impl_->sp.Encode(text, &ids);
  if (!status.ok()) throw Error("encode: sentencepiece failed (" + status.ToString() + ")");
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids,
                                           bool skip_special_tokens) const {
  const Impl& m = *impl_;
  auto decode_run = [&](const std::vector<int>& run) {
    std::string s;
    const auto status = m.sp.Decode(run, &s);
    if (!status.ok()) throw Error("decode: sentencepiece failed (" + status.ToString() + ")");
    return s;
  };
  // Ordinary ids are decoded by sentencepiece in runs, which restores the spaces from "▁".
  // Special tokens that are kept, and ids outside the vocabulary (sentencepiece would abort the
  // process on those; they become the unknown token's string, as WordPiece and transformers
  // do), are written out between runs, separated by one space: sentencepiece itself would
  // render [PAD] as nothing and [UNK] as " ⁇ ".
  std::string out;
  std::vector<int> run;
  run.reserve(ids.size());
  bool whole = true;  // nothing written out yet: the result is exactly sentencepiece's decode
  auto append = [&](std::string s) {
    const size_t b = s.find_first_not_of(' ');
    if (b == std::string::npos) return;
    s = s.substr(b, s.find_last_not_of(' ') - b + 1);
    if (!out.empty()) out += ' ';
    out += s;
  };
  auto flush = [&] {
    if (!run.empty()) append(decode_run(run));
    run.clear();
  };
  // A skipped special token usually leaves the lone "▁" piece that preceded it ("the [MASK]
  // sat" is ▁the ▁ [MASK] ▁sat); dropped too when a space follows anyway, it would otherwise
  // double the space ("the  sat").
  bool space_before_skipped = false;
  for (int64_t id : ids) {
    const bool valid = id >= 0 && id < m.size;
    if (valid && !m.is_special(id)) {
      if (space_before_skipped && starts_with_meta(m.sp.IdToPiece(static_cast<int>(id)))) run.pop_back();
      space_before_skipped = false;
      run.push_back(static_cast<int>(id));
    } else if (valid && skip_special_tokens) {
      // Dropped without breaking the run, so the spaces around it stay as decoded.
      if (!run.empty() && run.back() == m.meta) space_before_skipped = true;
      continue;
    } else {
      space_before_skipped = false;
      whole = false;
      flush();
      append(id_to_token(id));
    }
  }
  if (space_before_skipped) run.pop_back();
  if (whole) return decode_run(run);
  flush();
  return out;
}

int64_t SentencePieceTokenizer::vocab_size() const { return impl_->size; }

int64_t SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int id = impl_->sp.PieceToId(token);
  if (id < 0 || id >= impl_->size || impl_->sp.IdToPiece(id) != token) return -1;
  return id;
}

std::string SentencePieceTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= impl_->size) return impl_->opt.unk_token;
  return impl_->sp.IdToPiece(static_cast<int>(id));
}

int64_t SentencePieceTokenizer::pad_id() const { return impl_->pad; }
int64_t SentencePieceTokenizer::unk_id() const { return impl_->unk; }
int64_t SentencePieceTokenizer::cls_id() const { return impl_->cls; }
int64_t SentencePieceTokenizer::sep_id() const { return impl_->sep; }
int64_t SentencePieceTokenizer::mask_id() const { return impl_->mask; }

const SentencePieceOptions& SentencePieceTokenizer::options() const { return impl_->opt; }

}  // namespace bert::tokenizer
