/*
 * tools/daemon/main.c: laminad, lamina as a Docker plugin (VolumeDriver and
 * GraphDriver) on a unix socket. Parses the options, binds the socket (only
 * root may connect), serves until SIGTERM or SIGINT, then lets the requests
 * in flight end, removes the socket and exits 0. A foreground daemon: systemd
 * or the shell runs it; it logs to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon.h"

#define DEFAULT_SOCKET "/run/docker/plugins/lamina.sock"

struct lmd_config lmd_config = { .backend = LAMINA_BACKEND_KERNEL };

static const char usage[] =
	"Usage: laminad [OPTIONS]\n"
	"Serves Docker's VolumeDriver and GraphDriver plugin protocols on a unix socket.\n"
	"\n"
	"  --socket PATH      the socket (default " DEFAULT_SOCKET ")\n"
	"  --root DIR         the lamina root (default $LAMINA_ROOT, else " LAMINA_DEFAULT_ROOT ")\n"
	"  --backend B        how GraphDriver.Get mounts layers: kernel (default) or fuse\n"
	"  --log-level LEVEL  error, warn, info (default) or debug\n"
	"  -f, --foreground   accepted for compatibility: laminad always runs in the foreground\n"
	"  -h, --help         show this help\n"
	"  --version          show the version\n";

static int parse_level(const char *s)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", LM_LOG_ERR }, { "warn", LM_LOG_WARN }, { "info", LM_LOG_INFO }, { "debug", LM_LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(s, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

/* 0 to run, 1 to exit 0 (help, version), 2 on a usage error. */
static int parse_args(int argc, char *argv[], const char **socket_path)
{
	enum { OPT_SOCKET = 256, OPT_ROOT, OPT_BACKEND, OPT_LEVEL, OPT_VERSION };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET }, { "root", required_argument, NULL, OPT_ROOT },
		{ "backend", required_argument, NULL, OPT_BACKEND }, { "log-level", required_argument, NULL, OPT_LEVEL },
		{ "foreground", no_argument, NULL, 'f' },	     { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },	     { NULL, 0, NULL, 0 },
	};
	int c, level;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET: *socket_path = optarg; break;
		case OPT_ROOT: lmd_config.root = optarg; break;
		case OPT_BACKEND:
			if (strcmp(optarg, "kernel") != 0 && strcmp(optarg, "fuse") != 0)
				return fprintf(stderr, "laminad: unknown backend '%s' (kernel or fuse)\n", optarg), 2;
			lmd_config.backend = optarg[0] == 'k' ? LAMINA_BACKEND_KERNEL : LAMINA_BACKEND_FUSE;
			break;
		case OPT_LEVEL:
			if ((level = parse_level(optarg)) < 0)
				return fprintf(stderr, "laminad: unknown log level '%s'\n", optarg), 2;
			lm_log_set_level(level);
			break;
		case 'f': break;
		case 'h': return fputs(usage, stdout), 1;
		case OPT_VERSION: return printf("laminad %s\n", lamina_version()), 1;
		default: return fputs("Try 'laminad --help'.\n", stderr), 2;
		}
	}
	if (optind < argc)
		return fprintf(stderr, "laminad: unexpected argument '%s'\nTry 'laminad --help'.\n", argv[optind]), 2;
	return 0;
}

static int fill_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		log_error("socket '%s': path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(a->sun_path, path);
	return 0;
}

/* Logs "socket 'PATH': WHAT: strerror(e)"; returns -e. */
static int sock_fail(const char *path, const char *what, int e)
{
	log_error("socket '%s': %s%s%s", path, what, *what ? ": " : "", strerror(e));
	return -e;
}

/* A socket file left by a laminad that died is removed; one that answers is
 * another laminad's, and is left alone. */
static int clear_stale(const char *path, const struct sockaddr_un *a)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : sock_fail(path, "", errno);
	if (!S_ISSOCK(st.st_mode)) {
		log_error("socket '%s': exists and is not a socket", path);
		return -EEXIST;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	close(fd);
	if (r == 0) {
		log_error("socket '%s': another laminad answers on it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return sock_fail(path, "cannot remove the stale one", errno);
	return 0;
}

/* The socket, mode 0600 from the start (umask), listening. */
static int bind_socket(const char *path)
{
	struct sockaddr_un a;
	mode_t old;
	int fd, r;

	if (fill_addr(path, &a) < 0 || clear_stale(path, &a) < 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return sock_fail(path, "cannot create", errno);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0 || listen(fd, 64) < 0) {
		sock_fail(path, "cannot bind or listen", errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* The socket systemd passed (socket activation, contrib/laminad.socket):
 * fd 3 when LISTEN_PID is this process and LISTEN_FDS is 1; else -1. The
 * variables are cleared so that no child takes the socket as its own. */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	bool ours = pid && fds && strtol(pid, NULL, 10) == (long)getpid() && strcmp(fds, "1") == 0;

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (!ours || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 3;
}

int main(int argc, char *argv[])
{
	const char *socket_path = DEFAULT_SOCKET;
	struct MHD_Daemon *d;
	sigset_t stop;
	int fd, sig, r;

	lm_log_set_level(LM_LOG_INFO);
	if ((r = parse_args(argc, argv, &socket_path)))
		return r == 1 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any thread starts, so only sigwait() sees them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	/* an activated socket is systemd's: it stays when laminad ends */
	bool activated = (fd = activated_socket()) >= 0;
	if (!activated && (fd = bind_socket(socket_path)) < 0)
		return 1;
	if (!(d = lmd_server_start(fd))) {
		if (!activated)
			unlink(socket_path);
		return 1;
	}
	log_info("serving on %s (root %s)", activated ? "the socket systemd passed" : socket_path,
		 lmd_config.root ? lmd_config.root : "default");
	while (sigwait(&stop, &sig) != 0)
		;
	log_info("%s: finishing the requests in flight", strsignal(sig));
	if (!activated)
		unlink(socket_path); /* no new client finds us */
	lmd_server_stop(d);
	log_info("stopped");
	return 0;
}
