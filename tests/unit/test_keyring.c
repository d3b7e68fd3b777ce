/* keyring: key files, the allow-list's grammar and the keyring's creation
 * (common/wire/keyring.h). */
#include "keyring.h"
#include "scratch.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static keypair_t a, b;

static void
pairs(void)
{
    cr_assert_eq(keypair_generate(&a), 0);
    cr_assert_eq(keypair_generate(&b), 0);
}

static int
parse(const char *text, allowlist_t *out, char *why, size_t cap)
{
    return allowlist_parse(text, strlen(text), out, why, cap);
}

Test(keyring, roles_by_name)
{
    cr_assert_eq(role_lookup("reader"), ROLE_READER);
    cr_assert_eq(role_lookup("daemon"), ROLE_DAEMON);
    cr_assert_eq(role_lookup("Reader"), ROLE_NONE);
    cr_assert_eq(role_lookup(""), ROLE_NONE);
    cr_assert_str_eq(role_name(ROLE_OPERATOR), "operator");
    cr_assert_str_eq(role_name(ROLE_NONE), "none");
    cr_assert(ROLES_WRITE & ROLE_WRITER);
    cr_assert_not(ROLES_WRITE & ROLE_READER);
    cr_assert_not(ROLES_FEED & ROLE_READER);
}

Test(keyring, a_z85_key_is_40_characters_of_its_alphabet, .init = pairs)
{
    cr_assert(key_z85_valid(a.public_z85));
    cr_assert_not(key_z85_valid(NULL));
    cr_assert_not(key_z85_valid(""));
    char short_key[40];
    memcpy(short_key, a.public_z85, 39);
    short_key[39] = '\0';
    cr_assert_not(key_z85_valid(short_key));
    char bad[41];
    memcpy(bad, a.public_z85, 41);
    bad[5] = '"'; /* not a Z85 digit */
    cr_assert_not(key_z85_valid(bad));
    char fp[16];
    key_fingerprint(a.public_z85, fp, sizeof fp);
    cr_assert_eq(strlen(fp), 8);
    cr_assert_eq(strncmp(fp, a.public_z85, 8), 0);
}

Test(keyring, an_allow_list_gives_each_key_its_role, .init = pairs)
{
    char text[512], why[256];
    snprintf(text, sizeof text,
             "# who may connect\n\n  # indented comment\nreader %s alice smith\r\nwriter\t%s\n",
             a.public_z85, b.public_z85);
    allowlist_t l;
    cr_assert_eq(parse(text, &l, why, sizeof why), 0, "%s", why);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(allowlist_role(&l, a.public_z85), ROLE_READER);
    cr_assert_eq(allowlist_role(&l, b.public_z85), ROLE_WRITER);
    keypair_t c;
    cr_assert_eq(keypair_generate(&c), 0);
    cr_assert_eq(allowlist_role(&l, c.public_z85), ROLE_NONE);
    cr_assert_eq(allowlist_role(&l, NULL), ROLE_NONE);
    allowlist_fini(&l);
    allowlist_fini(&l); /* idempotent */
    cr_assert_eq(parse("", &l, why, sizeof why), 0);
    cr_assert_eq(allowlist_role(&l, a.public_z85), ROLE_NONE);
    allowlist_fini(&l);
}

Test(keyring, a_bad_allow_list_is_refused_naming_the_line, .init = pairs)
{
    char text[512], why[256];
    allowlist_t l;
    snprintf(text, sizeof text, "reader %s\nadmin %s\n", a.public_z85, b.public_z85);
    cr_assert_eq(parse(text, &l, why, sizeof why), -1);
    cr_assert(strstr(why, "line 2") && strstr(why, "unknown role"), "%s", why);
    cr_assert_eq(parse("reader short-key\n", &l, why, sizeof why), -1);
    cr_assert(strstr(why, "line 1") && strstr(why, "Z85"), "%s", why);
    cr_assert_eq(parse("reader\n", &l, why, sizeof why), -1);
    snprintf(text, sizeof text, "reader %s x\nwriter %s y\n", a.public_z85, a.public_z85);
    cr_assert_eq(parse(text, &l, why, sizeof why), -1);
    cr_assert(strstr(why, "twice"), "%s", why);
    const char nul[] = "reader \0abc\n";
    cr_assert_eq(allowlist_parse(nul, sizeof nul - 1, &l, why, sizeof why), -1);
    char long_line[700];
    memset(long_line, 'x', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    cr_assert_eq(parse(long_line, &l, why, sizeof why), -1);
    cr_assert(strstr(why, "too long"), "%s", why);
}

Test(keyring, a_key_pair_file_round_trips_and_a_mismatched_one_is_refused, .init = pairs)
{
    char dir[64], path[128], why[256];
    scratch_make_file(dir, sizeof dir, "keyring", "a.key", path, sizeof path);
    cr_assert_eq(keypair_write(path, &a), 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(keypair_write(path, &b), -1, "an existing key file was overwritten");
    keypair_t r;
    cr_assert_eq(keypair_read(path, &r, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(r.public_z85, a.public_z85);
    cr_assert_str_eq(r.secret_z85, a.secret_z85);
    char pub[KEY_Z85_LEN + 1];
    cr_assert_eq(pubkey_read(path, pub, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(pub, a.public_z85);
    /* a public key that is not the secret key's */
    char mixed[128];
    snprintf(mixed, sizeof mixed, "%s/mixed.key", dir);
    FILE *f = fopen(mixed, "w");
    fprintf(f, "public %s\nsecret %s\n", b.public_z85, a.secret_z85);
    fclose(f);
    cr_assert_eq(keypair_read(mixed, &r, why, sizeof why), -1);
    cr_assert(strstr(why, "does not belong"), "%s", why);
    cr_assert_eq(keypair_read("/nonexistent/k.key", &r, why, sizeof why), -1);
    scratch_remove(dir);
}

Test(keyring, init_creates_what_is_missing_and_keeps_what_exists)
{
    char dir[64], keys[128], why[256], path[192];
    scratch_make(dir, sizeof dir, "keyring");
    snprintf(keys, sizeof keys, "%s/keys", dir);
    int made = keyring_init(keys, why, sizeof why);
    cr_assert_eq(made, 2 * KEYRING_N_DAEMONS + 1 + 1, "%d: %s", made, why);
    cr_assert_eq(keyring_init(keys, why, sizeof why), 0, "a second init changed something");
    allowlist_t l;
    snprintf(path, sizeof path, "%s/allow", keys);
    cr_assert_eq(allowlist_load(path, &l, why, sizeof why), 0, "%s", why);
    cr_assert_eq(l.n, KEYRING_N_DAEMONS + 1);
    keypair_t k;
    snprintf(path, sizeof path, "%s/relay.key", keys);
    cr_assert_eq(keypair_read(path, &k, why, sizeof why), 0, "%s", why);
    cr_assert_eq(allowlist_role(&l, k.public_z85), ROLE_DAEMON);
    snprintf(path, sizeof path, "%s/operator.key", keys);
    cr_assert_eq(keypair_read(path, &k, why, sizeof why), 0, "%s", why);
    cr_assert_eq(allowlist_role(&l, k.public_z85), ROLE_OPERATOR);
    allowlist_fini(&l);
    /* a lost daemon key is made again, with its .pub and its allow-list
     * line; the rest is left */
    snprintf(path, sizeof path, "%s/query.key", keys);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(keyring_init(keys, why, sizeof why), 2);
    cr_assert_eq(keypair_read(path, &k, why, sizeof why), 0, "%s", why);
    char pub[KEY_Z85_LEN + 1];
    snprintf(path, sizeof path, "%s/query.pub", keys);
    cr_assert_eq(pubkey_read(path, pub, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(pub, k.public_z85);
    snprintf(path, sizeof path, "%s/allow", keys);
    cr_assert_eq(allowlist_load(path, &l, why, sizeof why), 0, "%s", why);
    cr_assert_eq(allowlist_role(&l, k.public_z85), ROLE_DAEMON);
    allowlist_fini(&l);
    struct stat st;
    cr_assert_eq(stat(keys, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    scratch_remove(dir);
}
