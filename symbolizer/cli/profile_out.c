/* The wait profile's file formats: Brendan Gregg's folded stacks,
 * speedscope's JSON (https://www.speedscope.app/file-format-schema.json)
 * and pprof's gzipped profile.proto.  The pprof messages are written by
 * hand (a varint and a length-delimited field are all they take) and
 * gzipped with zlib, which libdw already pulls in: no protobuf library
 * or generated code for the six messages one writer needs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.h"

/* ---- folded stacks: "root;...;leaf;[wait] microseconds" ---- */

typedef struct folded_line {
	char *text;
	uint64_t weight_ns;
} folded_line;

static int by_text(const void *a, const void *b)
{
	return strcmp(((const folded_line *)a)->text, ((const folded_line *)b)->text);
}

/* A frame name with the format's separators (';', and the space before
 * the count is found from the right, so spaces may stay) made harmless. */
static void folded_name(char *dst, size_t cap, const char *name)
{
	size_t n = 0;

	for (; *name && n + 1 < cap; name++)
		dst[n++] = *name == ';' ? ':' : *name;
	dst[n] = 0;
}

int prof_write_folded(const prof *p, FILE *f)
{
	folded_line *v = calloc(p->nstacks ? p->nstacks : 1, sizeof(*v));
	int rc = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < p->nstacks && !rc; i++) {
		const prof_stack *st = &p->stacks[i];
		size_t cap = 1, len = 0;
		for (uint32_t j = 0; j < st->nframes; j++)
			cap += strlen(p->frames[st->frames[j]].name) + 1;
		if (!(v[i].text = malloc(cap))) {
			rc = -1;
			break;
		}
		for (uint32_t j = 0; j < st->nframes; j++) {
			if (j)
				v[i].text[len++] = ';';
			folded_name(v[i].text + len, cap - len, p->frames[st->frames[j]].name);
			len += strlen(v[i].text + len);
		}
		v[i].weight_ns = st->weight_ns;
	}
	if (!rc) {
		/* The labels are not in this format: their stacks merge. */
		qsort(v, p->nstacks, sizeof(*v), by_text);
		for (size_t i = 0; i < p->nstacks;) {
			uint64_t w = 0;
			size_t j = i;
			for (; j < p->nstacks && !strcmp(v[j].text, v[i].text); j++)
				w += v[j].weight_ns;
			if (w / 1000)
				fprintf(f, "%s %llu\n", v[i].text, (unsigned long long)(w / 1000));
			i = j;
		}
	}
	for (size_t i = 0; i < p->nstacks; i++)
		free(v[i].text);
	free(v);
	return rc || ferror(f) ? -1 : 0;
}

/* ---- speedscope ---- */

int prof_write_speedscope(const prof *p, FILE *f)
{
	uint64_t total = 0;

	fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"shared\":{"
	      "\"frames\":[",
	      f);
	for (size_t i = 0; i < p->nframes; i++) {
		const prof_frame *fr = &p->frames[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", f);
		tt_json_str(f, fr->name);
		if (fr->file) {
			fputs(",\"file\":", f);
			tt_json_str(f, fr->file);
			if (fr->line)
				fprintf(f, ",\"line\":%u", fr->line);
		}
		fputc('}', f);
	}
	fputs("]},\"profiles\":[{\"type\":\"sampled\",\"name\":", f);
	char name[512];
	snprintf(name, sizeof(name), "wait profile of %s", p->target);
	tt_json_str(f, name);
	fputs(",\"unit\":\"nanoseconds\",\"startValue\":0,\"samples\":[", f);
	for (size_t i = 0; i < p->nstacks; i++) {
		fputs(i ? ",[" : "[", f);
		for (uint32_t j = 0; j < p->stacks[i].nframes; j++)
			fprintf(f, "%s%u", j ? "," : "", p->stacks[i].frames[j]);
		fputc(']', f);
		total += p->stacks[i].weight_ns;
	}
	fputs("],\"weights\":[", f);
	for (size_t i = 0; i < p->nstacks; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)p->stacks[i].weight_ns);
	fprintf(f, "],\"endValue\":%llu}],\"name\":", (unsigned long long)total);
	tt_json_str(f, name);
	fputs(",\"activeProfileIndex\":0,\"exporter\":\"tasktrace " TASKTRACE_VERSION "\"}\n", f);
	return ferror(f) ? -1 : 0;
}

/* ---- pprof: profile.proto (github.com/google/pprof/proto/profile.proto) ---- */

typedef struct pbuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
} pbuf;

static void pb_bytes(pbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;
		while (ncap < b->len + n)
			ncap *= 2;
		unsigned char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void pb_varint(pbuf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	pb_bytes(b, tmp, n);
}

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_uint(pbuf *b, unsigned field, uint64_t v)
{
	if (!v)
		return; /* proto3: zero is the default, left out */
	pb_varint(b, (uint64_t)field << 3 | WT_VARINT);
	pb_varint(b, v);
}

static void pb_len(pbuf *b, unsigned field, const void *data, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | WT_LEN);
	pb_varint(b, n);
	pb_bytes(b, data, n);
}

/* A nested message M as field FIELD of B; M is emptied for reuse. */
static void pb_msg(pbuf *b, unsigned field, pbuf *m)
{
	if (m->oom)
		b->oom = 1;
	pb_len(b, field, m->p, m->len);
	m->len = 0;
}

/* The string table: index 0 is "", as the format wants. */
typedef struct strtab {
	const char **s;
	uint64_t *hash;
	size_t n, cap;
	uint32_t *slots;
	size_t nslots;
	int oom;
} strtab;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int strtab_grow(strtab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256, nslots = ncap * 2;
	const char **ns = realloc(t->s, ncap * sizeof(*ns));
	if (ns)
		t->s = ns;
	uint64_t *nh = ns ? realloc(t->hash, ncap * sizeof(*nh)) : NULL;
	if (nh)
		t->hash = nh;
	uint32_t *sl = nh ? calloc(nslots, sizeof(*sl)) : NULL;
	if (!sl)
		return t->oom = -1;
	for (size_t i = 0; i < t->n; i++) {
		size_t k = (size_t)t->hash[i] & (nslots - 1);
		while (sl[k])
			k = (k + 1) & (nslots - 1);
		sl[k] = (uint32_t)i + 1;
	}
	free(t->slots);
	t->slots = sl;
	t->nslots = nslots;
	t->cap = ncap;
	return 0;
}

static uint64_t str_id(strtab *t, const char *s)
{
	uint64_t h = str_hash(s);

	if (t->n == t->cap && strtab_grow(t))
		return 0;
	size_t k = (size_t)h & (t->nslots - 1);
	for (; t->slots[k]; k = (k + 1) & (t->nslots - 1))
		if (t->hash[t->slots[k] - 1] == h && !strcmp(t->s[t->slots[k] - 1], s))
			return t->slots[k] - 1;
	t->s[t->n] = s;
	t->hash[t->n] = h;
	t->slots[k] = (uint32_t)++t->n;
	return t->n - 1;
}

static void value_type(pbuf *b, unsigned field, pbuf *m, strtab *t, const char *type,
		       const char *unit)
{
	pb_uint(m, 1, str_id(t, type));
	pb_uint(m, 2, str_id(t, unit));
	pb_msg(b, field, m);
}

/* The uncompressed Profile message. */
static void pprof_encode(const prof *p, pbuf *b, strtab *t)
{
	pbuf m = {0}, m2 = {0}, packed = {0};

	str_id(t, "");
	value_type(b, 1, &m, t, "tasks", "count");
	value_type(b, 1, &m, t, "wait", "nanoseconds");
	for (size_t i = 0; i < p->nstacks; i++) {
		const prof_stack *st = &p->stacks[i];
		for (uint32_t j = st->nframes; j-- > 0;) /* the leaf first */
			pb_varint(&packed, (uint64_t)st->frames[j] + 1);
		pb_len(&m, 1, packed.p, packed.len);
		packed.len = 0;
		pb_varint(&packed, st->samples);
		pb_varint(&packed, st->weight_ns);
		pb_len(&m, 2, packed.p, packed.len);
		packed.len = 0;
		for (uint32_t j = 0; j < st->nlabels; j++) {
			pb_uint(&m2, 1, str_id(t, st->labels[j].key));
			pb_uint(&m2, 2, str_id(t, st->labels[j].value));
			pb_msg(&m, 3, &m2);
		}
		pb_msg(b, 2, &m);
	}
	for (size_t i = 0; i < p->nframes; i++) {
		const prof_frame *fr = &p->frames[i];
		pb_uint(&m, 1, i + 1);
		pb_uint(&m2, 1, i + 1); /* Line: the function of the same id */
		pb_uint(&m2, 2, fr->line);
		pb_msg(&m, 4, &m2);
		pb_msg(b, 4, &m);
	}
	for (size_t i = 0; i < p->nframes; i++) {
		const prof_frame *fr = &p->frames[i];
		pb_uint(&m, 1, i + 1);
		pb_uint(&m, 2, str_id(t, fr->name));
		pb_uint(&m, 3, str_id(t, fr->name));
		if (fr->file)
			pb_uint(&m, 4, str_id(t, fr->file));
		pb_msg(b, 5, &m);
	}
	uint64_t comment = p->note[0] ? str_id(t, p->note) : 0;
	uint64_t dflt = str_id(t, "wait");
	for (size_t i = 0; i < t->n; i++)
		pb_len(b, 6, t->s[i], strlen(t->s[i]));
	pb_uint(b, 9, p->start_real_ns);
	pb_uint(b, 10, p->duration_ns);
	value_type(b, 11, &m, t, "wait", "nanoseconds");
	pb_uint(b, 12, p->period_ns);
	pb_uint(b, 13, comment);
	pb_uint(b, 14, dflt);
	if (m.oom || m2.oom || packed.oom || t->oom)
		b->oom = 1;
	free(m.p);
	free(m2.p);
	free(packed.p);
}

int prof_write_pprof(const prof *p, FILE *f)
{
	pbuf b = {0};
	strtab t = {0};
	int rc = -1;

	pprof_encode(p, &b, &t);
	if (b.oom) {
		errno = ENOMEM;
		goto out;
	}
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16 /* gzip */, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		errno = ENOMEM;
		goto out;
	}
	uLong cap = deflateBound(&z, (uLong)b.len);
	unsigned char *gz = malloc(cap);
	if (gz) {
		z.next_in = b.p;
		z.avail_in = (uInt)b.len;
		z.next_out = gz;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) == Z_STREAM_END &&
		    fwrite(gz, 1, cap - z.avail_out, f) == cap - z.avail_out)
			rc = 0;
	} else {
		errno = ENOMEM;
	}
	deflateEnd(&z);
	free(gz);
out:
	free(b.p);
	free(t.s);
	free(t.hash);
	free(t.slots);
	return rc || ferror(f) ? -1 : 0;
}
