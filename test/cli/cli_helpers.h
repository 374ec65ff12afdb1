// Running the real `bert` binary (BERT_BINARY_PATH) from the CLI tests: in the foreground with its
// output captured, or in the background (for signals and kills); a tiny run directory; reading a
// run's metrics.jsonl; comparing two runs' weights.
#pragma once

#include "bert/io/safetensors.h"
#include "test/test_helpers.h"
#include "test/test_paths.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace bert::test {

struct Run {
  int status;          // exit code
  std::string output;  // stdout and stderr together
};

inline Run bert_cli(const std::string& args) {
  std::string cmd = std::string(BERT_BINARY_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  return {WEXITSTATUS(pclose(pipe)), out};
}

inline void require_ok(const Run& r) {
  INFO(r.output);
  REQUIRE(r.status == 0);
}

// Starts the binary in the background (output to `log`) and returns its pid.
inline pid_t bert_start(const std::string& args, const std::filesystem::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = "exec " + std::string(BERT_BINARY_PATH) + " " + args + " >" + log.string() + " 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// A fresh temporary run directory `bert_<prefix>_<name>_<pid>` holding the BERT vocabulary
// (tok/vocab.txt) and bert-tiny without dropout (tiny-no-dropout.json): runs that must compute
// the same function (one process vs several, CPU vs GPU) cannot share dropout draws.
inline std::filesystem::path make_tiny_run_dir(const std::string& prefix, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bert_" + prefix + "_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "tok");
  fs::copy_file(data_path("tokenizer/vocab.txt"), dir / "tok" / "vocab.txt");
  auto config = nlohmann::json::parse(std::ifstream(std::string(BERT_SOURCE_DIR) + "/configs/bert-tiny.json"));
  config["hidden_dropout_prob"] = 0.0;
  config["attention_probs_dropout_prob"] = 0.0;
  std::ofstream(dir / "tiny-no-dropout.json") << config.dump(2);
  return dir;
}

// The records of a JSON-lines file (a run's metrics.jsonl), in order.
inline std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Two model directories' weights within atol, tensor by tensor; `except`: tensors not compared.
inline void require_close_weights(const std::filesystem::path& a_dir, const std::filesystem::path& b_dir, double atol,
                                  const std::set<std::string>& except = {}) {
  auto a = bert::io::read_safetensors((a_dir / "model.safetensors").string()).tensors;
  auto b = bert::io::read_safetensors((b_dir / "model.safetensors").string()).tensors;
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].first == b[i].first);
    if (!except.count(a[i].first)) require_close(a[i].first, a[i].second, b[i].second, atol, 0.0);
  }
}

}  // namespace bert::test
