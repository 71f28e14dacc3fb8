/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libreactor's private header: the objects behind the opaque handles and
 * the calls modules make to each other. Nothing here is part of the ABI.
 */
#ifndef REACTOR_INTERNAL_H
#define REACTOR_INTERNAL_H

#include <reactor.h>

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

/* glibc's sys/queue.h lacks the BSD _SAFE iterators. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                             \
	for ((var) = TAILQ_FIRST((head)); (var) && ((tvar) = TAILQ_NEXT((var), field), 1); \
	     (var) = (tvar))
#endif

#define REACTOR_CACHE_LINE 64
#define REACTOR_TLS __thread __attribute__((tls_model("initial-exec")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Defaults shared by reactor_opts_init() and reactor_app_opts_init(). */
#define DEFAULT_IDLE_THRESHOLD_US 100u
#define DEFAULT_STALL_THRESHOLD_MS 25u
#define DEFAULT_EVENT_RING_SIZE 65536u
#define DEFAULT_MSG_RING_SIZE 16384u
#define DEFAULT_MSG_POOL_SIZE 262144u
#define DEFAULT_THREAD_EXIT_TIMEOUT_MS 5000u

/* Batch sizes of one loop iteration: big enough to amortise ring costs,
 * small enough that one busy source cannot starve the others. */
#define EVENT_BATCH 32u
#define MSG_BATCH 32u
#define FD_BATCH 32u
/* Poll mode: longest pause between two epoll checks while no fd is ready. */
#define FD_POLL_MAX_BACKOFF_US 50u

/* ---- env ---------------------------------------------------------------- */
void env_init(void);
extern bool g_env_use_tsc;

/* The loop's own clock: the same ticks as reactor_get_ticks(), without the
 * lfence that orders the public call across threads (the loop compares only
 * its own readings). */
static inline uint64_t ticks_fast(void)
{
#if defined(__x86_64__) || defined(__i386__)
	if (likely(g_env_use_tsc))
		return __builtin_ia32_rdtsc();
#endif
	return reactor_get_ticks();
}

static inline uint64_t ticks_from_us(uint64_t us)
{
	return us * reactor_get_ticks_hz() / 1000000u;
}

/* ---- ring --------------------------------------------------------------- */
/* Consumer-side emptiness check, used before a reactor goes to sleep. */
bool ring_empty(const struct reactor_ring *ring);

/* ---- events and messages share one pooled object (lib/msg.c) ------------ */
struct reactor_event {
	union {
		reactor_event_fn event;
		reactor_msg_fn msg;
	} fn;
	void *arg1;
	void *arg2;
	uint32_t core; /* destination reactor for events */
};

int msg_pool_init(uint32_t size);
struct reactor_event *msg_get(void);
void msg_put(struct reactor_event *ev);

/* ---- stall detector (lib/stall.c) -------------------------------------- */
/* What a reactor is running right now, published for the watchdog. */
struct stall_slot {
	void *_Atomic fn;           /* callback in progress; NULL when between work */
	const char *_Atomic name;   /* its interned name (never freed), or NULL */
	_Atomic uint64_t seq;       /* bumped for every callback */
};

extern REACTOR_TLS struct stall_slot *tls_stall;

static inline void stall_enter(void *fn, const char *name)
{
	struct stall_slot *s = tls_stall;

	if (s != NULL) {
		atomic_store_explicit(&s->fn, fn, memory_order_relaxed);
		atomic_store_explicit(&s->name, name, memory_order_relaxed);
		atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	}
}

static inline void stall_idle(void)
{
	if (tls_stall != NULL)
		atomic_store_explicit(&tls_stall->fn, NULL, memory_order_relaxed);
}

#define STALL_BT_FRAMES 32

int stall_start(uint32_t threshold_ms);
void stall_stop(void);
/* Change the threshold while the framework runs (0 stops the detector,
 * a value starts it if it was off). Returns 0, -ENODEV (not running) or
 * stall_start()'s error. */
int stall_set_threshold(uint32_t threshold_ms);
/* The threshold in force, 0 when the detector is off. */
uint32_t stall_get_threshold(void);
void stall_reactor_woke(void);
void stall_install_handler(void);
/* A copy of @p name that lives as long as the process, so the watchdog may
 * read it while the poller that carries it is freed. NULL when the table is
 * full (names then come from the symbol table). */
const char *stall_intern_name(const char *name);

/* ---- pollers ------------------------------------------------------------ */
enum poller_state {
	POLLER_RUNNING,
	POLLER_PAUSING,      /* pause requested; moved to the paused list lazily */
	POLLER_PAUSED,
	POLLER_UNREGISTERED, /* freed lazily, never run again */
};

struct reactor_poller {
	TAILQ_ENTRY(reactor_poller) link;
	struct reactor_thread *thread;
	reactor_poller_fn fn;
	void *arg;
	uint64_t period_ticks; /* 0: active poller */
	uint64_t next_run;
	enum poller_state state;
	uint64_t runs;
	uint64_t busy_runs;
	const char *stall_name; /* interned copy of name */
	char name[64];
};
TAILQ_HEAD(poller_list, reactor_poller);

/* ---- fd events ---------------------------------------------------------- */
struct reactor_fd_event {
	TAILQ_ENTRY(reactor_fd_event) link;
	struct reactor_thread *thread;
	int fd;
	uint32_t events;
	bool dead;
	reactor_fd_fn fn;
	void *arg;
	char name[64];
};
TAILQ_HEAD(fd_list, reactor_fd_event);

/* ---- I/O channels ------------------------------------------------------- */
struct io_device;
struct reactor_io_channel {
	TAILQ_ENTRY(reactor_io_channel) link;
	struct io_device *dev;
	struct reactor_thread *thread;
	uint32_t refs;
	bool destroy_pending;
	alignas(16) unsigned char ctx[];
};
TAILQ_HEAD(channel_list, reactor_io_channel);

void channel_force_release_all(struct reactor_thread *thread);
void channel_describe(struct reactor_thread *thread, char *buf, size_t len);
/* Name of the device of @p ch. On the channel's thread. */
const char *channel_device_name(const struct reactor_io_channel *ch);

/* ---- threads ------------------------------------------------------------ */
enum thread_state {
	THREAD_RUNNING,
	THREAD_EXITING,
	THREAD_EXITED,
};

struct reactor;

struct reactor_thread {
	uint64_t id;
	char name[64];
	struct reactor_ring *messages;
	struct reactor_cpuset *cpumask;
	struct reactor *_Atomic reactor; /* NULL: driven by the caller */
	_Atomic int state;

	struct poller_list active_pollers;
	struct poller_list timed_pollers; /* sorted by next_run */
	struct poller_list paused_pollers;
	uint32_t poller_count;            /* registered, not unregistered */
	uint32_t dead_pollers;            /* unregistered, not yet freed */

	int epfd;                         /* -1 until the first fd is registered */
	struct fd_list fds;
	struct fd_list dead_fds;
	uint32_t fd_count;
	bool fd_ready;                    /* reactor saw our epfd readable */
	bool in_fd_dispatch;

	struct channel_list channels;

	uint64_t exit_deadline;
	void (*exit_hook)(void *);        /* run once when exit begins */
	void *exit_hook_arg;

	_Atomic uint64_t busy_ticks;
	_Atomic uint64_t idle_ticks;
	_Atomic uint64_t msgs;

	TAILQ_ENTRY(reactor_thread) reactor_link; /* owned by its reactor */
	TAILQ_ENTRY(reactor_thread) global_link;  /* g_threads, under g_threads_lock */
};
TAILQ_HEAD(thread_list, reactor_thread);

extern REACTOR_TLS struct reactor_thread *tls_thread;

/* Runs one iteration of @p thread: messages, pollers, fds, exit check.
 * Returns 1 when it did work. */
int thread_poll(struct reactor_thread *thread, uint32_t max_msgs, uint64_t now);
/* Earliest tick at which the thread needs to run again (UINT64_MAX: none). */
uint64_t thread_next_deadline(const struct reactor_thread *thread);
bool thread_has_pending_msgs(const struct reactor_thread *thread);
void thread_free(struct reactor_thread *thread);
/* The event that adds a new thread to its reactor's list, on that reactor. */
void thread_add_event(void *thread, void *unused);
void thread_set_exit_hook(struct reactor_thread *thread, void (*fn)(void *), void *arg);
/* Send to a thread known by id, safe against it being freed meanwhile. */
int thread_send_by_id(uint64_t id, reactor_msg_fn fn, void *ctx);
void threads_stop_all(void);
void pollers_free_all(struct reactor_thread *thread, bool log_names, char *buf, size_t len);
void pollers_reap(struct reactor_thread *thread);
int pollers_run(struct reactor_thread *thread, uint64_t now);
uint64_t pollers_next_deadline(const struct reactor_thread *thread);
int fds_dispatch(struct reactor_thread *thread);
void fds_free_all(struct reactor_thread *thread, char *buf, size_t len);
void fds_reap(struct reactor_thread *thread);

/* ---- reactors ----------------------------------------------------------- */
struct reactor {
	/* Read by producers on every send: written once, at init. */
	uint32_t core;
	struct reactor_ring *events;
	int wake_fd;    /* eventfd */

	/* Read by producers on every send, written when the reactor sleeps. */
	alignas(REACTOR_CACHE_LINE) _Atomic int sleeping;
	_Atomic int wake_pending;
	_Atomic int sleep_enabled; /* policy is adaptive: producers must check sleeping */

	/* The reactor's own state: nobody else touches this line in the hot path. */
	alignas(REACTOR_CACHE_LINE) pthread_t tid;
	_Atomic pid_t os_tid; /* for /proc/self/task/TID: is a silent reactor blocked or preempted? */
	bool started;
	struct thread_list threads;
	uint32_t nthreads;
	int epfd;       /* wake eventfd + each thread's epfd */
	uint32_t fd_threads;
	uint64_t fd_last_check;
	uint64_t fd_backoff;
	uint64_t fd_max_backoff;
	_Atomic uint32_t idle_policy;
	uint64_t idle_threshold_ticks;
	uint64_t idle_since;
	_Atomic uint64_t sleep_not_before; /* grace after switching to adaptive */
	struct stall_slot stall;

	_Atomic uint64_t busy_ticks;
	_Atomic uint64_t idle_ticks;
	_Atomic uint64_t events_run;
	_Atomic uint64_t sleeps;
	_Atomic uint64_t stalls;

	/* Filled by the stall detector's signal handler on this reactor. */
	void *bt_frames[STALL_BT_FRAMES];
	_Atomic int bt_count;

	/* Written by producers that wake the reactor. */
	alignas(REACTOR_CACHE_LINE) _Atomic uint64_t wakeups;
};

/* Framework state shared by the modules. */
struct framework {
	_Atomic bool initialized;
	_Atomic bool running;
	_Atomic bool stopping;
	uint32_t main_core;
	uint32_t count;
	uint32_t max_core;                 /* size of by_core */
	struct reactor **by_core;          /* indexed by core number, NULL if none */
	struct reactor_opts opts;
};
extern struct framework g_fw;

static inline struct reactor *reactor_by_core(uint32_t core)
{
	if (!atomic_load_explicit(&g_fw.initialized, memory_order_acquire) || core >= g_fw.max_core)
		return NULL;
	return g_fw.by_core[core];
}

void reactor_kick(struct reactor *r);

/* Wake @p r if it is asleep. Call after publishing work to one of its rings. */
static inline void reactor_notify(struct reactor *r)
{
	/* In poll mode the reactor never sleeps: no fence, no syscall. */
	if (!atomic_load_explicit(&r->sleep_enabled, memory_order_relaxed))
		return;
	/* A seq_cst read-modify-write of 'sleeping' pairs with the reactor's
	 * exchange in reactor_sleep(): if ours comes first, the reactor's
	 * exchange synchronises with it and its ring check sees our work; if
	 * the reactor's comes first, we read 1 and wake it. (An RMW rather than
	 * a fence: ThreadSanitizer understands it.) */
	if (atomic_fetch_add_explicit(&r->sleeping, 0, memory_order_seq_cst) &&
	    !atomic_exchange_explicit(&r->wake_pending, 1, memory_order_relaxed))
		reactor_kick(r);
}

/* Place a new thread on a reactor (lib/reactor.c). */
int reactor_schedule_thread(struct reactor_thread *thread);
/* The reactor's epoll learns of a thread's epfd. On that reactor. */
int reactor_watch_thread_fds(struct reactor *r, struct reactor_thread *thread);
void reactor_unwatch_thread_fds(struct reactor *r, struct reactor_thread *thread);
extern REACTOR_TLS struct reactor *tls_reactor;

/* ---- app ---------------------------------------------------------------- */
struct reactor_thread *app_thread(void);

#endif
