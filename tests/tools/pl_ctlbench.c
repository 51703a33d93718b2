// pl-ctlbench - test-only tool: the rate of one control-socket call, made
// exactly as passerelle-web makes it (cli_control_session: a fresh REQ
// socket per call, the session token in the request), to set next to the
// web's own requests/s (tests/bench/bench_web.sh).
//
// usage: pl-ctlbench --home DIR --login NAME --cmd CMD [--args JSON]
//                    [-n N] [-c THREADS]
// The password of NAME is read from stdin (one line). Prints one line:
// "CMD: N calls, C threads, X calls/s, mean Y ms".
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/cli/cli_control.h"

typedef struct {
    const char *home, *cmd, *token;
    json_t *args;
    int n;
    int failed;
} s_job_t;

static void *
s_run(void *arg)
{
    s_job_t *j = arg;
    for (int i = 0; i < j->n; i++) {
        json_t *res = NULL;
        char err[256], code[32];
        int rc = cli_control_session(CLI_PEER_NODE, j->home, NULL, j->cmd,
                                     j->args, NULL, j->token, 10000, &res, err,
                                     sizeof err, code, sizeof code);
        if (rc != CLI_CONTROL_OK) {
            if (!j->failed)
                fprintf(stderr, "pl-ctlbench: %s: %s\n", j->cmd, err);
            j->failed++;
        }
        json_decref(res);
    }
    return NULL;
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    const char *home = NULL, *login = NULL, *cmd = NULL, *args_text = NULL;
    int n = 1000, c = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--home"))
            home = argv[i + 1];
        else if (!strcmp(argv[i], "--login"))
            login = argv[i + 1];
        else if (!strcmp(argv[i], "--cmd"))
            cmd = argv[i + 1];
        else if (!strcmp(argv[i], "--args"))
            args_text = argv[i + 1];
        else if (!strcmp(argv[i], "-n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-c"))
            c = atoi(argv[i + 1]);
    }
    if (!home || !login || !cmd || n < 1 || c < 1 || c > 64) {
        fprintf(stderr, "usage: pl-ctlbench --home DIR --login NAME --cmd CMD "
                        "[--args JSON] [-n N] [-c THREADS] (password on "
                        "stdin)\n");
        return 2;
    }
    char pw[256];
    if (!fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "pl-ctlbench: no password on stdin\n");
        return 2;
    }
    pw[strcspn(pw, "\n")] = 0;
    json_t *la = json_pack("{s:s, s:s}", "name", login, "password", pw);
    json_t *res = NULL;
    char err[256], code[32];
    if (cli_control_session(CLI_PEER_NODE, home, NULL, "session.login", la,
                            NULL, NULL, 10000, &res, err, sizeof err, code,
                            sizeof code)
        != CLI_CONTROL_OK) {
        fprintf(stderr, "pl-ctlbench: login: %s\n", err);
        return 1;
    }
    json_decref(la);
    char token[128];
    snprintf(token, sizeof token, "%s",
             json_string_value(json_object_get(res, "token")));
    json_decref(res);
    json_error_t jerr;
    json_t *args = args_text ? json_loads(args_text, 0, &jerr) : NULL;

    s_job_t jobs[64];
    pthread_t th[64];
    double t0 = s_now();
    for (int i = 0; i < c; i++) {
        jobs[i] = (s_job_t){home, cmd, token, args, n / c, 0};
        pthread_create(&th[i], NULL, s_run, &jobs[i]);
    }
    int failed = 0, done = 0;
    for (int i = 0; i < c; i++) {
        pthread_join(th[i], NULL);
        failed += jobs[i].failed;
        done += jobs[i].n;
    }
    double dt = s_now() - t0;
    printf("%s: %d calls, %d thread(s), %.0f calls/s, mean %.2f ms%s\n", cmd,
           done, c, done / dt, dt * 1e3 * c / done,
           failed ? " (some failed)" : "");
    json_decref(args);
    return failed ? 1 : 0;
}
