/* cli_keys: see cli_keys.h. */
#include "cli_keys.h"

#include "keyring.h"
#include "security.h"

#include <errno.h>
#include <string.h>

/* The daemon whose key pair serves each endpoint (keyring.h). */
static const char *const ep_server[CLI_EP__COUNT] = {
    [CLI_EP_COMMAND] = "command", [CLI_EP_QUERY] = "query",     [CLI_EP_AUDIT] = "audit",
    [CLI_EP_ALERTS] = "alert",    [CLI_EP_ALERT_API] = "alert", [CLI_EP_PROJECTOR] = "projector",
    [CLI_EP_RELAY] = "relay",     [CLI_EP_EVENTS] = "relay",
};

int
cli_keys_setup(const cli_opts_t *opts)
{
    if (opts->insecure)
        return 0;
    security_peer_t peers[CLI_EP__COUNT];
    for (int i = 0; i < CLI_EP__COUNT; i++)
        peers[i] = (security_peer_t){.endpoint = opts->ep[i], .server = ep_server[i]};
    char why[512], dir[1024];
    if (security_client_setup(opts->keys_dir, opts->key_file, opts->server_key, peers,
                              CLI_EP__COUNT, why, sizeof why) == 0)
        return 0;
    security_keys_dir(opts->keys_dir, dir, sizeof dir);
    fprintf(stderr,
            "invctl: %s\n  (deploy/inventory-local start puts the operator's key in %s; give"
            " --key FILE, --keys DIR, or --insecure for a system started with --insecure)\n",
            why, dir);
    return 1;
}

/* keygen --init [DIR]: the keyring (the given folder, else --keys...). */
static int
keygen_init(const cli_opts_t *opts, const char *dir_arg)
{
    char dir[1024], why[512];
    if (dir_arg)
        snprintf(dir, sizeof dir, "%s", dir_arg);
    else
        security_keys_dir(opts->keys_dir, dir, sizeof dir);
    int made = keyring_init(dir, why, sizeof why);
    if (made < 0) {
        fprintf(stderr, "invctl keygen: %s\n", why);
        return 1;
    }
    printf("keyring %s: %d file(s) created; allow-list %s/allow\n", dir, made, dir);
    return 0;
}

int
cli_keygen_run(void *zctx, const cli_opts_t *opts)
{
    (void)zctx;
    static const arg_spec_t specs[] = {
        {"--role", ARG_STR}, {"--name", ARG_STR}, {"--out", ARG_STR}, {"--init", ARG_BOOL}};
    arg_val_t v[4];
    char err[256];
    const char *dir_arg = NULL;
    int n_pos = 0;
    if (cli_args_parse("keygen", specs, 4, opts->argc - 1, opts->argv + 1, v, &dir_arg, 1, &n_pos,
                       err, sizeof err) != 0) {
        fprintf(stderr, "invctl: %s\n", err);
        return 1;
    }
    if (v[3].set)
        return keygen_init(opts, dir_arg);
    role_t role = v[0].set ? role_lookup(v[0].str) : ROLE_NONE;
    if (role == ROLE_NONE || dir_arg) {
        fprintf(stderr, "invctl keygen: --role reader|writer|operator|daemon is required\n");
        return 1;
    }
    keypair_t k;
    const char *out = v[2].set ? v[2].str : NULL;
    if (keypair_generate(&k) != 0 || (out && keypair_write(out, &k) != 0)) {
        fprintf(stderr, "invctl keygen: cannot write %s: %s\n", out ? out : "a key",
                strerror(errno));
        return 1;
    }
    if (!out)
        printf("# the key pair (keep it secret; save it as a file, mode 0600):\npublic %s\nsecret "
               "%s\n",
               k.public_z85, k.secret_z85);
    printf("# add this line to the allow-list, then: kill -HUP the daemons (or invctl "
           "reload-keys)\n%s %s %s\n",
           role_name(role), k.public_z85, v[1].set ? v[1].str : "");
    return 0;
}
