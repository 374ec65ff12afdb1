// Learning-rate schedules against values computed by hand from HF's definitions
// (get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup, constant with warmup).
#include "bert/train/schedule.h"
#include "bert/util/error.h"

#include <catch2/catch.hpp>

using namespace bert::train;

TEST_CASE("linear warmup then linear decay", "[train][schedule]") {
  Schedule s{ScheduleKind::Linear, 1e-3, 10, 110};
  REQUIRE(s.lr_at(0) == 0.0);
  REQUIRE(s.lr_at(5) == Approx(5e-4));
  REQUIRE(s.lr_at(10) == Approx(1e-3));
  REQUIRE(s.lr_at(60) == Approx(5e-4));
  REQUIRE(s.lr_at(110) == 0.0);
  REQUIRE(s.lr_at(500) == 0.0);
}

TEST_CASE("cosine and constant", "[train][schedule]") {
  Schedule c{ScheduleKind::Cosine, 2.0, 0, 100};
  REQUIRE(c.lr_at(0) == Approx(2.0));
  REQUIRE(c.lr_at(50) == Approx(1.0));
  REQUIRE(c.lr_at(100) == Approx(0.0).margin(1e-12));
  Schedule k{ScheduleKind::Constant, 3.0, 4, 100};
  REQUIRE(k.lr_at(2) == Approx(1.5));
  REQUIRE(k.lr_at(99) == Approx(3.0));
}

TEST_CASE("warmup resolution and parsing", "[train][schedule]") {
  REQUIRE(resolve_warmup_steps(0, 0.1, 1000) == 100);
  REQUIRE(resolve_warmup_steps(7, 0.1, 1000) == 7);
  REQUIRE(resolve_warmup_steps(0, 0.1, 15) == 2);
  REQUIRE_THROWS_AS(resolve_warmup_steps(0, 1.5, 10), bert::Error);
  REQUIRE(parse_schedule("cosine") == ScheduleKind::Cosine);
  REQUIRE_THROWS_WITH(parse_schedule("step"), Catch::Contains("--schedule") && Catch::Contains("\"step\""));
}
