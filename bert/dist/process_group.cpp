#include "bert/dist/process_group.h"

#include "bert/dist/nccl_backend.h"
#include "bert/util/error.h"
#include "bert/util/log.h"

#include <torch/torch.h>

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if BERT_HAVE_GLOO
// The wheel's LibTorch is built with Gloo but ships none of Gloo's own headers, which
// ProcessGroupGloo.hpp includes: Debian's libgloo-dev provides them (the class only holds Gloo
// objects through pointers, so its layout does not depend on Gloo's version).
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>
#include <mutex>

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
#else
bool distributed_available() { return false; }
#endif

const char* backend_name(Backend backend) { return backend == Backend::nccl ? "NCCL" : "Gloo"; }

Backend choose_backend(const std::string& name, const std::string& device, int local_workers) {
  const bool cuda = device.rfind("cuda", 0) == 0;
  // NCCL refuses two workers on one GPU: a fixed cuda:N shared by the local workers needs Gloo.
  const bool shared_gpu = device.rfind("cuda:", 0) == 0 && local_workers > 1;
  if (name == "auto") return cuda && nccl_available() && !shared_gpu ? Backend::nccl : Backend::gloo;
  if (name == "gloo") return Backend::gloo;
  if (name != "nccl") throw Error("--dist-backend: expected auto, gloo or nccl, found \"" + name + "\"");
  if (!nccl_available())
    throw Error("--dist-backend nccl: this bert was built without c10d's NCCL backend (it needs a CUDA LibTorch and "
                "NCCL's nccl.h at build time); use --dist-backend gloo");
  if (!cuda) throw Error("--dist-backend nccl needs --device cuda (NCCL moves GPU tensors); found --device " + device);
  if (shared_gpu)
    throw Error("--dist-backend nccl with --device " + device + " for " + std::to_string(local_workers) +
                " local workers: NCCL needs a GPU per worker; use --device cuda (worker k takes cuda:k) or "
                "--dist-backend gloo");
  return Backend::nccl;
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> group;
  torch::Device device = torch::kCPU;  // where the collectives' own tensors live (NCCL: this GPU)
  bool failed = false;                 // a collective failed: abort instead of a clean shutdown
};

namespace {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                                    std::chrono::milliseconds timeout) {
#if BERT_HAVE_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; otherwise the address the
  // host name resolves to (loopback when it resolves to nothing usable).
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, options);
#else
  throw Error("built without c10d's Gloo backend");  // the constructor says so first
#endif
}

}  // namespace

ProcessGroup::ProcessGroup(const WorkerEnvironment& env, std::chrono::milliseconds timeout, int64_t bucket_bytes,
                           Backend backend, torch::Device device, bool even_alone)
    : env_(env), timeout_(timeout), bucket_bytes_(bucket_bytes) {
  if (env.world_size == 1 && !even_alone) return;
  if (backend == Backend::gloo && !distributed_available())
    throw Error("WORLD_SIZE is " + std::to_string(env.world_size) +
                " but this bert was built without c10d's Gloo backend (install libgloo-dev and rebuild); "
                "run one process, or unset WORLD_SIZE");
  if (backend == Backend::nccl && !device.is_cuda())
    throw Error("[distributed] the NCCL backend needs this worker's GPU, found device " + device.str());
  auto impl = std::make_unique<Impl>();
  if (backend == Backend::nccl) impl->device = device;
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
    impl->store = c10::make_intrusive<c10d::PrefixStore>(
        "bert", c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options));
  } catch (const std::exception& e) {
    throw Error("[distributed] rank " + std::to_string(env.rank) + ": cannot " +
                (env.rank == 0 ? "serve" : "reach") + " the rendezvous at MASTER_ADDR:MASTER_PORT = " + where + ": " +
                first_line(e.what()));
  }
  try {
    impl->group = backend == Backend::nccl
                      ? make_nccl_backend(impl->store, env.rank, env.world_size, timeout, device)
                      : make_gloo_backend(impl->store, env.rank, env.world_size, timeout);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("[distributed] rank " + std::to_string(env.rank) + ": cannot form a " + backend_name(backend) +
                " group of " + std::to_string(env.world_size) + " workers through " + where + " within " +
                std::to_string(timeout.count() / 1000) + " s: " + first_line(e.what()));
  }
  impl_ = std::move(impl);
  log::info("[distributed] rank {} of {} (local rank {}), {}{} through {}", env.rank, env.world_size, env.local_rank,
            backend_name(backend), backend == Backend::nccl ? " on " + device.str() : std::string(), where);
}

ProcessGroup::~ProcessGroup() {
  if (!impl_) return;
  try {
    // After a failed collective a peer may be gone: a clean shutdown could wait on it forever.
    if (impl_->failed)
      impl_->group->abort();
    else
      impl_->group->shutdown();
  } catch (const std::exception& e) {
    log::warn("[distributed] closing the group: {}", first_line(e.what()));
  }
}

// Runs one collective; turns c10d's errors into ours, naming what failed and the likely cause.
void ProcessGroup::collective(const char* what, const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& e) {
    impl_->failed = true;
    throw Error("[distributed] rank " + std::to_string(env_.rank) + ": " + what +
                " failed: another worker stopped or did not answer within --dist-timeout (" +
                std::to_string(timeout_.count() / 1000) + " s): " + first_line(e.what()));
  }
}

void ProcessGroup::broadcast_from_main(const std::vector<torch::Tensor>& tensors) {
  if (!active()) return;
  collective("broadcast of the parameters", [&] {
    torch::NoGradGuard no_grad;
    for (const auto& t : tensors) {
      std::vector<at::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
      impl_->group->broadcast(one)->wait();
      if (!one[0].is_same(t)) t.copy_(one[0]);
    }
  });
}

std::vector<double> ProcessGroup::sum(const std::vector<double>& values) {
  if (!active()) return values;
  std::vector<at::Tensor> t = {torch::tensor(values, torch::kDouble).to(impl_->device)};
  collective("all-reduce of the step's numbers", [&] { impl_->group->allreduce(t)->wait(); });
  const auto host = t[0].to(torch::kCPU);
  auto acc = host.accessor<double, 1>();
  std::vector<double> out(values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = acc[static_cast<int64_t>(i)];
  return out;
}

void ProcessGroup::barrier(const std::string& what) {
  if (!active()) return;
  c10d::BarrierOptions options;
  // NCCL's barrier is an all-reduce on a GPU: this worker's (it would otherwise guess).
  if (impl_->device.is_cuda()) options.device_ids = {impl_->device.index()};
  collective(what.c_str(), [&] { impl_->group->barrier(options)->wait(); });
}

namespace {

// Calls `ready` after autograd has accumulated a parameter's gradient for this backward pass.
struct GradientReadyHook : torch::autograd::PostAccumulateGradHook {
  explicit GradientReadyHook(std::function<void()> ready) : ready(std::move(ready)) {}
  void operator()(const torch::autograd::Variable& /*parameter*/) override { ready(); }
  std::function<void()> ready;
};

}  // namespace

struct GradientAverager::State {
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    size_t pending = 0;             // gradients not yet accumulated in the final backward pass
    std::vector<at::Tensor> flat;   // the all-reduce's one tensor: the bucket's gradients end to end
    c10::intrusive_ptr<c10d::Work> work;
  };
  ProcessGroup* group = nullptr;
  std::vector<Bucket> buckets;
  std::mutex mutex;     // hooks run on autograd's threads (a GPU's own thread in CUDA backward)
  bool armed = false;   // in the final backward pass of a step
  size_t next = 0;      // the next bucket to send; every worker sends them in index order
  std::string hook_error;
  int64_t sent_early = 0, sent = 0;

  void send(Bucket& b) {
    std::vector<torch::Tensor> grads;
    for (auto& p : b.parameters) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad().reshape({-1}));
    }
    b.flat = {torch::cat(grads)};
    b.work = group->impl_->group->allreduce(b.flat);
    ++sent;
  }

  void gradient_ready(size_t bucket) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!armed || !hook_error.empty()) return;
    if (buckets[bucket].pending > 0) --buckets[bucket].pending;
    try {
      torch::NoGradGuard no_grad;
      for (; next < buckets.size() && buckets[next].pending == 0; ++next, ++sent_early) send(buckets[next]);
    } catch (const std::exception& e) {
      hook_error = e.what();  // finish() reports it: an exception must not unwind through autograd
    }
  }
};

GradientAverager::GradientAverager(ProcessGroup& group, const std::vector<torch::Tensor>& parameters) {
  if (!group.active()) return;
  state_ = std::make_shared<State>();
  state_->group = &group;
  auto& buckets = state_->buckets;
  int64_t bytes = 0;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {  // last parameters first
    const auto& p = *it;
    if (!p.requires_grad()) continue;
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    const bool fits = !buckets.empty() && bytes + size <= group.bucket_bytes_ &&
                      buckets.back().parameters.front().scalar_type() == p.scalar_type() &&
                      buckets.back().parameters.front().device() == p.device();
    if (!fits) buckets.emplace_back(), bytes = 0;
    buckets.back().parameters.push_back(p);
    bytes += size;
  }
  std::weak_ptr<State> weak = state_;
  for (size_t b = 0; b < buckets.size(); ++b)
    for (const auto& p : buckets[b].parameters)
      torch::autograd::impl::set_post_acc_grad_hooks(p, std::make_unique<GradientReadyHook>([weak, b] {
        if (auto state = weak.lock()) state->gradient_ready(b);
      }));
}

GradientAverager::~GradientAverager() {
  if (!state_) return;
  for (const auto& b : state_->buckets)
    for (const auto& p : b.parameters) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
  if (state_->group->is_main() && state_->sent > 0)
    log::info("[distributed] {} of {} gradient buckets were sent while backward still ran", state_->sent_early,
              state_->sent);
}

void GradientAverager::final_backward_next() {
  if (!state_) return;
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->armed = true;
  state_->next = 0;
  for (auto& b : state_->buckets) b.pending = b.parameters.size();
}

void GradientAverager::finish() {
  if (!state_) return;
  State& s = *state_;
  ProcessGroup& group = *s.group;
  group.collective("gradient all-reduce", [&] {
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(s.mutex);
    s.armed = false;
    if (!s.hook_error.empty()) {
      const std::string error = s.hook_error;
      s.hook_error.clear();
      throw std::runtime_error(error);
    }
    for (; s.next < s.buckets.size(); ++s.next) s.send(s.buckets[s.next]);
    s.next = 0;
    for (auto& b : s.buckets) {
      b.work->wait();
      auto flat = b.flat[0].div_(group.world_size());
      int64_t offset = 0;
      for (const auto& p : b.parameters) {
        p.mutable_grad().copy_(flat.narrow(0, offset, p.numel()).view_as(p));
        offset += p.numel();
      }
      b.work.reset();
      b.flat.clear();
    }
  });
}

int64_t GradientAverager::buckets_sent_early() const { return state_ ? state_->sent_early : 0; }
int64_t GradientAverager::buckets_sent() const { return state_ ? state_->sent : 0; }

}  // namespace bert::dist
