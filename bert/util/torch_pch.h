// Precompiled header for every target: the LibTorch headers cost most of the compile time.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <fmt/format.h>
