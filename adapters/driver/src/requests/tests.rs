use ferrocore::keys::KeyPair;
use ferrocore::replication::{EndpointConfig, RequestError};
use ferrocore::storage::MemoryStorage;
use ferrocore::LogOptions;

use super::*;
use crate::reply::Reply;

fn node(writable: bool) -> (Endpoint<MemoryStorage>, CoreId) {
    let pair = KeyPair::from_seed(&[3; 32]);
    let options = if writable {
        LogOptions {
            key_pair: Some(pair),
            ..LogOptions::default()
        }
    } else {
        LogOptions {
            key: Some(pair.public_key),
            ..LogOptions::default()
        }
    };
    let mut endpoint = Endpoint::new(EndpointConfig::default());
    let core = endpoint.add_core(Log::open(MemoryStorage::new(), options).unwrap());
    (endpoint, core)
}

fn requests() -> Requests {
    Requests::new(Arc::new(|_| {}))
}

/// The answer if there is one now.
fn now<T>(rx: &mut Reply<T>) -> Option<Result<T, Error>> {
    rx.wait_timeout(Duration::ZERO)
}

#[test]
fn appends_are_answered_only_after_the_flush() {
    let (mut ep, core) = node(true);
    let mut requests = requests();
    let (tx, mut rx) = reply();
    let blocks = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
    requests.handle(&mut ep, Duration::ZERO, Command::Append(core, blocks, tx));
    assert!(now(&mut rx).is_none());
    requests.answer_appends();
    assert_eq!(now(&mut rx).unwrap().unwrap(), 2);
    assert_eq!(ep.log(core).unwrap().length(), 2);
}

#[test]
fn unknown_cores_fail_every_command_at_once() {
    let (mut ep, core) = node(true);
    let missing = {
        let (mut other, _) = node(true);
        let log = Log::open(
            MemoryStorage::new(),
            LogOptions {
                key_pair: Some(KeyPair::from_seed(&[4; 32])),
                ..LogOptions::default()
            },
        )
        .unwrap();
        other.add_core(log)
    };
    assert_ne!(missing, core);
    let mut requests = requests();
    let t = Duration::ZERO;
    let (g, mut g_rx) = reply();
    requests.handle(&mut ep, t, Command::Get(missing, 0, None, g));
    let (u, mut u_rx) = reply();
    requests.handle(&mut ep, t, Command::Update(missing, None, u));
    let (d, mut d_rx) = reply();
    requests.handle(
        &mut ep,
        t,
        Command::Download(missing, Span::Range(0, None), d),
    );
    let (i, mut i_rx) = reply();
    requests.handle(&mut ep, t, Command::Info(missing, i));
    let (tr, mut t_rx) = reply();
    requests.handle(&mut ep, t, Command::Truncate(missing, 0, tr));
    assert!(matches!(now(&mut g_rx), Some(Err(Error::NoSuchCore))));
    assert!(matches!(now(&mut u_rx), Some(Err(Error::NoSuchCore))));
    assert!(matches!(now(&mut d_rx), Some(Err(Error::NoSuchCore))));
    assert!(matches!(now(&mut i_rx), Some(Err(Error::NoSuchCore))));
    assert!(matches!(now(&mut t_rx), Some(Err(Error::NoSuchCore))));
    assert_eq!(requests.outstanding(), 0);
}

#[test]
fn a_request_is_answered_by_its_event_and_a_local_block_at_once() {
    let (mut ep, core) = node(true);
    let mut requests = requests();
    let (tx, _rx) = reply();
    let t = Duration::ZERO;
    requests.handle(
        &mut ep,
        t,
        Command::Append(core, vec![Bytes::from_static(b"x")], tx),
    );
    let (g, mut g_rx) = reply();
    requests.handle(&mut ep, t, Command::Get(core, 0, None, g));
    assert_eq!(requests.outstanding(), 1);
    while let Some(event) = ep.poll_event() {
        requests.on_event(&event);
    }
    assert_eq!(now(&mut g_rx).unwrap().unwrap(), "x");
    assert_eq!(requests.outstanding(), 0);
}

#[test]
fn a_download_handle_finishes_with_its_event() {
    let (mut ep, core) = node(true);
    let cancelled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut requests = Requests::new({
        let cancelled = cancelled.clone();
        Arc::new(move |id| cancelled.lock().unwrap().push(id))
    });
    let (d, mut d_rx) = reply();
    let t = Duration::ZERO;
    // Nothing to download on an empty core: it ends at once.
    requests.handle(
        &mut ep,
        t,
        Command::Download(core, Span::Range(0, Some(0)), d),
    );
    let handle = now(&mut d_rx).unwrap().unwrap();
    while let Some(event) = ep.poll_event() {
        requests.on_event(&event);
    }
    handle.wait().unwrap();
    // A handle dropped before its end cancels the download; one that ended does not.
    let (d, mut d_rx) = reply();
    requests.handle(&mut ep, t, Command::Download(core, Span::Range(0, None), d));
    let live = now(&mut d_rx).unwrap().unwrap();
    let id = live.request();
    drop(live);
    assert_eq!(*cancelled.lock().unwrap(), vec![id]);
}

#[test]
fn abandoned_requests_are_cancelled_and_clear_drops_the_rest() {
    let (mut ep, core) = node(false);
    let mut requests = requests();
    let t = Duration::ZERO;
    // No peer has block 5: both gets wait.
    let (a, a_rx) = reply();
    requests.handle(&mut ep, t, Command::Get(core, 5, None, a));
    let (b, mut b_rx) = reply();
    requests.handle(&mut ep, t, Command::Get(core, 5, None, b));
    assert_eq!(requests.outstanding(), 2);
    // The caller of the first went away (a dropped future).
    drop(a_rx);
    // The next command reaps the first and cancels it.
    let (i, mut i_rx) = reply();
    requests.handle(&mut ep, t, Command::Info(core, i));
    assert_eq!(now(&mut i_rx).unwrap().unwrap().length, 0);
    assert_eq!(requests.outstanding(), 1);
    let mut cancelled = 0;
    while let Some(event) = ep.poll_event() {
        if matches!(
            &event,
            Event::Get {
                result: Err(RequestError::Cancelled),
                ..
            }
        ) {
            cancelled += 1;
        }
        requests.on_event(&event);
    }
    assert_eq!(cancelled, 1);
    assert!(now(&mut b_rx).is_none());
    requests.clear();
    assert_eq!(requests.outstanding(), 0);
    assert!(matches!(now(&mut b_rx), Some(Err(Error::Shutdown))));
}
