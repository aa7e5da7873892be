/*
 * tests/integration/test-union-files.c: data and metadata operations on the
 * objects of the standard layout (scenario.h) in every position (top lower,
 * bottom lower, upper, both), with the kernel as the oracle: lookup and
 * stat, readdir, open/create/read/write, O_TRUNC, O_APPEND, truncate,
 * chmod, chown, utimensat, fsync, statfs, access, fallocate, SEEK_DATA and
 * SEEK_HOLE, copy_file_range, POSIX locks, shared writable mmap, and an open
 * file that is unlinked.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statvfs.h>

#include "tests/integration/scenario.h"

/* ---- lookup, stat, readdir */

static void st_lookup(struct tl_ctx *ctx)
{
	static const char *const names[] = {
		".", "lo", "deep", "up", "both", "lobig", "losparse", "lomode", "loexec", "lodir", "lodir/a",
		"lodir/sub", "lodir/sub/b", "lodir/low1", "loempty", "updir", "updir/x", "upempty", "bothdir",
		"bothdir/lo", "bothdir/up", "bothdir/bottom", "bothdir/same", "lolink", "uplink", "dangling",
		"lofifo", "lochr", "losock", "opqdir", "opqdir/new",
		/* absent: */
		"nope", "wo", "opqdir/hidden", "lo/x", "lodir/nope", "nope/x", "lolink/x",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		obs(ctx, names[i]);
		tl_log_fstatat(LOG, ROOT, names[i], 0); /* following symlinks */
	}
}

static void st_readlink(struct tl_ctx *ctx)
{
	static const char *const names[] = { "lolink", "uplink", "dangling", "lo", "nope", "lodir" };
	char buf[256];

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		ssize_t n = TV(readlinkat(ROOT, names[i], buf, sizeof(buf)));

		if (n > 0)
			tl_log_add(LOG, "target '%.*s'", (int)n, buf);
	}
	TV(readlinkat(ROOT, "lolink", buf, 1)); /* truncated, no error */
}

static void st_readdir(struct tl_ctx *ctx)
{
	static const char *const dirs[] = { ".", "lodir", "lodir/sub", "loempty", "updir", "upempty", "bothdir",
					    "opqdir", "lo", "nope" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		obs_ls(ctx, dirs[i]);
}

/* An open directory stream sees names made after rewinddir (the kernel
 * rebuilds its merged listing on a seek to 0). */
static void st_readdir_rewind(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDONLY | O_DIRECTORY));
	_cleanup_free_ char *made = tl_strdupf("%s/made-later", ARG);
	_cleanup_free_ char *gone = tl_strdupf("%s/lo", ARG);
	struct tl_dirent *e = NULL;
	size_t n = 0;
	int r;

	if (fd < 0)
		return;
	r = tl_dir_read(fd, &e, &n);
	tl_log_add(LOG, "first listing: %s, %zu entries", tl_errname(-r), n);
	tl_dirents_free(e, n);
	write_at(ctx, made, O_WRONLY | O_CREAT | O_EXCL, "x", -1);
	T(unlinkat(ROOT, gone, 0));
	r = tl_dir_read(fd, &e, &n); /* rewinds */
	tl_log_add(LOG, "second listing: %s", tl_errname(-r));
	for (size_t i = 0; i < n; i++)
		tl_log_add(LOG, "after rewind: %s/%u", e[i].name, e[i].d_type);
	tl_dirents_free(e, n);
	T(close(fd));
}

/* ---- read, write, create */

static void st_read(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDONLY));

	tl_log_pread(LOG, "0", fd, 64, 0);
	tl_log_pread(LOG, "2", fd, 4, 2);
	tl_log_pread(LOG, "past end", fd, 4, 1 << 22);
	TV(lseek(fd, 0, SEEK_END));
	tl_log_fstat(LOG, "fd", fd);
	CLOSE(fd);
}

static void st_write(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY, "XY", 2);
	obs(ctx, ARG);
}

static void st_trunc_open(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_TRUNC, "new\n", -1);
	obs(ctx, ARG);
}

static void st_append(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_APPEND, "more\n", -1);
	write_at(ctx, ARG, O_RDWR | O_APPEND, "again\n", 0); /* pwrite ignores the offset with O_APPEND */
	obs(ctx, ARG);
}

static void st_create(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_CREAT | O_EXCL, "created\n", -1);
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_create_excl(struct tl_ctx *ctx)
{
	T(openat(ROOT, ARG, O_WRONLY | O_CREAT | O_EXCL, 0644));
	obs(ctx, ARG);
}

/* O_CREAT without O_EXCL through a dangling symlink creates its target. */
static void st_create_through_symlink(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_CREAT, "via link\n", -1);
	obs(ctx, ARG);
	obs(ctx, "nowhere");
}

/* Opening for writing without writing: the kernel copies up at open. */
static void st_open_rdwr(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));

	tl_log_pread(LOG, "rdwr", fd, 16, 0);
	CLOSE(fd);
	obs(ctx, ARG);
}

static void st_open_special(struct tl_ctx *ctx)
{
	int fd;

	T(openat(ROOT, "lodir", O_WRONLY));
	T(openat(ROOT, "lodir", O_RDONLY | O_DIRECTORY | O_CREAT, 0644));
	T(openat(ROOT, "lo", O_RDONLY | O_DIRECTORY));
	T(openat(ROOT, "lolink", O_RDONLY | O_NOFOLLOW));
	fd = T(openat(ROOT, "lofifo", O_RDONLY | O_NONBLOCK));
	CLOSE(fd);
	fd = T(openat(ROOT, "lochr", O_RDWR)); /* 1:3, /dev/null: devices work on the mount */
	TV(write(fd, "x", 1));
	CLOSE(fd);
	T(openat(ROOT, "losock", O_RDONLY));
	obs(ctx, "lochr");
}

/* ---- truncate */

static void st_truncate(struct tl_ctx *ctx)
{
	T(truncate(P(ARG), 3));
	obs(ctx, ARG);
}

static void st_truncate_grow(struct tl_ctx *ctx)
{
	T(truncate(P(ARG), 1 << 20));
	obs(ctx, ARG);
	tl_log_content(LOG, ROOT, ARG);
}

static void st_ftruncate(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_WRONLY));

	T(ftruncate(fd, 2));
	CLOSE(fd);
	fd = T(openat(ROOT, ARG, O_RDONLY));
	T(ftruncate(fd, 0)); /* not open for writing */
	CLOSE(fd);
	T(truncate(P("lodir"), 0));
	T(truncate(P("nope"), 0));
	obs(ctx, ARG);
}

/* ---- attributes */

static void st_chmod(struct tl_ctx *ctx)
{
	T(fchmodat(ROOT, ARG, 0640, 0));
	obs(ctx, ARG);
	T(fchmodat(ROOT, ARG, 04755, 0));
	obs(ctx, ARG);
}

static void st_chown(struct tl_ctx *ctx)
{
	T(fchownat(ROOT, ARG, 1234, 5678, AT_SYMLINK_NOFOLLOW));
	obs(ctx, ARG);
	T(fchownat(ROOT, ARG, -1, 42, AT_SYMLINK_NOFOLLOW));
	obs(ctx, ARG);
}

static void log_times(struct tl_ctx *ctx, const char *rel)
{
	struct stat st;

	if (T(fstatat(ROOT, rel, &st, AT_SYMLINK_NOFOLLOW)) == 0)
		tl_log_add(LOG, "%s: atime=%lld.%09ld mtime=%lld.%09ld", rel, (long long)st.st_atim.tv_sec,
			   st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void st_utimens(struct tl_ctx *ctx)
{
	struct timespec ts[2] = { { 1500000000, 123456789 }, { 1600000000, 987654321 } };
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1700000000, 0 } };

	T(utimensat(ROOT, ARG, ts, AT_SYMLINK_NOFOLLOW));
	log_times(ctx, ARG);
	T(utimensat(ROOT, ARG, omit, AT_SYMLINK_NOFOLLOW));
	log_times(ctx, ARG);
	obs(ctx, ARG);
}

/* ---- inode numbers */

/* The kernel keeps an object's st_ino across copy-up (all layers on one file
 * system): record whether it stays, through a change that copies arg up. */
static void st_ino_copy_up(struct tl_ctx *ctx)
{
	struct stat before, after;
	int r = T(fstatat(ROOT, ARG, &before, AT_SYMLINK_NOFOLLOW));

	T(fchownat(ROOT, ARG, 4321, 4321, AT_SYMLINK_NOFOLLOW));
	if (r == 0 && T(fstatat(ROOT, ARG, &after, AT_SYMLINK_NOFOLLOW)) == 0)
		tl_log_add(LOG, "st_ino unchanged by copy-up: %s", before.st_ino == after.st_ino ? "yes" : "no");
	obs(ctx, ARG);
}

/* ---- sync, statfs, access */

static void st_fsync(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, "lo", O_RDONLY));

	T(fsync(fd));
	T(fdatasync(fd));
	T(syncfs(fd));
	CLOSE(fd);
	fd = T(openat(ROOT, "up", O_WRONLY | O_APPEND));
	TV(write(fd, "synced\n", 7));
	T(fsync(fd));
	CLOSE(fd);
	fd = T(openat(ROOT, "lodir", O_RDONLY | O_DIRECTORY));
	T(fsync(fd));
	CLOSE(fd);
	obs(ctx, "up");
}

static void st_statfs(struct tl_ctx *ctx)
{
	static const char *const where[] = { ".", "lo", "lodir", "up" };
	struct statvfs sv;

	for (size_t i = 0; i < ELEMENTSOF(where); i++)
		if (T(statvfs(P(where[i]), &sv)) == 0)
			tl_log_add(LOG, "%s: bsize=%lu frsize=%lu blocks=%llu files=%llu namemax=%lu rdonly=%d",
				   where[i], sv.f_bsize, sv.f_frsize, (unsigned long long)sv.f_blocks,
				   (unsigned long long)sv.f_files, sv.f_namemax, !!(sv.f_flag & ST_RDONLY));
	T(statvfs(P("nope"), &sv));
}

static void access_all(struct tl_ctx *ctx, int flags)
{
	static const char *const names[] = { "lo", "up", "lomode", "loexec", "lodir", "lofifo", "lolink",
					     "dangling", "nope" };
	static const int modes[] = { F_OK, R_OK, W_OK, X_OK, R_OK | W_OK };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		for (size_t j = 0; j < ELEMENTSOF(modes); j++) {
			tl_log_add(LOG, "%s mode %d:", names[i], modes[j]);
			T(faccessat(ROOT, names[i], modes[j], flags));
		}
}

static void st_access(struct tl_ctx *ctx)
{
	access_all(ctx, 0);
	access_all(ctx, AT_EACCESS);
}

static void user_steps(struct tl_ctx *ctx, const void *arg)
{
	access_all(ctx, 0);
	T(openat(ROOT, "lomode", O_RDWR));    /* 0600 1000:1000: ours */
	T(openat(ROOT, "lo", O_WRONLY));      /* 0644 root: EACCES */
	T(openat(ROOT, "new", O_WRONLY | O_CREAT, 0644)); /* root's dir: EACCES */
	T(unlinkat(ROOT, "lo", 0));
	T(fchmodat(ROOT, "lo", 0777, 0));     /* not the owner: EPERM */
	T(fchmodat(ROOT, "lomode", 0640, 0)); /* the owner */
	T(fchownat(ROOT, "lomode", 0, 0, 0)); /* EPERM */
	T(utimensat(ROOT, "lomode", NULL, 0));
	T(utimensat(ROOT, "lo", NULL, 0));   /* not owner, no write permission: EACCES */
}

static void st_as_user(struct tl_ctx *ctx)
{
	in_child(ctx, 1000, 1000, user_steps, NULL);
	obs(ctx, "lomode");
	obs(ctx, "lo");
}

/* What clears the set-ID bits of "losuid" (06775, 1000:1000): its owner,
 * without CAP_FSETID, writing, truncating, opening with O_TRUNC. */
static void suid_user_action(struct tl_ctx *ctx, const void *arg)
{
	const char *action = arg;
	int fd;

	if (!strcmp(action, "write")) {
		fd = T(openat(ROOT, "losuid", O_WRONLY | O_APPEND));
		T(write(fd, "#\n", 2));
		CLOSE(fd);
	} else if (!strcmp(action, "truncate")) {
		T(truncate(P("losuid"), 4));
	} else {
		fd = T(openat(ROOT, "losuid", O_WRONLY | O_TRUNC));
		CLOSE(fd);
	}
}

/* The set-ID bits cleared as the kernel clears them: by a write, a
 * truncation or an O_TRUNC open of a user without CAP_FSETID (both bits:
 * the file is group-executable), first on the lower file (the action
 * copies it up), then on the upper copy; not by root's write; always by a
 * chown. */
static void st_suid_kill(struct tl_ctx *ctx)
{
	static const char *const actions[] = { "write", "truncate", "otrunc", "write" };
	int fd;

	for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
		in_child(ctx, 1000, 1000, suid_user_action, actions[i]);
		obs(ctx, "losuid");
		T(fchmodat(ROOT, "losuid", 06775, 0));
	}
	fd = T(openat(ROOT, "losuid", O_WRONLY | O_APPEND));
	T(write(fd, "#\n", 2));
	CLOSE(fd);
	obs(ctx, "losuid");
	T(fchownat(ROOT, "losuid", 1000, 1000, 0));
	obs(ctx, "losuid");
}

/* ---- fallocate, SEEK_DATA/SEEK_HOLE, copy_file_range */

static void st_fallocate(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));

	T(fallocate(fd, 0, 0, 65536));
	T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 4096));
	tl_log_fstat(LOG, "fd", fd);
	CLOSE(fd);
	fd = T(openat(ROOT, "lo", O_RDONLY));
	T(fallocate(fd, 0, 0, 4096)); /* not open for writing: EBADF */
	CLOSE(fd);
	obs(ctx, ARG);
}

static const off_t seek_offsets[] = { 0, 4096, 512 * 1024, 512 * 1024 + 4, 600 * 1024, (1 << 20) - 1, 1 << 20 };

/* The exact SEEK_DATA/SEEK_HOLE answers: for the lower file, the layer's
 * file system's own, so any union must give them as they are. */
static void seek_exact(struct tl_ctx *ctx, int fd)
{
	for (size_t i = 0; i < ELEMENTSOF(seek_offsets); i++) {
		_cleanup_free_ char *data = tl_strdupf("lseek %lld SEEK_DATA", (long long)seek_offsets[i]);
		_cleanup_free_ char *hole = tl_strdupf("lseek %lld SEEK_HOLE", (long long)seek_offsets[i]);

		TL_TRY_(LOG, data, lseek(fd, seek_offsets[i], SEEK_DATA), true);
		TL_TRY_(LOG, hole, lseek(fd, seek_offsets[i], SEEK_HOLE), true);
	}
}

/*
 * What SEEK_DATA/SEEK_HOLE must say of a copied-up file, whose exact layout
 * is the copy's (the kernel copies in 1 MiB chunks, filling the holes of a
 * chunk that has data; a finer copy keeps more holes): every non-zero byte
 * lies in a data region, and a hole before the end is still reported.
 */
static void seek_semantics(struct tl_ctx *ctx, int fd)
{
	struct stat st;
	_cleanup_free_ char *buf = NULL;
	bool covered = true, hole_before_end = false;
	off_t pos = 0, data, hole;

	if (fd < 0 || fstat(fd, &st) < 0 || !(buf = tl_malloc((size_t)st.st_size)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		tl_log_add(LOG, "seek semantics: cannot read the file: %s", tl_errname(errno));
		return;
	}
	while (pos < st.st_size && (data = lseek(fd, pos, SEEK_DATA)) >= 0) {
		for (off_t i = pos; i < data; i++)
			covered = covered && buf[i] == 0;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		hole_before_end = hole_before_end || hole < st.st_size || data > pos;
		pos = hole;
	}
	for (off_t i = pos; i < st.st_size; i++)
		covered = covered && buf[i] == 0;
	tl_log_add(LOG, "seek semantics: non-zero data in data regions: %s; a hole before the end: %s",
		   covered ? "yes" : "no", hole_before_end ? "yes" : "no");
}

/* arg "ro": the lower file as it is, exact answers; "rw": after a copy-up,
 * which must keep the holes. */
static void st_seek(struct tl_ctx *ctx)
{
	bool rw = !strcmp(ARG, "rw");
	int fd = T(openat(ROOT, "losparse", rw ? O_RDWR : O_RDONLY));

	if (rw) {
		seek_semantics(ctx, fd);
		TV(pwrite(fd, "end", 3, (1 << 20) - 3));
		seek_semantics(ctx, fd);
	} else {
		seek_exact(ctx, fd);
	}
	CLOSE(fd);
	obs(ctx, "losparse");
}

/* arg "FROM>TO": copies 5 bytes from offset 1 of FROM to offset 2 of TO
 * (made if missing). */
static void st_copy_range(struct tl_ctx *ctx)
{
	const char *gt = strchr(ARG, '>');
	_cleanup_free_ char *from = tl_strdupf("%.*s", (int)(gt - ARG), ARG);
	int in = T(openat(ROOT, from, O_RDONLY));
	int out = T(openat(ROOT, gt + 1, O_WRONLY | O_CREAT, 0644));
	loff_t off_in = 1, off_out = 2;

	TV(copy_file_range(in, &off_in, out, &off_out, 5, 0));
	TV(copy_file_range(in, &off_in, out, &off_out, 1 << 20, 0)); /* up to the end */
	TV(copy_file_range(out, NULL, in, NULL, 1, 0));              /* in is read-only: EBADF */
	CLOSE(in);
	CLOSE(out);
	obs(ctx, from);
	obs(ctx, gt + 1);
}

/* ---- locks and mmap */

static void lock_probe(struct tl_ctx *ctx, const void *arg)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };

	T(fcntl(fd, F_GETLK, &fl));
	tl_log_add(LOG, "getlk: type %d start %lld len %lld", fl.l_type, (long long)fl.l_start, (long long)fl.l_len);
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	T(fcntl(fd, F_SETLK, &fl));
	fl.l_start = 100; /* outside the parent's lock */
	T(fcntl(fd, F_SETLK, &fl));
	T(flock(fd, LOCK_EX | LOCK_NB));
	CLOSE(fd);
}

static void st_locks(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 50 };

	T(fcntl(fd, F_SETLK, &fl));
	T(flock(fd, LOCK_EX | LOCK_NB));
	in_child(ctx, 0, 0, lock_probe, NULL);
	fl.l_type = F_UNLCK;
	T(fcntl(fd, F_SETLK, &fl));
	T(flock(fd, LOCK_UN));
	in_child(ctx, 0, 0, lock_probe, NULL);
	CLOSE(fd);
	obs(ctx, ARG);
}

static void st_mmap(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));
	int other = T(openat(ROOT, ARG, O_RDONLY));
	char *map = fd < 0 ? MAP_FAILED : mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	tl_log_add(LOG, "mmap: %s", map == MAP_FAILED ? tl_errname(errno) : "ok");
	if (map != MAP_FAILED) {
		memcpy(map + 1, "MM", 2);
		T(msync(map, 8192, MS_SYNC));
		tl_log_pread(LOG, "other fd", other, 8, 0);
		T(munmap(map, 8192));
	}
	CLOSE(fd);
	CLOSE(other);
	fd = T(openat(ROOT, "lo", O_RDONLY));
	map = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tl_log_add(LOG, "shared writable map of a read-only fd: %s", map == MAP_FAILED ? tl_errname(errno) : "ok");
	CLOSE(fd);
	obs(ctx, ARG);
}

/* ---- an open file that is unlinked */

static void st_unlinked_open(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, ARG, O_RDWR));
	int ro = T(openat(ROOT, ARG, O_RDONLY));

	T(unlinkat(ROOT, ARG, 0));
	TV(pwrite(fd, "Z", 1, 0));
	tl_log_fstat(LOG, "rw fd", fd);
	tl_log_fstat(LOG, "ro fd", ro);
	tl_log_pread(LOG, "rw fd", fd, 32, 0);
	tl_log_pread(LOG, "ro fd", ro, 32, 0);
	T(fchmod(fd, 0600));
	tl_log_fstat(LOG, "rw fd after fchmod", fd);
	T(ftruncate(fd, 1));
	tl_log_fstat(LOG, "rw fd after ftruncate", fd);
	CLOSE(fd);
	CLOSE(ro);
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_unlinked_open_ro(struct tl_ctx *ctx)
{
	int ro = T(openat(ROOT, ARG, O_RDONLY));

	T(unlinkat(ROOT, ARG, 0));
	tl_log_pread(LOG, "ro fd", ro, 32, 0);
	tl_log_fstat(LOG, "ro fd", ro);
	CLOSE(ro);
	obs(ctx, ARG);
}

/* lamina-fuse's documented promise (docs/unionfs.md): inode numbers are
 * the same after copy-up and after a remount. Checked by mounting the same
 * branches twice. */
START_TEST(test_ino_stable_across_remount)
{
	static const char *const names[] = { "lo", "deep", "up", "lodir", "lodir/sub/b", "bothdir", "lolink" };
	_cleanup_free_ char *l0 = tl_strdupf("%s/l0", tl_scratch), *l1 = tl_strdupf("%s/l1", tl_scratch);
	_cleanup_free_ char *u = tl_strdupf("%s/u", tl_scratch), *w = tl_strdupf("%s/w", tl_scratch);
	_cleanup_free_ char *m = tl_strdupf("%s/m", tl_scratch);
	const char *lowers[] = { l0, l1 };
	struct tl_union_opts o = { lowers, 2, u, w, NULL };
	ino_t first[ELEMENTSOF(names)];

	tl_branch_build(l0, std_lower0);
	tl_branch_build(l1, std_lower1);
	tl_branch_build(u, std_upper);
	tl_mkdir(w, ".", 0755);
	tl_mkdir(m, ".", 0755);
	for (int round = 0; round < 2; round++) {
		struct tl_union un;

		ck_assert_msg(tl_union_mount(&un, TL_LAMINA, &o, m) == 0, "%s", un.msg);
		for (size_t i = 0; i < ELEMENTSOF(names); i++) {
			_cleanup_free_ char *p = tl_strdupf("%s/%s", un.mnt, names[i]);
			struct stat st;

			ck_assert_msg(lstat(p, &st) == 0, "stat '%s': %m", names[i]);
			if (round == 0) {
				first[i] = st.st_ino;
				ck_assert_msg(lchown(p, 77, 77) == 0, "chown '%s': %m", names[i]); /* copy-up */
				ck_assert_msg(lstat(p, &st) == 0 && st.st_ino == first[i], "'%s': st_ino %lu, "
					      "then %lu after copy-up", names[i], (unsigned long)first[i],
					      (unsigned long)st.st_ino);
			} else {
				ck_assert_msg(st.st_ino == first[i], "'%s': st_ino %lu, %lu after remount", names[i],
					      (unsigned long)first[i], (unsigned long)st.st_ino);
			}
		}
		ck_assert_msg(tl_union_umount(&un) == 0, "%s", un.msg);
	}
}
END_TEST

static const struct tl_scenario scenarios[] = {
	SC("lookup-stat-everything", STD, st_lookup, NULL),
	SC("readlink", STD, st_readlink, NULL),
	SC("readdir-every-dir", STD, st_readdir, NULL),
	SC("readdir-rewind-merged", STD, st_readdir_rewind, "bothdir"),
	SC("readdir-rewind-root", STD, st_readdir_rewind, "."),
	SC("read-lower", STD, st_read, "lo"),
	SC("read-bottom-lower", STD, st_read, "deep"),
	SC("read-upper", STD, st_read, "up"),
	SC("read-both", STD, st_read, "both"),
	SC("read-big-lower", STD, st_read, "lobig"),
	SC("read-through-symlink", STD, st_read, "lolink"),
	SC("write-lower", STD, st_write, "lo"),
	SC("write-bottom-lower", STD, st_write, "deep"),
	SC("write-upper", STD, st_write, "up"),
	SC("write-both", STD, st_write, "both"),
	SC("write-lower-in-merged-dir", STD, st_write, "lodir/sub/b"),
	SC("write-big-lower", STD, st_write, "lobig"),
	SC("o-trunc-lower", STD, st_trunc_open, "lo"),
	SC("o-trunc-upper", STD, st_trunc_open, "up"),
	SC("o-trunc-both", STD, st_trunc_open, "both"),
	SC("o-append-lower", STD, st_append, "lo"),
	SC("o-append-upper", STD, st_append, "up"),
	SC("o-append-both", STD, st_append, "both"),
	SC("create-in-root", STD, st_create, "new"),
	SC("create-in-lower-dir", STD, st_create, "lodir/sub/new"),
	SC("create-in-merged-dir", STD, st_create, "bothdir/new"),
	SC("create-in-upper-dir", STD, st_create, "updir/new"),
	SC("create-in-empty-lower-dir", STD, st_create, "loempty/new"),
	SC("create-over-whiteout", STD, st_create, "wo"),
	SC("create-in-opaque-dir", STD, st_create, "opqdir/hidden"),
	SC("create-missing-parent", STD, st_create, "nope/new"),
	SC("create-excl-lower", STD, st_create_excl, "lo"),
	SC("create-excl-upper", STD, st_create_excl, "up"),
	SC("create-excl-dir", STD, st_create_excl, "lodir"),
	SC("create-excl-symlink", STD, st_create_excl, "dangling"),
	SC("create-through-dangling-symlink", STD, st_create_through_symlink, "dangling"),
	SC("open-rdwr-without-writing", STD, st_open_rdwr, "lo"),
	SC("open-special-files", STD, st_open_special, NULL),
	SC("truncate-lower", STD, st_truncate, "lo"),
	SC("truncate-upper", STD, st_truncate, "up"),
	SC("truncate-both", STD, st_truncate, "both"),
	SC("truncate-big-lower", STD, st_truncate, "lobig"),
	SC("truncate-grow-lower", STD, st_truncate_grow, "lo"),
	SC("ftruncate-lower", STD, st_ftruncate, "lo"),
	SC("ftruncate-upper", STD, st_ftruncate, "up"),
	SC("chmod-lower", STD, st_chmod, "lo"),
	SC("chmod-upper", STD, st_chmod, "up"),
	SC("chmod-lower-dir", STD, st_chmod, "lodir"),
	SC("chmod-merged-dir", STD, st_chmod, "bothdir"),
	SC("chmod-lower-fifo", STD, st_chmod, "lofifo"),
	SC("chmod-lower-in-dir", STD, st_chmod, "lodir/sub/b"),
	SC("chown-lower", STD, st_chown, "lo"),
	SC("chown-upper", STD, st_chown, "up"),
	SC("chown-lower-dir", STD, st_chown, "lodir"),
	SC("chown-lower-symlink", STD, st_chown, "lolink"),
	SC("chown-lower-device", STD, st_chown, "lochr"),
	SC("utimens-lower", STD, st_utimens, "lo"),
	SC("utimens-upper", STD, st_utimens, "up"),
	SC("utimens-lower-dir", STD, st_utimens, "lodir"),
	SC("utimens-lower-symlink", STD, st_utimens, "lolink"),
	SC("utimens-bottom-lower", STD, st_utimens, "deep"),
	SC("ino-stable-copy-up-lower", STD, st_ino_copy_up, "lo"),
	SC("ino-stable-copy-up-bottom-lower", STD, st_ino_copy_up, "deep"),
	SC("ino-stable-copy-up-lower-dir", STD, st_ino_copy_up, "lodir"),
	SC("ino-stable-copy-up-lower-subdir", STD, st_ino_copy_up, "lodir/sub"),
	SC("ino-stable-copy-up-symlink", STD, st_ino_copy_up, "lolink"),
	SC("ino-stable-copy-up-fifo", STD, st_ino_copy_up, "lofifo"),
	SC("fsync", STD, st_fsync, NULL),
	SC("statfs", STD, st_statfs, NULL),
	SC("access-root", STD, st_access, NULL),
	SC("permissions-as-user", STD, st_as_user, NULL),
	SC("set-id-bits-cleared", STD, st_suid_kill, NULL),
	SC("fallocate-lower", STD, st_fallocate, "lo"),
	SC("fallocate-upper", STD, st_fallocate, "up"),
	SC("seek-data-hole-lower", STD, st_seek, "ro"),
	SC("seek-data-hole-after-copy-up", STD, st_seek, "rw"),
	SC("copy-range-lower-to-new", STD, st_copy_range, "lo>copy"),
	SC("copy-range-upper-to-lower", STD, st_copy_range, "up>lo"),
	SC("copy-range-big-lower-to-upper", STD, st_copy_range, "lobig>up"),
	SC("locks-lower", STD, st_locks, "lo"),
	SC("locks-upper", STD, st_locks, "up"),
	SC("mmap-shared-lower", STD, st_mmap, "lo"),
	SC("mmap-shared-upper", STD, st_mmap, "up"),
	SC("mmap-shared-big-lower", STD, st_mmap, "lobig"),
	SC("unlinked-open-lower", STD, st_unlinked_open, "lo"),
	SC("unlinked-open-upper", STD, st_unlinked_open, "up"),
	SC("unlinked-open-both", STD, st_unlinked_open, "both"),
	SC("unlinked-open-in-merged-dir", STD, st_unlinked_open, "bothdir/lo"),
	SC("unlinked-open-readonly-lower", STD, st_unlinked_open_ro, "lo"),
	SC("unlinked-open-readonly-upper", STD, st_unlinked_open_ro, "up"),
};

int main(void)
{
	const TTest *lamina_only[] = { test_ino_stable_across_remount, NULL };

	return scenario_main("test-union-files", scenarios, ELEMENTSOF(scenarios), lamina_only);
}
