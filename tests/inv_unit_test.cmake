# inv_unit_test(NAME SOURCE LIBS...): one Criterion binary, one ctest entry.
function(inv_unit_test name source)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN} invcommon PkgConfig::CRITERION)
  add_test(NAME ${name} COMMAND ${name} --jobs 1)
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 LABELS unit)
endfunction()
