//! TCP behaviour: std-shaped calls, faults (reset, half-close, timeouts), blocking use outside
//! coroutines, conversions, and the deadlock report's view of sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};

fn rt(workers: usize) -> corio::Runtime {
    corio::Builder::new().workers(workers).build().unwrap()
}

#[test]
fn echo_many_connections_with_addresses() {
    for workers in [1, 2] {
        rt(workers).block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = corio::spawn(move || {
                for s in listener.incoming().take(50) {
                    let mut s = s.unwrap();
                    assert_eq!(s.local_addr().unwrap(), addr);
                    corio::spawn(move || {
                        let mut buf = [0u8; 1024];
                        loop {
                            match s.read(&mut buf).unwrap() {
                                0 => break,
                                n => s.write_all(&buf[..n]).unwrap(),
                            }
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..50u32)
                .map(|i| {
                    corio::spawn(move || {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_nodelay(true).unwrap();
                        assert!(c.nodelay().unwrap());
                        assert_eq!(c.peer_addr().unwrap(), addr);
                        for round in 0..20u32 {
                            let msg = format!("{i}:{round}");
                            c.write_all(msg.as_bytes()).unwrap();
                            let mut back = vec![0; msg.len()];
                            c.read_exact(&mut back).unwrap();
                            assert_eq!(back, msg.as_bytes());
                        }
                    })
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
            server.join().unwrap();
        });
    }
}

#[test]
fn large_transfer_both_ways_with_try_clone() {
    // One coroutine writes 8 MiB while another reads on a clone: both park on full buffers.
    rt(2).block_on(|| {
        const LEN: usize = 8 << 20;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let r = s.try_clone().unwrap();
            let reader = corio::spawn(move || {
                let mut r = r;
                let mut sum = 0u64;
                let mut buf = vec![0u8; 65536];
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 {
                        break sum;
                    }
                    sum += buf[..n].iter().map(|&b| b as u64).sum::<u64>();
                }
            });
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            (&s).write_all(&data).unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            reader.join().unwrap()
        });
        let c = TcpStream::connect(addr).unwrap();
        let mut echo = c.try_clone().unwrap();
        // Bounce everything back.
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        loop {
            let n = (&c).read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got += n;
            echo.write_all(&buf[..n]).unwrap();
        }
        c.shutdown(Shutdown::Write).unwrap();
        assert_eq!(got, LEN);
        let expected: u64 = (0..LEN).map(|i| (i % 251) as u64).sum();
        assert_eq!(server.join().unwrap(), expected);
    });
}

#[test]
fn reset_mid_read_is_connection_reset() {
    rt(1).block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = corio::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            corio::time::sleep(Duration::from_millis(50)); // let the reader park first
                                                           // SO_LINGER 0: close sends RST instead of FIN.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a linger struct of the size passed.
            let r = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0);
            drop(s);
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 16];
        let err = c.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        peer.join().unwrap();
    });
}

#[test]
fn half_close_lets_the_peer_answer() {
    rt(2).block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            s.read_to_end(&mut req).unwrap(); // ends at the client's FIN
            s.write_all(format!("got {} bytes", req.len()).as_bytes())
                .unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[7u8; 10_000]).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "got 10000 bytes");
        server.join().unwrap();
    });
}

#[test]
fn read_timeouts_drop_silent_and_slow_clients() {
    rt(1).block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // The server gives each read 150 ms.
        let server = corio::spawn(move || {
            let mut outcomes = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().unwrap();
                s.set_read_timeout(Some(Duration::from_millis(150)))
                    .unwrap();
                assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(150)));
                let t = Instant::now();
                let mut buf = [0u8; 64];
                let err = loop {
                    match s.read(&mut buf) {
                        Ok(0) => panic!("unexpected EOF"),
                        Ok(_) => continue,
                        Err(e) => break e,
                    }
                };
                outcomes.push((err.kind(), t.elapsed()));
            } // dropping `s` closes the connection
            outcomes
        });
        // A silent client, then a slow one (a byte every 400 ms).
        let silent = TcpStream::connect(addr).unwrap();
        let slow = corio::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            for _ in 0..3 {
                if c.write_all(b"x").is_err() {
                    break;
                }
                corio::time::sleep(Duration::from_millis(400));
            }
            let mut rest = Vec::new();
            // The server dropped us: EOF (or a reset, if our late byte hit a closed socket).
            let r = c.read_to_end(&mut rest);
            assert!(
                r.is_ok() || r.as_ref().unwrap_err().kind() == ErrorKind::ConnectionReset,
                "{r:?}"
            );
        });
        let outcomes = server.join().unwrap();
        for (kind, elapsed) in outcomes {
            assert_eq!(kind, ErrorKind::TimedOut);
            assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
            assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
        }
        let mut silent = silent;
        let mut rest = Vec::new();
        assert_eq!(silent.read_to_end(&mut rest).unwrap(), 0); // EOF: dropped
        slow.join().unwrap();
    });
}

#[test]
fn zero_timeouts_are_rejected() {
    rt(1).block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let e = c.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = TcpStream::connect_timeout(&listener.local_addr().unwrap(), Duration::ZERO)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    });
}

/// A listener with a backlog of 0 that never accepts: once its queue is full, the kernel
/// drops further SYNs and connects hang.
fn full_listener() -> (std::net::TcpListener, SocketAddr) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a valid bound socket.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let addr = l.local_addr().unwrap();
    (l, addr)
}

#[test]
fn connect_timeout_times_out_and_refused_is_reported() {
    rt(1).block_on(|| {
        let (_l, addr) = full_listener();
        let mut fillers = Vec::new();
        let mut timed_out = false;
        for _ in 0..8 {
            let t = Instant::now();
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                    assert!(t.elapsed() >= Duration::from_millis(200));
                    assert!(t.elapsed() < Duration::from_secs(2));
                    timed_out = true;
                    break;
                }
            }
        }
        assert!(timed_out, "the backlog never filled");
        // A port nobody listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let e = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn host_names_resolve_off_the_worker() {
    rt(1).block_on(|| {
        let listener = TcpListener::bind("localhost:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = corio::spawn(move || listener.accept().map(|_| ()).unwrap());
        // Both families may resolve; `connect` tries each address in turn.
        let c = TcpStream::connect(format!("localhost:{port}")).unwrap();
        assert!(c.peer_addr().unwrap().ip().is_loopback());
        server.join().unwrap();
    });
}

#[test]
fn sockets_work_outside_coroutines_by_blocking_the_thread() {
    // No runtime at all: plain threads, plain blocking semantics, timeouts included.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let e = s.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    t.join().unwrap();
}

#[test]
fn a_socket_made_outside_is_used_inside() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt(2).block_on(move || {
        let server = corio::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"hi").unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hi");
        server.join().unwrap();
    });
}

#[test]
fn conversions_to_and_from_std_and_fds() {
    rt(1).block_on(|| {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from(std_listener);
        let server = corio::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            // Through a raw fd and back.
            let fd = s.into_raw_fd();
            // SAFETY: `fd` was just released by `into_raw_fd`; we are its only owner.
            let mut s = unsafe { TcpStream::from_raw_fd(fd) };
            s.write_all(b"via fd").unwrap();
            // And out to std (blocking again) for a final write.
            let mut std_s: std::net::TcpStream = s.into();
            std_s.write_all(b", via std").unwrap();
        });
        let std_c = std::net::TcpStream::connect(addr).unwrap();
        let mut c = TcpStream::from(std_c);
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "via fd, via std");
        server.join().unwrap();
    });
}

#[test]
fn a_registered_socket_is_not_a_deadlock() {
    // The main coroutine waits in accept with no timer and no Handle anywhere; only a plain
    // thread (outside the runtime) will connect. Without counting registrations as possible
    // wakers the deadlock report would fire.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std::net::TcpStream::connect(addr).unwrap()
    });
    let peer = rt(2).block_on(move || {
        let listener = TcpListener::from(listener);
        let (_s, peer) = listener.accept().unwrap();
        peer
    });
    let c = t.join().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
}
