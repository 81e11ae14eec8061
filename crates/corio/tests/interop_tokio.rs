//! tokio interop both ways: a coroutine awaits tokio's own I/O and timers through
//! `corio::block_on` (the `tokio` feature), and tokio awaits a corio `JoinHandle`.

mod util;

use std::time::Duration;

use util::watchdog;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn tokio_awaits_a_corio_join_handle() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    let h = rt.spawn(|| {
        corio::time::sleep(Duration::from_millis(2));
        40
    });
    let failed = rt.spawn(|| -> u32 { panic!("inside corio") });
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (v, err) = watchdog(LIMIT, move || {
        tokio_rt.block_on(async move { (h.await.unwrap() + 2, failed.await.unwrap_err()) })
    });
    assert_eq!(v, 42);
    assert!(err.is_panic());
}

#[cfg(feature = "tokio")]
#[test]
fn a_coroutine_awaits_tokio_io_and_timers() {
    use std::io::{Read, Write};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    watchdog(LIMIT, || {
        corio::Builder::new()
            .workers(2)
            .build()
            .unwrap()
            .block_on(|| {
                // A corio listener, and a std one on a plain thread.
                let listener = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let corio_addr = listener.local_addr().unwrap();
                let server = corio::spawn(move || {
                    let (mut s, _) = listener.accept().unwrap();
                    let mut buf = [0u8; 4];
                    s.read_exact(&mut buf).unwrap();
                    s.write_all(&buf).unwrap();
                });
                let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let std_addr = std_listener.local_addr().unwrap();
                let std_server = std::thread::spawn(move || {
                    let (mut s, _) = std_listener.accept().unwrap();
                    s.write_all(b"std!").unwrap();
                });
                // Another coroutine keeps running while this one waits for tokio.
                let ticker = corio::spawn(|| {
                    for _ in 0..5 {
                        corio::time::sleep(Duration::from_millis(1));
                    }
                });

                let (echoed, greeting) = corio::block_on(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let mut c = tokio::net::TcpStream::connect(corio_addr).await.unwrap();
                    c.write_all(b"ping").await.unwrap();
                    let mut echoed = [0u8; 4];
                    c.read_exact(&mut echoed).await.unwrap();
                    let mut s = tokio::net::TcpStream::connect(std_addr).await.unwrap();
                    let mut greeting = Vec::new();
                    s.read_to_end(&mut greeting).await.unwrap();
                    (echoed, greeting)
                });
                assert_eq!(&echoed, b"ping");
                assert_eq!(greeting, b"std!");
                server.join().unwrap();
                ticker.join().unwrap();
                std_server.join().unwrap();

                // tokio timers and a timeout scope together: the scope unwinds the wait.
                let r = corio::time::timeout(Duration::from_millis(5), || {
                    corio::block_on(async { tokio::time::sleep(Duration::from_secs(3600)).await })
                });
                assert!(r.is_err());
            })
    });
}

/// Outside any coroutine `corio::block_on` blocks the thread, and tokio futures still work.
#[cfg(feature = "tokio")]
#[test]
fn tokio_futures_on_a_plain_thread() {
    watchdog(LIMIT, || {
        // Created inside the `async` block, so inside tokio's context (a `Sleep` needs it).
        corio::block_on(async { tokio::time::sleep(Duration::from_millis(2)).await });
        let v = corio::block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                tx.send(9).unwrap();
            });
            rx.await.unwrap()
        });
        assert_eq!(v, 9);
    });
}
