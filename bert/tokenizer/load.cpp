// Tokenizer directory dispatch and description. The config's tokenizer_class wins over the
// files present because a directory may hold leftovers of another kind (a Hugging Face download
// with both vocab.txt and a .model file, say); without a config, exactly one of vocab.txt and
// spm.model must be there. Errors list every file that was looked for, since "no tokenizer" is
// most often a wrong path.
#include "bert/tokenizer/load.h"

#include <filesystem>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "bert/tokenizer/sentencepiece_tokenizer.h"
#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

namespace fs = std::filesystem;

namespace bert::tokenizer {

namespace {

// Hugging Face classes that are BertTokenizer under another name (same vocab.txt, same
// algorithm, same tokenizer_config.json keys).
const char* const kWordPieceClasses[] = {"BertTokenizer",       "BertTokenizerFast",
                                         "DistilBertTokenizer", "DistilBertTokenizerFast",
                                         "ElectraTokenizer",    "ElectraTokenizerFast"};

bool is_wordpiece_class(const std::string& name) {
  for (const char* c : kWordPieceClasses)
    if (name == c) return true;
  return false;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The whole config, or null when the directory has none.
nlohmann::json read_config(const fs::path& path) {
  if (!is_file(path)) return nullptr;
  nlohmann::json cfg;
  try {
    cfg = nlohmann::json::parse(read_text_file(path.string()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": invalid JSON (" + e.what() + ")");
  }
  if (!cfg.is_object()) throw Error(path.string() + ": expected a JSON object, found " + cfg.type_name());
  return cfg;
}

std::string supported_classes() {
  std::string s;
  for (const char* c : kWordPieceClasses) s += std::string(s.empty() ? "" : ", ") + c;
  return s + " (vocab.txt or tokenizer.json) or " + kSentencePieceTokenizerClass + " / " +
         kHuggingFaceFastTokenizerClass + " (spm.model)";
}

// Whether dir/tokenizer.json holds a sentencepiece model (Unigram or BPE: ours, re-saved by
// transformers without spm.model) rather than WordPiece.
bool is_sentencepiece_json(const fs::path& path) {
  if (!is_file(path)) return false;
  try {
    const auto j = nlohmann::json::parse(read_text_file(path.string()));
    const std::string type = j.contains("model") && j["model"].is_object() ? j["model"].value("type", "") : "";
    return type == "Unigram" || type == "BPE";
  } catch (const nlohmann::json::exception&) {
    return false;  // the WordPiece reader names what is wrong with it
  }
}

// A short text that exercises the specials and a word split, shown by describe_tokenizer().
constexpr const char* kExample = "Tokenizers split unbelievable words. [MASK]";

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": tokenizer directory not found");
  const fs::path d(dir);
  // tokenizer.json alone (transformers 5's save_pretrained) is WordPiece, or our sentencepiece
  // tokenizer when its model is Unigram or BPE; beside spm.model it is the Hugging Face form of the
  // latter.
  const bool has_spm = is_file(d / kSentencePieceModelFile) ||
                       (!is_file(d / "vocab.txt") && is_sentencepiece_json(d / "tokenizer.json"));
  const bool has_vocab = is_file(d / "vocab.txt") || (is_file(d / "tokenizer.json") && !has_spm);
  const fs::path cfg_path = d / "tokenizer_config.json";
  const nlohmann::json cfg = read_config(cfg_path);

  auto wordpiece = [&] {
    return std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_directory(dir));
  };
  auto sentencepiece = [&] {
    return std::make_unique<SentencePieceTokenizer>(SentencePieceTokenizer::from_directory(dir));
  };

  if (cfg.is_object() && cfg.contains("tokenizer_class") && !cfg["tokenizer_class"].is_null()) {
    const auto& c = cfg["tokenizer_class"];
    if (!c.is_string()) {
      throw Error(cfg_path.string() + ": 'tokenizer_class' must be a string, found " + c.dump());
    }
    const std::string name = c.get<std::string>();
    if (is_wordpiece_class(name)) return wordpiece();
    if (name == kSentencePieceTokenizerClass) return sentencepiece();
    // A generic fast tokenizer: ours beside spm.model, else tokenizer.json's model (WordPiece; the
    // WordPiece reader names any other).
    if (name == kHuggingFaceFastTokenizerClass || name == "TokenizersBackend") {
      if (has_spm) return sentencepiece();
      return wordpiece();
    }
    throw Error(cfg_path.string() + ": tokenizer_class \"" + name + "\" is not supported; expected " +
                supported_classes());
  }
  if (has_vocab && has_spm) {
    throw Error(dir + ": holds both vocab.txt and " + kSentencePieceModelFile +
                " and no tokenizer_config.json \"tokenizer_class\" to choose between them; expected " +
                supported_classes());
  }
  if (has_vocab) return wordpiece();
  if (has_spm) return sentencepiece();
  throw Error(dir + ": no tokenizer found; looked for vocab.txt or tokenizer.json (WordPiece), " +
              std::string(kSentencePieceModelFile) + " (SentencePiece) and tokenizer_config.json");
}

std::string describe_tokenizer(const Tokenizer& t, const std::string& dir) {
  std::ostringstream out;
  const fs::path d(dir);
  nlohmann::json cfg;
  try {
    cfg = read_config(d / "tokenizer_config.json");
  } catch (const Error&) {
    cfg = nullptr;  // load_tokenizer already reported a broken config; describe what loaded
  }
  auto cfg_value = [&](const char* key) -> std::string {
    if (!cfg.is_object() || !cfg.contains(key) || cfg[key].is_null()) return "";
    return cfg[key].is_string() ? cfg[key].get<std::string>() : cfg[key].dump();
  };

  std::vector<std::string> candidates = {"vocab.txt", "tokenizer.json", kSentencePieceModelFile, kSentencePieceVocabFile,
                                         "tokenizer_config.json", "special_tokens_map.json"};
  std::string files;
  for (const auto& f : candidates)
    if (is_file(d / f)) files += (files.empty() ? "" : ", ") + f;

  if (const auto* wp = dynamic_cast<const WordPieceTokenizer*>(&t)) {
    const auto& o = wp->options();
    out << "tokenizer: WordPiece (Hugging Face BertTokenizer)\n";
    out << "directory: " << dir << "\n";
    out << "files: " << files << "\n";
    out << "vocab size: " << t.vocab_size() << "\n";
    out << "lower case: " << (o.do_lower_case ? "yes" : "no")
        << ", strip accents: " << (wp->strips_accents() ? "yes" : "no")
        << (o.strip_accents ? "" : " (follows lower case)")
        << ", chinese chars split: " << (o.tokenize_chinese_chars ? "yes" : "no") << "\n";
  } else if (dynamic_cast<const SentencePieceTokenizer*>(&t)) {
    const std::string type = cfg_value("model_type");
    out << "tokenizer: SentencePiece" << (type.empty() ? "" : " (" + type + ")") << "\n";
    out << "directory: " << dir << "\n";
    out << "files: " << files << "\n";
    out << "vocab size: " << t.vocab_size() << "\n";
    const std::string norm = cfg_value("normalization_rule");
    if (!norm.empty()) {
      out << "normalization: " << norm << " (lower case: " << (norm == "nmt_nfkc_cf" ? "yes" : "no")
          << ")\n";
    }
    const std::string coverage = cfg_value("character_coverage");
    if (!coverage.empty()) out << "character coverage: " << coverage << "\n";
    const std::string lines = cfg_value("training_lines");
    if (!lines.empty()) out << "trained on: " << lines << " lines\n";
  } else {
    out << "tokenizer: (unknown kind)\n";
    out << "directory: " << dir << "\n";
    out << "vocab size: " << t.vocab_size() << "\n";
  }

  out << "special tokens:";
  for (int64_t id : {t.pad_id(), t.unk_id(), t.cls_id(), t.sep_id(), t.mask_id()})
    out << " " << t.id_to_token(id) << "=" << id;
  out << "\n";

  const Encoding e = t.encode(kExample);
  out << "example: \"" << kExample << "\" ->";
  for (const auto& tok : e.tokens) out << " " << tok;
  out << " (" << e.size() << " tokens)\n";
  return out.str();
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir, int64_t model_vocab_size) {
  auto tokenizer = load_tokenizer(dir);
  // transformers loads such a directory too, and only a text using one of the extra tokens fails;
  // but it is most often a vocabulary that does not belong to the model, so it is said up front.
  if (static_cast<int64_t>(tokenizer->vocab_size()) > model_vocab_size)
    log::warn("{}: the tokenizer has {} tokens but config.json's vocab_size is {}: a text with a token of id {} or "
              "more has no embedding and will fail (does the vocabulary belong to this model?)",
              dir, tokenizer->vocab_size(), model_vocab_size, model_vocab_size);
  return tokenizer;
}

}  // namespace bert::tokenizer
