#!/bin/sh
# `go get` of the Go binding at a release tag, from a local module mirror,
# as a user outside this repository would do it.
#
#   tests/pickup/go_tag.sh SRC PREFIX
#
# SRC: a git repository of pmq (its committed HEAD is released); PREFIX: a
# `make install`ed pmq (the binding links libpmq through its pmq.pc).
#
#  1. clone SRC and tag HEAD as a release of a module in a subdirectory is
#     tagged: bindings/go/pmq/vVERSION (VERSION from Cargo.toml);
#  2. `go mod download` the module at that tag straight from the clone (git
#     rewrites the module's https URL to the clone: no network), into a
#     fresh module cache whose cache/download directory is a GOPROXY layout
#     (.info, .mod, .zip per version);
#  3. a consumer module outside the repository runs
#     `go get github.com/pmq-project/pmq/bindings/go/pmq@vVERSION` with
#     GOPROXY=file://<that directory> and a fresh module cache, builds a
#     program that sends and receives through pmq, and runs it;
#  4. `go get` of a version that was never tagged fails (the mirror is what
#     answered, nothing else).
# Prints "go-tag: N passed, N failed"; exits non-zero on any failure.

set -u
SRC=${1:?usage: go_tag.sh SRC PREFIX}
PREFIX=${2:?usage: go_tag.sh SRC PREFIX}
: "${GO:=go}"
MOD=github.com/pmq-project/pmq/bindings/go/pmq
SUBDIR=bindings/go/pmq

T=$(mktemp -d "${TMPDIR:-/tmp}/pmq-go-tag.XXXXXX") || exit 2
cleanup() {
    # The module cache is read-only by design.
    chmod -R u+w "$T" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
LOG="$T/log"
passed=0
failed=0
check() {
    what=$1
    shift
    if ("$@") >"$LOG" 2>&1; then
        passed=$((passed + 1))
        echo "  ok   $what"
    else
        failed=$((failed + 1))
        echo "  FAIL $what"
        sed 's/^/       | /' "$LOG" | tail -n 30
    fi
}
fail_with() {
    echo "$*" >&2
    exit 1
}

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/Cargo.toml" | head -n1)
TAG="$SUBDIR/v$VERSION"
echo "== go-tag: $MOD@v$VERSION (tag $TAG), libpmq from $PREFIX"

# Go and git see only this test's settings: no user config, no network.
# (The build cache is shared: it only caches compiler output.)
GOCACHE=${GOCACHE:-$("$GO" env GOCACHE)}
export HOME="$T/home" GOPATH="$T/gopath" GOCACHE GOTOOLCHAIN=local
export GIT_CONFIG_GLOBAL="$T/gitconfig" GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"

release() {
    git clone -q --no-local "$SRC" "$T/repo" &&
        git -C "$T/repo" -c user.name=release -c user.email=release@localhost tag -a "$TAG" -m "pmq Go binding v$VERSION" &&
        git -C "$T/repo" tag -l "$TAG" | grep -qx "$TAG" &&
        grep -qx "module $MOD" "$T/repo/$SUBDIR/go.mod"
}
check "clone and tag HEAD $TAG (module $MOD in $SUBDIR)" release

mirror() {
    # The module's https repository is the clone (git's insteadOf).
    git config --global url."file://$T/repo".insteadOf https://github.com/pmq-project/pmq
    git config --global protocol.file.allow always
    mkdir -p "$T/dl" && cd "$T/dl" &&
        GOMODCACHE="$T/mirror" GOPROXY=direct GONOSUMDB=github.com/pmq-project GOFLAGS=-mod=mod \
            "$GO" mod download -json "$MOD@v$VERSION" >"$T/download.json" || { cat "$T/download.json"; exit 1; }
    cat "$T/download.json"
    P="$T/mirror/cache/download/$MOD/@v"
    for f in list "v$VERSION.info" "v$VERSION.mod" "v$VERSION.zip"; do
        [ -s "$P/$f" ] || fail_with "mirror has no $P/$f"
    done
    grep -q "\"Version\": \"v$VERSION\"" "$T/download.json" || fail_with "download is not v$VERSION"
    python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' \
        "$P/v$VERSION.zip" >"$T/zip.list" || fail_with "cannot read $P/v$VERSION.zip"
    for f in queue.go go.mod LICENSE-MIT LICENSE-APACHE; do
        grep -qx "$MOD@v$VERSION/$f" "$T/zip.list" || fail_with "module zip has no $f"
    done
    if grep -q "$MOD@v$VERSION/src/\|Cargo.toml" "$T/zip.list"; then fail_with "module zip holds the Rust sources"; fi
    echo "module zip: $(wc -l <"$T/zip.list") files"
    echo "mirror: $(ls "$P")"
}
check "go mod download at the tag (from the tagged clone) builds a GOPROXY mirror" mirror
# Go and git must not reach the clone any more: only the mirror.
rm -f "$GIT_CONFIG_GLOBAL"

export GOPROXY="file://$T/mirror/cache/download" GONOSUMDB=github.com/pmq-project GOFLAGS=-mod=mod
export GOMODCACHE="$T/consumer-cache"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" CGO_ENABLED=1
export CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib"

consumer() {
    mkdir -p "$T/consumer" && cd "$T/consumer" || exit 1
    cat >main.go <<'GO'
package main

import (
	"fmt"
	"os"

	"github.com/pmq-project/pmq/bindings/go/pmq"
)

func main() {
	q, err := pmq.CreateRandom(pmq.WithCapacity(2), pmq.WithMessageSize(64))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer q.Close()
	defer q.Unlink()
	if err := q.Send([]byte("hello from a tagged release"), 3); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	buf := make([]byte, q.MaxMessageSize())
	n, prio, err := q.Receive(buf)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("%d %s (libpmq %s)\n", prio, buf[:n], pmq.Version())
}
GO
    "$GO" mod init example.com/consumer &&
        "$GO" get "$MOD@v$VERSION" &&
        grep -q "$MOD v$VERSION" go.mod &&
        "$GO" build -o consumer . &&
        dir=$("$GO" list -m -f '{{.Dir}}' "$MOD") &&
        echo "module source: $dir" &&
        case $dir in "$GOMODCACHE"/*) ;; *) fail_with "module not from the fresh cache: $dir" ;; esac &&
        out=$(./consumer) && echo "$out" &&
        [ "$out" = "3 hello from a tagged release (libpmq $VERSION)" ]
}
check "consumer: go get $MOD@v$VERSION from the mirror, build, run" consumer

untagged() {
    mkdir -p "$T/consumer2" && cd "$T/consumer2" && "$GO" mod init example.com/consumer2 || exit 1
    if "$GO" get "$MOD@v$VERSION-untagged.1" 2>&1; then fail_with "go get of an untagged version succeeded"; fi
    return 0
}
check "go get of a version that was never tagged fails" untagged

echo "go-tag: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
