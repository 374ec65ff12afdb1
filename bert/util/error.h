// One exception type for every error a user can cause (bad file, bad flag, bad checkpoint).
// The message is complete on its own: which file/flag, what was expected, what was found.
// apps/ catches it at the top, prints it as one line and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace bert {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace bert
