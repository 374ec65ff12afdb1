// Throughput benchmark of WordPieceTokenizer::encode_batch on real text: the SST-2 training
// sentences (short, pre-tokenised, lower-case) and the Project Gutenberg novels split into
// paragraphs (long, mixed case, punctuation-heavy), with one thread and with every core. It
// reports tokens/s and MB/s of input; bench/tokenizer_bench.py runs it next to Hugging Face
// `tokenizers` on the same texts. Each measurement is the best of --repeat runs, because on a
// shared machine the minimum is the least noisy estimate of what the code itself costs.
//
//   tokenizer_bench --vocab VOCAB --data ../shared/data [--repeat 3] [--threads N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bert/tokenizer/wordpiece.h"
#include "bert/util/error.h"

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw bert::Error("cannot open '" + p.string() + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// SST-2 train.tsv: header, then sentence<TAB>label.
std::vector<std::string> load_sst2(const fs::path& data) {
  std::istringstream in(read_file(data / "glue" / "SST-2" / "train.tsv"));
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t tab = line.find('\t');
    if (!line.empty()) out.push_back(line.substr(0, tab));
  }
  return out;
}

// Every novel, split into paragraphs at blank lines; the lines of a paragraph are joined with
// spaces (CRLF line ends and the BOM are left to the tokenizer, which treats them as it must).
std::vector<std::string> load_gutenberg(const fs::path& data) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(data / "corpus" / "gutenberg"))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::istringstream in(read_file(f));
    std::string line, para;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) {
        if (!para.empty()) out.push_back(std::move(para));
        para.clear();
      } else {
        if (!para.empty()) para += ' ';
        para += line;
      }
    }
    if (!para.empty()) out.push_back(std::move(para));
  }
  return out;
}

struct Result {
  std::string corpus;
  int threads;
  size_t texts, bytes, tokens;
  double seconds;
};

}  // namespace

int main(int argc, char** argv) {
  std::string vocab, data = "../shared/data";
  int repeat = 3, max_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "tokenizer_bench: missing value after " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--vocab") vocab = value();
    else if (a == "--data") data = value();
    else if (a == "--repeat") repeat = std::max(1, std::stoi(value()));
    else if (a == "--threads") max_threads = std::max(1, std::stoi(value()));
    else if (a == "--json") json = true;
    else {
      std::cerr << "usage: tokenizer_bench --vocab FILE [--data DIR] [--repeat N] [--threads N]"
                   " [--json]\n";
      return 2;
    }
  }
  if (vocab.empty()) vocab = (fs::path(data) / "vocab" / "bert-base-uncased-vocab.txt").string();

  try {
    bert::tokenizer::WordPieceOptions opt;
    opt.vocab_path = vocab;
    const bert::tokenizer::WordPieceTokenizer tok(opt);
    const std::vector<std::pair<std::string, std::vector<std::string>>> corpora = {
        {"sst2-train", load_sst2(data)}, {"gutenberg", load_gutenberg(data)}};

    std::vector<Result> results;
    for (const auto& [name, texts] : corpora) {
      size_t bytes = 0;
      for (const auto& t : texts) bytes += t.size();
      std::vector<int> thread_counts = {1};
      if (max_threads > 1) thread_counts.push_back(max_threads);
      for (int threads : thread_counts) {
        double best = 1e300;
        size_t tokens = 0;
        for (int r = 0; r < repeat; ++r) {
          const auto t0 = std::chrono::steady_clock::now();
          const auto encs = tok.encode_batch(texts, nullptr, 0, threads);
          const auto t1 = std::chrono::steady_clock::now();
          best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
          tokens = 0;
          for (const auto& e : encs) tokens += e.ids.size();
        }
        results.push_back({name, threads, texts.size(), bytes, tokens, best});
      }
    }
    for (const auto& r : results) {
      if (json) {
        std::printf(
            "{\"corpus\": \"%s\", \"threads\": %d, \"texts\": %zu, \"bytes\": %zu, "
            "\"tokens\": %zu, \"seconds\": %.6f}\n",
            r.corpus.c_str(), r.threads, r.texts, r.bytes, r.tokens, r.seconds);
      } else {
        std::printf("%-12s threads=%-2d texts=%-7zu tokens=%-9zu %8.3f s  %7.2f M tokens/s  %7.2f MB/s\n",
                    r.corpus.c_str(), r.threads, r.texts, r.tokens, r.seconds,
                    r.tokens / r.seconds / 1e6, r.bytes / r.seconds / 1e6);
      }
    }
  } catch (const bert::Error& e) {
    std::cerr << "tokenizer_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
