// netns/result.hpp — the control plane's error channel.
//
// Every control-plane call returns Result<T> (boost::system::result): a value
// or an error_code from the same vocabulary Asio uses, so a caller can write
//
//   auto ref = host.create_net("blue");
//   if (!ref) fmt::print("{}\n", ref.error().message());
//   if (ref.error() == boost::system::errc::file_exists) ...
//
// The data plane never returns errors: it drops and counts (STYLE.md).
#pragma once

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace netns {

template <class T>
using Result = boost::system::result<T>;

using Errc = boost::system::errc::errc_t;

// The error_code for a POSIX errno-like condition, e.g. error(Errc::file_exists).
inline boost::system::error_code error(Errc e) { return boost::system::errc::make_error_code(e); }

}  // namespace netns
