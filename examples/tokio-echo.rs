//! The tokio echo server of the README: `cargo run --example tokio-echo`, then
//! `cargo run --example client -- ws://127.0.0.1:9004/`.

use ws_proto_io::{Error, Message, tokio::accept};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:9004").await?;
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut ws = accept(tcp).await?;
            while let Some(message) = ws.next().await {
                if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
                    ws.send(message).await?;
                }
            }
            Ok::<_, Error>(())
        });
    }
}
