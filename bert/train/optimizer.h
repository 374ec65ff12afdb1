// AdamW with decoupled weight decay in the two parameter groups BERT has always used: decay on
// weight matrices and embeddings, none on biases and LayerNorm parameters (Google's BERT and HF
// Trainer's rule). The state lives in LibTorch's torch::optim::AdamW (so checkpoints are its format);
// the update runs through PyTorch's fused AdamW kernel (adamw_step).
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <vector>

namespace bert::train {

struct AdamWSettings {
  double lr = 1e-4;
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-6;
};

// True for parameters exempt from weight decay: biases and LayerNorm weights.
bool is_no_decay_parameter(const std::string& name);

// Rejects settings that cannot train: a negative or non-finite learning rate or weight decay, eps
// <= 0, betas outside [0, 1), a negative clipping norm (each named by its flag).
void check_optimizer_flags(const AdamWSettings& settings, double clip_norm);

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const AdamWSettings& settings);

// Sets the learning rate of every parameter group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// One AdamW step over the parameters that have gradients, the update of torch::optim::AdamW::step
// (and of Python's torch.optim.AdamW) on the same state, through PyTorch's fused kernel
// (_fused_adamw_): one pass over each tensor instead of ~10, and on a GPU a few launches for the
// whole model instead of ~10 per parameter tensor, which at BERT's ~200 tensors is what kept the
// GPU waiting on the host between steps.
void adamw_step(torch::optim::AdamW& optimizer);

// Sets every defined gradient to zero in place (a few foreach kernels). Unlike zero_grad(), which
// drops them, the gradients keep their memory: what a captured CUDA graph writes into.
void zero_gradients(const std::vector<torch::Tensor>& parameters);

// Scales the gradients so that their global L2 norm is at most max_norm, as
// torch::nn::utils::clip_grad_norm_ does (factor max_norm / (norm + 1e-6) when below 1), with
// foreach kernels; returns the norm before clipping (inf/NaN when a gradient is not finite, and
// then the gradients are left as they are). max_norm 0 measures without clipping, as the
// Trainer's max_grad_norm 0 does.
double clip_gradient_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace bert::train
