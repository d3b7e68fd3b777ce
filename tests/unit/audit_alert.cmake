# Unit tests of audit-service/ (change text, audit model, head cache and SearchAudit) and
# alert-service/ (stock rule, alert model, alert message and ListAlerts).
# Included by tests/CMakeLists.txt, which defines inv_unit_test()
# (tests/inv_unit_test.cmake); a scratch project that includes this file on
# its own gets it from there.
if(NOT COMMAND inv_unit_test)
  include(${CMAKE_CURRENT_LIST_DIR}/../inv_unit_test.cmake)
endif()

inv_unit_test(test_change ${CMAKE_CURRENT_LIST_DIR}/test_change.c audit_lib)
inv_unit_test(test_auditlog ${CMAKE_CURRENT_LIST_DIR}/test_auditlog.c audit_lib)
inv_unit_test(test_headcache ${CMAKE_CURRENT_LIST_DIR}/test_headcache.c audit_lib)
inv_unit_test(test_stockwatch ${CMAKE_CURRENT_LIST_DIR}/test_stockwatch.c alert_lib)
inv_unit_test(test_alerts ${CMAKE_CURRENT_LIST_DIR}/test_alerts.c alert_lib)
set_tests_properties(test_change test_auditlog test_headcache test_stockwatch test_alerts
                     PROPERTIES TIMEOUT 60 LABELS "unit;audit_alert")
