//go:build !pmq_static

package main

// pmq.h and libpmq through pkg-config, as the binding itself (see
// ../link_shared.go); bench/run.sh builds with -tags pmq_static instead.

// #cgo pkg-config: pmq
import "C"
