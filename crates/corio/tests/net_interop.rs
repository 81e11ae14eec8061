//! A stock blocking crate runs unchanged over corio's `TcpStream`: a tungstenite websocket
//! server and client, each a coroutine, exchanging messages.

use corio::net::{TcpListener, TcpStream};
use tungstenite::Message;

#[test]
fn tungstenite_websocket_over_corio() {
    let rt = corio::Builder::new().workers(2).build().unwrap();
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(move || {
            let mut handles = Vec::new();
            for _ in 0..10 {
                let (stream, _) = listener.accept().unwrap();
                handles.push(corio::spawn(move || {
                    let mut ws = tungstenite::accept(stream).unwrap();
                    loop {
                        match ws.read().unwrap() {
                            Message::Text(t) => {
                                ws.send(Message::text(t.as_str().to_uppercase())).unwrap()
                            }
                            Message::Binary(b) => ws.send(Message::Binary(b)).unwrap(),
                            Message::Close(_) => break,
                            _ => {}
                        }
                    }
                    // Let tungstenite finish the closing handshake.
                    while ws.flush().is_ok() {
                        if ws.read().is_err() {
                            break;
                        }
                    }
                }));
            }
            for h in handles {
                h.join().unwrap();
            }
        });
        let clients: Vec<_> = (0..10)
            .map(|i| {
                corio::spawn(move || {
                    let stream = TcpStream::connect(addr).unwrap();
                    let url = format!("ws://{addr}/chat");
                    let (mut ws, resp) = tungstenite::client(url.as_str(), stream).unwrap();
                    assert_eq!(resp.status(), 101);
                    for j in 0..20 {
                        let msg = format!("hello {i}/{j}");
                        ws.send(Message::text(msg.clone())).unwrap();
                        match ws.read().unwrap() {
                            Message::Text(t) => assert_eq!(t.as_str(), msg.to_uppercase()),
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    let big = vec![42u8; 1 << 20];
                    ws.send(Message::binary(big.clone())).unwrap();
                    match ws.read().unwrap() {
                        Message::Binary(b) => assert_eq!(&b[..], &big[..]),
                        other => panic!("unexpected {other:?}"),
                    }
                    ws.close(None).unwrap();
                    while ws.read().is_ok() {}
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
    });
}
