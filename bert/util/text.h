// Rendering user data inside error messages: one place decides how a bad CSV field or CoNLL
// line is shown, so every reader's messages look alike and none can flood the terminal. Also the
// string predicates C++17 lacks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bert {

// A short, printable rendering of user data for error messages: quoted, control bytes escaped,
// long values cut (at a character boundary) with the full size noted.
std::string quote_snippet(std::string_view s, size_t max_bytes = 80);

// C++20's std::string::ends_with (file extensions, parameter and tensor names).
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "1 step", "3 steps": a count and its noun, for log lines and messages.
inline std::string counted(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace bert
