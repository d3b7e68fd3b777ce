# Unit tests of common/: the codec, the request/reply dispatcher (rpc), the field rules, the event store, the
# SQLite open helper, the string hash, the msgpack cursor, the subscribers' database helper and the subscriber
# daemon wiring.
inv_unit_test(test_codec ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_codec.c)
inv_unit_test(test_fields ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fields.c)
inv_unit_test(test_eventstore ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_eventstore.c)
inv_unit_test(test_subdaemon ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_subdaemon.c)
inv_unit_test(test_sqlitedb ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_sqlitedb.c)
inv_unit_test(test_modeldb ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_modeldb.c)
inv_unit_test(test_strhash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_strhash.c)
inv_unit_test(test_strtable ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_strtable.c)
inv_unit_test(test_utf8 ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_utf8.c)
inv_unit_test(test_mpread ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_mpread.c)
inv_unit_test(test_rpc ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rpc.c)
inv_unit_test(test_subscriber ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_subscriber.c)
inv_unit_test(test_err ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_err.c)
inv_unit_test(test_log ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_log.c)
