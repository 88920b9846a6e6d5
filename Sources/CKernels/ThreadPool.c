// A small pool of persistent worker threads for Parallel.forRanges. Decoding calls it a few
// hundred times per token for products of tens of microseconds each; waking GCD's workers
// through the kernel every time cost a quarter of the CPU time (futex and scheduler
// samples). Here a worker that finished a job spins on the job word for a few microseconds,
// then yields the core between checks until LK_POOL_SPIN_NS have passed, then sleeps on a
// condition variable: back-to-back jobs start within a microsecond, BLAS's own threads still
// get the core, and an idle pool costs nothing.
//
// One job at a time: a call made while another thread's job runs, or from inside a task,
// runs its tasks on the calling thread, in order.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#define LK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LK_PAUSE() __asm__ __volatile__("yield")
#else
#define LK_PAUSE() ((void)0)
#endif

#define LK_POOL_MAX_WORKERS 255
#define LK_POOL_SPIN_NS 200000  // 0.2 ms

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static _Atomic int pool_workers = 0;          // threads started (they never exit)
// The job's number (high 32 bits), its task count (bits 16..<32) and its next task (low 16):
// one word, so a task can only be claimed for the job a thread read the count of (a late
// worker cannot take a task of the next job, or run one with the previous job's function).
static _Atomic uint64_t job_ticket = 0;
static _Atomic int job_done = 0;              // tasks finished
static _Atomic int sleepers = 0;
static _Atomic int pool_busy = 0;             // a job is running
static lk_task_fn job_fn = NULL;
static void *job_ctx = NULL;
static _Thread_local int inside_task = 0;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// Takes tasks of job `job` until none is left (or another job has begun: then this one ended).
/// The function and context are read only after a task is claimed, while the job cannot end.
static void run_tasks(uint32_t job) {
    uint64_t t = atomic_load_explicit(&job_ticket, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(t >> 32) != job || (t & 0xFFFF) >= ((t >> 16) & 0xFFFF)) return;
        if (!atomic_compare_exchange_weak_explicit(&job_ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        job_fn(job_ctx, (int)(t & 0xFFFF));
        atomic_fetch_add_explicit(&job_done, 1, memory_order_release);
        t = atomic_load_explicit(&job_ticket, memory_order_acquire);
    }
}

static uint32_t job_of(uint64_t ticket) { return (uint32_t)(ticket >> 32); }

static void *worker_main(void *unused) {
    (void)unused;
    inside_task = 1;
    uint32_t seen = job_of(atomic_load_explicit(&job_ticket, memory_order_acquire));
    for (;;) {
        uint32_t job = job_of(atomic_load_explicit(&job_ticket, memory_order_acquire));
        if (job == seen) {
            uint64_t start = now_ns();
            int spins = 0;
            // Spin a few microseconds, then yield the core between checks (BLAS's own threads,
            // or another process, may want it), then sleep.
            while ((job = job_of(atomic_load_explicit(&job_ticket, memory_order_acquire))) == seen) {
                if (++spins < 64) { LK_PAUSE(); continue; }
                sched_yield();
                if (spins % 16 == 0 && now_ns() - start > LK_POOL_SPIN_NS) break;
            }
            if (job == seen) {
                atomic_fetch_add(&sleepers, 1);
                pthread_mutex_lock(&pool_lock);
                while ((job = job_of(atomic_load(&job_ticket))) == seen) pthread_cond_wait(&pool_wake, &pool_lock);
                pthread_mutex_unlock(&pool_lock);
                atomic_fetch_sub(&sleepers, 1);
            }
        }
        seen = job;
        run_tasks(job);
    }
    return NULL;
}

static void ensure_workers(int wanted) {
    if (wanted > LK_POOL_MAX_WORKERS) wanted = LK_POOL_MAX_WORKERS;
    while (atomic_load(&pool_workers) < wanted) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&t, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) return;  // fewer helpers: the caller still runs every task
        atomic_fetch_add(&pool_workers, 1);
    }
}

void lk_parallel_for(int tasks, int threads, lk_task_fn fn, void *ctx) {
    int expected = 0;
    if (tasks <= 1 || threads <= 1 || tasks > 0xFFFF || inside_task ||
        !atomic_compare_exchange_strong(&pool_busy, &expected, 1)) {
        for (int i = 0; i < tasks; i++) fn(ctx, i);
        return;
    }
    ensure_workers(threads - 1);
    job_fn = fn;
    job_ctx = ctx;
    atomic_store_explicit(&job_done, 0, memory_order_relaxed);
    uint32_t job = job_of(atomic_load(&job_ticket)) + 1;
    atomic_store(&job_ticket, (uint64_t)job << 32 | (uint64_t)tasks << 16);  // publishes the job (sequentially consistent)
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&pool_lock);
        pthread_cond_broadcast(&pool_wake);
        pthread_mutex_unlock(&pool_lock);
    }
    inside_task = 1;
    run_tasks(job);
    inside_task = 0;
    while (atomic_load_explicit(&job_done, memory_order_acquire) < tasks) LK_PAUSE();
    atomic_store_explicit(&pool_busy, 0, memory_order_release);
}
