// Errors every kind of socket handle returns the same way, defined once.
#pragma once

#include <boost/system/error_code.hpp>

#include "netns/result.hpp"

namespace netns {

// A handle that was closed or moved from (EBADF, as a closed descriptor).
inline boost::system::error_code bad_descriptor() { return error(Errc::bad_file_descriptor); }

}  // namespace netns
