// The pieces of a training run's reporting and safety checks that do not need a model: the
// progress bar text, the resume compatibility check against run.json, and the non-finite-step
// guard (skip, count, stop after too many in a row).
#include "bert/train/run_log.h"
#include "bert/util/error.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

using namespace bert::train;
namespace fs = std::filesystem;

TEST_CASE("progress bar text", "[train][run_log]") {
  REQUIRE(progress_bar(0, 10, 10) == "[..........]");
  REQUIRE(progress_bar(5, 10, 10) == "[#####.....]");
  REQUIRE(progress_bar(10, 10, 4) == "[####]");
  REQUIRE(progress_bar(15, 10, 4) == "[####]");  // past the end: full, not overflowing
  REQUIRE(progress_bar(3, 0, 4) == "[....]");
  REQUIRE(format_duration(3725) == "01:02:05");
  REQUIRE(format_duration(-1) == "--:--:--");
  REQUIRE(format_rate(12400) == "12.4k");
}

TEST_CASE("resuming checks the options that define the run", "[train][run_log]") {
  const fs::path dir = fs::temp_directory_path() / ("bert_run_json_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  nlohmann::json options = {{"seq_len", 128}, {"corpus", {"a.txt"}}, {"lr", 1e-4}};
  write_run_json(dir.string(), options);
  REQUIRE(fs::exists(dir / "run.json"));

  REQUIRE_NOTHROW(check_resume_compatible(dir.string(), {{"seq_len", 128}, {"corpus", {"a.txt"}}}));
  try {
    check_resume_compatible(dir.string(), {{"seq_len", 64}, {"corpus", {"b.txt"}}});
    FAIL("expected an error");
  } catch (const bert::Error& e) {
    const std::string what = e.what();
    REQUIRE(what.find("seq_len: the run has 128, this command gives 64") != std::string::npos);
    REQUIRE(what.find("corpus: the run has [\"a.txt\"]") != std::string::npos);
  }
  // A key the saved run does not know (an older run.json) is not a difference.
  REQUIRE_NOTHROW(check_resume_compatible(dir.string(), {{"whole_word_mask", true}}));
  // No run.json (a run from before it existed): nothing to compare.
  REQUIRE_NOTHROW(check_resume_compatible((dir / "elsewhere").string(), {{"seq_len", 1}}));
  fs::remove_all(dir);
}

TEST_CASE("non-finite steps are skipped, counted, and stop the run when they repeat", "[train][run_log]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  NonFiniteSteps guard(3, "try a lower --lr", /*skipped_before=*/2);
  REQUIRE(guard.accept(1, 2.5, 1.0));
  REQUIRE_FALSE(guard.accept(2, nan, 1.0));
  REQUIRE_FALSE(guard.accept(3, 2.0, inf));  // finite loss, overflowing gradient: skipped too
  REQUIRE(guard.accept(4, 2.4, 0.9));        // a good step resets the run of bad ones
  REQUIRE(guard.skipped_total() == 4);
  REQUIRE_FALSE(guard.accept(5, nan, nan));
  REQUIRE_FALSE(guard.accept(6, nan, nan));
  REQUIRE_THROWS_WITH(guard.accept(7, -inf, nan), Catch::Contains("stopped at step 7: 3 steps in a row") &&
                                                      Catch::Contains("try a lower --lr"));
}
