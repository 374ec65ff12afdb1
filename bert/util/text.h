// Rendering user data inside error messages: one place decides how a bad CSV field or CoNLL
// line is shown, so every reader's messages look alike and none can flood the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bert {

// A short, printable rendering of user data for error messages: quoted, control bytes escaped,
// long values cut (at a character boundary) with the full size noted.
std::string quote_snippet(std::string_view s, size_t max_bytes = 80);

}  // namespace bert
