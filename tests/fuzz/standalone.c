/* standalone.c - replays fuzz inputs without libFuzzer (libgit2's idea):
 * every file of each directory given (or each file given) goes through
 * LLVMFuzzerTestOneInput once, so CI runs the corpora with any compiler.
 * A crash or sanitizer report fails the run; otherwise it exits 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    long size;

    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(size > 0 ? (size_t)size : 1);
    if (data == NULL || (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)) {
        fprintf(stderr, "cannot read %s\n", path);
        free(data);
        fclose(f);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, int *count)
{
    struct dirent **names = NULL;
    char path[4096];
    struct stat st;
    int n, i, failed = 0;

    n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "no corpus at %s (only the empty input runs)\n", dir);
        return 0;
    }
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            failed |= run_file(path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return failed;
}

int main(int argc, char **argv)
{
    struct stat st;
    int i, failed = 0, count = 0;

    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            failed |= run_file(argv[i]);
            count++;
        } else {
            failed |= run_dir(argv[i], &count);
        }
    }
    printf("replayed %d inputs\n", count);
    return failed;
}
