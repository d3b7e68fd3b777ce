# The pure domain: aggregates.
inv_unit_test(test_product ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_product.c invdomain)
