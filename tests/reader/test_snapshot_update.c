/* tt_snapshot_update against a synthetic image changed between rounds:
 * what moved is read again (a new seq, a slot taken by a new task, slot
 * fields written outside a poll, an owner renamed by another task), what
 * held still keeps its chain without a walk. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "reg_image.h"
#include "tasktrace/read/diagnose.h"

struct fix {
	uint64_t slots, notify, notify2, mutex;
	uint64_t f_async, f_leaf, site;
	uint64_t t1_leaf, t2_leaf;
};

static img G;
static struct fix K;
static tt_snapshot *S;

/* Task 1 idle on a notify (a chain that stays true while its seq holds
 * still), task 2 on a mutex held by task 3 (an owner other tasks rename),
 * task 3 on a notify. */
static void setup(void)
{
	img_init(&G, 1 << 16);
	memset(&K, 0, sizeof K);
	K.f_async = img_func(&G, "serve", TT_FUNC_KIND_ASYNC);
	K.f_leaf = img_func(&G, "tt_wait", TT_FUNC_KIND_LEAF);
	K.site = img_site(&G, "serve", "src/serve.c", 12, TT_SITEF_AWAIT);
	K.notify = img_alloc(&G, 64);
	K.notify2 = img_alloc(&G, 64);
	K.mutex = img_alloc(&G, 64);
	K.slots = img_chunk(&G, 4);

	K.t1_leaf = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, K.t1_leaf, TT_WAIT_NOTIFY, K.notify, 0, 0);
	img_task(&G, img_slot(K.slots, 0), 1, "waiter", TT_STATE_IDLE,
		 img_frame(&G, K.f_async, K.site, K.t1_leaf, 0));

	K.t2_leaf = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, K.t2_leaf, TT_WAIT_MUTEX, K.mutex, 3, 0);
	img_task(&G, img_slot(K.slots, 1), 2, "locker", TT_STATE_IDLE,
		 img_frame(&G, K.f_async, K.site, K.t2_leaf, 0));

	uint64_t l3 = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, l3, TT_WAIT_NOTIFY, K.notify, 0, 0);
	img_task(&G, img_slot(K.slots, 2), 3, "holder", TT_STATE_IDLE,
		 img_frame(&G, K.f_async, K.site, l3, 0));

	char err[160];
	ck_assert_int_eq(tt_snapshot_read(img_mem(&G), IMG_ROOT_ADDR, NULL, &S, err, sizeof err),
			 TT_R_OK);
	ck_assert_uint_eq(S->ntasks, 3);
}

static void teardown(void)
{
	tt_snapshot_free(S);
	S = NULL;
	img_free(&G);
}

/* Chains read by the update, checked for a sane snapshot afterwards. */
static int update(void)
{
	char err[160];
	int n = tt_snapshot_update(S, img_mem(&G), err, sizeof err);
	ck_assert_msg(n >= 0, "update: %s", err);
	for (size_t i = 0; i < S->ntasks; i++)
		ck_assert_ptr_eq(tt_snapshot_find(S, S->tasks[i].raw.id), &S->tasks[i]);
	return n;
}

static const tt_sframe *leaf_of(uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(S, id);
	ck_assert_ptr_nonnull(t);
	const tt_sframe *l = tt_stask_leaf(t);
	ck_assert_ptr_nonnull(l);
	return l;
}

static void move_seq(uint64_t slot)
{
	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, slot,
		img_get(&G, TT_REC_TASK, TT_TASK_SEQ, slot) + 2);
}

/* Nothing changed: only the mutex waiter's chain is walked again (its
 * owner is written by other tasks), and the snapshot reads as before. */
START_TEST(unchanged_keeps_chains)
{
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(update(), 1);
		ck_assert_uint_eq(S->ntasks, 3);
		ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify);
		ck_assert_uint_eq(leaf_of(2)->raw.wait_owner, 3);
		ck_assert_str_eq(tt_stask_where(tt_snapshot_find(S, 1))->site->file, "src/serve.c");
		ck_assert_str_eq(tt_snapshot_find(S, 3)->raw.name, "holder");
	}
}
END_TEST

/* A poll moved task 1 on (seq +2) to another notify: seen. */
START_TEST(new_seq_is_read_again)
{
	update();
	img_wait(&G, K.t1_leaf, TT_WAIT_NOTIFY, K.notify2, 0, 0);
	move_seq(img_slot(K.slots, 0));
	ck_assert_int_eq(update(), 2);
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify2);
	ck_assert_int_eq(update(), 1); /* and kept from then on */
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify2);
}
END_TEST

/* A task inside a poll (odd seq) is read, never kept. */
START_TEST(odd_seq_is_read_again)
{
	update();
	img_wait(&G, K.t1_leaf, TT_WAIT_NOTIFY, K.notify2, 0, 0);
	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, img_slot(K.slots, 0), 3);
	update();
	ck_assert_int_eq(tt_snapshot_find(S, 1)->raw.running, 1);
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify2);
}
END_TEST

/* State and wake counters are written outside a poll, seq untouched:
 * the slot is decoded again, its chain kept. */
START_TEST(fields_outside_a_poll_are_seen)
{
	update();
	img_set(&G, TT_REC_TASK, TT_TASK_STATE, img_slot(K.slots, 0), TT_STATE_SCHEDULED);
	img_set(&G, TT_REC_TASK, TT_TASK_WAKERS, img_slot(K.slots, 0), 2);
	ck_assert_int_eq(update(), 1);
	const tt_stask *t = tt_snapshot_find(S, 1);
	ck_assert_uint_eq(t->raw.state, TT_STATE_SCHEDULED);
	ck_assert_uint_eq(t->raw.wakers, 2);
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify);
}
END_TEST

/* Task 1 ended and its slot went to task 9 at the same seq (a runtime
 * that restarts seq): the new task, its own chain, no trace of task 1. */
START_TEST(slot_taken_by_a_new_task)
{
	update();
	uint64_t slot = img_slot(K.slots, 0);
	uint64_t seq = img_get(&G, TT_REC_TASK, TT_TASK_SEQ, slot);
	uint64_t leaf = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, leaf, TT_WAIT_TIMER, 0, 0, 5000);
	img_task(&G, slot, 9, "newcomer", TT_STATE_IDLE, img_frame(&G, K.f_async, 0, leaf, 0));
	img_set(&G, TT_REC_TASK, TT_TASK_SEQ, slot, seq);
	ck_assert_int_eq(update(), 2);
	ck_assert_ptr_null(tt_snapshot_find(S, 1));
	ck_assert_str_eq(tt_snapshot_find(S, 9)->raw.name, "newcomer");
	ck_assert_uint_eq(leaf_of(9)->raw.wait_kind, TT_WAIT_TIMER);
	ck_assert_uint_eq(S->ntasks, 3);
}
END_TEST

/* An unlock hands the mutex to task 1 and renames the other waiters'
 * owner: task 2's seq did not move, its owner is read again. */
START_TEST(owner_renamed_by_another_task)
{
	update();
	img_wait(&G, K.t2_leaf, TT_WAIT_MUTEX, K.mutex, 1, 0);
	update();
	ck_assert_uint_eq(leaf_of(2)->raw.wait_owner, 1);
}
END_TEST

/* Slots freed and taken between rounds: the list follows, in slot order. */
START_TEST(slots_freed_and_taken)
{
	update();
	img_set(&G, TT_REC_TASK, TT_TASK_ID, img_slot(K.slots, 1), 0); /* task 2 ends */
	uint64_t leaf = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, leaf, TT_WAIT_NOTIFY, K.notify2, 0, 0);
	img_task(&G, img_slot(K.slots, 3), 7, "late", TT_STATE_IDLE,
		 img_frame(&G, K.f_async, 0, leaf, 0));
	ck_assert_int_eq(update(), 1); /* task 7 */
	ck_assert_uint_eq(S->ntasks, 3);
	ck_assert_uint_eq(S->tasks[0].raw.id, 1);
	ck_assert_uint_eq(S->tasks[1].raw.id, 3);
	ck_assert_uint_eq(S->tasks[2].raw.id, 7);
	ck_assert_ptr_null(tt_snapshot_find(S, 2));
	ck_assert_uint_eq(leaf_of(7)->raw.wait_object, K.notify2);
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify);
}
END_TEST

/* A task in a slot before the kept ones: the entries are written over
 * last round's in place, so those still to be read are moved aside
 * first, and are still kept. */
START_TEST(new_task_before_kept_ones)
{
	/* Room for every slot from now on: the array is not grown (which
	 * moves last round's entries aside anyway). */
	img_set(&G, TT_REC_ROOT, TT_ROOT_TASKS_LIVE, IMG_ROOT_ADDR, 4);
	ck_assert_int_eq(update(), 1);
	img_set(&G, TT_REC_TASK, TT_TASK_ID, img_slot(K.slots, 0), 0); /* task 1 ends */
	ck_assert_int_eq(update(), 1);
	ck_assert_uint_eq(S->ntasks, 2);
	uint64_t leaf = img_frame(&G, K.f_leaf, 0, 0, 0);
	img_wait(&G, leaf, TT_WAIT_NOTIFY, K.notify2, 0, 0);
	img_task(&G, img_slot(K.slots, 0), 8, "first", TT_STATE_IDLE,
		 img_frame(&G, K.f_async, 0, leaf, 0));
	ck_assert_int_eq(update(), 2); /* task 8, and task 2's mutex wait */
	ck_assert_uint_eq(S->ntasks, 3);
	ck_assert_uint_eq(S->tasks[0].raw.id, 8);
	ck_assert_uint_eq(S->tasks[2].raw.id, 3);
	ck_assert_str_eq(tt_snapshot_find(S, 3)->raw.name, "holder");
	ck_assert_uint_eq(leaf_of(3)->raw.wait_object, K.notify);
	ck_assert_uint_eq(leaf_of(8)->raw.wait_object, K.notify2);
	ck_assert_int_eq(update(), 1);
}
END_TEST

/* The id index and the cross-checks are kept while the tasks are last
 * round's in the same slots: an entry read again is still checked... */
START_TEST(entry_read_again_is_checked)
{
	update();
	img_set(&G, TT_REC_TASK, TT_TASK_STATE, img_slot(K.slots, 0), 77);
	move_seq(img_slot(K.slots, 0));
	update();
	ck_assert_int_eq(S->tasks[0].error, TT_R_INCONSISTENT);
	ck_assert_uint_eq(S->nerrors, 1);
	ck_assert_int_eq(S->tasks[2].error, 0);
	img_set(&G, TT_REC_TASK, TT_TASK_STATE, img_slot(K.slots, 0), TT_STATE_IDLE);
	move_seq(img_slot(K.slots, 0));
	update();
	ck_assert_int_eq(S->tasks[0].error, 0);
	ck_assert_uint_eq(S->nerrors, 0);
	ck_assert_uint_eq(leaf_of(1)->raw.wait_object, K.notify);
}
END_TEST

/* ... and figures stricter than last round's check the kept ones again:
 * ids past next_task_id were never handed out. */
START_TEST(stricter_figures_check_kept_entries)
{
	update();
	img_set(&G, TT_REC_ROOT, TT_ROOT_NEXT_TASK_ID, IMG_ROOT_ADDR, 3);
	update();
	ck_assert_int_eq(tt_snapshot_find(S, 1)->error, 0);
	ck_assert_int_eq(S->tasks[2].error, TT_R_INCONSISTENT);
	ck_assert_ptr_null(S->tasks[2].frames);
}
END_TEST

/* A chain read again every round: past some megabytes of chains read
 * again the update reads all afresh (update_full), and the snapshot
 * stays right through it. */
START_TEST(many_rounds_stay_bounded)
{
	for (int round = 0; round < 20000; round++) {
		img_wait(&G, K.t1_leaf, TT_WAIT_NOTIFY, round & 1 ? K.notify2 : K.notify, 0, 0);
		move_seq(img_slot(K.slots, 0));
		update();
		ck_assert_uint_eq(leaf_of(1)->raw.wait_object, round & 1 ? K.notify2 : K.notify);
		ck_assert_uint_eq(S->ntasks, 3);
	}
}
END_TEST

/* ---- tt_diagnose_update over the kept snapshot ----
 * A task kept from round to round is not looked at again until it could
 * make a finding: a finding that comes by time alone must still come. */

#define SEC 1000000000ull
#define T0 (1000 * SEC) /* when the tasks were last polled */

static void recording(void)
{
	img_set(&G, TT_REC_ROOT, TT_ROOT_FLAGS, IMG_ROOT_ADDR, TT_ROOTF_RECORDING);
	for (uint32_t i = 0; i < 3; i++) {
		uint64_t slot = img_slot(K.slots, i);
		img_set(&G, TT_REC_TASK, TT_TASK_POLL_END_NS, slot, T0);
		img_set(&G, TT_REC_TASK, TT_TASK_POLLS, slot, 3);
		img_set(&G, TT_REC_TASK, TT_TASK_WAKERS, slot, 1);
	}
}

static size_t index_of(uint64_t id)
{
	const tt_stask *t = tt_snapshot_find(S, id);
	ck_assert_ptr_nonnull(t);
	return (size_t)(t - S->tasks);
}

/* A round at NOW: the update, then both diagnoses, which must agree; the
 * incremental one's report. */
static tt_diag_report *round_at(uint64_t now, const tt_diag_opts *o)
{
	update();
	tt_diag_report *full = tt_diagnose(S, now, o);
	tt_diag_report *r = tt_diagnose_update(S, now, o);
	ck_assert_ptr_nonnull(full);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(!strcmp(full->text, r->text), "at %llu ns: full\n%s\nincremental\n%s",
		      (unsigned long long)now, full->text, r->text);
	ck_assert_uint_eq(full->ntasks, r->ntasks);
	tt_diag_free(full);
	return r;
}

static int reports(const tt_diag_report *r, uint32_t kind, uint64_t id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->findings[i].kind == kind && r->findings[i].task_id == id)
			return 1;
	return 0;
}

/* Task 1 idle on a notify with --idle 5s: rounds every 100 ms keep it
 * (its word set, its slot unchanged) and report nothing, until the round
 * past 5 s reports it. */
START_TEST(idle_after_kept_rounds)
{
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.idle_ns = 5 * SEC;
	recording();
	uint64_t now = T0 + SEC;
	for (; now < T0 + 5 * SEC; now += SEC / 10) {
		tt_diag_report *r = round_at(now, &o);
		ck_assert_msg(!reports(r, TT_DIAG_IDLE, 1), "%s", r->text);
		tt_diag_free(r);
		ck_assert_uint_ne(tt_snapshot_memo(S, index_of(1)), 0); /* kept, skipped */
	}
	tt_diag_report *r = round_at(now, &o);
	ck_assert_msg(reports(r, TT_DIAG_IDLE, 1), "%s", r->text);
	tt_diag_free(r);
}
END_TEST

/* Nothing holds a waker for task 1: a lost waker once it has been idle
 * 10 ms, though the rounds before skipped it. */
START_TEST(lost_waker_after_kept_rounds)
{
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	recording();
	img_set(&G, TT_REC_TASK, TT_TASK_WAKERS, img_slot(K.slots, 0), 0);
	uint64_t now = T0 + 1000000;
	for (int i = 0; i < 8; i++, now += 1000000) {
		tt_diag_report *r = round_at(now, &o);
		ck_assert_msg(r->n == 0, "%s", r->text);
		tt_diag_free(r);
	}
	ck_assert_uint_ne(tt_snapshot_memo(S, index_of(1)), 0);
	tt_diag_report *r = round_at(T0 + 10000000, &o);
	ck_assert_msg(reports(r, TT_DIAG_LOST_WAKER, 1), "%s", r->text);
	tt_diag_free(r);
}
END_TEST

/* Woken at T0 and never polled since: starved once --starved has passed. */
START_TEST(starved_after_kept_rounds)
{
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	recording();
	uint64_t slot = img_slot(K.slots, 2);
	img_set(&G, TT_REC_TASK, TT_TASK_STATE, slot, TT_STATE_SCHEDULED);
	img_set(&G, TT_REC_TASK, TT_TASK_WAKE_NS, slot, T0);
	for (uint64_t now = T0; now < T0 + SEC; now += SEC / 4) {
		tt_diag_report *r = round_at(now, &o);
		ck_assert_msg(!reports(r, TT_DIAG_STARVED, 3), "%s", r->text);
		tt_diag_free(r);
	}
	tt_diag_report *r = round_at(T0 + SEC, &o);
	ck_assert_msg(reports(r, TT_DIAG_STARVED, 3), "%s", r->text);
	tt_diag_free(r);
}
END_TEST

/* Options that change what the words mean start over: --idle lowered
 * between rounds reports at once. */
START_TEST(new_options_forget_the_words)
{
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.idle_ns = 60 * SEC;
	recording();
	tt_diag_report *r = round_at(T0 + 2 * SEC, &o);
	ck_assert(!reports(r, TT_DIAG_IDLE, 1));
	tt_diag_free(r);
	o.idle_ns = SEC;
	r = round_at(T0 + 2 * SEC, &o);
	ck_assert_msg(reports(r, TT_DIAG_IDLE, 1), "%s", r->text);
	tt_diag_free(r);
}
END_TEST

/* Many rounds of slots changing under the clock: the incremental
 * diagnosis says, round after round, what a fresh one says. */
START_TEST(incremental_agrees_with_full)
{
	static const uint32_t states[] = {TT_STATE_IDLE, TT_STATE_SCHEDULED, TT_STATE_IDLE,
					  TT_STATE_DONE};
	tt_diag_opts o;
	tt_diag_opts_init(&o);
	o.idle_ns = 3 * SEC;
	recording();
	uint64_t now = T0, x = 12345;
	for (int round = 0; round < 400; round++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t slot = img_slot(K.slots, (uint32_t)(x >> 33) % 3);
		switch ((x >> 40) % 8) {
		case 0:
			img_set(&G, TT_REC_TASK, TT_TASK_STATE, slot, states[(x >> 50) % 4]);
			img_set(&G, TT_REC_TASK, TT_TASK_WAKE_NS, slot, now);
			break;
		case 1:
			img_set(&G, TT_REC_TASK, TT_TASK_WAKERS, slot, (x >> 50) % 2);
			break;
		case 2:
			img_set(&G, TT_REC_TASK, TT_TASK_POLL_END_NS, slot, now);
			move_seq(slot);
			break;
		case 3:
			img_wait(&G, K.t1_leaf, TT_WAIT_NOTIFY,
				 (x >> 50) % 2 ? K.notify : K.notify2, 0, 0);
			move_seq(img_slot(K.slots, 0));
			break;
		default:
			break; /* the clock alone */
		}
		now += (x >> 20) % (SEC / 2);
		tt_diag_free(round_at(now, &o));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot_update");
	TCase *tc = tcase_create("update");
	tcase_set_timeout(tc, 120); /* 20,000 rounds under the sanitizers */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unchanged_keeps_chains);
	tcase_add_test(tc, new_seq_is_read_again);
	tcase_add_test(tc, odd_seq_is_read_again);
	tcase_add_test(tc, fields_outside_a_poll_are_seen);
	tcase_add_test(tc, slot_taken_by_a_new_task);
	tcase_add_test(tc, owner_renamed_by_another_task);
	tcase_add_test(tc, slots_freed_and_taken);
	tcase_add_test(tc, new_task_before_kept_ones);
	tcase_add_test(tc, entry_read_again_is_checked);
	tcase_add_test(tc, stricter_figures_check_kept_entries);
	tcase_add_test(tc, many_rounds_stay_bounded);
	suite_add_tcase(s, tc);
	TCase *td = tcase_create("diagnosis");
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_add_test(td, idle_after_kept_rounds);
	tcase_add_test(td, lost_waker_after_kept_rounds);
	tcase_add_test(td, starved_after_kept_rounds);
	tcase_add_test(td, new_options_forget_the_words);
	tcase_add_test(td, incremental_agrees_with_full);
	suite_add_tcase(s, td);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
