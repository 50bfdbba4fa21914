//go:build pmq_static

package main

// With -tags pmq_static the caller passes CGO_CFLAGS (pmq.h) and
// CGO_LDFLAGS (libpmq.a and its system libraries), as for the binding
// (../link_static.go).

import "C"
