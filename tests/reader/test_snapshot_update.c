/* tt_snapshot_update against a synthetic image changed between rounds:
 * what moved is read again (a new seq, a slot taken by a new task, slot
 * fields written outside a poll, an owner renamed by another task), what
 * held still keeps its chain without a walk. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "reg_image.h"

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
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
