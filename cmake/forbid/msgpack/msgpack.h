/* Put first on the include path of a layer that must not use msgpack.h
 * (cmake/layers.cmake, inv_layer DENY msgpack): including it there stops the
 * build here instead of compiling against the real header. */
#error "this layer must not include <msgpack.h>: see docs/design.md, Layers"
