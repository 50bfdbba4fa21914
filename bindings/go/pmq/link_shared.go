//go:build !pmq_static

package pmq

// The default: compile and link against libpmq through pkg-config (pmq.pc
// from `make install`, or the build tree's pmq-uninstalled.pc from
// `make pc-uninstalled`, found through PKG_CONFIG_PATH).

// #cgo pkg-config: pmq
import "C"
