# Unit tests of common/: the codec, the request/reply dispatcher (rpc), the field rules, the event store, the
# SQLite open helper, the string hash, the msgpack cursor, the subscribers' database helper, the subscriber's
# catch-up requests (pagefetch), the subscriber daemon wiring and the endpoint lists with not_leader (eplist).
foreach(t codec fields eventstore subdaemon sqlitedb modeldb strhash strtable utf8 mpread rpc subscriber pagefetch err
        hashchain log generations timeslew storeopen metrics keyring dqproto replica eplist tunnel)
  inv_unit_test(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${t}.c)
endforeach()
