/* The fuzz input: a target memory image, as the fuzz target reads it and
 * the corpus generator writes it.
 *
 *   byte 0       options (FZ_* below)
 *   then         regions, each: address (8 bytes, little-endian), length
 *                (4 bytes), that many bytes of memory (cut short by the
 *                end of the input); at most FZ_MAX_REGIONS
 *
 * The registry root is at the first region's address. */
#ifndef TT_FUZZ_IMAGE_H
#define TT_FUZZ_IMAGE_H

#define FZ_VIEW 0x01   /* a zero-copy view as for a core mapped in place */
#define FZ_CACHE 0x02  /* a block cache in front, as for a live target */
#define FZ_TIGHT 0x04  /* small reader caps, to reach every cap */
#define FZ_ALL 0x08    /* system tasks too (ps -a, hung --all) */
#define FZ_GROUP 0x10  /* ps --group */
#define FZ_BT_IDS 0x20 /* bt of every task by id, not bt's default set */
#define FZ_MAX_REGIONS 8
#define FZ_REGION_HEADER 12

#endif
