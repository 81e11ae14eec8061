//! The blocking pool: threads for code that must block a thread (files, DNS, FFI, CPU-heavy
//! work), so it does not block a worker.
//!
//! A std blocking call made directly inside a coroutine (`std::fs::read`, `std::thread::sleep`,
//! a `std::sync::Mutex` held elsewhere, a blocking socket) blocks its **whole worker**: every
//! started coroutine of that worker waits with it. Put such calls in [`spawn_blocking`].
//!
//! The pool is bounded ([`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads));
//! jobs beyond the bound queue. Idle threads exit after a keep-alive period.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crate::context;
use crate::sched::worker::{cancel_unstarted, finish};
use crate::sched::Shared;
use crate::task::raw::{Task, TaskRef};
use crate::task::state::CANCELLED;
use crate::task::{Cancelled, JoinHandle};

/// Runs `f` on the blocking pool and returns a handle to its result.
///
/// Use it for anything that blocks a thread: a std blocking call made directly inside a
/// coroutine (`std::fs`, `std::thread::sleep`, a blocking socket, a contended
/// `std::sync::Mutex`, FFI) blocks its **whole worker**, and every started coroutine of that
/// worker waits with it. The pool runs at most
/// [`Builder::max_blocking_threads`](crate::Builder::max_blocking_threads) jobs at once (more
/// queue), and its idle threads exit after
/// [`Builder::blocking_keep_alive`](crate::Builder::blocking_keep_alive).
///
/// ```
/// corio::run(|| {
///     let len = corio::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0));
///     let _ = len.join().unwrap();
/// });
/// ```
///
/// # Panics
/// Outside a runtime.
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let shared = context::shared().expect("corio::spawn_blocking called outside a corio runtime");
    let task: TaskRef = Task::new(f, shared.id, None);
    let handle = JoinHandle::new(task.clone());
    submit(&shared, task);
    handle
}

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
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Self {
        Pool {
            state: Mutex::default(),
            cv: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
        }
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

fn submit(shared: &Arc<Shared>, task: TaskRef) {
    let pool = &shared.blocking;
    // Counted before it is queued, uncounted after it finished: the deadlock check sees a
    // wake-up source for the whole time.
    shared.blocking_jobs.fetch_add(1, Ordering::SeqCst);
    let mut st = pool.state.lock().unwrap();
    if st.shutdown {
        drop(st);
        cancel_unstarted(task);
        shared.blocking_jobs.fetch_sub(1, Ordering::SeqCst);
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
    let pool = &shared.blocking;
    let mut st = pool.state.lock().unwrap();
    loop {
        if let Some(task) = st.queue.pop_front() {
            drop(st);
            run(task);
            shared.blocking_jobs.fetch_sub(1, Ordering::SeqCst);
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
    if snap & CANCELLED != 0 {
        // SAFETY: we hold RUNNING (state rule 1).
        unsafe { task.drop_closure() };
        finish(&*task, Err(Box::new(Cancelled)));
        return;
    }
    // SAFETY: we hold RUNNING (state rule 1); `run` is called once.
    let out = panic::catch_unwind(AssertUnwindSafe(|| unsafe { task.run() }));
    finish(&*task, out);
}
