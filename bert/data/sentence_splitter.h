// Rule-based sentence splitting for prose corpora. BERT's next-sentence task needs a corpus cut
// into sentences, but novels and web text come as paragraphs; a statistical splitter (Punkt,
// spaCy) would be one more dependency and model to ship, while a handful of documented rules gets
// English prose right in the vast majority of cases, and an occasional missed or extra cut only
// shifts where a training segment starts. The rules, in order:
//
//  1. A sentence may end after a run of terminators: '.', '!', '?', U+2026 '…' (so "?!", "..." and
//     ".…" are one run), followed by any closing quotes or brackets (" ' ) ] } ’ ” »), which stay
//     with the sentence.
//  2. It ends there only if whitespace follows and the next non-space text starts a sentence: an
//     upper-case or title-case letter, a letter of a caseless script (Lo: CJK, Arabic, Hebrew,
//     Devanagari...), or a digit, optionally behind opening quotes or brackets
//     (" ' ( [ { ‘ “ « ¿ ¡). So "3.14", "e.g.x", "‘Oh!’ said Alice" and "Wait… what" never split.
//  3. A run that is a single '.' with no closer does not end a sentence when the word before it is
//     - an abbreviation from kAbbreviations below (matched as written or in all capitals, so
//       "Mr." and "MR." but not "fig." the fruit),
//     - one of the number abbreviations (No. Nos. Vol. Vols. Art. Sec. Ch. p. pp.) and a digit
//       follows ("No. 5", yet "No. I won't." splits),
//     - a single capital letter, an initial ("J. R. R. Tolkien", "CHAPTER I. Down the..."),
//     - letters joined by dots ("e.g", "i.e", "U.S", "a.m"), so "in the U.S. Then" stays one
//       sentence: the known cost of this rule.
//  4. The CJK full stops 。！？ (U+3002, U+FF01, U+FF1F) end a sentence wherever they are, since
//     those scripts put no space after them.
//
// Sentences come back trimmed of surrounding whitespace, never empty, as views into the input.
// Input should be valid UTF-8 (the corpus reader checks it); invalid bytes are never split
// inside and never crash the splitter. Bump kSentenceSplitterVersion whenever the output of
// split_sentences changes, so that token caches built with the old rules are rebuilt.
#pragma once

#include <string_view>
#include <vector>

namespace bert::data {

inline constexpr int kSentenceSplitterVersion = 1;

std::vector<std::string_view> split_sentences(std::string_view paragraph);

// The abbreviations of rule 3 (without their final '.'), for documentation and tests.
const std::vector<std::string_view>& sentence_abbreviations();
const std::vector<std::string_view>& sentence_number_abbreviations();

}  // namespace bert::data
