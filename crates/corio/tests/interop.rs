//! block_on and JoinHandle as a Future, with runtime-agnostic futures.

use std::thread;
use std::time::Duration;

use futures::channel::oneshot;

#[test]
fn block_on_in_coroutine_parks_only_the_coroutine() {
    // One worker: if block_on blocked the thread, the ticker could not run.
    let rt = corio::Builder::new().workers(1).build().unwrap();
    let out = rt.block_on(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        let ticker = corio::spawn(move || {
            for _ in 0..5 {
                corio::yield_now();
            }
            tx.send(7).unwrap();
        });
        let v = corio::block_on(rx).unwrap();
        ticker.join().unwrap();
        v
    });
    assert_eq!(out, 7);
}

#[test]
fn woken_from_another_thread() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let hs = rt.block_on(|| {
        let hs: Vec<_> = (0..100u32)
            .map(|i| {
                corio::spawn(move || {
                    let (tx, rx) = oneshot::channel::<u32>();
                    let t = thread::spawn(move || {
                        thread::sleep(Duration::from_millis(1));
                        tx.send(i).unwrap();
                    });
                    let tid = thread::current().id();
                    let v = corio::block_on(rx).unwrap();
                    assert_eq!(thread::current().id(), tid);
                    t.join().unwrap();
                    v
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(hs, 4950);
}

#[test]
fn join_handle_is_a_future() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let h = rt.spawn(|| {
        corio::time::sleep(Duration::from_millis(2));
        40
    });
    // Awaited by a foreign executor on a plain thread.
    let v = futures::executor::block_on(async { h.await.unwrap() + 2 });
    assert_eq!(v, 42);
    // And by corio::block_on outside a coroutine.
    let h = rt.spawn(|| "done");
    assert_eq!(corio::block_on(h).unwrap(), "done");
    // And inside one, with a panic payload.
    let err = rt.block_on(|| corio::block_on(corio::spawn(|| panic!("p"))).unwrap_err());
    assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "p");
}

#[test]
fn block_on_outside_a_runtime() {
    let (tx, rx) = oneshot::channel();
    let t = thread::spawn(move || tx.send(5).unwrap());
    assert_eq!(corio::block_on(rx).unwrap(), 5);
    t.join().unwrap();
}
