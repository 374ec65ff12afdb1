// keep_freed_memory_for_reuse(): a large block comes from the heap, not a mapping of its own, and
// stays there once freed.
#include "bert/util/memory.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

TEST_CASE("training keeps freed memory in the heap", "[util][memory]") {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  bert::keep_freed_memory_for_reuse();
  const size_t mapped_before = mallinfo2().hblkhd;
  const size_t size = 96u << 20;  // above glibc's largest mmap threshold (32 MiB)
  void* block = std::malloc(size);
  REQUIRE(block != nullptr);
  std::memset(block, 1, size);
  REQUIRE(mallinfo2().hblkhd == mapped_before);  // not a mapping of its own
  const size_t heap_with_block = mallinfo2().arena;
  std::free(block);
  REQUIRE(mallinfo2().arena == heap_with_block);  // not trimmed away
#else
  SUCCEED("not glibc: nothing to check");
#endif
}
