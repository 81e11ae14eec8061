//! UDP and Unix-domain sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use corio::net::{UdpSocket, UnixListener, UnixStream};

fn rt() -> corio::Runtime {
    corio::Builder::new().workers(2).build().unwrap()
}

#[test]
fn udp_echo_and_receive_timeout() {
    rt().block_on(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let echo = corio::spawn(move || {
            let mut buf = [0u8; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(addr).unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        let mut buf = [0u8; 1500];
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            client.send(&msg).unwrap();
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &msg);
        }
        echo.join().unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let t = Instant::now();
        let e = client.recv(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(100));
    });
}

#[test]
fn unix_listener_echo_and_half_close() {
    rt().block_on(|| {
        let path = std::env::temp_dir().join(format!("corio-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = corio::spawn(move || {
            for s in listener.incoming().take(10) {
                let mut s = s.unwrap();
                corio::spawn(move || {
                    let mut req = Vec::new();
                    s.read_to_end(&mut req).unwrap();
                    req.reverse();
                    s.write_all(&req).unwrap();
                });
            }
        });
        let clients: Vec<_> = (0..10)
            .map(|i| {
                let path = path.clone();
                corio::spawn(move || {
                    let mut c = UnixStream::connect(&path).unwrap();
                    let msg = format!("message {i}");
                    c.write_all(msg.as_bytes()).unwrap();
                    c.shutdown(Shutdown::Write).unwrap();
                    let mut back = String::new();
                    c.read_to_string(&mut back).unwrap();
                    assert_eq!(back, msg.chars().rev().collect::<String>());
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}

#[test]
fn unix_pair_read_timeout_and_clone() {
    rt().block_on(|| {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(80))).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!((&a).read(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
        let b2 = b.try_clone().unwrap();
        corio::spawn(move || (&b2).write_all(b"late").unwrap());
        let mut got = [0u8; 4];
        (&a).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"late");
        drop(b);
    });
}

#[test]
fn unix_connect_waits_for_room_in_a_full_backlog() {
    rt().block_on(|| {
        let path = std::env::temp_dir().join(format!("corio-full-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        // A listener with a tiny backlog that nobody accepts from yet.
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        // SAFETY: listen(2) on a valid bound socket.
        let r = unsafe { libc::listen(fd, 0) };
        assert_eq!(r, 0);
        let listener = UnixListener::from(listener);
        // The accepts start late, so the extra connects find the backlog full.
        let acceptor = corio::spawn(move || {
            corio::time::sleep(Duration::from_millis(100));
            for _ in 0..4 {
                listener.accept().unwrap();
            }
        });
        // More connects than the backlog holds: the extra ones must wait, not fail.
        let conns: Vec<_> = (0..4)
            .map(|_| {
                let p = path.clone();
                corio::spawn(move || UnixStream::connect(&p).unwrap())
            })
            .collect();
        for c in conns {
            c.join().unwrap().peer_addr().unwrap();
        }
        acceptor.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    });
}
