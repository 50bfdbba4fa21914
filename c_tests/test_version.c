/* The header's version macros agree with each other, with
 * the library at run time, and with Cargo.toml (PMQ_CARGO_VERSION is passed
 * in by mk/c.mk from the Cargo.toml version). The SONAME is checked by
 * c_tests/soname.sh. */
#include "util.h"

#ifndef PMQ_CARGO_VERSION
#error "build with -DPMQ_CARGO_VERSION=\"x.y.z\" (mk/c.mk passes Cargo.toml's version)"
#endif

int main(void) {
    char macro_string[64];
    snprintf(macro_string, sizeof macro_string, "%d.%d.%d", PMQ_VERSION_MAJOR, PMQ_VERSION_MINOR,
             PMQ_VERSION_PATCH);
    CHECK(strcmp(macro_string, PMQ_VERSION_STRING) == 0);
    CHECK(strcmp(PMQ_VERSION_STRING, PMQ_CARGO_VERSION) == 0);
    CHECK(PMQ_VERSION_NUMBER ==
          PMQ_VERSION_MAJOR * 10000 + PMQ_VERSION_MINOR * 100 + PMQ_VERSION_PATCH);
    CHECK(PMQ_VERSION_MINOR < 100 && PMQ_VERSION_PATCH < 100); /* the encoding holds */

    /* Run time against build time. */
    const char *v = pmq_version();
    CHECK(v != NULL);
    if (v) {
        CHECK(strcmp(v, PMQ_VERSION_STRING) == 0);
        CHECK(strcmp(v, PMQ_CARGO_VERSION) == 0);
    }
    CHECK(pmq_version() == v); /* static storage */
    CHECK(pmq_version_number() == PMQ_VERSION_NUMBER);
    unsigned maj = 0, min = 0, pat = 0;
    CHECK(sscanf(PMQ_CARGO_VERSION, "%u.%u.%u", &maj, &min, &pat) == 3);
    CHECK(pmq_version_number() == maj * 10000 + min * 100 + pat);
    CHECK(maj == PMQ_VERSION_MAJOR && min == PMQ_VERSION_MINOR && pat == PMQ_VERSION_PATCH);
    (void)test_queue_name;
    (void)test_options;
    return check_done("test_version");
}
