# Hosts as network namespaces (tests/netns/hosts.sh, docs/testing.md):
# netdelay, the latency this kernel's missing netem would give, and the
# test that runs the daemons on four namespaces joined by a bridge.
pkg_check_modules(NFQ REQUIRED IMPORTED_TARGET libnetfilter_queue)
add_executable(netdelay ${CMAKE_CURRENT_SOURCE_DIR}/netns/netdelay.c)
target_link_libraries(netdelay PRIVATE inv_base PkgConfig::NFQ)
set_target_properties(netdelay PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/netns)

add_test(NAME test_hosts
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/netns/test_hosts.sh ${CMAKE_BINARY_DIR})
# 77: not root, or no `ip netns` (hosts_require says why)
set_tests_properties(test_hosts PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77)

# The replicated store (issue 26) on five namespaces: failures under load.
add_test(NAME test_replicated
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/netns/test_replicated.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_replicated PROPERTIES TIMEOUT 400 LABELS integration SKIP_RETURN_CODE 77)
