// `--nproc N`: runs this same command as N local worker processes with torchrun's variables set
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT: the
// environment's, or a free port), forwards SIGINT/SIGTERM to them, and waits. When one worker
// fails, the others are sent SIGTERM (they stop at their next step) and, if still running after
// `grace`, SIGKILL; the launcher then throws a bert::Error naming the first failure.
#pragma once

#include <chrono>

namespace bert::dist {

// True inside a worker started by a launcher (ours or torchrun): RANK is set.
bool running_as_worker();

void run_local_workers(int nproc, std::chrono::seconds grace = std::chrono::seconds(10));

// A TCP port on loopback nobody listens on right now (the kernel's pick), for a rendezvous.
int free_port();

}  // namespace bert::dist
