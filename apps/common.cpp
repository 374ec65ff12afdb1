#include "apps/common.h"

#include "bert/dist/launcher.h"
#include "bert/util/device.h"
#include "bert/util/log.h"
#include "bert/util/threads.h"

#include <cstdlib>
#include <thread>

namespace bert::app {

namespace {

CLI::Validator number_check(bool (*ok)(double), const std::string& expected) {
  return CLI::Validator(
      [ok, expected](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return "expected a number, found \"" + text + "\"";
        return ok(v) ? "" : "must be " + expected + ", found " + text;
      },
      "");
}

}  // namespace

CLI::Validator non_negative_number() {
  return number_check([](double v) { return v >= 0; }, ">= 0");
}

CLI::Validator positive_number() {
  return number_check([](double v) { return v > 0; }, "> 0");
}

void add_common_options(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--threads", o.threads, "LibTorch intra-op threads (default: 0 = all cores)")
      ->check(non_negative_number());
  cmd->add_option("--log-level", o.log_level, "trace|debug|info|warn|error (default: info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
}

void add_run_control_options(CLI::App* cmd, std::string& resume_mode, int& max_bad_steps) {
  auto* resume = cmd->add_flag_callback(
      "--resume", [&resume_mode] { resume_mode = "always"; },
      "require a checkpoint in --out to continue from (default: continue when there is one, else start)");
  auto* no_resume = cmd->add_flag_callback("--no-resume", [&resume_mode] { resume_mode = "never"; },
                                           "refuse an --out that already holds checkpoints (default: off)");
  resume->excludes(no_resume);
  cmd->add_option("--max-bad-steps", max_bad_steps,
                  "steps in a row with a non-finite loss (each skipped) that stop the run (default: 5)");
}

void apply_common_options(const CommonOptions& o) {
  const auto env = dist::worker_environment_from_env();
  log::set_level(env.rank > 0 && (o.log_level == "info" || o.log_level == "debug" || o.log_level == "trace")
                     ? "warn"
                     : o.log_level);
  int threads = o.threads;
  if (threads == 0 && env.local_world_size > 1)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / env.local_world_size);
  int n = configure_threads(threads);
  log::debug("[setup] {} intra-op threads", n);
}

void add_distributed_options(CLI::App* cmd, DistributedFlags& f) {
  cmd->add_option("--nproc", f.nproc,
                  "data-parallel worker processes on this machine, each with --batch-size rows of the global "
                  "batch; launchers like torchrun set RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT instead (default: 1)")
      ->check(positive_number());
  cmd->add_option("--dist-backend", f.backend,
                  "c10d backend of a multi-process run: auto (NCCL with --device cuda where this build has it, "
                  "else Gloo) | gloo | nccl (default: auto)")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}));
  cmd->add_option("--dist-timeout", f.timeout_s,
                  "seconds a worker waits for the others (start-up, each step, rank 0's evaluation and "
                  "checkpoint) before stopping with an error (default: 1800)")
      ->check(positive_number());
  cmd->add_option("--dist-bucket-mb", f.bucket_mb,
                  "MiB of gradients per all-reduce bucket; each bucket is sent as soon as backward has "
                  "produced all of its gradients (default: 25, as PyTorch's DDP)")
      ->check(positive_number());
}

bool launched_workers(const DistributedFlags& f, const std::string& device) {
  if (f.nproc <= 1 || dist::running_as_worker()) return false;
  // Checked here once rather than in every worker.
  if (dist::choose_backend(f.backend, device, f.nproc) == dist::Backend::gloo && !dist::distributed_available())
    throw Error("--nproc " + std::to_string(f.nproc) +
                ": this bert was built without c10d's Gloo backend (install libgloo-dev and rebuild)");
  dist::run_local_workers(f.nproc);
  return true;
}

std::unique_ptr<dist::ProcessGroup> join_workers(const DistributedFlags& f, const std::string& device) {
  const auto env = dist::worker_environment_from_env();
  if (f.nproc > 1 && env.world_size != f.nproc)
    throw Error("--nproc " + std::to_string(f.nproc) + " but WORLD_SIZE is " + std::to_string(env.world_size) +
                " (drop --nproc when a launcher such as torchrun starts the workers)");
  const auto backend = dist::choose_backend(f.backend, device, env.local_world_size);
  return std::make_unique<dist::ProcessGroup>(
      env, std::chrono::seconds(f.timeout_s), static_cast<int64_t>(f.bucket_mb * (1 << 20)), backend,
      backend == dist::Backend::nccl ? parse_device(device, env.local_rank) : torch::Device(torch::kCPU));
}

}  // namespace bert::app
