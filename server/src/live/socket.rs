//! The WebSocket of `/live` and `/echo`: the HTTP upgrade is done here rather than by axum's
//! extractor so that a connection keeps its `TcpStream`, and [`SharedIo`] puts that stream
//! under tungstenite, which reads the client's frames and writes the control frames (pings,
//! pongs, close). Text messages go past it as frames of their own ([`Out::push`]): the hub's
//! fanout writes a delta's frame, encoded once for every connection on the same view, with one
//! `send`, and the connection's task writes its messages the same way, so tungstenite's write
//! buffer never grows to a snapshot's size.
//!
//! A frame the socket takes in part leaves its rest queued in [`Out`], and every later write
//! waits behind it; the fanout does not write while tungstenite is midway through a frame. The
//! fanout so skips tungstenite's framing, its per-write waker registration and the lock between
//! a socket's two halves: a third of its own work per connection, measured on loopback.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header, request::Parts};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// A server WebSocket over [`SharedIo`].
pub type Socket = WebSocketStream<SharedIo>;

/// A text message and the server frame that carries it, made once and written to many sockets.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub text: Utf8Bytes,
    /// FIN, opcode text, the payload's length, the payload (a server's frames are not masked).
    pub wire: Bytes,
}

impl Encoded {
    pub fn new(text: Utf8Bytes) -> Encoded {
        let len = text.len();
        let mut wire = BytesMut::with_capacity(len + 10);
        wire.put_u8(0x81);
        if len < 126 {
            wire.put_u8(len as u8);
        } else if len <= usize::from(u16::MAX) {
            wire.put_u8(126);
            wire.put_u16(len as u16);
        } else {
            wire.put_u8(127);
            wire.put_u64(len as u64);
        }
        wire.put_slice(text.as_bytes());
        Encoded {
            text,
            wire: wire.freeze(),
        }
    }
}

/// A connection's socket, written by tungstenite (through [`SharedIo`]) and by the fanout
/// ([`Out::push`]), one frame never inside another.
#[derive(Debug)]
pub struct Out {
    tcp: TcpStream,
    state: Mutex<OutState>,
}

#[derive(Debug, Default)]
struct OutState {
    /// The rest of frames the fanout pushed that the socket did not take at once, in order.
    frames: VecDeque<Bytes>,
    /// tungstenite's last write went in part: the rest of that frame is still in its buffer,
    /// and a pushed frame would land inside it.
    midway: bool,
}

/// What became of a frame pushed by the fanout.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    /// On the socket.
    Written,
    /// In part or not at all on the socket: the rest waits for the task's flush.
    Queued,
    /// Not taken: tungstenite is midway through a frame of its own.
    Refused,
}

impl OutState {
    /// Writes the queue's head to the socket until it is empty or the socket is full.
    fn drain(&mut self, tcp: &TcpStream) -> io::Result<()> {
        while let Some(head) = self.frames.front_mut() {
            match tcp.try_write(head) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) if n == head.len() => {
                    self.frames.pop_front();
                }
                Ok(n) => {
                    let _ = head.split_to(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn poisoned<T>(_: T) -> io::Error {
    io::Error::other("a connection's socket lock was poisoned")
}

impl Out {
    fn new(tcp: TcpStream) -> Out {
        Out {
            tcp,
            state: Mutex::new(OutState::default()),
        }
    }

    /// Writes a whole frame now, or as much as the socket takes with the rest queued; never
    /// waits. The caller must hold the connection's state, so that no message of the task's
    /// sits unflushed in tungstenite's buffer (it would be overtaken).
    pub fn push(&self, frame: &Bytes) -> io::Result<Pushed> {
        let mut st = self.state.lock().map_err(poisoned)?;
        if st.midway {
            return Ok(Pushed::Refused);
        }
        st.drain(&self.tcp)?;
        let mut written = 0;
        if st.frames.is_empty() {
            while written < frame.len() {
                match self.tcp.try_write(&frame[written..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        if written == frame.len() {
            return Ok(Pushed::Written);
        }
        st.frames.push_back(frame.slice(written..));
        Ok(Pushed::Queued)
    }

    /// Writes what the fanout queued, waiting while the socket is full.
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            {
                let mut st = self.state.lock().map_err(poisoned)?;
                st.drain(&self.tcp)?;
                if st.frames.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            }
            ready!(self.tcp.poll_write_ready(cx))?;
        }
    }
}

/// The I/O tungstenite runs on. Its writes go after the fanout's queued frames; one that goes
/// in part marks the socket midway (tungstenite always writes its whole buffer, so a write
/// taken whole ends on a frame's end), which keeps the fanout off until the rest is out.
#[derive(Debug)]
pub struct SharedIo {
    out: Arc<Out>,
}

impl AsyncRead for SharedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.out.tcp.poll_read_ready(cx))?;
            match self.out.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let out = &self.out;
        loop {
            {
                let mut st = out.state.lock().map_err(poisoned)?;
                st.drain(&out.tcp)?;
                if st.frames.is_empty() {
                    match out.tcp.try_write(buf) {
                        Ok(n) => {
                            st.midway = n < buf.len();
                            return Poll::Ready(Ok(n));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
            ready!(out.tcp.poll_write_ready(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.out.poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.out.poll_drain(cx))?;
        Poll::Ready(socket2::SockRef::from(&self.out.tcp).shutdown(std::net::Shutdown::Write))
    }
}

/// Extracts a WebSocket upgrade request (RFC 6455 §4.2.1), as axum's `WebSocketUpgrade` does,
/// refusing anything else with what was wrong.
pub struct WsUpgrade {
    key: HeaderValue,
    on: hyper::upgrade::OnUpgrade,
}

/// Why a request to a WebSocket route was not upgraded.
#[derive(Debug)]
pub struct NotUpgrade(StatusCode, &'static str);

impl IntoResponse for NotUpgrade {
    fn into_response(self) -> Response {
        let mut r = (self.0, self.1).into_response();
        if self.0 == StatusCode::UPGRADE_REQUIRED {
            r.headers_mut()
                .insert("sec-websocket-version", HeaderValue::from_static("13"));
        }
        r
    }
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = NotUpgrade;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::GET {
            return Err(NotUpgrade(
                StatusCode::METHOD_NOT_ALLOWED,
                "a WebSocket opens with GET; connect with a WebSocket client",
            ));
        }
        if parts.version > Version::HTTP_11 {
            return Err(NotUpgrade(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "WebSockets are served over HTTP/1.1 here; connect with HTTP/1.1",
            ));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade")
            || !has_token(&parts.headers, header::UPGRADE, "websocket")
        {
            return Err(NotUpgrade(
                StatusCode::UPGRADE_REQUIRED,
                "this is a WebSocket endpoint: send `Connection: upgrade` and \
                 `Upgrade: websocket` (connect with a WebSocket client)",
            ));
        }
        if parts
            .headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_none_or(|v| v.as_bytes() != b"13")
        {
            return Err(NotUpgrade(
                StatusCode::UPGRADE_REQUIRED,
                "only WebSocket version 13 is spoken: send `Sec-WebSocket-Version: 13`",
            ));
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
            return Err(NotUpgrade(
                StatusCode::BAD_REQUEST,
                "the `Sec-WebSocket-Key` header is missing",
            ));
        };
        let Some(on) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return Err(NotUpgrade(
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded",
            ));
        };
        Ok(WsUpgrade { key, on })
    }
}

impl WsUpgrade {
    /// Answers 101 and runs `serve` on the socket once the client has it.
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket, Arc<Out>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on = self.on;
        tokio::spawn(async move {
            let upgraded = match on.await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(error = %e, "WebSocket upgrade failed");
                    return;
                }
            };
            let parts = match hyper_util::server::conn::auto::upgrade::downcast::<TokioIo<TcpStream>>(
                upgraded,
            ) {
                Ok(p) => p,
                Err(_) => {
                    tracing::error!("a WebSocket's connection is not a TCP stream; closed");
                    return;
                }
            };
            // Copied out and dropped: the bytes can be a slice of hyper's whole read buffer,
            // which would otherwise stay allocated for as long as the connection lives.
            let read = parts.read_buf.to_vec();
            drop(parts.read_buf);
            let out = Arc::new(Out::new(parts.io.into_inner()));
            let io = SharedIo { out: out.clone() };
            let socket =
                WebSocketStream::from_partially_read(io, read, Role::Server, Some(config)).await;
            serve(socket, out).await;
        });
        let mut r = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length_in_the_smallest_form() {
        for (len, head) in [
            (0usize, vec![0x81, 0]),
            (125, vec![0x81, 125]),
            (126, vec![0x81, 126, 0, 126]),
            (65_535, vec![0x81, 126, 0xff, 0xff]),
            (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let e = Encoded::new(Utf8Bytes::from("a".repeat(len)));
            assert_eq!(&e.wire[..head.len()], &head[..], "{len} bytes");
            assert_eq!(e.wire.len(), head.len() + len);
            assert_eq!(&e.wire[head.len()..], e.text.as_bytes());
        }
    }
}
