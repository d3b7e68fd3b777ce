/* fsyncpath: fsync by name, for files written through other descriptors
 * (SQLite's) and for the folder that holds a name just created, renamed
 * or removed. */
#ifndef INV_FSYNCPATH_H
#define INV_FSYNCPATH_H

/* fsync of the file at path.  0, or -1 (errno set). */
int fsync_file(const char *path);
/* fsync of the folder holding path ("." for a bare name), so that a
 * name created, renamed or removed there is on disk.  0, or -1 (errno
 * set). */
int fsync_folder_of(const char *path);

#endif
