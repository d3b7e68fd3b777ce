/* cli_store: `invctl store ...`, the membership of the replicated event
 * store's dqlite cluster (store-node daemons, issue 26), through
 * common/store/dqclient:
 *   store status                the leader; every node: id, address, role
 *                               (voter, standby, spare), whether it answers
 *   store join ID ADDRESS       add a running node (ADD, then ASSIGN voter)
 *   store assign ID ROLE        voter, standby or spare
 *   store remove ID             take a node out of the cluster
 *   store transfer ID           hand the leadership to a voter
 * The cluster is --store HOST:PORT,... or INV_STORE=dqlite:HOST:PORT,...
 * (storespec_parse); any member will do, the leader is found through them
 * within --timeout-ms (each request has that deadline too).  The node id
 * of assign, remove and transfer is checked against the cluster's list
 * first.  Plain TCP, as store-node serves today. */
#ifndef INV_CLI_STORE_H
#define INV_CLI_STORE_H

#include "cli.h"

/* 0 done (status: a leader, and every node answered); 1 usage error, no
 * leader reachable within the deadline, the connection lost, or (status) a
 * node that does not answer; 2 an unknown node id, or the cluster refused. */
int cli_store_run(void *zctx, const cli_opts_t *opts);

#endif
