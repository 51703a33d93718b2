// pl_zap - the broker's ZAP handler (RFC 27): which CURVE keys may connect
// to the door. Layer: broker.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"
#include "broker/pl_fed.h"

// ------------------------------------------------------------ ZAP

// Answers one ZAP request: admits a CURVE key only if it belongs to a
// valid, unrevoked certificate in the registry; User-Id = its address.
void
pl_broker_zap_handle(pl_broker_t *self)
{
    zmq_msg_t frames[7];
    int n = 0, more = 1;
    while (more && n < 7) {
        zmq_msg_init(&frames[n]);
        if (zmq_msg_recv(&frames[n], self->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frames[n]);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            return;
        }
        more = zmq_msg_more(&frames[n]);
        n++;
    }
    // drain anything beyond the frames we know
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, self->zap, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    const char *status = "400", *text = "refused";
    char user[PL_ADDRESS_MAX + 1] = "";
    char fpr[17] = "-";
    uint8_t meta[64 + 8 + 64];
    size_t meta_len = 0;
    if (n == 7 && zmq_msg_size(&frames[5]) == 5
        && memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) == 0
        && zmq_msg_size(&frames[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&frames[6]);
        pl_key_fingerprint(key, fpr);
        // the federation port has its own domain: only anchored brokers
        bool fed = pl_fed_is_zap_domain(zmq_msg_data(&frames[2]),
                                        zmq_msg_size(&frames[2]));
        const pl_reg_entry_t *e =
            fed ? NULL : pl_registry_by_curve(self->reg, key);
        if (fed) {
            if (pl_fed_zap(self, key, user, sizeof user, &text)) {
                status = "200";
                text = "OK";
            }
        } else if (!e) {
            text = "unknown key";
        } else {
            int rc = pl_registry_check(self->reg, e, pl_now());
            if (rc == PL_EREVOKED)
                text = "revoked";
            else if (rc == PL_EEXPIRED)
                text = "expired or not yet valid";
            else if (rc == PL_OK) {
                status = "200";
                text = "OK";
                snprintf(user, sizeof user, "%s", e->cert.address);
                // metadata: the admitted curve key, so every packet can be
                // checked against the registry as it is now
                char hex[65];
                pl_hex(hex, key, 32);
                meta[0] = 7;
                memcpy(meta + 1, "X-Curve", 7);
                uint32_t vl = 64;
                meta[8] = (uint8_t) (vl >> 24);
                meta[9] = (uint8_t) (vl >> 16);
                meta[10] = (uint8_t) (vl >> 8);
                meta[11] = (uint8_t) vl;
                memcpy(meta + 12, hex, 64);
                meta_len = 76;
            }
        }
    } else {
        text = "unsupported mechanism";
    }
    bool fed_door = n >= 3
                    && pl_fed_is_zap_domain(zmq_msg_data(&frames[2]),
                                            zmq_msg_size(&frames[2]));
    if (status[0] == '2')
        pl_log_info(self->log, "%s_admitted address=%s key=%s",
                    fed_door ? "federation_door" : "door", user, fpr);
    else
        pl_log_warn(self->log, "%s_refused key=%s reason=\"%s\"",
                    fed_door ? "federation_door" : "door", fpr, text);
    // reply: version, request id, status code, status text, user id, meta
    zmq_send(self->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(self->zap, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]),
                 ZMQ_SNDMORE);
    else
        zmq_send(self->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(self->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(self->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(self->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(self->zap, meta, meta_len, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}