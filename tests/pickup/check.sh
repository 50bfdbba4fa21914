#!/bin/sh
# make pickup-check: pmq as a new user meets it, from a clean copy of the
# committed tree. Sub-checks, each reported on its own:
#
#   licences    LICENSE-MIT and LICENSE-APACHE at the root; every package's
#               metadata (the four Cargo.toml, bindings/python/pyproject.toml)
#               declares "MIT OR Apache-2.0"; each package directory that ships
#               on its own (ffi/, cli/, bridge/, bindings/python/, the Go module
#               bindings/go/pmq/) carries both texts, identical to the root's
#   crates      tests/pickup/crates.py: cargo package --list has no test,
#               bench, binding or CI file; metadata complete
#   install     make test-install in the copy: the relocated install builds
#               C (pkg-config) and CMake consumers, the CLI, its man page and
#               completions are installed, install-strip
#   go-tag      tests/pickup/go_tag.sh: `go get` of the Go module at a release
#               tag from a local module mirror builds and runs
#   docs-check  make docs-check    } only where the copy has these targets
#   wheel-check make wheel-check   } (added by other work); else NOT RUN
#
# The copy is `git clone` of this repository (HEAD: commit first). Cargo
# builds it into PICKUP_TARGET_DIR (default build/pickup-target), a target
# directory of its own that is kept between runs, so only the first run
# builds the dependencies. Not the checkout's target/: libpmq.so, libpmq.a
# and pmq have no hash in their names, so a copy built there would replace
# the checkout's own build, and cargo, finding those newer than the
# checkout's sources, would keep serving the copy's (found the hard way).
# Prints a summary of which sub-checks ran; exits non-zero if any failed.

set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
: "${MAKE:=make}" "${PICKUP_TARGET_DIR:=$SRC/build/pickup-target}"
case $PICKUP_TARGET_DIR in /*) ;; *) PICKUP_TARGET_DIR=$SRC/$PICKUP_TARGET_DIR ;; esac
mkdir -p "$PICKUP_TARGET_DIR" || exit 2
# A first run seeds it from the checkout's release build: the registry
# crates' artifacts do not depend on where the workspace lives, so cargo
# reuses them and rebuilds only pmq, pmq-ffi, pmq-cli and pmq-bridge for the copy
# (about 30 s instead of a cold build of every dependency).
if [ ! -d "$PICKUP_TARGET_DIR/release" ] && [ -d "$SRC/target/release/deps" ]; then
    echo "== pickup: seeding $PICKUP_TARGET_DIR from $SRC/target/release"
    cp -a "$SRC/target/release" "$PICKUP_TARGET_DIR/" || exit 2
fi
CARGO_TARGET_DIR=$PICKUP_TARGET_DIR
export CARGO_TARGET_DIR

T=$(mktemp -d "${TMPDIR:-/tmp}/pmq-pickup.XXXXXX") || exit 2
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
COPY="$T/pmq"
RESULTS="$T/results"
: >"$RESULTS"

# sub NAME command...: runs one sub-check, its output indented, and records it.
sub() {
    name=$1
    shift
    echo "== pickup: $name"
    if ("$@") 2>&1 | sed 's/^/   /'; [ "$(cat "$T/rc.$name" 2>/dev/null)" = 0 ]; then
        echo "passed $name" >>"$RESULTS"
    else
        echo "FAILED $name" >>"$RESULTS"
    fi
}
# Inside sub: remember the exit status of the command (the pipe hides it).
rc_of() { # name command...
    n=$1
    shift
    "$@"
    echo $? >"$T/rc.$n"
}

echo "== pickup: a clean copy of $(git -C "$SRC" rev-parse --short HEAD) (committed tree only) in $COPY"
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
    echo "   note: $SRC has uncommitted changes; the copy has only what is committed"
fi
git clone -q --no-local "$SRC" "$COPY" || exit 2
# Tools that look in ./target rather than at CARGO_TARGET_DIR find the
# copy's build there too.
ln -s "$PICKUP_TARGET_DIR" "$COPY/target" || exit 2

licences() {
    cd "$COPY" || exit 1
    bad=0
    say() { echo "$1"; [ "${1%% *}" = ok ] || bad=1; }
    for f in LICENSE-MIT LICENSE-APACHE; do
        if [ -f "$f" ] && [ -s "$f" ]; then say "ok   root $f present"; else say "FAIL root $f missing"; fi
    done
    grep -q "MIT License" LICENSE-MIT 2>/dev/null || say "FAIL LICENSE-MIT is not the MIT licence"
    grep -q "Apache License" LICENSE-APACHE 2>/dev/null || say "FAIL LICENSE-APACHE is not the Apache licence"
    for m in Cargo.toml ffi/Cargo.toml cli/Cargo.toml bridge/Cargo.toml bindings/python/pyproject.toml; do
        if [ ! -f "$m" ]; then say "FAIL $m: no such manifest"; continue; fi
        lic=$(sed -n 's/^license *= *"\(.*\)"/\1/p' "$m" | head -n1)
        if [ "$lic" = "MIT OR Apache-2.0" ]; then say "ok   $m: license = \"$lic\""; else say "FAIL $m: license = \"$lic\", want \"MIT OR Apache-2.0\" (the root's LICENSE-MIT, LICENSE-APACHE)"; fi
    done
    for d in ffi cli bridge bindings/python bindings/go/pmq; do
        for f in LICENSE-MIT LICENSE-APACHE; do
            if [ ! -e "$d/$f" ]; then say "FAIL $d/$f missing (the package ships without its licence)"
            elif cmp -s "$d/$f" "$f"; then say "ok   $d/$f = root $f"
            else say "FAIL $d/$f differs from the root's $f"; fi
        done
    done
    return $bad
}
sub licences rc_of licences licences

sub crates rc_of crates python3 "$COPY/tests/pickup/crates.py" "$COPY"

sub install rc_of install "$MAKE" --no-print-directory -C "$COPY" test-install

go_tag() {
    "$MAKE" --no-print-directory -C "$COPY" lib >/dev/null &&
        "$MAKE" --no-print-directory -C "$COPY" install PREFIX="$T/prefix" >"$T/go-install.log" 2>&1 ||
        { cat "$T/go-install.log"; return 1; }
    sh "$COPY/tests/pickup/go_tag.sh" "$COPY" "$T/prefix"
}
sub go-tag rc_of go-tag go_tag

# Checks other work adds: run where the copy has the target, never faked.
for target in docs-check wheel-check; do
    if "$MAKE" -C "$COPY" -n "$target" >/dev/null 2>&1; then
        # TOOLS: the checkout's tool dir, so mdbook is built once and kept.
        sub "$target" rc_of "$target" "$MAKE" --no-print-directory -C "$COPY" "$target" \
            TOOLS="$SRC/build/tools"
    else
        echo "== pickup: $target: NOT RUN (this tree has no 'make $target')"
        echo "NOT-RUN $target" >>"$RESULTS"
    fi
done

echo "== pickup summary"
sed 's/^/   /' "$RESULTS"
p=$(grep -c '^passed' "$RESULTS")
f=$(grep -c '^FAILED' "$RESULTS")
n=$(grep -c '^NOT-RUN' "$RESULTS")
echo "pickup: $p passed, $f failed, $n not run ($(grep '^NOT-RUN' "$RESULTS" | cut -d' ' -f2 | tr '\n' ' '))"
[ "$f" -eq 0 ]
