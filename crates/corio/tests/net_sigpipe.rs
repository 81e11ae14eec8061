//! Writing to a closed peer gives `BrokenPipe`, and `SIGPIPE` never kills the process — even
//! with `SIGPIPE` restored to its default action (Rust programs ignore it at start-up; a C
//! host embedding corio may not). This file holds one test because it changes a process-wide
//! signal disposition.

use std::io::{ErrorKind, IoSlice, Write};
use std::net::Shutdown;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream, UnixStream};

/// Writes until the error shows up (the first writes after the peer closed may succeed:
/// the RST comes back asynchronously).
fn write_until_error(mut w: impl Write, vectored: bool) -> std::io::Error {
    let chunk = [0u8; 1024];
    for _ in 0..10_000 {
        let r = if vectored {
            w.write_vectored(&[IoSlice::new(&chunk), IoSlice::new(&chunk)])
        } else {
            w.write(&chunk)
        };
        if let Err(e) = r {
            return e;
        }
        corio::time::sleep(Duration::from_millis(1));
    }
    panic!("writing to a closed peer never failed");
}

#[test]
fn broken_pipe_not_sigpipe() {
    // SAFETY: restoring the default action of SIGPIPE; no handler is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    corio::Builder::new()
        .workers(2)
        .build()
        .unwrap()
        .block_on(|| {
            for vectored in [false, true] {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (s, _) = listener.accept().unwrap();
                drop(s);
                let e = write_until_error(&c, vectored);
                assert!(
                    matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
                    "{e}"
                );
                // Once the reset is consumed, it is always EPIPE.
                let e = (&c).write(b"x").unwrap_err();
                assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
            }
            // Our own shut-down write side.
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
            // Unix streams.
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            let e = write_until_error(&a, false);
            assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        });
}
