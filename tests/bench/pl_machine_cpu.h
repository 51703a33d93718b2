// pl_machine_cpu.h - the whole machine's CPU time from /proc/stat (every
// CPU, every process), for benchmarks that compare systems on one shared
// machine: the busy CPU time per message says what rate a CPU-bound run
// can reach, and the busy share whether the run was CPU-bound at all.
// Header-only: amqp_peer.c is compiled alone by bench_rabbitmq.sh.
#ifndef PL_MACHINE_CPU_H
#define PL_MACHINE_CPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

typedef struct {
    uint64_t busy_ns; // user, nice, system, irq, softirq, steal
    uint64_t all_ns;  // the same plus idle and iowait
} pl_machine_cpu_t;

// Reads the "cpu" line of /proc/stat; false (and zeroes) if it cannot.
static inline bool
pl_machine_cpu(pl_machine_cpu_t *out)
{
    out->busy_ns = out->all_ns = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                     &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    long tck = sysconf(_SC_CLK_TCK);
    if (got != 8 || tck <= 0)
        return false;
    uint64_t ns = 1000000000ull / (uint64_t) tck;
    uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    out->busy_ns = busy * ns;
    out->all_ns = (busy + v[3] + v[4]) * ns;
    return true;
}

// Busy CPU microseconds per message between two readings, and the busy
// share of all CPUs (0..1) in 'busy'; 0 when a reading failed.
static inline double
pl_machine_cpu_us(const pl_machine_cpu_t *a, const pl_machine_cpu_t *b,
                  long messages, double *busy)
{
    uint64_t all = b->all_ns - a->all_ns, used = b->busy_ns - a->busy_ns;
    *busy = all ? (double) used / (double) all : 0;
    return messages > 0 && all ? (double) used / 1e3 / (double) messages : 0;
}

#endif
