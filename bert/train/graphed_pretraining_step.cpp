#include "bert/train/graphed_pretraining_step.h"

#include "bert/util/error.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cmath>

namespace bert::train {

int64_t prediction_slots(int64_t batch_size, int64_t seq_len, double mlm_prob, int64_t max_predictions) {
  const int64_t positions = batch_size * seq_len;
  if (max_predictions > 0) return std::min(positions, batch_size * max_predictions);
  const double n = static_cast<double>(positions);
  const double mean = n * mlm_prob, sd = std::sqrt(n * mlm_prob * (1.0 - mlm_prob));
  return std::min(positions, static_cast<int64_t>(std::ceil(mean + 6.0 * sd)) + 1);
}

void check_cuda_graphs_usable(const torch::Device& device) {
  if (!device.is_cuda()) throw Error("--cuda-graphs needs --device cuda, found " + device.str());
  if (!cuda_graphs_available())
    throw Error("--cuda-graphs: this build of bert has no CUDA graphs (it needs a CUDA LibTorch and the CUDA "
                "runtime's headers when it is built)");
}

GraphedPretrainingStep::GraphedPretrainingStep(model::BertForPreTraining& model, int64_t batch_size, int64_t seq_len,
                                               int64_t slots, int64_t pad_id, bool nsp, Precision precision,
                                               const torch::Device& device, bool capture, double loss_divisor)
    : model_(model),
      batch_size_(batch_size),
      seq_len_(seq_len),
      slots_(slots),
      pad_id_(pad_id),
      nsp_(nsp),
      precision_(precision),
      device_(device),
      capture_(capture),
      loss_divisor_(loss_divisor) {
  if (capture) check_cuda_graphs_usable(device);
  auto longs = torch::TensorOptions().dtype(torch::kLong).device(device);
  inputs_.input_ids = torch::zeros({batch_size, seq_len}, longs);
  inputs_.token_type_ids = torch::zeros({batch_size, seq_len}, longs);
  inputs_.attention_mask = torch::zeros({batch_size, seq_len}, longs);
  inputs_.mlm_labels = torch::zeros({batch_size * seq_len}, longs);
  inputs_.masked_positions = torch::zeros({slots}, longs);
  inputs_.nsp_labels = torch::zeros({batch_size}, longs);
}

bool GraphedPretrainingStep::fits(const data::PretrainingBatch& b) const {
  return b.batch_size == batch_size_ && b.seq_len <= seq_len_ &&
         static_cast<int64_t>(b.masked_positions.size()) <= slots_;
}

void GraphedPretrainingStep::fill_inputs(const data::PretrainingBatch& b) {
  if (!fits(b))
    throw Error("internal: a batch of " + std::to_string(b.batch_size) + " x " + std::to_string(b.seq_len) + " with " +
                std::to_string(b.masked_positions.size()) + " predictions does not fit the fixed inputs");
  const int64_t S = seq_len_, n = batch_size_ * seq_len_;
  std::vector<int64_t> ids(static_cast<size_t>(n), pad_id_), types(static_cast<size_t>(n), 0),
      mask(static_cast<size_t>(n), 0), labels(static_cast<size_t>(n), data::kIgnoreIndex);
  for (int64_t r = 0; r < b.batch_size; ++r)
    for (int64_t c = 0; c < b.seq_len; ++c) {
      const auto from = static_cast<size_t>(r * b.seq_len + c), to = static_cast<size_t>(r * S + c);
      ids[to] = b.input_ids[from];
      types[to] = b.token_type_ids[from];
      mask[to] = b.attention_mask[from];
      labels[to] = b.mlm_labels[from];
    }
  const auto unlabelled = std::find(labels.begin(), labels.end(), data::kIgnoreIndex);
  if (unlabelled == labels.end()) throw Error("internal: every position of the batch is predicted");
  std::vector<int64_t> positions(static_cast<size_t>(slots_), unlabelled - labels.begin());
  for (size_t i = 0; i < b.masked_positions.size(); ++i) {
    const int64_t p = b.masked_positions[i];
    positions[i] = (p / b.seq_len) * S + p % b.seq_len;
  }
  auto copy = [](torch::Tensor& to, const std::vector<int64_t>& from) {
    to.copy_(torch::from_blob(const_cast<int64_t*>(from.data()), to.sizes(), torch::kLong));
  };
  copy(inputs_.input_ids, ids);
  copy(inputs_.token_type_ids, types);
  copy(inputs_.attention_mask, mask);
  copy(inputs_.mlm_labels, labels);
  copy(inputs_.masked_positions, positions);
  copy(inputs_.nsp_labels, b.next_sentence_label);
}

PretrainingLosses GraphedPretrainingStep::compute() {
  auto l = pretraining_losses(model_, inputs_, nsp_, precision_, device_);
  (l.total / loss_divisor_).backward();
  return l;
}

void GraphedPretrainingStep::capture() {
  // Autocast must not cache low-precision weight copies across a capture (PyTorch's rule for
  // graphs): each replay casts the weights of its own step.
  struct NoAutocastCache {
    bool before = at::autocast::is_autocast_cache_enabled();
    NoAutocastCache() { at::autocast::set_autocast_cache_enabled(false); }
    ~NoAutocastCache() { at::autocast::set_autocast_cache_enabled(before); }
  };
  try {
    graph_ = std::make_unique<CudaGraph>([this] {
      NoAutocastCache no_cache;
      losses_ = compute();
    });
  } catch (const c10::Error& e) {
    throw Error(std::string("--cuda-graphs: capturing the step failed: ") + e.what_without_backtrace() +
                " (run without --cuda-graphs)");
  }
}

PretrainingLosses GraphedPretrainingStep::forward_backward(const data::PretrainingBatch& batch) {
  fill_inputs(batch);
  if (!capture_ || eager_steps_ < kWarmupSteps) {
    ++eager_steps_;
    return compute();
  }
  if (!graph_) capture();
  graph_->replay();
  return losses_;
}

}  // namespace bert::train
