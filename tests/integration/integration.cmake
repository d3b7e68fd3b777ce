# Integration tests: the real daemons as processes on ipc:// endpoints in a
# temporary folder (tests/integration/harness.h).  Each test binary depends on
# every daemon target so that `cmake --build` builds what the tests start.

set(INV_DAEMON_TARGETS
  command-service outbox-relay projector-service query-service audit-service alert-service
  invctl invbench)

add_library(invharness STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c)
target_include_directories(invharness PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(invharness PUBLIC invcommon)

# INV_BIN_COMMAND_SERVICE="<path>" and so on.  A target that does not exist
# yet gets a path that harness_start reports as missing.
set(_inv_existing_daemons "")
foreach(target ${INV_DAEMON_TARGETS})
  string(TOUPPER "${target}" macro)
  string(REPLACE "-" "_" macro "${macro}")
  if(TARGET ${target})
    target_compile_definitions(invharness PRIVATE "INV_BIN_${macro}=\"$<TARGET_FILE:${target}>\"")
    list(APPEND _inv_existing_daemons ${target})
  else()
    message(STATUS "integration tests: target ${target} does not exist (yet)")
    target_compile_definitions(invharness PRIVATE
      "INV_BIN_${macro}=\"${CMAKE_BINARY_DIR}/missing-target/${target}\"")
  endif()
endforeach()

# inv_integration_test(NAME SOURCE): one Criterion binary, one ctest entry.
function(inv_integration_test name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE invharness invcommon PkgConfig::CRITERION)
  if(_inv_existing_daemons)
    add_dependencies(${name} ${_inv_existing_daemons})
  endif()
  add_test(NAME ${name} COMMAND ${name} --jobs 1)
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS integration)
endfunction()

inv_integration_test(test_pipeline ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_pipeline.c)
inv_integration_test(test_bad_input ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_bad_input.c)
inv_integration_test(test_delivery ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_delivery.c)
target_link_libraries(test_delivery PRIVATE PkgConfig::SQLITE)
set_tests_properties(test_delivery PROPERTIES TIMEOUT 900)
inv_integration_test(test_durability ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_durability.c)
inv_integration_test(test_domain ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_domain.c)
inv_integration_test(test_rebuild ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_rebuild.c)
inv_integration_test(test_failures ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_failures.c)
target_link_libraries(test_failures PRIVATE PkgConfig::SQLITE)
inv_integration_test(test_chain ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_chain.c)
target_link_libraries(test_chain PRIVATE PkgConfig::SQLITE)
inv_integration_test(test_hostile ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_hostile.c)
inv_integration_test(test_security ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_security.c)
inv_integration_test(test_relay_down ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_relay_down.c)
inv_integration_test(test_invctl_use ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_invctl_use.c)
inv_integration_test(test_leader ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_leader.c)
target_link_libraries(test_leader PRIVATE Threads::Threads)

# The local launcher (deploy/inventory-local) on the real daemons.
add_test(NAME test_launcher
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_launcher.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_launcher PROPERTIES TIMEOUT 300 LABELS integration)
# Its replicated mode: three store hosts, kill -9 of the active one.
add_test(NAME test_launcher_replicated
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_launcher_replicated.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_launcher_replicated PROPERTIES TIMEOUT 90 LABELS integration)
# The same on a full disk: the log took a batch that the active host's
# events.db could not commit (svc_fail_copy).  Root (a tmpfs); 77: skipped.
add_test(NAME test_replica_fail_copy
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_replica_fail_copy.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_replica_fail_copy PROPERTIES TIMEOUT 200 LABELS integration
                     SKIP_RETURN_CODE 77)
# A second configure rebuilds nothing.
add_test(NAME test_reconfigure COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_reconfigure.sh)
set_tests_properties(test_reconfigure PROPERTIES TIMEOUT 300 LABELS integration)
# --version of every daemon and invctl.
add_test(NAME test_version COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_version.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_version PROPERTIES TIMEOUT 60 LABELS integration)
# invctl's help, man page and bash completion (tools/cli_help.c).
add_test(NAME test_invctl_docs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_invctl_docs.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_invctl_docs PROPERTIES TIMEOUT 60 LABELS integration)
# invctl against the real daemons: watch events --from, audit --tail, colour.
add_test(NAME test_invctl_daemons
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_invctl_daemons.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_invctl_daemons PROPERTIES TIMEOUT 300 LABELS integration)
# /metrics, /healthz and JSON logs of the real daemons (curl).
add_test(NAME test_scrape
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_scrape.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_scrape PROPERTIES TIMEOUT 300 LABELS integration)
# A client in another language from docs/protocol.md alone (pyzmq, CURVE).
add_test(NAME test_pyzmq_client
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_pyzmq_client.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_pyzmq_client PROPERTIES TIMEOUT 120 LABELS integration)

# Three real store-node processes for the tests of the dqlite client
# (integration/storenodes.h).
add_library(invstorenodes STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/storenodes.c)
target_link_libraries(invstorenodes PUBLIC invcommon PkgConfig::CRITERION)
target_compile_definitions(invstorenodes PRIVATE "INV_BIN_STORE_NODE=\"$<TARGET_FILE:store-node>\"")
add_dependencies(invstorenodes store-node)
# Three real dqlite nodes (store-node) and the store's dqlite client (issue 26).
inv_integration_test(test_dqlite ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_dqlite.c)
target_include_directories(test_dqlite PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(test_dqlite PRIVATE invstorenodes)
# The same nodes secure: dqlite's traffic through the CURVE tunnel (tunnel.h).
inv_integration_test(test_dqlite_secure ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_dqlite_secure.c)
target_include_directories(test_dqlite_secure PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_link_libraries(test_dqlite_secure PRIVATE invstorenodes)
# invctl store (membership of the dqlite cluster) on three real store-nodes.
add_test(NAME test_store_cluster
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy/test_store_cluster.sh ${CMAKE_BINARY_DIR})
set_tests_properties(test_store_cluster PROPERTIES TIMEOUT 120 LABELS integration)
