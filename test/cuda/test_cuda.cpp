// GPU tests: hidden from the default run (tag [.]) and run by scripts/gpu_check.sh on a machine
// with a CUDA GPU and a bert built against a CUDA PyTorch wheel, as `bert_tests "[cuda]"`. On a
// machine without one they fail at the first REQUIRE, saying so.
#include "bert/dist/process_group.h"
#include "bert/io/checkpoint.h"
#include "bert/io/safetensors.h"
#include "bert/model/heads.h"
#include "bert/train/precision.h"
#include "test/cli/cli_helpers.h"
#include "test/test_helpers.h"
#include "test/train/optimizer_comparison.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace bert;
using bert::test::bert_cli;
using bert::test::data_path;
using bert::test::read_jsonl;
using bert::test::require_close;
using bert::test::require_ok;

namespace {

void require_gpu() {
  INFO("these tests need a CUDA GPU and a bert_tests built against a CUDA LibTorch");
  REQUIRE(torch::cuda::is_available());
}

const torch::Device kGpu(torch::kCUDA, 0);

std::map<std::string, torch::Tensor> read_map(const std::string& path, const torch::Device& device) {
  std::map<std::string, torch::Tensor> m;
  for (auto& [k, v] : io::read_safetensors(path).tensors) m[k] = v.to(device);
  return m;
}

model::BertForPreTraining fixture_model(const torch::Device& device) {
  model::BertForPreTraining model(model::BertConfig::load(data_path("hf-tiny/config.json")));
  io::load_weights(*model, io::read_weights(data_path("hf-tiny/model.safetensors")), "model.safetensors");
  model->eval();
  model->to(device);
  return model;
}

fs::path make_run_dir(const std::string& name) { return bert::test::make_tiny_run_dir("cuda", name); }

std::string pretrain_command(const fs::path& dir, const std::string& config, int batch = 8) {
  return "pretrain --corpus " + data_path("corpus/alice-in-wonderland.txt") + " --tokenizer " + (dir / "tok").string() +
         " --model-config " + config + " --seq-len 64 --batch-size " + std::to_string(batch) +
         " --lr 1e-3 --warmup-steps 1 --log-every 1"
         " --eval-every 1000 --save-every 4 --eval-fraction 0 --threads 2 --cache-dir " + (dir / "cache").string();
}

// Two runs logged the same number of steps, each step's loss within 2e-3 of the other's (and its
// gradient norm within 1 %, when asked).
void require_same_losses(const fs::path& a, const fs::path& b, size_t steps, bool grad_norms = false) {
  auto ma = read_jsonl(a / "metrics.jsonl"), mb = read_jsonl(b / "metrics.jsonl");
  REQUIRE(ma.size() == steps);
  REQUIRE(mb.size() == steps);
  for (size_t i = 0; i < steps; ++i) {
    INFO("step " << i + 1);
    CHECK(mb[i]["loss"].get<double>() == Approx(ma[i]["loss"].get<double>()).margin(2e-3));
    if (grad_norms) CHECK(mb[i]["grad_norm"].get<double>() == Approx(ma[i]["grad_norm"].get<double>()).epsilon(1e-2));
  }
}

// A run logged `steps` finite losses that fell by more than 0.5; returns its metrics.
std::vector<nlohmann::json> require_training(const fs::path& run, size_t steps) {
  auto m = read_jsonl(run / "metrics.jsonl");
  REQUIRE(m.size() == steps);
  for (const auto& r : m) {
    REQUIRE(r.contains("loss"));
    REQUIRE(std::isfinite(r.at("loss").get<double>()));
  }
  CHECK(m.back().at("loss").get<double>() < m.front().at("loss").get<double>() - 0.5);
  return m;
}

}  // namespace

TEST_CASE("the fixture's HF outputs on the GPU (fp32)", "[.][cuda]") {
  require_gpu();
  auto model = fixture_model(kGpu);
  torch::NoGradGuard no_grad;
  auto in = read_map(data_path("hf-tiny/inputs.safetensors"), kGpu);
  auto want = read_map(data_path("hf-tiny/expected.safetensors"), torch::kCPU);
  model::ForwardOptions explicit_attention;
  explicit_attention.output_attentions = true;
  auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"], explicit_attention);
  REQUIRE(out.bert.last_hidden_state.is_cuda());
  require_close("last_hidden_state", out.bert.last_hidden_state, want["bert.last_hidden_state"], 1e-4, 1e-4);
  require_close("pooler_output", out.bert.pooler_output, want["bert.pooler_output"], 1e-4, 1e-4);
  require_close("attentions.1", out.bert.attentions[1], want["bert.attentions.1"], 1e-4, 1e-4);
  require_close("prediction_logits.logsumexp", out.prediction_logits.logsumexp(-1),
                want["pretraining.prediction_logits.logsumexp"], 1e-4, 1e-4);
  // scaled_dot_product_attention (the path without probabilities) agrees with the explicit one.
  auto fused = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
  require_close("sdpa last_hidden_state", fused.bert.last_hidden_state, want["bert.last_hidden_state"], 1e-4, 1e-4);
}

TEST_CASE("bf16 and fp16 autocast on the GPU stay close to fp32", "[.][cuda]") {
  require_gpu();
  auto model = fixture_model(kGpu);
  torch::NoGradGuard no_grad;
  auto in = read_map(data_path("hf-tiny/inputs.safetensors"), kGpu);
  auto fp32 = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]).bert.last_hidden_state;
  for (auto precision : {train::Precision::bf16, train::Precision::fp16}) {
    INFO(train::precision_name(precision));
    train::AutocastGuard autocast(precision, kGpu);
    auto out = model->forward(in["input_ids"], in["attention_mask"], in["token_type_ids"]);
    auto hidden = out.bert.last_hidden_state.to(torch::kFloat);
    REQUIRE(torch::isfinite(hidden).all().item<bool>());
    const double rel = ((hidden - fp32).norm() / fp32.norm()).item<double>();
    CHECK(rel < (precision == train::Precision::bf16 ? 2e-2 : 5e-3));
  }
}

TEST_CASE("fused AdamW and foreach clipping on the GPU match LibTorch's AdamW", "[.][cuda]") {
  require_gpu();
  bert::test::run_optimizer_comparison(kGpu);
}

TEST_CASE("pre-training on the GPU gives the CPU's losses", "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("losses");
  const auto cmd = pretrain_command(dir, (dir / "tiny-no-dropout.json").string()) + " --max-steps 8";
  require_ok(bert_cli(cmd + " --device cpu --out " + (dir / "cpu").string()));
  auto gpu = bert_cli(cmd + " --device cuda --out " + (dir / "gpu").string());
  require_ok(gpu);
  CHECK(gpu.output.find("on cuda:0") != std::string::npos);
  require_same_losses(dir / "cpu", dir / "gpu", 8);
  fs::remove_all(dir);
}

TEST_CASE("gradient checkpointing on the GPU gives the same losses (dropout on: the CUDA generator replayed)",
          "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("checkpointing");
  const auto cmd = pretrain_command(dir, std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json") +
                   " --max-steps 8 --device cuda";
  require_ok(bert_cli(cmd + " --out " + (dir / "plain").string()));
  require_ok(bert_cli(cmd + " --gradient-checkpointing --out " + (dir / "checkpointed").string()));
  require_same_losses(dir / "plain", dir / "checkpointed", 8, /*grad_norms=*/true);
  fs::remove_all(dir);
}

TEST_CASE("pre-training with CUDA graphs gives the eager GPU run's losses", "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("graphs");
  // Batches of varying length (--short-seq-prob 0.1 by default), padded to 64 in the graph.
  const auto cmd = pretrain_command(dir, (dir / "tiny-no-dropout.json").string()) + " --max-steps 8 --device cuda";
  require_ok(bert_cli(cmd + " --out " + (dir / "eager").string()));
  auto graphed = bert_cli(cmd + " --cuda-graphs --out " + (dir / "graphed").string());
  require_ok(graphed);
  CHECK(graphed.output.find("CUDA graph captured at step 4") != std::string::npos);
  require_same_losses(dir / "eager", dir / "graphed", 8, /*grad_norms=*/true);
  // Dropout on, bf16, two micro-batches per step (two replays add into the same gradients): it trains.
  const auto out = dir / "bf16";
  require_ok(bert_cli(pretrain_command(dir, std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json") +
                      " --max-steps 30 --device cuda --precision bf16 --grad-accum 2 --cuda-graphs --out " +
                      out.string()));
  require_training(out, 30);
  fs::remove_all(dir);
}

TEST_CASE("a GPU run stopped at step 4 and resumed reaches the weights of a straight run", "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("resume");
  // A constant learning rate: the stopped run's schedule must not depend on its --max-steps.
  const auto cmd = pretrain_command(dir, std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json") +
                   " --schedule constant --device cuda";
  require_ok(bert_cli(cmd + " --max-steps 8 --out " + (dir / "straight").string()));
  require_ok(bert_cli(cmd + " --max-steps 4 --out " + (dir / "resumed").string()));
  auto again = bert_cli(cmd + " --max-steps 8 --out " + (dir / "resumed").string());
  require_ok(again);
  CHECK(again.output.find("resumed from") != std::string::npos);
  // With dropout on: the GPU's random generator is restored too (rng_cuda.pt).
  auto a = io::read_safetensors((dir / "straight" / "final" / "model.safetensors").string()).tensors;
  auto b = io::read_safetensors((dir / "resumed" / "final" / "model.safetensors").string()).tensors;
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) require_close(a[i].first, a[i].second, b[i].second, 1e-5, 1e-4);
  fs::remove_all(dir);
}

TEST_CASE("bf16 and fp16 (dynamic loss scaling) pre-training on the GPU", "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("precision");
  for (const char* precision : {"bf16", "fp16"}) {
    INFO(precision);
    const auto out = dir / precision;
    require_ok(bert_cli(pretrain_command(dir, std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json") +
                        " --max-steps 30 --device cuda --precision " + precision + " --out " + out.string()));
    auto m = require_training(out, 30);
    CHECK(m.back().contains("loss_scale") == (std::string(precision) == "fp16"));
  }
  fs::remove_all(dir);
}

TEST_CASE("two workers on one GPU (Gloo, CUDA tensors) match one process with the whole batch", "[.][cuda]") {
  require_gpu();
  if (!dist::distributed_available()) {
    WARN("built without Gloo's headers: no multi-process training to test");
    return;
  }
  const auto dir = make_run_dir("dist");
  const auto config = (dir / "tiny-no-dropout.json").string();
  require_ok(bert_cli(pretrain_command(dir, config, 8) + " --max-steps 5 --device cuda:0 --out " + (dir / "one").string()));
  require_ok(bert_cli(pretrain_command(dir, config, 4) + " --max-steps 5 --device cuda:0 --nproc 2 --out " +
                      (dir / "two").string()));
  auto a = io::read_safetensors((dir / "one" / "final" / "model.safetensors").string()).tensors;
  auto b = io::read_safetensors((dir / "two" / "final" / "model.safetensors").string()).tensors;
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) require_close(a[i].first, a[i].second, b[i].second, 1e-4, 0.0);
  fs::remove_all(dir);
}

TEST_CASE("fine-tune (classification, multi-label, question answering), evaluate, predict and embed on the GPU", "[.][cuda]") {
  require_gpu();
  const auto dir = make_run_dir("finetune");
  require_ok(bert_cli(pretrain_command(dir, std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json") +
                      " --max-steps 4 --device cuda --out " + (dir / "pre").string()));
  const auto task = [](const char* f) { return data_path(std::string("tasks/") + f); };
  const auto cls = dir / "cls";
  require_ok(bert_cli("finetune --init " + (dir / "pre" / "final").string() + " --train " + task("sst2_train_300.tsv") +
                      " --dev " + task("sst2_dev_100.tsv") + " --text-column sentence --label-column label --epochs 2"
                      " --batch-size 16 --lr 1e-3 --device cuda --precision bf16 --out " + cls.string()));
  const auto metrics_file = dir / "metrics.json";
  require_ok(bert_cli("evaluate --model " + (cls / "best").string() + " --data " + task("sst2_dev_100.tsv") +
                      " --text-column sentence --label-column label --device cuda --output " + metrics_file.string()));
  auto m = nlohmann::json::parse(std::ifstream(metrics_file));
  REQUIRE(m["examples"] == 100);
  // The same model on the CPU gives the same accuracy (fp32 both; a near-tie may flip one row).
  const auto cpu_file = dir / "metrics_cpu.json";
  require_ok(bert_cli("evaluate --model " + (cls / "best").string() + " --data " + task("sst2_dev_100.tsv") +
                      " --text-column sentence --label-column label --device cpu --output " + cpu_file.string()));
  CHECK(nlohmann::json::parse(std::ifstream(cpu_file))["accuracy"].get<double>() ==
        Approx(m["accuracy"].get<double>()).margin(0.011));
  auto p = bert_cli("predict --model " + (cls / "best").string() + " --device cuda --text \"a charming film\"");
  require_ok(p);
  CHECK(p.output.find("\"prediction\"") != std::string::npos);
  require_ok(bert_cli("embed --model " + (cls / "best").string() + " --input " + task("sst2_dev_100.tsv") +
                      " --text-column sentence --device cuda --pooling mean --output " + (dir / "emb.safetensors").string()));
  auto emb = io::read_safetensors((dir / "emb.safetensors").string()).tensors;
  REQUIRE(emb.at(0).second.sizes() == torch::IntArrayRef({100, 128}));

  // Multi-label (BCE with per-label weights on the GPU), then the same micro F1 on the CPU.
  const auto types = dir / "types";
  const std::string columns = " --text-column sentence --label-column entity_types";
  require_ok(bert_cli("finetune --init " + (dir / "pre" / "final").string() + " --task multilabel --train " +
                      task("entity_types_train_600.tsv") + " --dev " + task("entity_types_dev_200.tsv") + columns +
                      " --class-weights auto --epochs 2 --batch-size 32 --lr 1e-3 --device cuda --out " + types.string()));
  for (const char* device : {"cuda", "cpu"})
    require_ok(bert_cli("evaluate --model " + (types / "best").string() + " --data " + task("entity_types_dev_200.tsv") +
                        columns + " --device " + device + " --output " + (dir / (std::string(device) + ".json")).string()));
  CHECK(nlohmann::json::parse(std::ifstream(dir / "cpu.json"))["micro_f1"].get<double>() ==
        Approx(nlohmann::json::parse(std::ifstream(dir / "cuda.json"))["micro_f1"].get<double>()).margin(0.01));

  // Question answering (windows of 64 tokens over longer contexts), then the same F1 on the CPU.
  const auto qa = dir / "qa";
  const std::string windows = " --max-seq-len 64 --doc-stride 16";
  require_ok(bert_cli("finetune --init " + (dir / "pre" / "final").string() + " --train " + task("qa_train_300.json") +
                      " --dev " + task("qa_dev_100.json") + windows + " --epochs 2 --batch-size 16 --lr 1e-3 --device cuda"
                      " --precision bf16 --out " + qa.string()));
  for (const char* device : {"cuda", "cpu"})
    require_ok(bert_cli("evaluate --model " + (qa / "best").string() + " --data " + task("qa_dev_100.json") + windows +
                        " --device " + device + " --output " + (dir / (std::string("qa_") + device + ".json")).string()));
  CHECK(nlohmann::json::parse(std::ifstream(dir / "qa_cpu.json"))["f1"].get<double>() ==
        Approx(nlohmann::json::parse(std::ifstream(dir / "qa_cuda.json"))["f1"].get<double>()).margin(0.02));
  fs::remove_all(dir);
}
