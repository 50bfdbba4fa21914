#!/bin/sh
# The licence pmq is offered under, MIT OR Apache-2.0: both texts are in the
# tree, and every package's metadata says exactly that (a manifest that drifts
# fails here).
set -u
cd "$(dirname "$0")/../.." || exit 1
want="MIT OR Apache-2.0"
bad=0
for f in LICENSE-MIT LICENSE-APACHE; do
    [ -s "$f" ] || { echo "licences: $f is missing"; bad=1; }
done
grep -q '^Permission is hereby granted, free of charge' LICENSE-MIT 2>/dev/null ||
    { echo "licences: LICENSE-MIT is not the MIT licence"; bad=1; }
grep -q 'Apache License' LICENSE-APACHE 2>/dev/null && grep -q 'Version 2.0, January 2004' LICENSE-APACHE ||
    { echo "licences: LICENSE-APACHE is not the Apache License 2.0"; bad=1; }
for m in Cargo.toml ffi/Cargo.toml cli/Cargo.toml bindings/python/pyproject.toml; do
    got=$(sed -n 's/^license *= *"\(.*\)"/\1/p' "$m" | head -n1)
    if [ "$got" != "$want" ]; then
        echo "licences: $m says license = \"$got\", want \"$want\""
        bad=1
    else
        echo "licences: $m: $got"
    fi
done
[ $bad -eq 0 ] && echo "licences: LICENSE-MIT, LICENSE-APACHE and every manifest agree ($want)"
exit $bad
