// Unicode helpers for the tokenizers: strict UTF-8 decoding/encoding and the character classes
// that Hugging Face's BertTokenizer (BasicTokenizer) uses, all answered by utf8proc so that no
// hand-written Unicode table lives in this project. The predicates mirror the Python definitions
// in transformers (`_is_whitespace`, `_is_control`, `_is_punctuation`, `_is_chinese_char`, and
// `str.lower` / `unicodedata.normalize`), because the tokenizer must reproduce its ids exactly.
// Unicode version: utf8proc's tables (15.0 for Debian's 2.8) rather than Python 3.11's (14.0);
// the two only disagree on code points first assigned in Unicode 15, which Python files under
// "Cn" (unassigned, hence "control" and dropped) while utf8proc knows their real category.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bert::tokenizer::unicode {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point starting at s[pos] and advances pos past it. Malformed input (stray
// continuation bytes, truncated sequences, overlong forms, surrogates, values above U+10FFFF)
// yields U+FFFD and advances over one "maximal subpart", exactly as Python's
// bytes.decode("utf-8", errors="replace") does; the BERT clean-up step then drops U+FFFD, so
// invalid bytes vanish from the token stream instead of aborting a whole data set. Never reads
// past s.size(). Precondition: pos < s.size().
char32_t decode_utf8(std::string_view s, size_t& pos) noexcept;

// Appends the UTF-8 encoding of cp (which must be a valid scalar value) to out.
void append_utf8(std::string& out, char32_t cp);

// Number of bytes append_utf8 writes for cp.
inline size_t utf8_length(char32_t cp) noexcept {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

// True when s is entirely well-formed UTF-8; otherwise *error_offset (if given) receives the
// byte offset of the first malformed sequence.
bool is_valid_utf8(std::string_view s, size_t* error_offset = nullptr) noexcept;

// transformers `_is_whitespace`: ' ', \t, \n, \r, or general category Zs.
bool is_whitespace(char32_t cp) noexcept;
// transformers `_is_control`: general category C* (Cc, Cf, Cs, Co, Cn) except \t, \n, \r.
bool is_control(char32_t cp) noexcept;
// transformers `_is_punctuation`: every non-alphanumeric printable ASCII char, or category P*.
bool is_punctuation(char32_t cp) noexcept;
// transformers `_is_chinese_char`: the CJK Unified Ideographs blocks (not kana, not Hangul).
bool is_chinese_char(char32_t cp) noexcept;
// Separators that Python's str.split() honours but that survive BERT's clean-up step because
// they are neither Zs nor control: the line and paragraph separators (categories Zl, Zp).
bool is_line_separator(char32_t cp) noexcept;
// Python's str.isspace(): bidirectional class WS, B or S, or category Zs.
bool is_python_space(char32_t cp) noexcept;
// Python's str.isalnum() for one character: a letter (L*) or a number (N*).
bool is_alphanumeric(char32_t cp) noexcept;
// General category Mn (non-spacing mark): what BERT's accent stripping removes after NFD.
bool is_nonspacing_mark(char32_t cp) noexcept;
// Canonical combining class (0 for starters).
int combining_class(char32_t cp) noexcept;

// Python's str.lower() for a single character: the full lower-case mapping. It differs from the
// simple mapping only for U+0130 (I WITH DOT ABOVE -> "i" + U+0307). Writes 1 or 2 code points
// into out and returns how many.
int to_lower(char32_t cp, char32_t out[2]) noexcept;

// Appends the full canonical decomposition (NFD without reordering) of cp to out.
void append_canonical_decomposition(char32_t cp, std::vector<char32_t>& out);

// Stable-sorts every run of non-starters by combining class in place (the canonical ordering
// step of NFD).
void canonical_order(std::vector<char32_t>& cps);

// NFC of a code point sequence, in place; the two buffers are scratch space, passed in so that
// hot loops can reuse their capacity.
void nfc(std::vector<char32_t>& cps, std::vector<char32_t>& decomposed,
         std::vector<int32_t>& scratch);

// NFC / NFD of a UTF-8 string (convenience, allocates). Input must be valid UTF-8.
std::string nfc(std::string_view s);
std::string nfd(std::string_view s);

// What BERT's clean-up and whitespace split do with a character, from one property lookup:
// drop it (NUL, U+FFFD, control/format/unassigned), end the current word (whitespace, Zl, Zp),
// or keep it.
enum CleanClass : uint8_t { kCleanDrop = 0, kCleanSpace = 1, kCleanKeep = 2 };
CleanClass clean_class(char32_t cp) noexcept;

// Per-byte classes for ASCII, computed once from the predicates above (not hand-written) so the
// hot loop can classify a byte with one table load.
enum AsciiClass : uint8_t { kAsciiDrop = 0, kAsciiSpace = 1, kAsciiPunct = 2, kAsciiOther = 3 };
struct AsciiTables {
  uint8_t cls[128];
  char lower[128];
};
const AsciiTables& ascii_tables() noexcept;

}  // namespace bert::tokenizer::unicode
