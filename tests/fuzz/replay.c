// replay - feeds files to a libFuzzer target without libFuzzer, so every
// ordinary build replays the committed corpus and crashers as a ctest.
// Layer: tests (fuzz).
//
// Usage: replay DIR|FILE...   Each directory contributes its regular files
// (sorted by name, not recursive). Prints "replayed N inputs"; exits 1 when
// an argument cannot be read or nothing was replayed.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/pl_util.h"

#define REPLAY_MAX (8u << 20) // largest input file, bytes

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Runs the target on one file; false if it cannot be read.
static bool
s_replay_file(const char *path)
{
    pl_buf_t buf = {0};
    if (pl_file_read(path, REPLAY_MAX, &buf) != PL_OK) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return false;
    }
    // a private copy of exactly the file's size, so ASan sees overreads
    uint8_t *copy = malloc(buf.len ? buf.len : 1);
    if (!copy) {
        pl_buf_free(&buf);
        return false;
    }
    if (buf.len)
        memcpy(copy, buf.data, buf.len);
    LLVMFuzzerTestOneInput(copy, buf.len);
    free(copy);
    pl_buf_free(&buf);
    return true;
}

static int
s_name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

// Replays every regular file in 'dir'; adds them to *n. false on error.
static bool
s_replay_dir(const char *dir, long *n)
{
    struct dirent **names = NULL;
    int count = scandir(dir, &names, NULL, s_name_cmp);
    if (count < 0) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < count; i++) {
        char path[4096];
        struct stat st;
        if (ok && pl_path(path, sizeof path, dir, names[i]->d_name) == PL_OK
            && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (s_replay_file(path))
                (*n)++;
            else
                ok = false;
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

int
main(int argc, char **argv)
{
    long n = 0;
    bool ok = true;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s is missing\n", argv[i]);
            ok = false;
        } else if (S_ISDIR(st.st_mode)) {
            ok = s_replay_dir(argv[i], &n) && ok;
        } else if (s_replay_file(argv[i])) {
            n++;
        } else {
            ok = false;
        }
    }
    printf("replayed %ld inputs\n", n);
    return ok && n > 0 ? 0 : 1;
}
