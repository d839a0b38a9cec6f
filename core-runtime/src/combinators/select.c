/* select and join_all: combinators over caller-initialised children,
 * linked as the frame's child list so readers see the whole tree. */
#include "runtime/internal.h"

#include "tasktrace/combinators.h"

static tt_poll select_poll(tt_select *s, tt_cx *cx);
static tt_poll join_all_poll(tt_join_all *j, tt_cx *cx);
const tt_func tt_select_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_select", __FILE__, __LINE__, TT_FUNC_KIND_COMBINATOR, "tt_select", sizeof(tt_select),
	0, (tt_poll_fn)select_poll, NULL};
const tt_func tt_join_all_fn TT_SECTION_("tasktrace_funcs") = {
	"tt_join_all", __FILE__, __LINE__, TT_FUNC_KIND_COMBINATOR, "tt_join_all",
	sizeof(tt_join_all), 0, (tt_poll_fn)join_all_poll, NULL};

/* Link the children that are still pending, in order. */
static void relink(tt_frame *self, tt_frame **ch, size_t n)
{
	tt_frame **link = &self->child;
	for (size_t i = 0; i < n; i++) {
		if (ch[i]->state & TT_FRAME_DONE)
			continue;
		*link = ch[i];
		link = &ch[i]->sibling;
	}
	*link = NULL;
}

static void unlink_all(tt_frame *self, tt_frame **ch, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ch[i]->sibling = NULL;
	self->child = NULL;
}

void tt_select_init(tt_select *s, tt_frame **children, size_t n)
{
	tt_frame_init(&s->frame, &tt_select_fn);
	s->children = children;
	s->n = n;
}

TT_DISPATCH static tt_poll select_poll(tt_select *s, tt_cx *cx)
{
	if (!s->frame.child)
		relink(&s->frame, s->children, s->n);
	for (size_t i = 0; i < s->n; i++) {
		if (tt_frame_poll(s->children[i], cx) != TT_READY)
			continue;
		for (size_t j = 0; j < s->n; j++)
			if (j != i)
				tt_frame_cancel(s->children[j]);
		unlink_all(&s->frame, s->children, s->n);
		s->frame.result = (intptr_t)i;
		return TT_READY;
	}
	return s->n ? TT_PENDING : TT_READY;
}

void tt_join_all_init(tt_join_all *j, tt_frame **children, size_t n)
{
	tt_frame_init(&j->frame, &tt_join_all_fn);
	j->children = children;
	j->n = n;
}

TT_DISPATCH static tt_poll join_all_poll(tt_join_all *j, tt_cx *cx)
{
	int pending = 0;
	for (size_t i = 0; i < j->n; i++)
		if (tt_frame_poll(j->children[i], cx) == TT_PENDING)
			pending = 1;
	if (pending) {
		relink(&j->frame, j->children, j->n);
		return TT_PENDING;
	}
	unlink_all(&j->frame, j->children, j->n);
	j->frame.result = 0;
	return TT_READY;
}
