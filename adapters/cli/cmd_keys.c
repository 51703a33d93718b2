// cmd_keys - `passerelle init` (make a node's keys) and `passerelle whoami`
// (what the certificate says about this node). Layer: adapters.
//
// Both only touch files: whoami reads public files (node.cert,
// authority.pub, revoked, keys/*.public) and never opens the LMDB store or
// talks to the daemon, so it works whether or not the daemon runs.
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"
#include "proto/pl_cert.h"
#include "proto/pl_home.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"

#define S_PATH_MAX 4096
#define S_DAY      86400

// Parses [--home DIR] [--json] [--help] for 'cmd' (cli_opts: no options of
// its own, no operands). Returns -1 to go on, else the exit code (0 after
// --help, 2 after a usage error).
static int
s_parse_home_json(cli_t *cli, const char *cmd, const char *help, int argc,
                  char **argv)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, cmd, NULL, 0, NULL, help, CLI_OPTS_NO_OPERANDS,
                            argc, argv, &o);
    cli_opts_free(&o);
    return rc;
}

// Z85 text of a 32-byte public key.
static void
s_z85(char out[PL_Z85_32], const uint8_t key[32])
{
    if (pl_z85_encode(out, PL_Z85_32, key, 32) != PL_OK)
        snprintf(out, PL_Z85_32, "?"); // cannot happen for 32 bytes
}

// {sign, box, box_key_id, curve} of a set of public keys.
static json_t *
s_keys_json(const pl_pubkeys_t *pub)
{
    char sign[PL_Z85_32], box[PL_Z85_32], curve[PL_Z85_32];
    char kid[2 * PL_KEY_ID_BYTES + 1];
    uint8_t id[PL_KEY_ID_BYTES];
    s_z85(sign, pub->sign);
    s_z85(box, pub->box);
    s_z85(curve, pub->curve);
    pl_key_id(pub->box, id);
    pl_hex(kid, id, sizeof id);
    return json_pack("{s:s, s:s, s:s, s:s}", "sign", sign, "box", box,
                     "box_key_id", kid, "curve", curve);
}

// ---- init

static const char s_init_help[] =
    "usage: passerelle init --home DIR [--json]\n"
    "\n"
    "Makes this node's three key pairs in DIR/keys (DIR is created mode\n"
    "0700): sign (Ed25519), box (X25519, end-to-end) and curve (CurveZMQ).\n"
    "Secret files are mode 0600 and never leave this machine. Refuses to\n"
    "overwrite existing keys. Prints the public keys' fingerprints.\n"
    "\n"
    "next: give DIR/keys/*.public to the network authority, which runs\n"
    "  passerelle authority enroll --home A --node DIR --name NAME \\\n"
    "      --sector S --country CC\n"
    "and returns DIR/node.cert and DIR/authority.pub.\n";

int
cli_cmd_init(cli_t *cli, int argc, char **argv)
{
    int rc = s_parse_home_json(cli, "init", s_init_help, argc, argv);
    if (rc >= 0)
        return rc;
    int home_rc;
    const char *home = cli_need_home(cli, "init", &home_rc);
    if (!home)
        return home_rc;
    if (pl_keys_exist(home))
        return cli_error("init",
                         "keys exist already in %s/keys; refusing to "
                         "overwrite them",
                         home);
    bool made = !pl_exists(home);
    if (pl_mkdirs(home, 0700) != PL_OK)
        return cli_error("init", "cannot create %s: %m", home);
    // the daemon binds ipc://DIR/control: a home whose path is too long for
    // it could never run, so say so now (and leave nothing behind)
    char real[PATH_MAX];
    int iplen = 0;
    if (!realpath(home, real))
        return cli_error("init", "cannot resolve %s: %m", home);
    if (!pl_home_ipc_fits(real, &iplen)) {
        if (made)
            rmdir(home);
        return cli_error("init",
                         "the home folder path %s is too long: its control "
                         "socket ipc://.../control would take %d bytes, the "
                         "limit is %d; use a shorter path",
                         home, iplen, PL_HOME_IPC_MAX);
    }
    char herr[PATH_MAX + 256]; // the folders above a new home count too
    if (pl_home_check(home, herr, sizeof herr) != PL_OK) {
        if (made)
            rmdir(home);
        return cli_error("init", "%s", herr);
    }
    pl_keys_t *keys = NULL;
    rc = pl_keys_generate(&keys);
    if (rc != PL_OK)
        return cli_error("init", "cannot generate keys: %s", pl_strerror(rc));
    rc = pl_keys_save(keys, home);
    pl_pubkeys_t pub = keys->pub; // public halves only past this point
    pl_keys_destroy(&keys);
    if (rc == PL_EEXIST)
        return cli_error("init",
                         "a key file exists already in %s/keys; refusing to "
                         "overwrite it",
                         home);
    if (rc != PL_OK)
        return cli_error("init", "cannot write keys in %s/keys: %s", home,
                         pl_strerror(rc));

    char fp_sign[17], fp_box[17], fp_curve[17];
    char kid[2 * PL_KEY_ID_BYTES + 1];
    uint8_t id[PL_KEY_ID_BYTES];
    pl_key_fingerprint(pub.sign, fp_sign);
    pl_key_fingerprint(pub.box, fp_box);
    pl_key_fingerprint(pub.curve, fp_curve);
    pl_key_id(pub.box, id);
    pl_hex(kid, id, sizeof id);
    if (cli->json) {
        json_t *doc =
            json_pack("{s:s, s:o, s:{s:s, s:s, s:s}}", "home", home, "keys",
                      s_keys_json(&pub), "fingerprints", "sign", fp_sign, "box",
                      fp_box, "curve", fp_curve);
        return cli_print_json(doc);
    }
    printf("keys made in %s/keys (secret files mode 0600)\n"
           "  sign   %s\n"
           "  box    %s  (key id %s)\n"
           "  curve  %s\n"
           "next: give %s/keys/*.public to the network authority, which "
           "runs\n"
           "  passerelle authority enroll --home A --node %s --name NAME "
           "--sector S --country CC\n",
           home, fp_sign, fp_box, kid, fp_curve, home, home);
    return 0;
}

// ---- whoami

static const char s_whoami_help[] =
    "usage: passerelle --home DIR whoami [--json]\n"
    "\n"
    "Shows what this node's certificate says: address, names, sector and\n"
    "dimension, country, region, services, home broker, serial, validity,\n"
    "status and public keys, and checks that the keys in DIR/keys are the\n"
    "certified ones. Reads only public files (DIR/node.cert,\n"
    "DIR/authority.pub, DIR/revoked, DIR/keys/*.public): it works whether\n"
    "or not the node daemon runs.\n"
    "\n"
    "status: valid | expiring-soon (under 30 days left) | expired |\n"
    "        not-yet-valid | revoked\n"
    "--json prints one object: address, name, network, display_name,\n"
    "organisation, sector, dimension, country, region, services, serial,\n"
    "not_before, not_after, days_left, status, warning, keys {sign, box,\n"
    "box_key_id, curve}, keys_match, home_broker, errors.\n"
    "\n"
    "exit status: 0 when the certificate could be read and checked (look at\n"
    "status and keys_match), 1 when it could not (missing, malformed, or\n"
    "not signed by the network's authority), 2 on a usage error.\n";

// Everything whoami found out, for the text and the JSON printers.
typedef struct {
    pl_cert_t cert;     // decoded, signature checked
    uint64_t now;       // pl_now() at the check
    int64_t days_left;  // whole days to not_after (negative: past)
    const char *status; // valid, expiring-soon, expired, ...
    char warning[160];  // empty when none
    bool keys_match;    // DIR/keys/*.public equal the certified keys
    json_t *errors;     // array of strings: problems with the home
} s_whoami_t;

static void s_add_error(s_whoami_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Appends one problem line to w->errors.
static void
s_add_error(s_whoami_t *w, const char *fmt, ...)
{
    char line[S_PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    json_array_append_new(w->errors, json_string(line));
}

// Compares the home's public key files with the certificate and looks at
// the secret files' modes (stat only: whoami never reads a secret).
static void
s_check_keys(s_whoami_t *w, const char *home)
{
    pl_pubkeys_t pub;
    int rc = pl_keys_load_public(home, &pub);
    if (rc == PL_ENOTFOUND) {
        s_add_error(w, "no keys in %s/keys", home);
        return;
    }
    if (rc != PL_OK) {
        s_add_error(w, "cannot read the public keys in %s/keys: %s", home,
                    pl_strerror(rc));
        return;
    }
    static const char *const names[3] = {"sign", "box", "curve"};
    const uint8_t *mine[3] = {pub.sign, pub.box, pub.curve};
    const uint8_t *cert[3] = {w->cert.keys.sign, w->cert.keys.box,
                              w->cert.keys.curve};
    w->keys_match = true;
    for (size_t i = 0; i < 3; i++) {
        if (memcmp(mine[i], cert[i], 32) == 0)
            continue;
        w->keys_match = false;
        s_add_error(w,
                    "the %s key in %s/keys does not match the certificate "
                    "(after a key change, ask the authority to enroll this "
                    "home again)",
                    names[i], home);
    }
    for (size_t i = 0; i < 3; i++) {
        char path[S_PATH_MAX], file[32];
        struct stat st;
        snprintf(file, sizeof file, "keys/%s.secret", names[i]);
        if (pl_path(path, sizeof path, home, file) != PL_OK
            || stat(path, &st) != 0) {
            s_add_error(w, "%s/%s is missing", home, file);
            continue;
        }
        if (st.st_mode & 077) {
            char mode[8];
            snprintf(mode, sizeof mode, "%04o", (unsigned) st.st_mode & 07777);
            s_add_error(w,
                        "%s has unsafe permissions %s (readable by group or "
                        "others): run chmod 600 on it",
                        path, mode);
        }
    }
}

// Status at 'now': revoked first, then the validity window.
static void
s_status(s_whoami_t *w, const pl_revlist_t *revoked)
{
    const pl_cert_t *c = &w->cert;
    int64_t left = (int64_t) c->not_after - (int64_t) w->now;
    // floor division: one second past expiry is day -1, not day 0
    w->days_left = left >= 0 ? left / S_DAY : -((-left + S_DAY - 1) / S_DAY);
    w->warning[0] = 0;
    // the same check as the broker's and the nodes' (a list of another
    // network says nothing about this certificate)
    int rc = pl_cert_check(c, w->now, revoked);
    if (rc == PL_EREVOKED)
        w->status = "revoked";
    else if (rc != PL_OK)
        w->status = w->now < c->not_before ? "not-yet-valid" : "expired";
    else if (left < (int64_t) PL_CERT_WARN_DAYS * S_DAY) {
        char until[21];
        pl_time_fmt(until, c->not_after);
        w->status = "expiring-soon";
        snprintf(w->warning, sizeof w->warning,
                 "certificate expires in %" PRId64 " days (%s): ask the "
                 "authority to enroll this home again",
                 w->days_left, until);
    } else
        w->status = "valid";
}

// A text field as JSON: null when empty (optional fields).
static json_t *
s_opt(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static json_t *
s_services_json(const char *services)
{
    json_t *arr = json_array();
    char buf[PL_SERVICES_MAX + 1];
    snprintf(buf, sizeof buf, "%s", services);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && arr;
         t = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(t));
    return arr;
}

static int
s_whoami_json(const s_whoami_t *w)
{
    const pl_cert_t *c = &w->cert;
    char from[21], until[21];
    pl_time_fmt(from, c->not_before);
    pl_time_fmt(until, c->not_after);
    json_t *doc = json_object();
    if (!doc)
        return cli_print_json(NULL);
    json_object_set_new(doc, "address", json_string(c->address));
    json_object_set_new(doc, "name", json_string(c->name));
    json_object_set_new(doc, "network", json_string(c->network));
    json_object_set_new(doc, "display_name", json_string(c->display_name));
    json_object_set_new(doc, "organisation", s_opt(c->organisation));
    json_object_set_new(doc, "sector", json_string(c->sector));
    json_object_set_new(doc, "dimension",
                        s_opt(pl_sector_dimension(c->sector)
                                  ? pl_sector_dimension(c->sector)
                                  : ""));
    json_object_set_new(doc, "country", json_string(c->country));
    json_object_set_new(doc, "region", s_opt(c->region));
    json_object_set_new(doc, "services", s_services_json(c->services));
    json_object_set_new(doc, "serial", json_integer((json_int_t) c->serial));
    json_object_set_new(doc, "not_before", json_string(from));
    json_object_set_new(doc, "not_after", json_string(until));
    json_object_set_new(doc, "days_left",
                        json_integer((json_int_t) w->days_left));
    json_object_set_new(doc, "status", json_string(w->status));
    json_object_set_new(doc, "warning", s_opt(w->warning));
    json_object_set_new(doc, "keys", s_keys_json(&c->keys));
    json_object_set_new(doc, "keys_match", json_boolean(w->keys_match));
    json_object_set_new(doc, "home_broker", s_opt(c->home_broker));
    json_object_set(doc, "errors", w->errors);
    return cli_print_json(doc);
}

static int
s_whoami_text(const s_whoami_t *w, const char *home)
{
    const pl_cert_t *c = &w->cert;
    char from[21], until[21];
    char sign[PL_Z85_32], box[PL_Z85_32], curve[PL_Z85_32];
    char kid[2 * PL_KEY_ID_BYTES + 1];
    pl_time_fmt(from, c->not_before);
    pl_time_fmt(until, c->not_after);
    s_z85(sign, c->keys.sign);
    s_z85(box, c->keys.box);
    s_z85(curve, c->keys.curve);
    pl_hex(kid, c->box_key_id, sizeof c->box_key_id);
    const char *dim = pl_sector_dimension(c->sector);
    printf("address       %s\n", c->address);
    printf("display name  %s\n", c->display_name);
    printf("organisation  %s\n", c->organisation[0] ? c->organisation : "-");
    printf("sector        %s (dimension: %s)\n", c->sector, dim ? dim : "-");
    printf("country       %s\n", c->country);
    printf("region        %s\n", c->region[0] ? c->region : "-");
    printf("services      %s\n", c->services[0] ? c->services : "-");
    printf("home broker   %s\n", c->home_broker[0] ? c->home_broker : "-");
    printf("serial        %" PRIu64 "\n", c->serial);
    printf("valid from    %s\n", from);
    printf("valid until   %s (%" PRId64 " days left)\n", until, w->days_left);
    printf("status        %s\n", w->status);
    printf("sign key      %s\n", sign);
    printf("box key       %s (key id %s)\n", box, kid);
    printf("curve key     %s\n", curve);
    printf("keys          %s\n",
           w->keys_match ? "match the certificate" : "DO NOT MATCH");
    if (w->warning[0])
        printf("WARNING: %s\n", w->warning);
    if (strcmp(w->status, "revoked") == 0)
        printf("ERROR: certificate %" PRIu64 " is revoked (%s/revoked)\n",
               c->serial, home);
    else if (strcmp(w->status, "expired") == 0)
        printf("ERROR: certificate expired on %s\n", until);
    else if (strcmp(w->status, "not-yet-valid") == 0)
        printf("ERROR: certificate is not valid before %s\n", from);
    for (size_t i = 0; i < json_array_size(w->errors); i++)
        printf("ERROR: %s\n", json_string_value(json_array_get(w->errors, i)));
    return 0;
}

int
cli_cmd_whoami(cli_t *cli, int argc, char **argv)
{
    int rc = s_parse_home_json(cli, "whoami", s_whoami_help, argc, argv);
    if (rc >= 0)
        return rc;
    int home_rc;
    const char *home = cli_need_home(cli, "whoami", &home_rc);
    if (!home)
        return home_rc;
    if (pl_crypto_init() != PL_OK)
        return cli_error("whoami", "cannot initialise libsodium");
    char cert_path[S_PATH_MAX], pub_path[S_PATH_MAX], rev_path[S_PATH_MAX];
    if (pl_path(cert_path, sizeof cert_path, home, "node.cert") != PL_OK
        || pl_path(pub_path, sizeof pub_path, home, "authority.pub") != PL_OK
        || pl_path(rev_path, sizeof rev_path, home, "revoked") != PL_OK)
        return cli_error("whoami", "home path too long: %s", home);
    if (!pl_exists(home))
        return cli_error("whoami",
                         "%s does not exist (make this node's keys with "
                         "`passerelle init --home %s`)",
                         home, home);
    if (!pl_exists(cert_path))
        return cli_error("whoami",
                         "not enrolled: %s missing (ask the authority to run "
                         "`passerelle authority enroll`)",
                         cert_path);

    uint8_t apk[PL_SIGN_PK_BYTES];
    rc = pl_authority_pub_load(pub_path, apk);
    if (rc == PL_ENOTFOUND)
        return cli_error("whoami",
                         "%s missing: the authority writes it with node.cert "
                         "(`passerelle authority enroll`)",
                         pub_path);
    if (rc != PL_OK)
        return cli_error("whoami", "cannot read %s: %s", pub_path,
                         pl_strerror(rc));

    s_whoami_t w = {.now = pl_now()};
    rc = pl_cert_load(cert_path, apk, &w.cert, NULL);
    if (rc == PL_EAUTH)
        return cli_error("whoami",
                         "%s: bad signature: not signed by the network "
                         "authority in %s (a certificate from another "
                         "authority or network?)",
                         cert_path, pub_path);
    if (rc != PL_OK)
        return cli_error("whoami", "cannot read %s: %s", cert_path,
                         pl_strerror(rc));

    pl_revlist_t revoked = {0};
    bool have_revoked = pl_exists(rev_path);
    if (have_revoked) {
        rc = pl_revlist_load(rev_path, apk, &revoked);
        if (rc == PL_EAUTH)
            return cli_error("whoami",
                             "%s: bad signature: not signed by the network "
                             "authority in %s",
                             rev_path, pub_path);
        if (rc != PL_OK)
            return cli_error("whoami", "cannot read %s: %s", rev_path,
                             pl_strerror(rc));
    }
    s_status(&w, have_revoked ? &revoked : NULL);
    pl_revlist_free(&revoked);

    w.errors = json_array();
    if (!w.errors)
        return cli_error("whoami", "out of memory");
    s_check_keys(&w, home);
    rc = cli->json ? s_whoami_json(&w) : s_whoami_text(&w, home);
    json_decref(w.errors);
    return rc;
}
