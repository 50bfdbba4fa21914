// The header compiles as C++17 and the C API is usable from C++ as is.
#include "pmq.h"

#include <cstdio>
#include <cstring>
#include <string>

int main() {
    int failed = 0, passed = 0;
    auto check = [&](bool ok, const char *what) {
        if (ok) {
            passed++;
        } else {
            failed++;
            std::fprintf(stderr, "CHECK failed: %s (%s)\n", what, pmq_last_error());
        }
    };
    pmq_options o;
    check(pmq_options_init(&o) == PMQ_STATUS_OK, "options_init");
    o.max_messages = 2;
    o.max_message_size = 32;
    pmq_queue *q = nullptr;
    check(pmq_queue_open(nullptr, &o, &q) == PMQ_STATUS_OK, "open random");
    if (q) {
        std::string name = pmq_queue_name(q);
        check(name.rfind("/pmq-", 0) == 0, "random name prefix");
        check(pmq_queue_send(q, reinterpret_cast<const uint8_t *>("c++"), 3, 7) == PMQ_STATUS_OK, "send");
        uint8_t buf[32];
        size_t n = 0;
        uint32_t prio = 0;
        check(pmq_queue_receive(q, buf, sizeof buf, &n, &prio) == PMQ_STATUS_OK, "receive");
        check(n == 3 && std::memcmp(buf, "c++", 3) == 0 && prio == 7, "message");
        check(pmq_queue_unlink(q) == PMQ_STATUS_OK, "unlink");
        pmq_queue_free(q);
    }
    check(pmq_version_number() == PMQ_VERSION_NUMBER, "version number");
    std::printf("cxx_header: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
