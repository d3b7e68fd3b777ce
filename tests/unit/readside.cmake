# Read side (projector read model, query service): included from
# tests/CMakeLists.txt.  Paths are relative to this file, so the include
# works from any including directory.
foreach(t readmodel queries salefold)
  add_executable(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE query_lib projector_lib invcommon
                        PkgConfig::CRITERION Threads::Threads)
  add_test(NAME test_${t} COMMAND test_${t} --jobs 1)
  set_tests_properties(test_${t} PROPERTIES TIMEOUT 120 LABELS unit)
endforeach()
