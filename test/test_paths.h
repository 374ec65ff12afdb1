// Where the committed test data lives (BERT_TEST_DATA_DIR is set by CMake). Kept apart from
// test_helpers.h so that tests which never touch LibTorch compile without its headers.
#pragma once

#include <string>

namespace bert::test {

inline std::string data_path(const std::string& relative) { return std::string(BERT_TEST_DATA_DIR) + "/" + relative; }

}  // namespace bert::test
