//! Blocking-style code written for `std::io::{Read, Write}` runs unchanged over corio
//! streams: an HTTP/1.1 server and client built on `httparse` and std's `BufReader`, many
//! connections at once on one worker (each coroutine parks, none blocks the worker).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};
use util::watchdog;

/// Reads one request head with httparse from any `Read` and returns its path.
fn read_request(stream: &mut impl Read) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0; 512];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None; // the client closed the connection
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(_) = req.parse(&buf).ok()? {
            return req.path.map(str::to_owned);
        }
    }
}

/// Reads one response with httparse (head) and std's `BufReader` (body by Content-Length).
fn read_response(reader: &mut BufReader<&TcpStream>) -> (u16, String) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).unwrap();
        assert!(!line.is_empty(), "connection closed mid-response");
        head.extend_from_slice(&line);
    }
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut headers);
    assert!(resp.parse(&head).unwrap().is_complete());
    let len: usize = resp
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
        .unwrap();
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (resp.code.unwrap(), String::from_utf8(body).unwrap())
}

#[test]
fn httparse_server_and_client_over_corio_streams() {
    let replies = watchdog(Duration::from_secs(60), || {
        let rt = corio::Builder::new().workers(1).build().unwrap();
        rt.block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            const CLIENTS: usize = 20;
            let server = corio::spawn(move || {
                let conns: Vec<_> = (0..CLIENTS)
                    .map(|_| {
                        let (mut stream, _) = listener.accept().unwrap();
                        corio::spawn(move || {
                            // Keep-alive: serve requests until the client closes.
                            while let Some(path) = read_request(&mut stream) {
                                let body = format!("you asked for {path}");
                                let reply = format!(
                                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                    body.len()
                                );
                                stream.write_all(reply.as_bytes()).unwrap();
                            }
                        })
                    })
                    .collect();
                conns.into_iter().for_each(|c| c.join().unwrap());
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    corio::spawn(move || {
                        let stream = TcpStream::connect(addr).unwrap();
                        let mut reader = BufReader::new(&stream);
                        let mut got = Vec::new();
                        for j in 0..3 {
                            let req = format!("GET /{i}/{j} HTTP/1.1\r\nHost: test\r\n\r\n");
                            (&stream).write_all(req.as_bytes()).unwrap();
                            got.push(read_response(&mut reader));
                        }
                        got
                    })
                })
                .collect();
            let replies: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
            server.join().unwrap();
            replies
        })
    });
    assert_eq!(replies.len(), 20);
    for (i, got) in replies.iter().enumerate() {
        for (j, (code, body)) in got.iter().enumerate() {
            assert_eq!(
                (*code, body.as_str()),
                (200, format!("you asked for /{i}/{j}").as_str())
            );
        }
    }
}
