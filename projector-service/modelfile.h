/* modelfile: which file the projector's read model is in, and how it gets
 * there: a model of another schema is removed (rebuilt from the log); a
 * dump opens read.db read-only; a once run into a file that does not
 * exist builds in bulk beside it and adopts the build only at the head. */
#ifndef INV_MODELFILE_H
#define INV_MODELFILE_H

#include "readmodel.h"
#include "subdaemon.h"

/* subdaemon_open_fn: cfg->db (read-only for a dump), or for a once run
 * into a file that does not exist a bulk build (no journal on disk, no
 * fsync) into bulk_path (arg, PATH_MAX): <db>.building, renamed over db by
 * modelfile_finish_bulk only once it reached the head and was fsynced as a
 * WAL database; a crash leaves at most a .building file, deleted next
 * time.  bulk_path is "" when no bulk build was started. */
void *modelfile_open(void *bulk_path, const subdaemon_config_t *cfg, const char **why);
/* In run mode, removes a read model of another schema (logged). */
void modelfile_discard_other_schema(const subdaemon_config_t *cfg);
/* Adopts a bulk build that reached the head as db; 0, or 1 (nothing
 * adopted: stopped early or the rename failed). */
int modelfile_finish_bulk(readmodel_t **live, const subdaemon_t *d, const char *db);

#endif
