/* Put first on the include path of a layer that must not use zmq.h
 * (cmake/layers.cmake, inv_layer DENY zmq): including it there stops the
 * build here instead of compiling against the real header. */
#error "this layer must not include <zmq.h>: see docs/design.md, Layers"
