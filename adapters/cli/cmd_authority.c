// cmd_authority - `passerelle authority init|enroll|revoke|list`: the
// network authority, run on its offline machine. Layer: adapters.
//
// The authority signs one certificate per node from the node's public keys
// (DIR/keys/*.public) and a revocation list that only grows. Its home A
// holds keys/authority.secret (0600), authority.pub, network, serial,
// issued/<serial>.cert and revoked (see proto/pl_cert.h).
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"
#include "proto/pl_anchor.h"
#include "proto/pl_cert.h"
#include "proto/pl_home.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"

#define S_PATH_MAX 4096
#define S_DAY      86400
#define S_DAYS_MAX 3653 // ten years: longer certificates are a mistake

// Parses the options of 'cmd' with 'table' of 'n' rows, no operands
// (cli_opts). Returns -1 to go on, else the exit code.
static int
s_parse(cli_t *cli, const char *cmd, const cli_opt_t *table, size_t n,
        const char *help, int argc, char **argv, cli_opts_t *o)
{
    int rc = cli_opts_parse(cli, cmd, table, n, NULL, help,
                            CLI_OPTS_NO_OPERANDS, argc, argv, o);
    cli_opts_free(o); // the values are in o->val
    return rc;
}

#define S_WORD(name)                                                           \
    {                                                                          \
        name, CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL                       \
    }

// Explains a failure to open the authority in 'home' and returns 1.
static int
s_authority_error(const char *cmd, const char *home, int rc)
{
    char path[S_PATH_MAX];
    if (pl_path(path, sizeof path, home, "keys/authority.secret") != PL_OK)
        return cli_error(cmd, "home path too long: %s", home);
    struct stat st;
    if (rc == PL_ENOTFOUND)
        return cli_error(cmd,
                         "no authority in %s (create one with `passerelle "
                         "authority init --home %s --network CODE`)",
                         home, home);
    if (rc == PL_EPERM && stat(path, &st) == 0 && (st.st_mode & 077))
        return cli_error(cmd,
                         "%s has unsafe permissions %04o (readable by group "
                         "or others); refusing to use it: run chmod 600 %s",
                         path, (unsigned) st.st_mode & 07777, path);
    if (rc == PL_EPERM)
        return cli_error(cmd, "%s: permission denied", path);
    if (rc == PL_EPROTO)
        return cli_error(cmd,
                         "the authority in %s is damaged (a malformed file, "
                         "or authority.pub does not match the secret key)",
                         home);
    return cli_error(cmd, "cannot open the authority in %s: %s", home,
                     pl_strerror(rc));
}

static int
s_open(const char *cmd, const char *home, pl_authority_t **auth)
{
    int rc = pl_authority_open(home, auth);
    return rc == PL_OK ? 0 : s_authority_error(cmd, home, rc);
}

// ---- authority init

static const char s_init_help[] =
    "usage: passerelle authority init --home A --network CODE [--json]\n"
    "\n"
    "Creates the authority of a network in A (mode 0700): an Ed25519 key\n"
    "pair (A/keys/authority.secret, 0600, and A/authority.pub), the network\n"
    "code, the serial counter and the issued/ folder. CODE is a slug\n"
    "([a-z0-9-], e.g. 'sn'). Refuses to overwrite an existing authority.\n"
    "Keep A on an offline machine: nothing else can admit a node.\n";

static int
s_init(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {S_WORD("network")};
    const char *cmd = "authority init";
    cli_opts_t o;
    int prc = s_parse(cli, cmd, opts, 1, s_init_help, argc, argv, &o);
    if (prc >= 0)
        return prc;
    const char *network = o.val[0].text;
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    if (!network)
        return cli_usage_error(cmd, "--network CODE is required");
    if (!pl_slug_valid(network))
        return cli_usage_error(cmd,
                               "bad network code '%s': use 1-63 of a-z, 0-9 "
                               "and '-' (e.g. 'sn')",
                               network);
    int rc = pl_authority_create(home, network);
    if (rc == PL_EEXIST)
        return cli_error(cmd,
                         "an authority exists already in %s; refusing to "
                         "overwrite it",
                         home);
    if (rc != PL_OK)
        return cli_error(cmd, "cannot create the authority in %s: %s", home,
                         pl_strerror(rc));
    char path[S_PATH_MAX], z85[PL_Z85_32];
    uint8_t pk[PL_SIGN_PK_BYTES];
    if (pl_path(path, sizeof path, home, "authority.pub") != PL_OK
        || pl_authority_pub_load(path, pk) != PL_OK
        || pl_z85_encode(z85, sizeof z85, pk, sizeof pk) != PL_OK)
        return cli_error(cmd, "cannot read back %s/authority.pub", home);
    if (cli->json)
        return cli_print_json(json_pack("{s:s, s:s, s:s}", "network", network,
                                        "home", home, "public_key", z85));
    printf("authority of network '%s' created in %s\n"
           "  public key  %s\n"
           "keep %s/keys/authority.secret offline (mode 0600)\n"
           "next: passerelle authority enroll --home %s --node DIR --name "
           "NAME --sector S --country CC\n",
           network, home, z85, home, home);
    return 0;
}

// ---- authority enroll

// A macro, so that printf checks it as a literal format.
#define S_ENROLL_HELP                                                          \
    "usage: passerelle authority enroll --home A --node DIR --name NAME\n"     \
    "           --sector S --country CC [--region R] [--display-name T]\n"     \
    "           [--organisation T] [--services a,b] [--home-broker ADDR]\n"    \
    "           [--days N] [--not-before YYYY-MM-DD] [--json]\n"               \
    "\n"                                                                       \
    "Issues a certificate for the node whose home is DIR, from its public\n"   \
    "keys in DIR/keys (if DIR has no keys yet they are made there first, "     \
    "for\n"                                                                    \
    "demos: in production run `passerelle init` on the node's machine).\n"     \
    "Writes DIR/node.cert and DIR/authority.pub and prints the serial.\n"      \
    "Enrolling a home again (e.g. after a box key rotation) issues a new\n"    \
    "certificate with a new serial.\n"                                         \
    "\n"                                                                       \
    "  --name NAME          node name, a slug; its address is NETWORK/NAME\n"  \
    "  --sector S           one of: %s\n"                                      \
    "  --country CC         ISO 3166-1 alpha-2 country code (e.g. SN)\n"       \
    "  --region R           region slug (e.g. dakar)\n"                        \
    "  --display-name T     human name (default: NAME)\n"                      \
    "  --organisation T     organisation running the node\n"                   \
    "  --services a,b       service codes offered (informative)\n"             \
    "  --home-broker ADDR   the broker's address (NETWORK/NAME, or NAME in\n"  \
    "                       this network)\n"                                   \
    "  --days N             validity in days, 1 to %d (default %d)\n"          \
    "  --not-before DATE    start of validity, YYYY-MM-DD at 00:00 UTC\n"      \
    "                       (default: now); with --days, lets tests make\n"    \
    "                       certificates that are not yet valid or expiring\n" \
    "  --json               print {\"serial\", \"address\", \"not_after\"}\n"

// The checked options of enroll.
typedef struct {
    const char *node;         // node home DIR
    const char *name;         // node name slug
    const char *sector;       // sector code
    char country[3];          // upper case
    const char *region;       // slug or NULL
    const char *display_name; // or NULL: name
    const char *organisation; // or NULL
    const char *services;     // comma-joined or NULL
    const char *home_broker;  // address, bare name or NULL
    uint64_t days;            // validity
    bool has_not_before;      // --not-before given
    uint64_t not_before;      // midnight UTC of --not-before
} s_enroll_t;

// Human text for names: no control characters, at most PL_TEXT_MAX bytes.
static bool
s_text_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PL_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

// Service codes: comma-separated, each 1..63 printable ASCII, no space.
static bool
s_services_ok(const char *s)
{
    if (strlen(s) > PL_SERVICES_MAX)
        return false;
    size_t item = 0;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == 0) {
            if (item == 0 || item > PL_NAME_MAX)
                return false;
            if (*p == 0)
                return true;
            item = 0;
            continue;
        }
        if (*p <= ' ' || *p > '~')
            return false;
        item++;
    }
}

// Checks every value before anything is touched. Returns -1 when all is
// well, else the exit code after a usage error.
static int
s_enroll_check(const char *cmd, s_enroll_t *e, const char *country,
               const char *days, const char *not_before)
{
    if (!e->node)
        return cli_usage_error(cmd, "--node DIR is required");
    if (!e->name)
        return cli_usage_error(cmd, "--name NAME is required");
    if (!e->sector)
        return cli_usage_error(cmd, "--sector S is required (one of: %s)",
                               pl_sector_list());
    if (!country)
        return cli_usage_error(cmd, "--country CC is required");
    if (!pl_slug_valid(e->name))
        return cli_usage_error(cmd,
                               "bad name '%s': use 1-63 of a-z, 0-9 and '-', "
                               "not starting or ending with '-'",
                               e->name);
    if (!pl_sector_valid(e->sector))
        return cli_usage_error(cmd, "unknown sector '%s'; valid sectors: %s",
                               e->sector, pl_sector_list());
    if (strlen(country) != 2 || !isalpha((unsigned char) country[0])
        || !isalpha((unsigned char) country[1])
        || (unsigned char) country[0] > 0x7f
        || (unsigned char) country[1] > 0x7f)
        return cli_usage_error(cmd,
                               "bad country '%s': give an ISO 3166-1 alpha-2 "
                               "code such as SN",
                               country);
    e->country[0] = (char) toupper((unsigned char) country[0]);
    e->country[1] = (char) toupper((unsigned char) country[1]);
    e->country[2] = 0;
    if (e->region && e->region[0] && !pl_slug_valid(e->region))
        return cli_usage_error(
            cmd, "bad region '%s': use a slug (a-z, 0-9, '-')", e->region);
    if (e->display_name && !s_text_ok(e->display_name))
        return cli_usage_error(cmd,
                               "bad display name: 1-%d bytes, no control "
                               "characters",
                               PL_TEXT_MAX);
    if (e->organisation && e->organisation[0] && !s_text_ok(e->organisation))
        return cli_usage_error(cmd,
                               "bad organisation: at most %d bytes, no control "
                               "characters",
                               PL_TEXT_MAX);
    if (e->services && e->services[0] && !s_services_ok(e->services))
        return cli_usage_error(cmd,
                               "bad services '%s': comma-separated codes, "
                               "without spaces",
                               e->services);
    if (e->home_broker && e->home_broker[0]
        && !(strchr(e->home_broker, '/') ? pl_address_valid(e->home_broker)
                                         : pl_slug_valid(e->home_broker)))
        return cli_usage_error(cmd,
                               "bad home broker '%s': give NETWORK/NAME or "
                               "NAME",
                               e->home_broker);
    e->days = PL_CERT_DAYS;
    if (days && !cli_parse_uint(days, 1, S_DAYS_MAX, &e->days))
        return cli_usage_error(cmd,
                               "bad --days '%s': a whole number from 1 to %d",
                               days, S_DAYS_MAX);
    if (not_before) {
        if (pl_date_parse(not_before, &e->not_before) != PL_OK)
            return cli_usage_error(cmd,
                                   "bad date '%s' for --not-before: use "
                                   "YYYY-MM-DD",
                                   not_before);
        e->has_not_before = true;
    }
    return -1;
}

// The node's public keys from DIR/keys; makes them first when DIR has none.
static int
s_node_keys(const char *cmd, const char *node, pl_pubkeys_t *pub)
{
    int rc;
    char herr[PATH_MAX + 256]; // the node's home must be safe too (pl_home)
    rc = pl_home_check(node, herr, sizeof herr);
    if (rc != PL_OK && rc != PL_ENOTFOUND)
        return cli_error(cmd, "%s", herr);
    if (!pl_keys_exist(node)) {
        pl_keys_t *keys = NULL;
        if (pl_mkdirs(node, 0700) != PL_OK)
            return cli_error(cmd, "cannot create %s: %s", node,
                             strerror(errno));
        if (pl_home_check(node, herr, sizeof herr) != PL_OK)
            return cli_error(cmd, "%s", herr);
        rc = pl_keys_generate(&keys);
        if (rc == PL_OK)
            rc = pl_keys_save(keys, node);
        pl_keys_destroy(&keys);
        if (rc == PL_EEXIST)
            return cli_error(cmd,
                             "%s/keys holds some key files but not "
                             "sign.public; fix or remove that folder",
                             node);
        if (rc != PL_OK)
            return cli_error(cmd, "cannot make keys in %s/keys: %s", node,
                             pl_strerror(rc));
        fprintf(stderr,
                "passerelle: %s: %s had no keys: made them in %s/keys\n", cmd,
                node, node);
    }
    rc = pl_keys_load_public(node, pub);
    if (rc != PL_OK)
        return cli_error(cmd, "cannot read the public keys in %s/keys: %s",
                         node, pl_strerror(rc));
    return 0;
}

// Fills the certificate fields from the checked options.
static void
s_enroll_fields(const s_enroll_t *e, const char *network,
                const pl_pubkeys_t *pub, uint64_t serial, pl_cert_t *f)
{
    memset(f, 0, sizeof *f);
    f->serial = serial;
    snprintf(f->network, sizeof f->network, "%s", network);
    snprintf(f->name, sizeof f->name, "%s", e->name);
    snprintf(f->display_name, sizeof f->display_name, "%s",
             e->display_name ? e->display_name : e->name);
    snprintf(f->organisation, sizeof f->organisation, "%s",
             e->organisation ? e->organisation : "");
    snprintf(f->sector, sizeof f->sector, "%s", e->sector);
    memcpy(f->country, e->country, sizeof f->country);
    snprintf(f->region, sizeof f->region, "%s", e->region ? e->region : "");
    snprintf(f->services, sizeof f->services, "%s",
             e->services ? e->services : "");
    if (e->home_broker && e->home_broker[0] && !strchr(e->home_broker, '/'))
        snprintf(f->home_broker, sizeof f->home_broker, "%s/%s", network,
                 e->home_broker);
    else
        snprintf(f->home_broker, sizeof f->home_broker, "%s",
                 e->home_broker ? e->home_broker : "");
    f->keys = *pub;
    f->not_before = e->has_not_before ? e->not_before : pl_now();
    f->not_after = f->not_before + e->days * S_DAY;
}

static int
s_enroll(cli_t *cli, int argc, char **argv)
{
    enum {
        E_NODE,
        E_NAME,
        E_SECTOR,
        E_COUNTRY,
        E_REGION,
        E_DISPLAY,
        E_ORG,
        E_SERVICES,
        E_BROKER,
        E_DAYS,
        E_NOT_BEFORE,
        E_COUNT
    };
    static const cli_opt_t opts[E_COUNT] = {
        [E_NODE] = S_WORD("node"),
        [E_NAME] = S_WORD("name"),
        [E_SECTOR] = S_WORD("sector"),
        [E_COUNTRY] = S_WORD("country"),
        [E_REGION] = S_WORD("region"),
        [E_DISPLAY] = S_WORD("display-name"),
        [E_ORG] = S_WORD("organisation|organization"),
        [E_SERVICES] = S_WORD("services"),
        [E_BROKER] = S_WORD("home-broker"),
        [E_DAYS] = S_WORD("days"),
        [E_NOT_BEFORE] = S_WORD("not-before"),
    };
    // the help text names the sectors and the day limits
    static char help[sizeof S_ENROLL_HELP + 512];
    snprintf(help, sizeof help, S_ENROLL_HELP, pl_sector_list(), S_DAYS_MAX,
             PL_CERT_DAYS);
    const char *cmd = "authority enroll";
    cli_opts_t o;
    int prc = s_parse(cli, cmd, opts, E_COUNT, help, argc, argv, &o);
    if (prc >= 0)
        return prc;
    s_enroll_t e = {0};
    e.node = o.val[E_NODE].text;
    e.name = o.val[E_NAME].text;
    e.sector = o.val[E_SECTOR].text;
    e.region = o.val[E_REGION].text;
    e.display_name = o.val[E_DISPLAY].text;
    e.organisation = o.val[E_ORG].text;
    e.services = o.val[E_SERVICES].text;
    e.home_broker = o.val[E_BROKER].text;
    const char *country = o.val[E_COUNTRY].text;
    const char *days = o.val[E_DAYS].text;
    const char *not_before = o.val[E_NOT_BEFORE].text;
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    int rc = s_enroll_check(cmd, &e, country, days, not_before);
    if (rc >= 0)
        return rc;

    // the authority first: a refused secret must not leave new node keys
    pl_authority_t *auth = NULL;
    if ((rc = s_open(cmd, home, &auth)) != 0)
        return rc;
    pl_pubkeys_t pub;
    pl_cert_t f;
    pl_buf_t cert = {0};
    uint64_t serial = 0;
    char path[S_PATH_MAX];
    if ((rc = s_node_keys(cmd, e.node, &pub)) != 0)
        goto done;
    if ((rc = pl_authority_next_serial(auth, &serial)) != PL_OK) {
        rc = cli_error(cmd, "cannot reserve a serial in %s: %s", home,
                       pl_strerror(rc));
        goto done;
    }
    s_enroll_fields(&e, pl_authority_network(auth), &pub, serial, &f);
    if ((rc = pl_authority_issue(auth, &f, &cert)) != PL_OK) {
        rc =
            cli_error(cmd, "cannot issue the certificate: %s", pl_strerror(rc));
        goto done;
    }
    rc = pl_path(path, sizeof path, e.node, "node.cert");
    if (rc == PL_OK)
        rc = pl_file_write(path, cert.data, cert.len, 0644, true);
    if (rc != PL_OK) {
        rc = cli_error(cmd, "cannot write %s/node.cert: %s", e.node,
                       pl_strerror(rc));
        goto done;
    }
    rc = pl_path(path, sizeof path, e.node, "authority.pub");
    if (rc == PL_OK)
        rc = pl_keyfile_write(path, pl_authority_pk(auth), PL_SIGN_PK_BYTES,
                              false, true);
    if (rc != PL_OK) {
        rc = cli_error(cmd, "cannot write %s/authority.pub: %s", e.node,
                       pl_strerror(rc));
        goto done;
    }
    if (cli->json) {
        char until[21];
        pl_time_fmt(until, f.not_after);
        rc = cli_print_json(json_pack("{s:I, s:s, s:s}", "serial",
                                      (json_int_t) serial, "address", f.address,
                                      "not_after", until));
    } else {
        printf("%" PRIu64 "\n", serial); // scripts read this one number
        rc = 0;
    }
done:
    pl_buf_free(&cert);
    pl_authority_close(&auth);
    return rc;
}

// ---- authority revoke

static const char s_revoke_help[] =
    "usage: passerelle authority revoke --home A --serial N [--json]\n"
    "\n"
    "Adds certificate N to the network's revocation list, signs the list\n"
    "with a higher number and writes A/revoked. Prints the new list number\n"
    "on stdout. Copy A/revoked to the broker's home and to the nodes' homes\n"
    "(DIR/revoked) and send them SIGHUP; nodes also take it from the broker.\n"
    "A revoked certificate is refused everywhere. Revoking a serial that is\n"
    "already revoked changes nothing.\n";

static int
s_revoke(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {S_WORD("serial")};
    const char *cmd = "authority revoke";
    cli_opts_t o;
    int prc = s_parse(cli, cmd, opts, 1, s_revoke_help, argc, argv, &o);
    if (prc >= 0)
        return prc;
    const char *serial_text = o.val[0].text;
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    uint64_t serial;
    if (!serial_text)
        return cli_usage_error(cmd, "--serial N is required");
    if (!cli_parse_uint(serial_text, 1, UINT64_MAX, &serial))
        return cli_usage_error(cmd, "bad serial '%s': a number from 1",
                               serial_text);

    pl_authority_t *auth = NULL;
    int rc = s_open(cmd, home, &auth);
    if (rc != 0)
        return rc;
    char issued[S_PATH_MAX], path[S_PATH_MAX], name[40];
    snprintf(name, sizeof name, "issued/%" PRIu64 ".cert", serial);
    pl_revlist_t list = {0};
    bool already = false;
    if (pl_path(issued, sizeof issued, home, name) != PL_OK
        || pl_path(path, sizeof path, home, "revoked") != PL_OK) {
        rc = cli_error(cmd, "home path too long: %s", home);
        goto done;
    }
    if (!pl_exists(issued)) {
        rc = cli_error(cmd,
                       "serial %" PRIu64 " was never issued by the authority "
                       "in %s (see `passerelle authority list`)",
                       serial, home);
        goto done;
    }
    if (pl_exists(path)) {
        rc = pl_revlist_load(path, pl_authority_pk(auth), &list);
        if (rc != PL_OK) {
            rc = cli_error(cmd, "cannot read %s: %s", path, pl_strerror(rc));
            goto done;
        }
        already = pl_revlist_contains(&list, serial);
        if (!already)
            pl_revlist_free(&list);
    }
    if (!already) {
        rc = pl_authority_revoke(auth, serial, NULL);
        if (rc == PL_OK)
            rc = pl_revlist_load(path, pl_authority_pk(auth), &list);
        if (rc != PL_OK) {
            rc = cli_error(cmd, "cannot revoke serial %" PRIu64 ": %s", serial,
                           pl_strerror(rc));
            goto done;
        }
    }
    if (cli->json) {
        json_t *serials = json_array();
        for (size_t i = 0; serials && i < list.count; i++)
            json_array_append_new(serials,
                                  json_integer((json_int_t) list.serials[i]));
        rc = cli_print_json(json_pack(
            "{s:I, s:I, s:b, s:o, s:s}", "number", (json_int_t) list.number,
            "serial", (json_int_t) serial, "already_revoked", already,
            "revoked", serials, "path", path));
    } else {
        printf("%" PRIu64 "\n", list.number); // scripts read this one number
        rc = 0;
    }
    if (already)
        fprintf(stderr,
                "passerelle: %s: serial %" PRIu64 " was already revoked "
                "(list %" PRIu64 "); nothing changed\n",
                cmd, serial, list.number);
    else
        fprintf(stderr,
                "serial %" PRIu64 " revoked: revocation list %" PRIu64
                " written to %s\n"
                "next: copy %s to the broker's home and to every node's home "
                "(DIR/revoked), then send them SIGHUP\n",
                serial, list.number, path, path);
done:
    pl_revlist_free(&list);
    pl_authority_close(&auth);
    return rc;
}

// ---- authority list

static const char s_list_help[] =
    "usage: passerelle authority list --home A [--json]\n"
    "\n"
    "Lists the certificates issued by the authority in A (A/issued/), with\n"
    "their status now: valid, expired, not-yet-valid or revoked, and\n"
    "whether a later certificate for the same address superseded them.\n"
    "Reads only public files: the authority's secret key is not needed.\n";

static int
s_cert_cmp(const void *a, const void *b)
{
    const pl_cert_t *x = a, *y = b;
    return x->serial < y->serial ? -1 : x->serial > y->serial;
}

// Decodes every A/issued/<serial>.cert into a malloc'd, sorted array.
static int
s_load_issued(const char *cmd, const char *home, const uint8_t *apk,
              pl_cert_t **out, size_t *count)
{
    char dir[S_PATH_MAX], path[S_PATH_MAX];
    *out = NULL;
    *count = 0;
    if (pl_path(dir, sizeof dir, home, "issued") != PL_OK)
        return cli_error(cmd, "home path too long: %s", home);
    DIR *d = opendir(dir);
    if (!d)
        return cli_error(cmd, "cannot open %s: %s", dir, strerror(errno));
    pl_cert_t *certs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        const char *dot = strrchr(ent->d_name, '.');
        if (!dot || strcmp(dot, ".cert") != 0 || dot == ent->d_name
            || strspn(ent->d_name, "0123456789")
                   != (size_t) (dot - ent->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            pl_cert_t *grown = realloc(certs, ncap * sizeof *certs);
            if (!grown) {
                rc = cli_error(cmd, "out of memory");
                break;
            }
            certs = grown;
            cap = ncap;
        }
        if (pl_path(path, sizeof path, dir, ent->d_name) != PL_OK) {
            rc = cli_error(cmd, "path too long in %s", dir);
            break;
        }
        int lrc = pl_cert_load(path, apk, &certs[n], NULL);
        if (lrc != PL_OK) {
            rc = cli_error(cmd, "cannot read %s: %s", path, pl_strerror(lrc));
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0) {
        free(certs);
        return rc;
    }
    if (n)
        qsort(certs, n, sizeof *certs, s_cert_cmp);
    *out = certs;
    *count = n;
    return 0;
}

static int
s_list(cli_t *cli, int argc, char **argv)
{
    const char *cmd = "authority list";
    cli_opts_t o;
    int prc = s_parse(cli, cmd, NULL, 0, s_list_help, argc, argv, &o);
    if (prc >= 0)
        return prc;
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    if (pl_crypto_init() != PL_OK)
        return cli_error(cmd, "cannot initialise libsodium");
    char path[S_PATH_MAX];
    uint8_t apk[PL_SIGN_PK_BYTES];
    if (pl_path(path, sizeof path, home, "authority.pub") != PL_OK)
        return cli_error(cmd, "home path too long: %s", home);
    int rc = pl_authority_pub_load(path, apk);
    if (rc != PL_OK)
        return s_authority_error(cmd, home, rc);
    pl_revlist_t revoked = {0};
    bool have_revoked = false;
    if (pl_path(path, sizeof path, home, "revoked") == PL_OK
        && pl_exists(path)) {
        rc = pl_revlist_load(path, apk, &revoked);
        if (rc != PL_OK)
            return cli_error(cmd, "cannot read %s: %s", path, pl_strerror(rc));
        have_revoked = true;
    }
    pl_cert_t *certs = NULL;
    size_t n = 0;
    rc = s_load_issued(cmd, home, apk, &certs, &n);
    if (rc != 0) {
        pl_revlist_free(&revoked);
        return rc;
    }

    uint64_t now = pl_now();
    json_t *arr = cli->json ? json_array() : NULL;
    if (!cli->json)
        printf("%-7s %-32s %-18s %-20s %s\n", "SERIAL", "ADDRESS", "SECTOR",
               "NOT_AFTER", "STATUS");
    for (size_t i = 0; i < n; i++) {
        const pl_cert_t *ct = &certs[i];
        int crc = pl_cert_check(ct, now, have_revoked ? &revoked : NULL);
        const char *status =
            crc == PL_EREVOKED ? "revoked"
            : crc != PL_OK
                ? (now < ct->not_before ? "not-yet-valid" : "expired")
                : "valid";
        bool superseded = false; // a later serial for the same address
        for (size_t j = i + 1; j < n && !superseded; j++)
            superseded = strcmp(certs[j].address, ct->address) == 0;
        char from[21], until[21];
        pl_time_fmt(from, ct->not_before);
        pl_time_fmt(until, ct->not_after);
        if (arr) {
            json_array_append_new(
                arr,
                json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b}",
                          "serial", (json_int_t) ct->serial, "address",
                          ct->address, "display_name", ct->display_name,
                          "sector", ct->sector, "country", ct->country,
                          "not_before", from, "not_after", until, "revoked",
                          crc == PL_EREVOKED, "status", status, "superseded",
                          superseded));
        } else {
            printf("%-7" PRIu64 " %-32s %-18s %-20s %s%s\n", ct->serial,
                   ct->address, ct->sector, until, status,
                   superseded ? " (superseded)" : "");
        }
    }
    free(certs);
    pl_revlist_free(&revoked);
    if (cli->json)
        return cli_print_json(arr);
    return 0;
}

// ---- authority federate (DESIGN.md §7.1)

static const char s_federate_help[] =
    "usage: passerelle authority federate --home A --network CODE\n"
    "         --authority FOREIGN_AUTHORITY.pub --broker-cert "
    "FOREIGN_BROKER.cert\n"
    "         [--endpoint tcp://HOST:PORT] [--publish "
    "agency,child-protection]\n"
    "         --expires YYYY-MM-DD [--out FILE] [--json]\n"
    "\n"
    "Signs a federation anchor with the authority in A: this network trusts\n"
    "network CODE, whose authority public key is FOREIGN_AUTHORITY.pub (its\n"
    "authority.pub) and whose broker is FOREIGN_BROKER.cert (that broker's\n"
    "node.cert, which must be signed by that key, be a broker and be named\n"
    "CODE/...). With --endpoint, our broker connects to the foreign broker's\n"
    "federation port there; without, it waits for the foreign broker. The\n"
    "sectors in --publish (default agency,child-protection) are the ones\n"
    "our broker shows the foreign network. Writes the anchor to --out\n"
    "(default A/federation/CODE.anchor) and prints its path. Copy it into\n"
    "the broker's home (B/federation/) and run `passerelle broker reload`.\n"
    "The foreign authority does the same for its side. Deleting the anchor\n"
    "and reloading ends the federation.\n";

static int
s_federate(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {S_WORD("network"),     S_WORD("authority"),
                                     S_WORD("broker-cert"), S_WORD("endpoint"),
                                     S_WORD("publish"),     S_WORD("expires"),
                                     S_WORD("out")};
    const char *cmd = "authority federate";
    cli_opts_t o;
    int prc = s_parse(cli, cmd, opts, 7, s_federate_help, argc, argv, &o);
    if (prc >= 0)
        return prc;
    const char *network = o.val[0].text, *apub = o.val[1].text;
    const char *bcert = o.val[2].text, *endpoint = o.val[3].text;
    const char *publish = o.val[4].text, *expires = o.val[5].text;
    const char *outp = o.val[6].text;
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    if (!network || !apub || !bcert || !expires)
        return cli_usage_error(cmd, "--network, --authority, --broker-cert "
                                    "and --expires are required");
    uint64_t until;
    if (pl_date_parse(expires, &until) != PL_OK)
        return cli_usage_error(cmd, "bad --expires '%s': YYYY-MM-DD", expires);
    uint8_t fpk[PL_SIGN_PK_BYTES];
    int rc = pl_authority_pub_load(apub, fpk);
    if (rc != PL_OK)
        return cli_error(cmd, "cannot read the foreign authority key %s: %s",
                         apub, pl_strerror(rc));
    pl_buf_t cert = {0};
    rc = pl_file_read(bcert, PL_CERT_MAX, &cert);
    if (rc != PL_OK)
        return cli_error(cmd, "cannot read %s: %s", bcert, pl_strerror(rc));
    pl_authority_t *auth = NULL;
    rc = s_open(cmd, home, &auth);
    if (rc != 0) {
        pl_buf_free(&cert);
        return rc;
    }
    char path[S_PATH_MAX], dir[S_PATH_MAX], name[PL_NAME_MAX + 16];
    snprintf(name, sizeof name, "federation/%s.anchor", network);
    if (!outp
        && (pl_path(path, sizeof path, home, name) != PL_OK
            || pl_path(dir, sizeof dir, home, "federation") != PL_OK)) {
        rc = cli_error(cmd, "home path too long: %s", home);
        goto done;
    }
    if (outp)
        snprintf(path, sizeof path, "%s", outp);
    pl_anchor_args_t args = {network,  fpk,     cert.data,    cert.len,
                             endpoint, publish, until + 86399};
    pl_anchor_t a;
    pl_buf_t out = {0};
    char err[256] = "";
    rc = pl_anchor_issue(auth, &args, &a, &out, err, sizeof err);
    if (rc != PL_OK) {
        rc = err[0] ? cli_usage_error(cmd, "%s", err)
                    : cli_error(cmd, "cannot sign the anchor: %s",
                                pl_strerror(rc));
        pl_buf_free(&out);
        goto done;
    }
    if (!outp && pl_mkdirs(dir, 0700) != PL_OK) {
        rc = cli_error(cmd, "cannot create %s", dir);
    } else if ((rc = pl_file_write(path, out.data, out.len, 0644, true))
               != PL_OK) {
        rc = cli_error(cmd, "cannot write %s: %s", path, pl_strerror(rc));
    } else {
        char until_s[21];
        pl_time_fmt(until_s, a.not_after);
        if (cli->json) {
            rc = cli_print_json(json_pack(
                "{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "path", path,
                "serial", (json_int_t) a.serial, "network", a.network,
                "peer_network", a.peer_network, "peer_broker",
                a.peer_broker.address, "endpoint", a.endpoint, "publish",
                a.publish, "not_after", until_s));
        } else {
            printf("%s\n", path);
            rc = 0;
        }
        fprintf(stderr,
                "anchor %" PRIu64 ": %s trusts %s (broker %s) until %s, "
                "publishes %s\n"
                "next: copy %s into the broker's home (B/federation/) and run "
                "`passerelle broker reload --home B`\n",
                a.serial, a.network, a.peer_network, a.peer_broker.address,
                until_s, a.publish, path);
    }
    pl_anchor_free(&a);
    pl_buf_free(&out);
done:
    pl_buf_free(&cert);
    pl_authority_close(&auth);
    return rc;
}

// ---- authority: dispatch to the sub-commands

static const struct subcommand {
    const char *name;    // word after `authority`
    cli_fn fn;           // argv[0] is that word
    const char *summary; // one line for `passerelle authority --help`
} s_subs[] = {
    {"init", s_init, "create a network's authority in --home A"},
    {"enroll", s_enroll, "issue a node's certificate (prints the serial)"},
    {"revoke", s_revoke, "revoke a certificate by serial (writes A/revoked)"},
    {"list", s_list, "certificates issued, with their status"},
    {"federate", s_federate, "sign a federation anchor for a foreign network"},
};

#define S_NSUBS (sizeof s_subs / sizeof s_subs[0])

static void
s_authority_usage(FILE *out)
{
    fputs("usage: passerelle authority SUBCOMMAND --home A [OPTIONS]\n"
          "\n"
          "The network authority: an Ed25519 key pair kept offline that alone\n"
          "admits nodes to the network. Run these on the authority's machine.\n"
          "\n"
          "subcommands:\n",
          out);
    for (size_t i = 0; i < S_NSUBS; i++)
        fprintf(out, "  %-8s %s\n", s_subs[i].name, s_subs[i].summary);
    fputs("\nsee 'passerelle authority SUBCOMMAND --help'\n", out);
}

int
cli_cmd_authority(cli_t *cli, int argc, char **argv)
{
    // the usage text lists the subcommand table
    char *help = cli_help_text(s_authority_usage);
    if (!help)
        return cli_error("authority", "out of memory");
    // options before the sub-command word (CLI_OPTS_STOP: stop at it)
    cli_opts_t o;
    int rc = cli_opts_parse(cli, "authority", NULL, 0, NULL, help,
                            CLI_OPTS_STOP, argc, argv, &o);
    cli_opts_free(&o);
    free(help);
    if (rc >= 0)
        return rc;
    int w = argc - o.noperands; // the sub-command word
    if (w >= argc)
        return cli_usage_error("authority",
                               "missing subcommand: init, enroll, revoke, "
                               "list or federate");
    for (size_t i = 0; i < S_NSUBS; i++) {
        if (strcmp(argv[w], s_subs[i].name) != 0)
            continue;
        return s_subs[i].fn(cli, argc - w, argv + w);
    }
    return cli_usage_error("authority", "unknown subcommand '%s'", argv[w]);
}
