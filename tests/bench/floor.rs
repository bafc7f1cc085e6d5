//! `dieuhanh-bench live-floor PORT`: the transport floor of the live-push benchmark, its second
//! peer beside Node's `ws` server. It speaks the Node peer's protocol (`node-peer/server.js`):
//! WebSocket clients on `/live` get a welcome and, for each text message they send, the snapshot
//! set by `POST /snapshot`; `POST /publish` stamps the body's arrival (µs since 1970), sends it
//! as one text frame to every client and answers how long that took (`fanout_us`). Nothing else happens between the stamp and the sockets:
//! the frame is encoded once, and each client costs one non-blocking `write` of the same bytes,
//! from one thread. No WebSocket library, no per-client state beyond the socket, no queues.
//!
//! What it measures, on the same loopback and cores as the others: what any server pays the
//! kernel to hand one small message to N TCP sockets, the part of the latency no server code can
//! remove. Not a server to use: no limits, no heartbeats, no checks beyond what the benchmark's
//! clients send.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Options of the floor peer.
#[derive(clap::Args)]
pub struct Args {
    /// Port to listen on (127.0.0.1).
    port: u16,
}

/// Largest request head or client frame accepted.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Default)]
struct State {
    clients: Vec<(u64, Rc<TcpStream>)>,
    next_id: u64,
    snapshot: Vec<u8>,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
        eprintln!("transport floor listening on 127.0.0.1:{}", args.port);
        let state = Rc::new(RefCell::new(State {
            snapshot: br#"{"type":"snapshot"}"#.to_vec(),
            ..State::default()
        }));
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let state = state.clone();
            tokio::task::spawn_local(async move {
                if let Err(e) = serve(Rc::new(stream), &state).await {
                    eprintln!("connection: {e:#}");
                }
            });
        }
    })
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A server's unmasked frame of `opcode` carrying `payload`.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 10);
    f.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => f.push(n as u8),
        n @ 126..=0xffff => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

async fn read_some(stream: &TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(true);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> anyhow::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One connection: an HTTP request (answered, then closed) or a WebSocket client on `/live`.
async fn serve(stream: Rc<TcpStream>, state: &Rc<RefCell<State>>) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD || !read_some(&stream, &mut buf).await? {
            bail!("no complete request head");
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf.split_off(head_end);
    match request.split(' ').take(2).collect::<Vec<_>>()[..] {
        ["GET", "/live"] => {
            let key = headers
                .get("sec-websocket-key")
                .context("a GET /live without Sec-WebSocket-Key")?;
            let reply = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: \
                 Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            );
            write_all(&stream, reply.as_bytes()).await?;
            write_all(&stream, &frame(1, br#"{"type":"welcome","protocol":1}"#)).await?;
            let id = {
                let mut s = state.borrow_mut();
                s.next_id += 1;
                let id = s.next_id;
                s.clients.push((id, stream.clone()));
                id
            };
            let read = client_frames(&stream, state, body).await;
            state.borrow_mut().clients.retain(|(i, _)| *i != id);
            read
        }
        ["POST", path] => {
            let length: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while body.len() < length {
                if !read_some(&stream, &mut body).await? {
                    bail!("the request body ended early");
                }
            }
            let answer = match path {
                "/publish" => {
                    let accepted_at_us = now_us();
                    let f = frame(1, &body[..length]);
                    let clients = publish(state, &f);
                    let fanout_us = now_us() - accepted_at_us;
                    format!(
                        r#"{{"accepted_at_us":{accepted_at_us},"clients":{clients},"fanout_us":{fanout_us}}}"#
                    )
                }
                "/snapshot" => {
                    state.borrow_mut().snapshot = body[..length].to_vec();
                    format!(r#"{{"bytes":{length}}}"#)
                }
                "/gc" => r#"{"gc":false}"#.to_owned(),
                _ => bail!("no route {path}"),
            };
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \
                 {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            write_all(&stream, reply.as_bytes()).await
        }
        _ => bail!("unexpected request {request:?}"),
    }
}

/// Writes `f` to every client, one `write` each; a client whose socket takes only part of it
/// (never seen with the benchmark's small frames) gets the rest from a task of its own.
fn publish(state: &Rc<RefCell<State>>, f: &[u8]) -> usize {
    let s = state.borrow();
    for (_, c) in &s.clients {
        let sent = match c.try_write(f) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(_) => continue,
        };
        if sent < f.len() {
            let (c, rest) = (c.clone(), f[sent..].to_vec());
            tokio::task::spawn_local(async move { write_all(&c, &rest).await });
        }
    }
    s.clients.len()
}

/// Reads a client's (masked) frames: each text message is answered with the snapshot, a ping
/// with a pong; a close ends the connection.
async fn client_frames(
    stream: &TcpStream,
    state: &Rc<RefCell<State>>,
    mut buf: Vec<u8>,
) -> anyhow::Result<()> {
    loop {
        while let Some((opcode, payload, used)) = parse_client_frame(&buf)? {
            buf.drain(..used);
            match opcode {
                1 => {
                    let snapshot = frame(1, &state.borrow().snapshot);
                    write_all(stream, &snapshot).await?;
                }
                8 => return Ok(()),
                9 => write_all(stream, &frame(10, &payload)).await?,
                _ => {}
            }
        }
        if buf.len() > MAX_HEAD || !read_some(stream, &mut buf).await? {
            return Ok(());
        }
    }
}

/// The first complete frame in `buf`: (opcode, unmasked payload, bytes used).
fn parse_client_frame(buf: &[u8]) -> anyhow::Result<Option<(u8, Vec<u8>, usize)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let opcode = buf[0] & 0x0f;
    if buf[1] & 0x80 == 0 {
        bail!("a client frame without a mask");
    }
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        126 | 127 => return Ok(None),
        n => (n as usize, 2),
    };
    if len > MAX_HEAD {
        bail!("a client frame of {len} bytes");
    }
    if buf.len() < at + 4 + len {
        return Ok(None);
    }
    let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
    at += 4;
    let payload = buf[at..at + len]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Ok(Some((opcode, payload, at + len)))
}
