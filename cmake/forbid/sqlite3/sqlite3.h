/* Put first on the include path of a layer that must not use sqlite3.h
 * (cmake/layers.cmake, inv_layer DENY sqlite3): including it there stops the
 * build here instead of compiling against the real header. */
#error "this layer must not include <sqlite3.h>: see docs/design.md, Layers"
