// How core gets its built-in subsystems without depending on them.
//
// The Host (core) must start with IPv4, the transports, macvlan and the
// loopback, which live in layers above core. Core declares the factory
// below and the composition root (src/stack/builtins.cpp) defines it: the
// one call from core upwards, resolved at link time, as a C library's
// crt0 calls a main() it does not define. HostConfig was the other
// candidate; it would make every user's config carry the list, and a
// default-constructed one would still need the root.
#pragma once

#include <memory>
#include <span>

#include "netns/host.hpp"
#include "netns/pernet.hpp"

namespace netns {

struct BuiltinOps {
  PernetOps* ops = nullptr;
  bool device = false;  // register_pernet_device rather than register_pernet_subsys
};

// Constructs every built-in subsystem for `host`, none registered yet.
// Defined by the composition root.
std::unique_ptr<Builtins, detail::BuiltinsDeleter> make_builtins(Host& host);
// What the Host registers, in order. Defined by the composition root.
std::span<const BuiltinOps> builtin_registration(const Builtins& builtins);

// The pernet device ops of src/devices and src/core, for the root's list.
std::unique_ptr<PernetOps> make_loopback_ops(Host& host);        // devices/loopback.cpp
std::unique_ptr<PernetOps> make_default_device_ops(Host& host);  // core/device.cpp

}  // namespace netns
