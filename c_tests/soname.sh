#!/bin/sh
# Checks the shared library's SONAME and that programs linked against it
# record that SONAME (not the unversioned libpmq.so) as what they need.
# Usage: soname.sh LIBPMQ_SO EXPECTED_SONAME CARGO_VERSION LINKED_PROGRAM...
lib=$1
want=$2
version=$3
shift 3
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "soname: $*" >&2; }

major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ "$major" = 0 ]; then expect="libpmq.so.0.$minor"; else expect="libpmq.so.$major"; fi
[ "$want" = "$expect" ] && ok || bad "expected SONAME $want, but version $version implies $expect"

got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$got" = "$want" ] && ok || bad "$lib has SONAME '$got', expected '$want'"

for prog in "$@"; do
    needed=$(readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(libpmq[^]]*\)\]/\1/p')
    [ "$needed" = "$want" ] && ok || bad "$prog needs '$needed', expected '$want'"
done
# The SONAME link the build tree provides resolves to the library.
dir=$(dirname "$lib")
[ -e "$dir/$want" ] && ok || bad "$dir/$want does not exist"

echo "soname: $pass passed, $fail failed"
[ "$fail" = 0 ]
