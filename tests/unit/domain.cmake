# The pure domain: aggregates.
inv_unit_test(test_product ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_product.c inv_domain)
inv_unit_test(test_aggregate ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_aggregate.c inv_domain)
inv_unit_test(test_aggstore ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_aggstore.c inv_store)
inv_unit_test(test_aggcache ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_aggcache.c inv_store)
# INV_STORE and --store: the dqlite: prefix and the cluster's members (storespec, and replica_parse_store through it).
inv_unit_test(test_storespec ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_storespec.c inv_store)
# The command-service's WAL syncer thread, on real files.
inv_unit_test(test_syncer ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_syncer.c command_lib)
# The relay's WAL checkpointer thread, on a real event store.
inv_unit_test(test_checkpointer ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_checkpointer.c inv_store)
