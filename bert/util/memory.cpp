#include "bert/util/memory.h"

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace bert {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);  // no block of its own mapping, whatever its size: all from the heap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace bert
