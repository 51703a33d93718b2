// pl_broker_life - the broker's lifecycle: pl_broker_new (home, keys,
// registry, spool, sockets) and pl_broker_destroy. Layer: broker.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"
#include "broker/pl_catalog.h"
#include "broker/pl_fed.h"
#include "proto/pl_crypto.h"
#include "proto/pl_home.h"

// ------------------------------------------------------------ lifecycle

pl_broker_t *
pl_broker_new(const pl_broker_config_t *config)
{
    if (pl_crypto_init() != PL_OK)
        return NULL;
    pl_broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *config;
    self->log = config->log;
    if (!self->cfg.map_bytes)
        self->cfg.map_bytes = (size_t) 1 << 30;
    if (!self->cfg.window)
        self->cfg.window = 256;
    if (!self->cfg.redeliver_ms)
        self->cfg.redeliver_ms = 30000;
    if (!self->cfg.session_ms)
        self->cfg.session_ms = PL_BROKER_SESSION_MS;
    snprintf(self->home, sizeof self->home, "%s", config->home);
    self->started = pl_now();
    pl_log_t *log = self->log;

    int rc = pl_keys_load(self->home, &self->keys);
    if (rc != PL_OK) {
        pl_log_error(log, "start_failed reason=\"keys: %s\" home=%s",
                     pl_strerror(rc), self->home);
        goto fail;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/authority.pub", self->home);
    uint8_t apk[32];
    pl_cert_t own;
    rc = pl_authority_pub_load(path, apk);
    if (rc == PL_OK) {
        snprintf(path, sizeof path, "%s/node.cert", self->home);
        rc = pl_cert_load(path, apk, &own, NULL);
    }
    if (rc != PL_OK) {
        pl_log_error(log, "start_failed reason=\"own certificate: %s\"",
                     pl_strerror(rc));
        goto fail;
    }
    if (!pl_ct_equal(own.keys.curve, self->keys->pub.curve, 32)) {
        pl_log_error(log, "start_failed reason=\"node.cert does not match "
                          "keys/curve.public\"");
        goto fail;
    }
    snprintf(self->address, sizeof self->address, "%s", own.address);
    self->own = own;
    self->reg = pl_registry_open(self->home, log);
    if (!self->reg)
        goto fail;
    snprintf(path, sizeof path, "%s/store", self->home);
    self->spool = pl_spool_open(path, self->cfg.map_bytes, log);
    if (!self->spool)
        goto fail;
    pl_spool_set_quotas(self->spool, self->cfg.sender_quota,
                        self->cfg.recipient_quota);

    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    // the ZAP handler must exist before the door binds: with
    // ZMQ_ZAP_ENFORCE_DOMAIN a missing handler then refuses everyone
    bool zap = true;
#ifdef PL_TEST_BUILD
    zap = !self->cfg.no_zap; // --test-no-zap: test builds only
#endif
    if (zap) {
        self->zap = zmq_socket(self->ctx, ZMQ_REP);
        if (!self->zap || zmq_bind(self->zap, "inproc://zeromq.zap.01") != 0) {
            pl_log_error(log, "start_failed reason=\"zap: %s\"",
                         zmq_strerror(errno));
            goto fail;
        }
    }
    self->router = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->router)
        goto fail;
    int64_t maxsize = PL_PACKET_MAX;
    rc = 0;
    rc |= pl_broker_setopt_int(self->router, ZMQ_CURVE_SERVER, 1);
    rc |= zmq_setsockopt(self->router, ZMQ_CURVE_SECRETKEY,
                         self->keys->sec->curve, 32);
    rc |= zmq_setsockopt(self->router, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN,
                         strlen(S_ZAP_DOMAIN));
    rc |= pl_broker_setopt_int(self->router, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
    rc |= pl_broker_setopt_int(self->router, ZMQ_ROUTER_MANDATORY, 1);
    rc |=
        zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    rc |= pl_broker_setopt_int(self->router, ZMQ_LINGER, 2000);
    rc |= pl_broker_setopt_int(self->router, ZMQ_HANDSHAKE_IVL, 10000);
    // No ZMTP heartbeats on the door (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL): in
    // libzmq 4.3.4 the heartbeat timer writes to a connection whose input
    // was stopped (our receive side behind) and then dropped by its peer,
    // and aborts the process ('Assertion failed: !_io_error',
    // src/stream_engine_base.cpp:331; zeromq/libzmq #4364, #4767, #3937,
    // test_flood_then_vanish). Liveness is the application's: nodes send
    // heartbeat packets and a silent session ends after --session-ms;
    // dead TCP peers are closed by the kernel's keepalive. Its first probe
    // waits as long as a silent session (a live idle node pings well
    // before: nodes/pl_link_state.h), so a live link carries no probe at
    // all: at 30 s, probes and their ACKs cost an idle node ~300 KB a day
    // (issue 20, tests/bench/bench_idle.sh).
    int ka_idle = (int) (self->cfg.session_ms / 1000);
    rc |= pl_broker_setopt_int(self->router, ZMQ_TCP_KEEPALIVE, 1);
    rc |= pl_broker_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_IDLE,
                               ka_idle > 0 ? ka_idle : 1);
    rc |= pl_broker_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_INTVL, 10);
    rc |= pl_broker_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_CNT, 3);
    rc |= pl_broker_setopt_int(self->router, ZMQ_SNDHWM, 10000);
    rc |= pl_broker_setopt_int(self->router, ZMQ_RCVHWM, 10000);
    if (rc != 0) {
        pl_log_error(log, "start_failed reason=\"socket options: %s\"",
                     zmq_strerror(errno));
        goto fail;
    }
    // the door: bound through pl_door, which keeps TCP peers from using
    // up the descriptors the control socket, LMDB and reloads need
    self->door = pl_door_open(self->ctx, self->router, config->listen,
                              pl_registry_count(self->reg), log);
    if (!self->door)
        goto fail;
    // operator control socket; the folder is the broker home (0700)
    // a ROUTER (the CLI's REQ talks to it as to a REP): replies are routed
    // by peer, so a bad peer cannot disturb another's exchange; requests
    // over S_CONTROL_MAX drop their connection before any allocation
    self->control = zmq_socket(self->ctx, ZMQ_ROUTER);
    char ep[PL_HOME_IPC_MAX + 1]; // main checked that it fits (pl_home)
    if (pl_home_control_endpoint(self->home, ep, sizeof ep) != PL_OK) {
        pl_log_error(log, "start_failed reason=\"control path too long\"");
        goto fail;
    }
    int64_t ctl_max = S_CONTROL_MAX;
    if (self->control) {
        pl_broker_setopt_int(self->control, ZMQ_LINGER, 0);
        zmq_setsockopt(self->control, ZMQ_MAXMSGSIZE, &ctl_max, sizeof ctl_max);
    }
    if (!self->control || zmq_bind(self->control, ep) != 0) {
        pl_log_error(log, "start_failed reason=\"control %s: %s\"", ep,
                     zmq_strerror(errno));
        goto fail;
    }
    // federation (issue 13): anchors, the federation port (its ZAP domain
    // is answered by the handler above), the links
    if (pl_fed_open(self) != PL_OK)
        goto fail;
    pl_log_info(log,
                "broker_started address=%s listen=%s certificates=%zu "
                "verify_outer=%d",
                self->address, config->listen, pl_registry_count(self->reg),
                self->cfg.verify_outer);
    return self;
fail:
    pl_broker_destroy(&self);
    return NULL;
}

void
pl_broker_destroy(pl_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_broker_t *self = *self_p;
    for (size_t i = 0; i < self->nreplies; i++)
        pl_buf_free(&self->replies[i].packet);
    free(self->replies);
    free(self->takes);
    free(self->marked);
    if (self->control)
        zmq_close(self->control);
    pl_fed_close(self);
    pl_door_close(&self->door);
    if (self->router)
        zmq_close(self->router);
    if (self->zap)
        zmq_close(self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pl_spool_close(&self->spool);
    pl_registry_close(&self->reg);
    pl_keys_destroy(&self->keys);
    free(self->sessions);
    free(self->stats);
    pl_index_clear(&self->session_by_rid);
    pl_index_clear(&self->session_by_address);
    pl_index_clear(&self->stats_by_address);
    pl_catalogs_destroy(&self->cats);
    pl_broker_dir_destroy(self);
    if (self->log)
        pl_log_info(self->log, "broker_stopped");
    free(self);
    *self_p = NULL;
}