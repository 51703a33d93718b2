// pl_bench - shared pieces of the benchmarks. Layer: tests.
#ifndef PL_BENCH_H
#define PL_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

// The protocol library's floor for one message and its receipt, in seconds
// per message: A seals a TestMessage of 'payload_len' bytes to B; B
// verifies, opens, digests, signs the receipt and seals it back; A
// verifies, opens and checks the receipt. Wall time, or this thread's CPU
// time when 'cpu_time' (immune to other processes' load).
double pl_bench_floor(size_t payload_len, int iters, bool cpu_time);

// CPU seconds (user + system) of a live process, from /proc/PID/stat; 0
// when it cannot be read.
double pl_bench_proc_cpu(pid_t pid);
// A "Field:" of /proc/PID/status in KiB ("VmRSS:", "RssAnon:"); -1 when
// it cannot be read.
long pl_bench_proc_kib(pid_t pid, const char *field);
// Monotonic seconds.
double pl_bench_now(void);

#endif
