// test_powerloss_broker - simulated power losses of the broker while a node
// streams envelopes to it (pl_faultfs: every write since the data file's
// last sync is undone, then SIGKILL), each at a seeded moment in the stream
// chosen by the test (the trigger file). After the last loss a clean broker
// starts and the recipient drains its queue: every envelope the broker
// acknowledged (`accepted`) must be delivered, exactly once.
//
// Negative control (PL_FAULT_NOSYNC=1: fsync, fdatasync and O_DSYNC made
// no-ops): the same losses MUST lose acknowledged envelopes, or the
// simulator proves nothing. Short form 4 losses (+2 control); long form
// (PL_FAULTS_LONG=1) 20 (+5). Layer: tests (faults).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

typedef struct {
    int runs;
    long acked, lost, dups;
} s_outcome_t;

static void
s_touch(const char *path)
{
    FILE *f = fopen(path, "w");
    PL_CHECK(f != NULL);
    fclose(f);
}

// 'runs' power losses with the simulator, then a clean drain.
static s_outcome_t
s_campaign(const char *tag, int runs, bool nosync, uint64_t *rng)
{
    pl_test_net_t net;
    pl_test_net_init(&net, tag, s_specs, 2);
    char flog[700], store[700];
    snprintf(flog, sizeof flog, "%s/faultfs.log", net.root);
    snprintf(store, sizeof store, "%s/store/data.mdb", net.broker);
    pl_test_net_start_broker(&net, NULL); // creates the store, no fault
    pl_faults_stream_t s;
    pl_faults_stream_open(&s, &net, 0, 1, runs * 260 + 200, 200);
    // a first batch acknowledged before any loss
    for (int t = 0; t < 100 && s.accepted < 50; t++)
        pl_faults_stream_pump(&s, 50, 100);
    PL_CHECK(s.accepted >= 50);
    pl_test_net_stop_broker(&net, false);

    for (int r = 0; r < runs; r++) {
        char trig[700];
        snprintf(trig, sizeof trig, "%s/trigger-%d", net.root, r);
        pl_faults_env_t env;
        pl_faults_env_init(&env, true);
        pl_faults_env_add(&env, "PL_FAULT_MATCH=%s", store);
        // every other loss lands exactly on a sync: the pages of the commit
        // being made are written and not yet durable (the worst moment)
        if (pl_test_rand(rng) % 2) {
            pl_faults_env_add(&env, "PL_FAULT_CRASH=trigger");
            pl_faults_env_add(&env, "PL_FAULT_TRIGGER=%s", trig);
        } else {
            pl_faults_env_add(&env, "PL_FAULT_CRASH=sync:%d",
                              1 + (int) (pl_test_rand(rng) % 4));
            pl_faults_env_add(&env, "PL_FAULT_ARM=%s", trig);
        }
        pl_faults_env_add(&env, "PL_FAULT_LOG=%s", flog);
        if (nosync)
            pl_faults_env_add(&env, "PL_FAULT_NOSYNC=1");
        PL_CHECK(pl_faults_start_broker(&net, NULL, env.v));
        // the loss comes after a seeded number of acknowledgements of
        // this run, while the stream goes on (mid-pass or between passes)
        int target = s.accepted + 20 + (int) (pl_test_rand(rng) % 200);
        if (target > s.n - 20)
            target = s.n - 20;
        uint64_t deadline = pl_mono_ms() + 60000;
        while (s.accepted < target && pl_mono_ms() < deadline)
            pl_faults_stream_pump(&s, 40, 30 + (int) (pl_test_rand(rng) % 40));
        PL_CHECK(s.accepted >= target);
        s_touch(trig);
        // acknowledgements that still arrive before the loss count too
        deadline = pl_mono_ms() + 15000;
        while (pl_test_alive(net.broker_pid) && pl_mono_ms() < deadline)
            pl_faults_stream_pump(&s, 40, 20);
        PL_CHECK(!pl_test_alive(net.broker_pid));
        net.broker_pid = 0;
        PL_CHECK(pl_faults_count(flog, "event=power_loss") == r + 1);
    }
    // a clean broker; the recipient drains; nothing sent is resent, so
    // what the queue holds is what survived
    pl_test_net_start_broker(&net, NULL);
    int unique = 0, dups = 0, lost = 0;
    pl_faults_drain(&net, 1, &s, s.accepted, nosync ? 3000 : 10000, &unique,
                    &dups, &lost);
    fprintf(stderr,
            "powerloss_broker%s: losses=%d acknowledged=%d delivered=%d "
            "lost=%d duplicated=%d\n",
            nosync ? " (control, no sync)" : "", runs, s.accepted, unique, lost,
            dups);
    s_outcome_t o = {runs, s.accepted, lost, dups};
    pl_faults_stream_close(&s);
    pl_test_net_destroy(&net);
    return o;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    PL_CHECK(pl_crypto_init() == PL_OK);
    uint64_t rng = pl_test_seed();
    bool lng = pl_faults_long();
    s_outcome_t ctl = s_campaign("plb-ctl", lng ? 5 : 2, true, &rng);
    s_outcome_t real = s_campaign("plb", lng ? 20 : 4, false, &rng);
    pl_faults_result("broker-power-loss", real.runs, real.acked, real.lost,
                     real.dups, ctl.lost,
                     (ctl.lost <= 0) + (real.lost != 0) + (real.dups != 0));
    // the control must lose, or a loss-free run below means nothing
    PL_CHECK(ctl.lost > 0);
    PL_CHECK(real.lost == 0);
    PL_CHECK(real.dups == 0);
    printf("test_powerloss_broker: ok\n");
    return 0;
}
