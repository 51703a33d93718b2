// pl_catalog - the broker's copy of the nodes' service catalogues (issue
// 18): the newest signed catalogue of each enrolled node, in memory, put
// into every directory response. The broker checks only that a node
// publishes its own address (the CurveZMQ identity) and keeps the highest
// version; it never parses the catalogue: receivers check its signature
// against the certificate. Lost at a restart by design: every node
// publishes again when its session comes up. Layer: broker.
#ifndef PL_CATALOG_H
#define PL_CATALOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_wire.h"

typedef struct pl_catalogs pl_catalogs_t;
struct pl_broker;

// Takes the catalogue 'c' sent by 'address'. Returns true when it is new
// (a higher version): the caller pushes the directory. A catalogue for
// another address than the sender's is refused (false, logged).
bool pl_catalogs_take(struct pl_broker *self, const char *address,
                      const Passerelle__V1__Catalogue *c);

// Fills d->catalogues with those of nodes valid now, up to 'budget' bytes;
// '*arr' gets what the caller frees (free()) after encoding. Returns how
// many were left out for the budget.
size_t pl_catalogs_fill(struct pl_broker *self,
                        Passerelle__V1__DirectoryResponse *d, size_t budget,
                        void **arr);

// Frees every copy. NULL-safe.
void pl_catalogs_destroy(pl_catalogs_t **p);

#endif
