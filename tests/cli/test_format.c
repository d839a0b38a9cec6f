/* The shared wording (core-runtime/src/wording/format.c) on synthetic records:
 * durations, and the states no sample shows yet (running, scheduled,
 * torn, owners of locks). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasktrace/read/bt.h"
#include "tasktrace/read/format.h"
#include "tasktrace/read/taskjson.h"

static char buf[512];

static const char *dur(uint64_t ns)
{
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_duration(&b, ns);
	return buf;
}

START_TEST(durations)
{
	ck_assert_str_eq(dur(75), "75ns");
	ck_assert_str_eq(dur(420000), "420us");
	ck_assert_str_eq(dur(850000000ull), "850ms");
	ck_assert_str_eq(dur(12345000000ull), "12.3s");
	ck_assert_str_eq(dur(192000000000ull), "3m12s");
	ck_assert_str_eq(dur(7500000000000ull), "2h5m");
	ck_assert_str_eq(dur(0), "0ns");
}
END_TEST

static tt_rtask task(uint32_t state)
{
	tt_rtask t;
	memset(&t, 0, sizeof t);
	t.id = 7;
	t.state = state;
	t.worker = -1;
	strcpy(t.name, "fetch-user");
	return t;
}

static tt_rframe leaf(uint32_t kind, uint64_t since)
{
	tt_rframe f;
	memset(&f, 0, sizeof f);
	f.kind = TT_FUNC_KIND_LEAF;
	f.wait_kind = kind;
	f.wait_object = 0x55d0c0a0;
	f.wait_since_ns = since;
	return f;
}

#define NOW (1000 * 1000000000ull)

START_TEST(ps_rows)
{
	tt_rtask t = task(TT_STATE_IDLE);
	tt_rframe l = leaf(TT_WAIT_CHAN_RECV, NOW - 192000000000ull);
	tt_fmt_task v = { .task = &t, .leaf = &l, .where_func = "await_reply", .where_file = "samples/hung.c", .where_line = 28, .tid = -1 };
	tt_fbuf b;

	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    idle               channel recv 3m12s    fetch-user       await_reply at samples/hung.c:28");
	v.selected = 1; /* gdb's selected task; no trailing blanks without a where */
	v.where_func = NULL;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "* 7    idle               channel recv 3m12s    fetch-user");
	v.selected = 0;
	v.where_func = "await_reply";

	t = task(TT_STATE_RUNNING);
	t.worker = 1;
	v.tid = 4242;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    running            -                     fetch-user       running on worker 1 (tid 4242)");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_running(&b, 0, &v);
	ck_assert_str_eq(buf, "#0  <running on worker 1, tid 4242>");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_header(&b, &v, NOW);
	ck_assert_str_eq(buf, "task 7 \"fetch-user\" [running on worker 1, tid 4242]:");

	t = task(TT_STATE_SCHEDULED);
	t.wake_ns = NOW - 1200000000ull;
	v.error = "task 7: kept changing while read (17 tries)";
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    scheduled          runnable 1.2s         fetch-user       await_reply at samples/hung.c:28 (error: kept changing while read (17 tries))");
}
END_TEST

/* Labels: after the name in bt and tree, at the end of a ps row only when
 * asked; sanitised; the reader's marks for a cut or damaged list. */
START_TEST(label_words)
{
	tt_rtask t = task(TT_STATE_IDLE);
	tt_rframe l = leaf(TT_WAIT_NOTIFY, NOW - 3000000000ull);
	tt_fmt_task v = {.task = &t, .leaf = &l, .where_func = "await_reply",
			 .where_file = "samples/hung.c", .where_line = 28, .tid = -1};
	tt_fbuf b;

	strcpy(t.labels[0].key, "tenant");
	strcpy(t.labels[0].value, "acme");
	strcpy(t.labels[1].key, "route");
	strcpy(t.labels[1].value, "/x\x1b[2J\xff");
	t.nlabels = 2;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_header(&b, &v, NOW);
	ck_assert_str_eq(buf, "task 7 \"fetch-user\" {tenant=acme route=/x\\x1b[2J\\xff} [notify, 3.0s]:");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_tree_node(&b, 2, &v, NOW);
	ck_assert_str_eq(buf, "  7 \"fetch-user\" {tenant=acme route=/x\\x1b[2J\\xff} idle [notify 3.0s]");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_ptr_null(strchr(buf, '{'));
	v.labels = 1;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, NOW);
	ck_assert_str_eq(buf, "  7    idle               notify 3.0s           fetch-user       await_reply at samples/hung.c:28  {tenant=acme route=/x\\x1b[2J\\xff}");

	t.label_flags = TT_RLABELS_CUT | TT_RLABELS_BAD;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_labels(&b, &t);
	ck_assert_str_eq(buf, "{tenant=acme route=/x\\x1b[2J\\xff ... ?}");
	t.nlabels = 0;
	t.label_flags = TT_RLABELS_BAD;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_labels(&b, &t);
	ck_assert_str_eq(buf, "{?}");
	t.label_flags = 0;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_labels(&b, &t);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* A named object reads by its name, everywhere a wait is worded; the name
 * is the target's bytes, escaped like a task name. */
START_TEST(object_names)
{
	tt_fbuf b;
	tt_rtask t = task(TT_STATE_IDLE);
	tt_rframe l = leaf(TT_WAIT_CHAN_RECV, NOW - 3000000000ull);
	strcpy(l.wait_name, "jobs");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_recv", NULL, 0, 0, NULL, NOW);
	ck_assert_str_eq(buf, "#0  tt_recv  waits on channel recv \"jobs\" [for 3.0s]");
	tt_fmt_task v = {.task = &t, .leaf = &l, .tid = -1};
	/* ps: the column keeps its width; bt's header and tree name it */
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_wait_short(&b, &v, NOW);
	ck_assert_str_eq(buf, "channel recv 3.0s");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_header(&b, &v, NOW);
	ck_assert_str_eq(buf, "task 7 \"fetch-user\" [channel recv \"jobs\", 3.0s]:");

	l = leaf(TT_WAIT_MUTEX, NOW - 5000000000ull);
	l.wait_owner = 5;
	strcpy(l.wait_name, "config\033[2J\n");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_lock", NULL, 0, 0, "writer", NOW);
	ck_assert_msg(!strchr(buf, '\033') && !strchr(buf, '\n'), "%s", buf);
	ck_assert_msg(strstr(buf, "waits on mutex \"config"), "%s", buf);
	ck_assert_msg(strstr(buf, "\" held by task 5 \"writer\" [for 5.0s]"), "%s", buf);
}
END_TEST

START_TEST(leaf_words)
{
	tt_fbuf b;
	tt_rframe l = leaf(TT_WAIT_MUTEX, NOW - 5000000000ull);
	l.wait_owner = 5;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_lock", NULL, 0, 0, "writer", NOW);
	ck_assert_str_eq(buf, "#0  tt_lock  waits on mutex 0x55d0c0a0 held by task 5 \"writer\" [for 5.0s]");

	l = leaf(TT_WAIT_TIMER, 0);
	l.wait_detail = NOW + 3598000000000ull;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 0, 0, &l, "tt_sleep", NULL, 0, 0, NULL, NOW);
	ck_assert_str_eq(buf, "#0  tt_sleep  timer, deadline in 59m58s");

	tt_rframe a;
	memset(&a, 0, sizeof a);
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_bt_frame(&b, 12, 0, &a, "await_reply", "samples/hung.c", 28, 0, NULL, NOW);
	ck_assert_str_eq(buf, "#12 await_reply () at samples/hung.c:28");

	/* A hostile name cannot carry escape sequences to the terminal. */
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ancestor(&b, 1, "evil\033[2J", "x.c", 3, "f");
	ck_assert_str_eq(buf, "spawned by task 1 \"evil\\x1b[2J\" at x.c:3 (f)");
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ancestor(&b, 9, NULL, NULL, 0, NULL);
	ck_assert_str_eq(buf, "spawned by task 9 (gone)");
}
END_TEST

/* ---- the backtrace printer (bt.c) over synthetic frames ---- */

typedef struct bt_case {
	tt_rframe f[5];
	const char *func[5], *file[5];
	char out[4096];
	size_t len;
	int refuse_after; /* lines taken before the writer says no; -1 never */
	int chain;	  /* the ancestry: 0 a cycle, 1 endless distinct tasks */
} bt_case;

static void bt_names(void *ctx, size_t i, tt_bt_names *out)
{
	bt_case *c = ctx;
	out->func = c->func[i];
	out->file = c->file[i];
	out->line = c->file[i] ? (uint32_t)(10 * i + 1) : 0;
}

static const char *bt_task_name(void *ctx, uint64_t id)
{
	return id == 9 ? "owner" : NULL;
}

static int bt_task(void *ctx, uint64_t id, tt_bt_link *out)
{
	bt_case *c = ctx;
	out->name = "up";
	out->parent_id = c->chain ? id + 1 : (id == 5 ? 6 : 5);
	out->file = "s.c";
	out->line = (uint32_t)id;
	out->function = "spawn_fn";
	return 1;
}

static int bt_out(void *ctx, const char *s, size_t n)
{
	bt_case *c = ctx;
	if (c->refuse_after == 0)
		return 0;
	c->refuse_after--;
	ck_assert_uint_lt(c->len + n + 1, sizeof c->out);
	memcpy(c->out + c->len, s, n);
	c->len += n;
	c->out[c->len++] = '\n';
	c->out[c->len] = 0;
	return 1;
}

static const tt_bt_native inlined_into = {0x1000, 0, "main", "m.c", 7, NULL};

static int bt_inline(void *ctx, size_t i, const tt_bt_native **out)
{
	*out = &inlined_into;
	return i == 0;
}

static int bt_native_fails(void *ctx, const tt_bt_native **out, char *err, size_t errlen)
{
	strcpy(err, "boom");
	return -1;
}

static const tt_bt_native working = {0x2000, 0, "work_poll", "w.c", 3, NULL};

static int bt_native_ok(void *ctx, const tt_bt_native **out, char *err, size_t errlen)
{
	*out = &working;
	return 1;
}

/* outer (0) awaits a select (1) whose first branch is a timer leaf (2)
 * and whose second is an async function (3) awaiting a join (4). */
static void bt_case_init(bt_case *c)
{
	memset(c, 0, sizeof *c);
	static const int parent[5] = {-1, 0, 1, 1, 3};
	static const uint32_t depth[5] = {0, 1, 2, 2, 3};
	static const char *const func[5] = {"outer", "tt_select", "tt_sleep", "branch", "tt_join"};
	static const char *const file[5] = {"a.c", NULL, NULL, "b.c", NULL};
	for (int i = 0; i < 5; i++) {
		c->f[i].parent = parent[i];
		c->f[i].depth = depth[i];
		c->func[i] = func[i];
		c->file[i] = file[i];
	}
	c->f[1].kind = TT_FUNC_KIND_COMBINATOR;
	c->f[2] = leaf(TT_WAIT_TIMER, 0);
	c->f[2].parent = 1, c->f[2].depth = 2;
	c->f[4] = leaf(TT_WAIT_JOIN, NOW - 2000000000ull);
	c->f[4].parent = 3, c->f[4].depth = 3, c->f[4].wait_owner = 9;
	c->refuse_after = -1;
}

static int bt_run(bt_case *c, uint32_t state, int with_native)
{
	char line[256];
	size_t path[5];
	tt_rtask t;
	memset(&t, 0, sizeof t);
	t.id = 7;
	t.state = state;
	t.worker = 1;
	t.parent_id = 5;
	strcpy(t.name, "t");
	tt_fmt_task v = {.task = &t, .leaf = &c->f[2], .where_func = "outer", .where_file = "a.c", .where_line = 1, .tid = 42};
	tt_bt_src src = {.ctx = c,
			 .names = bt_names,
			 .task_name = bt_task_name,
			 .task = bt_task,
			 .line = bt_out,
			 .inline_callers = bt_inline,
			 .native = with_native == 2 ? bt_native_ok
				   : with_native    ? bt_native_fails
						    : NULL,
			 .buf = line,
			 .bufcap = sizeof line,
			 .path = path,
			 .pathcap = 5};
	tt_bt_task bt = {
	    &v, c->f, sizeof c->f[0], 5, "task 7: frame 0x10 misaligned", "p.c", "parent_fn",
	    3,	NOW};
	return tt_bt_print(&src, &bt);
}

START_TEST(bt_printer)
{
	static bt_case c;

	bt_case_init(&c);
	ck_assert_int_eq(bt_run(&c, TT_STATE_IDLE, 0), 1);
	ck_assert_str_eq(c.out, "task 7 \"t\" [timer]:\n"
				"#0  tt_sleep  timer\n"
				"#1  tt_select () (not suspended at an await)\n"
				"    also awaiting:\n"
				"        tt_join  waits on join of task 9 \"owner\" [for 2.0s]\n"
				"        branch () at b.c:31\n"
				"#2  outer () at a.c:1\n"
				"#3  0x1000 in main () at m.c:7\n"
				"error: frame 0x10 misaligned\n"
				"spawned by task 5 \"up\" at p.c:3 (parent_fn)\n"
				"spawned by task 6 \"up\" at s.c:5 (spawn_fn)\n"
				"(spawn cycle back to task 5: corrupt registry)\n");

	/* Running, with no machine stack to be had: the chain follows. */
	bt_case_init(&c);
	c.chain = 1;
	ck_assert_int_eq(bt_run(&c, TT_STATE_RUNNING, 1), 1);
	ck_assert_ptr_nonnull(strstr(c.out, "[running on worker 1, tid 42]:\n"
					    "#0  <running on worker 1, tid 42>\n"
					    "    (no machine stack: boom)\n"
					    "#1  tt_sleep  timer\n"));
	ck_assert_ptr_nonnull(strstr(c.out, "\nspawned by task 68 \"up\" at s.c:67 (spawn_fn)\n"
					    "(ancestry deeper than 64 tasks, cut)\n"));

	/* Running, its machine stack printed: the select's branches follow,
	 * every one, since the stack shows only the one being polled. */
	bt_case_init(&c);
	ck_assert_int_eq(bt_run(&c, TT_STATE_RUNNING, 2), 1);
	ck_assert_ptr_nonnull(
	    strstr(c.out, "[running on worker 1, tid 42]:\n"
			  "#0  0x2000 in work_poll () at w.c:3\n"
			  "    tt_select () (not suspended at an await)\n"
			  "    also awaiting:\n"
			  "        tt_sleep  timer\n"
			  "    also awaiting:\n"
			  "        tt_join  waits on join of task 9 \"owner\" [for 2.0s]\n"
			  "        branch () at b.c:31\n"
			  "error: frame 0x10 misaligned\n"
			  "spawned by task 5 "));

	/* Frames the reader elided (a chain deeper than it keeps): the
	 * depths say how many, in one line where they were. */
	bt_case_init(&c);
	for (int i = 1; i < 5; i++)
		c.f[i].depth += 44;
	ck_assert_int_eq(bt_run(&c, TT_STATE_IDLE, 0), 1);
	ck_assert_ptr_nonnull(strstr(c.out, "        branch () at b.c:31\n"
					    "    ... 44 frames elided ...\n"
					    "#2  outer () at a.c:1\n"));
	bt_case_init(&c);
	c.f[4].depth += 1;
	ck_assert_int_eq(bt_run(&c, TT_STATE_IDLE, 0), 1);
	ck_assert_ptr_nonnull(
	    strstr(c.out, "        tt_join  waits on join of task 9 \"owner\" [for 2.0s]\n"
			  "            ... 1 frame elided ...\n"
			  "        branch () at b.c:31\n"));

	/* A writer that takes no more: 0, and nothing past it. */
	bt_case_init(&c);
	c.refuse_after = 2;
	ck_assert_int_eq(bt_run(&c, TT_STATE_IDLE, 0), 0);
	ck_assert_str_eq(c.out, "task 7 \"t\" [timer]:\n#0  tt_sleep  timer\n");
}
END_TEST

START_TEST(buffer_never_overflows)
{
	char small[8];
	tt_fbuf b;
	tt_fb_init(&b, small, sizeof small);
	tt_fb_str(&b, "a much longer text than fits");
	tt_fb_u64(&b, 123456789);
	tt_fb_pad(&b, 100);
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_str_eq(small, "a much ");
}
END_TEST

/* Names from target memory, as text and as JSON: one sanitiser
 * (wording/untrusted.c) behind tt_fb_text and tt_json_str. */
static const struct {
	const char *raw, *text, *json;
} hostile[] = {
	{ "plain name", "plain name", "\"plain name\"" },
	/* Overlong NUL and slash: each byte its own bad sequence. */
	{ "a\xc0\x80z", "a\\xc0\\x80z", "\"a\\ufffd\\ufffdz\"" },
	{ "\xe0\x80\xaf", "\\xe0\\x80\\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },
	/* A surrogate, U+D800. */
	{ "s\xed\xa0\x80", "s\\xed\\xa0\\x80", "\"s\\ufffd\\ufffd\\ufffd\"" },
	/* U+110000, above the last code point. */
	{ "\xf4\x90\x80\x80!", "\\xf4\\x90\\x80\\x80!", "\"\\ufffd\\ufffd\\ufffd\\ufffd!\"" },
	/* A sequence cut short is one bad sequence. */
	{ "cut\xe2\x82", "cut\\xe2\\x82", "\"cut\\ufffd\"" },
	{ "\xf0\x9d\x84x", "\\xf0\\x9d\\x84x", "\"\\ufffdx\"" },
	/* CSI as a raw byte, and as U+009B. */
	{ "\x9b" "2J", "\\x9b" "2J", "\"\\ufffd" "2J\"" },
	{ "\xc2\x9b" "2J", "\\xc2\\x9b" "2J", "\"\\u009b" "2J\"" },
	{ "\x1b[31m\x7f\t", "\\x1b[31m\\x7f\\x09", "\"\\u001b[31m\\u007f\\u0009\"" },
	{ "\xf5\xff", "\\xf5\\xff", "\"\\ufffd\\ufffd\"" },
	{ "back\\slash \"q\"", "back\\\\slash \"q\"", "\"back\\\\slash \\\"q\\\"\"" },
	/* Valid UTF-8 passes through unchanged: U+00A0 (the first
	 * printable past the C1 controls), 2-, 3- and 4-byte forms. */
	{ "\xc2\xa0na\xc3\xafve \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf",
	  "\xc2\xa0na\xc3\xafve \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf",
	  "\"\xc2\xa0na\xc3\xafve \xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"" },
};

START_TEST(hostile_names)
{
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		tt_fbuf b;
		char *json = NULL;
		size_t len = 0;

		tt_fb_init(&b, buf, sizeof buf);
		tt_fb_text(&b, hostile[i].raw);
		ck_assert_msg(strcmp(buf, hostile[i].text) == 0, "text of case %zu: %s", i, buf);
		FILE *f = open_memstream(&json, &len);
		tt_json_str(f, hostile[i].raw);
		fclose(f);
		ck_assert_msg(strcmp(json, hostile[i].json) == 0, "JSON of case %zu: %s", i, json);
		free(json);
	}
	/* The same words wherever a name is printed: the ps row. */
	tt_rtask t = task(TT_STATE_IDLE);
	tt_fmt_task v = { .task = &t, .tid = -1 };
	strcpy(t.name, "x\xc2\x9b\xed\xa0\x80");
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_ps_row(&b, &v, 0);
	ck_assert_msg(strstr(buf, " x\\xc2\\x9b\\xed\\xa0\\x80"), "%s", buf);
}
END_TEST

/* Random bytes (seeded): the text form is printable ASCII or valid UTF-8
 * without controls, and undoing its escapes gives the bytes back. */
START_TEST(hostile_names_random)
{
	static const unsigned char pick[] = { 'a', '\\', '"', 'x', 0x1b, 0x7f, 0x80, 0x9b, 0xbf,
					      0xc0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0,
					      0xf4, 0xf5, 0xa0, 0x8f, 0x90, 0x9f, 0xff };
	static char out[4 * 64 + 1];
	unsigned seed = 11;

	for (int round = 0; round < 5000; round++) {
		unsigned char raw[65];
		size_t n = (size_t)(rand_r(&seed) % 64) + 1;
		for (size_t i = 0; i < n; i++)
			raw[i] = pick[rand_r(&seed) % sizeof pick];
		raw[n] = 0;
		tt_fbuf b;
		tt_fb_init(&b, out, sizeof out);
		tt_fb_text(&b, (const char *)raw);
		/* Undo: \\ and \xHH; anything else is itself. */
		unsigned char back[65];
		size_t k = 0;
		int clean = 1;
		for (const unsigned char *p = (const unsigned char *)out; *p && k < n + 1; k++) {
			clean &= *p >= 0x20 && *p != 0x7f && (*p != 0xc2 || p[1] >= 0xa0);
			if (p[0] == '\\' && p[1] == '\\') {
				back[k] = '\\';
				p += 2;
			} else if (p[0] == '\\' && p[1] == 'x') {
				back[k] = (unsigned char)strtoul((const char[]){ (char)p[2], (char)p[3], 0 },
								 NULL, 16);
				p += 4;
			} else {
				back[k] = *p++;
			}
		}
		ck_assert_msg(clean, "round %d: a control in %s", round, out);
		ck_assert_msg(k == n && !memcmp(back, raw, n), "round %d: %s", round, out);
	}
}
END_TEST

/* A full buffer takes whole characters and whole escapes only. */
START_TEST(hostile_names_cut)
{
	char small[5];
	tt_fbuf b;

	tt_fb_init(&b, small, sizeof small);
	tt_fb_text(&b, "ab\x9b");
	ck_assert_str_eq(small, "ab");
	tt_fb_init(&b, small, sizeof small);
	tt_fb_text(&b, "ab\xe2\x82\xac");
	ck_assert_str_eq(small, "ab");
	tt_fb_init(&b, small, sizeof small);
	tt_fb_text(&b, "a\xe2\x82\xac");
	ck_assert_str_eq(small, "a\xe2\x82\xac");
}
END_TEST

/* The reader rules of several runtimes and fork (docs/registry-abi.md
 * §5.9) and their words: a registry whose pid is not the target's is a
 * copy as a whole (a runtime that does not mark forks); a marked one
 * covers the parent's runtimes only. */
START_TEST(runtimes_and_fork_words)
{
	char mem[256];
	tt_fbuf b;
	tt_runtimes rt;

	memset(&rt, 0, sizeof rt);
	rt.root_pid = 100;
	tt_runtimes_see(&rt, 1);
	tt_runtimes_see(&rt, 1);
	ck_assert_uint_eq(rt.count, 1);
	tt_runtimes_set_target(&rt, 100);
	ck_assert_uint_eq(tt_runtimes_inherited(&rt, 1), 0);
	tt_runtimes_set_target(&rt, 200);
	ck_assert_uint_eq(tt_runtimes_inherited(&rt, 1), 100);
	ck_assert_uint_eq(tt_runtimes_inherited(&rt, 7), 100);
	tt_fb_init(&b, mem, sizeof mem);
	tt_fmt_fork_note(&b, &rt);
	ck_assert_str_eq(mem, "registry inherited from parent PID 100 through fork: its tasks are "
			      "the parent's, frozen");

	/* Marked by the runtime: runtimes 1-2 are the parent's, 3 the child's. */
	memset(&rt, 0, sizeof rt);
	rt.root_pid = 200;
	rt.inherited_from = 100;
	rt.inherited_upto = 2;
	for (uint64_t id = 1; id <= 3; id++)
		tt_runtimes_see(&rt, id);
	tt_runtimes_set_target(&rt, 200);
	ck_assert_uint_eq(tt_runtimes_inherited(&rt, 2), 100);
	ck_assert_uint_eq(tt_runtimes_inherited(&rt, 3), 0);
	tt_fb_init(&b, mem, sizeof mem);
	tt_fmt_fork_note(&b, &rt);
	ck_assert_str_eq(mem,
			 "the tasks of runtimes 1-2 were inherited from parent PID 100 through "
			 "fork: they are the parent's, frozen");

	/* Worker 0 of runtime 3, not of runtime 1; none for the copies. */
	tt_rworker w[2] = {{.tid = 11, .index = 0, .runtime_id = 1},
			   {.tid = 33, .index = 0, .runtime_id = 3}};
	ck_assert_int_eq(tt_runtimes_worker_tid(&rt, w, 2, 3, 0), 33);
	ck_assert_int_eq(tt_runtimes_worker_tid(&rt, w, 2, 1, 0), -1);
	tt_fb_init(&b, mem, sizeof mem);
	tt_fmt_worker(&b, 3, 0, rt.count > 1);
	tt_fb_str(&b, " ");
	tt_fmt_worker(&b, 3, -1, 0);
	ck_assert_str_eq(mem, "3.0 ?");
}
END_TEST

/* A thread's system call from registers (a core's, gdb's) and from the
 * /proc line: the same words, and the states a stop can catch. */
static const char *sc_words(const tt_syscall *sc, const char *wchan)
{
	tt_fbuf b;
	tt_fb_init(&b, buf, sizeof buf);
	tt_fmt_syscall_of(&b, sc, wchan);
	return buf;
}

START_TEST(syscall_words)
{
	tt_syscall sc, line;
	const uint64_t args[6] = {3, 0x7ffd0000, 1, 0, 0, 0};

	/* read(3) interrupted by the stop (-ERESTARTSYS): blocked in it, as
	 * the /proc line of the same thread says. */
	ck_assert_int_eq(tt_syscall_from_regs(0, -512, args, &sc), TT_SC_BLOCKED);
	ck_assert_str_eq(sc_words(&sc, NULL), "blocked in read(3, ...)");
	ck_assert_int_eq(tt_syscall_parse("0 0x3 0x7ffd0000 0x1 0x0 0x0 0x0 0x7ffc 0x7f00", &line),
			 TT_SC_BLOCKED);
	ck_assert_int_eq(line.nr, 0);
	ck_assert_uint_eq(line.args[1], 0x7ffd0000);
	ck_assert_str_eq(sc_words(&line, "pipe_read"), "blocked in read(3, ...) (wchan pipe_read)");
	ck_assert_int_eq(tt_syscall_from_regs(0, -4, args, &sc), TT_SC_BLOCKED);
	/* Stopped as the call returned: not blocked in it. */
	ck_assert_int_eq(tt_syscall_from_regs(0, 1, args, &sc), TT_SC_RETURNING);
	ck_assert_str_eq(sc_words(&sc, NULL), "returning from read(3, ...) = 1");
	ck_assert_int_eq(tt_syscall_from_regs(0, -11, args, &sc), TT_SC_RETURNING);
	ck_assert_str_eq(sc_words(&sc, NULL), "returning from read(3, ...) = -11");
	/* No call (orig_rax -1), unknown, running. */
	ck_assert_int_eq(tt_syscall_from_regs(-1, 0, args, &sc), TT_SC_NONE);
	ck_assert_str_eq(sc_words(&sc, NULL), "blocked outside a system call");
	ck_assert_int_eq(tt_syscall_parse("-1 0x7ffc 0x7f00", &line), TT_SC_NONE);
	ck_assert_int_eq(tt_syscall_parse(NULL, &sc), TT_SC_UNKNOWN);
	ck_assert_str_eq(sc_words(&sc, NULL), "in an unknown state (no system call information)");
	ck_assert_str_eq(sc_words(NULL, NULL), "in an unknown state (no system call information)");
	ck_assert_int_eq(tt_syscall_parse("running", &sc), TT_SC_RUNNING);
	/* A call without a name: its number; a non-fd argument in hex. */
	ck_assert_int_eq(tt_syscall_from_regs(100000, -512, args, &sc), TT_SC_BLOCKED);
	ck_assert_str_eq(sc_words(&sc, NULL), "blocked in system call 100000(0x3, ...)");
	ck_assert_str_eq(tt_syscall_state_word(TT_SC_RETURNING), "returning");
	ck_assert_str_eq(tt_syscall_state_word(99), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("words");
	tcase_add_test(tc, durations);
	tcase_add_test(tc, ps_rows);
	tcase_add_test(tc, leaf_words);
	tcase_add_test(tc, label_words);
	tcase_add_test(tc, object_names);
	tcase_add_test(tc, bt_printer);
	tcase_add_test(tc, buffer_never_overflows);
	tcase_add_test(tc, hostile_names);
	tcase_add_test(tc, hostile_names_cut);
	tcase_add_test(tc, hostile_names_random);
	tcase_add_test(tc, runtimes_and_fork_words);
	tcase_add_test(tc, syscall_words);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
