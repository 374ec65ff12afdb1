#include "bert/io/checkpoint.h"

#include "bert/io/safetensors.h"
#include "bert/io/torch_bin.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"
#include "bert/util/text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace bert::io {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Keys HF files may hold that carry no weights of ours: buffers and the decoder tied to the
// word embeddings (its bias is `cls.predictions.bias`, which we load under that name), unless the
// model unties it (tie_word_embeddings false: then the decoder weight is a parameter).
bool is_redundant_key(const std::string& key) {
  return ends_with(key, "embeddings.position_ids") || ends_with(key, "embeddings.token_type_ids") ||
         ends_with(key, "cls.predictions.decoder.weight") || ends_with(key, "cls.predictions.decoder.bias");
}

// Legacy TF-converted names: LayerNorm.gamma/beta → LayerNorm.weight/bias.
std::string modern_name(std::string key) {
  if (ends_with(key, "LayerNorm.gamma")) return key.substr(0, key.size() - 5) + "weight";
  if (ends_with(key, "LayerNorm.beta")) return key.substr(0, key.size() - 4) + "bias";
  return key;
}

}  // namespace

namespace {
// A checkpoint directory's weights, in the order they are looked for.
const char* const kWeightFiles[] = {"model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                                    "pytorch_model.bin.index.json"};
}  // namespace

std::string find_weights_file(const std::string& path) {
  if (!fs::exists(path)) throw Error(path + ": no such file or directory");
  if (!fs::is_directory(path)) return path;
  for (const char* name : kWeightFiles) {
    auto candidate = fs::path(path) / name;
    if (fs::exists(candidate)) return candidate.string();
  }
  throw Error(path + ": no model.safetensors or pytorch_model.bin (or a sharded model's .index.json) in this directory");
}

namespace {

// A sharded checkpoint (transformers' save_pretrained with max_shard_size): the index's
// weight_map names each tensor's shard, a file beside it; every shard is read and every tensor
// the index lists must be in its shard.
NamedTensors read_sharded_weights(const std::string& index_file) {
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_text_file(index_file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(index_file + ": not valid JSON (" + e.what() + ")");
  }
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(index_file + ": expected an object \"weight_map\" {tensor name: shard file}");
  std::vector<std::string> shards;
  std::map<std::string, std::string> shard_of;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos)
      throw Error(index_file + ": weight_map[\"" + name + "\"] must be a file name beside the index, found " + shard.dump());
    shard_of[name] = shard.get<std::string>();
    if (std::find(shards.begin(), shards.end(), shard_of[name]) == shards.end()) shards.push_back(shard_of[name]);
  }
  NamedTensors all;
  std::set<std::pair<std::string, std::string>> found;  // (shard, tensor)
  std::set<std::string> names;
  for (const auto& shard : shards) {
    const std::string file = (fs::path(index_file).parent_path() / shard).string();
    auto tensors = ends_with(shard, ".safetensors") ? read_safetensors(file).tensors : read_torch_bin(file);
    for (auto& named : tensors) {
      if (!names.insert(named.first).second)
        throw Error(file + ": tensor '" + named.first + "' is in another shard too");
      found.emplace(shard, named.first);
      all.push_back(std::move(named));
    }
  }
  for (const auto& [name, shard] : shard_of)
    if (!found.count({shard, name})) throw Error(index_file + ": tensor '" + name + "' is not in its shard " + shard);
  return all;
}

}  // namespace

NamedTensors read_weights(const std::string& path) {
  const std::string file = find_weights_file(path);
  if (ends_with(file, ".index.json")) return read_sharded_weights(file);
  if (ends_with(file, ".safetensors")) return read_safetensors(file).tensors;
  if (ends_with(file, ".bin") || ends_with(file, ".pt") || ends_with(file, ".pth")) return read_torch_bin(file);
  throw Error(file + ": unknown weight file type (expected .safetensors, .bin or a sharded model's .index.json)");
}

namespace {

// Whether `param` can simply take over `tensor`'s memory: same dtype, device and shape, both
// dense and contiguous, and `tensor` the only user of a storage exactly its size (a view into a
// shared storage, as torch.save writes tied weights, must be copied).
bool can_adopt(const torch::Tensor& param, const torch::Tensor& tensor) {
  return param.scalar_type() == tensor.scalar_type() && param.device() == tensor.device() &&
         param.layout() == torch::kStrided && tensor.layout() == torch::kStrided && param.is_contiguous() &&
         tensor.is_contiguous() && tensor.storage_offset() == 0 && tensor.storage().use_count() == 1 &&
         tensor.storage().nbytes() == tensor.nbytes() && !tensor.requires_grad();
}

LoadReport load_weights_impl(torch::nn::Module& model, const NamedTensors& weights, const std::string& source,
                             bool adopt_memory) {
  auto params = model.named_parameters(/*recurse=*/true);
  std::map<std::string, torch::Tensor> targets;
  bool model_has_bert_prefix = false;
  for (const auto& p : params) {
    targets[p.key()] = p.value();
    if (starts_with(p.key(), "bert.")) model_has_bert_prefix = true;
  }

  LoadReport report;
  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [raw_key, tensor] : weights) {
    if (is_redundant_key(raw_key) && !targets.count(raw_key)) continue;  // an untied decoder is a target
    std::string key = modern_name(raw_key);
    // A bare BertModel file ("embeddings.…") into a model with heads ("bert.embeddings.…"), and back.
    if (model_has_bert_prefix && !starts_with(key, "bert.") && targets.count("bert." + key)) key = "bert." + key;
    if (!model_has_bert_prefix && starts_with(key, "bert.")) key = key.substr(5);
    auto it = targets.find(key);
    if (it == targets.end()) {
      report.ignored.push_back(raw_key);
      continue;
    }
    auto& target = it->second;
    if (target.sizes() != tensor.sizes())
      throw Error(source + ": tensor '" + raw_key + "' has shape " + shape_string(tensor) + ", the model expects " +
                  shape_string(target) + " for '" + key + "'");
    if (!tensor.is_floating_point())
      throw Error(source + ": tensor '" + raw_key + "' has integer dtype " + std::string(c10::toString(tensor.scalar_type())) +
                  ", expected a floating-point weight");
    if (loaded.count(key)) throw Error(source + ": tensor '" + key + "' appears twice (as '" + raw_key + "')");
    if (adopt_memory && can_adopt(target, tensor))
      target.set_data(tensor);
    else
      target.copy_(tensor);
    loaded.insert(key);
  }
  for (const auto& [key, _] : targets) {
    if (loaded.count(key)) continue;
    // The encoder must come from the file; heads and the pooler may be new (fine-tuning starts so).
    const std::string inner = starts_with(key, "bert.") ? key.substr(5) : key;
    const bool is_encoder = starts_with(inner, "embeddings.") || starts_with(inner, "encoder.");
    if (is_encoder && (model_has_bert_prefix ? starts_with(key, "bert.") : true))
      throw Error(source + ": missing tensor '" + key + "' (the file has " + std::to_string(weights.size()) +
                  " tensors; is this a BERT checkpoint of the same architecture?)");
    report.initialised.push_back(key);
  }
  return report;
}

}  // namespace

LoadReport load_weights(torch::nn::Module& model, const NamedTensors& weights, const std::string& source) {
  return load_weights_impl(model, weights, source, /*adopt_memory=*/false);
}

LoadReport load_weights(torch::nn::Module& model, NamedTensors&& weights, const std::string& source) {
  return load_weights_impl(model, weights, source, /*adopt_memory=*/true);
}

void log_load_report(const LoadReport& report, const std::string& source) {
  if (!report.initialised.empty()) {
    std::string list;
    for (const auto& k : report.initialised) list += (list.empty() ? "" : ", ") + k;
    log::warn("[checkpoint] {}: {} tensors not in the file, freshly initialised: {}", source,
                 report.initialised.size(), list);
  }
  if (!report.ignored.empty()) {
    std::string list;
    for (const auto& k : report.ignored) list += (list.empty() ? "" : ", ") + k;
    log::info("[checkpoint] {}: {} tensors in the file not used by this model: {}", source, report.ignored.size(),
                 list);
  }
}

NamedTensors model_weights(torch::nn::Module& model, torch::Dtype dtype) {
  NamedTensors out;
  for (const auto& p : model.named_parameters(/*recurse=*/true))
    out.emplace_back(p.key(), p.value().detach().to(torch::kCPU, dtype).contiguous());
  return out;
}

void save_model(const std::string& dir, const model::BertConfig& config, torch::nn::Module& model,
                torch::Dtype dtype, const std::vector<std::string>& leave_out) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
  auto cfg = config;
  // transformers 5 names it "dtype", 4.x "torch_dtype": keep whichever the config has.
  const char* dtype_key = cfg.extra.contains("dtype") ? "dtype" : "torch_dtype";
  cfg.extra[dtype_key] = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kHalf ? "float16" : "float32";
  auto weights = model_weights(model, dtype);
  weights.erase(std::remove_if(weights.begin(), weights.end(),
                               [&](const auto& w) {
                                 return std::find(leave_out.begin(), leave_out.end(), w.first) != leave_out.end();
                               }),
                weights.end());
  // An untied decoder is saved by transformers with its bias under its own name as well (the same
  // values as cls.predictions.bias), and expected there when loading.
  const bool untied = !cfg.ties_word_embeddings();
  for (size_t i = 0; untied && i < weights.size(); ++i)
    if (weights[i].first == "cls.predictions.bias") {
      weights.emplace_back("cls.predictions.decoder.bias", weights[i].second);
      break;
    }
  write_safetensors((fs::path(dir) / "model.safetensors").string(), weights, {{"format", "pt"}});
  cfg.save((fs::path(dir) / "config.json").string());
}

namespace {
const char* const kTokenizerFiles[] = {"vocab.txt",      "tokenizer_config.json", "special_tokens_map.json",
                                       "tokenizer.json", "spm.model",             "spm.vocab"};
}  // namespace

std::vector<std::string> checkpoint_files(const std::string& dir) {
  std::vector<std::string> files;
  std::vector<std::string> names(std::begin(kTokenizerFiles), std::end(kTokenizerFiles));
  names.insert(names.end(), std::begin(kWeightFiles), std::end(kWeightFiles));
  for (const char* name : {"config.json", "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                           "1_Pooling/config.json"})
    names.push_back(name);
  for (const auto& name : names)
    if (fs::exists(fs::path(dir) / name)) files.push_back((fs::path(dir) / name).string());
  return files;
}

void require_config_json(const std::string& dir) {
  if (fs::exists(fs::path(dir) / "config.json")) return;
  std::string hint;
  for (const char* inside : {"best", "final", "checkpoints"})
    if (fs::is_directory(fs::path(dir) / inside))
      hint += std::string(hint.empty() ? "" : ", ") + (fs::path(dir) / inside).string() + (std::string(inside) == "checkpoints" ? "/step-N" : "");
  throw Error(dir + ": missing config.json" + (hint.empty() ? "" : " (a run directory: give " + hint + ")"));
}

void refuse_output_over_model_or_data(const std::string& flag, const std::string& output, const std::string& model_dir,
                                      const std::string& data_file) {
  if (output.empty() || output == "-") return;
  auto inputs = checkpoint_files(model_dir);
  inputs.push_back(data_file);
  refuse_output_over_input(flag, output, inputs);
}

int copy_tokenizer_files(const std::string& from_dir, const std::string& to_dir) {
  int copied = 0;
  for (const char* name : kTokenizerFiles) {
    auto from = fs::path(from_dir) / name;
    if (!fs::exists(from)) continue;
    auto to = fs::path(to_dir) / name;
    if (fs::exists(to) && fs::equivalent(from, to)) continue;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    ++copied;
  }
  return copied;
}

}  // namespace bert::io
