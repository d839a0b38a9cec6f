/* The short forms of future.h and combinators.h: TT_ASYNC / TT_POLL /
 * TT_NEW / TT_SPAWN_NEW / TT_GROUP_SPAWN_NEW, TT_ASYNC_CLEANUP, and
 * TT_SELECT / TT_JOIN_ALL with the children inline.  They must behave as the long forms they expand
 * to: results, cleanups, which child of a select won, the readers' names. */
#include "tasktrace/crash.h"
#include "test_util.h"

static int cleanups_unstarted, cleanups_started;

/* A leaf-free async function with an argument: sleeps, returns 10 * n. */
TT_ASYNC(napper, int n; tt_sleep nap;);
TT_POLL(napper)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(self->n)));
	TT_RETURN(self, 10 * self->n);
}

/* Waits for a notify nobody sends; its cleanup counts how it ended. */
static tt_notify never;
TT_ASYNC_CLEANUP(stuck, int *fd; tt_notified w;);
TT_POLL(stuck)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}
static void stuck_cleanup(stuck *self)
{
	if (tt_frame_started(&self->frame))
		cleanups_started++;
	else
		cleanups_unstarted++;
}

/* The three children of a join, inline; then a select of a short sleep
 * against a stuck child (the sleep wins, the loser's cleanup runs); then
 * a select where a notify wins over a long sleep. */
TT_ASYNC(combine, napper a; napper b; napper c; TT_JOIN_ALL_OF(3) all; tt_sleep tick; stuck s;
	 TT_SELECT_OF(2) sel; tt_notify go; tt_notified gw; tt_sleep slow; TT_SELECT_OF(2) sel2;
	 intptr_t sum; int first, second;);
TT_POLL(combine)
{
	TT_BEGIN(self);
	TT_JOIN_ALL(self, cx, &self->all, TT_CASE(&self->a, self->a = TT_NEW(napper, .n = 1)),
		    TT_CASE(&self->b, self->b = TT_NEW(napper, .n = 2)),
		    TT_CASE(&self->c, self->c = TT_NEW(napper, .n = 3)));
	self->sum = TT_RESULT(&self->a) + TT_RESULT(&self->b) + TT_RESULT(&self->c);
	TT_SELECT(self, cx, &self->sel, TT_CASE(&self->s, stuck_init(&self->s)),
		  TT_CASE(&self->tick, tt_sleep_init(&self->tick, TT_MS(1))));
	self->first = TT_SELECTED(&self->sel, &self->tick) ? 1 : -1;
	tt_notify_init(&self->go);
	tt_notify_one(&self->go); /* a stored permit: the notified is ready at once */
	TT_SELECT(self, cx, &self->sel2,
		  TT_CASE(&self->slow, tt_sleep_init(&self->slow, TT_SEC(3600))),
		  TT_CASE(&self->gw, tt_notified_init(&self->gw, &self->go)));
	self->second =
	    TT_SELECTED(&self->sel2, &self->gw) && !TT_SELECTED(&self->sel2, &self->slow) ? 1 : -1;
	TT_RETURN(self, self->sum);
}

START_TEST(test_short_forms)
{
	tt_runtime *rt = tt_test_runtime(_i);
	int before = cleanups_started;
	combine m;
	combine_init(&m);
	ck_assert_ptr_eq(m.frame.func, &combine_fn);
	ck_assert_str_eq(combine_fn.name, "combine");
	ck_assert_int_eq(tt_block_on(rt, &m.frame), 60);
	ck_assert_int_eq(m.first, 1);
	ck_assert_int_eq(m.second, 1);
	ck_assert_int_eq(cleanups_started, before + 1); /* the select's loser */
	tt_runtime_free(rt);
}
END_TEST

/* TT_SPAWN_NEW: the frame gets its fields; a task cancelled before its
 * first poll still runs a TT_ASYNC_CLEANUP cleanup. */
TT_ASYNC(spawner, tt_join j; tt_handle h;);
TT_POLL(spawner)
{
	TT_BEGIN(self);
	self->h = TT_SPAWN_NEW(NULL, "napper", napper, .n = 4);
	ck_assert_ptr_nonnull(self->h.task);
	ck_assert_str_eq(tt_task_name(self->h), "napper");
	TT_AWAIT(self, cx, &self->j, tt_join_init(&self->j, self->h));
	TT_RETURN(self, TT_RESULT(&self->j));
}

START_TEST(test_spawn_new)
{
	tt_runtime *rt = tt_test_runtime(1);
	spawner m;
	spawner_init(&m);
	ck_assert_int_eq(tt_block_on(rt, &m.frame), 40);
	int before = cleanups_unstarted + cleanups_started;
	tt_handle h = TT_SPAWN_NEW(rt, "stuck", stuck, .fd = NULL);
	ck_assert_ptr_nonnull(h.task);
	tt_task_cancel(h);
	tt_task_release(h);
	tt_runtime_free(rt); /* every task ended: its cleanup ran once, either way */
	ck_assert_int_eq(cleanups_unstarted + cleanups_started, before + 1);
}
END_TEST

/* TT_GROUP_SPAWN_NEW: the child gets its fields and runs in the group; a
 * spawn the group refuses (cancelled) is discarded, its cleanup run. */
TT_ASYNC(setter, int *out; int v;);
TT_POLL(setter)
{
	TT_BEGIN(self);
	*self->out = self->v;
	TT_RETURN(self, 0);
}

TT_ASYNC(group_spawner, tt_group *g; int out; tt_group_wait w;);
TT_POLL(group_spawner)
{
	TT_BEGIN(self);
	self->g = tt_group_new();
	ck_assert_int_eq(TT_GROUP_SPAWN_NEW(self->g, "setter", setter, .out = &self->out, .v = 7),
			 0);
	TT_AWAIT(self, cx, &self->w, tt_group_wait_init(&self->w, self->g));
	tt_group_free(self->g);
	TT_RETURN(self, self->out);
}

START_TEST(test_group_spawn_new)
{
	tt_runtime *rt = tt_test_runtime(1);
	group_spawner m;
	group_spawner_init(&m);
	ck_assert_int_eq(tt_block_on(rt, &m.frame), 7);
	tt_group *g = tt_group_new();
	tt_group_cancel(g);
	int before = cleanups_unstarted;
	ck_assert_int_eq(TT_GROUP_SPAWN_NEW(g, "stuck", stuck, .fd = NULL), TT_ECANCELED);
	ck_assert_int_eq(cleanups_unstarted, before + 1);
	tt_group_free(g);
	tt_runtime_free(rt);
}
END_TEST

/* tt_block_on_named: the root task carries the given name; NULL keeps
 * "block_on". */
TT_ASYNC(namer, char name[TT_TASK_NAME_MAX];);
TT_POLL(namer)
{
	TT_BEGIN(self);
	snprintf(self->name, sizeof self->name, "%s", tt_task_name(tt_current_task()));
	TT_RETURN(self, 0);
}

START_TEST(test_root_name)
{
	tt_runtime *rt = tt_test_runtime(_i);
	namer m = TT_NEW(namer);
	ck_assert_int_eq(tt_block_on_named(rt, &m.frame, "main"), 0);
	ck_assert_str_eq(m.name, "main");
	m = TT_NEW(namer);
	ck_assert_int_eq(tt_block_on_named(rt, &m.frame, NULL), 0);
	ck_assert_str_eq(m.name, "block_on");
	tt_runtime_free(rt);
}
END_TEST

/* The object names' setters refuse NULL objects. */
START_TEST(test_set_name_null)
{
	ck_assert_int_eq(tt_chan_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_mutex_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_semaphore_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_notify_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_oneshot_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_rwlock_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_token_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_watch_set_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(tt_group_set_name(NULL, "x"), -EINVAL);
}
END_TEST

/* Every object that can be named shows its name where readers word a wait
 * on it (the dump here; the CLI, gdb and the crash log word it with the
 * same code), not its address. */
static tt_rwlock named_rw;
static tt_group *named_group;
TT_ASYNC(rw_holder, tt_write_lock wl; tt_notified w;);
TT_POLL(rw_holder)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->wl, tt_write_lock_init(&self->wl, &named_rw));
	TT_AWAIT(self, cx, &self->w, tt_notified_init(&self->w, &never));
	TT_RETURN(self, 0);
}
TT_ASYNC(group_owner, tt_group_wait gw;);
TT_POLL(group_owner)
{
	TT_BEGIN(self);
	if (TT_GROUP_SPAWN_NEW(named_group, "child", stuck) < 0)
		TT_RETURN(self, -1);
	TT_AWAIT(self, cx, &self->gw, tt_group_wait_init(&self->gw, named_group));
	TT_RETURN(self, 0);
}

static char *dump_text(void)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	tt_dump_tasks(fileno(f));
	long n = lseek(fileno(f), 0, SEEK_END);
	char *text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(pread(fileno(f), text, (size_t)n, 0), n);
	fclose(f);
	return text;
}

START_TEST(test_object_names_shown)
{
	static const char *const want[] = {"rwlock \"table\"", "token \"stop\"",
					   "watch \"config\"", "group \"workers\""};
	static uint64_t seen = 1; /* the initial value's version: wait for a newer one */
	tt_runtime *rt = tt_runtime_new(&(tt_runtime_opts){.workers = 1});
	tt_token *tok = tt_token_new(NULL);
	int v = 0;
	tt_watch *w = tt_watch_new(sizeof v, &v);
	named_group = tt_group_new();
	tt_rwlock_init(&named_rw);
	tt_notify_init(&never);
	ck_assert(rt && tok && w && named_group);
	ck_assert_int_eq(tt_rwlock_set_name(&named_rw, "table"), 0);
	ck_assert_int_eq(tt_token_set_name(tok, "stop"), 0);
	ck_assert_int_eq(tt_watch_set_name(w, "config"), 0);
	ck_assert_int_eq(tt_group_set_name(named_group, "workers"), 0);
	tt_handle t[5];
	t[0] = TT_SPAWN_NEW(rt, "holder", rw_holder);
	t[1] = TT_SPAWN(rt, "reader", tt_read_lock, tt_read_lock_init, &named_rw);
	t[2] = TT_SPAWN(rt, "tokwait", tt_token_wait, tt_token_wait_init, tok);
	t[3] = TT_SPAWN(rt, "watcher", tt_watch_changed, tt_watch_changed_init, w, &seen, NULL);
	t[4] = TT_SPAWN_NEW(rt, "owner", group_owner);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_nonnull(t[i].task);
	char *dump = NULL;
	size_t found = 0;
	for (int tries = 0; tries < 2000 && found < 4; tries++) { /* until all wait */
		free(dump);
		dump = dump_text();
		found = 0;
		for (size_t i = 0; i < 4; i++)
			found += strstr(dump, want[i]) != NULL;
		if (found < 4)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(strstr(dump, want[i]), "no %s in\n%s", want[i], dump);
	free(dump);
	for (int i = 0; i < 5; i++) {
		tt_task_cancel(t[i]);
		tt_task_release(t[i]);
	}
	tt_group_cancel(named_group);
	tt_runtime_free(rt);
	tt_group_free(named_group);
	tt_watch_free(w);
	tt_token_free(tok);
}
END_TEST

static Suite *macros_suite(void)
{
	Suite *s = suite_create("macros");
	TCase *tc = tcase_create("macros");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_short_forms, 0, 3);
	tcase_add_test(tc, test_spawn_new);
	tcase_add_test(tc, test_group_spawn_new);
	tcase_add_loop_test(tc, test_root_name, 0, 2);
	tcase_add_test(tc, test_set_name_null);
	tcase_add_test(tc, test_object_names_shown);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(macros_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
