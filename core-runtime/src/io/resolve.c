/* getaddrinfo(3) on the blocking pool (io.h).  The request holds copies
 * of the host, service and hints; a cancelled future hands it to the pool
 * job (tt_blocking_init_owned), which frees it and any result once the
 * lookup returned. */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "tasktrace/combinators.h"
#include "tasktrace/io.h"

typedef struct tt_resolve_req {
	char *host, *service;
	struct addrinfo hints;
	int has_hints;
	struct addrinfo *res;
	int gai;
} tt_resolve_req;

static void req_free(void *p)
{
	tt_resolve_req *r = p;
	if (!r)
		return;
	if (r->res)
		freeaddrinfo(r->res);
	free(r->host);
	free(r->service);
	free(r);
}

/* getaddrinfo's codes are negative ints of their own (EAI_NONAME is -2,
 * -ENOENT too): the future's result is an errno like every other one. */
static intptr_t gai_errno(int gai, int sys_errno)
{
	switch (gai) {
	case 0:
		return 0;
	case EAI_NONAME:
	case EAI_NODATA:
	case EAI_ADDRFAMILY:
		return -ENXIO;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_BADFLAGS:
	case EAI_FAMILY:
	case EAI_SOCKTYPE:
		return -EINVAL;
	case EAI_SERVICE:
		return -ESRCH;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return sys_errno ? -sys_errno : -EIO;
	default:
		return -EIO;
	}
}

static intptr_t resolve_call(void *p)
{
	tt_resolve_req *r = p;
	errno = 0;
	r->gai = getaddrinfo(r->host, r->service, r->has_hints ? &r->hints : NULL, &r->res);
	if (r->gai)
		r->res = NULL;
	return gai_errno(r->gai, errno);
}

static tt_poll resolve_poll(tt_resolve *self, tt_cx *cx);
static void resolve_cleanup(tt_resolve *self)
{
	/* Cancelled while the lookup ran: the job frees the request. */
	if (!(self->handed && (self->blk.leaf.frame.state & TT_FRAME_CANCELLED)))
		req_free(self->req);
	self->req = NULL;
	self->handed = 0;
}
TT_ASYNC_FN_CLEANUP(tt_resolve, resolve_poll, resolve_cleanup);

void tt_resolve_init(tt_resolve *r, const char *host, const char *service,
		     const struct addrinfo *hints, struct addrinfo **out)
{
	tt_frame_init(&r->frame, &tt_resolve_fn);
	r->out = out;
	r->gai_error = 0;
	r->handed = 0;
	r->req = NULL;
	intptr_t err = (!host && !service) || !out ? -EINVAL : 0;
	if (!err && !(r->req = calloc(1, sizeof *r->req)))
		err = -ENOMEM;
	if (!err && ((host && !(r->req->host = strdup(host))) ||
		     (service && !(r->req->service = strdup(service)))))
		err = -ENOMEM;
	if (err) {
		req_free(r->req);
		r->req = NULL;
		/* Finished already: the await returns ERR without a poll. */
		r->frame.state = TT_FRAME_STARTED | TT_FRAME_DONE;
		r->frame.result = err;
		return;
	}
	if (hints) {
		/* Only the fields getaddrinfo reads from hints. */
		r->req->hints.ai_flags = hints->ai_flags;
		r->req->hints.ai_family = hints->ai_family;
		r->req->hints.ai_socktype = hints->ai_socktype;
		r->req->hints.ai_protocol = hints->ai_protocol;
		r->req->has_hints = 1;
	}
}

static tt_poll resolve_poll(tt_resolve *self, tt_cx *cx)
{
	TT_BEGIN(self);
	self->handed = 1;
	TT_AWAIT(self, cx, &self->blk,
		 tt_blocking_init_owned(&self->blk, resolve_call, self->req, req_free));
	self->handed = 0;
	self->gai_error = self->req->gai;
	if (TT_RESULT(&self->blk) == 0) {
		*self->out = self->req->res;
		self->req->res = NULL;
	}
	req_free(self->req);
	self->req = NULL;
	TT_RETURN(self, TT_RESULT(&self->blk));
}
