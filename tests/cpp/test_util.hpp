// Helpers shared by the C++ wrapper tests: unique queue names, an RAII guard
// that always unlinks, small queue options, a descriptor count, and a bounded
// wait for conditions set by other threads (a liveness bound, not a timing
// assertion: the condition normally holds within milliseconds).
#ifndef PMQ_CPP_TEST_UTIL_HPP
#define PMQ_CPP_TEST_UTIL_HPP

#include "pmq.hpp"
#include "../common/test_prefix.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace pmq_test {

/// "/<prefix>-cpp-<tag>-<pid>-<n>": unique across processes and within one (the
/// prefix: tests/common/test_prefix.h).
inline std::string unique_name(const std::string &tag) {
    static std::atomic<int> counter{0};
    return "/" + std::string(test_prefix()) + "-cpp-" + tag + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1));
}

/// Unlinks the queue's name when it goes out of scope, whatever happened.
class UnlinkGuard {
  public:
    explicit UnlinkGuard(std::string name) : name_(std::move(name)) {}
    UnlinkGuard(const UnlinkGuard &) = delete;
    UnlinkGuard &operator=(const UnlinkGuard &) = delete;
    ~UnlinkGuard() {
        try {
            pmq::unlink_if_exists(name_);
        } catch (...) {
        }
    }
    const std::string &name() const { return name_; }

  private:
    std::string name_;
};

/// Unlinks `name` in `backend` when it goes out of scope, whatever happened
/// (for the tests parametrised on the backend).
struct BackendGuard {
    std::string name;
    pmq::Backend backend;
    ~BackendGuard() {
        try {
            pmq::unlink(name, backend);
        } catch (const pmq::Error &) {
        }
    }
};

/// The test-name suffix of a backend parameter (INSTANTIATE_TEST_SUITE_P's
/// name generator): "Kernel" or "Shm".
inline std::string backend_name(const testing::TestParamInfo<pmq::Backend> &info) {
    return info.param == pmq::Backend::Shm ? "Shm" : "Kernel";
}

/// Small queues only: the kernel's per-user budget is shared by every test running.
inline pmq::Options small(std::int64_t max_messages = 4, std::int64_t max_message_size = 128) {
    return pmq::Options().max_messages(max_messages).max_message_size(max_message_size);
}

/// Number of entries in /proc/self/fd (open descriptors of this process).
inline int count_fds() {
    DIR *d = ::opendir("/proc/self/fd");
    if (d == nullptr) return -1;
    int n = 0;
    while (::readdir(d) != nullptr) n++;
    ::closedir(d);
    return n;
}

/// "fd -> target" for every open descriptor, for failure messages.
inline std::string fd_listing() {
    std::string out;
    DIR *d = ::opendir("/proc/self/fd");
    if (d == nullptr) return out;
    while (const dirent *e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char target[256] = {0};
        const std::string path = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
        out += std::string(e->d_name) + " -> " + (n > 0 ? target : "?") + "\n";
    }
    ::closedir(d);
    return out;
}

/// Polls `cond` until it holds or 10 s pass; returns whether it held.
inline bool eventually(const std::function<bool()> &cond) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace pmq_test

#endif
