/* modellock: one writing process per model file, and one command-service
 * per event store (which takes the same lock on events.db, G16).
 *
 * A subscriber daemon (projector, audit, alert) is the only writer of its
 * model, and what it does at a clean stop (fsync the file, remove the
 * "-unsynced" marker, syncmark.h) is only right if no other process still
 * writes the file without fsyncs.  A second daemon started by mistake on
 * the same --db (another --bind, or one whose bind then fails) would
 * otherwise write beside the first, and its stop would remove the first's
 * marker.  So a writer first takes an exclusive flock(2) on "<db>-lock"
 * (created if needed, never removed: removing a lock file races with the
 * next taker) and holds it until it exits; the file holds the holder's
 * pid for the message a second taker logs.  Readers (the query service,
 * --mode dump) take no lock. */
#ifndef INV_MODELLOCK_H
#define INV_MODELLOCK_H

/* Takes the writer lock of the model at db_path.  Returns its descriptor
 * (held until modellock_release or the process's exit), or -1 after
 * logging why: another process holds it (named by its pid), or the lock
 * file cannot be created. */
int modellock_take(const char *db_path);
/* Releases a lock taken by modellock_take and sets *fd to -1 (no-op for
 * -1). */
void modellock_release(int *fd);

#endif
