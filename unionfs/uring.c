/*
 * unionfs/uring.c: FUSE over io_uring (Linux 6.14+), beside /dev/fuse.
 *
 * Why: on /dev/fuse every request wakes a daemon thread wherever the
 * scheduler puts it, and the reply wakes the caller back, on two CPUs of a
 * small virtual machine more often than not; those two cross-CPU wake-ups
 * cost more than most operations themselves (see docs/performance.md). With
 * io_uring the kernel keeps a queue per CPU and hands a request to the
 * queue of the CPU its caller runs on; our workers for that queue are
 * pinned to that CPU, so the request and its reply stay there.
 *
 * How, with libfuse 3.14, which knows nothing of it: the kernel offers the
 * feature in the INIT request (channel.c reads it there), ufs_init asks for
 * it when the workers could be prepared, and once the INIT reply is out
 * the workers register one entry each: a header buffer and a payload
 * buffer. A request arrives as a completion: fuse_in_header and the
 * operation's header in the header buffer, the rest (names, write data)
 * in the payload. The worker lays them out as /dev/fuse would have them,
 * right in front of the payload, and hands them to libfuse
 * (fuse_session_process_buf); the reply libfuse writes comes back through
 * channel.c's writev hook, which gives it to ufs_uring_take_reply, still
 * in the worker's thread: every operation replies before it returns. The
 * worker then commits the reply and waits for the next request in one
 * submission.
 *
 * What stays on /dev/fuse: the requests before the rings are ready, FORGET
 * and INTERRUPT (the kernel sends those there), and our notifications
 * (the kernel takes none through io_uring); libfuse's own loop keeps
 * serving it.
 *
 * The kernel offers io_uring only when the fuse module's enable_uring
 * parameter is on (off by default): `echo Y >
 * /sys/module/fuse/parameters/enable_uring`. uring=0 keeps a mount off it.
 */
#define pr_fmt(fmt) "lamina-fuse: " fmt

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "common/log.h"
#include "unionfs/ops.h"
#include "unionfs/uring-proto.h"

/* Workers per queue (per CPU): one more than one, so that a long
 * operation (a copy-up, an fsync) does not hold up the others of its CPU. */
#define URING_WORKERS_PER_QUEUE 2
/* Room in front of the payload for fuse_in_header and the op header. */
#define URING_PREFIX 4096
/* The kernel's payload size is max(max_write, max_pages pages), both
 * UFS_MAX_IO here (libfuse derives max_pages from max_write). */
#define URING_PAYLOAD UFS_MAX_IO

struct uring_worker {
	struct ufs *ufs;
	struct ufs_uring *owner;
	pthread_t thread;
	bool started;
	unsigned qid;
	struct io_uring ring;
	struct ufs_uring_req_header *hdr;
	char *buf; /* URING_PREFIX, then the payload */
	struct iovec iov[2];
	/* the request being served */
	uint64_t unique;
	bool replied;
};

struct ufs_uring {
	int fuse_fd;
	int nworkers;
	struct uring_worker *workers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ready;  /* workers with a ring, or failed: under lock */
	int failed; /* workers that could not make their ring: under lock */
	bool go;    /* the INIT reply is out: register (under lock) */
	atomic_bool stop;
};

/* The worker serving a request in this thread, for the reply hook. */
static __thread struct uring_worker *current_worker;

static char *payload_of(struct uring_worker *w)
{
	return w->buf + URING_PREFIX;
}

static int ring_setup(struct io_uring *ring)
{
	/* SQE128: the fuse command needs the big SQE; DEFER_TASKRUN: the
	 * kernel copies a request in for us only when we wait for it */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SQE128 | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SQE128,
	};
	int r = -EINVAL;
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params p = { .flags = flag_sets[i] };
		r = io_uring_queue_init_params(4, ring, &p);
		if (r != -EINVAL)
			break;
	}
	return r;
}

/* Queues a REGISTER or COMMIT_AND_FETCH command for w's entry. */
static int queue_cmd(struct uring_worker *w, uint32_t cmd_op, uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128); /* both halves of the big SQE */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = w->owner->fuse_fd;
	sqe->cmd_op = cmd_op;
	sqe->addr = (uintptr_t)w->iov;
	sqe->len = 2;
	struct ufs_uring_cmd_req *req = (struct ufs_uring_cmd_req *)sqe->cmd;
	req->qid = (uint16_t)w->qid;
	req->commit_id = commit_id;
	return 0;
}

/* Submits what is queued and waits for the entry's completion: a request
 * (0) or an error. Gives up with -ECANCELED once the mount is going. */
static int submit_and_wait(struct uring_worker *w)
{
	/* one system call: commit the reply, wait for the next request */
	for (;;) {
		struct __kernel_timespec ts = { .tv_sec = 1 };
		struct io_uring_cqe *cqe = NULL;
		int r = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		if (r >= 0 && !cqe)
			r = io_uring_peek_cqe(&w->ring, &cqe);
		if (r == -ETIME || r == -EINTR || r == -EAGAIN) {
			if (atomic_load(&w->owner->stop))
				return -ECANCELED;
			continue;
		}
		if (r < 0)
			return r;
		int res = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		return res;
	}
}

/* Lays the request out as /dev/fuse delivers it and has libfuse serve it. */
static void serve_request(struct uring_worker *w)
{
	const struct fuse_in_header *in = (const void *)w->hdr->in_out;
	uint32_t payload_sz = w->hdr->ring_ent_in_out.payload_sz;
	size_t op_len = in->len - sizeof(*in) - payload_sz;
	char *payload = payload_of(w);
	struct fuse_out_header *out = (void *)w->hdr->in_out;
	w->unique = in->unique;
	w->replied = false;
	if (in->len < sizeof(*in) + payload_sz || op_len > UFS_URING_OP_IN_OUT_SZ || payload_sz > URING_PAYLOAD) {
		log_warn("io_uring request %u with bad sizes (%u, payload %u)", in->opcode, in->len, payload_sz);
		goto no_reply;
	}
	char *start = payload - op_len - sizeof(*in);
	memcpy(start, in, sizeof(*in));
	memcpy(start + sizeof(*in), w->hdr->op_in, op_len);
	struct fuse_buf fbuf = { .mem = start, .size = in->len };
	ufs_request_note(start, in->len);
	current_worker = w;
	fuse_session_process_buf(w->ufs->se, &fbuf);
	current_worker = NULL;
	if (w->replied)
		return;
no_reply:
	ufs_refresh_note_reply(w->unique);
	/* every request through the ring waits for a reply */
	*out = (struct fuse_out_header){ .len = sizeof(*out), .error = -EIO, .unique = w->unique };
	w->hdr->ring_ent_in_out.payload_sz = 0;
}

ssize_t ufs_uring_take_reply(const struct iovec *iov, int count)
{
	struct uring_worker *w = current_worker;
	if (!w || count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header))
		return 0;
	const struct fuse_out_header *reply = iov[0].iov_base;
	if (reply->unique != w->unique || w->replied)
		return 0; /* a notification, or not this request's */
	char *payload = payload_of(w);
	size_t used = 0;
	for (int i = 1; i < count; i++) {
		if (iov[i].iov_len > URING_PAYLOAD - used)
			return -EINVAL;
		if (iov[i].iov_base != payload + used)
			memmove(payload + used, iov[i].iov_base, iov[i].iov_len);
		used += iov[i].iov_len;
	}
	memcpy(w->hdr->in_out, reply, sizeof(*reply));
	w->hdr->ring_ent_in_out.payload_sz = (uint32_t)used;
	w->replied = true;
	return (ssize_t)(sizeof(*reply) + used);
}

void *ufs_uring_reply_buffer(size_t size)
{
	struct uring_worker *w = current_worker;
	return w && size <= URING_PAYLOAD ? payload_of(w) : NULL;
}

static void pin_to_cpu(unsigned cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* a cpuset without that CPU: serve from anywhere, still correct */
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* Reports the ring made (or not), then waits for the INIT reply. */
static bool wait_for_go(struct uring_worker *w, bool ring_ok)
{
	struct ufs_uring *u = w->owner;
	pthread_mutex_lock(&u->lock);
	u->ready++;
	u->failed += !ring_ok;
	pthread_cond_broadcast(&u->cond);
	while (ring_ok && !u->go && !atomic_load(&u->stop))
		pthread_cond_wait(&u->cond, &u->lock);
	bool go = ring_ok && u->go && !atomic_load(&u->stop);
	pthread_mutex_unlock(&u->lock);
	return go;
}

static void *worker_main(void *arg)
{
	struct uring_worker *w = arg;
	/* named, so that ps and the tests can tell which path serves */
	char name[16];
	snprintf(name, sizeof(name), "uring-cpu%u", w->qid);
	pthread_setname_np(pthread_self(), name);
	pin_to_cpu(w->qid);
	int r = ring_setup(&w->ring);
	if (r < 0)
		log_info("io_uring for /dev/fuse: %s", strerror(-r));
	if (!wait_for_go(w, r >= 0))
		goto out;
	r = queue_cmd(w, UFS_URING_CMD_REGISTER, 0);
	while (r == 0) {
		r = submit_and_wait(w);
		if (r < 0)
			break;
		serve_request(w);
		r = queue_cmd(w, UFS_URING_CMD_COMMIT_AND_FETCH, w->hdr->ring_ent_in_out.commit_id);
	}
	/* -ENOTCONN: the mount is gone; anything else is worth a line */
	if (r != -ENOTCONN && r != -ECANCELED && r != -ENODEV)
		log_warn("io_uring worker for CPU %u stopped: %s", w->qid, strerror(-r));
	io_uring_queue_exit(&w->ring);
out:
	return NULL;
}

static int worker_init(struct ufs *ufs, struct ufs_uring *u, struct uring_worker *w, unsigned qid)
{
	w->ufs = ufs;
	w->owner = u;
	w->qid = qid;
	if (posix_memalign((void **)&w->hdr, 64, sizeof(*w->hdr)) != 0)
		return -ENOMEM;
	memset(w->hdr, 0, sizeof(*w->hdr));
	if (posix_memalign((void **)&w->buf, 4096, URING_PREFIX + URING_PAYLOAD) != 0)
		return -ENOMEM;
	w->iov[0] = (struct iovec){ .iov_base = w->hdr, .iov_len = sizeof(*w->hdr) };
	w->iov[1] = (struct iovec){ .iov_base = payload_of(w), .iov_len = URING_PAYLOAD };
	/* signals go to the session's own threads, as libfuse's workers
	 * leave them: a SIGTERM taken here would never end the session loop */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->started = r == 0;
	return r;
}

static void uring_free(struct ufs_uring *u)
{
	if (!u)
		return;
	atomic_store(&u->stop, true);
	pthread_mutex_lock(&u->lock);
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
	for (int i = 0; i < u->nworkers; i++) {
		struct uring_worker *w = &u->workers[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		free(w->hdr);
		free(w->buf);
	}
	free(u->workers);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

/* How many CPUs the kernel has queues for: num_possible_cpus(), the
 * weight of /sys/devices/system/cpu/possible ("0-3,8-11"). */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	int n = 0, a, b;
	if (!f)
		return get_nprocs_conf();
	for (;;) {
		int k = fscanf(f, "%d", &a);
		if (k != 1)
			break;
		b = a;
		if (fscanf(f, "-%d", &b) < 0)
			break;
		n += b - a + 1;
		if (fgetc(f) != ',')
			break;
	}
	fclose(f);
	return n > 0 ? n : get_nprocs_conf();
}

bool ufs_uring_prepare(struct ufs *ufs, int fuse_fd)
{
	/* The kernel lets requests wait until every possible CPU's queue has
	 * an entry; past a few hundred CPUs /dev/fuse does better than that
	 * many idle workers. */
	int ncpus = possible_cpus();
	if (ncpus > 256)
		return false;
	struct ufs_uring *u = calloc(1, sizeof(*u));
	if (!u || ncpus < 1)
		goto fail;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->fuse_fd = fuse_fd;
	u->workers = calloc((size_t)ncpus * URING_WORKERS_PER_QUEUE, sizeof(*u->workers));
	if (!u->workers)
		goto fail;
	for (int i = 0; i < ncpus * URING_WORKERS_PER_QUEUE; i++) {
		u->nworkers++;
		if (worker_init(ufs, u, &u->workers[i], (unsigned)(i / URING_WORKERS_PER_QUEUE)) < 0)
			goto fail;
	}
	/* all rings made before the INIT reply promises them: a mount
	 * whose rings never come would wait for them forever */
	pthread_mutex_lock(&u->lock);
	while (u->ready < u->nworkers)
		pthread_cond_wait(&u->cond, &u->lock);
	bool ok = u->failed == 0;
	pthread_mutex_unlock(&u->lock);
	if (!ok)
		goto fail;
	ufs->uring = u;
	return true;
fail:
	uring_free(u);
	return false;
}

void ufs_uring_start(struct ufs *ufs)
{
	struct ufs_uring *u = ufs->uring;
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->go = true;
	pthread_cond_broadcast(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

void ufs_uring_stop(struct ufs *ufs)
{
	uring_free(ufs->uring);
	ufs->uring = NULL;
}
