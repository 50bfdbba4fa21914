//go:build pmq_static

package pmq

// Built with -tags pmq_static: no pkg-config directive, because cgo never
// passes --static to pkg-config and the -lpmq it would add links the shared
// library. The caller gives the flags, for example:
//
//	CGO_CFLAGS="$(pkg-config --cflags pmq)" \
//	CGO_LDFLAGS="$(pkg-config --variable=libdir pmq)/libpmq.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" \
//	go build -tags pmq_static ./...
//
// (the library list is pmq.pc's Libs.private: `pkg-config --static --libs pmq`).

import "C"
