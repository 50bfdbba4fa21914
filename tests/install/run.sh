#!/bin/sh
# The install test (make test-install): installs pmq into temporary prefixes
# and proves a user can build against it.
#
#  1. the native libraries a static link needs: rustc's --print
#     native-static-libs == the Makefile's STATIC_LIBS == pmq.pc's static -l list
#  2. make install with DESTDIR and a multiarch LIBDIR: exactly the expected
#     files, nothing outside DESTDIR, no DESTDIR path inside them; a consumer
#     built from the staged tree (PKG_CONFIG_SYSROOT_DIR) runs; make uninstall
#     leaves no file behind
#  3. make install into a prefix: symbol hygiene (only pmq_* exported, exactly
#     the functions pmq.h declares), the SONAME and its links, pmq.pc
#  4. tests/install/consumer.c built and RUN four ways against the prefix:
#     pkg-config (shared), pkg-config --static (static, must not need
#     libpmq.so), CMake find_package (shared and static), plain Makefile;
#     and once against the build tree through pmq-uninstalled.pc
#  5. make uninstall leaves no file in the prefix
#  6. relocation: install to one prefix, MOVE the tree, build and run
#     pkg-config and CMake consumers against the moved copy
#  7. make install-strip: no debug info left, consumers and the CLI still
#     work, the sizes (built vs stripped) printed
#
# Driven by mk/install.mk, which passes MAKE, CC, CARGO, BUILD, TARGET_DIR,
# VERSION, SONAME, STATIC_LIBS, CFLAGS_STRICT, PROFILE_FLAG and CXX.
# Prints "install: N passed, N failed"; exits non-zero on any failure.

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$SRC/tests/install"
: "${MAKE:=make}" "${CC:=cc}" "${CARGO:=cargo}" "${BUILD:=$SRC/build}"
: "${PROFILE_FLAG=--release}"
: "${CFLAGS_STRICT:=-std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE}"
for v in TARGET_DIR VERSION SONAME STATIC_LIBS; do
    eval "test -n \"\${$v:-}\"" || { echo "run.sh: $v is not set (run it through make test-install)" >&2; exit 2; }
done

mkdir -p "$BUILD"
T=$(mktemp -d "$BUILD/install-test.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
LOG="$T/log"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "  ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "  FAIL $1"
    if [ -s "$LOG" ]; then sed 's/^/       | /' "$LOG" | tail -n 40; fi
}
# check "description" command...: runs the command in a subshell, output to $LOG.
check() {
    what=$1
    shift
    if ("$@") >"$LOG" 2>&1; then ok "$what"; else bad "$what"; fi
}
# Inside a check: report and end the check (its subshell) as failed.
fail_with() {
    echo "$*" >&2
    exit 1
}

mk() { "$MAKE" --no-print-directory -C "$SRC" BUILD="$BUILD" "$@"; }

# The files make install must create, relative to the prefix, with LIBDIR
# and INCLUDEDIR given relative to the prefix too.
expected_files() { # libdir includedir
    {
        echo "$1/libpmq.so.$VERSION"
        echo "$1/$SONAME"
        echo "$1/libpmq.so"
        echo "$1/libpmq.a"
        echo "$1/pkgconfig/pmq.pc"
        echo "$1/cmake/pmq/pmqConfig.cmake"
        echo "$1/cmake/pmq/pmqConfigVersion.cmake"
        echo "$2/pmq.h"
        if [ -f "$SRC/include/pmq.hpp" ]; then echo "$2/pmq.hpp"; fi
        echo "bin/pmq"
        echo "bin/pmq-bridge"
        echo "share/man/man1/pmq.1"
        echo "share/bash-completion/completions/pmq"
        echo "share/zsh/site-functions/_pmq"
        echo "share/fish/vendor_completions.d/pmq.fish"
    } | sort
}
# Every non-directory under $1, relative to it.
files_under() { (cd "$1" && find . ! -type d | sed 's|^\./||' | sort); }

same_files() { # root libdir includedir
    expected_files "$2" "$3" >"$T/want"
    files_under "$1" >"$T/have"
    diff -u "$T/want" "$T/have"
}

# The libpmq.so link chain: libpmq.so -> SONAME -> libpmq.so.VERSION (a file).
check_links() { # libdir
    [ "$(readlink "$1/libpmq.so")" = "$SONAME" ] || fail_with "libpmq.so -> $(readlink "$1/libpmq.so"), want $SONAME"
    [ "$(readlink "$1/$SONAME")" = "libpmq.so.$VERSION" ] || fail_with "$SONAME -> $(readlink "$1/$SONAME"), want libpmq.so.$VERSION"
    [ -f "$1/libpmq.so.$VERSION" ] && [ ! -L "$1/libpmq.so.$VERSION" ] || fail_with "libpmq.so.$VERSION is not a regular file"
}

no_pmq_files_left() { # root
    # (the one directory install creates is CMAKEDIR, .../cmake/pmq; the
    # path of the tree itself may well contain a "pmq", e.g. ~/pmq/build/...)
    left=$(find "$1" ! -type d 2>/dev/null; find "$1" -type d -path "*/cmake/pmq" 2>/dev/null)
    [ -z "$left" ] || fail_with "left behind: $left"
}

run_consumer() { # binary how [env assignments...]
    bin=$1
    how=$2
    shift 2
    out=$(env "$@" "$bin" "$how" 2>&1)
    rc=$?
    echo "$out"
    [ $rc -eq 0 ] || fail_with "$bin exited with $rc"
    echo "$out" | grep -q "^consumer($how): ok, pmq $VERSION\$" || fail_with "no success line from $bin"
}

# The binary loads libpmq from the given directory (resolved by ldd; the
# directories compared after resolving `..` and symbolic links, since a
# relocatable pmq.pc gives paths like <prefix>/lib/pkgconfig/../../lib).
loads_from() { # binary libdir [env...]
    bin=$1
    dir=$2
    shift 2
    line=$(env "$@" ldd "$bin" | grep "$SONAME")
    echo "ldd: $line"
    path=$(echo "$line" | sed -n "s|.*=> \(.*/$SONAME\) .*|\1|p")
    [ -n "$path" ] || fail_with "$bin does not load $SONAME from any directory"
    got=$(cd "$(dirname "$path")" && pwd -P) || fail_with "$path: no such directory"
    want=$(cd "$dir" && pwd -P) || fail_with "$dir: no such directory"
    [ "$got" = "$want" ] || fail_with "$bin loads $path, not from $dir"
}

# A static consumer must not need libpmq.so at all.
no_libpmq_needed() { # binary
    ldd "$1"
    if ldd "$1" | grep -q libpmq; then fail_with "ldd: $1 needs libpmq"; fi
    if readelf -d "$1" | grep NEEDED | grep -q libpmq; then fail_with "readelf: $1 has a NEEDED libpmq"; fi
    return 0
}

echo "== install test: pmq $VERSION, SONAME $SONAME, in $T"

# --- 1. the native libraries of a static link --------------------------------
# shellcheck disable=SC2086 # PROFILE_FLAG is empty or one word
(cd "$SRC" && "$CARGO" rustc $PROFILE_FLAG -p pmq-ffi --lib --crate-type staticlib --quiet -- --print native-static-libs) >"$T/native" 2>&1
NATIVE=$(sed -n 's/.*native-static-libs: *//p' "$T/native" | tail -n 1)
echo "   rustc native-static-libs: $NATIVE"
cp "$T/native" "$LOG"
check "rustc reports native-static-libs" test -n "$NATIVE"
printf 'rustc: %s\nMakefile STATIC_LIBS: %s\n' "$NATIVE" "$STATIC_LIBS" >"$LOG"
if [ "$NATIVE" = "$STATIC_LIBS" ]; then ok "Makefile STATIC_LIBS == rustc native-static-libs"; else bad "Makefile STATIC_LIBS == rustc native-static-libs"; fi

# --- 2. DESTDIR install, multiarch LIBDIR, then uninstall --------------------
STAGE="$T/stage"
SP="$T/sys/usr" # the PREFIX packaged into $STAGE (never written to)
set -- PREFIX="$SP" LIBDIR="$SP/lib/x86_64-linux-gnu" INCLUDEDIR="$SP/include/x86_64-linux-gnu" DESTDIR="$STAGE"
check "make install DESTDIR=... PREFIX=... LIBDIR=... INCLUDEDIR=... (multiarch)" mk install "$@"
check "staged files are exactly the expected ones" same_files "$STAGE$SP" lib/x86_64-linux-gnu include/x86_64-linux-gnu
check "nothing written outside DESTDIR" test ! -e "$T/sys"
check "staged lib links: libpmq.so -> $SONAME -> libpmq.so.$VERSION" check_links "$STAGE$SP/lib/x86_64-linux-gnu"
check "no DESTDIR path inside the installed .pc/.cmake files" \
    sh -c '! grep -rl "$1" "$2"' sh "$STAGE" "$STAGE$SP/lib/x86_64-linux-gnu/pkgconfig" "$STAGE$SP/lib/x86_64-linux-gnu/cmake"
check "staged pmq.pc: prefix=\${pcfiledir}/../../.., libdir and includedir under \${prefix}" \
    sh -c 'grep -qx "prefix=\${pcfiledir}/../../.." "$1" && grep -qx "libdir=\${prefix}/lib/x86_64-linux-gnu" "$1" &&
        grep -qx "includedir=\${prefix}/include/x86_64-linux-gnu" "$1"' sh "$STAGE$SP/lib/x86_64-linux-gnu/pkgconfig/pmq.pc"
check "staged .pc/.cmake files name no absolute path of the prefix (relocatable)" \
    sh -c '! grep -rn "$1" "$2" "$3"' sh "$SP" "$STAGE$SP/lib/x86_64-linux-gnu/pkgconfig" "$STAGE$SP/lib/x86_64-linux-gnu/cmake"
# A packager's staged tree is usable through PKG_CONFIG_SYSROOT_DIR.
stage_build() {
    pc="env PKG_CONFIG_PATH=$STAGE$SP/lib/x86_64-linux-gnu/pkgconfig PKG_CONFIG_SYSROOT_DIR=$STAGE pkg-config"
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_stage" $($pc --cflags --libs pmq) &&
        run_consumer "$T/consumer_stage" staged LD_LIBRARY_PATH="$STAGE$SP/lib/x86_64-linux-gnu" &&
        loads_from "$T/consumer_stage" "$STAGE$SP/lib/x86_64-linux-gnu" LD_LIBRARY_PATH="$STAGE$SP/lib/x86_64-linux-gnu"
}
check "consumer built from the staged tree (PKG_CONFIG_SYSROOT_DIR) runs" stage_build
check "make uninstall DESTDIR=..." mk uninstall "$@"
check "staged tree has no pmq file left" no_pmq_files_left "$STAGE"

# --- 3. install into a prefix: the library itself ---------------------------
P="$T/prefix"
L="$P/lib"
check "make install PREFIX=$P" mk install PREFIX="$P"
check "installed files are exactly the expected ones" same_files "$P" lib include
check "lib links: libpmq.so -> $SONAME -> libpmq.so.$VERSION" check_links "$L"

exports_only_pmq() {
    nm -D --defined-only "$L/libpmq.so.$VERSION" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u >"$T/exported"
    echo "$(wc -l <"$T/exported") exported symbols"
    [ -s "$T/exported" ] || fail_with "no exported symbols at all"
    if grep -v '^pmq_' "$T/exported"; then fail_with "^^ exported symbols without the pmq_ prefix"; fi
    return 0
}
check "libpmq.so exports only pmq_* symbols" exports_only_pmq

exports_match_header() {
    sed -n 's/^[A-Za-z].*[ *]\(pmq_[a-z0-9_]*\)(.*/\1/p' "$P/include/pmq.h" | sort -u >"$T/declared"
    [ -s "$T/declared" ] || fail_with "found no function declarations in pmq.h"
    diff -u "$T/declared" "$T/exported" || fail_with "pmq.h declarations (-) vs libpmq.so exports (+) differ"
}
check "libpmq.so exports exactly the functions pmq.h declares" exports_match_header

soname_is_documented() {
    got=$(readelf -d "$L/libpmq.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    echo "readelf SONAME: $got; Makefile: $SONAME"
    [ "$got" = "$SONAME" ] || fail_with "SONAME is '$got', want '$SONAME'"
    # The book's Install chapter (docs/src/install.md) states it; its CMake
    # fragment is what the CMake consumers below build.
    doc="$SRC/docs/src/install.md"
    [ -f "$doc" ] || fail_with "no $doc"
    grep -q "SONAME \`$got\`" "$doc" || fail_with "$doc does not say: SONAME \`$got\`"
}
check "SONAME (readelf -d) is $SONAME, as the docs say" soname_is_documented

# --- 3a. the CLI, its man page and completions --------------------------------
check "installed bin/pmq runs: pmq --version == pmq $VERSION" \
    sh -c '[ "$("$1/bin/pmq" --version)" = "pmq $2" ]' sh "$P" "$VERSION"
# `pmq bridge` runs the installed pmq-bridge beside pmq, with PATH empty of
# it: a subject only pmq-bridge checks (pmq's own parser takes any string)
# comes back as pmq-bridge's usage error, exit 2, before any connection.
bridge_beside() {
    out=$(PATH=/nonexistent "$P/bin/pmq" bridge out /pmq-install-bridge --nats nats://127.0.0.1:1 \
        --subject "not a subject" 2>&1); rc=$?
    echo "pmq bridge (PATH=/nonexistent): exit $rc: $out"
    [ $rc -eq 2 ] || fail_with "pmq bridge exited $rc, want 2 (pmq-bridge's usage error)"
    case $out in *"is not a NATS subject"*) ;; *) fail_with "no pmq-bridge subject error" ;; esac
    [ "$("$P/bin/pmq-bridge" --version)" = "pmq-bridge $VERSION" ] || fail_with "pmq-bridge --version"
}
check "installed pmq bridge runs the installed pmq-bridge beside it" bridge_beside
man_page() {
    f=$(MANPATH="$P/share/man" man -w pmq) || fail_with "man -w pmq finds no page under $P/share/man"
    [ "$f" = "$P/share/man/man1/pmq.1" ] || fail_with "man -w pmq: $f, want $P/share/man/man1/pmq.1"
    groff -man -Tutf8 -ww -z "$f" 2>"$T/groff.err" || fail_with "groff failed on $f"
    if [ -s "$T/groff.err" ]; then cat "$T/groff.err"; fail_with "groff warnings in $f"; fi
    MANWIDTH=100 MANPATH="$P/share/man" man pmq 2>/dev/null >"$T/man.txt"
    # Every command has its section, with its options (one each, as a sample).
    for want in NAME SYNOPSIS 'PMQ LS' 'PMQ STAT' 'PMQ CREATE' 'PMQ RM' 'PMQ SEND' 'PMQ RECV' \
        'PMQ LIMITS' 'PMQ BRIDGE OUT' 'PMQ BRIDGE IN' '--max-messages' '--priority' '--follow' '--create-stream'; do
        grep -qF -- "$want" "$T/man.txt" || fail_with "man pmq has no '$want'"
    done
    echo "man pmq: $(wc -l <"$T/man.txt") lines, every command's section present"
}
check "man page: MANPATH=<prefix>/share/man man pmq finds and renders it (no groff warning)" man_page
bash_completion() {
    # The way bash-completion loads it: source the file, then complete words.
    bash -c '
        . "$1"
        complete -p pmq || exit 1
        try() { # words... -> COMPREPLY
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
            COMPREPLY=(); _pmq pmq "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            echo "$* -> ${COMPREPLY[*]}"
        }
        [ "$(try pmq se)" = "pmq se -> send" ] || { try pmq se; exit 1; }
        [ "$(try pmq --backend s)" = "pmq --backend s -> shm" ] || { try pmq --backend s; exit 1; }
        b=" $(try pmq bridge "") "
        case $b in *" in "*) ;; *) echo "$b"; exit 1 ;; esac
        case $b in *" out "*) ;; *) echo "$b"; exit 1 ;; esac
        try pmq se; try pmq --backend s; try pmq bridge ""
    ' sh "$P/share/bash-completion/completions/pmq"
}
check "bash completion completes commands, subcommands and --backend values" bash_completion
zsh_fish() {
    head -n1 "$P/share/zsh/site-functions/_pmq" | grep -qx '#compdef pmq' || fail_with "_pmq does not start with #compdef pmq"
    grep -q "complete -c pmq .*-a \"send\"" "$P/share/fish/vendor_completions.d/pmq.fish" ||
        fail_with "pmq.fish completes no 'send' command"
    for sh in zsh fish; do
        if command -v $sh >/dev/null 2>&1; then
            f=$P/share/zsh/site-functions/_pmq
            [ $sh = fish ] && f=$P/share/fish/vendor_completions.d/pmq.fish
            $sh -n "$f" || fail_with "$sh -n $f: syntax errors"
            echo "$sh -n $f: ok"
        else
            echo "$sh is not installed: the syntax of its completion file was not checked"
        fi
    done
}
check "zsh and fish completions: #compdef pmq, the commands, valid syntax" zsh_fish

# --- 3b. pmq.pc ---------------------------------------------------------------
PC="env PKG_CONFIG_PATH=$L/pkgconfig pkg-config"
check "pkg-config --validate pmq" $PC --validate pmq
check "pkg-config --modversion pmq == $VERSION" sh -c '[ "$($1 --modversion pmq)" = "$2" ]' sh "$PC" "$VERSION"
static_libs_exact() {
    got=$($PC --libs-only-l --static pmq | sed 's/ *$//')
    want="-lpmq $NATIVE"
    echo "pkg-config --libs-only-l --static pmq: $got"
    echo "-lpmq + rustc native-static-libs:      $want"
    [ -n "$NATIVE" ] && [ "$got" = "$want" ]
}
check "pkg-config --static lists exactly -lpmq + rustc's native-static-libs" static_libs_exact
check "pkg-config --libs pmq (shared) has no static-only libraries" \
    sh -c '[ "$($1 --libs-only-l pmq | sed "s/ *\$//")" = "-lpmq" ]' sh "$PC"

# The C++ wrapper, when the tree has one: the installed copy compiles on its own.
if [ -f "$P/include/pmq.hpp" ]; then
    cxx_header() {
        # shellcheck disable=SC2046
        printf '#include <pmq.hpp>\nint main() { return 0; }\n' |
            "${CXX:-c++}" -std=c++17 -Wall -Wextra -Werror -pedantic -fsyntax-only $($PC --cflags pmq) -x c++ -
    }
    check "installed pmq.hpp compiles (C++17) with pkg-config --cflags pmq" cxx_header
fi

# --- 4. the consumer, four ways ------------------------------------------------
cd "$T" || exit 2

# 4a. pkg-config, shared.
pc_shared() {
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_pc" $($PC --cflags --libs pmq) \
        -Wl,-rpath,"$($PC --variable=libdir pmq)" &&
        run_consumer "$T/consumer_pc" pkgconfig && loads_from "$T/consumer_pc" "$L"
}
check "pkg-config shared consumer builds, runs, loads the installed $SONAME" pc_shared

# 4b. pkg-config --static. -lpmq would pick libpmq.so (ld prefers it), so the
# archive is named with -l:libpmq.a, as README.md's Install section shows.
pc_static() {
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_pc_static" $($PC --cflags pmq) \
        $($PC --libs --static pmq | sed 's/-lpmq /-l:libpmq.a /') &&
        no_libpmq_needed "$T/consumer_pc_static" && run_consumer "$T/consumer_pc_static" pkgconfig-static
}
check "pkg-config --static consumer builds, runs, does not need libpmq.so" pc_static

# 4c. CMake find_package(pmq), pmq::pmq and pmq::pmq_static.
if command -v ninja >/dev/null 2>&1; then GEN=Ninja; else GEN="Unix Makefiles"; fi
cmake_consumer() {
    cmake -S "$HERE" -B "$T/cmake" -G "$GEN" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
        -DPMQ_EXPECT_VERSION="$VERSION" -DCMAKE_BUILD_TYPE=Release &&
        grep -qx "pmq_DIR:PATH=$L/cmake/pmq" "$T/cmake/CMakeCache.txt" &&
        cmake --build "$T/cmake" &&
        run_consumer "$T/cmake/consumer_cmake" cmake && loads_from "$T/cmake/consumer_cmake" "$L" &&
        no_libpmq_needed "$T/cmake/consumer_cmake_static" &&
        run_consumer "$T/cmake/consumer_cmake_static" cmake-static
}
check "CMake find_package(pmq) consumers (pmq::pmq, pmq::pmq_static) build and run" cmake_consumer

# 4d. A plain Makefile with -I/-L.
make_consumer() {
    "$MAKE" --no-print-directory -f "$HERE/Makefile" PREFIX="$P" OUT="$T" CC="$CC" &&
        run_consumer "$T/consumer_make" makefile && loads_from "$T/consumer_make" "$L" &&
        no_libpmq_needed "$T/consumer_make_static" && run_consumer "$T/consumer_make_static" makefile-static
}
check "plain Makefile (-I/-L) consumers (shared, libpmq.a) build and run" make_consumer
# The static list the docs (README.md, docs/src/*.md) and tests/install/Makefile spell out is rustc's.
check "tests/install/Makefile's PMQ_STATIC_LIBS == rustc native-static-libs" \
    sh -c '[ "$(sed -n "s/^PMQ_STATIC_LIBS ?= //p" "$1")" = "$2" ]' sh "$HERE/Makefile" "$NATIVE"
doc_static_libs() {
    grep -h -e '-lgcc_s' -e '-lpthread' "$SRC/README.md" "$SRC"/docs/src/*.md >"$T/doclines" || fail_with "no static library list in the docs"
    cat "$T/doclines"
    if grep -vF -- "$NATIVE" "$T/doclines"; then fail_with "^^ docs list other static libraries than: $NATIVE"; fi
}
check "the docs list rustc's native-static-libs" doc_static_libs

# 4e. The build tree, through pmq-uninstalled.pc.
uninstalled_consumer() {
    pcu="env PKG_CONFIG_PATH=$BUILD/pkgconfig pkg-config"
    [ "$($pcu --variable=libdir pmq)" = "$TARGET_DIR" ] || fail_with "pmq-uninstalled.pc not used"
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_uninstalled" $($pcu --cflags --libs pmq) &&
        run_consumer "$T/consumer_uninstalled" uninstalled LD_LIBRARY_PATH="$TARGET_DIR" &&
        loads_from "$T/consumer_uninstalled" "$TARGET_DIR" LD_LIBRARY_PATH="$TARGET_DIR"
}
check "build-tree consumer via pmq-uninstalled.pc builds and runs" uninstalled_consumer

# --- 5. uninstall -------------------------------------------------------------
check "make uninstall PREFIX=$P" mk uninstall PREFIX="$P"
check "prefix has no pmq file left" no_pmq_files_left "$P"

# --- 6. a relocated install: installed to one prefix, then moved --------------
# pmq.pc finds its prefix from ${pcfiledir} and pmqConfig.cmake from
# ${CMAKE_CURRENT_LIST_DIR}: after the tree is moved, pkg-config and CMake
# consumers still build against (and run with) the moved copy.
RO="$T/reloc-orig"
RM="$T/moved/elsewhere/pmq-$VERSION"
RL="$RM/lib"
check "make install PREFIX=$RO" mk install PREFIX="$RO"
check "installed .pc/.cmake files name no absolute path of the prefix" \
    sh -c '! grep -rn "$1" "$2" "$3"' sh "$RO" "$RO/lib/pkgconfig" "$RO/lib/cmake"
check "move the installed tree to $RM" sh -c 'mkdir -p "$(dirname "$2")" && mv "$1" "$2" && test ! -e "$1"' sh "$RO" "$RM"
RPC="env PKG_CONFIG_PATH=$RL/pkgconfig pkg-config"
reloc_pc() {
    # shellcheck disable=SC2046
    set -- $($RPC --cflags --libs pmq)
    echo "pkg-config --cflags --libs pmq: $*"
    for a in "$@"; do
        case $a in
        -I* | -L*) d=$(cd "${a#-?}" && pwd -P) || fail_with "$a: no such directory"
            case $d in "$(cd "$RM" && pwd -P)"/*) ;; *) fail_with "$a is not inside the moved tree $RM" ;; esac ;;
        esac
    done
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_reloc_pc" $($RPC --cflags --libs pmq) \
        -Wl,-rpath,"$RL" &&
        run_consumer "$T/consumer_reloc_pc" relocated-pkgconfig && loads_from "$T/consumer_reloc_pc" "$RL" &&
        # shellcheck disable=SC2046
        "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_reloc_pc_static" $($RPC --cflags pmq) \
            $($RPC --libs --static pmq | sed 's/-lpmq /-l:libpmq.a /') &&
        no_libpmq_needed "$T/consumer_reloc_pc_static" &&
        run_consumer "$T/consumer_reloc_pc_static" relocated-pkgconfig-static
}
check "pkg-config consumers (shared, static) build against the MOVED tree and run" reloc_pc
reloc_cmake() {
    cmake -S "$HERE" -B "$T/cmake-reloc" -G "$GEN" -DCMAKE_PREFIX_PATH="$RM" -DCMAKE_C_COMPILER="$CC" \
        -DPMQ_EXPECT_VERSION="$VERSION" -DCMAKE_BUILD_TYPE=Release &&
        grep -qx "pmq_DIR:PATH=$RL/cmake/pmq" "$T/cmake-reloc/CMakeCache.txt" &&
        cmake --build "$T/cmake-reloc" &&
        run_consumer "$T/cmake-reloc/consumer_cmake" relocated-cmake &&
        loads_from "$T/cmake-reloc/consumer_cmake" "$RL" &&
        no_libpmq_needed "$T/cmake-reloc/consumer_cmake_static" &&
        run_consumer "$T/cmake-reloc/consumer_cmake_static" relocated-cmake-static
}
check "CMake find_package(pmq) consumers build against the MOVED tree and run" reloc_cmake
check "make uninstall PREFIX=<moved tree>" mk uninstall PREFIX="$RM"
check "moved tree has no pmq file left" no_pmq_files_left "$RM"

# --- 7. make install-strip: what a distribution ships ----------------------------
S="$T/strip"
check "make install-strip PREFIX=$S" mk install-strip PREFIX="$S"
check "install-strip installs exactly the files install does" same_files "$S" lib include
no_debug_info() { # file...
    for f in "$@"; do
        # (.debug_gdb_scripts is rustc's loaded pretty-printer hint, not debug info)
        if readelf -S -W "$f" | grep -E '\.debug_(info|line|str|abbrev|ranges|loc)'; then
            fail_with "$f still has debug info sections"
        fi
    done
    echo "no debug info section in: $*"
}
check "stripped libpmq.so, libpmq.a, pmq and pmq-bridge have no debug info (.debug_info, _line, ...)" \
    no_debug_info "$S/lib/libpmq.so.$VERSION" "$S/lib/libpmq.a" "$S/bin/pmq" "$S/bin/pmq-bridge"
stripped_work() {
    # shellcheck disable=SC2046
    "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_strip" -I"$S/include" -L"$S/lib" -Wl,-rpath,"$S/lib" -lpmq &&
        run_consumer "$T/consumer_strip" stripped && loads_from "$T/consumer_strip" "$S/lib" &&
        "$CC" $CFLAGS_STRICT "$HERE/consumer.c" -o "$T/consumer_strip_static" -I"$S/include" "$S/lib/libpmq.a" $STATIC_LIBS &&
        run_consumer "$T/consumer_strip_static" stripped-static &&
        [ "$("$S/bin/pmq" --version)" = "pmq $VERSION" ] &&
        [ "$("$S/bin/pmq-bridge" --version)" = "pmq-bridge $VERSION" ]
}
check "consumers of the stripped libraries (shared, static) and the stripped pmq run" stripped_work
sizes() {
    size_of() { stat -c %s "$1"; }
    printf '%-16s %14s %14s\n' file built stripped
    for pair in "libpmq.so:lib/libpmq.so.$VERSION" "libpmq.a:lib/libpmq.a" "pmq:bin/pmq" "pmq-bridge:bin/pmq-bridge"; do
        b=$(size_of "$TARGET_DIR/${pair%%:*}")
        a=$(size_of "$S/${pair#*:}")
        printf '%-16s %14s %14s\n' "${pair%%:*}" "$b" "$a"
        [ "$a" -lt "$b" ] || fail_with "${pair%%:*}: stripped ($a) is not smaller than built ($b)"
    done
}
check "stripped files are smaller than the built ones" sizes
sed 's/^/   /' "$LOG"
check "make uninstall PREFIX=$S" mk uninstall PREFIX="$S"
check "stripped prefix has no pmq file left" no_pmq_files_left "$S"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
