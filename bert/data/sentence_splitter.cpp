// The sentence splitter's rules (see sentence_splitter.h) as one forward scan over the bytes of a
// paragraph: find a terminator run, look past its closers and the following whitespace, and cut
// only when the next word starts a sentence and the word before is no abbreviation or initial.
// Work is linear in the paragraph and allocation-free apart from the result; character classes
// beyond ASCII come from utf8proc, like the tokenizers', so no Unicode table lives here.
#include "bert/data/sentence_splitter.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "bert/tokenizer/unicode.h"

namespace bert::data {

namespace {

namespace uni = bert::tokenizer::unicode;

// Abbreviations after which a single '.' never ends a sentence (rule 3). Titles, ranks, company
// suffixes, Latin, months: the words that precede a capitalised name or word most often.
const std::vector<std::string_view> kAbbreviations = {
    "Mr", "Mrs", "Ms", "Messrs", "Mme", "Mlle", "Dr", "Prof", "Rev", "Hon", "St", "Jr", "Sr",
    "Gen", "Col", "Capt", "Lt", "Sgt", "Cmdr", "Adm", "Gov", "Sen", "Rep", "Mt", "Ft", "Ave",
    "vs", "etc", "cf", "al", "viz", "approx", "Inc", "Ltd", "Co", "Corp", "Bros", "Dept", "Univ",
    "Fig", "Figs", "Eq", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct",
    "Nov", "Dec"};
// Abbreviations that only count as such when a digit follows ("No. 5"), because as words they
// often end a sentence ("No. I won't.").
const std::vector<std::string_view> kNumberAbbreviations = {"No", "Nos", "Vol", "Vols", "Art",
                                                            "Sec", "Ch", "p", "pp"};

bool is_ascii_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ascii_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool is_ascii_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
bool is_ascii_digit(unsigned char c) { return c >= '0' && c <= '9'; }

bool starts_with_at(std::string_view s, size_t pos, std::string_view what) {
  return s.size() - pos >= what.size() && s.compare(pos, what.size(), what) == 0;
}

// Byte length of the multi-byte sequence at s[pos] if it is one of `options`, else 0.
size_t match_any(std::string_view s, size_t pos, std::initializer_list<std::string_view> options) {
  for (std::string_view o : options)
    if (starts_with_at(s, pos, o)) return o.size();
  return 0;
}

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";         // U+2026 …
constexpr std::string_view kIdeographicStop = "\xE3\x80\x82";  // U+3002 。
constexpr std::string_view kFullwidthBang = "\xEF\xBC\x81";    // U+FF01 ！
constexpr std::string_view kFullwidthQuestion = "\xEF\xBC\x9F";  // U+FF1F ？

// Length of the terminator at s[pos] (rule 1 / rule 4), 0 if none; *cjk tells a rule-4 stop.
size_t terminator_length(std::string_view s, size_t pos, bool* cjk) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  *cjk = false;
  if (c == '.' || c == '!' || c == '?') return 1;
  if (c < 0x80) return 0;
  if (starts_with_at(s, pos, kEllipsis)) return kEllipsis.size();
  const size_t n = match_any(s, pos, {kIdeographicStop, kFullwidthBang, kFullwidthQuestion});
  *cjk = n > 0;
  return n;
}

// Closing quotes and brackets that belong to the sentence before them: " ' ) ] } ’ ” ».
size_t closer_length(std::string_view s, size_t pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  if (c < 0x80) return 0;
  return match_any(s, pos, {"\xE2\x80\x99", "\xE2\x80\x9D", "\xC2\xBB"});
}

// Opening quotes and brackets that may precede a sentence's first word: " ' ( [ { ‘ “ « ¿ ¡.
size_t opener_length(std::string_view s, size_t pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c == '"' || c == '\'' || c == '(' || c == '[' || c == '{') return 1;
  if (c < 0x80) return 0;
  return match_any(s, pos, {"\xE2\x80\x98", "\xE2\x80\x9C", "\xC2\xAB", "\xC2\xBF", "\xC2\xA1"});
}

utf8proc_category_t category_at(std::string_view s, size_t pos) {
  const char32_t cp = uni::decode_utf8(s, pos);
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

// Rule 2: does the text at s[pos] (not whitespace) begin a sentence?
bool starts_sentence(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    const size_t n = opener_length(s, pos);
    if (n == 0) break;
    pos += n;
  }
  if (pos >= s.size()) return false;
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return is_ascii_upper(c) || is_ascii_digit(c);
  const utf8proc_category_t cat = category_at(s, pos);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LO ||
         cat == UTF8PROC_CATEGORY_ND;
}

// Whether `word` is `abbreviation` as written or in all capitals ("Mr" matches "Mr" and "MR").
bool same_abbreviation(std::string_view word, std::string_view abbreviation) {
  if (word == abbreviation) return true;
  if (word.size() != abbreviation.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    const unsigned char a = static_cast<unsigned char>(abbreviation[i]);
    const unsigned char w = static_cast<unsigned char>(word[i]);
    const unsigned char upper = is_ascii_lower(a) ? static_cast<unsigned char>(a - 'a' + 'A') : a;
    if (w != upper) return false;
  }
  return true;
}

bool in_list(std::string_view word, const std::vector<std::string_view>& list) {
  return std::any_of(list.begin(), list.end(),
                     [&](std::string_view a) { return same_abbreviation(word, a); });
}

// A single letter, upper-case for a lone initial: "J", "É".
bool is_single_capital(std::string_view word) {
  if (word.empty()) return false;
  size_t pos = 0;
  const char32_t cp = uni::decode_utf8(word, pos);
  if (pos != word.size()) return false;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
}

// Single ASCII letters joined by dots, at least two of them: "e.g", "i.e", "U.S", "J.R.R".
bool is_dotted_letters(std::string_view word) {
  if (word.size() < 3 || word.size() % 2 == 0) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(word[i]);
    if (i % 2 == 0 ? !(is_ascii_upper(c) || is_ascii_lower(c)) : c != '.') return false;
  }
  return true;
}

// The word ending right before s[end]: back to the previous whitespace, minus leading openers.
std::string_view word_before(std::string_view s, size_t end) {
  size_t begin = end;
  while (begin > 0 && !is_ascii_space(static_cast<unsigned char>(s[begin - 1]))) --begin;
  for (;;) {
    const size_t n = begin < end ? opener_length(s, begin) : 0;
    if (n == 0 || begin + n > end) break;
    begin += n;
  }
  return s.substr(begin, end - begin);
}

// Rule 3 for a lone '.' at s[dot] whose next sentence would start at s[next].
bool period_is_abbreviation(std::string_view s, size_t dot, size_t next) {
  const std::string_view word = word_before(s, dot);
  if (word.empty()) return false;
  if (in_list(word, kAbbreviations)) return true;
  if (in_list(word, kNumberAbbreviations) && next < s.size() &&
      is_ascii_digit(static_cast<unsigned char>(s[next]))) {
    return true;
  }
  return is_single_capital(word) || is_dotted_letters(word);
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_ascii_space(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && is_ascii_space(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Bytes to step over at s[pos] when it starts nothing of interest: a whole UTF-8 sequence, so a
// multi-byte terminator is never matched from its middle.
size_t step(std::string_view s, size_t pos) {
  size_t next = pos;
  uni::decode_utf8(s, next);
  return std::max<size_t>(1, next - pos);
}

}  // namespace

const std::vector<std::string_view>& sentence_abbreviations() { return kAbbreviations; }
const std::vector<std::string_view>& sentence_number_abbreviations() { return kNumberAbbreviations; }

std::vector<std::string_view> split_sentences(std::string_view text) {
  std::vector<std::string_view> out;
  auto emit = [&](size_t begin, size_t end) {
    const std::string_view sentence = trim(text.substr(begin, end - begin));
    if (!sentence.empty()) out.push_back(sentence);
  };

  size_t start = 0;  // first byte of the current sentence
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80 && c != '.' && c != '!' && c != '?') {  // the common case, kept cheap
      ++i;
      continue;
    }
    bool cjk = false;
    size_t n = terminator_length(text, i, &cjk);
    if (n == 0) {
      i += step(text, i);
      continue;
    }
    // Rule 1: the whole run of terminators, then its closers.
    const size_t run_begin = i;
    bool any_cjk = cjk;
    while (i < text.size() && (n = terminator_length(text, i, &cjk)) > 0) {
      any_cjk = any_cjk || cjk;
      i += n;
    }
    const size_t run_end = i;
    while (i < text.size() && (n = closer_length(text, i)) > 0) i += n;
    const size_t sentence_end = i;

    if (!any_cjk) {
      // Rule 2: whitespace, then the start of a sentence.
      if (i >= text.size() || !is_ascii_space(static_cast<unsigned char>(text[i]))) continue;
      while (i < text.size() && is_ascii_space(static_cast<unsigned char>(text[i]))) ++i;
      if (i >= text.size() || !starts_sentence(text, i)) continue;
      // Rule 3: a lone '.' right before the whitespace may belong to an abbreviation or initial.
      const bool lone_period = run_end - run_begin == 1 && text[run_begin] == '.';
      if (lone_period && sentence_end == run_end && period_is_abbreviation(text, run_begin, i)) {
        continue;
      }
    }
    emit(start, sentence_end);
    start = sentence_end;
  }
  emit(start, text.size());
  return out;
}

}  // namespace bert::data
