//! The simulated notification socket at each channel's `connectUri`: heartbeats, pongs, notifications of subscribed topics, and the faults the admin endpoint injects.

use super::Simulator;
use super::answers::error;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// What the simulator tells a socket to do.
#[derive(Debug)]
pub(crate) enum SocketCommand {
    /// Send this text frame.
    Frame(String),
    /// Drop the connection without a close frame.
    Drop,
    /// Warn with `v2.system.socket_closing`, then close.
    Closing,
    /// Send nothing more.
    Stall,
    /// Another connection took the channel: close.
    Kicked,
    /// The token was revoked: say so, then close.
    Revoked,
}

fn system_message(topic: &str, message: &str) -> Message {
    Message::Text(
        json!({"topicName": topic, "eventBody": {"message": message}})
            .to_string()
            .into(),
    )
}

/// `GET /channels/{id}` (the channel's `connectUri`): the WebSocket of channel `id`.
pub(super) async fn connect(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (commands, received) = unbounded_channel();
    let faults = sim.channels().faults;
    if faults.hang_handshake {
        sim.channels().sockets += 1;
        // TCP is accepted; the handshake's answer never comes.
        std::future::pending::<()>().await;
    }
    let number = {
        let mut channels = sim.channels();
        channels.socket_uris.push(uri.to_string());
        channels.sockets += 1;
        let number = channels.sockets;
        let Some(channel) = channels.live(&id) else {
            return error(
                StatusCode::NOT_FOUND,
                "not.found",
                format!("channel {id} not found"),
            );
        };
        if let Some((_, previous)) = channel.socket.replace((number, commands.clone())) {
            let _ = previous.send(SocketCommand::Kicked);
        }
        number
    };
    if faults.closing_on_connect {
        let _ = commands.send(SocketCommand::Closing);
    }
    upgrade
        .on_upgrade(move |socket| serve(sim, id, number, socket, received))
        .into_response()
}

async fn serve(
    sim: Simulator,
    id: String,
    number: u64,
    mut socket: WebSocket,
    mut commands: UnboundedReceiver<SocketCommand>,
) {
    let mut heartbeat = tokio::time::interval(sim.heartbeat_interval());
    heartbeat.tick().await;
    let mut stalled = false;
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) if !stalled && text.contains("ping") => {
                    if socket.send(system_message("channel.metadata", "pong")).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            command = commands.recv() => match command {
                Some(SocketCommand::Frame(text)) => {
                    if !stalled && socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(SocketCommand::Stall) => stalled = true,
                Some(SocketCommand::Drop) | None => break,
                Some(SocketCommand::Closing) => {
                    let _ = socket.send(system_message("v2.system.socket_closing", "socket_closing")).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                Some(SocketCommand::Revoked) => {
                    let _ = socket.send(system_message("v2.system.token_revoked", "token_revoked")).await;
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                Some(SocketCommand::Kicked) => {
                    let frame = CloseFrame { code: 4000, reason: "another connection took this channel".into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
            _ = heartbeat.tick() => {
                if !stalled && socket.send(system_message("channel.metadata", "WebSocket Heartbeat")).await.is_err() {
                    break;
                }
            }
        }
    }
    let mut channels = sim.channels();
    if let Some(channel) = channels.channels.get_mut(&id)
        && channel.socket.as_ref().is_some_and(|(n, _)| *n == number)
    {
        channel.socket = None;
    }
}
