# wire/ is the bottom layer: its headers and sources include only one another,
# netns/result.hpp (the error vocabulary, Boost only) and system headers.
# Anything else (core, ipv4, devices) would make the layers point both ways.
#   cmake -DSOURCE_DIR=<repo> -P layering_check.cmake
file(GLOB wire_files ${SOURCE_DIR}/include/netns/wire/*.hpp ${SOURCE_DIR}/src/wire/*.cpp)
if(NOT wire_files)
  message(FATAL_ERROR "no wire files under ${SOURCE_DIR}")
endif()
set(violations "")
foreach(f IN LISTS wire_files)
  file(STRINGS ${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*$" "\\1" path "${line}")
    if(NOT path MATCHES "^netns/wire/[a-z0-9_]+\\.hpp$" AND NOT path STREQUAL "netns/result.hpp")
      list(APPEND violations "${f}: ${path}")
    endif()
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "wire/ includes from a layer above it:\n  ${text}")
endif()
list(LENGTH wire_files n)
message(STATUS "wire/ is a leaf: ${n} files checked")
