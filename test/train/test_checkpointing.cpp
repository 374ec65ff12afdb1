// CheckpointManager: pruning keeps the newest --keep-last complete checkpoints plus the one marked
// as best, ignores half-written *.tmp directories, and checkpoint_to_resume follows --resume.
#include "bert/train/checkpointing.h"
#include "bert/util/error.h"

#include <catch2/catch.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace bert::train;

TEST_CASE("pruning keeps the newest checkpoints and the best one", "[train][checkpoint]") {
  const fs::path run = fs::temp_directory_path() / ("bert_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(run);
  torch::nn::Linear model(4, 2);
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  bert::model::BertConfig config;
  CheckpointManager checkpoints(run.string(), /*keep_last=*/1);

  REQUIRE_FALSE(checkpoint_to_resume(checkpoints, "auto"));
  REQUIRE_THROWS_WITH(checkpoint_to_resume(checkpoints, "always"), Catch::Contains("holds no complete checkpoint"));
  REQUIRE_FALSE(checkpoint_to_resume(checkpoints, "never"));

  TrainingState state;
  for (int64_t step = 1; step <= 4; ++step) {
    state.step = step;
    if (step == 2) checkpoints.keep_also(2);  // step 2 had the best held-out loss
    checkpoints.save(state, config, *model, optimizer, "");
  }
  std::vector<std::string> kept;
  for (const auto& entry : fs::directory_iterator(checkpoints.checkpoints_dir())) kept.push_back(entry.path().filename());
  std::sort(kept.begin(), kept.end());
  REQUIRE(kept == std::vector<std::string>{"step-00000002", "step-00000004"});

  // A half-written newer checkpoint is never taken for the newest one.
  fs::create_directories(fs::path(checkpoints.checkpoints_dir()) / "step-00000005.tmp");
  REQUIRE(fs::path(*checkpoints.latest()).filename() == "step-00000004");
  REQUIRE(fs::path(*checkpoint_to_resume(checkpoints, "always")).filename() == "step-00000004");
  REQUIRE_THROWS_WITH(checkpoint_to_resume(checkpoints, "never"), Catch::Contains("already holds checkpoints"));

  // Leftovers of a save or a removal that a kill interrupted (*.tmp) go with the next pruning.
  fs::create_directories(fs::path(checkpoints.checkpoints_dir()) / "step-00000001.removing.tmp" / "model.safetensors");
  state.step = 6;
  checkpoints.save(state, config, *model, optimizer, "");
  kept.clear();
  for (const auto& entry : fs::directory_iterator(checkpoints.checkpoints_dir())) kept.push_back(entry.path().filename());
  std::sort(kept.begin(), kept.end());
  REQUIRE(kept == std::vector<std::string>{"step-00000002", "step-00000006"});

  // What was saved loads back: step and weights.
  torch::nn::Linear restored(4, 2);
  torch::optim::AdamW restored_optimizer(restored->parameters(), torch::optim::AdamWOptions(1e-3));
  auto loaded = CheckpointManager::load(*checkpoints.latest(), *restored, restored_optimizer);
  REQUIRE(loaded.step == 6);
  REQUIRE(torch::equal(restored->weight, model->weight));
  fs::remove_all(run);
}
