// The `bert` binary on bad input: each case exits non-zero with one line on stderr that names
// the file and the problem. Runs the real binary (BERT_BINARY_PATH) in a shell.
#include "bert/dist/process_group.h"
#include "test/cli/cli_helpers.h"
#include "test/test_helpers.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>

namespace fs = std::filesystem;

namespace {

using bert::test::Run;

Run run_bert(const std::string& args) { return bert::test::bert_cli(args); }

fs::path make_checkpoint_copy(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("bert_cli_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt"})
    fs::copy_file(bert::test::data_path(std::string("hf-tiny/") + f), dir / f);
  return dir;
}

void require_one_line_error(const Run& r, const std::string& must_contain) {
  INFO("output: " << r.output);
  REQUIRE(r.status != 0);
  REQUIRE(r.output.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  REQUIRE(r.output.find(must_contain) != std::string::npos);
}

}  // namespace

TEST_CASE("bert info on bad checkpoints", "[cli][errors]") {
  SECTION("missing config.json") {
    auto dir = make_checkpoint_copy("noconfig");
    fs::remove(dir / "config.json");
    require_one_line_error(run_bert("info " + dir.string()), "missing config.json");
    fs::remove_all(dir);
  }
  SECTION("unknown activation") {
    auto dir = make_checkpoint_copy("act");
    std::ofstream(dir / "config.json") << R"({"model_type": "bert", "hidden_act": "swishy"})";
    require_one_line_error(run_bert("info " + dir.string()), "unknown 'hidden_act' \"swishy\"");
    fs::remove_all(dir);
  }
  SECTION("truncated safetensors") {
    auto dir = make_checkpoint_copy("trunc");
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") / 2);
    require_one_line_error(run_bert("info " + dir.string()), "model.safetensors");
    fs::remove_all(dir);
  }
  SECTION("header that lies about sizes") {
    auto dir = make_checkpoint_copy("lie");
    std::fstream f(dir / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    uint64_t huge = 1ull << 40;
    f.write(reinterpret_cast<const char*>(&huge), 8);
    f.close();
    require_one_line_error(run_bert("info " + dir.string()), "model.safetensors");
    fs::remove_all(dir);
  }
}

TEST_CASE("bert convert rejects a wrong-shape tensor", "[cli][errors]") {
  auto dir = make_checkpoint_copy("shape");
  std::ofstream(dir / "config.json") << R"({"model_type": "bert", "architectures": ["BertForPreTraining"],
    "vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 48, "max_position_embeddings": 64})";
  auto out = dir / "out";
  require_one_line_error(run_bert("convert --input " + dir.string() + " --out " + out.string()),
                         "intermediate.dense.bias' has shape [64], the model expects [48]");
  REQUIRE_FALSE(fs::exists(out / "model.safetensors"));
  fs::remove_all(dir);
}

namespace {

// A short pre-training command on the fixture's tokenizer, writing to `out`.
std::string tiny_pretrain_command(const fs::path& out) {
  return "pretrain --corpus " + bert::test::data_path("corpus/alice-in-wonderland.txt") + " --tokenizer " +
         bert::test::data_path("hf-tiny") + " --model-config " + BERT_SOURCE_DIR +
         "/configs/bert-tiny.json --max-steps 2 --out " + out.string();
}

}  // namespace

TEST_CASE("bert pretrain --cuda-graphs where it cannot run", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_graphs_" + std::to_string(::getpid()));
  require_one_line_error(run_bert(tiny_pretrain_command(out) + " --cuda-graphs --device cpu"),
                         "--cuda-graphs needs --device cuda, found cpu");
  REQUIRE_FALSE(fs::exists(out));  // refused before anything was written
}

TEST_CASE("bert pretrain --dist-backend nccl where it cannot run", "[cli][errors]") {
  const auto out = fs::temp_directory_path() / ("bert_cli_nccl_" + std::to_string(::getpid()));
  const std::string pretrain = tiny_pretrain_command(out) + " --nproc 2";
  // Refused by the launcher, before any worker starts or anything is written.
  if (bert::dist::nccl_available())
    require_one_line_error(run_bert(pretrain + " --dist-backend nccl --device cpu"),
                           "--dist-backend nccl needs --device cuda");
  else
    require_one_line_error(run_bert(pretrain + " --dist-backend nccl --device cuda"),
                           "--dist-backend nccl: this bert was built without c10d's NCCL backend");
  REQUIRE_FALSE(fs::exists(out));
  const auto unknown = run_bert(pretrain + " --dist-backend mpi");  // CLI11's own message
  CHECK(unknown.status != 0);
  CHECK(unknown.output.find("--dist-backend: mpi not in {auto,gloo,nccl}") != std::string::npos);
}

TEST_CASE("bert convert and info on a real checkpoint", "[cli]") {
  auto out = fs::temp_directory_path() / ("bert_cli_convert_" + std::to_string(::getpid()));
  fs::remove_all(out);
  auto r = run_bert("convert --input " + bert::test::data_path("hf-tiny/pytorch_model.bin") + " --out " + out.string() +
                    " --dtype bf16");
  INFO(r.output);
  REQUIRE(r.status == 0);
  auto info = run_bert("info " + out.string());
  REQUIRE(info.status == 0);
  REQUIRE(info.output.find("BFloat16") != std::string::npos);
  REQUIRE(info.output.find("MLM NSP") != std::string::npos);
  REQUIRE(info.output.find("WordPiece") != std::string::npos);
  fs::remove_all(out);
}

// `--help` of every subcommand names each flag's default, or says that it is required.
TEST_CASE("every flag of every subcommand shows its default", "[cli][help]") {
  for (const char* command : {"info", "convert", "pretrain", "finetune", "evaluate", "predict", "embed",
                              "tokenizer train", "tokenizer encode", "tokenizer decode", "tokenizer info"}) {
    auto r = run_bert(std::string(command) + " --help");
    INFO(command << "\n" << r.output);
    REQUIRE(r.status == 0);
    // CLI11 prints an option as "  --flag ..." with its description on the same or the following
    // indented lines; gather each option's text and check it.
    std::vector<std::string> options;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("  -", 0) == 0) options.push_back(line);
      else if (!options.empty() && line.rfind("     ", 0) == 0) options.back() += line;
      else if (line.empty() || line.find("Subcommands:") != std::string::npos) options.push_back("");
    }
    int checked = 0;
    for (const auto& option : options) {
      if (option.empty() || option.find("--help") != std::string::npos) continue;
      INFO(option);
      const bool documented = option.find("default:") != std::string::npos ||
                              option.find("required") != std::string::npos || option.find("REQUIRED") != std::string::npos;
      CHECK(documented);
      ++checked;
    }
    REQUIRE(checked > 0);
  }
}
