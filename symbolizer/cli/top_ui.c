/* tasktrace top's full-screen view (ncurses) over the model of
 * top_model.c: the list with its header, a selected row, and text panes
 * (detail, findings, groups, help).  Only the rows on screen are worded,
 * so 100k tasks cost a sort of numbers, not 100k lines of text. */
#include <curses.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "top.h"

#define HEAD_LINES 4 /* title, two header lines, column heads */
#define KEY_ESC 27

enum pane { PANE_LIST, PANE_DETAIL, PANE_FINDINGS, PANE_GROUPS, PANE_HELP };

typedef struct ui {
	top_model *m;
	uint64_t interval_ns;
	int paused;
	int pane;
	size_t sel, first;    /* the selected row and the first on screen, in m->order */
	uint64_t sel_id;      /* the selected task, kept across samples */
	char *text;	      /* the pane's text */
	size_t scroll;	      /* its first line on screen */
	char group_label[64]; /* PANE_GROUPS: "" by chain, else the label */
	char status[256];     /* the bottom line, a message until the next key */
	char **saved;	      /* the list's lines as last drawn: kept when the target ends */
	int nsaved;
} ui;

static const char help_text[] =
    "tasktrace top: keys\n"
    "\n"
    "  < >          move the sort column left, right (the head marked ^ or v)\n"
    "  r            reverse the sort\n"
    "  /            filter: a regex over name, labels and where (empty: none)\n"
    "  s            cycle the state shown: all, idle, scheduled, running, ...\n"
    "  g            group the tasks by await chain (as ps --group)\n"
    "  G            group the tasks by a label's value (asks for the key)\n"
    "  f            the findings of the diagnosis ('!' marks their tasks)\n"
    "  Enter        the selected task: chain, ancestry, histograms, events\n"
    "  up down j k  move the selection; PgUp PgDn Home End\n"
    "  space        pause (the frame stays), again to go on\n"
    "  Esc <- BS    back to the list from a pane\n"
    "  h ?          this help\n"
    "  q            quit\n"
    "\n"
    "Columns: BUSY% is the time it was polled over the interval; POLLS/S and\n"
    "WAKES/S the polls and wakes over the interval; P50 P99 the poll times and\n"
    "SCHED the median wait for a worker, from its histograms since it was\n"
    "spawned.  '-': not known (a new task, a torn record, no histograms).\n";

/* The bytes of S that fill at most COLS cells (a cell per character). */
static int fit(const char *s, int cols)
{
	int n = 0, cells = 0;

	while (s[n] && s[n] != '\n') {
		if (((unsigned char)s[n] & 0xC0) != 0x80 && ++cells > cols)
			break;
		n++;
	}
	return n;
}

static void put_line(int y, int attr, const char *s)
{
	move(y, 0);
	clrtoeol();
	attron(attr);
	addnstr(s, fit(s, COLS));
	if (attr & A_REVERSE) /* a bar across the screen */
		for (int x = getcurx(stdscr); x < COLS; x++)
			addch(' ');
	attroff(attr);
}

static void save_line(ui *u, int y, const char *s)
{
	if (y >= u->nsaved) {
		char **p = realloc(u->saved, (size_t)(y + 1) * sizeof(*p));
		if (!p)
			return;
		for (int i = u->nsaved; i <= y; i++)
			p[i] = NULL;
		u->saved = p;
		u->nsaved = y + 1;
	}
	free(u->saved[y]);
	u->saved[y] = strdup(s);
}

static void title(ui *u)
{
	char line[512];
	tt_fbuf b;
	top_model *m = u->m;

	tt_fb_init(&b, line, sizeof(line));
	tt_fb_str(&b, "tasktrace top - ");
	tt_fb_str(&b, cli_target_name(m->s));
	if (!m->s->core) {
		tt_fb_str(&b, " - every ");
		tt_fmt_duration(&b, u->interval_ns);
	}
	if (u->paused)
		tt_fb_str(&b, " - PAUSED");
	if (m->state >= 0) {
		tt_fb_str(&b, " - state ");
		tt_fb_str(&b, tt_state_name((uint32_t)m->state));
	}
	if (m->have_re) {
		tt_fb_str(&b, " - filter /");
		tt_fb_text(&b, m->filter);
		tt_fb_str(&b, "/");
	}
	put_line(0, A_BOLD, line);
	save_line(u, 0, line);
}

static void status(ui *u)
{
	char gone[512];

	snprintf(gone, sizeof(gone), "the target is gone (%s): this is its last frame; q quits",
		 u->m->ended_msg);
	const char *s = u->status[0]  ? u->status
			: u->m->ended ? gone
			: u->pane == PANE_LIST
			    ? "h help  q quit  < > sort  r reverse  / filter  s state  g group  "
			      "f findings  Enter detail  space pause"
			    : "Esc back  up/down PgUp/PgDn scroll  q quit";
	put_line(LINES - 1, A_REVERSE, s);
}

/* Keep the selected task selected as the rows move under it. */
static void follow(ui *u)
{
	top_model *m = u->m;

	for (size_t i = 0; u->sel_id && i < m->nshown; i++)
		if (m->rows[m->order[i]].t->raw.id == u->sel_id) {
			u->sel = i;
			return;
		}
	if (u->sel >= m->nshown)
		u->sel = m->nshown ? m->nshown - 1 : 0;
	u->sel_id = m->nshown ? m->rows[m->order[u->sel]].t->raw.id : 0;
}

static void draw_list(ui *u)
{
	top_model *m = u->m;
	char line[4096];
	tt_fbuf b;
	int body = LINES - HEAD_LINES - 1;

	if (body < 1)
		body = 1;
	for (int k = 0; k < 2; k++) {
		tt_fb_init(&b, line, sizeof(line));
		top_fmt_header(m, k, &b);
		put_line(1 + k, 0, line);
		save_line(u, 1 + k, line);
	}
	tt_fb_init(&b, line, sizeof(line));
	top_fmt_heads(m, &b);
	put_line(3, A_REVERSE, line);
	save_line(u, 3, line);
	if (u->sel < u->first)
		u->first = u->sel;
	if (u->sel >= u->first + (size_t)body)
		u->first = u->sel - (size_t)body + 1;
	for (int y = 0; y < body; y++) {
		size_t i = u->first + (size_t)y;
		line[0] = 0;
		if (i < m->nshown) {
			tt_fb_init(&b, line, sizeof(line));
			top_fmt_row(m, &m->rows[m->order[i]], &b);
		} else if (i == 0) {
			snprintf(line, sizeof(line), "  (no tasks%s)",
				 m->have_re || m->state >= 0 ? " pass the filter" : "");
		}
		put_line(HEAD_LINES + y, i == u->sel && i < m->nshown ? A_REVERSE : 0, line);
		save_line(u, HEAD_LINES + y, line);
	}
}

/* The target ended: its last frame as it was drawn. */
static void draw_saved(ui *u)
{
	for (int y = 0; y < LINES - 1; y++)
		put_line(y,
			 y == 0	  ? A_BOLD
			 : y == 3 ? A_REVERSE
				  : 0,
			 y < u->nsaved && u->saved[y] ? u->saved[y] : "");
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static void draw_text(ui *u)
{
	static const char *const titles[] = {"", "task detail", "findings", "groups", "help"};
	const char *p = u->text ? u->text : "(out of memory)\n";
	int body = LINES - 2;
	size_t n = count_lines(p);

	if (u->scroll + (size_t)body > n)
		u->scroll = n > (size_t)body ? n - (size_t)body : 0;
	put_line(0, A_BOLD, titles[u->pane]);
	for (size_t i = 0; i < u->scroll && *p; i++)
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
	for (int y = 0; y < body; y++) {
		put_line(1 + y, 0, p);
		p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p);
	}
}

static void draw(ui *u)
{
	if (u->m->ended && u->pane == PANE_LIST) {
		draw_saved(u);
	} else if (u->pane == PANE_LIST) {
		follow(u);
		title(u);
		draw_list(u);
	} else {
		draw_text(u);
	}
	status(u);
	refresh();
}

/* The pane's text from this sample. */
static void fill_pane(ui *u)
{
	top_model *m = u->m;

	free(u->text);
	u->text = NULL;
	switch (u->pane) {
	case PANE_DETAIL:
		u->text = top_detail_text(m, u->sel_id);
		break;
	case PANE_FINDINGS:
		u->text = top_findings_text(m);
		break;
	case PANE_GROUPS:
		u->text = top_groups_text(m, u->group_label);
		break;
	case PANE_HELP:
		u->text = strdup(help_text);
		break;
	}
}

static void open_pane(ui *u, int pane)
{
	if (u->m->ended && pane != PANE_HELP)
		return; /* the snapshot is gone: only the last frame is left */
	u->pane = pane;
	u->scroll = 0;
	fill_pane(u);
}

/* A line typed on the bottom row after PROMPT; 0, or -1 on Esc. */
static int ask(const char *prompt, char *buf, size_t len)
{
	size_t n = strlen(buf);

	timeout(-1);
	curs_set(1);
	for (;;) {
		move(LINES - 1, 0);
		clrtoeol();
		addstr(prompt);
		addnstr(buf, fit(buf, COLS - (int)strlen(prompt) - 1));
		refresh();
		int c = getch();
		if (c == '\n' || c == KEY_ENTER || c == '\r')
			break;
		if (c == KEY_ESC) {
			curs_set(0);
			return -1;
		}
		if ((c == KEY_BACKSPACE || c == 127 || c == 8) && n)
			buf[--n] = 0;
		else if (c >= 32 && c < 256 && c != 127 && n + 1 < len)
			buf[n++] = (char)c, buf[n] = 0;
	}
	curs_set(0);
	return 0;
}

static void move_sel(ui *u, long by)
{
	top_model *m = u->m;
	long s = (long)u->sel + by;

	if (u->pane != PANE_LIST) {
		s = (long)u->scroll + by;
		u->scroll = s < 0 ? 0 : (size_t)s;
		return;
	}
	if (!m->nshown || m->ended)
		return;
	u->sel = s < 0 ? 0 : (size_t)s >= m->nshown ? m->nshown - 1 : (size_t)s;
	u->sel_id = m->rows[m->order[u->sel]].t->raw.id;
}

/* One key; 1 to quit. */
static int key(ui *u, int c)
{
	top_model *m = u->m;
	int page = LINES - HEAD_LINES - 1 > 1 ? LINES - HEAD_LINES - 1 : 1;
	char buf[128];

	u->status[0] = 0;
	switch (c) {
	case 'q':
	case 'Q':
		return 1;
	case KEY_RESIZE:
		clear();
		break;
	case KEY_UP:
	case 'k':
		move_sel(u, -1);
		break;
	case KEY_DOWN:
	case 'j':
		move_sel(u, 1);
		break;
	case KEY_PPAGE:
		move_sel(u, -page);
		break;
	case KEY_NPAGE:
		move_sel(u, page);
		break;
	case KEY_HOME:
		move_sel(u, -(long)(m->nshown + 100000));
		break;
	case KEY_END:
		move_sel(u, (long)(m->nshown + 100000));
		break;
	case KEY_ESC:
	case KEY_LEFT:
	case KEY_BACKSPACE:
	case 127:
		u->pane = PANE_LIST;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
		if (u->pane == PANE_LIST && m->nshown)
			open_pane(u, PANE_DETAIL);
		break;
	case 'h':
	case '?':
		open_pane(u, PANE_HELP);
		break;
	case 'f':
		open_pane(u, PANE_FINDINGS);
		break;
	case 'g':
		u->group_label[0] = 0;
		open_pane(u, PANE_GROUPS);
		break;
	case 'G':
		buf[0] = 0;
		if (!ask("group by label: ", buf, sizeof(buf)) && buf[0]) {
			snprintf(u->group_label, sizeof(u->group_label), "%s", buf);
			open_pane(u, PANE_GROUPS);
		}
		break;
	case ' ':
		u->paused = !u->paused;
		break;
	case '<':
	case '>':
		m->sort_col = (m->sort_col + (c == '<' ? TOP_COL_MAX_ - 1 : 1)) % TOP_COL_MAX_;
		top_model_view(m);
		break;
	case 'r':
		m->reverse = !m->reverse;
		top_model_view(m);
		break;
	case 's':
		m->state = m->state >= TT_STATE_CANCELLED ? -1 : m->state + 1;
		top_model_view(m);
		break;
	case '/':
		snprintf(buf, sizeof(buf), "%s", m->filter);
		if (!ask("/", buf, sizeof(buf))) {
			char err[160];
			if (top_set_filter(m, buf, err, sizeof(err)))
				snprintf(u->status, sizeof(u->status), "bad regex: %s", err);
			top_model_view(m);
			u->sel = 0;
			u->sel_id = 0;
		}
		break;
	}
	return 0;
}

int top_ui(top_model *m, uint64_t interval_ns)
{
	ui u;

	memset(&u, 0, sizeof(u));
	u.m = m;
	u.interval_ns = interval_ns;
	if (top_sample(m)) {
		fprintf(stderr, "tasktrace: top: %s\n", m->ended_msg);
		return EXIT_TARGET;
	}
	setlocale(LC_ALL, "");
	if (!initscr()) {
		fprintf(stderr, "tasktrace: top: cannot set up the terminal\n");
		return EXIT_TARGET;
	}
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	uint64_t next = top_mono_ns() + interval_ns;
	draw(&u);
	for (;;) {
		uint64_t now = top_mono_ns();
		int wait_ms = u.paused || m->ended || m->s->core ? -1
			      : next > now			 ? (int)((next - now) / 1000000)
								 : 0;
		timeout(wait_ms);
		int c = getch();
		if (c == ERR) {
			if (u.paused || m->ended || m->s->core)
				continue;
			if (top_sample(m))
				u.pane = PANE_LIST;
			else if (u.pane != PANE_LIST && u.pane != PANE_HELP) {
				fill_pane(&u);
			}
			next += interval_ns;
			if (next < top_mono_ns())
				next = top_mono_ns() + interval_ns; /* behind: no burst */
		} else if (key(&u, c)) {
			break;
		}
		draw(&u);
	}
	endwin();
	free(u.text);
	for (int i = 0; i < u.nsaved; i++)
		free(u.saved[i]);
	free(u.saved);
	return EXIT_OK;
}
