/* topology: every endpoint of the system, who binds it and who connects to
 * it.  deploy/docker-compose.yml and deploy/inventory-local mirror this table;
 * in compose the binders use tcp://0.0.0.0:PORT and the connecters use the
 * service name instead of 127.0.0.1.
 *
 *  port  socket  bound by            connected by            carries
 *  5550  ROUTER  command-service     invctl, invbench        commands, status
 *  5551  PUB     outbox-relay        projector/audit/alert   events + heartbeats
 *  5552  ROUTER  outbox-relay        subscribers, invctl     catch-up reads, status
 *  5553  ROUTER  query-service       invctl, invbench        queries, status
 *  5554  ROUTER  audit-service       invctl                  audit search, status
 *  5555  PUB     alert-service       invctl watch alerts     alerts
 *  5556  ROUTER  projector-service   invctl                  status, rebuild
 *  5557  ROUTER  alert-service       invctl                  alert list, status
 */
#ifndef INV_TOPOLOGY_H
#define INV_TOPOLOGY_H

#define EP_COMMAND "tcp://127.0.0.1:5550"
#define EP_EVENTS "tcp://127.0.0.1:5551"
#define EP_CATCHUP "tcp://127.0.0.1:5552"
#define EP_QUERY "tcp://127.0.0.1:5553"
#define EP_AUDIT "tcp://127.0.0.1:5554"
#define EP_ALERTS "tcp://127.0.0.1:5555"
#define EP_PROJECTOR "tcp://127.0.0.1:5556"
#define EP_ALERT_API "tcp://127.0.0.1:5557"

/* Relay -> command-service is not needed; command-service nudges the relay
 * after each commit through this PUSH/PULL pair so that publishing does not
 * wait for the relay's poll interval. */
#define EP_NUDGE "tcp://127.0.0.1:5558"

/* Topic frames on the event PUB socket and the alert PUB socket.  An
 * `events` body is a msgpack array of `event` bodies (docs/protocol.md,
 * section 5). */
#define TOPIC_EVENT "event"
#define TOPIC_EVENTS "events"
#define TOPIC_HEARTBEAT "heartbeat"
#define TOPIC_ALERT "alert"

#endif
