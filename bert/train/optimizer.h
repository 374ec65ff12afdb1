// AdamW with decoupled weight decay in the two parameter groups BERT has always used: decay on
// weight matrices and embeddings, none on biases and LayerNorm parameters (Google's BERT and HF
// Trainer's rule). Uses LibTorch's own torch::optim::AdamW, so the update is PyTorch's.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>

namespace bert::train {

struct AdamWSettings {
  double lr = 1e-4;
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-6;
};

// True for parameters exempt from weight decay: biases and LayerNorm weights.
bool is_no_decay_parameter(const std::string& name);

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const AdamWSettings& settings);

// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace bert::train
