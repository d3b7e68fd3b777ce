/* eplist: the comma-separated endpoint lists, and the not_leader reply
 * (codec_read_not_leader, command_reply_not_leader, rpc_not_leader) that
 * clients follow through them. */
#include "codec.h"
#include "eplist.h"
#include "msgtree.h"
#include "rpc.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static bool
valid(const char *s)
{
    return eplist_valid(s, strlen(s));
}

Test(eplist, valid_endpoints)
{
    cr_assert(valid("tcp://127.0.0.1:5550"));
    cr_assert(valid("tcp://command-service:5550"));
    cr_assert(valid("tcp://[::1]:5550"));
    cr_assert(valid("tcp://*:5550"));
    cr_assert(valid("ipc:///tmp/x/command.sock"));
    cr_assert(valid("ipc://@abstract"));
    cr_assert(valid("inproc://relay"));
}

Test(eplist, invalid_endpoints)
{
    const char *bad[] = {"",
                         "tcp://",
                         "tcp://host",
                         "tcp://host:",
                         "tcp://:5550",
                         "tcp://host:0",
                         "tcp://host:65536",
                         "tcp://host:123456",
                         "tcp://host:55a0",
                         "tcp://ho st:5550",
                         "tcp://host;rm:5550",
                         "tcp://[zz]:5550",
                         "ipc://",
                         "inproc://",
                         "udp://host:5550",
                         "http://host:80",
                         "not an endpoint",
                         "tcp://a:1,tcp://b:2",
                         "tcp://host:5550\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(valid(bad[i]), "'%s'", bad[i]);
    char long_ep[300];
    memset(long_ep, 'a', sizeof long_ep);
    memcpy(long_ep, "ipc://", 6);
    long_ep[EPLIST_EP_MAX] = '\0'; /* exactly the limit */
    cr_assert(valid(long_ep));
    long_ep[EPLIST_EP_MAX] = 'a';
    long_ep[EPLIST_EP_MAX + 1] = '\0';
    cr_assert_not(valid(long_ep));
    cr_assert_not(eplist_valid("tcp://h:1\0x", 11), "a NUL inside");
}

Test(eplist, one_endpoint_is_a_list_of_one)
{
    eplist_t l;
    char why[200];
    cr_assert_eq(eplist_parse(&l, "tcp://127.0.0.1:5550", why, sizeof why), 0);
    cr_assert_eq(l.n, 1);
    cr_assert_str_eq(l.ep[0], "tcp://127.0.0.1:5550");
}

Test(eplist, list_in_order)
{
    eplist_t l;
    char why[200];
    cr_assert_eq(
        eplist_parse(&l, "tcp://10.1.0.1:5550,ipc:///tmp/c.sock,tcp://h3:5550", why, sizeof why), 0,
        "%s", why);
    cr_assert_eq(l.n, 3);
    cr_assert_str_eq(l.ep[1], "ipc:///tmp/c.sock");
    cr_assert_eq(eplist_find(&l, "tcp://h3:5550"), 2);
    cr_assert_eq(eplist_find(&l, "tcp://h4:5550"), -1);
}

Test(eplist, bad_lists_name_the_element)
{
    eplist_t l;
    char why[200];
    cr_assert_eq(eplist_parse(&l, "tcp://a:1,,tcp://b:2", why, sizeof why), -1);
    cr_assert(strstr(why, "element 2 is empty"), "%s", why);
    cr_assert_eq(eplist_parse(&l, "tcp://a:1,", why, sizeof why), -1);
    cr_assert_eq(eplist_parse(&l, "", why, sizeof why), -1);
    cr_assert_eq(eplist_parse(&l, "tcp://a:1, tcp://b:2", why, sizeof why), -1);
    cr_assert(strstr(why, "element 2 ' tcp://b:2' is not an endpoint"), "%s", why);
    cr_assert_eq(eplist_parse(&l, "tcp://a:1,tcp://a:1", why, sizeof why), -1);
    cr_assert(strstr(why, "given twice"), "%s", why);
    cr_assert_eq(eplist_parse(&l, "i:1,i:2,i:3,i:4,i:5,i:6,i:7,i:8,i:9", why, sizeof why), -1);
    cr_assert_eq(eplist_parse(&l,
                              "inproc://1,inproc://2,inproc://3,inproc://4,inproc://5,inproc://6,"
                              "inproc://7,inproc://8,inproc://9",
                              why, sizeof why),
                 -1);
    cr_assert(strstr(why, "more than 8"), "%s", why);
}

/* ---- not_leader ---------------------------------------------------------- */

/* Reads buf as a not_leader reply: codec_read_not_leader's result. */
static int
read_nl(const void *buf, size_t len, char *leader, const char **why)
{
    mpread_t r;
    const char *w;
    cr_assert_eq(codec_reader_check(&r, buf, len, &w), 0);
    return codec_read_not_leader(&r, leader, EPLIST_EP_MAX + 1, why);
}

Test(eplist, command_reply_not_leader_round_trip)
{
    command_reply_t in, out;
    codec_writer_t w;
    codec_writer_init(&w);
    command_reply_not_leader(&in, "c-1", "tcp://10.1.0.2:5550");
    codec_pack_command_reply(&w, &in);
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert_not(out.accepted);
    cr_assert_eq(out.error, REJ_NOT_LEADER);
    cr_assert_str_eq(out.command_id, "c-1");
    cr_assert_str_eq(out.leader, "tcp://10.1.0.2:5550");
    cr_assert_str_eq(out.message,
                     "not leader: the active command service is at tcp://10.1.0.2:5550");
    char leader[EPLIST_EP_MAX + 1];
    const char *why = NULL;
    cr_assert_eq(read_nl(w.buf.data, w.buf.size, leader, &why), 1);
    cr_assert_str_eq(leader, "tcp://10.1.0.2:5550");

    command_reply_not_leader(&in, NULL, "");
    codec_writer_reset(&w);
    codec_pack_command_reply(&w, &in);
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert_str_eq(out.leader, "");
    cr_assert(strstr(out.message, "election in progress"));
    cr_assert_eq(read_nl(w.buf.data, w.buf.size, leader, &why), 1);
    cr_assert_str_eq(leader, "");

    /* other rejections carry no leader */
    command_reply_clear(&in);
    in.error = REJ_UNAVAILABLE;
    codec_writer_reset(&w);
    codec_pack_command_reply(&w, &in);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    cr_assert_null(codec_map_get(&u.data, "leader"));
    msgpack_unpacked_destroy(&u);
    cr_assert_eq(read_nl(w.buf.data, w.buf.size, leader, &why), 0);
    codec_writer_fini(&w);
}

Test(eplist, rpc_not_leader_in_each_shape)
{
    static const rpc_proto_t plain = {.bad_frames = "x", .too_large = "x", .unknown = "x"};
    codec_writer_t w;
    codec_writer_init(&w);
    rpc_not_leader(&plain, &w, NULL, "outbox relay", "tcp://10.1.0.3:5552");
    msgpack_unpacked u;
    const char *why;
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    cr_assert_eq(u.data.via.map.size, 4);
    cr_assert_null(codec_map_get(&u.data, "command_id"));
    cr_assert_null(codec_map_get(&u.data, "fields"));
    char leader[EPLIST_EP_MAX + 1];
    cr_assert_eq(read_nl(w.buf.data, w.buf.size, leader, &why), 1);
    cr_assert_str_eq(leader, "tcp://10.1.0.3:5552");
    msgpack_unpacked_destroy(&u);

    rpc_not_leader(&rpc_command_proto, &w, "c-7", "command service", "");
    command_reply_t out;
    cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &out), 0);
    cr_assert_eq(out.error, REJ_NOT_LEADER);
    cr_assert_str_eq(out.command_id, "c-7");
    cr_assert_str_eq(out.leader, "");
    msgpack_unpacked_init(&u);
    cr_assert_eq(codec_parse(w.buf.data, w.buf.size, &u, &why), 0);
    cr_assert_not_null(codec_map_get(&u.data, "fields"));
    msgpack_unpacked_destroy(&u);
    codec_writer_fini(&w);
}

/* {ok: false, error: "not_leader", leader: <pack>} */
typedef void (*pack_leader_fn)(msgpack_packer *pk);
static void
hostile(codec_writer_t *w, pack_leader_fn fn)
{
    codec_writer_reset(w);
    msgpack_pack_map(&w->pk, fn ? 4 : 3);
    codec_pack_kv_bool(&w->pk, "ok", false);
    codec_pack_kv_str(&w->pk, "error", "not_leader");
    codec_pack_kv_str(&w->pk, "message", "x");
    if (fn) {
        codec_pack_cstr(&w->pk, "leader");
        fn(&w->pk);
    }
}
static void
leader_int(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, 5550);
}
static void
leader_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void
leader_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void
leader_huge(msgpack_packer *pk)
{
    char *s = malloc(10 * 1024 + 1);
    memset(s, 'a', 10 * 1024);
    memcpy(s, "tcp://", 6);
    memcpy(s + 10 * 1024 - 5, ":5550", 5);
    s[10 * 1024] = '\0';
    codec_pack_cstr(pk, s);
    free(s);
}
static void
leader_junk(msgpack_packer *pk)
{
    codec_pack_cstr(pk, "rm -rf /; tcp://evil");
}
static void
leader_list(msgpack_packer *pk)
{
    codec_pack_cstr(pk, "tcp://a:1,tcp://b:2");
}
static void
leader_bin(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 9);
    msgpack_pack_bin_body(pk, "tcp://a:1", 9);
}

Test(eplist, hostile_leaders_are_refused)
{
    pack_leader_fn fns[] = {NULL,        leader_int,  leader_nil,  leader_map,
                            leader_huge, leader_junk, leader_list, leader_bin};
    codec_writer_t w;
    codec_writer_init(&w);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        hostile(&w, fns[i]);
        char leader[EPLIST_EP_MAX + 1];
        const char *why = NULL;
        cr_assert_eq(read_nl(w.buf.data, w.buf.size, leader, &why), -1, "case %zu", i);
        cr_assert_not_null(why);
        cr_assert_str_eq(leader, "", "case %zu", i);
        command_reply_t r;
        cr_assert_eq(codec_decode_command_reply(w.buf.data, w.buf.size, &r), -1, "case %zu", i);
    }
    codec_writer_fini(&w);
}
