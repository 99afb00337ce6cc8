// core/hot_heap.hpp — what the hot heap holds (netns/detail/hot_heap.hpp), for measuring.
#pragma once

#include <cstddef>

namespace netns::detail {

// Bytes of chunks the hot heap holds: it never gives one back, so this is
// the peak of what it held. 0 under AddressSanitizer.
std::size_t hot_heap_reserved();

// Bytes of the blocks handed out and not freed, each counted at its size
// class (the slack of rounding included): what memory_bench adds to
// operator new's bytes. Blocks too large for a class are operator new's,
// and not counted here. 0 under AddressSanitizer (every block is operator new's).
std::size_t hot_heap_in_use();

}  // namespace netns::detail
