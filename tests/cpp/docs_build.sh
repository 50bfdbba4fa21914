#!/bin/sh
# Builds the book's C++ program (docs/src/cpp.md: its first ```cpp block) and
# CMakeLists.txt (its first ```cmake block) against a temporary install of
# pmq, once with pkg-config and once with CMake, and runs both programs.
# Usage: docs_build.sh <work dir> <install prefix>   (env: MAKE, CXX, CXXFLAGS_STRICT)
set -eu
work=$1
prefix=$2
doc=docs/src/cpp.md
rm -rf "$work" "$prefix"
mkdir -p "$work/src"

extract() {  # extract <fence language> <output file>
    awk -v lang="$1" '
        !found && ($0 == "```" lang || index($0, "```" lang ",") == 1) { inside = 1; found = 1; next }
        inside && $0 == "```" { inside = 0; next }
        inside { print }
    ' "$doc" > "$2"
    test -s "$2" || { echo "docs_build: no \`\`\`$1 block in $doc" >&2; exit 1; }
}
extract cpp "$work/src/hello.cpp"
extract cmake "$work/src/CMakeLists.txt"

check_run() {  # runs the program; it must exit 0 and print the first message
    out=$("$1") || { printf '%s\n' "$out"; echo "docs_build: $1 failed" >&2; exit 1; }
    printf '%s\n' "$out" | grep -q "^hello from C++ (priority 5)$" ||
        { printf '%s\n' "$out"; echo "docs_build: unexpected output from $1" >&2; exit 1; }
}

${MAKE:-make} -s install PREFIX="$prefix" >/dev/null

pass=0
# pkg-config, as the section shows (plus an rpath: the prefix is not in the loader's path).
PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export PKG_CONFIG_PATH
# shellcheck disable=SC2046,SC2086
${CXX:-c++} ${CXXFLAGS_STRICT:--std=c++17} "$work/src/hello.cpp" $(pkg-config --cflags --libs pmq) \
    -Wl,-rpath,"$prefix/lib" -o "$work/hello-pkgconfig"
check_run "$work/hello-pkgconfig"
pass=$((pass + 1))

# CMake, as the section shows.
cmake -S "$work/src" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="${CXX:-c++}" \
    -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror -pedantic" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
check_run "$work/cmake/hello"
pass=$((pass + 1))

rm -rf "$prefix"
echo "cpp docs: $pass passed, 0 failed"
