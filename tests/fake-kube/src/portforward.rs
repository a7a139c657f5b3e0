//! A pod's port-forward, served the way the API server (through the kubelet) serves kube's
//! client: a WebSocket upgrade of `GET .../pods/{pod}/portforward?ports=N` on subprotocol
//! `v4.channel.k8s.io`, two channels per port (data `2i`, error `2i+1`), every message's first
//! byte its channel, and first, on both channels of each port, the port number (2 bytes, little
//! endian). The data channel is relayed to a real TCP address; a port that cannot be reached gets
//! the kubelet's error text on its error channel. (Kubernetes' `portforward/websocket.go`; kube's
//! `api/portforward.rs` is the client this must satisfy.)

use std::net::{SocketAddr, TcpStream};

use futures_util::{future, SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;

/// The only subprotocol the API server offers for port-forwards over WebSocket (kube's client
/// offers `v5.channel.k8s.io` first, which only exec and attach speak).
pub const PROTOCOL: &str = "v4.channel.k8s.io";

/// What a port-forward request asked for: the pod, and each port with where it goes (`None`: the
/// pod does not listen there).
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    pub(crate) pod: String,
    pub(crate) ports: Vec<(u16, Option<SocketAddr>)>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Serves the port-forward on `stream` (the request not yet read) on a thread of its own, until
/// either side closes.
pub(crate) fn spawn(stream: TcpStream, forward: Forward) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        // A client that went away mid-way ends the relay; nothing to report.
        let _ = runtime.block_on(relay(stream, forward));
    });
}

/// Accepts `v4.channel.k8s.io` when the client offers it, refuses the upgrade otherwise.
#[allow(clippy::result_large_err)] // tungstenite's callback type.
fn choose_protocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        let mut refused = ErrorResponse::new(Some(format!(
            "port-forward over WebSocket needs subprotocol {PROTOCOL}"
        )));
        *refused.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refused);
    }
    response
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    Ok(response)
}

/// One message on channel `channel`.
fn frame(channel: u8, bytes: &[u8]) -> Message {
    let mut data = Vec::with_capacity(bytes.len() + 1);
    data.push(channel);
    data.extend_from_slice(bytes);
    Message::binary(data)
}

async fn relay(stream: TcpStream, forward: Forward) -> Result<(), Error> {
    stream.set_nonblocking(true)?;
    let stream = tokio::net::TcpStream::from_std(stream)?;
    let ws = tokio_tungstenite::accept_hdr_async(stream, choose_protocol).await?;
    let (mut sink, mut source) = ws.split();
    let (to_client, mut outgoing) = mpsc::channel::<Message>(16);
    let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::new();
    let mut readers = Vec::new();
    for (i, (port, address)) in forward.ports.iter().enumerate() {
        let (data, error) = (2 * i as u8, 2 * i as u8 + 1);
        sink.send(frame(data, &port.to_le_bytes())).await?;
        sink.send(frame(error, &port.to_le_bytes())).await?;
        let connected = match address {
            Some(a) => tokio::net::TcpStream::connect(a)
                .await
                .map_err(|e| e.to_string()),
            None => Err("connection refused: the pod does not listen there".to_owned()),
        };
        match connected {
            Ok(upstream) => {
                let (read, write) = upstream.into_split();
                writers.push(Some(write));
                readers.push(from_pod(read, data, to_client.clone()));
            }
            Err(e) => {
                writers.push(None);
                let text = format!(
                    "error forwarding port {port} to pod {}, uid : {e}",
                    forward.pod
                );
                sink.send(frame(error, text.as_bytes())).await?;
            }
        }
    }
    drop(to_client);
    let send = async move {
        while let Some(message) = outgoing.recv().await {
            sink.send(message).await?;
        }
        // Every port's upstream closed: so does the WebSocket.
        sink.close().await?;
        Ok::<(), Error>(())
    };
    let receive = async move {
        while let Some(Ok(message)) = source.next().await {
            let Message::Binary(bytes) = message else {
                if message.is_close() {
                    break;
                }
                continue;
            };
            let Some((channel, data)) = bytes.split_first() else {
                continue;
            };
            let writer = writers
                .get_mut(usize::from(*channel / 2))
                .and_then(Option::as_mut);
            if let (0, Some(w)) = (channel % 2, writer) {
                w.write_all(data).await?;
            }
        }
        // The client closed or went away: the pod's side is told by end of stream.
        for w in writers.iter_mut().flatten() {
            let _ = w.shutdown().await;
        }
        Ok::<(), Error>(())
    };
    let (sent, received, _) = tokio::join!(send, receive, future::join_all(readers));
    sent.and(received)
}

/// Relays what the pod's port sends to the client on `channel`, until the port closes.
async fn from_pod(
    mut read: tokio::net::tcp::OwnedReadHalf,
    channel: u8,
    to_client: mpsc::Sender<Message>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = read.read(&mut buf).await {
        if n == 0 || to_client.send(frame(channel, &buf[..n])).await.is_err() {
            break;
        }
    }
}
