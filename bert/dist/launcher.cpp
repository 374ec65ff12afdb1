#include "bert/dist/launcher.h"

#include "bert/util/error.h"
#include "bert/util/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace bert::dist {

namespace {

// Written by the launcher before the handlers are installed; read by them.
std::vector<pid_t> g_workers;

volatile std::sig_atomic_t g_interrupted = 0;

void forward_signal(int sig) {
  for (pid_t pid : g_workers)
    if (pid > 0) ::kill(pid, sig);
}

extern "C" void on_signal(int sig) {
  g_interrupted = 1;
  forward_signal(sig);
}

// This process's own command line, as the kernel recorded it.
std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    args.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  if (args.empty()) throw Error("--nproc: cannot read this process's command line from /proc/self/cmdline");
  return args;
}

}  // namespace

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("--nproc: cannot open a socket to find a free port: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error(std::string("--nproc: cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended with status " + std::to_string(status);
}

}  // namespace

bool running_as_worker() { return std::getenv("RANK") != nullptr; }

void run_local_workers(int nproc, std::chrono::seconds grace) {
  if (nproc < 1) throw Error("--nproc: must be >= 1, found " + std::to_string(nproc));
  const auto args = own_command_line();
  const char* port_env = std::getenv("MASTER_PORT");
  const std::string port = port_env != nullptr && *port_env != '\0' ? port_env : std::to_string(free_port());
  log::info("[launch] {} workers, rendezvous 127.0.0.1:{}", nproc, port);

  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  g_workers.assign(static_cast<size_t>(nproc), -1);
  for (int rank = 0; rank < nproc; ++rank) {
    pid_t pid = ::fork();
    if (pid < 0) {
      forward_signal(SIGKILL);
      throw Error(std::string("--nproc: fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {
      const std::string r = std::to_string(rank), n = std::to_string(nproc);
      ::setenv("RANK", r.c_str(), 1);
      ::setenv("LOCAL_RANK", r.c_str(), 1);
      ::setenv("WORLD_SIZE", n.c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "error: --nproc: cannot start worker %d: %s\n", rank, std::strerror(errno));
      std::_Exit(127);
    }
    g_workers[static_cast<size_t>(rank)] = pid;
  }
  g_interrupted = 0;
  auto previous_int = std::signal(SIGINT, on_signal);
  auto previous_term = std::signal(SIGTERM, on_signal);

  std::string first_failure;
  auto failed_at = std::chrono::steady_clock::time_point::max();
  size_t running = g_workers.size();
  while (running > 0) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, first_failure.empty() ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == 0) {  // a worker failed and others are still running: give them `grace`, then kill
      if (std::chrono::steady_clock::now() - failed_at > grace) forward_signal(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (size_t rank = 0; rank < g_workers.size(); ++rank) {
      if (g_workers[rank] != pid) continue;
      g_workers[rank] = -1;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && first_failure.empty() && !g_interrupted) {
        first_failure = "worker " + std::to_string(rank) + " " + describe(status);
        failed_at = std::chrono::steady_clock::now();
        if (running > 0) log::warn("[launch] {}: stopping the other workers", first_failure);
        forward_signal(SIGTERM);
      }
    }
  }
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (!first_failure.empty()) throw Error("--nproc " + std::to_string(nproc) + ": " + first_failure);
  if (g_interrupted) throw Error("--nproc " + std::to_string(nproc) + ": interrupted; run the same command again to continue");
}

}  // namespace bert::dist
