/*
 * unionfs/unionfs.h: the union file system's internal table of contents.
 *
 * Model. Layer 0 is the upper directory (absent on a read-only union: then
 * ufs->first_layer is 1), layers 1..n are the lowers, top first. A node is one
 * object of the merged view, identified by its reported inode number (unique
 * across layers, stable across copy-up and remount: ino.c). A node knows its
 * parent and name, so its path relative to every layer root is known; all
 * branch access is "open the parent directory beneath the layer root fd with
 * openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), then *at(parent, name,
 * NOFOLLOW)", so a symlink inside a branch never leads outside it. Nodes hold
 * no file descriptors for files (a 100k-entry tree must not need 100k fds);
 * a directory keeps an O_PATH fd per layer, within a budget (path.c).
 *
 * A directory node merges the layers [layer, last_layer]: from its topmost
 * layer down to the first layer where it is opaque or a lower entry stops the
 * merge. A child's range is always inside its parent's.
 *
 * Locking order (never take an earlier lock while holding a later one):
 *   1. node->copyup_lock, parent before child (copy-up climbs to the root
 *      first and locks downwards, one node at a time)
 *   2. ufs->tree_lock (rwlock): every node's parent, name, removed, and the
 *      range fields; readers build paths, writers only swap fields
 *   3. ufs->nodes_lock (mutex): the inode table, nlookup and refs
 * No lock is held across fuse_reply_*() or a data copy.
 */
#ifndef LAMINA_UNIONFS_H
#define LAMINA_UNIONFS_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <lamina/union.h>

#define UFS_MAX_LOWERS 500 /* as the kernel's OVL_MAX_STACK */
#define UFS_MAX_THREADS 32 /* FUSE workers at most */
#define UFS_MAX_IO (1 << 20) /* largest read and write request */

/* options.c */
struct lamina_union_config {
	char **lowers; /* top first */
	int nlowers;
	char *upper;
	char *work;
	char *mountpoint;
	char *source;       /* the fs name shown in /proc/mounts */
	char *fuse_opts;    /* mount options passed on to FUSE ("nodev,noexec") */
	bool foreground;
	bool debug;
	bool fsync;         /* fsync copy-ups and honour fsync (off with volatile/fsync=0) */
	bool volatile_;     /* "volatile" given */
	bool writeback;     /* ask for the kernel's writeback cache (writeback=0: no) */
	double timeout;     /* kernel entry/attr cache timeout, seconds */
	int threads;        /* idle FUSE workers kept */
	bool uring;         /* serve through io_uring where the kernel offers it (uring=0: no) */
	bool dir_readahead; /* read subdirectories ahead of a walk (dir_readahead=0: no) */
	bool dir_refresh;   /* ask again for a listed directory's attributes (dir_refresh=0: no) */
};

/* fs.c: one mounted union */
struct ufs_layer {
	int fd;            /* O_PATH|O_DIRECTORY of the layer root */
	char *path;        /* for messages only */
	dev_t dev;
	int index;
};

struct ufs;
struct ufs_node;
struct fuse_session;

/* The head of an open file or directory handle (handle.c). */
struct ufs_handle {
	struct ufs_handle *prev, *next; /* protected by ufs->handles_lock */
	void (*free_fn)(struct ufs *ufs, struct ufs_handle *h);
};

struct ufs {
	struct ufs_layer *layers; /* [0] upper (fd -1 when absent), [1..nlowers] lowers */
	int nlayers;              /* 1 + nlowers */
	int first_layer;          /* 0 with an upper, 1 without */
	int work_fd;              /* O_PATH of WORK/work, -1 without upper */
	bool same_dev;            /* every layer on one file system: real st_ino is unique */
	bool whiteout_mknod;      /* can mknod 0/0 in the upper: kernel-form whiteouts */
	pthread_mutex_t whiteout_lock; /* renewing the shared whiteout (whiteout.c) */
	const char *xattr_prefix; /* private namespace: "trusted.overlay." or "user.overlay." */
	char xattr_opaque[32];    /* PREFIX "opaque" */
	char xattr_origin[32];    /* PREFIX "lamina.ino": a copied-up object's reported st_ino */
	bool fsync;
	bool writeback;           /* the kernel's writeback cache is on (set at init) */
	bool no_opendir;          /* the kernel sends no opendir/releasedir (set at init) */
	double timeout;
	bool debug;
	atomic_uint_fast64_t tmp_counter; /* names of objects in the workdir */

	pthread_rwlock_t tree_lock;
	pthread_mutex_t nodes_lock;
	struct ufs_node **table; /* hash by ino, protected by nodes_lock */
	size_t table_size;
	size_t nnodes;
	size_t nodes_peak;       /* most nodes since memory was last given back; nodes_lock */
	atomic_int cached_fds;      /* directory fds held in nodes' layer_fds */
	int max_cached_fds;         /* half the fd limit: the rest is for open files */
	struct ufs_node *root;
	struct fuse_session *se; /* set once the session exists, for notifications */
	atomic_uint_fast64_t init_unique; /* the INIT request to fix the reply of (channel.c) */
	atomic_bool init_done;    /* the INIT reply went out */
	bool kernel_parallel_dirops; /* offered in INIT (channel.c) */
	bool kernel_uring;        /* FUSE over io_uring offered in INIT (channel.c) */
	bool kernel_killpriv_v2;  /* FUSE_HANDLE_KILLPRIV_V2 offered in INIT (channel.c) */
	bool uring_allowed;       /* uring=0 not given */
	struct ufs_uring *uring;  /* the io_uring workers, when in use (uring.c) */
	bool dir_readahead;       /* dir_readahead=0 not given */
	struct ufs_dirahead *dirahead; /* the read-ahead thread, once the session runs (dirahead.c) */
	bool dir_refresh;         /* dir_refresh=0 not given */
	struct ufs_refresh *refresh; /* prepared at mount, its thread started at init (refresh.c) */
	pthread_mutex_t handles_lock;
	struct ufs_handle handles; /* open handles, a ring; protected by handles_lock */
};

int ufs_open(const struct lamina_union_config *config, struct ufs **ret, struct lm_error *err);
struct ufs *ufs_close(struct ufs *ufs);
/* Layer index of the upper, or -EROFS on a read-only union. */
static inline int ufs_upper(const struct ufs *ufs)
{
	return ufs->first_layer == 0 ? 0 : -EROFS;
}

/* lookup.c: what a lookup found */
struct ufs_found {
	int layer;      /* topmost layer with the object */
	int last_layer; /* directories: bottom of the merge */
	bool merged;    /* directories: present in two layers or more */
	unsigned nlink_extra; /* already added to st.st_nlink */
	struct stat st; /* of the topmost object, st_ino and st_nlink as reported */
};
/* node.c: the inode table */
/* A further name of a hard-linked file, once the kernel has looked it up. */
struct ufs_alias {
	struct ufs_node *parent; /* holds a ref */
	char *name;
	struct ufs_alias *next;
};

struct ufs_node {
	uint64_t ino;               /* reported st_ino; the key; immutable */
	mode_t type;                /* S_IFMT bits; immutable */
	uint64_t nlookup;           /* protected by nodes_lock */
	uint64_t refs;              /* children + open handles; protected by nodes_lock */
	struct ufs_node *hnext;     /* protected by nodes_lock */
	struct ufs_node *parent;    /* protected by tree_lock; holds a ref */
	char *name;                 /* protected by tree_lock */
	struct ufs_alias *aliases;  /* other names of a hard link; tree_lock and nodes_lock */
	_Atomic int layer;          /* topmost layer holding the object */
	int last_layer;             /* directories: bottom of the merge; protected by tree_lock */
	bool merged;                /* directories: present in two layers or more; tree_lock */
	unsigned nlink_extra;       /* hidden lower names of a hard link (ino.c); tree_lock */
	bool removed;               /* last name unlinked; protected by tree_lock */
	_Atomic(int) *_Atomic layer_fds_ptr; /* directories: an O_PATH fd per layer
				     * (ufs->nlayers slots, -1: none yet), each set once
				     * (CAS); closed when the node goes (path.c) */
	struct ufs_handle *_Atomic dir_handle; /* directories, without opendir
				     * (ops-dir.c): the listing readdir serves; set once */
	int open_fd;                /* see ufs_node_file_opened; nodes_lock */
	unsigned open_count;        /* open files; nodes_lock */
	pthread_mutex_t copyup_lock; /* serialises copy-up of this node */
};

/* Finds or makes the node for an object that lookup found as name in parent
 * (NULL for the root), refreshing its names and layers. count_lookup: the
 * kernel gets a reference (nlookup++), else the caller gets one (refs++,
 * drop it with ufs_node_unref). NULL when out of memory. */
struct ufs_node *ufs_node_get_or_create(struct ufs *ufs, struct ufs_node *parent, const char *name,
					const struct ufs_found *found, bool count_lookup);
/* The node of ino if one exists, with a reference for the caller. */
struct ufs_node *ufs_node_find(struct ufs *ufs, uint64_t ino);
void ufs_node_ref(struct ufs *ufs, struct ufs_node *node);
void ufs_node_unref(struct ufs *ufs, struct ufs_node *node);
void ufs_node_forget(struct ufs *ufs, struct ufs_node *node, uint64_t nlookup);
/* The name (parent, name) of node went away (unlink, rmdir, replaced by a
 * rename): another known name takes over, or the node is marked removed. */
void ufs_node_name_removed(struct ufs *ufs, struct ufs_node *node, struct ufs_node *parent, const char *name);
/* A file of node was opened as fd (takes a ref on node). While files are
 * open the node keeps a duplicate of one fd, so that stat works once the
 * node has no name left: the kernel's fstat of an open, unlinked file
 * arrives as a plain getattr. */
void ufs_node_file_opened(struct ufs *ufs, struct ufs_node *node, int fd);
void ufs_node_file_closed(struct ufs *ufs, struct ufs_node *node);
/* fstat through the kept fd; -ESTALE without one. */
int ufs_node_fstat_kept(struct ufs *ufs, struct ufs_node *node, struct stat *st);
/* A duplicate of the kept fd (caller closes), or -ESTALE. */
int ufs_node_kept_fd(struct ufs *ufs, struct ufs_node *node);
/* Makes fd (owned from now on) the kept fd: the unnamed upper copy of a
 * removed lower file. */
void ufs_node_replace_kept_fd(struct ufs *ufs, struct ufs_node *node, int fd);
/* The name (old_parent, old_name) of node is now (new_parent, new_name). */
int ufs_node_name_moved(struct ufs *ufs, struct ufs_node *node, struct ufs_node *old_parent, const char *old_name,
			struct ufs_node *new_parent, const char *new_name);
void ufs_node_table_free(struct ufs *ufs);
int ufs_node_table_init(struct ufs *ufs);
/* Whether the table shrank to a small part of its peak since the last time
 * this said so (which resets the peak): then the memory of the freed nodes
 * is worth giving back to the system (malloc_trim), or a daemon that served
 * a walk of a large tree would keep that walk's memory for good. */
bool ufs_node_table_shrunk(struct ufs *ufs);

/* path.c: a node's place in each layer */
/* The path of node relative to a layer root ("." for the root), caller frees.
 * -ESTALE when the node was removed. */
int ufs_node_path(struct ufs *ufs, struct ufs_node *node, char **ret_path);
/* Opens the directory dir in layer (O_PATH) as a new fd the caller closes:
 * a copy of the one dir keeps per layer (path.c) when it has it, so the
 * path is resolved once per directory, not once per operation. */
int ufs_dir_open_layer(struct ufs *ufs, struct ufs_node *dir, int layer);
/* Closes dir's kept fds (dir is freed, or now names another object). */
void ufs_dir_forget_fds(struct ufs *ufs, struct ufs_node *dir);
/* Opens node's parent directory in layer and returns its fd, with *ret_name
 * pointing at node's name (caller frees). */
int ufs_node_open_parent(struct ufs *ufs, struct ufs_node *node, int layer, char **ret_name);
/* Opens the node itself in its current layer: O_PATH|O_NOFOLLOW unless flags
 * say otherwise. */
int ufs_node_open(struct ufs *ufs, struct ufs_node *node, int flags);
/* Builds "/proc/self/fd/FD/NAME" for the xattr calls that have no fd form. */
void ufs_proc_path(char buf[], size_t size, int fd, const char *name);

/* whiteout.c: the on-disk markers */
#define UFS_WH_PREFIX ".wh."
#define UFS_WH_OPQ ".wh..wh..opq"
#define UFS_SHARED_WHITEOUT "#whiteout" /* in WORK/work, linked to make whiteouts */
bool ufs_is_whiteout_stat(const struct stat *st);
/* A name that readdir and lookup never show (".wh.*" markers). */
bool ufs_name_is_private(const char *name);
/* The name a ".wh.NAME" marker hides, or NULL if name is no whiteout marker. */
const char *ufs_whiteout_target(const char *name);
/* 1 if the directory pfd holds a ".wh.NAME" marker for name, else 0. */
int ufs_has_wh_marker(int pfd, const char *name);
/* Removes the ".wh.NAME" marker for name from pfd if there is one. */
int ufs_remove_wh_marker(int pfd, const char *name);
/* Whether the directory dirfd (an O_PATH fd) is opaque in any form. */
int ufs_dir_is_opaque(struct ufs *ufs, int parent_fd, const char *name, int dirfd);
/* Creates a whiteout for name in the upper directory parent_fd. */
int ufs_whiteout_create(struct ufs *ufs, int parent_fd, const char *name);
/* Marks the upper directory name (in parent_fd) opaque. */
int ufs_set_opaque(struct ufs *ufs, int parent_fd, const char *name);

/* xattr.c: the private xattr namespace */
/* The name to use on disk for the user's xattr name (escaped if it is in the
 * private namespace). -ERANGE if it does not fit in buf. */
int ufs_xattr_to_disk(const struct ufs *ufs, const char *name, char *buf, size_t size);
/* The name users see for the on-disk xattr disk, or NULL for the union's own
 * markers, which are never shown. May return disk itself or buf. */
const char *ufs_xattr_from_disk(const struct ufs *ufs, const char *disk, char *buf, size_t size);
/* Whether the on-disk name is one of the union's own markers. */
bool ufs_xattr_is_marker(const struct ufs *ufs, const char *disk);

/* ino.c: stable inode numbers */
uint64_t ufs_ino_map(const struct ufs *ufs, int layer, const struct stat *st);
/* What an object found in layer as name in parent_fd (stat st) reports:
 * its st_ino, and the links to add to st_nlink (see ino.c). */
struct ufs_origin {
	uint64_t ino;
	unsigned nlink_extra;
};
void ufs_origin_of(struct ufs *ufs, int layer, int parent_fd, const char *name, const struct stat *st,
		   struct ufs_origin *ret);
/* Records o on the upper object name in parent_fd (copy-up). */
int ufs_origin_write(struct ufs *ufs, int parent_fd, const char *name, const struct ufs_origin *o);

/* lookup.c: finding names across layers */
/* Looks name up in the merged directory dir. -ENOENT when absent or whited out. */
int ufs_lookup_name(struct ufs *ufs, struct ufs_node *dir, const char *name, struct ufs_found *ret);
/* Whether name exists (or is whited out) in a layer below 'above' within
 * dir's range: then removing it from the upper needs a whiteout. */
int ufs_lower_has(struct ufs *ufs, struct ufs_node *dir, const char *name, int above);
/* stat of node's object in its current layer, st_ino mapped. */
int ufs_node_stat(struct ufs *ufs, struct ufs_node *node, struct stat *ret);
/* Turns a real st_nlink of node's object into the merged view's. */
void ufs_node_fix_nlink(struct ufs *ufs, struct ufs_node *node, struct stat *st);

/* copyup.c */
/* Makes node exist in the upper layer (parents first). 0 when done, also when
 * another thread already did it. A node whose last name is gone but that has
 * open files gets an unnamed copy (O_TMPFILE) its open files move to. */
int ufs_copy_up(struct ufs *ufs, struct ufs_node *node);
/* Copies the xattrs except the union's markers between two
 * "/proc/self/fd/..." paths; follow: the paths name fds of the objects
 * themselves (not a parent's fd and a name). */
int ufs_copy_xattrs(const struct ufs *ufs, const char *src, const char *dst, bool follow);
/* Copies the directory dir up and opens its upper directory (O_PATH);
 * returns the fd or a negative errno. */
int ufs_copy_up_open_dir(struct ufs *ufs, struct ufs_node *dir);
/* Creates a temporary name in the workdir (for atomic creation). */
void ufs_tmp_name(struct ufs *ufs, char buf[], size_t size);
/* Clears what a crash left in the workdir. */
int ufs_work_purge(struct ufs *ufs);

/* handle.c: open handles, freed at close if the kernel never released them */
void ufs_handles_init(struct ufs *ufs);
void ufs_handle_track(struct ufs *ufs, struct ufs_handle *h, void (*free_fn)(struct ufs *, struct ufs_handle *));
void ufs_handle_untrack(struct ufs *ufs, struct ufs_handle *h);
void ufs_handles_free_all(struct ufs *ufs);

/* channel.c */
/* Makes the session's I/O on /dev/fuse go through channel.c's hooks, which
 * add FUSE_PARALLEL_DIROPS to the INIT reply (libfuse 3.14 leaves it out).
 * After fuse_session_mount(), before the loop. */
int ufs_channel_attach(struct fuse_session *se);
/* The raw request buf (fuse_in_header first) that this thread is about to
 * serve, before libfuse parses it: for killpriv.c and refresh.c. */
void ufs_request_note(const void *buf, size_t len);

/* killpriv.c: the set-ID bits a request must clear (FUSE_HANDLE_KILLPRIV_V2) */
/* Reads the marks of the raw request buf that this thread is about to serve. */
void ufs_killpriv_note_request(const void *buf, size_t len);
bool ufs_request_kills_suidgid(void);
/* mode without S_ISUID, and without S_ISGID where group-executable. */
mode_t ufs_mode_without_suidgid(mode_t mode);
int ufs_kill_suidgid_fd(int fd);

/* dirahead.c: reading directories ahead of a walk */
struct ufs_dir_listing;
/* Starts the thread (once the session runs: not before a fork). */
int ufs_dirahead_start(struct ufs *ufs);
void ufs_dirahead_stop(struct ufs *ufs);
/* dir has just been listed for the kernel: queue its subdirectories. */
void ufs_dirahead_listed(struct ufs *ufs, struct ufs_node *dir, const struct ufs_dir_listing *listing);

/* refresh.c: asking again for the attributes a listing made the kernel drop */
struct ufs_refresh;
/* Before the session runs and anyone knows the mount: its private clone. */
int ufs_refresh_prepare(struct ufs *ufs, const char *mountpoint);
int ufs_refresh_start(struct ufs *ufs);
/* The session ends: no more notifications (the thread may still be in a stat). */
void ufs_refresh_quiesce(struct ufs *ufs);
/* After the session closed /dev/fuse: joins the thread, lets the clone go. */
void ufs_refresh_stop(struct ufs *ufs);
/* The kernel read the end of dir's listing. */
void ufs_refresh_listed(struct ufs *ufs, struct ufs_node *dir);
/* Each raw request, and each reply, of the thread that serves it. */
void ufs_refresh_note_request(const void *buf, size_t len);
void ufs_refresh_note_reply(uint64_t unique);

/* uring.c: FUSE over io_uring */
struct iovec;
/* At INIT: makes the workers and their rings; false (and nothing left)
 * when io_uring cannot serve this mount. */
bool ufs_uring_prepare(struct ufs *ufs, int fuse_fd);
/* Once the INIT reply is out: the workers register with the kernel. */
void ufs_uring_start(struct ufs *ufs);
/* At the end of the session: stops and frees the workers. */
void ufs_uring_stop(struct ufs *ufs);
/* channel.c's writev hook: takes a reply to the request this thread
 * serves from a ring (its size), 0 when iov is no such reply, or -errno. */
ssize_t ufs_uring_take_reply(const struct iovec *iov, int count);
/* Where a reply of size bytes may be built in place, or NULL when this
 * thread serves no ring request. */
void *ufs_uring_reply_buffer(size_t size);

/* session.c */
/* Tells the kernel that node's attributes changed behind its back (a
 * directory that copy-up turned into a merged one reports nlink 1). */
void ufs_notify_attr_changed(struct ufs *ufs, struct ufs_node *node);

/* hardlink.c */
/* After node (a lower file with st_nlink > 1, st) was copied up from layer:
 * links its other visible names in that layer to the upper copy, so that the
 * names stay one file. */
int ufs_hardlinks_copy_up(struct ufs *ufs, struct ufs_node *node, int layer, const struct stat *st);

/* readdir.c */
struct ufs_dirent {
	char *name;
	int layer;    /* the layer the entry comes from */
	unsigned nlink_extra;
	struct stat st; /* as lookup reports it (st_ino, st_nlink), except
			 * for directories, whose merge lookup works out */
};
struct ufs_dir_listing {
	struct ufs_dirent *entries;
	size_t n;
};
int ufs_dir_list(struct ufs *ufs, struct ufs_node *dir, struct ufs_dir_listing *ret);
void ufs_dir_listing_free(struct ufs_dir_listing *l);
/* Whether the merged directory has no entries (for rmdir and rename). */
int ufs_dir_is_empty(struct ufs *ufs, struct ufs_node *dir);

/* ops.c: the FUSE adapters, and session.c: mount and loop */
struct fuse_lowlevel_ops;
extern const struct fuse_lowlevel_ops ufs_ops;
int ufs_session_run(struct ufs *ufs, const struct lamina_union_config *config, struct lm_error *err);

#endif
