/* err: the one error vocabulary of library code.
 *
 * A function that can fail returns ERR_OK (0) or one of the negative codes
 * below, and hands what it produced back through out-parameters; a
 * function that answers a yes/no question as well returns 1 or 0 beside
 * them (eventstore_command_find: 1 found, 0 not, or an err_t).  Callers
 * log err_strerror(code) with whatever detail the module offers
 * (eventstore_errmsg).  Not errors: a domain rejection (insufficient_stock)
 * is data in a decision (domain/decision.h), and a request that cannot be
 * read is answered `malformed` (common/wire/codec.h). */
#ifndef INV_ERR_H
#define INV_ERR_H

typedef enum {
    ERR_OK = 0,
    ERR_BUSY = -1,      /* a lock is held by someone else; retry later */
    ERR_IO = -2,        /* disk full, read-only file, I/O error */
    ERR_DUPLICATE = -3, /* the stream is not at version - 1 (a lost race) */
    ERR_CORRUPT = -4,   /* stored data does not decode */
} err_t;

/* A static, one-phrase name of code ("busy", "I/O error", ...); an
 * unknown code reads "unknown error".  Never NULL. */
const char *err_strerror(int code);

#endif
