// pl_node_catalog - this node's service catalogue to the broker, and the
// peers' from the broker's directory (issue 18). The node keeps a copy of
// its own signed catalogue in memory (loaded from the store at start,
// replaced by the service handlers through the publish service) and
// sends it whenever its session comes up, so that the broker, which keeps
// catalogues in memory only, always has the newest. Layer: nodes,
// services.
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"
#include "nodes/pl_svc.h"
#include "nodes/pl_svc_store.h"

void
pl_node_cat_send(pl_node_t *self)
{
    if (!self->cat.len)
        return;
    Passerelle__V1__Catalogue c = PASSERELLE__V1__CATALOGUE__INIT;
    c.address = self->me.address;
    c.version = self->cat_version;
    c.signed_.data = self->cat.data;
    c.signed_.len = self->cat.len;
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_CATALOGUE;
    pkt.catalogue = &c;
    pl_node_send_packet(self, &pkt);
}

void
pl_node_cat_publish(pl_node_t *self, const uint8_t *blob, size_t len,
                    uint64_t version)
{
    pl_buf_t b = {0};
    if (pl_buf_append(&b, blob, len) != PL_OK) {
        pl_buf_free(&b);
        return;
    }
    pl_buf_free(&self->cat);
    self->cat = b;
    self->cat_version = version;
    if (self->session)
        pl_node_cat_send(self);
}

void
pl_node_cat_load(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, false, &t) != PL_OK)
        return;
    json_t *s = pl_svc_get(t, PL_SVC_OWN), *doc = NULL;
    pl_store_abort(&t);
    const char *why;
    char *text = NULL;
    if (s && pl_svc_verify(s, &self->me, &doc, &why) == PL_OK
        && (text = json_dumps(s, JSON_COMPACT)))
        pl_node_cat_publish(
            self, (const uint8_t *) text, strlen(text),
            (uint64_t) json_integer_value(json_object_get(doc, "version")));
    free(text);
    json_decref(s), json_decref(doc);
}

int
pl_node_cat_take(pl_node_t *self, pl_txn_t *txn,
                 const Passerelle__V1__DirectoryResponse *r)
{
    size_t taken = 0, refused = 0;
    for (size_t i = 0; i < r->n_catalogues; i++) {
        const Passerelle__V1__Catalogue *c = r->catalogues[i];
        // our own, back from the broker; or one we hold already (no
        // signature to check again at every directory push)
        if (!strcmp(c->address, self->me.address)
            || pl_svc_held_version(txn, c->address) >= c->version)
            continue;
        json_t *s =
            json_loadb((const char *) c->signed_.data, c->signed_.len, 0, NULL);
        char addr[PL_ADDRESS_MAX + 1] = "";
        const pl_cert_t *cert = s && pl_svc_claimed(s, addr)
                                    ? pl_node_dir_find(self, addr, NULL)
                                    : NULL;
        const char *why = "not JSON";
        int rc =
            s ? pl_svc_peer_take(txn, cert, self->me.address, s, NULL, &why)
              : PL_EPROTO;
        json_decref(s);
        if (rc == PL_ENOMEM || rc == PL_EFULL)
            return rc;
        if (rc == PL_OK)
            taken++;
        else if (rc != PL_EEXIST) {
            refused++;
            pl_log_warn(self->log, "catalogue_refused from=%s reason=%s",
                        c->address, why);
        }
    }
    if (taken || refused)
        pl_log_info(self->log, "catalogues taken=%zu refused=%zu", taken,
                    refused);
    return PL_OK;
}
