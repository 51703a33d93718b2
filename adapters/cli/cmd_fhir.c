// cmd_fhir - FHIR R4 and Open Referral HSDS 3.0 at the command line
// (issue 16): `passerelle fhir import FILE`, `show R --fhir`, `directory
// --hsds` and `directory import --hsds FILE`. Layer: adapters. The
// documents are built and checked by the daemon (nodes/pl_fhir*.c,
// nodes/pl_hsds*.c); a document's personal data travels in a file or on
// standard input, never on the command line.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"

#define S_DOC_MAX (512 * 1024) // largest imported document, bytes

// Reads FILE ('-': standard input) as one JSON document, at most S_DOC_MAX
// bytes. Returns it (new reference), or NULL after an error message.
static json_t *
s_read_doc(const char *cmd, const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error(cmd, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(S_DOC_MAX + 1);
    size_t len = buf ? fread(buf, 1, S_DOC_MAX + 1, f) : 0;
    bool err = ferror(f);
    if (f != stdin)
        fclose(f);
    json_t *doc = NULL;
    json_error_t jerr;
    if (!buf)
        cli_error(cmd, "out of memory");
    else if (err)
        cli_error(cmd, "cannot read %s", path);
    else if (len > S_DOC_MAX)
        cli_error(cmd, "%s is larger than %d bytes", path, S_DOC_MAX);
    else if (!(doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)))
        cli_error(cmd, "%s is not JSON: %s (line %d)", path, jerr.text,
                  jerr.line);
    free(buf);
    return doc;
}

// Sends 'doc' (stolen) as {"doc": ...} with control command 'ctl'.
static int
s_send_doc(cli_t *cli, const char *cmd, const char *ctl, json_t *doc,
           json_t **res)
{
    json_t *args = json_pack("{s:o}", "doc", doc);
    int rc = cli_node_call(cli, cmd, ctl, args, res);
    json_decref(args);
    return rc;
}

// ---- fhir import

static const char s_fhir_help[] =
    "usage: passerelle --home DIR fhir import FILE [--json]\n"
    "\n"
    "Imports a FHIR R4 ServiceRequest and its Patient (a Bundle holding\n"
    "both, or a ServiceRequest with the Patient in \"contained\") from FILE\n"
    "('-': standard input): makes a new case (given, family, birth date,\n"
    "sex, phone, language) and a referral draft in it (service, priority,\n"
    "due date, note, purpose, the performer's address), and prints their\n"
    "ids. Nothing is sent: the draft is referred with `refer`. A document\n"
    "that fails validation is refused with the FHIR path of the fault\n"
    "(e.g. ServiceRequest.subject.reference) and nothing is stored. The\n"
    "daemon must be running. docs/fhir-hsds.md has the mapping.\n"
    "\n"
    "  --json   {case, draft, service}\n";

int
cli_cmd_fhir(cli_t *cli, int argc, char **argv)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, "fhir", NULL, 0, NULL, s_fhir_help, 0, argc,
                            argv, &o);
    bool ok = o.noperands == 2 && !strcmp(o.operands[0], "import");
    const char *file = ok ? o.operands[1] : NULL;
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (!ok)
        return cli_usage_error("fhir", "give: fhir import FILE");
    json_t *doc = s_read_doc("fhir import", file), *res = NULL;
    if (!doc)
        return 1;
    rc = s_send_doc(cli, "fhir import", "fhir.import", doc, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("case %s\ndraft %s (service %s)\n",
           json_string_value(json_object_get(res, "case")),
           json_string_value(json_object_get(res, "draft")),
           json_string_value(json_object_get(res, "service")));
    json_decref(res);
    return 0;
}

// ---- show R --fhir

int
cli_show_fhir(cli_t *cli, const char *id)
{
    json_t *args = json_pack("{s:s}", "id", id), *res = NULL;
    int rc = cli_node_call(cli, "show", "fhir.bundle", args, &res);
    json_decref(args);
    return rc >= 0 ? rc : cli_print_json(res);
}

// ---- directory --hsds, directory import --hsds FILE

static const char s_hsds_help[] =
    "usage: passerelle --home DIR directory --hsds\n"
    "       passerelle --home DIR directory import --hsds FILE\n"
    "\n"
    "--hsds prints the directory as a JSON array of Open Referral HSDS 3.0\n"
    "service objects, each with its organization and service_at_locations\n"
    "nested (uuid ids derived from the nodes' signing keys; taxonomy terms\n"
    "from the certificates' sectors and services).\n"
    "`import --hsds FILE` ('-': standard input) takes an HSDS array of\n"
    "services (or a page with \"contents\") and keeps its display fields\n"
    "(names, descriptions, addresses, opening hours, languages, emails, web\n"
    "sites) for the services whose ids the export gave; certificates stay\n"
    "the only source of keys, addresses and sectors. Prints how many\n"
    "entities matched. docs/fhir-hsds.md has the mapping.\n";

static const cli_opt_t s_hsds_opt[] = {
    {"hsds", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
};

int
cli_directory_hsds(cli_t *cli, int argc, char **argv)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, "directory", s_hsds_opt, 1, NULL, s_hsds_help,
                            0, argc, argv, &o);
    bool import = o.noperands >= 1 && !strcmp(o.operands[0], "import");
    const char *file = import && o.noperands == 2 ? o.operands[1] : NULL;
    bool extra = import ? o.noperands != 2 : o.noperands != 0;
    bool hsds = o.val[0].given;
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (extra || !hsds)
        return cli_usage_error("directory", "give: directory --hsds, or "
                                            "directory import --hsds FILE");
    json_t *res = NULL;
    if (!import) {
        rc = cli_node_call(cli, "directory", "hsds.services", NULL, &res);
        return rc >= 0 ? rc : cli_print_json(res);
    }
    json_t *doc = s_read_doc("directory import", file);
    if (!doc)
        return 1;
    rc = s_send_doc(cli, "directory import", "hsds.import", doc, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("display fields kept for %lld entities; %lld services not in "
           "this directory were ignored\n",
           (long long) json_integer_value(json_object_get(res, "matched")),
           (long long) json_integer_value(json_object_get(res, "ignored")));
    json_decref(res);
    return 0;
}
