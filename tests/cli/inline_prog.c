/* Built with -O2 -g: static inline helpers that GCC inlines, so
 * `tasktrace symbolize` can be checked against llvm-symbolizer on
 * addresses whose inline chains are two and three deep. */
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((always_inline)) unsigned mix(unsigned x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	return x;
}

static inline __attribute__((always_inline)) unsigned twice(unsigned x)
{
	unsigned a = mix(x);
	unsigned b = mix(a + 1);
	return a ^ b;
}

static __attribute__((noinline)) unsigned sum(const unsigned *v, int n)
{
	unsigned s = 0;
	for (int i = 0; i < n; i++)
		s += twice(v[i]);
	return s;
}

static inline int parse(const char *s)
{
	return s ? atoi(s) : 10;
}

int main(int argc, char **argv)
{
	int n = parse(argc > 1 ? argv[1] : NULL);
	unsigned *v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return 1;
	for (int i = 0; i < n; i++)
		v[i] = mix((unsigned)i);
	printf("%u\n", sum(v, n));
	free(v);
	return 0;
}
