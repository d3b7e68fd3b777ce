# inv_layer(NAME SOURCES src... LINKS lib... DENY sqlite3|zmq|msgpack...)
#
# One layer of the shared code (docs/design.md, Layers): a static library of
# the folder it is declared in, which links only the layers below it.  For
# each DENYed dependency the build refuses the layer twice over: the header
# resolves to cmake/forbid/<dep>/<dep>.h (an #error) when one of the layer's
# own files includes it, and after linking the archive, nm must find no call
# into it (cmake/check-undefined.sh).
set(INV_DENY_PREFIX_sqlite3 sqlite3_)
set(INV_DENY_PREFIX_zmq zmq_)
set(INV_DENY_PREFIX_msgpack msgpack_)

function(inv_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;LINKS;DENY" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${L_LINKS})
  set(prefixes "")
  foreach(dep ${L_DENY})
    target_include_directories(${name} BEFORE PRIVATE ${PROJECT_SOURCE_DIR}/cmake/forbid/${dep})
    list(APPEND prefixes ${INV_DENY_PREFIX_${dep}})
  endforeach()
  if(prefixes)
    add_custom_command(TARGET ${name} POST_BUILD
      COMMAND sh ${PROJECT_SOURCE_DIR}/cmake/check-undefined.sh $<TARGET_FILE:${name}> ${prefixes}
      VERBATIM)
  endif()
endfunction()
