//! `corio::net::UnixDatagram`: send/recv on a pair, by path, with a parked receiver, a
//! receive timeout, and from a plain thread.

mod util;

use std::io::ErrorKind;
use std::time::Duration;

use corio::net::UnixDatagram;
use util::watchdog;

#[test]
fn send_and_recv_by_path_with_a_parked_receiver() {
    let dir = std::env::temp_dir().join(format!("corio-dgram-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (server_path, client_path) = (dir.join("server.sock"), dir.join("client.sock"));
    let got = watchdog(Duration::from_secs(30), move || {
        let rt = corio::Builder::new().workers(1).build().unwrap();
        rt.block_on(move || {
            let server = UnixDatagram::bind(&server_path).unwrap();
            // The echo coroutine parks in recv_from before anything was sent.
            let echo = corio::spawn(move || {
                let mut buf = [0; 64];
                for _ in 0..3 {
                    let (n, from) = server.recv_from(&mut buf).unwrap();
                    let to = from.as_pathname().unwrap().to_path_buf();
                    server.send_to(&buf[..n], to).unwrap();
                }
            });
            corio::yield_now();
            let client = UnixDatagram::bind(&client_path).unwrap();
            client.connect(&server_path).unwrap();
            let mut got = Vec::new();
            for msg in ["one", "two", "three"] {
                client.send(msg.as_bytes()).unwrap();
                let mut buf = [0; 64];
                let n = client.recv(&mut buf).unwrap();
                got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
            }
            echo.join().unwrap();
            got
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(got, ["one", "two", "three"]);
}

#[test]
fn pair_clone_and_timeout() {
    watchdog(Duration::from_secs(30), || {
        corio::run(|| {
            let (a, b) = UnixDatagram::pair().unwrap();
            let b2 = b.try_clone().unwrap();
            a.send(b"x").unwrap();
            let mut buf = [0; 4];
            assert_eq!(b2.recv(&mut buf).unwrap(), 1);
            b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            assert_eq!(b.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
        })
    });
}

#[test]
fn works_on_plain_threads() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut buf = [0; 8];
        let n = b.recv(&mut buf).unwrap(); // blocks this thread in poll(2)
        buf[..n].to_vec()
    });
    a.send(b"thread").unwrap();
    assert_eq!(t.join().unwrap(), b"thread");
}
