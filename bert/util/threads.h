// LibTorch's intra-op thread pool: sized once per process from --threads (0 = all cores).
#pragma once

namespace bert {

// Sets LibTorch's intra-op threads; 0 means every core. Returns the count now in force.
int configure_threads(int requested);

}  // namespace bert
