/* Task labels as a program sets them (tasktrace/runtime.h): a task labels
 * itself, its children inherit and override at spawn, misuse is refused
 * with an error code, and a reader decoding the registry finds exactly
 * the labels the tasks hold. */
#include <errno.h>

#include "tasktrace/read/reader.h"
#include "test_util.h"

static tt_notify never;

typedef struct leafy {
	tt_frame frame;
	int set;
	tt_notified wait;
} leafy;
static tt_poll leafy_poll(leafy *self, tt_cx *cx);
TT_ASYNC_FN(leafy, leafy_poll, NULL);
static tt_poll leafy_poll(leafy *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->set)
		tt_task_set_label(tt_current_task(), "stage", "leaf");
	TT_AWAIT(self, cx, &self->wait, tt_notified_init(&self->wait, &never));
	TT_RETURN(self, 0);
}
static void leafy_init(leafy *f, int set)
{
	tt_frame_init(&f->frame, &leafy_fn);
	f->set = set;
}

enum { MISUSE_N = 10 };
typedef struct parent {
	tt_frame frame;
	tt_handle kid, kid2, bad;
	int misuse[MISUSE_N];
	const char *got_tenant, *got_removed;
	int bad_errno, set_tenant, spawned_set;
	tt_sleep nap;
} parent;
static tt_poll parent_poll(parent *self, tt_cx *cx);
TT_ASYNC_FN(parent, parent_poll, NULL);

static const tt_label kid_labels[] = {{"request_id", "42"}, {"route", "/users"}};
static const tt_label override[] = {{"tenant", "globex"}};
static const tt_label too_many[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}};

static tt_poll parent_poll(parent *self, tt_cx *cx)
{
	TT_BEGIN(self);
	tt_handle me = tt_current_task();
	self->set_tenant = tt_task_set_label(me, "tenant", "acme");
	tt_task_set_label(me, "tmp", "x");
	self->got_tenant = tt_task_label(me, "tenant");
	self->misuse[0] = tt_task_set_label(me, NULL, "v");
	self->misuse[1] = tt_task_set_label(me, "", "v");
	self->misuse[2] = tt_task_set_label(me, "a=b", "v");
	self->misuse[3] = tt_task_set_label(me, "sixteen-bytes-ky", "v");
	self->misuse[4] = tt_task_set_label(me, "k", "a value of thirty-two bytes long");
	self->misuse[5] = tt_task_set_label((tt_handle){NULL, 0}, "k", "v");
	tt_task_set_label(me, "x1", "1");
	tt_task_set_label(me, "x2", "2");
	self->misuse[6] = tt_task_set_label(me, "x3", "3");  /* a fifth */
	self->misuse[7] = tt_task_set_label(me, "x2", "22"); /* replaces: fits */
	tt_task_set_label(me, "x1", NULL);
	tt_task_set_label(me, "x2", NULL);
	tt_task_set_label(me, "tmp", NULL);
	self->misuse[8] = tt_task_set_label(me, "never-set", NULL);
	self->got_removed = tt_task_label(me, "tmp");
	/* Inherits tenant=acme, adds two. */
	self->kid = TT_SPAWN_LABELED(NULL, "request", kid_labels, 2, leafy, leafy_init, 1);
	/* Overrides the inherited tenant. */
	self->kid2 = TT_SPAWN_LABELED(NULL, "other", override, 1, leafy, leafy_init, 0);
	/* tenant + 4 new: no room. */
	self->bad = TT_SPAWN_LABELED(NULL, "bad", too_many, 4, leafy, leafy_init, 0);
	self->bad_errno = errno;
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_MS(20)));
	/* Another task's labels: refused. */
	self->misuse[9] = tt_task_set_label(self->kid, "k", "v");
	__atomic_store_n(&self->spawned_set, 1, __ATOMIC_RELEASE);
	TT_AWAIT(self, cx, &self->nap, tt_sleep_init(&self->nap, TT_SEC(3600)));
	TT_RETURN(self, 0);
}

static const tt_rtask *find(const tt_rtask *ts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ts[i].name, name) == 0)
			return &ts[i];
	ck_abort_msg("no task %s", name);
	return NULL;
}

static const char *label_of(const tt_rtask *t, const char *key)
{
	for (uint32_t i = 0; i < t->nlabels; i++)
		if (strcmp(t->labels[i].key, key) == 0)
			return t->labels[i].value;
	return NULL;
}

START_TEST(test_set_inherit_misuse_and_read)
{
	setenv("TASKTRACE_STALE_HANDLES", "error", 1);
	tt_notify_init(&never);
	tt_runtime *rt = tt_test_runtime(2);
	parent *p = calloc(1, sizeof *p);
	tt_frame_init(&p->frame, &parent_fn);
	tt_handle root = tt_spawn_at(rt, &(tt_spawn_opts){"parent", NULL, 0}, &p->frame, NULL);
	ck_assert_ptr_nonnull(root.task);
	/* From main, not the task's thread. */
	ck_assert_int_eq(tt_task_set_label(root, "k", "v"), -EPERM);
	while (!__atomic_load_n(&p->spawned_set, __ATOMIC_ACQUIRE))
		tt_test_sleep_us(1000);

	ck_assert_int_eq(p->set_tenant, 0);
	ck_assert_str_eq(p->got_tenant, "acme");
	ck_assert_ptr_null(p->got_removed);
	int want[MISUSE_N] = {-EINVAL, -EINVAL, -EINVAL, -ENAMETOOLONG, -ENAMETOOLONG, -EINVAL,
			      -ENOSPC, 0,	0,	 -EPERM};
	for (int i = 0; i < MISUSE_N; i++)
		ck_assert_msg(p->misuse[i] == want[i], "misuse %d: %d, want %d", i, p->misuse[i],
			      want[i]);
	ck_assert_ptr_null(p->bad.task);
	ck_assert_int_eq(p->bad_errno, ENOSPC);
	ck_assert_str_eq(tt_task_label(p->kid, "tenant"), "acme");
	ck_assert_str_eq(tt_task_label(p->kid, "route"), "/users");
	ck_assert_str_eq(tt_task_label(p->kid2, "tenant"), "globex");
	ck_assert_ptr_null(tt_task_label(p->kid2, "route"));

	/* What a reader sees, through the layout table. */
	tt_reader r;
	ck_assert_int_eq(
	    tt_reader_open(&r, tt_mem_self(), (uint64_t)(uintptr_t)tt_registry_root(), NULL), 0);
	tt_rtask ts[16];
	size_t n = 0;
	tt_task_iter it;
	tt_task_iter_init(&r, &it);
	while (n < 16 && tt_task_iter_next(&r, &it, &ts[n]) == 1)
		n++;
	const tt_rtask *par = find(ts, n, "parent"), *kid = find(ts, n, "request"),
		       *kid2 = find(ts, n, "other");
	ck_assert_uint_eq(par->nlabels, 1);
	ck_assert_str_eq(label_of(par, "tenant"), "acme");
	ck_assert_uint_eq(kid->nlabels, 4);
	ck_assert_str_eq(label_of(kid, "tenant"), "acme");
	ck_assert_str_eq(label_of(kid, "request_id"), "42");
	ck_assert_str_eq(label_of(kid, "route"), "/users");
	ck_assert_str_eq(label_of(kid, "stage"), "leaf"); /* set by itself */
	ck_assert_uint_eq(kid2->nlabels, 1);
	ck_assert_str_eq(label_of(kid2, "tenant"), "globex");
	ck_assert_uint_eq(par->label_flags | kid->label_flags | kid2->label_flags, 0);

	tt_task_release(p->kid);
	tt_task_release(p->kid2);
	ck_assert_int_eq(tt_task_release(root), 0);
	ck_assert_int_eq(tt_task_set_label(root, "k", "v"), TT_ESTALE);
	ck_assert_ptr_null(tt_task_label(root, "tenant"));
	tt_runtime_free(rt);
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("labels");
	TCase *tc = tcase_create("labels");
	tcase_add_test(tc, test_set_inherit_misuse_and_read);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
