/* keyring: the CURVE keys of a deployment and who may use them
 * (docs/protocol.md, section 13).
 *
 * A keyring is one folder (0700):
 *   <daemon>.key   a daemon's key pair, 0600: "public <Z85>\nsecret <Z85>\n"
 *   <daemon>.pub   its public key, 0644: "<Z85>\n" (what clients need)
 *   operator.key   the operator's client key pair (invctl), 0600
 *   allow          the allow-list, 0600: one "ROLE <Z85 public key> [name]"
 *                  per line; a line starting with '#' is a comment
 * for the daemons KEYRING_DAEMONS.  Keys are ZeroMQ's CURVE keys in Z85
 * (40 characters for 32 bytes).  A role is a set of rights; a route, a
 * socket or a subscription names the roles it admits (ROLES_*). */
#ifndef INV_KEYRING_H
#define INV_KEYRING_H

#include <stdbool.h>
#include <stddef.h>

#define KEY_Z85_LEN 40
#define KEYRING_NAME_MAX 63
#define KEYRING_ALLOW_MAX 4096 /* keys an allow-list may hold */

typedef enum {
    ROLE_NONE = 0,
    ROLE_READER = 1 << 0,   /* queries, history, watch, audit search, alert list, status */
    ROLE_WRITER = 1 << 1,   /* a reader that may send commands */
    ROLE_OPERATOR = 1 << 2, /* everything: rebuilds, the catch-up feed, key reloads */
    ROLE_DAEMON = 1 << 3,   /* the daemons among themselves: event feed, catch-up, nudge */
} role_t;

/* What a route, socket or subscription admits (0 on a route: everyone). */
#define ROLES_READ (ROLE_READER | ROLE_WRITER | ROLE_OPERATOR)
#define ROLES_STATUS (ROLES_READ | ROLE_DAEMON)
#define ROLES_WRITE (ROLE_WRITER | ROLE_OPERATOR)
#define ROLES_OPERATE ROLE_OPERATOR
#define ROLES_FEED (ROLE_DAEMON | ROLE_OPERATOR)
#define ROLES_SUBSCRIBE (ROLES_READ | ROLE_DAEMON)
/* A store node's tunnel (dqlite's Raft and client traffic): the other
 * store nodes, the command service and the relay, and invctl. */
#define ROLES_STORE (ROLE_DAEMON | ROLE_OPERATOR)

/* The daemons that own a key pair, by the name their files carry. */
#define KEYRING_DAEMONS                                                                            \
    {                                                                                              \
        "command", "relay", "projector", "audit", "alert", "query", "store"                        \
    }
#define KEYRING_N_DAEMONS 7

typedef struct {
    char public_z85[KEY_Z85_LEN + 1];
    char secret_z85[KEY_Z85_LEN + 1];
} keypair_t;

typedef struct {
    char key[KEY_Z85_LEN + 1];
    role_t role;
    char name[KEYRING_NAME_MAX + 1];
} allow_entry_t;

typedef struct {
    allow_entry_t *entries; /* owned; sorted by key */
    size_t n;
} allowlist_t;

/* "reader", "writer", "operator", "daemon": the role, or ROLE_NONE. */
role_t role_lookup(const char *name);
/* The name of one role ("none" for ROLE_NONE or a set). */
const char *role_name(role_t role);

/* Whether s is a 40-character Z85 CURVE key. */
bool key_z85_valid(const char *s);
/* A short printable fingerprint of a Z85 key for logs: its first 8
 * characters (enough to find it in an allow-list), into out (>= 9 bytes). */
void key_fingerprint(const char *z85, char *out, size_t cap);

/* A fresh key pair (ZeroMQ's zmq_curve_keypair).  0 or -1. */
int keypair_generate(keypair_t *k);
/* Writes k to a new file at path, mode 0600 (refuses an existing file):
 * 0, or -1 with errno. */
int keypair_write(const char *path, const keypair_t *k);
/* Reads a key pair file; checks that the public key belongs to the secret
 * key.  0, or -1 with the reason in why. */
int keypair_read(const char *path, keypair_t *k, char *why, size_t cap);
/* Reads a public key file ("<Z85>\n", or a key pair file, whose public
 * line is used).  0, or -1 with the reason in why. */
int pubkey_read(const char *path, char out[KEY_Z85_LEN + 1], char *why, size_t cap);

/* Parses an allow-list from text (len bytes).  0, or -1 with the line and
 * what is wrong in why; nothing to free on -1. */
int allowlist_parse(const char *text, size_t len, allowlist_t *out, char *why, size_t cap);
/* Reads and parses the allow-list file at path (at most 1 MiB). */
int allowlist_load(const char *path, allowlist_t *out, char *why, size_t cap);
/* The role of key (Z85), or ROLE_NONE when it is not on the list. */
role_t allowlist_role(const allowlist_t *a, const char *key_z85);
/* Frees the entries; NULL-safe, idempotent. */
void allowlist_fini(allowlist_t *a);

/* Creates what is missing in the keyring folder dir (the folder 0700, each
 * daemon's key pair and public key, operator.key, and an allow-list naming
 * the daemons' keys as daemon and the operator's as operator); leaves what
 * exists, but a daemon's key pair made anew (its file was lost) gets a new
 * .pub and a daemon line appended to an existing allow-list.  Safe to run from several processes at
 * once (files are created under temporary names and linked into place).  Returns the number of
 * files created (>= 0), or -1 with the reason in why. */
int keyring_init(const char *dir, char *why, size_t cap);

#endif
