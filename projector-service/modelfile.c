/* modelfile: see modelfile.h. */
#include "modelfile.h"

#include "log.h"
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void *
modelfile_open(void *bulk_path, const subdaemon_config_t *cfg, const char **why)
{
    struct stat sb;
    char *bulk = bulk_path;
    bulk[0] = '\0';
    if (cfg->dump)
        return readmodel_open_dump(cfg->db, why);
    if (!cfg->once || lstat(cfg->db, &sb) == 0 || errno != ENOENT)
        return readmodel_open(cfg->db, why);
    snprintf(bulk, PATH_MAX, "%s" SUBSCRIBER_BUILDING_SUFFIX, cfg->db);
    return readmodel_open_bulk(bulk, why);
}

void
modelfile_discard_other_schema(const subdaemon_config_t *cfg)
{
    int old = strcmp(cfg->mode, "run") == 0 ? readmodel_discard_other_schema(cfg->db) : 0;
    if (old > 0)
        LOG_W(NULL,
              "read model %s had schema %d, this build writes %d: removed it, rebuilding"
              " from the log",
              cfg->db, old, READMODEL_SCHEMA_VERSION);
}

int
modelfile_finish_bulk(readmodel_t **live, const subdaemon_t *d, const char *db)
{
    subscriber_status_t st;
    subdaemon_status(d, &st);
    if (!proc_stopping() && st.checkpoint >= st.head && readmodel_bulk_finish(live, db) == 0) {
        LOG_I(NULL, "built %s up to position %lld", db, (long long)st.checkpoint);
        return 0;
    }
    LOG_E(NULL, "build stopped at position %lld of %lld; %s not created", (long long)st.checkpoint,
          (long long)st.head, db);
    return 1;
}
