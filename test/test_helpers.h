// Shared test utilities: paths to the committed test data and a tensor comparison whose
// failure message says which tensor differs, where, and by how much.
#pragma once

#include "bert/model/config.h"
#include "test/test_paths.h"

#include <catch2/catch.hpp>
#include <torch/types.h>

#include <map>
#include <sstream>
#include <string>

namespace bert::test {

// A small encoder for tests that need some BERT: vocabulary 100, hidden 32, intermediate 64.
inline model::BertConfig small_bert_config(int64_t layers, int64_t heads) {
  model::BertConfig c;
  c.vocab_size = 100;
  c.hidden_size = 32;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.intermediate_size = 64;
  return c;
}

// |got - want| <= atol + rtol * |want| elementwise (the fixture's rule).
inline void require_close(const std::string& name, const torch::Tensor& got, const torch::Tensor& want,
                          double atol = 1e-5, double rtol = 1e-5) {
  INFO("tensor " << name);
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == want.sizes());
  auto g = got.detach().to(torch::kCPU, torch::kDouble);
  auto w = want.detach().to(torch::kCPU, torch::kDouble);
  auto diff = (g - w).abs();
  auto excess = diff - (atol + rtol * w.abs());
  const double worst = excess.max().item<double>();
  if (worst > 0) {
    const int64_t at = excess.flatten().argmax().item<int64_t>();
    std::ostringstream msg;
    msg << name << ": max |diff| " << diff.max().item<double>() << " exceeds atol " << atol << " + rtol " << rtol
        << "*|want| at flat index " << at << " (got " << g.flatten()[at].item<double>() << ", want "
        << w.flatten()[at].item<double>() << ")";
    FAIL(msg.str());
  }
  SUCCEED(name << ": max |diff| " << diff.max().item<double>());
}

}  // namespace bert::test
