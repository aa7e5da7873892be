/*
 * unionfs/refresh.c: asking again for a directory's attributes, which the
 * kernel drops whenever it lists the directory.
 *
 * Why: after every READDIR it sends, the kernel marks the directory's
 * atime stale (fuse_invalidate_atime(); only a read-only super block is
 * spared), so the next stat of the directory waits for a GETATTR: one
 * round trip per directory of the walk after a listing (find's next run,
 * ls -l, a build's scan). On the bench's tree a second walk sent 5,775
 * GETATTRs and took 0.38-0.45 s; a third, with none, 0.15 s (the kernel's
 * overlayfs: 0.24 s). So a thread of the daemon stats each directory
 * through the mount 2 ms after its listing ended (REFRESH_DELAY_NS), when
 * the kernel has marked it, and the walker's stat finds the answer cached. It only moves a round trip off the caller's path: at worst it
 * comes too early or too late and the caller asks, as without it.
 *
 * Through which mount: a private clone of it (open_tree(OPEN_TREE_CLONE)),
 * made right after mounting, before anyone else can know the mount. A stat
 * through the user's mount holds that mount busy for its moment, and an
 * umount at that moment would fail with EBUSY. The clone keeps the super
 * block alive, which would keep the session running after the user's
 * umount, so the thread watches the mount table (/proc/self/mountinfo
 * polls POLLPRI on a change) and lets the clone go once the mount it was
 * made from is gone; then the kernel ends the session as it always did.
 * Where the clone cannot be made (no CAP_SYS_ADMIN, a kernel before 5.2),
 * nothing is refreshed.
 *
 * Bounded: REFRESH_QUEUE directories wait at most, the others are not
 * refreshed; one thread at nice 10.
 *
 * A race, and why it is harmless: a refresh's GETATTR may read the
 * attributes just before a change (a create in the directory), and its
 * answer land after the kernel dropped them for that change; the kernel
 * would then keep the old ones (a create does not bump the directory's
 * attr_version). So requests that may change something are counted when
 * they arrive and when they are answered (ufs_refresh_note_request,
 * ufs_refresh_note_reply), and a refresh that overlapped one is followed by
 * an invalidation of the directory's attributes: the next stat asks.
 */
#define pr_fmt(fmt) "lamina-fuse: " fmt

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "unionfs/ops.h"

#define REFRESH_QUEUE 4096           /* directories waiting, at most; more are not refreshed */
#define REFRESH_DELAY_NS 2000000LL   /* after the listing's end: the kernel marks it on its way back */

struct refresh_item {
	char *path;       /* relative to the mount's root */
	uint64_t nodeid;  /* for the invalidation after a race */
	long long due_ns; /* CLOCK_MONOTONIC */
};

struct ufs_refresh {
	struct ufs *ufs;
	pthread_t thread;
	int anchor;       /* the private clone of the mount (O_PATH), -1 once let go */
	uint64_t mnt_id;  /* the user's mount, as /proc/self/mountinfo names it */
	dev_t dev;        /* and its device */
	int mountinfo;    /* /proc/self/mountinfo, polled for changes of the mount table (not read) */
	int wake;         /* eventfd: work queued, or stop */
	pthread_mutex_t lock;
	struct refresh_item ring[REFRESH_QUEUE]; /* FIFO, under lock */
	size_t head, count;
	bool running;     /* under lock: the thread was started, queue for it */
	bool stop;        /* under lock: no more notifications, the session is ending */
	_Atomic pid_t tid; /* the thread's, as its requests name it */
	unsigned hold_ms; /* LAMINA_FUSE_TEST_REFRESH_HOLD_MS (ufs_refresh_hold_answer) */
};

/* Requests that may change what a stat answers: begun, and answered;
 * counted only once a refresh thread runs (one mount per process). */
static atomic_bool counting;
static atomic_uint_fast64_t changes_begun, changes_done;
static __thread bool request_changes;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Whether a request cannot change any attribute the kernel caches. */
static bool request_reads_only(const struct fuse_in_header *in, size_t len)
{
	switch (in->opcode) {
	case FUSE_LOOKUP: case FUSE_FORGET: case FUSE_GETATTR: case FUSE_READLINK: case FUSE_READ:
	case FUSE_STATFS: case FUSE_RELEASE: case FUSE_FSYNC: case FUSE_GETXATTR: case FUSE_LISTXATTR:
	case FUSE_FLUSH: case FUSE_INIT: case FUSE_OPENDIR: case FUSE_READDIR: case FUSE_RELEASEDIR:
	case FUSE_FSYNCDIR: case FUSE_GETLK: case FUSE_SETLK: case FUSE_SETLKW: case FUSE_ACCESS:
	case FUSE_INTERRUPT: case FUSE_BMAP: case FUSE_DESTROY: case FUSE_POLL: case FUSE_BATCH_FORGET:
	case FUSE_READDIRPLUS: case FUSE_LSEEK:
		return true;
	case FUSE_OPEN: {
		/* a read-only open copies nothing up */
		if (len < sizeof(*in) + sizeof(struct fuse_open_in))
			return false;
		uint32_t flags = ((const struct fuse_open_in *)(in + 1))->flags;
		return (flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC);
	}
	default:
		return false;
	}
}

void ufs_refresh_note_request(const void *buf, size_t len)
{
	request_changes = atomic_load_explicit(&counting, memory_order_relaxed) &&
			  len >= sizeof(struct fuse_in_header) && !request_reads_only(buf, len);
	if (request_changes)
		atomic_fetch_add(&changes_begun, 1);
}

void ufs_refresh_note_reply(uint64_t unique)
{
	/* notifications (unique 0) may go out in the middle of a request */
	if (unique && request_changes) {
		request_changes = false;
		atomic_fetch_add(&changes_done, 1);
	}
}

/* The mount id and device of path, without a FUSE request (the session
 * is not running yet): statx leaves the attributes alone with DONT_SYNC. */
static int mount_of(const char *path, uint64_t *ret_id, dev_t *ret_dev)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*ret_id = stx.stx_mnt_id;
	*ret_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	return 0;
}

/* Whether /proc/self/mountinfo (read by libmount, as volumes/ does) still
 * has the mount. Read, not resolved: a path would hold the mount. The
 * device too, because a new mount may take a freed id at once, while ours
 * keeps its device as long as the clone holds the super block. When the
 * table cannot be read, the clone is kept, as if the mount were there. */
static bool mount_listed(uint64_t mnt_id, dev_t dev)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return true;
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	bool found = !it; /* cannot tell */
	while (!found && mnt_table_next_fs(tb, it, &fs) == 0)
		found = (uint64_t)mnt_fs_get_id(fs) == mnt_id && mnt_fs_get_devno(fs) == dev;
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return found;
}

static void refresh_free(struct ufs_refresh *a);

int ufs_refresh_prepare(struct ufs *ufs, const char *mountpoint)
{
	uint64_t mnt_id;
	dev_t dev;
	int r = mount_of(mountpoint, &mnt_id, &dev);
	if (r < 0)
		return r;
	if (!mount_listed(mnt_id, dev))
		return -ENOENT;
	struct ufs_refresh *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->ufs = ufs;
	a->mnt_id = mnt_id;
	a->dev = dev;
	a->mountinfo = a->wake = -1;
	pthread_mutex_init(&a->lock, NULL);
	a->anchor = open_tree(AT_FDCWD, mountpoint, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (a->anchor < 0 || (a->mountinfo = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (a->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		r = -errno;
		refresh_free(a);
		return r;
	}
	ufs->refresh = a;
	return 0;
}

/* Stats one directory through the clone; invalidates what it got when a
 * change overlapped it (see the top of the file). */
static void refresh_one(struct ufs_refresh *a, const struct refresh_item *item)
{
	/* done before begun: equal means nothing was under way at that moment */
	uint64_t done0 = atomic_load(&changes_done);
	uint64_t begun0 = atomic_load(&changes_begun);
	struct stat st;
	int r = fstatat(a->anchor, item->path, &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
	uint64_t done1 = atomic_load(&changes_done);
	if (r < 0 || (begun0 == done0 && done1 == done0))
		return;
	pthread_mutex_lock(&a->lock);
	if (!a->stop && a->ufs->se)
		fuse_lowlevel_notify_inval_inode(a->ufs->se, item->nodeid, -1, 0);
	pthread_mutex_unlock(&a->lock);
}

/* Lets the clone go: the user's mount is gone, so must the super block be. */
static void let_go(struct ufs_refresh *a)
{
	pthread_mutex_lock(&a->lock);
	for (; a->count; a->count--, a->head = (a->head + 1) % REFRESH_QUEUE)
		free(a->ring[a->head].path);
	int anchor = a->anchor;
	a->anchor = -1;
	pthread_mutex_unlock(&a->lock);
	lm_close(anchor);
}

/* Waits for the first item's time, a change of the mount table or stop;
 * returns false when there is nothing more to do. */
static bool wait_for_work(struct ufs_refresh *a, struct refresh_item *ret)
{
	for (;;) {
		pthread_mutex_lock(&a->lock);
		if (a->stop || a->anchor < 0) {
			pthread_mutex_unlock(&a->lock);
			return false;
		}
		long long wait_ns = -1;
		if (a->count) {
			wait_ns = a->ring[a->head].due_ns - now_ns();
			if (wait_ns <= 0) {
				*ret = a->ring[a->head];
				a->head = (a->head + 1) % REFRESH_QUEUE;
				a->count--;
				pthread_mutex_unlock(&a->lock);
				return true;
			}
		}
		pthread_mutex_unlock(&a->lock);
		struct pollfd fds[2] = {
			{ .fd = a->wake, .events = POLLIN },
			{ .fd = a->mountinfo, .events = POLLPRI },
		};
		int timeout_ms = wait_ns < 0 ? -1 : (int)((wait_ns + 999999) / 1000000);
		if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
			return false;
		uint64_t v;
		if (fds[0].revents & POLLIN)
			(void)!read(a->wake, &v, sizeof(v));
		if ((fds[1].revents & (POLLPRI | POLLERR)) && !mount_listed(a->mnt_id, a->dev))
			let_go(a);
	}
}

static void *refresh_main(void *arg)
{
	struct ufs_refresh *a = arg;
	pthread_setname_np(pthread_self(), "refresh");
	atomic_store(&a->tid, (pid_t)syscall(SYS_gettid));
	/* behind the walker, whose round trips it saves */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	struct refresh_item item;
	while (wait_for_work(a, &item)) {
		refresh_one(a, &item);
		free(item.path);
	}
	/* whatever ended it: the clone must not outlive the thread, it would
	 * keep the session running after the user's umount */
	let_go(a);
	return NULL;
}

/* For the tests only: with LAMINA_FUSE_TEST_REFRESH_HOLD_MS the answer to
 * a refresh's GETATTR waits that long after the attributes were read, so
 * that cli-lamina-fuse.sh can put a change inside the race (see the top). */
void ufs_refresh_hold_answer(struct ufs *ufs, fuse_req_t req)
{
	struct ufs_refresh *a = ufs->refresh;
	if (a && a->hold_ms && fuse_req_ctx(req)->pid == atomic_load(&a->tid))
		usleep(a->hold_ms * 1000);
}

void ufs_refresh_listed(struct ufs *ufs, struct ufs_node *dir)
{
	struct ufs_refresh *a = ufs->refresh;
	if (!a)
		return;
	char *path = NULL;
	if (ufs_node_path(ufs, dir, &path) < 0)
		return;
	if (!strcmp(path, "."))
		path[0] = '\0'; /* the root: the clone itself (AT_EMPTY_PATH) */
	struct refresh_item item = { .path = path, .nodeid = ufs_nodeid(ufs, dir), .due_ns = now_ns() + REFRESH_DELAY_NS };
	pthread_mutex_lock(&a->lock);
	bool queued = a->running && a->anchor >= 0 && !a->stop && a->count < REFRESH_QUEUE;
	if (queued) {
		a->ring[(a->head + a->count) % REFRESH_QUEUE] = item;
		if (a->count++ == 0) {
			uint64_t one = 1;
			(void)!write(a->wake, &one, sizeof(one));
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (!queued)
		free(path);
}

int ufs_refresh_start(struct ufs *ufs)
{
	struct ufs_refresh *a = ufs->refresh;
	if (!a)
		return 0;
	const char *hold = getenv("LAMINA_FUSE_TEST_REFRESH_HOLD_MS");
	a->hold_ms = hold ? (unsigned)strtoul(hold, NULL, 10) : 0;
	int r = -pthread_create(&a->thread, NULL, refresh_main, a);
	if (r < 0) {
		/* nothing would watch the mount table: let the clone go now */
		ufs_refresh_stop(ufs);
		return r;
	}
	pthread_mutex_lock(&a->lock);
	a->running = true;
	pthread_mutex_unlock(&a->lock);
	atomic_store(&counting, true);
	return 0;
}

void ufs_refresh_quiesce(struct ufs *ufs)
{
	struct ufs_refresh *a = ufs->refresh;
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_mutex_unlock(&a->lock);
	uint64_t one = 1;
	(void)!write(a->wake, &one, sizeof(one));
}

static void refresh_free(struct ufs_refresh *a)
{
	let_go(a);
	lm_close(a->wake);
	lm_close(a->mountinfo);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void ufs_refresh_stop(struct ufs *ufs)
{
	struct ufs_refresh *a = ufs->refresh;
	if (!a)
		return;
	if (a->running) {
		ufs_refresh_quiesce(ufs);
		/* A stat under way ends when the connection does: this runs
		 * after the session closed /dev/fuse, which aborts what was
		 * left. The thread lets the clone go as it ends. */
		pthread_join(a->thread, NULL);
	}
	refresh_free(a);
	ufs->refresh = NULL;
}
