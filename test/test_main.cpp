// Catch2 v2 entry point; every other test file only includes <catch2/catch.hpp>.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
