// Dropout on the CPU: ours (bert::model::apply_dropout, a hashed mask filled by all intra-op threads)
// against LibTorch's torch::dropout (a bernoulli draw per element on one thread), forward and forward
// + backward, on the shapes a BERT layer drops: hidden states (B, S, H) and attention probabilities
// (B, nh, S, S). Median of --repeat calls per cell, then the ratio.
//
//   cmake --build build --target dropout_bench
//   build/dropout_bench [--threads 2] [--repeat 20]
#include "bert/model/layers.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

double median_ms(const std::function<void()>& call, int repeat) {
  call();  // first-touch allocations
  std::vector<double> ms;
  for (int r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    call();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Dropout on the CPU: ours against LibTorch's"};
  int threads = 2, repeat = 20;
  double p = 0.1;
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--repeat", repeat, "calls per cell (median)");
  app.add_option("--p", p, "dropout probability");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);

  struct Shape { const char* name; std::vector<int64_t> sizes; };
  const std::vector<Shape> shapes = {{"hidden 16x128x768", {16, 128, 768}},
                                     {"probs 16x12x128x128", {16, 12, 128, 128}}};
  std::printf("threads %d, p %.2f, median of %d calls, ms\n", threads, p, repeat);
  std::printf("%-22s %-6s %-12s %9s %9s %7s\n", "shape", "dtype", "pass", "LibTorch", "ours", "ratio");
  for (const auto& shape : shapes) {
    for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
      const auto x = torch::randn(shape.sizes).to(dtype);
      const auto grad = torch::randn(shape.sizes).to(dtype);
      const char* dtype_name = dtype == torch::kFloat ? "fp32" : "bf16";
      auto forward = [&](bool ours) -> std::function<void()> {
        return [&, ours] {
          torch::NoGradGuard no_grad;
          ours ? bert::model::apply_dropout(x, p, true) : torch::dropout(x, p, true);
        };
      };
      auto both = [&](bool ours) -> std::function<void()> {
        return [&, ours] {
          auto leaf = x.detach().requires_grad_(true);
          auto y = ours ? bert::model::apply_dropout(leaf, p, true) : torch::dropout(leaf, p, true);
          y.backward(grad);
        };
      };
      for (int pass = 0; pass < 2; ++pass) {
        const double theirs = median_ms(pass == 0 ? forward(false) : both(false), repeat);
        const double ours = median_ms(pass == 0 ? forward(true) : both(true), repeat);
        std::printf("%-22s %-6s %-12s %9.2f %9.2f %6.1fx\n", shape.name, dtype_name,
                    pass == 0 ? "forward" : "fwd+bwd", theirs, ours, theirs / ours);
      }
    }
  }
  return 0;
}
