#include "bert/train/checkpointing.h"

#include "bert/io/checkpoint.h"
#include "bert/util/error.h"
#include "bert/util/files.h"
#include "bert/util/log.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <fcntl.h>
#include <torch/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>

namespace bert::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "step-";

// Parses "step-00001200" → 1200; nullopt for anything else (including "*.tmp").
std::optional<int64_t> step_of(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind(kPrefix, 0) != 0) return std::nullopt;
  const std::string digits = name.substr(std::string(kPrefix).size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
  return std::stoll(digits);
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Removes a checkpoint directory so that a kill at any moment never leaves a step-N without its
// DONE marker but with some of its files: first renamed (atomic) to a *.tmp name, which nothing
// loads and the next prune sweeps, then deleted.
void discard_checkpoint(const fs::path& dir) {
  std::error_code ec;
  const fs::path doomed = dir.parent_path() / (dir.filename().string() + ".removing.tmp");
  fs::remove_all(doomed, ec);
  fs::rename(dir, doomed, ec);
  fs::remove_all(ec ? dir : doomed, ec);
}

}  // namespace

CheckpointManager::CheckpointManager(std::string run_dir, int keep_last)
    : run_dir_(std::move(run_dir)), keep_last_(std::max(1, keep_last)) {}

std::string CheckpointManager::checkpoints_dir() const { return (fs::path(run_dir_) / "checkpoints").string(); }

std::string CheckpointManager::save(const TrainingState& state, const model::BertConfig& config,
                                    torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                    const std::string& tokenizer_dir) const {
  const fs::path root = checkpoints_dir();
  const fs::path final_dir = root / fmt::format("{}{:08d}", kPrefix, state.step);
  const fs::path tmp_dir = root / (final_dir.filename().string() + ".tmp");
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw Error(root.string() + ": cannot create directory (" + ec.message() + ")");
  fs::remove_all(tmp_dir);
  try {
    io::save_model(tmp_dir.string(), config, model);
    if (!tokenizer_dir.empty()) io::copy_tokenizer_files(tokenizer_dir, tmp_dir.string());
    // Written by us, streamed from LibTorch's serialiser: its own file writer aborts the process
    // when the disk fills up (an enforce in its destructor) instead of reporting an error, and a
    // copy in memory first would double the optimizer state's footprint (880 MB for bert-base).
    torch::serialize::OutputArchive optimizer_archive(std::make_shared<torch::jit::CompilationUnit>());
    optimizer_archive << optimizer;
    write_file_atomic_streamed((tmp_dir / "optimizer.pt").string(), [&](const ChunkWriter& write) {
      optimizer_archive.save_to([&](const void* data, size_t size) {
        write(data, size);
        return size;
      });
    });
    std::ostringstream rng_bytes;
    torch::save(at::detail::getDefaultCPUGenerator().get_state(), rng_bytes);
    write_file_atomic((tmp_dir / "rng.pt").string(), rng_bytes.str());
    // The GPUs' generators too (dropout on CUDA draws from them), so a resumed GPU run continues
    // the same random stream.
    const auto params = model.parameters();
    if (const auto gpus = static_cast<size_t>(torch::cuda::device_count());
        gpus > 0 && !params.empty() && params.front().is_cuda()) {
      std::vector<torch::Tensor> states;
      for (size_t i = 0; i < gpus; ++i)
        states.push_back(at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i))).get_state());
      std::ostringstream cuda_bytes;
      torch::save(states, cuda_bytes);
      write_file_atomic((tmp_dir / "rng_cuda.pt").string(), cuda_bytes.str());
    }
    nlohmann::json j = {{"step", state.step}, {"data", state.data}, {"extra", state.extra}, {"format_version", 1}};
    write_file_atomic((tmp_dir / "trainer_state.json").string(), j.dump(2) + "\n");
    write_file_atomic((tmp_dir / "DONE").string(), "complete\n");
    fsync_path(tmp_dir);
    if (fs::exists(final_dir)) discard_checkpoint(final_dir);
    fs::rename(tmp_dir, final_dir);
    fsync_path(root);
  } catch (const std::exception& e) {
    std::error_code ignore;
    fs::remove_all(tmp_dir, ignore);
    const std::string what = e.what();
    throw Error("saving checkpoint " + final_dir.string() + " failed: " + what +
                (latest() ? " (the previous checkpoint " + *latest() + " is intact)" : ""));
  }
  // Prune: keep the newest keep_last_ complete checkpoints. Leftovers of a removal or a save that
  // a kill interrupted (*.tmp: nothing else is being written now) go too.
  std::vector<std::pair<int64_t, fs::path>> complete;
  std::vector<fs::path> leftovers;
  for (const auto& entry : fs::directory_iterator(root)) {
    auto step = step_of(entry.path());
    if (step && fs::exists(entry.path() / "DONE")) complete.emplace_back(*step, entry.path());
    if (entry.path().extension() == ".tmp") leftovers.push_back(entry.path());
  }
  for (const auto& dir : leftovers) fs::remove_all(dir, ec);
  std::sort(complete.begin(), complete.end());
  for (size_t i = 0; i + keep_last_ < complete.size(); ++i)
    if (complete[i].first != keep_step_) discard_checkpoint(complete[i].second);
  return final_dir.string();
}

std::optional<std::string> CheckpointManager::latest() const {
  const fs::path root = checkpoints_dir();
  if (!fs::exists(root)) return std::nullopt;
  std::optional<std::pair<int64_t, fs::path>> best;
  for (const auto& entry : fs::directory_iterator(root)) {
    auto step = step_of(entry.path());
    if (!step || !fs::exists(entry.path() / "DONE")) continue;
    if (!best || *step > best->first) best = std::make_pair(*step, entry.path());
  }
  if (!best) return std::nullopt;
  return best->second.string();
}

TrainingState CheckpointManager::load_newest(torch::nn::Module& model, torch::optim::Optimizer& optimizer) const {
  std::vector<std::pair<int64_t, fs::path>> complete;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir(), ec)) {
    auto step = step_of(entry.path());
    if (step && fs::exists(entry.path() / "DONE")) complete.emplace_back(*step, entry.path());
  }
  std::sort(complete.rbegin(), complete.rend());  // newest first
  if (complete.empty()) throw Error(run_dir_ + ": no complete checkpoint to resume from");
  std::optional<Error> newest_error;
  for (const auto& [step, dir] : complete) {
    try {
      return load(dir.string(), model, optimizer);
    } catch (const std::exception& e) {  // bert::Error, or a library's on a damaged file
      if (!newest_error) newest_error = Error(e.what());
      log::warn("[checkpoint] {} cannot be resumed from: {}; trying the checkpoint before it", dir.string(), e.what());
    }
  }
  throw *newest_error;
}

namespace {
std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested = true; }
}  // namespace

StopOnSignal::StopOnSignal() {
  g_stop_requested = false;
  previous_int_ = std::signal(SIGINT, request_stop);
  previous_term_ = std::signal(SIGTERM, request_stop);
}

StopOnSignal::~StopOnSignal() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

bool StopOnSignal::requested() { return g_stop_requested; }

std::optional<std::string> checkpoint_to_resume(const CheckpointManager& checkpoints, const std::string& mode) {
  auto latest = checkpoints.latest();
  if (mode == "auto") return latest;
  if (mode == "always") {
    if (!latest) throw Error("--resume: " + checkpoints.checkpoints_dir() + " holds no complete checkpoint to continue from");
    return latest;
  }
  if (mode == "never") {
    if (latest)
      throw Error(checkpoints.run_dir() + " already holds checkpoints (newest: " + *latest +
                  "); choose another --out, or drop --no-resume to continue that run");
    return std::nullopt;
  }
  throw Error("--resume: expected auto, always or never, found \"" + mode + "\"");
}

TrainingState CheckpointManager::load(const std::string& dir, torch::nn::Module& model,
                                      torch::optim::Optimizer& optimizer) {
  const fs::path d(dir);
  if (!fs::exists(d / "DONE")) throw Error(dir + ": not a complete checkpoint (no DONE marker)");
  auto report = io::load_weights(model, io::read_weights(dir), dir);
  if (!report.initialised.empty()) throw Error(dir + ": checkpoint lacks " + report.initialised.front());
  try {
    // Onto the parameters' device: the moments must live where the update runs.
    const auto params = model.parameters();
    torch::load(optimizer, (d / "optimizer.pt").string(), params.empty() ? torch::Device(torch::kCPU) : params.front().device());
  } catch (const c10::Error& e) {
    throw Error((d / "optimizer.pt").string() + ": cannot load optimizer state (" + e.what_without_backtrace() + ")");
  }
  const auto gpus = static_cast<size_t>(torch::cuda::device_count());
  const fs::path rng_file = d / "rng.pt", cuda_rng_file = d / "rng_cuda.pt";
  try {
    torch::Tensor rng;
    torch::load(rng, rng_file.string());
    auto generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  } catch (const c10::Error& e) {
    throw Error(rng_file.string() + ": cannot load the random state (" + e.what_without_backtrace() + ")");
  }
  if (gpus > 0 && fs::exists(cuda_rng_file)) {
    std::vector<torch::Tensor> states;
    try {
      torch::load(states, cuda_rng_file.string());
    } catch (const c10::Error& e) {
      throw Error(cuda_rng_file.string() + ": cannot load the GPU random state (" + e.what_without_backtrace() + ")");
    }
    for (size_t i = 0; i < std::min(states.size(), gpus); ++i) {
      at::Generator gpu = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      gpu.set_state(states[i]);
    }
  }
  nlohmann::json j;
  const std::string state_file = (d / "trainer_state.json").string();
  try {
    j = nlohmann::json::parse(read_text_file(state_file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(state_file + ": not valid JSON (" + e.what() + ")");
  }
  TrainingState state;
  state.step = j.value("step", int64_t{0});
  state.data = j.value("data", nlohmann::json::object());
  state.extra = j.value("extra", nlohmann::json::object());
  log::info("[checkpoint] resumed from {} at step {}", dir, state.step);
  return state;
}

}  // namespace bert::train
