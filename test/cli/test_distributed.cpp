// Data-parallel training through the real binary: two worker processes on loopback (Gloo) against
// one process with the same global batch, resuming a two-worker run, and a worker that dies or
// hangs ending the job with an error instead of a hang. Also the backend choice, and a group of one
// worker run in this process (every collective, on one machine): with Gloo here, with NCCL on a GPU
// ([cuda], run by scripts/gpu_check.sh), where two workers also need two GPUs.
#include "bert/dist/launcher.h"
#include "bert/dist/process_group.h"
#include "bert/io/safetensors.h"
#include "bert/train/pretrain.h"
#include "test/cli/cli_helpers.h"
#include "test/test_helpers.h"

#include <nlohmann/json.hpp>
#include <torch/cuda.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using bert::test::bert_cli;
using bert::test::require_close_weights;
using bert::test::bert_start;
using bert::test::require_ok;

namespace {

fs::path make_run_dir(const std::string& name) { return bert::test::make_tiny_run_dir("dist", name); }

std::string pretrain_command(const fs::path& dir) {
  return "pretrain --corpus " + bert::test::data_path("corpus/alice-in-wonderland.txt") + " --tokenizer " +
         (dir / "tok").string() + " --model-config " + (dir / "tiny-no-dropout.json").string() +
         " --seq-len 64 --lr 5e-4 --warmup-steps 1 --schedule constant --log-every 1 --eval-every 1000"
         " --save-every 2 --eval-fraction 0 --threads 1 --cache-dir " + (dir / "cache").string();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The worker processes a launcher started (its children).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> pids;
  std::ifstream in("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) + "/children");
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

// Waits for `pid` at most `limit`; returns its wait status, or -1 when it is still running.
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// Starts a long two-worker run and returns the launcher's pid once both workers are training.
pid_t start_two_workers(const fs::path& dir, const std::string& extra) {
  const pid_t launcher = bert_start(pretrain_command(dir) + " --max-steps 100000 --batch-size 4 --nproc 2 " + extra +
                                        " --out " + (dir / "run").string(),
                                    dir / "run.log");
  for (int i = 0; i < 600 && read_text(dir / "run.log").find("step 2/") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(read_text(dir / "run.log"));
  REQUIRE(read_text(dir / "run.log").find("step 2/") != std::string::npos);
  REQUIRE(children_of(launcher).size() == 2);
  return launcher;
}

// A real group of one worker on `backend` (its own rendezvous, collectives on `device`): the numbers
// come back unchanged, and 3 pre-training steps through every collective of the training loop
// (parameter broadcast, bucketed gradient all-reduce, loss sums, barriers) end where the same run
// without a group ends.
void require_group_of_one_trains_alone(bert::dist::Backend backend, const std::string& device) {
  const auto dir = make_run_dir(std::string("alone_") + bert::dist::backend_name(backend));
  bert::train::PretrainOptions o;
  o.corpus = {bert::test::data_path("corpus/alice-in-wonderland.txt")};
  o.tokenizer_dir = (dir / "tok").string();
  o.model_config = (dir / "tiny-no-dropout.json").string();
  o.cache_dir = (dir / "cache").string();
  o.seq_len = 64, o.batch_size = 8, o.max_steps = 3, o.lr = 5e-4, o.warmup_steps = 1, o.schedule = "constant";
  o.eval_fraction = 0, o.eval_every = 1000, o.save_every = 1000, o.log_every = 1, o.threads = 1;
  o.device = device;
  o.out_dir = (dir / "alone").string();
  bert::train::run_pretraining(o);

  bert::dist::WorkerEnvironment env;
  env.master_port = bert::dist::free_port();
  bert::dist::ProcessGroup group(env, std::chrono::seconds(60), 1 << 14, backend, torch::Device(device),
                                 /*even_alone=*/true);
  REQUIRE(group.active());
  CHECK(group.sum({1.5, -2.0, 0.0}) == std::vector<double>{1.5, -2.0, 0.0});
  group.barrier("the test's barrier");
  o.out_dir = (dir / "group").string();
  bert::train::run_pretraining(o, group);
  // One worker's all-reduce is a copy: only the GPU's own run-to-run differences remain.
  require_close_weights(dir / "alone" / "final", dir / "group" / "final", device == "cpu" ? 0.0 : 1e-5);
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("the backend choice (--dist-backend): Gloo on CPUs, NCCL on GPUs where built, one GPU per NCCL worker",
          "[dist]") {
  using bert::dist::Backend;
  using bert::dist::choose_backend;
  CHECK(choose_backend("auto", "cpu", 2) == Backend::gloo);
  CHECK(choose_backend("gloo", "cuda", 2) == Backend::gloo);
  CHECK(choose_backend("auto", "cuda:0", 2) == Backend::gloo);  // two workers cannot share a GPU in NCCL
  REQUIRE_THROWS_WITH(choose_backend("mpi", "cpu", 1), Catch::Contains("expected auto, gloo or nccl"));
  if (bert::dist::nccl_available()) {
    CHECK(choose_backend("auto", "cuda", 2) == Backend::nccl);
    CHECK(choose_backend("nccl", "cuda:1", 1) == Backend::nccl);
    REQUIRE_THROWS_WITH(choose_backend("nccl", "cpu", 2), Catch::Contains("needs --device cuda"));
    REQUIRE_THROWS_WITH(choose_backend("nccl", "cuda:0", 2), Catch::Contains("a GPU per worker"));
  } else {
    CHECK(choose_backend("auto", "cuda", 2) == Backend::gloo);
    REQUIRE_THROWS_WITH(choose_backend("nccl", "cuda", 2), Catch::Contains("built without c10d's NCCL backend"));
  }
}

TEST_CASE("a Gloo group of one worker runs every collective and trains like no group", "[dist]") {
  REQUIRE(bert::dist::distributed_available());
  require_group_of_one_trains_alone(bert::dist::Backend::gloo, "cpu");
}

TEST_CASE("an NCCL group of one worker on the GPU trains like no group", "[.][cuda]") {
  REQUIRE(torch::cuda::is_available());
  if (!bert::dist::nccl_available()) {
    WARN("built without c10d's NCCL backend (no nccl.h at build time): nothing to test");
    return;
  }
  require_group_of_one_trains_alone(bert::dist::Backend::nccl, "cuda:0");
}

TEST_CASE("two NCCL workers on two GPUs train like one process with the whole batch", "[.][cuda]") {
  REQUIRE(torch::cuda::is_available());
  if (!bert::dist::nccl_available() || torch::cuda::device_count() < 2) {
    WARN("needs c10d's NCCL backend and two GPUs; this machine has " << torch::cuda::device_count());
    return;
  }
  const auto dir = make_run_dir("nccl");
  const auto cmd = pretrain_command(dir) + " --max-steps 5 --device cuda";
  require_ok(bert_cli(cmd + " --batch-size 8 --out " + (dir / "one").string()));
  auto two = bert_cli(cmd + " --batch-size 4 --nproc 2 --dist-backend nccl --out " + (dir / "two").string());
  require_ok(two);
  CHECK(two.output.find("NCCL on cuda:0") != std::string::npos);
  require_close_weights(dir / "one" / "final", dir / "two" / "final", 1e-4);
  fs::remove_all(dir);
}

TEST_CASE("torchrun's variables are read and checked", "[dist]") {
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "1234", 1);
  auto env = bert::dist::worker_environment_from_env();
  CHECK(env.rank == 1);
  CHECK(env.world_size == 2);
  CHECK(env.local_rank == 1);
  CHECK(env.master_port == 1234);
  ::setenv("RANK", "2", 1);
  REQUIRE_THROWS_WITH(bert::dist::worker_environment_from_env(), Catch::Contains("RANK") && Catch::Contains("\"2\""));
  ::setenv("RANK", "x", 1);
  REQUIRE_THROWS_WITH(bert::dist::worker_environment_from_env(), Catch::Contains("expected an integer"));
  ::unsetenv("RANK");
  REQUIRE_THROWS_WITH(bert::dist::worker_environment_from_env(), Catch::Contains("RANK is not set"));
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("MASTER_PORT");
  CHECK(bert::dist::worker_environment_from_env().world_size == 1);

  // Shards cover the batch exactly, sizes within one of each other.
  CHECK(bert::dist::shard_range(5, 0, 2) == std::pair<int64_t, int64_t>{0, 2});
  CHECK(bert::dist::shard_range(5, 1, 2) == std::pair<int64_t, int64_t>{2, 5});
  CHECK(bert::dist::shard_range(1, 0, 2) == std::pair<int64_t, int64_t>{0, 0});
}

TEST_CASE("two workers with batch B train like one process with batch 2B", "[cli][dist]") {
  REQUIRE(bert::dist::distributed_available());
  const auto dir = make_run_dir("equal");

  SECTION("pre-training, 5 steps") {
    const auto cmd = pretrain_command(dir) + " --max-steps 5";
    require_ok(bert_cli(cmd + " --batch-size 8 --out " + (dir / "one").string()));
    // Small buckets: several per step, each sent from the gradient hooks while backward runs.
    auto two = bert_cli(cmd + " --batch-size 4 --nproc 2 --dist-bucket-mb 0.02 --out " + (dir / "two").string());
    require_ok(two);
    CHECK(two.output.find("2 workers x 4") != std::string::npos);
    std::smatch m;
    INFO(two.output);
    REQUIRE(std::regex_search(two.output, m, std::regex(R"((\d+) of (\d+) gradient buckets were sent while backward)")));
    CHECK(std::stoi(m[2]) > 2 * 5);        // more than two buckets a step
    CHECK(std::stoi(m[1]) == std::stoi(m[2]));  // every parameter gets a gradient: all went out early
    // Measured: max |diff| 9.5e-8 (float sums taken in another order).
    require_close_weights(dir / "one" / "final", dir / "two" / "final", 1e-5);
    REQUIRE_FALSE(fs::exists(dir / "two" / "final.tmp"));
    // Gradient checkpointing: the buckets fill from the recomputed layers' nested backward passes;
    // the two workers end where they end without it (bit for bit, fp32).
    auto checkpointed = bert_cli(cmd + " --batch-size 4 --nproc 2 --dist-bucket-mb 0.02 --gradient-checkpointing --out " +
                                 (dir / "two_checkpointed").string());
    require_ok(checkpointed);
    require_close_weights(dir / "two" / "final", dir / "two_checkpointed" / "final", 0.0);
  }
  SECTION("fine-tuning: classification, tagging with class weights (uneven token counts per worker), multiple choice") {
    const std::string tasks = bert::test::data_path("tasks/");
    const std::string common = " --epochs 1 --lr 1e-3 --dropout 0 --classifier-dropout 0 --threads 1 --init ";
    const std::string classify = "finetune --train " + tasks + "sst2_train_300.tsv --text-column sentence --label-column label" +
                                 common + bert::test::data_path("hf-tiny");
    const std::string tag = "finetune --train " + tasks + "conll_train_200.txt --format conll --tag-column 3 --class-weights auto" +
                            common + bert::test::data_path("hf-tiny");
    // Multiple choice: (B, K, S) batches, shuffled uniformly (--no-group-by-length) for once.
    const std::string choice = "finetune --train " + tasks + "choice_train_400.tsv --text-column sent1 --choice-columns "
                               "ending0,ending1,ending2,ending3 --label-column label --no-group-by-length" +
                               common + bert::test::data_path("hf-tiny");
    for (const auto& [name, cmd] : {std::pair{"classify", classify}, std::pair{"tag", tag}, std::pair{"choice", choice}}) {
      INFO(name);
      require_ok(bert_cli(cmd + " --batch-size 16 --out " + (dir / (std::string(name) + "1")).string()));
      // Small buckets; tagging leaves the pooler without gradients, so later buckets wait for finish().
      require_ok(bert_cli(cmd + " --batch-size 8 --nproc 2 --dist-bucket-mb 0.01 --out " +
                          (dir / (std::string(name) + "2")).string()));
      // Measured: max |diff| 4e-6 (classify, 19 steps at lr 1e-3), 1e-7 (tag), 2.5e-5 (choice). Multiple
      // choice: the classifier's bias adds the same to every candidate's score, so its gradient is exactly zero in
      // exact arithmetic and Adam turns float noise into steps of lr (as qa_outputs.bias below).
      require_close_weights(dir / (std::string(name) + "1") / "best", dir / (std::string(name) + "2") / "best", 1e-4,
                            name == std::string("choice") ? std::set<std::string>{"classifier.bias"}
                                                          : std::set<std::string>{});
    }
  }
  SECTION("fine-tuning: question answering (workers pad to the whole batch's longest window, as one process)") {
    const std::string qa = "finetune --train " + bert::test::data_path("tasks/qa_train_300.json") +
                           " --max-seq-len 64 --doc-stride 16 --epochs 1 --lr 1e-3 --dropout 0 --threads 1 --init " +
                           bert::test::data_path("hf-tiny");
    require_ok(bert_cli(qa + " --batch-size 16 --out " + (dir / "qa1").string()));
    require_ok(bert_cli(qa + " --batch-size 8 --nproc 2 --out " + (dir / "qa2").string()));
    // The loss is a softmax over every position, padding included (as transformers'), so workers
    // padding only to their own rows' longest drifted by 6e-3 (word embeddings). Measured now:
    // 2e-6 on every tensor but two whose gradient is exactly zero in exact arithmetic (a constant
    // added to all start or end logits leaves the softmax unchanged): qa_outputs.bias and the last
    // LayerNorm's bias, where Adam turns float noise into steps of lr.
    require_close_weights(dir / "qa1" / "best", dir / "qa2" / "best", 2e-5,
                          {"qa_outputs.bias", "bert.encoder.layer.1.output.LayerNorm.bias"});
  }
  fs::remove_all(dir);
}

TEST_CASE("a two-worker run stopped and started again continues where it stopped", "[cli][dist]") {
  const auto dir = make_run_dir("resume");
  const auto cmd = pretrain_command(dir) + " --batch-size 4 --nproc 2";
  require_ok(bert_cli(cmd + " --max-steps 8 --out " + (dir / "straight").string()));
  require_ok(bert_cli(cmd + " --max-steps 4 --out " + (dir / "resumed").string()));
  fs::copy(dir / "resumed", dir / "old", fs::copy_options::recursive);  // for the earlier format, below
  auto again = bert_cli(cmd + " --max-steps 8 --out " + (dir / "resumed").string());
  require_ok(again);
  CHECK(again.output.find("resumed from") != std::string::npos);
  // Every worker loaded the same checkpoint (weights, optimizer, data position; the masks follow from it).
  require_close_weights(dir / "straight" / "final", dir / "resumed" / "final", 0.0);
  // A checkpoint in the earlier format (the data position counted both workers' examples, the
  // masking generator kept) resumes at the same place: its masks now follow from that place too.
  const auto state_file = dir / "old" / "checkpoints" / "step-00000004" / "trainer_state.json";
  auto state = nlohmann::json::parse(std::ifstream(state_file));
  state["data"]["index"] = 2 * state["data"]["index"].get<int64_t>();
  state["extra"]["mask_rng"] = "5489";
  std::ofstream(state_file) << state.dump();
  auto old = bert_cli(cmd + " --max-steps 8 --out " + (dir / "old").string());
  require_ok(old);
  CHECK(old.output.find("written by an earlier bert") != std::string::npos);
  require_close_weights(dir / "straight" / "final", dir / "old" / "final", 0.0);
  // Another number of workers would change the global batch: refused, naming the setting.
  auto one = bert_cli(pretrain_command(dir) + " --batch-size 4 --max-steps 10 --out " + (dir / "resumed").string());
  INFO(one.output);
  CHECK(one.status == 1);
  CHECK(one.output.find("workers: the run has 2, this command gives 1") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a worker that dies or hangs ends the job with an error", "[cli][dist]") {
  const auto dir = make_run_dir("failure");
  SECTION("kill -9 of worker 1") {
    const pid_t launcher = start_two_workers(dir, "");
    const auto workers = children_of(launcher);
    ::kill(workers[1], SIGKILL);
    const int status = wait_for(launcher, std::chrono::seconds(60));
    const auto log = read_text(dir / "run.log");
    INFO(log);
    REQUIRE(status != -1);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(log.find("worker 1 was killed by signal 9") != std::string::npos);
    CHECK(log.find("[distributed] rank 0:") != std::string::npos);
  }
  SECTION("SIGTERM to the launcher: every worker stops after the same step, rank 0 saves, the run resumes") {
    const pid_t launcher = start_two_workers(dir, "");
    ::kill(launcher, SIGTERM);
    const int status = wait_for(launcher, std::chrono::seconds(60));
    const auto log = read_text(dir / "run.log");
    INFO(log);
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(log.find("--nproc 2: interrupted") != std::string::npos);
    CHECK(log.find("stopping the other workers") == std::string::npos);  // not reported as a failure
    int64_t step = 0;  // the newest checkpoint: the one saved on the way out
    for (const auto& e : fs::directory_iterator(dir / "run" / "checkpoints")) {
      REQUIRE(fs::exists(e.path() / "DONE"));
      step = std::max<int64_t>(step, std::stoll(e.path().filename().string().substr(5)));
    }
    CHECK(log.find("saving a checkpoint at step " + std::to_string(step)) != std::string::npos);
    auto again = bert_cli(pretrain_command(dir) + " --batch-size 4 --nproc 2 --max-steps " + std::to_string(step + 2) +
                          " --out " + (dir / "run").string());
    require_ok(again);
    CHECK(again.output.find("resumed from") != std::string::npos);
  }
  SECTION("worker 1 stops answering (SIGSTOP): the others give up after --dist-timeout") {
    const pid_t launcher = start_two_workers(dir, "--dist-timeout 3");
    const auto workers = children_of(launcher);
    ::kill(workers[1], SIGSTOP);
    const int status = wait_for(launcher, std::chrono::seconds(60));
    const auto log = read_text(dir / "run.log");
    INFO(log);
    if (status == -1) ::kill(launcher, SIGKILL), ::kill(workers[1], SIGKILL), ::waitpid(launcher, nullptr, 0);
    REQUIRE(status != -1);
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(log.find("did not answer within --dist-timeout (3 s)") != std::string::npos);
    // The launcher killed the stopped worker on its way out.
    CHECK(::kill(workers[1], 0) != 0);
  }
  fs::remove_all(dir);
}
