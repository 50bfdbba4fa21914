# Installing pmq like a C library, and the test that proves it.
#
#   make && sudo make install                     # /usr/local
#   make install PREFIX=$HOME/.local              # a local prefix
#   make install PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu DESTDIR=$PWD/stage  # packagers
#   make install-strip <same variables>           # the same, debug info stripped (what a distribution ships)
#   make uninstall <same variables>               # removes exactly what install put there
#   make pc-uninstalled                           # $(BUILD)/pkgconfig/pmq-uninstalled.pc
#   make test-install                             # install, build 4 consumers, uninstall
#
# Layout (LIBDIR defaults to $(PREFIX)/lib, INCLUDEDIR to $(PREFIX)/include):
#   LIBDIR/libpmq.so.$(VERSION)                 the shared library (SONAME $(SONAME))
#   LIBDIR/$(SONAME) -> libpmq.so.$(VERSION)    what programs load at run time
#   LIBDIR/libpmq.so -> $(SONAME)               what -lpmq finds at link time
#   LIBDIR/libpmq.a                             the static library
#   INCLUDEDIR/pmq.h (and pmq.hpp when include/pmq.hpp exists)
#   PKGCONFIGDIR/pmq.pc                         (LIBDIR/pkgconfig)
#   CMAKEDIR/pmqConfig.cmake, pmqConfigVersion.cmake   (LIBDIR/cmake/pmq)
#   BINDIR/pmq                                  the command line tool  (PREFIX/bin)
#   BINDIR/pmq-bridge                           the NATS bridge `pmq bridge` runs
#   MANDIR/man1/pmq.1                           its man page           (PREFIX/share/man)
#   BASHCOMPDIR/pmq, ZSHCOMPDIR/_pmq, FISHCOMPDIR/pmq.fish   its shell completions
#     (PREFIX/share/bash-completion/completions, PREFIX/share/zsh/site-functions,
#      PREFIX/share/fish/vendor_completions.d)
# The man page and completions are generated from the CLI's own definition
# by the built binary (cli/src/assets.rs) into $(TARGET)/pmq-assets: `make`
# does it (cli-assets), install only copies them.
#
# Installing never runs cargo when the libraries are already built, so
# `make && sudo make install` works even where root has no Rust toolchain.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR     ?= $(LIBDIR)/cmake/pmq
BINDIR       ?= $(PREFIX)/bin
DATADIR      ?= $(PREFIX)/share
MANDIR       ?= $(DATADIR)/man
BASHCOMPDIR  ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR   ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR  ?= $(DATADIR)/fish/vendor_completions.d
STRIP        ?= strip
DESTDIR      ?=
INSTALL      ?= install

# The full-version file name, and the ABI line used by the CMake version file.
LIB_SO_FULL   := libpmq.so.$(VERSION)
ABI_VERSION   := $(if $(filter 0,$(MAJOR)),0.$(MINOR),$(MAJOR))
# Pointer size of the built library, for the CMake version file: its ELF class
# byte (1 = 32-bit, 2 = 64-bit) times 4. Needs no toolchain (sudo make install).
SIZEOF_VOID_P  = $(shell echo $$(( $$(od -An -tu1 -j4 -N1 $(LIB_SO)) * 4 )))
# $(STATIC_LIBS) as a CMake list.
STATIC_LIBS_CMAKE := $(subst $(eval) ,;,$(strip $(STATIC_LIBS)))
# The headers to install: pmq.h, and the C++ wrapper if it exists at install time.
INSTALL_HEADERS = include/pmq.h $(wildcard include/pmq.hpp)
# Directories under PREFIX are written as ${prefix}/... in the .pc file.
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(patsubst $(PREFIX),$${prefix},$(1)))
# The same in the CMake package, where the prefix is ${_pmq_prefix}.
cmake_rel = $(patsubst $(PREFIX)/%,$${_pmq_prefix}/%,$(patsubst $(PREFIX),$${_pmq_prefix},$(1)))
# Relocatable: the installed pmq.pc and pmqConfig.cmake find the prefix
# relative to their own directory (${pcfiledir}, ${CMAKE_CURRENT_LIST_DIR}),
# so the installed tree can be moved or unpacked anywhere (a tarball, a
# container layer). A directory outside PREFIX stays absolute.
# $(call rel_prefix,dir,anchor): the prefix as anchor/../.., or PREFIX itself.
rel_prefix = $(if $(filter $(PREFIX)/%,$(1)),$(2)/$(shell realpath -m --relative-to='$(1)' '$(PREFIX)'),$(PREFIX))
PC_PREFIX    = $(call rel_prefix,$(PKGCONFIGDIR),$${pcfiledir})
CMAKE_PREFIX = $(call rel_prefix,$(CMAKEDIR),$${CMAKE_CURRENT_LIST_DIR})

# Fills in a template:
# $(call subst_template,template,output,prefix,libdir,includedir)
define subst_template
@echo "  GEN     "$(2); sed -e 's|@PREFIX@|$(3)|g' \
    -e 's|@LIBDIR@|$(4)|g' \
    -e 's|@INCLUDEDIR@|$(5)|g' \
    -e 's|@VERSION@|$(VERSION)|g' \
    -e 's|@SONAME@|$(SONAME)|g' \
    -e 's|@ABI_VERSION@|$(ABI_VERSION)|g' \
    -e 's|@STATIC_LIBS@|$(strip $(STATIC_LIBS))|g' \
    -e 's|@STATIC_LIBS_CMAKE@|$(STATIC_LIBS_CMAKE)|g' \
    -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g' \
    $(1) > $(2).tmp && chmod 644 $(2).tmp && mv $(2).tmp $(2)
endef

.PHONY: install install-strip uninstall pc-uninstalled test-install cli-assets

# The CLI binary, and the man page and completions it generates.
CLI_BIN    := $(TARGET)/pmq
BRIDGE_BIN := $(TARGET)/pmq-bridge
CLI_ASSETS := $(TARGET)/pmq-assets
CLI_ASSET_FILES := $(addprefix $(CLI_ASSETS)/,pmq.1 pmq.bash _pmq pmq.fish)

# Regenerated when missing or older than the binary; builds the CLI only if
# it is not built (so `sudo make install` after `make` writes nothing here).
cli-assets: $(if $(wildcard $(CLI_BIN)),,cli)
	@test -x $(CLI_BIN) || { echo "cli-assets: $(CLI_BIN) missing: run 'make cli' first" >&2; exit 1; }
	@(for f in $(CLI_ASSET_FILES); do [ "$$f" -nt $(CLI_BIN) ] || exit 1; done) || { \
	    echo "  GEN     $(CLI_ASSETS): pmq.1 (man page), pmq.bash, _pmq (zsh), pmq.fish"; \
	    PMQ_GENERATE_ASSETS_DIR='$(CLI_ASSETS)' $(CLI_BIN); }

all: cli-assets

# Build first only if the libraries are not built yet (see the note at the top).
install: $(if $(and $(wildcard $(LIB_SO)),$(wildcard $(LIB_A))),,lib) cli-assets \
    $(if $(wildcard $(BRIDGE_BIN)),,cli)
	@test -f $(LIB_SO) && test -f $(LIB_A) || { echo "install: $(LIB_SO) or $(LIB_A) missing: run 'make lib' first" >&2; exit 1; }
	@test -x $(BRIDGE_BIN) || { echo "install: $(BRIDGE_BIN) missing: run 'make cli' first" >&2; exit 1; }
	@for d in '$(PREFIX)' '$(LIBDIR)' '$(INCLUDEDIR)' '$(PKGCONFIGDIR)' '$(CMAKEDIR)' '$(BINDIR)' \
	          '$(MANDIR)' '$(BASHCOMPDIR)' '$(ZSHCOMPDIR)' '$(FISHCOMPDIR)'; do \
	    case $$d in /*) ;; *) echo "install: '$$d' must be an absolute path" >&2; exit 1 ;; esac; done
	$(INSTALL) -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(CMAKEDIR)'
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(BASHCOMPDIR)' \
	    '$(DESTDIR)$(ZSHCOMPDIR)' '$(DESTDIR)$(FISHCOMPDIR)'
	$(INSTALL) -m 755 $(CLI_BIN) '$(DESTDIR)$(BINDIR)/pmq'
	$(INSTALL) -m 755 $(BRIDGE_BIN) '$(DESTDIR)$(BINDIR)/pmq-bridge'
	$(INSTALL) -m 644 $(CLI_ASSETS)/pmq.1 '$(DESTDIR)$(MANDIR)/man1/pmq.1'
	$(INSTALL) -m 644 $(CLI_ASSETS)/pmq.bash '$(DESTDIR)$(BASHCOMPDIR)/pmq'
	$(INSTALL) -m 644 $(CLI_ASSETS)/_pmq '$(DESTDIR)$(ZSHCOMPDIR)/_pmq'
	$(INSTALL) -m 644 $(CLI_ASSETS)/pmq.fish '$(DESTDIR)$(FISHCOMPDIR)/pmq.fish'
	$(INSTALL) -m 755 $(LIB_SO) '$(DESTDIR)$(LIBDIR)/$(LIB_SO_FULL)'
	ln -sfn $(LIB_SO_FULL) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sfn $(SONAME) '$(DESTDIR)$(LIBDIR)/libpmq.so'
	$(INSTALL) -m 644 $(LIB_A) '$(DESTDIR)$(LIBDIR)/libpmq.a'
	$(INSTALL) -m 644 $(INSTALL_HEADERS) '$(DESTDIR)$(INCLUDEDIR)/'
	$(call subst_template,pkgconfig/pmq.pc.in,'$(DESTDIR)$(PKGCONFIGDIR)/pmq.pc',$(PC_PREFIX),$(call pc_rel,$(LIBDIR)),$(call pc_rel,$(INCLUDEDIR)))
	$(call subst_template,cmake/pmqConfig.cmake.in,'$(DESTDIR)$(CMAKEDIR)/pmqConfig.cmake',$(CMAKE_PREFIX),$(call cmake_rel,$(LIBDIR)),$(call cmake_rel,$(INCLUDEDIR)))
	$(call subst_template,cmake/pmqConfigVersion.cmake.in,'$(DESTDIR)$(CMAKEDIR)/pmqConfigVersion.cmake',$(PREFIX),$(LIBDIR),$(INCLUDEDIR))

# install, then the debug info out of what it installed: the library and
# the CLI keep only the symbols they need (--strip-unneeded), the archive
# keeps its symbol table (--strip-debug: it must still link). The sizes this
# gives are in docs/src/install.md; tests/install/run.sh checks them.
install-strip: install
	$(STRIP) --strip-unneeded '$(DESTDIR)$(LIBDIR)/$(LIB_SO_FULL)' '$(DESTDIR)$(BINDIR)/pmq' \
	    '$(DESTDIR)$(BINDIR)/pmq-bridge'
	$(STRIP) --strip-debug '$(DESTDIR)$(LIBDIR)/libpmq.a'

# Removes every file install can create (pmq.hpp too), then the pmq-only
# CMake directory; shared directories (lib, include, pkgconfig, bin, share/...) stay.
uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/$(LIB_SO_FULL)' '$(DESTDIR)$(LIBDIR)/$(SONAME)' \
	      '$(DESTDIR)$(LIBDIR)/libpmq.so' '$(DESTDIR)$(LIBDIR)/libpmq.a' \
	      '$(DESTDIR)$(INCLUDEDIR)/pmq.h' '$(DESTDIR)$(INCLUDEDIR)/pmq.hpp' \
	      '$(DESTDIR)$(PKGCONFIGDIR)/pmq.pc' \
	      '$(DESTDIR)$(CMAKEDIR)/pmqConfig.cmake' '$(DESTDIR)$(CMAKEDIR)/pmqConfigVersion.cmake' \
	      '$(DESTDIR)$(BINDIR)/pmq' '$(DESTDIR)$(BINDIR)/pmq-bridge' '$(DESTDIR)$(MANDIR)/man1/pmq.1' '$(DESTDIR)$(BASHCOMPDIR)/pmq' \
	      '$(DESTDIR)$(ZSHCOMPDIR)/_pmq' '$(DESTDIR)$(FISHCOMPDIR)/pmq.fish'
	rmdir '$(DESTDIR)$(CMAKEDIR)' 2>/dev/null || true

# A .pc for building against the build tree (always regenerated: it records
# the current CARGO_TARGET_DIR/PROFILE). Use PKG_CONFIG_PATH=$(BUILD)/pkgconfig.
PC_UNINSTALLED := $(BUILD)/pkgconfig/pmq-uninstalled.pc
pc-uninstalled: $(PC_UNINSTALLED)
$(PC_UNINSTALLED): pkgconfig/pmq-uninstalled.pc.in FORCE | $(BUILD)
	@mkdir -p $(dir $@)
	$(call subst_template,$<,$@,$(CURDIR),$(abspath $(TARGET)),$(CURDIR)/include)

# Installs into temporary prefixes (with and without DESTDIR), builds and runs
# tests/install/consumer.c four ways, checks symbols/SONAME/static libs, uninstalls.
test-install: lib cli cli-assets $(PC_UNINSTALLED)
	@MAKE='$(MAKE)' CC='$(CC)' CXX='$(CXX)' CARGO='$(CARGO)' BUILD='$(abspath $(BUILD))' \
	    TARGET_DIR='$(abspath $(TARGET))' VERSION='$(VERSION)' SONAME='$(SONAME)' \
	    STATIC_LIBS='$(strip $(STATIC_LIBS))' CFLAGS_STRICT='$(CFLAGS_STRICT)' \
	    PROFILE_FLAG='$(CARGO_PROFILE_FLAG)' \
	    sh tests/install/run.sh

test: test-install
