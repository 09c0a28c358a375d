//! A tiny HTTP/1.1 server on 127.0.0.1 for the tests and the generator's benchmark (not for
//! anything else): fixed answers chosen by
//! path (`/fail` → 500, `/chunked` → chunked 200, `/close` → 200 then close, `/slow` → 200
//! after 50 ms, anything else → 200 "ok"), keep-alive, no allocation per request.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
const FAIL: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops\n";
const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: 1\r\n\r\n";
const CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye";

/// Starts the server on an ephemeral port; abort the handle to stop it.
pub async fn spawn() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let handle = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    (addr, handle)
}

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    loop {
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        // Answer every complete request head in the buffer (GETs have no body).
        let mut consumed = 0;
        while let Some(end) = buf[consumed..filled]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
        {
            let head = &buf[consumed..consumed + end];
            let path = head.split(|b| *b == b' ').nth(1).unwrap_or_default();
            let (answer, close) = match path {
                b"/fail" => (FAIL, false),
                b"/chunked" => (CHUNKED, false),
                b"/close" => (CLOSE, true),
                b"/slow" => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    (OK, false)
                }
                _ => (OK, false),
            };
            if stream.write_all(answer).await.is_err() || close {
                return;
            }
            consumed += end + 4;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            return; // a head larger than the buffer: not a client of ours
        }
    }
}
