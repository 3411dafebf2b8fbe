//! Deadlines driven by a simulated clock: the connection never reads a clock itself.

use std::time::{Duration, Instant};

use ws_proto::{ClientRequest, CloseCode, Config, Connection, Event, Negotiated, Rng, Role, State};

const S: Duration = Duration::from_secs(1);

struct Counter(u8);
impl Rng for Counter {
    fn fill(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn upgraded(role: Role, config: Config) -> Connection {
    Connection::upgraded_with_rng(
        role,
        ws_proto::Negotiated::new(),
        config,
        ws_proto::Timestamp::ZERO,
        Box::new(Counter(0)),
    )
}

/// Every event the connection has, as a string (owned, so it can be kept): the debug
/// form, and for `Event::Closed` "closed CODE REASON clean=BOOL CAUSE".
fn events(conn: &mut Connection) -> Vec<String> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(e) = conn.poll_event(&mut buf) {
        out.push(match e {
            Event::Closed(c) => format!(
                "closed {} {:?} clean={} {:?}",
                c.code, c.reason, c.was_clean, c.cause
            ),
            other => format!("{other:?}"),
        });
    }
    out
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let out = conn.poll_transmit().to_vec();
    conn.poll_transmit().advance(out.len());
    out
}

/// Moves all output of `from` into `to`.
fn pump(from: &mut Connection, to: &mut Connection) {
    let bytes = drain(from);
    to.handle_bytes(&bytes);
}

#[test]
fn handshake_timeout_counts_from_creation() {
    let t0 = 5000 * S; // the driver's clock, long after its origin
    let mut server = Connection::server(Config::default(), t0); // 10 s
    assert_eq!(
        server.poll_timeout().map(|t| t.as_duration()),
        Some(t0 + 10 * S)
    );
    server.handle_bytes(b"GET / HTTP/1.1\r\nHost: a\r\n"); // a slow client
    server.handle_timeout(t0 + 9 * S);
    assert_eq!(events(&mut server), Vec::<String>::new());
    assert_eq!(server.state(), State::Connecting);
    server.handle_timeout(t0 + 10 * S);
    assert_eq!(
        events(&mut server),
        ["closed 1006 \"\" clean=false HandshakeFailed(Timeout)"]
    );
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
    // Late bytes are ignored.
    server.handle_bytes(b"Upgrade: websocket\r\n\r\n");
    assert_eq!(events(&mut server), Vec::<String>::new());
}

#[test]
fn handshake_timeout_is_off_when_none_and_stops_once_open() {
    let mut config = Config::default();
    config.handshake_timeout = None;
    let server = Connection::server(config, ws_proto::Timestamp::ZERO);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), None);

    let request = ClientRequest::new("ws://h/").unwrap();
    let mut client = Connection::client_with_rng(
        request,
        Config::default(),
        ws_proto::Timestamp::ZERO,
        Box::new(Counter(0)),
    )
    .unwrap();
    let mut server = Connection::server(Config::default(), ws_proto::Timestamp::ZERO);
    client.handle_timeout(S);
    server.handle_timeout(S);
    pump(&mut client, &mut server);
    assert_eq!(events(&mut server).len(), 1);
    server.accept(&Default::default()).unwrap();
    assert_eq!(
        server.poll_timeout().map(|t| t.as_duration()),
        None,
        "handshake timer stopped on accept"
    );
    pump(&mut server, &mut client);
    events(&mut client);
    assert_eq!(client.state(), State::Open);
    assert_eq!(client.poll_timeout().map(|t| t.as_duration()), None);
    client.handle_timeout(1000 * S);
    assert_eq!(client.state(), State::Open);
}

#[test]
fn unanswered_close_ends_with_1006_after_the_close_timeout() {
    let mut config = Config::default();
    config.close_timeout = Some(3 * S);
    let mut server = upgraded(Role::Server, config);
    server.handle_timeout(100 * S);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), None);
    server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert_eq!(
        server.poll_timeout().map(|t| t.as_duration()),
        Some(103 * S)
    );
    // The peer reads nothing: output stays queued, and before the timeout the driver is
    // told to keep the transport.
    server.handle_timeout(102 * S);
    assert_eq!(server.state(), State::Closing);
    assert!(!server.should_close_transport());
    assert_eq!(events(&mut server), Vec::<String>::new());
    server.handle_timeout(103 * S);
    assert_eq!(
        events(&mut server),
        ["closed 1006 \"\" clean=false CloseTimeout"]
    );
    assert!(server.should_close_transport(), "even with output unsent");
    assert_eq!(events(&mut server), Vec::<String>::new());
}

#[test]
fn client_waiting_for_the_servers_eof_is_released_by_the_close_timeout() {
    let mut config = Config::default();
    config.close_timeout = Some(2 * S);
    let mut client = upgraded(Role::Client, config);
    let mut server = upgraded(Role::Server, Config::default());
    client.handle_timeout(S);
    client.close(CloseCode::NORMAL, "").unwrap();
    pump(&mut client, &mut server);
    events(&mut server);
    pump(&mut server, &mut client);
    assert_eq!(events(&mut client).len(), 1); // the server's Close
    assert_eq!(client.state(), State::Closed);
    assert!(
        !client.should_close_transport(),
        "waits for the server to close TCP"
    );
    client.handle_timeout(2 * S);
    assert!(!client.should_close_transport());
    client.handle_timeout(3 * S);
    assert!(client.should_close_transport());
    assert_eq!(
        events(&mut client),
        Vec::<String>::new(),
        "no second terminal event"
    );
}

#[test]
fn keepalive_pings_when_idle_and_fails_1011_without_an_answer() {
    let mut config = Config::default();
    config.keepalive_interval = Some(30 * S);
    config.keepalive_timeout = 5 * S;
    let mut server = upgraded(Role::Server, config);
    server.handle_timeout(Duration::ZERO);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(30 * S));

    // Input restarts the interval.
    server.handle_timeout(20 * S);
    server.handle_bytes(&[0x8A, 0x80, 1, 2, 3, 4]); // a masked empty Pong
    assert_eq!(events(&mut server).len(), 1);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(50 * S));

    // Idle for the interval: a Ping goes out (unmasked, empty payload).
    server.handle_timeout(50 * S);
    assert_eq!(drain(&mut server), [0x89, 0x00]);
    assert_eq!(server.poll_timeout().map(|t| t.as_duration()), Some(55 * S));

    // No answer within the keepalive timeout: fail with 1011.
    server.handle_timeout(55 * S);
    assert_eq!(
        events(&mut server),
        ["closed 1011 \"keepalive timeout\" clean=false KeepaliveTimeout"]
    );
    let close = drain(&mut server);
    assert_eq!(&close[..4], &[0x88, 19, 0x03, 0xF3]); // Close, 1011
    assert_eq!(&close[4..], b"keepalive timeout");
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn keepalive_answered_keeps_the_connection_open() {
    let mut config = Config::default();
    config.keepalive_interval = Some(10 * S);
    config.keepalive_timeout = 5 * S;
    let mut client = upgraded(Role::Client, config);
    let mut server = upgraded(Role::Server, Config::default());
    client.handle_timeout(Duration::ZERO);
    for round in 0..5u32 {
        let t = round * 10 * S + 10 * S;
        client.handle_timeout(t);
        pump(&mut client, &mut server); // the Ping
        assert_eq!(events(&mut server).len(), 1);
        pump(&mut server, &mut client); // the automatic Pong
        client.handle_timeout(t + S);
        assert_eq!(events(&mut client).len(), 1);
        assert_eq!(client.state(), State::Open);
    }
}

#[test]
fn instants_work_as_the_clock() {
    let mut config = Config::default();
    config.close_timeout = Some(4 * S);
    let t0 = Instant::now();
    let mut server = Connection::upgraded_with_rng(
        Role::Server,
        Negotiated::new(),
        config,
        t0,
        Box::new(Counter(0)),
    );
    server.close(CloseCode::NORMAL, "").unwrap();
    let deadline = Instant::from(server.poll_timeout().unwrap());
    assert_eq!(deadline, t0 + 4 * S);
    server.handle_timeout(t0 + 3 * S);
    assert!(!server.should_close_transport());
    server.handle_timeout(deadline);
    assert!(server.should_close_transport());
}

#[test]
fn a_peer_that_sends_but_never_reads_gets_at_most_one_keepalive_ping_queued() {
    let mut config = Config::default();
    config.keepalive_interval = Some(S);
    let mut server = upgraded(Role::Server, config);
    for i in 0..1000u32 {
        server.handle_timeout(i * S);
        // Input every interval keeps it alive; our output is never written.
        server.handle_bytes(&[0x8A, 0x80, 1, 2, 3, 4]);
        events(&mut server);
    }
    assert_eq!(server.state(), State::Open);
    assert_eq!(
        &*server.poll_transmit(),
        [0x89, 0x00],
        "one Ping, not one per interval"
    );
}
