/* syncmark: the marker beside a read model that runs without fsyncs.
 *
 * A subscriber's database with synchronous=OFF never waits for the disk:
 * its commits and WAL checkpoints stay in the kernel's page cache until
 * the kernel writes them back.  A crash of the process loses nothing (the
 * page cache outlives it, and SQLite's file stays consistent), but a crash
 * of the operating system or a power loss can leave a torn file.  The
 * marker tells the two apart: "<db>-unsynced" holds the boot id
 * (/proc/sys/kernel/random/boot_id) of the system that wrote without
 * fsyncs.  It is on disk (fsynced, with its folder) before the first such
 * write, and removed only after a clean close has fsynced the database.
 * At the next open, a marker from another boot means the file may be torn:
 * the model is discarded and rebuilt from the event log. */
#ifndef INV_SYNCMARK_H
#define INV_SYNCMARK_H

#include <stdbool.h>
#include <stddef.h>

/* The running system's boot id in out (a NUL-terminated line without the
 * newline).  0, or -1 when it cannot be read. */
int syncmark_boot_id(char *out, size_t cap);
/* True when db_path has a marker written by another boot than this one
 * (or one that cannot be read): its file may be torn. */
bool syncmark_stale(const char *db_path);
/* True when db_path has a marker at all. */
bool syncmark_present(const char *db_path);
/* Writes the marker with this boot's id and fsyncs it and its folder.
 * 0, or -1 (errno set). */
int syncmark_set(const char *db_path);
/* Removes the marker and fsyncs its folder.  0 (also when there was
 * none), or -1. */
int syncmark_clear(const char *db_path);

#endif
