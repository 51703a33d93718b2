// pl-curveprobe - test-only tool: does a CURVE port let this key in?
// Connects a DEALER to ENDPOINT with the server key of home SERVER
// (SERVER/keys/curve.public) and the client keys of home CLIENT (or a
// fresh random key pair), sends one LinkHello (network NET, peer PEER)
// and waits for any answer. Layer: tests.
//
//   pl-curveprobe --endpoint EP --server-home DIR (--client-home DIR |
//                 --random) [--network NET --peer PEER] [--timeout-ms MS]
//
// Exit status: 0 answered (admitted), 1 no answer within the timeout
// (refused at the door: the CURVE handshake never completes), 2 usage.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto/pl_keys.h"
#include "proto/pl_wire.h"
#include "tests/lib/pl_rawclient.h"

static int
s_usage(void)
{
    fputs("usage: pl-curveprobe --endpoint EP --server-home DIR "
          "(--client-home DIR | --random)\n"
          "                     [--network NET --peer PEER] [--timeout-ms "
          "MS]\n"
          "exit status: 0 answered, 1 no answer, 2 usage\n",
          stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'},
        {"server-home", required_argument, NULL, 's'},
        {"client-home", required_argument, NULL, 'c'},
        {"random", no_argument, NULL, 'r'},
        {"network", required_argument, NULL, 'n'},
        {"peer", required_argument, NULL, 'p'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ep = NULL, *server = NULL, *client = NULL;
    const char *net = "xx", *peer = "gn";
    bool random = false;
    int timeout = 3000, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            ep = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'c':
            client = optarg;
            break;
        case 'r':
            random = true;
            break;
        case 'n':
            net = optarg;
            break;
        case 'p':
            peer = optarg;
            break;
        case 't':
            timeout = atoi(optarg);
            break;
        case 'h':
            s_usage();
            return 0;
        default:
            return s_usage();
        }
    }
    if (!ep || !server || (!client && !random))
        return s_usage();
    char path[4200];
    uint8_t spk[32], cpk[32], csk[32];
    snprintf(path, sizeof path, "%s/keys/curve.public", server);
    if (pl_keyfile_read(path, spk, 32, false) != PL_OK) {
        fprintf(stderr, "pl-curveprobe: cannot read %s\n", path);
        return 2;
    }
    if (random) {
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0
            || pl_z85_decode(cpk, 32, pub) != PL_OK
            || pl_z85_decode(csk, 32, sec) != PL_OK)
            return 2;
    } else {
        pl_keys_t *k = NULL;
        if (pl_keys_load(client, &k) != PL_OK) {
            fprintf(stderr, "pl-curveprobe: cannot load the keys of %s\n",
                    client);
            return 2;
        }
        memcpy(cpk, k->pub.curve, 32);
        memcpy(csk, k->sec->curve, 32);
        pl_keys_destroy(&k);
    }
    pl_rawclient_t *rc = pl_rawclient_open_keys(ep, spk, cpk, csk);
    if (!rc)
        return 2;
    Passerelle__V1__LinkHello h = PASSERELLE__V1__LINK_HELLO__INIT;
    h.version = 1;
    h.network = (char *) net;
    h.peer_network = (char *) peer;
    h.time = 0;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_LINK_HELLO;
    p.link_hello = &h;
    pl_buf_t out = {0};
    int code = 2;
    if (pl_wire_encode(&p, &out) == PL_OK
        && pl_rawclient_send(rc, out.data, out.len) == 0) {
        pl_packet_t *got = NULL;
        int r = pl_rawclient_recv(rc, &got, timeout);
        code = r == PL_OK ? 0 : 1;
        if (got)
            printf("answer: %s\n", pl_wire_kind_name(got->kind_case));
        pl_wire_free(&got);
    }
    pl_buf_free(&out);
    pl_rawclient_close(&rc);
    return code;
}
