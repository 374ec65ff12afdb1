// read_sentence_embedding_config: what a sentence-transformers directory says about pooling,
// normalization and length, and what embed refuses to guess. (CTest sentence_embeddings compares
// the vectors with sentence-transformers' own encode() on all-MiniLM-L6-v2.)
#include <catch2/catch.hpp>

#include "bert/tasks/embed.h"
#include "bert/util/error.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;
using bert::tasks::read_sentence_embedding_config;

namespace {

struct StDir {
  fs::path path = fs::temp_directory_path() / ("bert_st_" + std::to_string(::getpid()));
  StDir() {
    fs::remove_all(path);
    fs::create_directories(path / "1_Pooling");
  }
  ~StDir() { fs::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
  void modules(bool normalize, const std::string& extra = "") const {
    write("modules.json", std::string(R"([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
      {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"})") +
                              (normalize ? R"(, {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})" : "") +
                              extra + "]");
  }
  void pooling(bool cls, bool mean, bool max = false, bool sqrt_len = false) const {
    auto b = [](bool v) { return v ? "true" : "false"; };
    write("1_Pooling/config.json", std::string("{\"word_embedding_dimension\": 384, \"pooling_mode_cls_token\": ") + b(cls) +
                                       ", \"pooling_mode_mean_tokens\": " + b(mean) + ", \"pooling_mode_max_tokens\": " +
                                       b(max) + ", \"pooling_mode_mean_sqrt_len_tokens\": " + b(sqrt_len) + "}");
  }
};

std::string error_of(const StDir& d) {
  try {
    read_sentence_embedding_config(d.path.string());
  } catch (const bert::Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("a sentence-transformers directory gives pooling, normalization and length", "[embed]") {
  StDir d;
  CHECK_FALSE(read_sentence_embedding_config(d.path.string()));  // no modules.json: not one

  d.modules(true);
  d.pooling(false, true);
  d.write("sentence_bert_config.json", R"({"max_seq_length": 256, "do_lower_case": false})");
  auto c = read_sentence_embedding_config(d.path.string());
  REQUIRE(c);
  CHECK(c->pooling == "mean");
  CHECK(c->normalize);
  CHECK(c->max_seq_length == 256);

  d.modules(false);
  d.pooling(true, false);
  fs::remove(d.path / "sentence_bert_config.json");
  c = read_sentence_embedding_config(d.path.string());
  CHECK(c->pooling == "cls");
  CHECK_FALSE(c->normalize);
  CHECK_FALSE(c->max_seq_length);

  d.pooling(false, false, true);
  CHECK(read_sentence_embedding_config(d.path.string())->pooling == "max");
  d.pooling(false, false, false, true);
  CHECK(read_sentence_embedding_config(d.path.string())->pooling == "mean_sqrt_len");

  SECTION("what embed cannot reproduce is refused by file and name") {
    d.pooling(true, true);  // sentence-transformers would concatenate the two
    CHECK_THAT(error_of(d), Catch::Contains("1_Pooling/config.json: pooling cls, mean is not supported"));
    d.pooling(false, true);
    d.modules(true, R"(, {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"})");
    CHECK_THAT(error_of(d), Catch::Contains("modules.json: module sentence_transformers.models.Dense is not supported"));
    d.write("modules.json", "[{\"type\": \"sentence_transformers.models.Transformer\"}]");
    CHECK_THAT(error_of(d), Catch::Contains("no Pooling module"));
    d.write("modules.json", "{not json");
    CHECK_THAT(error_of(d), Catch::Contains("modules.json: invalid JSON"));
  }
}
