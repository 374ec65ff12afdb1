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
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>
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

  // A unigram or BPE model also gets its tokenizer.json, and tokenizer_config.json then names the class
  // transformers builds from that file; load_tokenizer() still reads spm.model.
  SentencePieceOptions model_options;
  model_options.model_path = (fs::path(o.out_dir) / kSentencePieceModelFile).string();
  const SentencePieceTokenizer trained(model_options);
  const bool hugging_face_form = trained.has_hugging_face_form();
  if (hugging_face_form)
    write_file_atomic((fs::path(o.out_dir) / "tokenizer.json").string(), trained.hugging_face_tokenizer_json());
  nlohmann::json cfg;
  cfg["tokenizer_class"] = hugging_face_form ? kHuggingFaceFastTokenizerClass : kSentencePieceTokenizerClass;
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
  log::info("[tokenizer] wrote {}/{{spm.model,spm.vocab,tokenizer_config.json{}}}", o.out_dir,
            hugging_face_form ? ",tokenizer.json" : "");
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

  // The pieces of text[begin, end), which holds no special token; offsets into the whole text.
  void segment_pieces(std::string_view text, size_t begin, size_t end, int64_t& word, std::vector<Piece>& out) const {
    const auto spt = sp.EncodeAsImmutableProto(text.substr(begin, end - begin));
    const size_t n = spt.pieces_size();
    out.reserve(out.size() + n);
    bool first = true;
    for (size_t i = 0; i < n; ++i) {
      const auto p = spt.pieces(static_cast<int>(i));
      const bool starts_word = starts_with_meta(p.piece());
      if (first || starts_word) ++word;
      first = false;
      size_t piece_begin = begin + p.begin(), piece_end = begin + p.end();
      if (starts_word) piece_begin = visible_begin(text, piece_begin, piece_end);
      out.push_back({static_cast<int64_t>(p.id()), piece_begin, piece_end, word});
    }
  }

  // Special tokens written in the text ("The [MASK] sat") are cut out first and the text between
  // them is encoded piece by piece, as transformers does with its added tokens: each part then
  // starts a word of its own ("▁sat"), and no lone "▁" is left for the space before a special.
  void pieces(std::string_view text, std::vector<Piece>& out) const {
    int64_t word = -1;
    size_t start = 0;
    while (start <= text.size()) {
      size_t at = std::string_view::npos, length = 0;
      int64_t special = -1;
      for (const auto& [id, token] : {std::pair{pad, &opt.pad_token}, {unk, &opt.unk_token}, {cls, &opt.cls_token},
                                      {sep, &opt.sep_token}, {mask, &opt.mask_token}}) {
        const size_t found = text.find(*token, start);
        if (found < at) at = found, length = token->size(), special = id;
      }
      const size_t end = at == std::string_view::npos ? text.size() : at;
      if (text.substr(start, end - start).find_first_not_of(" \t\r\n\v\f") != std::string_view::npos)
        segment_pieces(text, start, end, word, out);
      if (at == std::string_view::npos) break;
      out.push_back({special, at, at + length, ++word});
      start = at + length;
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
  if (m.opt.model_proto.empty() && !fs::is_regular_file(path, ec)) throw Error(path + ": sentencepiece model not found");
  const auto status = m.opt.model_proto.empty() ? m.sp.Load(path) : m.sp.LoadFromSerializedProto(m.opt.model_proto);
  m.opt.model_proto.clear();  // sentencepiece keeps its own copy
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
  const std::string json_path = (fs::path(dir) / "tokenizer.json").string();
  const bool from_json = !fs::is_regular_file(o.model_path, ec) && fs::is_regular_file(json_path, ec);
  if (!from_json && !fs::is_regular_file(o.model_path, ec)) {
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
  if (from_json) {
    nlohmann::json tokenizer_json;
    try {
      tokenizer_json = nlohmann::json::parse(read_text_file(json_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(json_path + ": invalid JSON (" + e.what() + ")");
    }
    o.model_proto = sentencepiece_model_from_tokenizer_json(tokenizer_json, o, json_path);
    o.model_path = json_path;
    log::info("[tokenizer] {}: no {}; the sentencepiece model is rebuilt from tokenizer.json", dir,
              kSentencePieceModelFile);
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

// ---------------------------------------------------------------------------------------------
// The same tokenizer for Hugging Face: tokenizer.json

namespace {

// Protocol-buffer wire format, just enough to read two settings out of the serialized
// ModelProto (the processor hands out the bytes; its fields need protobuf's generated headers).
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : b_(bytes) {}
  bool next(uint32_t& field, uint32_t& wire) {
    if (p_ >= b_.size()) return false;
    const uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    wire = static_cast<uint32_t>(key & 7);
    return true;
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= b_.size()) throw Error("sentencepiece model: truncated field");
      const auto byte = static_cast<unsigned char>(b_[p_++]);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    throw Error("sentencepiece model: malformed varint");
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (n > b_.size() - p_) throw Error("sentencepiece model: truncated field");
    auto out = b_.substr(p_, n);
    p_ += n;
    return out;
  }
  void skip(uint32_t wire) {
    if (wire == 0) varint();
    else if (wire == 2) bytes();
    else if (wire == 1 || wire == 5) p_ += wire == 1 ? 8 : 4;
    else throw Error("sentencepiece model: unexpected wire type " + std::to_string(wire));
  }

 private:
  std::string_view b_;
  size_t p_ = 0;
};

struct ModelSettings {
  int model_type = 1;  // TrainerSpec.model_type: 1 unigram, 2 bpe, 3 word, 4 char
  std::string precompiled_charsmap;  // NormalizerSpec: the normalization rule as a compiled table
  bool add_dummy_prefix = true, remove_extra_whitespaces = true;
};

ModelSettings read_model_settings(std::string_view model_proto) {
  ModelSettings m;
  WireReader model(model_proto);
  uint32_t field, wire;
  while (model.next(field, wire)) {
    if ((field == 2 || field == 3) && wire == 2) {  // trainer_spec, normalizer_spec
      WireReader spec(model.bytes());
      uint32_t f, w;
      while (spec.next(f, w)) {
        if (field == 2 && f == 3 && w == 0) m.model_type = static_cast<int>(spec.varint());
        else if (field == 3 && f == 2 && w == 2) m.precompiled_charsmap = std::string(spec.bytes());
        else if (field == 3 && f == 3 && w == 0) m.add_dummy_prefix = spec.varint() != 0;
        else if (field == 3 && f == 4 && w == 0) m.remove_extra_whitespaces = spec.varint() != 0;
        else spec.skip(w);
      }
    } else {
      model.skip(wire);
    }
  }
  return m;
}

std::string base64(std::string_view in) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace

bool SentencePieceTokenizer::has_hugging_face_form() const {
  const int type = read_model_settings(impl_->sp.serialized_model_proto()).model_type;
  return type == 1 || type == 2;
}

std::string SentencePieceTokenizer::hugging_face_tokenizer_json() const {
  const auto& m = *impl_;
  const auto settings = read_model_settings(m.sp.serialized_model_proto());
  if (settings.model_type != 1 && settings.model_type != 2)
    throw Error(m.opt.model_path + ": only unigram and BPE sentencepiece models have a tokenizer.json form here");
  using nlohmann::json;
  json model;
  if (settings.model_type == 1) {
    json vocab = json::array();
    for (int i = 0; i < static_cast<int>(m.size); ++i) vocab.push_back({m.sp.IdToPiece(i), m.sp.GetScore(i)});
    model = {{"type", "Unigram"}, {"unk_id", m.unk}, {"vocab", vocab}, {"byte_fallback", false}};
  } else {
    // BPE: sentencepiece merges the adjacent pair whose union is the highest-scoring piece; as
    // tokenizers' ranked merges, every split of every piece into two pieces, ranked by the
    // union's score (then the parts'), which for a trained BPE model is its id order; a run of
    // characters outside the vocabulary is one [UNK], as sentencepiece gives it.
    json vocab = json::object();
    std::unordered_map<std::string, int> normal;
    for (int i = 0; i < static_cast<int>(m.size); ++i) {
      vocab[m.sp.IdToPiece(i)] = i;
      if (!m.sp.IsControl(i) && !m.sp.IsUnknown(i) && !m.is_special(i)) normal.emplace(m.sp.IdToPiece(i), i);
    }
    std::vector<std::tuple<float, int, int, std::string, std::string>> merges;
    for (const auto& [piece, id] : normal)
      for (size_t k = 1; k < piece.size(); ++k) {
        if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
        auto left = normal.find(piece.substr(0, k)), right = normal.find(piece.substr(k));
        if (left != normal.end() && right != normal.end())
          merges.emplace_back(-m.sp.GetScore(id), left->second, right->second, left->first, right->first);
      }
    std::sort(merges.begin(), merges.end());
    json merge_list = json::array();
    for (const auto& merge : merges) merge_list.push_back({std::get<3>(merge), std::get<4>(merge)});
    model = {{"type", "BPE"},          {"dropout", nullptr},         {"unk_token", m.opt.unk_token},
             {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", true},
             {"byte_fallback", false}, {"ignore_merges", false},     {"vocab", vocab},
             {"merges", merge_list}};
  }
  // The special tokens are matched in the text before anything else, as the C++ side does.
  json added = json::array();
  for (int64_t id : {m.pad, m.unk, m.cls, m.sep, m.mask})
    added.push_back({{"id", id}, {"content", m.sp.IdToPiece(static_cast<int>(id))}, {"single_word", false},
                     {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  // sentencepiece's normalizer: the rule's table (NFKC, case folding for nmt_nfkc_cf), then
  // leading, trailing and repeated spaces removed; words start with "▁".
  json normalizers = json::array();
  if (!settings.precompiled_charsmap.empty())
    normalizers.push_back({{"type", "Precompiled"}, {"precompiled_charsmap", base64(settings.precompiled_charsmap)}});
  if (settings.remove_extra_whitespaces) {
    normalizers.push_back({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}});
  }
  const json metaspace = {{"type", "Metaspace"},
                          {"replacement", "\u2581"},
                          {"prepend_scheme", settings.add_dummy_prefix ? "always" : "never"},
                          {"split", true}};
  auto special = [&](int64_t id, int type_id) {
    return json{{"SpecialToken", {{"id", m.sp.IdToPiece(static_cast<int>(id))}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* which, int type_id) { return json{{"Sequence", {{"id", which}, {"type_id", type_id}}}}; };
  json special_tokens = json::object();
  for (int64_t id : {m.cls, m.sep}) {
    const std::string piece = m.sp.IdToPiece(static_cast<int>(id));
    special_tokens[piece] = {{"id", piece}, {"ids", {id}}, {"tokens", {piece}}};
  }
  const json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", normalizers}}},
      {"pre_tokenizer", metaspace},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {special(m.cls, 0), sequence("A", 0), special(m.sep, 0)}},
        {"pair", {special(m.cls, 0), sequence("A", 0), special(m.sep, 0), sequence("B", 1), special(m.sep, 1)}},
        {"special_tokens", special_tokens}}},
      {"decoder", metaspace},
      {"model", model}};
  return tokenizer.dump(1) + "\n";
}

namespace {

// Protocol-buffer wire format, as much of it as a ModelProto needs.
class WireWriter {
 public:
  void varint(uint32_t field, uint64_t value) {
    key(field, 0);
    raw_varint(value);
  }
  void fixed_float(uint32_t field, float value) {
    key(field, 5);
    char b[4];
    std::memcpy(b, &value, 4);  // little-endian, as x86 and ARM hold it
    out_.append(b, 4);
  }
  void bytes(uint32_t field, std::string_view value) {
    key(field, 2);
    raw_varint(value.size());
    out_.append(value);
  }
  const std::string& str() const { return out_; }

 private:
  void key(uint32_t field, uint32_t wire) { raw_varint((static_cast<uint64_t>(field) << 3) | wire); }
  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  std::string out_;
};

std::string base64_decode(std::string_view in, const std::string& where) {
  auto value = [&](char c) -> uint32_t {
    if (c >= 'A' && c <= 'Z') return static_cast<uint32_t>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<uint32_t>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    throw Error(where + ": precompiled_charsmap is not base64 (found '" + std::string(1, c) + "')");
  };
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    buffer = (buffer << 6) | value(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

// The normalizers of tokenizer.json's "normalizer" (a Sequence or one), flattened.
std::vector<nlohmann::json> flatten(const nlohmann::json& component, const char* list_key) {
  if (!component.is_object()) return {};
  if (component.value("type", "") == "Sequence" && component.contains(list_key) && component[list_key].is_array())
    return component[list_key].get<std::vector<nlohmann::json>>();
  return {component};
}

}  // namespace

std::string sentencepiece_model_from_tokenizer_json(const nlohmann::json& tj, const SentencePieceOptions& specials,
                                                    const std::string& path) {
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    throw Error(path + ": no \"model\" object (not a tokenizers tokenizer.json)");
  const auto& model = tj["model"];
  const std::string type = model.value("type", "");
  if (type != "Unigram" && type != "BPE")
    throw Error(path + ": model type \"" + type + "\" is not a sentencepiece model (expected Unigram or BPE)");
  std::vector<std::pair<std::string, float>> pieces;
  try {
    if (type == "Unigram") {
      for (const auto& entry : model.at("vocab")) pieces.emplace_back(entry.at(0).get<std::string>(), entry.at(1).get<float>());
    } else {
      const auto& vocab = model.at("vocab");
      pieces.resize(vocab.size());
      for (const auto& [piece, id] : vocab.items()) {
        const auto i = id.get<int64_t>();
        if (i < 0 || i >= static_cast<int64_t>(pieces.size()) || !pieces[static_cast<size_t>(i)].first.empty())
          throw Error(path + ": BPE vocab ids are not 0.." + std::to_string(pieces.size() - 1) + " each once");
        // sentencepiece merges the pair whose union scores highest; a trained model's scores
        // fall with the id, which is also the merges' rank (hugging_face_tokenizer_json).
        pieces[static_cast<size_t>(i)] = {piece, -static_cast<float>(i)};
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": unexpected " + type + " vocab (" + e.what() + ")");
  }
  std::string charsmap;
  bool remove_extra_whitespaces = false, add_dummy_prefix = true;
  for (const auto& n : flatten(tj.value("normalizer", nlohmann::json()), "normalizers")) {
    if (n.value("type", "") == "Precompiled")
      charsmap = base64_decode(n.value("precompiled_charsmap", ""), path);
    else if (n.value("type", "") == "Strip")
      remove_extra_whitespaces = true;
  }
  for (const auto& p : flatten(tj.value("pre_tokenizer", nlohmann::json()), "pretokenizers"))
    if (p.value("type", "") == "Metaspace") {
      if (p.contains("prepend_scheme")) add_dummy_prefix = p.value("prepend_scheme", "always") != "never";
      else add_dummy_prefix = p.value("add_prefix_space", true);
    }

  WireWriter proto;
  int64_t unk_id = -1, pad_id = -1;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto& [piece, score] = pieces[i];
    int piece_type = 1;  // NORMAL
    if (piece == specials.unk_token) piece_type = 2, unk_id = static_cast<int64_t>(i);  // UNKNOWN
    else if (piece == specials.pad_token) piece_type = 3, pad_id = static_cast<int64_t>(i);  // CONTROL
    else if (piece == specials.cls_token || piece == specials.sep_token || piece == specials.mask_token)
      piece_type = 4;  // USER_DEFINED
    WireWriter p;
    p.bytes(1, piece);
    p.fixed_float(2, piece_type == 1 ? score : 0.0f);
    if (piece_type != 1) p.varint(3, static_cast<uint64_t>(piece_type));
    proto.bytes(1, p.str());
  }
  if (unk_id < 0) throw Error(path + ": the unknown token '" + specials.unk_token + "' is not in the vocab");
  WireWriter trainer;
  trainer.varint(3, type == "Unigram" ? 1 : 2);  // model_type
  trainer.varint(4, pieces.size());              // vocab_size
  trainer.varint(40, static_cast<uint64_t>(unk_id));
  trainer.varint(41, static_cast<uint64_t>(int64_t{-1}));  // bos_id: none
  trainer.varint(42, static_cast<uint64_t>(int64_t{-1}));  // eos_id: none
  trainer.varint(43, static_cast<uint64_t>(pad_id));
  trainer.bytes(45, specials.unk_token);
  trainer.bytes(48, specials.pad_token);
  proto.bytes(2, trainer.str());
  WireWriter normalizer;
  normalizer.bytes(1, charsmap.empty() ? "identity" : "nmt_nfkc");
  if (!charsmap.empty()) normalizer.bytes(2, charsmap);
  normalizer.varint(3, add_dummy_prefix);
  normalizer.varint(4, remove_extra_whitespaces);
  normalizer.varint(5, 1);  // escape_whitespaces: spaces become "▁"
  proto.bytes(3, normalizer.str());
  return proto.str();
}

}  // namespace bert::tokenizer
