# Unit tests of common/: the codec, the field rules and the event store.
inv_unit_test(test_codec ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_codec.c)
inv_unit_test(test_fields ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_fields.c)
inv_unit_test(test_eventstore ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_eventstore.c)
