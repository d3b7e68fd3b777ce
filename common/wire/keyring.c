/* keyring: see keyring.h. */
#include "keyring.h"

#include "strcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEYRING_FILE_MAX (1024 * 1024)

static const struct {
    const char *name;
    role_t role;
} role_names[] = {
    {.name = "reader", .role = ROLE_READER},
    {.name = "writer", .role = ROLE_WRITER},
    {.name = "operator", .role = ROLE_OPERATOR},
    {.name = "daemon", .role = ROLE_DAEMON},
};
#define N_ROLES (sizeof role_names / sizeof role_names[0])

role_t
role_lookup(const char *name)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (strcmp(role_names[i].name, name) == 0)
            return role_names[i].role;
    return ROLE_NONE;
}

const char *
role_name(role_t role)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    return "none";
}

bool
key_z85_valid(const char *s)
{
    uint8_t bin[32];
    return s && strlen(s) == KEY_Z85_LEN && zmq_z85_decode(bin, s) != NULL;
}

void
key_fingerprint(const char *z85, char *out, size_t cap)
{
    snprintf(out, cap, "%.8s", z85 ? z85 : "");
}

int
keypair_generate(keypair_t *k)
{
    return zmq_curve_keypair(k->public_z85, k->secret_z85) == 0 ? 0 : -1;
}

/* Writes text into a new file path (mode), created under a temporary name
 * and linked into place so that a reader never sees half a file and two
 * writers never both win.  0; -1 with errno (EEXIST: path was there). */
static int
write_new_file(const char *path, const char *text, mode_t mode)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (ok && link(tmp, path) != 0) {
        ok = false;
        e = errno;
    }
    unlink(tmp);
    errno = e;
    return ok ? 0 : -1;
}

int
keypair_write(const char *path, const keypair_t *k)
{
    char text[2 * KEY_Z85_LEN + 32];
    snprintf(text, sizeof text, "public %s\nsecret %s\n", k->public_z85, k->secret_z85);
    return write_new_file(path, text, 0600);
}

/* Reads a whole small file into a malloc'ed NUL-terminated buffer. */
static char *
read_small_file(const char *path, size_t *len, char *why, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(KEYRING_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEYRING_FILE_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > KEYRING_FILE_MAX;
    fclose(f);
    if (bad) {
        snprintf(why, cap, "cannot read %s: %s", path,
                 buf ? "over 1 MiB or unreadable" : "no memory");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The value of the line "<label> <Z85>" in text, into out; 0 or -1. */
static int
key_line(const char *text, const char *label, char out[KEY_Z85_LEN + 1])
{
    size_t l = strlen(label);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, label, l) != 0 || p[l] != ' ')
            continue;
        const char *v = p + l + 1;
        size_t n = strcspn(v, "\r\n");
        if (n != KEY_Z85_LEN)
            return -1;
        memcpy(out, v, KEY_Z85_LEN);
        out[KEY_Z85_LEN] = '\0';
        return key_z85_valid(out) ? 0 : -1;
    }
    return -1;
}

int
keypair_read(const char *path, keypair_t *k, char *why, size_t cap)
{
    char derived[KEY_Z85_LEN + 1];
    size_t len;
    char *text = read_small_file(path, &len, why, cap);
    bool pair = text && key_line(text, "public", k->public_z85) == 0 &&
                key_line(text, "secret", k->secret_z85) == 0;
    if (text && !pair)
        snprintf(why, cap, "%s is not a key pair file (public and secret Z85 lines)", path);
    free(text);
    if (!pair)
        return -1;
    if (zmq_curve_public(derived, k->secret_z85) != 0 || strcmp(derived, k->public_z85) != 0) {
        snprintf(why, cap, "%s: the public key does not belong to the secret key", path);
        return -1;
    }
    return 0;
}

int
pubkey_read(const char *path, char out[KEY_Z85_LEN + 1], char *why, size_t cap)
{
    size_t len;
    char *text = read_small_file(path, &len, why, cap);
    if (!text)
        return -1;
    size_t n = strcspn(text, "\r\n");
    int rc = -1;
    if (n == KEY_Z85_LEN) {
        memcpy(out, text, KEY_Z85_LEN);
        out[KEY_Z85_LEN] = '\0';
        rc = key_z85_valid(out) ? 0 : -1;
    } else {
        rc = key_line(text, "public", out);
    }
    free(text);
    if (rc != 0)
        snprintf(why, cap, "%s holds no Z85 public key", path);
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const allow_entry_t *)a)->key, ((const allow_entry_t *)b)->key);
}

/* Parses one line (NUL-terminated, no newline) into e; 1 for an entry, 0
 * for a blank or comment line, -1 with why. */
static int
allow_line(char *line, allow_entry_t *e, char *why, size_t cap)
{
    if (line[strspn(line, " \t\r")] == '#') /* '#' is a Z85 digit: comments are whole lines */
        return 0;
    char *save = NULL;
    char *role = strtok_r(line, " \t\r", &save);
    if (!role)
        return 0;
    char *key = strtok_r(NULL, " \t\r", &save);
    char *name = strtok_r(NULL, "\r", &save);
    if ((e->role = role_lookup(role)) == ROLE_NONE) {
        snprintf(why, cap, "unknown role \"%.20s\" (reader, writer, operator, daemon)", role);
        return -1;
    }
    if (!key_z85_valid(key)) {
        snprintf(why, cap, "\"%.48s\" is not a 40-character Z85 key", key ? key : "");
        return -1;
    }
    strcopy(e->key, sizeof e->key, key);
    while (name && (*name == ' ' || *name == '\t'))
        name++;
    strcopy(e->name, sizeof e->name, name ? name : "");
    return 1;
}

int
allowlist_parse(const char *text, size_t len, allowlist_t *out, char *why, size_t cap)
{
    *out = (allowlist_t){0};
    allowlist_t a = {0};
    size_t lineno = 0, room = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
        char line[512];
        lineno++;
        allow_entry_t e;
        int rc = -1;
        char reason[160] = "line too long";
        if (n < sizeof line && !memchr(text + at, '\0', n)) {
            memcpy(line, text + at, n);
            line[n] = '\0';
            rc = allow_line(line, &e, reason, sizeof reason);
        }
        if (rc > 0 && a.n == KEYRING_ALLOW_MAX) {
            rc = -1;
            snprintf(reason, sizeof reason, "more than %d keys", KEYRING_ALLOW_MAX);
        }
        if (rc > 0 && a.n == room) {
            room = room ? 2 * room : 16;
            allow_entry_t *grown = realloc(a.entries, room * sizeof *grown);
            if (!grown) {
                rc = -1;
                snprintf(reason, sizeof reason, "no memory");
            } else {
                a.entries = grown;
            }
        }
        if (rc < 0) {
            snprintf(why, cap, "allow-list line %zu: %s", lineno, reason);
            allowlist_fini(&a);
            return -1;
        }
        if (rc > 0)
            a.entries[a.n++] = e;
        at += n + (nl ? 1 : 0);
    }
    if (a.n > 1) /* qsort of NULL is undefined, even of 0 entries */
        qsort(a.entries, a.n, sizeof *a.entries, entry_cmp);
    for (size_t i = 1; i < a.n; i++)
        if (strcmp(a.entries[i - 1].key, a.entries[i].key) == 0) {
            snprintf(why, cap, "allow-list names key %.8s... twice", a.entries[i].key);
            allowlist_fini(&a);
            return -1;
        }
    *out = a;
    return 0;
}

int
allowlist_load(const char *path, allowlist_t *out, char *why, size_t cap)
{
    size_t len;
    char *text = read_small_file(path, &len, why, cap);
    if (!text)
        return -1;
    int rc = allowlist_parse(text, len, out, why, cap);
    free(text);
    return rc;
}

role_t
allowlist_role(const allowlist_t *a, const char *key_z85)
{
    if (!a->n || !key_z85)
        return ROLE_NONE;
    allow_entry_t probe;
    strcopy(probe.key, sizeof probe.key, key_z85);
    const allow_entry_t *e = bsearch(&probe, a->entries, a->n, sizeof probe, entry_cmp);
    return e ? e->role : ROLE_NONE;
}

void
allowlist_fini(allowlist_t *a)
{
    if (!a)
        return;
    free(a->entries);
    *a = (allowlist_t){0};
}

/* dir/name into out; -1 when it does not fit. */
static int
keyring_path(char *out, size_t cap, const char *dir, const char *name, const char *suffix)
{
    return snprintf(out, cap, "%s/%s%s", dir, name, suffix) < (int)cap ? 0 : -1;
}

/* Makes dir/<name>.key (and with pub dir/<name>.pub) unless there; reads
 * the pair back into k.  1 when created, 0 when there, -1 with why. */
static int
keyring_pair(const char *dir, const char *name, bool pub, keypair_t *k, char *why, size_t cap)
{
    char path[4096];
    if (keyring_path(path, sizeof path, dir, name, ".key") != 0) {
        snprintf(why, cap, "keyring path too long");
        return -1;
    }
    int created = 0;
    keypair_t fresh;
    if (access(path, F_OK) != 0) {
        if (keypair_generate(&fresh) != 0 ||
            (keypair_write(path, &fresh) != 0 && errno != EEXIST)) {
            snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
            return -1;
        }
        created = 1;
    }
    if (keypair_read(path, k, why, cap) != 0)
        return -1;
    if (!pub || keyring_path(path, sizeof path, dir, name, ".pub") != 0)
        return created;
    if (created)
        unlink(path); /* the public key of a pair that is gone */
    else if (access(path, F_OK) == 0)
        return 0;
    char text[KEY_Z85_LEN + 2];
    snprintf(text, sizeof text, "%.40s\n", k->public_z85);
    if (write_new_file(path, text, 0644) != 0 && errno != EEXIST) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return created + 1;
}

/* The allow-list text naming every pair in keys (daemons, then operator). */
static void
keyring_allow_text(char *text, size_t cap, const keypair_t *keys, const char *const *names, int n)
{
    size_t at = (size_t)snprintf(text, cap,
                                 "# who may connect: ROLE <Z85 public key> [name]\n"
                                 "# roles: reader, writer, operator, daemon "
                                 "(docs/protocol.md, section 13)\n");
    for (int i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(text + at, cap - at, "%s %s %s\n", i < n - 1 ? "daemon" : "operator",
                               keys[i].public_z85, names[i]);
}

/* Appends to an existing allow-list the daemons' keys made anew (a lost
 * key file replaced); the operator's is the operator's to add. */
static int
keyring_allow_fresh(const char *path, const keypair_t *keys, const char *const *names,
                    const bool *fresh, char *why, size_t cap)
{
    FILE *f = NULL;
    for (int i = 0; i < KEYRING_N_DAEMONS; i++) {
        if (!fresh[i])
            continue;
        if (!f && !(f = fopen(path, "ae"))) {
            snprintf(why, cap, "cannot add to %s: %s", path, strerror(errno));
            return -1;
        }
        fprintf(f, "daemon %s %s\n", keys[i].public_z85, names[i]);
    }
    if (f && fclose(f) != 0) {
        snprintf(why, cap, "cannot add to %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int
keyring_init(const char *dir, char *why, size_t cap)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, cap, "cannot create the keyring folder %s: %s", dir, strerror(errno));
        return -1;
    }
    const char *names[KEYRING_N_DAEMONS + 1] = KEYRING_DAEMONS;
    names[KEYRING_N_DAEMONS] = "operator";
    keypair_t keys[KEYRING_N_DAEMONS + 1];
    bool fresh[KEYRING_N_DAEMONS + 1];
    int created = 0;
    for (int i = 0; i <= KEYRING_N_DAEMONS; i++) {
        int rc = keyring_pair(dir, names[i], i < KEYRING_N_DAEMONS, &keys[i], why, cap);
        if (rc < 0)
            return -1;
        fresh[i] = rc > 0;
        created += rc;
    }
    char path[4096], text[4096];
    if (keyring_path(path, sizeof path, dir, "allow", "") != 0)
        return created;
    if (access(path, F_OK) == 0)
        return keyring_allow_fresh(path, keys, names, fresh, why, cap) == 0 ? created : -1;
    keyring_allow_text(text, sizeof text, keys, names, KEYRING_N_DAEMONS + 1);
    if (write_new_file(path, text, 0600) != 0 && errno != EEXIST) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return created + 1;
}
