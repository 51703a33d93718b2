// web_api_doc - the OpenAPI 3 document of /api/v1/openapi.json, assembled
// at start from the fragments of the assets' openapi/ folder (issue 16):
// base.json holds "openapi", "info", "servers", "security" and
// "components.securitySchemes"; every other *.json file is one room's
// fragment {"paths": {...}, "components": {"schemas": {...}}}. A fragment
// with another top-level key, or a path+method or schema that an earlier
// file defined, stops the start with a clear line: two rooms never
// silently overwrite each other. Layer: adapters.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

static char *s_doc; // the assembled text, kept for the process's life

static json_t *
s_load(const char *dir, const char *file, char *err, size_t err_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        snprintf(err, err_size, "%s: %s (line %d)", path,
                 doc ? "not a JSON object" : jerr.text, jerr.line);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

// Merges the members of object 'from' into 'into'; a member present in
// both is an error (named with 'what' and 'file').
static int
s_merge_new(json_t *into, json_t *from, const char *what, const char *file,
            char *err, size_t err_size)
{
    const char *k;
    json_t *v;
    json_object_foreach(from, k, v)
    {
        if (json_object_get(into, k)) {
            snprintf(err, err_size, "%s: %s '%s' is defined twice", file, what,
                     k);
            return -1;
        }
        json_object_set(into, k, v);
    }
    return 0;
}

// Adds fragment 'frag' (of 'file') to 'doc'.
static int
s_add(json_t *doc, json_t *frag, const char *file, char *err, size_t err_size)
{
    const char *k;
    json_t *v;
    json_object_foreach(frag, k, v) if (strcmp(k, "paths") != 0
                                        && strcmp(k, "components") != 0)
    {
        snprintf(err, err_size,
                 "%s: a fragment holds paths and components "
                 "only, not '%s'",
                 file, k);
        return -1;
    }
    json_t *paths = json_object_get(doc, "paths");
    json_object_foreach(json_object_get(frag, "paths"), k, v)
    {
        json_t *have = json_object_get(paths, k);
        if (!have) {
            json_object_set(paths, k, v);
        } else if (s_merge_new(have, v, "the operation of", file, err, err_size)
                   != 0) {
            return -1;
        }
    }
    json_t *schemas =
        json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *fs =
        json_object_get(json_object_get(frag, "components"), "schemas");
    return fs ? s_merge_new(schemas, fs, "the schema", file, err, err_size) : 0;
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

// The fragment file names of 'dir' (sorted, base.json left out) into
// 'names'; their count, or -1.
static int
s_names(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t len = strlen(e->d_name);
        if (len > 5 && !strcmp(e->d_name + len - 5, ".json")
            && strcmp(e->d_name, "base.json") != 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t) n, sizeof *names, s_cmp);
    return n;
}

int
web_api_doc_load(const char *dir, char *err, size_t err_size)
{
    json_t *doc = s_load(dir, "base.json", err, err_size);
    if (!doc)
        return -1;
    if (!json_object_get(doc, "paths"))
        json_object_set_new(doc, "paths", json_object());
    json_t *comp = json_object_get(doc, "components");
    if (!json_is_object(comp))
        json_object_set_new(doc, "components", comp = json_object());
    if (!json_object_get(comp, "schemas"))
        json_object_set_new(comp, "schemas", json_object());
    char *names[64];
    int n = s_names(dir, names, 64), rc = n < 0 ? -1 : 0;
    if (n < 0)
        snprintf(err, err_size, "cannot read the folder %s", dir);
    for (int i = 0; i < n; i++) {
        json_t *frag = rc ? NULL : s_load(dir, names[i], err, err_size);
        if (!rc && (!frag || s_add(doc, frag, names[i], err, err_size) != 0))
            rc = -1;
        json_decref(frag);
        free(names[i]);
    }
    if (rc == 0) {
        free(s_doc);
        s_doc = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
        rc = s_doc ? 0 : -1;
    }
    json_decref(doc);
    return rc;
}

const char *
web_api_doc_text(void)
{
    return s_doc;
}
