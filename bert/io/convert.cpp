#include "bert/io/convert.h"

#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/factory.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

namespace bert::io {

namespace fs = std::filesystem;

namespace {

std::string config_path_for(const ConvertOptions& o) {
  if (!o.config_path.empty()) return o.config_path;
  fs::path in(o.input);
  return ((fs::is_directory(in) ? in : in.parent_path()) / "config.json").string();
}

std::string format_count(int64_t n) {
  if (n >= 1000000) return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1000) return fmt::format("{:.1f}k", n / 1e3);
  return std::to_string(n);
}

// Groups a key under its module: "bert.encoder.layer.3.x" → "bert.encoder.layer.3".
std::string module_group(const std::string& key) {
  std::string inner = key.rfind("bert.", 0) == 0 ? key.substr(5) : key;
  std::string prefix = key.size() == inner.size() ? "" : "bert.";
  size_t dot = inner.find('.');
  std::string head = inner.substr(0, dot);
  if (head == "encoder") {
    // encoder.layer.N
    size_t d2 = inner.find('.', dot + 1);
    size_t d3 = d2 == std::string::npos ? d2 : inner.find('.', d2 + 1);
    return prefix + inner.substr(0, d3);
  }
  if (head == "cls") {
    size_t d2 = inner.find('.', dot + 1);
    return inner.substr(0, d2);
  }
  return prefix + head;
}

}  // namespace

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16") return torch::kHalf;
  throw Error("--dtype: expected float32, bfloat16 or float16, found \"" + name + "\"");
}

namespace {

// A sentence-transformers model's settings (modules.json, each module's folder such as 1_Pooling/,
// sentence_bert_config.json) travel with its weights, so that `embed` on the copy pools and
// normalises as on the original.
int copy_sentence_transformers_files(const fs::path& from, const fs::path& to) {
  if (!fs::exists(from / "modules.json")) return 0;
  int copied = 0;
  for (const char* name : {"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"})
    if (fs::exists(from / name)) {
      fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
      ++copied;
    }
  const auto modules = nlohmann::json::parse(read_text_file((from / "modules.json").string()), nullptr, false);
  if (!modules.is_array()) return copied;
  for (const auto& m : modules) {
    const std::string path = m.is_object() && m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
    if (path.empty() || fs::path(path).is_absolute() || path.find("..") != std::string::npos ||
        !fs::is_directory(from / path))
      continue;  // only a module's own folder inside the model directory
    fs::create_directories(to / path);
    fs::copy(from / path, to / path, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    ++copied;
  }
  return copied;
}

}  // namespace

std::string convert_checkpoint(const ConvertOptions& o) {
  if (!fs::exists(o.input)) throw Error("--input " + o.input + ": no such file or directory");
  // Writing into the directory read would replace the weights (and, with --dtype, lose precision).
  const fs::path source_dir = fs::is_directory(o.input) ? fs::path(o.input) : fs::path(o.input).parent_path();
  std::error_code ec;
  if (fs::equivalent(o.out_dir, source_dir.empty() ? fs::path(".") : source_dir, ec))
    throw Error("--out " + o.out_dir + ": is the directory of --input " + o.input + "; convert into a new directory");
  const std::string config_file = config_path_for(o);
  if (!fs::exists(config_file))
    throw Error(config_file + ": missing config.json (pass --config for a lone weight file)");
  auto config = model::BertConfig::load(config_file);
  const std::string weights_file = find_weights_file(o.input);
  auto weights = read_weights(weights_file);
  auto arch = model::architecture_from_name(config.architecture, config_file);
  auto model = model::make_model(arch, config);
  auto report = load_weights(*model, weights, weights_file);
  if (!report.initialised.empty()) {
    std::string names;
    for (const auto& n : report.initialised) names += (names.empty() ? "" : ", ") + n;
    log::info("[convert] {} has no {}: not in the copy either", weights_file, names);
  }
  auto ignored_only = report;
  ignored_only.initialised.clear();
  log_load_report(ignored_only, weights_file);
  // The source's architecture name and only its tensors: a BertForMaskedLM stays one, without a
  // pooler and next-sentence head drawn at random (transformers would load those as trained).
  save_model(o.out_dir, config, *model, o.dtype, report.initialised);
  const int tokenizer_files = copy_tokenizer_files(source_dir.string(), o.out_dir);
  const fs::path out(o.out_dir);
  if (!fs::exists(out / "vocab.txt") && !fs::exists(out / "spm.model") && !fs::exists(out / "tokenizer.json"))
    // else fine-tuning the copy would stop later at "no tokenizer found"
    log::warn("[convert] {} has no tokenizer files (vocab.txt, spm.model, tokenizer.json): copy the model's into {} "
              "before using it",
              source_dir.string(), o.out_dir);
  const int copied = tokenizer_files + copy_sentence_transformers_files(source_dir, o.out_dir);
  int64_t params = 0, left_out = 0;
  for (const auto& item : model->named_parameters()) {
    params += item.value().numel();
    if (std::find(report.initialised.begin(), report.initialised.end(), item.key()) != report.initialised.end())
      left_out += item.value().numel();
  }
  return fmt::format("[convert] {} → {}: {} ({} parameters, {}), {} tokenizer and sentence-transformers files",
                     weights_file, o.out_dir, config.architecture, format_count(params - left_out), c10::toString(o.dtype),
                     copied);
}

std::string describe_checkpoint(const std::string& dir) {
  const std::string config_file = (fs::path(dir) / "config.json").string();
  require_config_json(dir);
  auto config = model::BertConfig::load(config_file);
  const std::string weights_file = find_weights_file(dir);
  auto weights = read_weights(weights_file);

  std::ostringstream out;
  out << "checkpoint   " << dir << "\n";
  out << "architecture " << config.architecture << "\n";
  out << fmt::format("shape        {} layers, hidden {}, {} heads, intermediate {}, {} positions, vocab {}\n",
                     config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
                     config.intermediate_size, config.max_position_embeddings, config.vocab_size);
  out << "activation   " << config.hidden_act << ", dropout " << config.hidden_dropout_prob << "/"
      << config.attention_probs_dropout_prob << "\n";
  const bool regression = config.architecture == "BertForSequenceClassification" &&
                          (config.problem_type == std::optional<std::string>("regression") || config.num_labels == 1);
  if (regression) {
    out << "task         regression (" << config.num_labels << (config.num_labels == 1 ? " score" : " scores") << ")\n";
  } else if (config.architecture == "BertForSequenceClassification" ||
             config.architecture == "BertForTokenClassification") {
    out << "labels       " << config.num_labels;
    for (const auto& [id, name] : config.id2label) out << (id == 0 ? " (" : ", ") << id << "=" << name;
    out << (config.id2label.empty() ? "" : ")");
    if (config.problem_type) out << ", " << *config.problem_type;  // e.g. multi_label_classification
    out << "\n";
  }
  std::map<std::string, int64_t> by_module;
  std::map<std::string, int64_t> by_dtype;
  int64_t total = 0;
  bool has_mlm = false, has_nsp = false, has_classifier = false, has_qa = false;
  for (const auto& [key, t] : weights) {
    if ((key.find("decoder.weight") != std::string::npos && config.ties_word_embeddings()) ||
        key.find("position_ids") != std::string::npos)
      continue;  // the tied decoder is the word embedding matrix again
    by_module[module_group(key)] += t.numel();
    by_dtype[c10::toString(t.scalar_type())] += t.numel();
    total += t.numel();
    has_mlm |= key.rfind("cls.predictions.", 0) == 0;
    has_nsp |= key.rfind("cls.seq_relationship.", 0) == 0;
    has_classifier |= key.rfind("classifier.", 0) == 0;
    has_qa |= key.rfind("qa_outputs.", 0) == 0;
  }
  out << "weights      " << weights_file << " (" << weights.size() << " tensors, " << format_count(total)
      << " parameters)\n";
  out << "dtypes      ";
  for (const auto& [d, n] : by_dtype) out << " " << d << ":" << format_count(n);
  const bool choice = config.architecture == "BertForMultipleChoice";
  out << "\nheads        " << (has_mlm ? "MLM " : "") << (has_nsp ? "NSP " : "")
      << (has_classifier ? (choice ? "multiple choice (one score per candidate) " : "classifier ") : "")
      << (has_qa ? "question answering (answer start/end) " : "")
      << (!has_mlm && !has_nsp && !has_classifier && !has_qa ? "none (bare encoder)" : "") << "\n";
  out << "parameters by module:\n";
  for (const auto& [m, n] : by_module) out << fmt::format("  {:<32} {:>10}\n", m, format_count(n));
  std::string tokenizer = "none";
  if (fs::exists(fs::path(dir) / "spm.model")) tokenizer = "sentencepiece (spm.model)";
  else if (fs::exists(fs::path(dir) / "vocab.txt")) tokenizer = "WordPiece (vocab.txt)";
  else if (fs::exists(fs::path(dir) / "tokenizer.json")) tokenizer = "WordPiece (tokenizer.json)";
  out << "tokenizer    " << tokenizer << "\n";
  auto state = fs::path(dir) / "trainer_state.json";
  out << "train state  " << (fs::exists(state) ? state.string() : "none") << "\n";
  return out.str();
}

}  // namespace bert::io
