#include "bert/dist/process_group.h"

#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#if BERT_HAVE_GLOO
// The wheel's LibTorch is built with Gloo but ships none of Gloo's own headers, which
// ProcessGroupGloo.hpp includes: Debian's libgloo-dev provides them (the class only holds Gloo
// objects through pointers, so its layout does not depend on Gloo's version).
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

namespace bert::dist {

namespace {

int int_from_env(const char* name, int fallback, int min_value, int max_value) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(raw, &end, 10);
  if (errno != 0 || *end != '\0' || v < min_value || v > max_value)
    throw Error(std::string("environment variable ") + name + ": expected an integer in [" + std::to_string(min_value) +
                ", " + std::to_string(max_value) + "], found \"" + raw + "\"");
  return static_cast<int>(v);
}

// The first line of a c10d/Gloo message (they append long hints and source locations).
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

WorkerEnvironment worker_environment_from_env() {
  WorkerEnvironment env;
  env.world_size = int_from_env("WORLD_SIZE", 1, 1, 1 << 20);
  env.rank = int_from_env("RANK", 0, 0, env.world_size - 1);
  env.local_world_size = int_from_env("LOCAL_WORLD_SIZE", env.world_size, 1, env.world_size);
  env.local_rank = int_from_env("LOCAL_RANK", env.rank % env.local_world_size, 0, env.local_world_size - 1);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  env.master_port = int_from_env("MASTER_PORT", 29500, 1, 65535);
  if (env.world_size > 1 && std::getenv("RANK") == nullptr)
    throw Error("environment variable RANK: WORLD_SIZE is " + std::to_string(env.world_size) +
                " but RANK is not set (each worker needs its own RANK, 0.." + std::to_string(env.world_size - 1) + ")");
  return env;
}

std::pair<int64_t, int64_t> shard_range(int64_t n, int rank, int world) {
  return {n * rank / world, n * (rank + 1) / world};
}

#if BERT_HAVE_GLOO

bool distributed_available() { return true; }

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

ProcessGroup::ProcessGroup(const WorkerEnvironment& env, std::chrono::milliseconds timeout)
    : env_(env), timeout_(timeout) {
  if (!active()) return;
  impl_ = std::make_unique<Impl>();
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    // torchrun's agent already serves a store at MASTER_PORT and says so; otherwise rank 0 serves.
    const char* agent_store = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    store_options.isServer = env.rank == 0 && !(agent_store != nullptr && std::string(agent_store) == "True");
    store_options.numWorkers = static_cast<size_t>(env.world_size);
    store_options.timeout = timeout;
    // Our keys under a prefix of their own, apart from whatever else uses the store.
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        "bert", c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options));
  } catch (const std::exception& e) {
    throw Error("[distributed] rank " + std::to_string(env.rank) + ": cannot " +
                (env.rank == 0 ? "serve" : "reach") + " the rendezvous at MASTER_ADDR:MASTER_PORT = " + where + ": " +
                first_line(e.what()));
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; otherwise the address the
    // host name resolves to (loopback when it resolves to nothing usable).
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    throw Error("[distributed] rank " + std::to_string(env.rank) + ": cannot form a group of " +
                std::to_string(env.world_size) + " workers through " + where + " within " +
                std::to_string(timeout.count() / 1000) + " s: " + first_line(e.what()));
  }
  log::info("[distributed] rank {} of {} (local rank {}), Gloo through {}", env.rank, env.world_size, env.local_rank,
            where);
}

ProcessGroup::~ProcessGroup() = default;

namespace {

// Runs one collective; turns c10d's errors into ours, naming what failed and the likely cause.
void collective(const WorkerEnvironment& env, std::chrono::milliseconds timeout, const char* what,
                const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& e) {
    throw Error("[distributed] rank " + std::to_string(env.rank) + ": " + what +
                " failed: another worker stopped or did not answer within --dist-timeout (" +
                std::to_string(timeout.count() / 1000) + " s): " + first_line(e.what()));
  }
}

}  // namespace

void ProcessGroup::broadcast_from_main(const std::vector<torch::Tensor>& tensors) {
  if (!active()) return;
  collective(env_, timeout_, "broadcast of the parameters", [&] {
    torch::NoGradGuard no_grad;
    for (const auto& t : tensors) {
      std::vector<at::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
      impl_->group->broadcast(one)->wait();
      if (!one[0].is_same(t)) t.copy_(one[0]);
    }
  });
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& parameters, int64_t bucket_bytes) {
  if (!active()) return;
  collective(env_, timeout_, "gradient all-reduce", [&] {
    torch::NoGradGuard no_grad;
    // Buckets of parameters with one dtype and device, in parameter order.
    std::vector<std::vector<torch::Tensor>> buckets;
    int64_t bytes = 0;
    for (const auto& p : parameters) {
      if (!p.requires_grad()) continue;
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
      const bool fits = !buckets.empty() && bytes + size <= bucket_bytes &&
                        buckets.back().front().scalar_type() == p.scalar_type() &&
                        buckets.back().front().device() == p.device();
      if (!fits) buckets.emplace_back(), bytes = 0;
      buckets.back().push_back(p);
      bytes += size;
    }
    std::vector<std::vector<at::Tensor>> flats(buckets.size());
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (size_t b = 0; b < buckets.size(); ++b) {
      std::vector<torch::Tensor> grads;
      for (const auto& p : buckets[b]) grads.push_back(p.grad().reshape({-1}));
      flats[b] = {torch::cat(grads)};
      works.push_back(impl_->group->allreduce(flats[b]));
    }
    for (size_t b = 0; b < buckets.size(); ++b) {
      works[b]->wait();
      auto flat = flats[b][0].div_(env_.world_size);
      int64_t offset = 0;
      for (const auto& p : buckets[b]) {
        p.mutable_grad().copy_(flat.narrow(0, offset, p.numel()).view_as(p));
        offset += p.numel();
      }
    }
  });
}

std::vector<double> ProcessGroup::sum(const std::vector<double>& values) {
  if (!active()) return values;
  std::vector<at::Tensor> t = {torch::tensor(values, torch::kDouble)};
  collective(env_, timeout_, "all-reduce of the step's numbers", [&] { impl_->group->allreduce(t)->wait(); });
  auto acc = t[0].accessor<double, 1>();
  std::vector<double> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = acc[static_cast<int64_t>(i)];
  return out;
}

void ProcessGroup::barrier(const std::string& what) {
  if (!active()) return;
  collective(env_, timeout_, what.c_str(), [&] { impl_->group->barrier()->wait(); });
}

#else  // built without Gloo's headers: one process only

bool distributed_available() { return false; }

struct ProcessGroup::Impl {};

ProcessGroup::ProcessGroup(const WorkerEnvironment& env, std::chrono::milliseconds timeout)
    : env_(env), timeout_(timeout) {
  if (active())
    throw Error("WORLD_SIZE is " + std::to_string(env.world_size) +
                " but this bert was built without c10d's Gloo backend (install libgloo-dev and rebuild); "
                "run one process, or unset WORLD_SIZE");
}
ProcessGroup::~ProcessGroup() = default;
void ProcessGroup::broadcast_from_main(const std::vector<torch::Tensor>&) {}
void ProcessGroup::average_gradients(const std::vector<torch::Tensor>&, int64_t) {}
std::vector<double> ProcessGroup::sum(const std::vector<double>& values) { return values; }
void ProcessGroup::barrier(const std::string&) {}

#endif

}  // namespace bert::dist
