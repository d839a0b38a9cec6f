/* File futures on the blocking pool as a user sees them: contents round
 * trip, an atomic replace keeps the mode and leaves no temporary file,
 * errors come back as codes, the caller's buffers are copied at init,
 * and a future cancelled while its call runs returns at once and leaves
 * the call's memory to the pool (tt_blocking_init_owned's contract). */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "sync_util.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/tt_file_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}
static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[400];
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}
static int files_in_dir(void)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

enum { F_READ, F_WRITE, F_REPLACE };
typedef struct fop {
	tt_frame frame;
	int kind;
	char path[128];
	size_t max;
	void *data;
	size_t len;
	tt_file_op op;
} fop;
static tt_poll fop_poll(fop *self, tt_cx *cx);
TT_ASYNC_FN(fop, fop_poll, NULL);
static tt_poll fop_poll(fop *self, tt_cx *cx)
{
	TT_BEGIN(self);
	if (self->kind == F_READ) {
		TT_AWAIT(
		    self, cx, &self->op,
		    tt_file_read_init(&self->op, self->path, self->max, &self->data, &self->len));
	} else {
		/* A copy the caller frees at once: the future has its own. */
		char *tmp = strdup(self->data);
		if (self->kind == F_WRITE)
			TT_AWAIT(self, cx, &self->op,
				 (tt_file_write_init(&self->op, self->path, tmp, strlen(tmp)),
				  free(tmp)));
		else
			TT_AWAIT(self, cx, &self->op,
				 (tt_file_replace_init(&self->op, self->path, tmp, strlen(tmp)),
				  free(tmp)));
	}
	TT_RETURN(self, TT_RESULT(&self->op));
}

static intptr_t run(int kind, const char *name, const char *text, size_t max, fop *f)
{
	memset(f, 0, sizeof *f);
	tt_frame_init(&f->frame, &fop_fn);
	f->kind = kind;
	snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
	f->data = (void *)text;
	f->max = max;
	tt_runtime *rt = tt_test_runtime(1);
	intptr_t r = tt_block_on(rt, &f->frame);
	tt_runtime_free(rt);
	return r;
}

START_TEST(test_file_round_trip)
{
	make_dir();
	fop f;
	ck_assert_int_eq(run(F_WRITE, "a", "hello\n", 0, &f), 6);
	ck_assert_int_eq(run(F_READ, "a", NULL, 100, &f), 6);
	ck_assert_uint_eq(f.len, 6);
	ck_assert_str_eq(f.data, "hello\n"); /* NUL-terminated */
	free(f.data);
	/* Too large, missing, empty. */
	ck_assert_int_eq(run(F_READ, "a", NULL, 5, &f), -EFBIG);
	ck_assert_ptr_null(f.data);
	ck_assert_int_eq(run(F_READ, "missing", NULL, 100, &f), -ENOENT);
	ck_assert_int_eq(run(F_WRITE, "empty", "", 0, &f), 0);
	ck_assert_int_eq(run(F_READ, "empty", NULL, 100, &f), 0);
	ck_assert_str_eq(f.data, "");
	free(f.data);
	/* Replace: new contents, the old mode, no temporary file left. */
	char p[128];
	snprintf(p, sizeof p, "%s/a", dir);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(run(F_REPLACE, "a", "replaced", 0, &f), 8);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(run(F_READ, "a", NULL, 100, &f), 8);
	ck_assert_str_eq(f.data, "replaced");
	free(f.data);
	ck_assert_int_eq(run(F_REPLACE, "new", "n", 0, &f), 1);
	ck_assert_int_eq(files_in_dir(), 3); /* a, empty, new */
	/* A replace that cannot rename removes its temporary file. */
	snprintf(p, sizeof p, "%s/sub", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(run(F_REPLACE, "sub", "x", 0, &f), -EISDIR);
	ck_assert_int_eq(files_in_dir(), 4);
	rmdir(p);
	remove_dir();
}
END_TEST

START_TEST(test_file_bad_input)
{
	tt_file_op op;
	void *data = NULL;
	size_t len = 0;
	tt_file_read_init(&op, NULL, 10, &data, &len);
	ck_assert_int_eq(op.frame.result, -EINVAL);
	tt_file_read_init(&op, "/tmp/x", 10, NULL, &len);
	ck_assert_int_eq(op.frame.result, -EINVAL);
	tt_file_write_init(&op, "", "x", 1);
	ck_assert_int_eq(op.frame.result, -EINVAL);
	tt_file_replace_init(&op, "/tmp/x", NULL, 3);
	ck_assert_int_eq(op.frame.result, -EINVAL);
	/* The code reaches the awaiting task. */
	tt_runtime *rt = tt_test_runtime(0);
	tt_file_write_init(&op, NULL, "x", 1);
	ck_assert_int_eq(tt_block_on(rt, &op.frame), -EINVAL);
	tt_runtime_free(rt);
}
END_TEST

/* ---- cancellation while the call runs ---- */

static _Atomic int released, call_started, call_done;
static int gate[2];
static intptr_t slow_call(void *arg)
{
	char c;
	atomic_store(&call_started, 1);
	ssize_t n = read(gate[0], &c, 1); /* blocks until the test lets it go */
	atomic_store(&call_done, 1);
	return n == 1 ? 7 : -EIO;
}
static void release_arg(void *arg)
{
	ck_assert_int_eq(atomic_load(&call_done), 1); /* only after the call */
	free(arg);
	atomic_fetch_add(&released, 1);
}

typedef struct owner_task {
	tt_frame frame;
	int own;
	tt_blocking b;
} owner_task;
static tt_poll owner_poll(owner_task *self, tt_cx *cx);
TT_ASYNC_FN(owner_task, owner_poll, NULL);
static tt_poll owner_poll(owner_task *self, tt_cx *cx)
{
	TT_BEGIN(self);
	TT_AWAIT(self, cx, &self->b,
		 tt_blocking_init_owned(&self->b, slow_call, malloc(16), release_arg));
	free(self->b.arg); /* completed: the argument is ours again */
	TT_RETURN(self, TT_RESULT(&self->b));
}

static int wait_flag(_Atomic int *f, int v)
{
	for (int i = 0; i < 60000 && atomic_load(f) != v; i++)
		tt_test_sleep_us(1000);
	return atomic_load(f) == v;
}

START_TEST(test_blocking_owned_cancel)
{
	ck_assert_int_eq(pipe2(gate, O_CLOEXEC), 0);
	tt_runtime *rt = tt_test_runtime(1);
	/* Completed: no release, the task frees it. */
	static owner_task t;
	memset(&t, 0, sizeof t);
	tt_frame_init(&t.frame, &owner_task_fn);
	ck_assert_int_eq(write(gate[1], "x", 1), 1);
	ck_assert_int_eq(tt_block_on(rt, &t.frame), 7);
	ck_assert_int_eq(atomic_load(&released), 0);
	/* Cancelled while the call blocks: the task ends at once, the argument
	 * is released after the call returned, once. */
	atomic_store(&call_done, 0);
	atomic_store(&call_started, 0);
	memset(&t, 0, sizeof t);
	tt_frame_init(&t.frame, &owner_task_fn);
	tt_spawn_opts o = {"owner", NULL, 0};
	tt_handle h = tt_spawn_at(rt, &o, &t.frame, TT_SPAWN_SITE_());
	ck_assert_ptr_nonnull(h.task);
	/* Running on the pool (a job cancelled while still queued never
	 * runs, and is released at once). */
	ck_assert(wait_flag(&call_started, 1));
	tt_task_cancel(h);
	ck_assert_int_eq(tt_task_join_blocking(h), TT_ECANCELED);
	ck_assert_int_eq(atomic_load(&released), 0); /* the call still runs */
	ck_assert_int_eq(write(gate[1], "x", 1), 1);
	ck_assert(wait_flag(&released, 1));
	tt_runtime_free(rt);
	close(gate[0]);
	close(gate[1]);
}
END_TEST

/* A file read cancelled while open(2) blocks on a FIFO: the task ends at
 * once and its output pointers are never written. */
START_TEST(test_file_cancel)
{
	make_dir();
	char p[128];
	snprintf(p, sizeof p, "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	tt_runtime *rt = tt_test_runtime(1);
	static fop f;
	memset(&f, 0, sizeof f);
	tt_frame_init(&f.frame, &fop_fn);
	f.kind = F_READ;
	snprintf(f.path, sizeof f.path, "%s", p);
	f.max = 100;
	f.data = (void *)&f; /* a sentinel: must stay */
	tt_spawn_opts o = {"reader", NULL, 0};
	tt_handle h = tt_spawn_at(rt, &o, &f.frame, TT_SPAWN_SITE_());
	/* The call is in open(2) once a writer's open finds a reader. */
	int w = -1;
	for (int i = 0; i < 60000 && w < 0; i++)
		if ((w = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
			tt_test_sleep_us(1000);
	ck_assert_int_ge(w, 0);
	tt_task_cancel(h);
	ck_assert_int_eq(tt_task_join_blocking(h), TT_ECANCELED);
	/* Let the call finish: it reads, and frees what it read. */
	ck_assert_int_eq(write(w, "data", 4), 4);
	close(w);
	/* The call has closed its end once a writer finds no reader (ENXIO). */
	int gone = 0;
	for (int i = 0; i < 60000 && !gone; i++) {
		int fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		gone = fd < 0 && errno == ENXIO;
		if (fd >= 0)
			close(fd);
		else
			tt_test_sleep_us(1000);
	}
	ck_assert(gone);
	ck_assert_ptr_eq(f.data, &f);
	tt_runtime_free(rt);
	remove_dir();
}
END_TEST

static Suite *file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_file_round_trip);
	tcase_add_test(tc, test_file_bad_input);
	tcase_add_test(tc, test_blocking_owned_cancel);
	tcase_add_test(tc, test_file_cancel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(file_suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
