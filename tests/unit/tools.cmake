# Unit tests of tools/ (invctl's modules, linked from the invtools library).
inv_unit_test(test_jsonout ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_jsonout.c invtools)
inv_unit_test(test_cli ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cli.c invtools)
set_tests_properties(test_jsonout test_cli PROPERTIES TIMEOUT 60 LABELS "unit;tools")
inv_unit_test(test_cli_help ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cli_help.c invtools)
set_tests_properties(test_cli_help PROPERTIES TIMEOUT 60 LABELS "unit;tools")
