# Read side (projector read model, query service): included from
# tests/CMakeLists.txt.  Paths are relative to this file, so the include
# works from any including directory.
foreach(t readmodel queries salefold)
  inv_unit_test(test_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c query_lib projector_lib
                Threads::Threads)
endforeach()
