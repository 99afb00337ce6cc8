// netns/result.hpp — the control plane's error channel.
//
// Every control-plane call returns Result<T> (boost::system::result): a value
// or an error_code from the same vocabulary Asio uses, so a caller can write
//
//   auto ref = host.create_net("blue");
//   if (!ref) fmt::print("{}\n", ref.error().message());   // "File exists"
//   if (ref.error() == boost::system::errc::file_exists) ...
//
//   auto got = stream.read(buffer);
//   if (!got && got.error() == boost::asio::error::connection_refused) ...
//
// Every error netns returns is made by error() below: errno's value in the
// system category, which is exactly what a real Asio socket returns on Linux.
// So it compares equal to the boost::asio::error:: constant of that name (an
// error_code: same value, same category), to boost::system::errc:: (an
// error_condition: the system category maps errno values onto the generic
// one), and its message() is Linux's strerror. The only exception is the
// asio adapters' end of stream, boost::asio::error::eof, as Asio's own.
//
// Functions returning Result are [[nodiscard]]; the build turns a dropped one
// into an error. A deliberate discard is written (void)call(), with a why.
//
// The data plane never returns errors: it drops and counts (docs/ARCHITECTURE.md, section 11).
#pragma once

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_category.hpp>

#include <cerrno>

namespace netns {

template <class T>
using Result = boost::system::result<T>;

using Errc = boost::system::errc::errc_t;

// The error_code for an errno value, e.g. one a system call or DPDK returned;
// 0 (a failure that did not say why) becomes EIO.
[[nodiscard]] inline boost::system::error_code errno_error(int err) {
  // Not errc::make_error_code (the generic category): Asio's constants are in
  // the system category, and error_code == error_code compares the category.
  return {err != 0 ? err : EIO, boost::system::system_category()};
}

// The error_code for a POSIX errno-like condition, e.g. error(Errc::file_exists).
[[nodiscard]] inline boost::system::error_code error(Errc e) { return errno_error(static_cast<int>(e)); }

}  // namespace netns
