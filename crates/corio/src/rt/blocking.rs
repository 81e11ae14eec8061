//! The blocking pool's threads: they run the tasks of [`spawn_blocking`](crate::spawn_blocking)
//! to completion, so calls that block a thread (files, DNS, FFI, CPU-heavy work) do not block
//! a worker. Part of the kernel because each runtime's `Shared` owns its pool and the pool's
//! threads act for that runtime (`context::enter_handle`).
//!
//! The pool is bounded ([`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads));
//! jobs beyond the bound queue. Idle threads exit after a keep-alive period.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::rt::context;
use crate::rt::sched::Shared;
use crate::rt::task::cell::TaskRef;
use crate::rt::task::harness::{cancel_if_requested, cancel_unstarted, finish};

/// A runtime's blocking threads and their queue.
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

#[derive(Default)]
struct PoolState {
    queue: VecDeque<TaskRef>,
    idle: usize,
    threads: usize,
    shutdown: bool,
    joins: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    /// A pool of at most `max_threads` threads, each exiting after `keep_alive` idle.
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Self {
        Pool {
            state: Mutex::default(),
            cv: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
        }
    }

    /// Threads the pool has now (running a job or idle).
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().unwrap().threads
    }

    /// Stops taking jobs, cancels the queued ones, and waits for the running ones.
    pub(crate) fn shutdown(&self) {
        let (queued, joins) = {
            let mut st = self.state.lock().unwrap();
            st.shutdown = true;
            (std::mem::take(&mut st.queue), std::mem::take(&mut st.joins))
        };
        self.cv.notify_all();
        for t in queued {
            cancel_unstarted(t);
        }
        for j in joins {
            let _ = j.join();
        }
    }
}

/// Queues `task` on `shared`'s pool, starting a thread if none is idle and the bound allows.
pub(crate) fn submit(shared: &Arc<Shared>, task: TaskRef) {
    let pool = &shared.blocking;
    // Counted before it is queued, uncounted after it finished: the deadlock check sees a
    // wake-up source for the whole time.
    shared.sources.blocking_job_queued();
    let mut st = pool.state.lock().unwrap();
    if st.shutdown {
        drop(st);
        cancel_unstarted(task);
        shared.sources.blocking_job_done();
        return;
    }
    st.queue.push_back(task);
    if st.idle > 0 {
        pool.cv.notify_one();
    } else if st.threads < pool.max_threads {
        st.joins.retain(|j| !j.is_finished());
        let s = shared.clone();
        let name = format!("{}-blocking", shared.config.thread_name);
        let spawned = thread::Builder::new()
            .name(name)
            .spawn(move || thread_main(s));
        match spawned {
            Ok(j) => {
                st.threads += 1;
                st.joins.push(j);
            }
            // No thread now: the job waits for a running thread (or the next spawn).
            Err(e) if st.threads == 0 => panic!("corio: cannot start a blocking thread: {e}"),
            Err(_) => {}
        }
    }
}

fn thread_main(shared: Arc<Shared>) {
    let _enter = context::enter_handle(shared.clone());
    context::mark_blocking_thread(shared.id);
    let pool = &shared.blocking;
    let mut st = pool.state.lock().unwrap();
    loop {
        if let Some(task) = st.queue.pop_front() {
            drop(st);
            run(task);
            shared.sources.blocking_job_done();
            st = pool.state.lock().unwrap();
            continue;
        }
        if st.shutdown {
            break;
        }
        st.idle += 1;
        let (guard, timeout) = pool.cv.wait_timeout(st, pool.keep_alive).unwrap();
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.queue.is_empty() {
            break;
        }
    }
    st.threads -= 1;
}

fn run(task: TaskRef) {
    let snap = task.header().state.to_running();
    if cancel_if_requested(&*task, snap) {
        return;
    }
    // SAFETY: we hold RUNNING (state rule 1); `run` is called once.
    let out = panic::catch_unwind(AssertUnwindSafe(|| unsafe { task.run() }));
    finish(&*task, out);
}
