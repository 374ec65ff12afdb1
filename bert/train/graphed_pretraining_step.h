// `bert pretrain --cuda-graphs`: the forward and backward pass of a pre-training step through
// inputs of one fixed shape, so that the GPU work can be captured once as a CUDA graph and replayed
// every step. On an H100 a bert-base step was bound by the host launching ~1,500 kernels (~30 µs
// each), not by the GPU; a replay is one launch.
//
// Fixed shapes: every batch is padded to batch_size x seq_len (the attention mask is always
// passed), and the masked-LM head runs on a fixed number of prediction slots; slots beyond a
// batch's masked positions point at a position whose label is -100 (the [CLS] of row 0, never
// predicted), so they add nothing to the loss or its gradient. A batch with more predictions than
// slots is run eagerly (fits() is false); with Google-style masking (--max-predictions N) that
// never happens, with Hugging Face's (0) the slots hold the mean plus 6 standard deviations.
//
// The first kWarmupSteps batches run eagerly (lazy initialisations happen outside the capture),
// the next is captured and every later one replays. Gradients are added to the parameters' .grad
// (which must not be reset to undefined between steps once captured: zero them in place), so that
// gradient accumulation works and an eager step can stand in for a replay at any time. On the
// CPU, or with capture off, every step runs eagerly through the same fixed-shape inputs, which is
// how the tests check the padding against the ordinary path.
#pragma once

#include "bert/data/collate.h"
#include "bert/model/heads.h"
#include "bert/train/precision.h"
#include "bert/train/pretraining_eval.h"
#include "bert/util/cuda_graph.h"

#include <torch/torch.h>

#include <memory>

namespace bert::train {

// Prediction slots for batches of batch_size x seq_len: batch_size x max_predictions with a cap
// per sequence, else mean + 6 standard deviations of a binomial(batch_size x seq_len, mlm_prob).
int64_t prediction_slots(int64_t batch_size, int64_t seq_len, double mlm_prob, int64_t max_predictions);

// Throws bert::Error unless --cuda-graphs can run on this device with this build.
void check_cuda_graphs_usable(const torch::Device& device);

class GraphedPretrainingStep {
 public:
  static constexpr int kWarmupSteps = 3;

  // loss_divisor: the loss is divided by it before backward (--grad-accum). capture: record a CUDA
  // graph after the warm-up steps (checked by check_cuda_graphs_usable); off: always eager.
  GraphedPretrainingStep(model::BertForPreTraining& model, int64_t batch_size, int64_t seq_len, int64_t slots,
                         int64_t pad_id, bool nsp, Precision precision, const torch::Device& device, bool capture,
                         double loss_divisor);

  bool fits(const data::PretrainingBatch& batch) const;
  // Copies the batch into the fixed inputs, then forward + backward (a replay once captured).
  // The losses' tensors are the step's own outputs: read them before the next call.
  PretrainingLosses forward_backward(const data::PretrainingBatch& batch);
  bool captured() const { return graph_ != nullptr; }

 private:
  void fill_inputs(const data::PretrainingBatch& batch);
  PretrainingLosses compute();  // forward, losses, backward
  void capture();               // records compute() into graph_

  model::BertForPreTraining& model_;
  int64_t batch_size_, seq_len_, slots_, pad_id_;
  bool nsp_;
  Precision precision_;
  torch::Device device_;
  bool capture_;
  double loss_divisor_;
  int eager_steps_ = 0;
  PretrainingTensors inputs_;  // on the device, fixed shapes and addresses
  PretrainingLosses losses_;   // the captured step's outputs
  std::unique_ptr<CudaGraph> graph_;
};

}  // namespace bert::train
