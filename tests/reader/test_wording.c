/* The task list (wording/tasklist.c, format.c) on registries built by
 * hand, against values known in advance rather than against the code's
 * own output elsewhere: the exact id list of each `ps --group` row,
 * groups told apart by await site (not by function), biggest first, the
 * "where" column's file:line, a returned frame's caller as "where", and
 * the ages from a fixed clock. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "reg_image.h"
#include "tasktrace/abi/registry.h"
#include "tasktrace/read/taskjson.h"
#include "tasktrace/read/tasklist.h"

#define SEC 1000000000ull
#define NOW (1000ull * SEC)

typedef struct world {
	img g;
	uint64_t slots;
	uint32_t next;
	uint64_t f_serve, f_loop, f_fetch, f_recv, f_sleep;
	uint64_t s_serve12, s_serve40, s_loop7, s_done;
} world;

static void world_init(world *w)
{
	img *g = &w->g;

	memset(w, 0, sizeof(*w));
	img_init(g, 1 << 20);
	w->slots = img_chunk(g, 32);
	w->f_serve = img_func(g, "serve", TT_FUNC_KIND_ASYNC);
	w->f_loop = img_func(g, "poll_loop", TT_FUNC_KIND_ASYNC);
	w->f_fetch = img_func(g, "fetch", TT_FUNC_KIND_ASYNC);
	w->f_recv = img_func(g, "tt_chan_recv", TT_FUNC_KIND_LEAF);
	w->f_sleep = img_func(g, "tt_sleep", TT_FUNC_KIND_LEAF);
	/* One function, two await sites: two chains. */
	w->s_serve12 = img_site(g, "serve", "src/serve.c", 12, TT_SITEF_AWAIT);
	w->s_serve40 = img_site(g, "serve", "src/serve.c", 40, TT_SITEF_AWAIT);
	w->s_loop7 = img_site(g, "poll_loop", "src/loop.c", 7, TT_SITEF_AWAIT);
	w->s_done = img_site(g, "fetch", "src/fetch.c", 99, TT_SITEF_DONE);
}

static uint64_t add_task(world *w, uint64_t id, uint64_t root)
{
	uint64_t slot = img_slot(w->slots, w->next++);

	img_task(&w->g, slot, id, "t", TT_STATE_IDLE, root);
	img_set(&w->g, TT_REC_TASK, TT_TASK_POLLS, slot, 1);
	img_set(&w->g, TT_REC_TASK, TT_TASK_WAKERS, slot, 1);
	return slot;
}

/* Task ID idle in FUNC at SITE, its leaf a channel receive since AGO. */
static void recv_task(world *w, uint64_t id, uint64_t func, uint64_t site, uint64_t ago)
{
	img *g = &w->g;
	uint64_t leaf = img_frame(g, w->f_recv, 0, 0, 0);

	img_wait(g, leaf, TT_WAIT_CHAN_RECV, 0x5000 + id, 0, 0);
	img_set(g, TT_REC_WAIT, TT_WAIT_SINCE_NS, leaf, NOW - ago);
	add_task(w, id, img_frame(g, func, site, leaf, 0));
}

static char *list(world *w, int group)
{
	tt_snapshot *s = NULL;
	tt_list_opts o;
	char err[160];

	ck_assert_int_eq(
	    tt_snapshot_read(img_mem(&w->g), w->g.root_addr, NULL, &s, err, sizeof err), TT_R_OK);
	tt_list_opts_init(&o);
	o.group = group;
	char *text = tt_task_list(s, NOW, &o, err, sizeof err);
	ck_assert_msg(text, "%s", err);
	tt_snapshot_free(s);
	return text;
}

/* The line of TEXT that starts with PREFIX, or a failure. */
static const char *line_at(const char *text, const char *prefix, char *out, size_t cap)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			size_t n = strcspn(p, "\n");
			ck_assert_uint_lt(n, cap);
			memcpy(out, p, n);
			out[n] = 0;
			return out;
		}
	}
	ck_abort_msg("no line starting '%s' in:\n%s", prefix, text);
	return NULL;
}

/* The column of LINE from byte FROM to the next run of two blanks (or
 * the end). */
static const char *column(const char *line, size_t from, char *out, size_t cap)
{
	ck_assert_uint_le(from, strlen(line));
	const char *p = line + from, *end = strstr(p, "  ");
	size_t n = end ? (size_t)(end - p) : strlen(p);
	ck_assert_uint_lt(n, cap);
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

/* The Ids column (no blank in it; it may run into the next column). */
static const char *ids_of(const char *line, size_t from, char *out, size_t cap)
{
	ck_assert_uint_le(from, strlen(line));
	size_t n = strcspn(line + from, " ");
	const char *p = line + from;
	ck_assert_uint_lt(n, cap);
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

START_TEST(groups_by_await_site_with_every_id)
{
	world w;
	char line[512], col[128];

	world_init(&w);
	recv_task(&w, 3, w.f_serve, w.s_serve12, 3 * SEC);
	recv_task(&w, 4, w.f_serve, w.s_serve40, 3 * SEC);
	recv_task(&w, 5, w.f_serve, w.s_serve12, 3 * SEC);
	recv_task(&w, 6, w.f_serve, w.s_serve40, 3 * SEC);
	recv_task(&w, 9, w.f_serve, w.s_serve12, 3 * SEC);
	for (uint64_t id = 10; id < 20; id++)
		recv_task(&w, id, w.f_loop, w.s_loop7, 3 * SEC);
	char *t = list(&w, 1);

	/* Header, then the groups biggest first: 10, 3, 2 members. */
	const char *head = "  Count State              Wait                  Ids          Where\n";
	ck_assert_msg(strncmp(t, head, strlen(head)) == 0, "%s", t);
	size_t ids_col = (size_t)(strstr(head, "Ids") - head);
	size_t where_col = (size_t)(strstr(head, "Where") - head);
	const char *rows = t + strlen(head);
	ck_assert_msg(strncmp(rows, "  10 ", 5) == 0, "%s", t);
	ck_assert_msg(strncmp(strchr(rows, '\n') + 1, "  3 ", 4) == 0, "%s", t);

	line_at(t, "  10 ", line, sizeof line);
	ck_assert_str_eq(ids_of(line, ids_col, col, sizeof col), "10,11,12,13,14,15,16,17,...");
	ck_assert_ptr_nonnull(strstr(line, " poll_loop at src/loop.c:7"));
	line_at(t, "  3 ", line, sizeof line);
	ck_assert_str_eq(ids_of(line, ids_col, col, sizeof col), "3,5,9");
	ck_assert_str_eq(column(line, where_col, col, sizeof col), "serve at src/serve.c:12");
	ck_assert_str_eq(column(line, 27, col, sizeof col), "channel recv 3.0s");
	line_at(t, "  2 ", line, sizeof line);
	ck_assert_str_eq(ids_of(line, ids_col, col, sizeof col), "4,6");
	ck_assert_str_eq(column(line, where_col, col, sizeof col), "serve at src/serve.c:40");
	/* Exactly three groups. */
	size_t nl = 0;
	for (const char *p = t; *p; p++)
		nl += *p == '\n';
	ck_assert_msg(nl == 4, "%s", t);
	free(t);
	img_free(&w.g);
}
END_TEST

/* Eight members: every id, no "..."; nine: eight and "...". */
START_TEST(eight_ids_need_no_ellipsis)
{
	world w;
	char line[512];

	world_init(&w);
	for (uint64_t id = 1; id <= 8; id++)
		recv_task(&w, id, w.f_loop, w.s_loop7, SEC);
	for (uint64_t id = 11; id <= 19; id++)
		recv_task(&w, id, w.f_serve, w.s_serve12, SEC);
	char *t = list(&w, 1);
	line_at(t, "  8 ", line, sizeof line);
	ck_assert_msg(strstr(line, " 1,2,3,4,5,6,7,8 ") && !strstr(line, "..."), "%s", line);
	line_at(t, "  9 ", line, sizeof line);
	ck_assert_msg(strstr(line, " 11,12,13,14,15,16,17,18,... "), "%s", line);
	free(t);
	img_free(&w.g);
}
END_TEST

/* The plain rows: where (file:line of the await), the wait's age and a
 * timer's time left, from the fixed clock; a future that returned (its
 * site marked done) is not where the task is: its caller is. */
START_TEST(where_and_ages_are_known_values)
{
	world w;
	img *g = &w.g;
	char line[512], col[128];

	world_init(&w);
	recv_task(&w, 3, w.f_serve, w.s_serve40, 192 * SEC);
	uint64_t timer = img_frame(g, w.f_sleep, 0, 0, 0);
	img_wait(g, timer, TT_WAIT_TIMER, 0, 0, NOW + 90 * SEC);
	add_task(&w, 4, img_frame(g, w.f_loop, w.s_loop7, timer, 0));
	uint64_t leaf = img_frame(g, w.f_recv, 0, 0, 0);
	img_wait(g, leaf, TT_WAIT_CHAN_RECV, 0x6000, 0, 0);
	img_set(g, TT_REC_WAIT, TT_WAIT_SINCE_NS, leaf, NOW - 2 * SEC);
	uint64_t done = img_frame(g, w.f_fetch, w.s_done, leaf, 0);
	add_task(&w, 5, img_frame(g, w.f_serve, w.s_serve12, done, 0));
	char *t = list(&w, 0);

	const char *head = strstr(t, "Where");
	ck_assert_ptr_nonnull(head);
	size_t where_col = (size_t)(head - t);
	size_t wait_col = (size_t)(strstr(t, "Wait") - t);
	line_at(t, "  3 ", line, sizeof line);
	ck_assert_str_eq(column(line, wait_col, col, sizeof col), "channel recv 3m12s");
	ck_assert_str_eq(column(line, where_col, col, sizeof col), "serve at src/serve.c:40");
	line_at(t, "  4 ", line, sizeof line);
	ck_assert_str_eq(column(line, wait_col, col, sizeof col), "timer 1m30s left");
	ck_assert_str_eq(column(line, where_col, col, sizeof col), "poll_loop at src/loop.c:7");
	line_at(t, "  5 ", line, sizeof line);
	ck_assert_str_eq(column(line, wait_col, col, sizeof col), "channel recv 2.0s");
	ck_assert_str_eq(column(line, where_col, col, sizeof col), "serve at src/serve.c:12");
	free(t);
	img_free(&w.g);
}
END_TEST

/* What FN wrote to a FILE, as a malloc'd string. */
#define CAPTURE(out, stmt)                               \
	do {                                             \
		size_t len_;                             \
		FILE *f = open_memstream(&(out), &len_); \
		ck_assert_ptr_nonnull(f);                \
		stmt;                                    \
		fclose(f);                               \
	} while (0)

static void json_str_is(const char *in, const char *want)
{
	char *got = NULL;
	CAPTURE(got, tt_json_str(f, in));
	ck_assert_str_eq(got, want);
	free(got);
}

/* tt_json_str: quote and backslash escaped, control bytes and DEL as
 * \u00XX, valid UTF-8 kept, one U+FFFD per maximal invalid subpart (as
 * Unicode and Python's decoder count them: a cut sequence is one). */
START_TEST(json_strings)
{
	json_str_is(NULL, "null");
	json_str_is("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_str_is("x\001y\177z\n", "\"x\\u0001y\\u007fz\\u000a\"");
	json_str_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d",
		    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x8d\"");
	json_str_is("bad\xff!", "\"bad\\ufffd!\"");
	json_str_is("cut\xe2\x82", "\"cut\\ufffd\"");
	json_str_is("\xc0\xaf", "\"\\ufffd\\ufffd\"");
}
END_TEST

static tt_snapshot *snap_of(world *w)
{
	tt_snapshot *s = NULL;
	char err[160];
	ck_assert_int_eq(
	    tt_snapshot_read(img_mem(&w->g), w->g.root_addr, NULL, &s, err, sizeof err), TT_R_OK);
	return s;
}

/* A task's JSON values: wait only when idle (a scheduled task's stale
 * leaf is no wait), frame depths, and an ancestry that loops (corrupt
 * parent ids) listed once around. */
START_TEST(json_task_values)
{
	world w;
	char *out = NULL;

	world_init(&w);
	recv_task(&w, 1, w.f_serve, w.s_serve12, 5 * SEC);
	recv_task(&w, 2, w.f_serve, w.s_serve40, 5 * SEC);
	img_set(&w.g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(w.slots, 0), 2);
	img_set(&w.g, TT_REC_TASK, TT_TASK_PARENT_ID, img_slot(w.slots, 1), 1);
	img_set(&w.g, TT_REC_TASK, TT_TASK_STATE, img_slot(w.slots, 1), TT_STATE_SCHEDULED);
	uint64_t leaf = img_frame(&w.g, w.f_recv, 0, 0, 0);
	img_wait(&w.g, leaf, TT_WAIT_MUTEX, 0x7000, 1, 0);
	add_task(&w, 3, img_frame(&w.g, w.f_loop, w.s_loop7, leaf, 0));
	tt_snapshot *s = snap_of(&w);
	const tt_stask *t1 = tt_snapshot_find(s, 1), *t2 = tt_snapshot_find(s, 2);

	CAPTURE(out, tt_json_task_fields(f, s, NOW, t1));
	ck_assert_msg(strstr(out, "\"parent_id\":2,"), "%s", out);
	ck_assert_msg(strstr(out, "\"wait\":{\"kind\":\"channel recv\","), "%s", out);
	/* This image publishes no TASK.hist (§5.13): no histograms. */
	ck_assert_msg(strstr(out, ",\"histograms\":null"), "%s", out);
	ck_assert_msg(strstr(out, ",\"since_ns\":995000000000,\"age_ns\":5000000000,"), "%s", out);
	ck_assert_msg(strstr(out, "\"where\":{\"function\":\"serve\",\"file\":\"src/serve.c\","
				  "\"line\":12}"),
		      "%s", out);
	free(out);
	CAPTURE(out, tt_json_task_fields(f, s, NOW, t2));
	ck_assert_msg(strstr(out, "\"state\":\"scheduled\""), "%s", out);
	ck_assert_msg(strstr(out, "\"wait\":null,"), "%s", out);
	free(out);

	CAPTURE(out, tt_json_task_fields(f, s, NOW, tt_snapshot_find(s, 3)));
	ck_assert_msg(strstr(out,
			     "\"wait\":{\"kind\":\"mutex\",\"object\":\"0x7000\","
			     "\"object_name\":null,\"owner_id\":1,"
			     "\"owner_name\":\"t\","),
		      "%s", out);
	free(out);

	CAPTURE(out, tt_json_frames(f, s, NOW, t1, 0, NULL, NULL));
	ck_assert_msg(strstr(out, "{\"index\":0,") &&
			  strstr(out, "\"depth\":0,\"elided\":0,\"function\":\"serve\""),
		      "%s", out);
	ck_assert_msg(strstr(out, "{\"index\":1,") &&
			  strstr(out, "\"depth\":1,\"elided\":0,\"function\":\"tt_chan_recv\""),
		      "%s", out);
	free(out);

	CAPTURE(out, tt_json_ancestry(f, s, t1));
	ck_assert_str_eq(out, "[{\"id\":2,\"name\":\"t\",\"spawn_site\":null},"
			      "{\"id\":1,\"name\":\"t\",\"spawn_site\":null}]");
	free(out);
	tt_snapshot_free(s);
	img_free(&w.g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wording");
	TCase *tc = tcase_create("tasklist");
	tcase_add_test(tc, groups_by_await_site_with_every_id);
	tcase_add_test(tc, eight_ids_need_no_ellipsis);
	tcase_add_test(tc, where_and_ages_are_known_values);
	tcase_add_test(tc, json_strings);
	tcase_add_test(tc, json_task_values);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
