//! Deterministic network simulation of replication (`ferrocore_tests::sim`) against a
//! reference model.
//!
//! One writer endpoint with one writable core and 1–3 readers (some reachable only through
//! another reader, which relays) run a random schedule: appends, truncates (a new fork),
//! reader gets with deadlines, downloads, updates, disconnects and reconnects, time
//! passing. The model records the writer's content per fork. Checked:
//!
//! * every `Get` that returned a value returned the writer's block at that index in the
//!   fork the reader was on at that moment (its last `Append`/`Truncate` event);
//! * every request ends exactly once, with an event of its kind (gets, downloads and
//!   updates carry deadlines in the random phase; live downloads and cancels too);
//! * no session between honest peers ever closes with an error (a graceful disconnect is
//!   `None` on the side that closed, `RemoteEnded` on the other);
//! * at the end, once every link is back up and the readers `update` and
//!   `download(0..length)`, every reader holds the writer's length, fork and exact blocks;
//! * the same seed gives the same transcript (every delivered chunk and every event).
//!
//! Endpoint configurations vary per seed (in-flight limit, eager upgrades), and so do the
//! links (delay, jitter, chunking). Two variants run: the default one keeps request
//! timeouts at 20 s and lets the readers reach the writer's fork before the final
//! downloads; the strict one uses short timeouts (300 ms, 2 s: requests time out and are
//! retried while their answers are still on the way) and downloads at once (pending
//! across reorgs). The strict variant found four endpoint bugs, each now pinned by a
//! focused test at the end of this file or in `hostile_peers.rs`.
//!
//! `FERROCORE_SIM_CASES=n` runs more seeds (the default keeps the file well under a
//! minute in debug on two cores); `FERROCORE_SIM_SEED=s` runs one seed (as printed by a
//! failure); `FERROCORE_SIM_TRACE=1` prints every node's events.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, EndpointConfig, Event, RequestId};
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::memory_reader;
use ferrocore_tests::sim::{LinkConfig, NodeId, Rng, Sim};

/// Seeds run by default, by each of the two random tests.
const DEFAULT_CASES: u64 = 160;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// What a reader asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Get(u64),
    Download,
    Update,
}

/// The reference model: the writer's content of every fork it ever had.
struct Model {
    /// fork → the blocks of that fork (a fork only grows once created).
    forks: BTreeMap<u64, Vec<Vec<u8>>>,
    fork: u64,
}

impl Model {
    fn content(&self) -> &Vec<Vec<u8>> {
        &self.forks[&self.fork]
    }
}

struct World {
    seed: u64,
    sim: Sim,
    rng: Rng,
    writer: NodeId,
    wcore: CoreId,
    readers: Vec<(NodeId, CoreId)>,
    model: Model,
    /// Requests issued per reader (index into `readers`).
    issued: Vec<BTreeMap<RequestId, Kind>>,
    nonce: u64,
    /// Live downloads (`end: None`), cancelled before the final phase.
    live: Vec<(usize, RequestId)>,
    /// Short request timeouts, final downloads issued before the readers have adopted the
    /// writer's fork, no append to nudge a stuck reader.
    strict: bool,
}

impl World {
    fn new(seed: u64, strict: bool) -> Self {
        let mut sim = Sim::new(seed);
        let mut rng = sim.rng.fork();
        let mut config = || {
            let mut c = EndpointConfig::default();
            c.max_inflight = [1, 4, 48][rng.pick(3)];
            if strict {
                c.request_timeout = [millis(300), secs(2), secs(20)][rng.pick(3)];
            }
            c.eager_upgrade = rng.chance(3, 4);
            c
        };
        let (wconfig, rconfigs): (EndpointConfig, Vec<EndpointConfig>) =
            (config(), (0..3).map(|_| config()).collect());
        let writer = sim.add_node(wconfig);
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        seed_bytes[8] = 0xaa;
        let options = LogOptions {
            key_pair: Some(KeyPair::from_seed(&seed_bytes)),
            ..LogOptions::default()
        };
        let wlog = Log::open(MemoryStorage::new(), options).expect("writer log");
        let key = *wlog.key();
        let wcore = sim.with(writer, |e, _| e.add_core(wlog));

        let n = 1 + rng.pick(3);
        let mut readers = Vec::new();
        for c in rconfigs.into_iter().take(n) {
            let node = sim.add_node(c);
            let log = memory_reader(key);
            let core = sim.with(node, |e, _| e.add_core(log));
            readers.push((node, core));
        }
        let link_config = |rng: &mut Rng| {
            let min = rng.range(0, 20);
            LinkConfig {
                min_delay: millis(min),
                max_delay: millis(min + rng.range(0, 60)),
                chunking: rng.chance(7, 8),
            }
        };
        // Reader 0 always reaches the writer; the others reach it directly, or only through
        // an earlier reader (a relay), sometimes both; a few extra reader-reader links.
        for i in 0..readers.len() {
            let relay_only = i > 0 && rng.chance(1, 3);
            if !relay_only {
                let lc = link_config(&mut rng);
                if rng.chance(1, 2) {
                    sim.connect(writer, readers[i].0, lc);
                } else {
                    sim.connect(readers[i].0, writer, lc);
                }
            }
            if i > 0 && (relay_only || rng.chance(1, 4)) {
                let j = rng.pick(i);
                let lc = link_config(&mut rng);
                sim.connect(readers[j].0, readers[i].0, lc);
            }
        }
        let issued = vec![BTreeMap::new(); readers.len()];
        World {
            seed,
            sim,
            rng,
            writer,
            wcore,
            readers,
            model: Model {
                forks: BTreeMap::from([(0, Vec::new())]),
                fork: 0,
            },
            issued,
            nonce: 0,
            live: Vec::new(),
            strict,
        }
    }

    fn writer_length(&self) -> u64 {
        self.sim
            .endpoint(self.writer)
            .log(self.wcore)
            .unwrap()
            .length()
    }

    fn append(&mut self, k: u64) {
        let start = self.model.content().len();
        let fork = self.model.fork;
        let blocks: Vec<Vec<u8>> = (0..k)
            .map(|i| {
                self.nonce += 1;
                let len = self.rng.range(0, 40) as usize;
                let mut v = format!(
                    "s{}-f{fork}-i{}-n{}|",
                    self.seed,
                    start as u64 + i,
                    self.nonce
                )
                .into_bytes();
                v.extend((0..len).map(|j| (j as u8).wrapping_mul(31) ^ self.nonce as u8));
                v
            })
            .collect();
        let wcore = self.wcore;
        self.sim.with(self.writer, |e, _| {
            e.log_mut(wcore)
                .unwrap()
                .append_batch(&blocks)
                .expect("append");
        });
        self.model.forks.get_mut(&fork).unwrap().extend(blocks);
    }

    fn truncate(&mut self, length: u64) {
        let wcore = self.wcore;
        self.sim.with(self.writer, |e, _| {
            e.log_mut(wcore)
                .unwrap()
                .truncate(length, None)
                .expect("truncate");
        });
        let mut kept = self.model.content().clone();
        kept.truncate(length as usize);
        self.model.fork += 1;
        let fork = self.sim.endpoint(self.writer).log(wcore).unwrap().fork();
        assert_eq!(fork, self.model.fork, "truncate moves to fork + 1");
        self.model.forks.insert(fork, kept);
    }

    fn request(&mut self, r: usize, kind: Kind, id: RequestId) {
        assert!(
            self.issued[r].insert(id, kind).is_none(),
            "request ids are unique"
        );
    }

    /// One random operation of the schedule.
    fn random_op(&mut self) {
        let now = self.sim.now();
        let len = self.writer_length();
        let r = self.rng.pick(self.readers.len());
        let (node, core) = self.readers[r];
        match self.rng.below(100) {
            0..=24 => {
                let k = self.rng.range(1, 20);
                self.append(k);
            }
            25..=29 => {
                if len > 0 {
                    let to = self.rng.below(len);
                    self.truncate(to);
                    if self.rng.chance(1, 2) {
                        let k = self.rng.range(1, 20);
                        self.append(k);
                    }
                }
            }
            30..=49 => {
                let index = self.rng.below(len + 3);
                let deadline = now + millis(self.rng.range(100, 10_000));
                let id = self
                    .sim
                    .with(node, |e, _| e.get(core, index, Some(deadline)))
                    .unwrap();
                self.request(r, Kind::Get(index), id);
            }
            50..=57 => {
                let end = self.rng.range(1, len + 2);
                let start = self.rng.below(end);
                let deadline = now + millis(self.rng.range(500, 30_000));
                let id = self
                    .sim
                    .with(node, |e, _| {
                        e.download(core, start, Some(end), Some(deadline))
                    })
                    .unwrap();
                self.request(r, Kind::Download, id);
            }
            58..=59 => {
                // Cancel an outstanding request, or start a live download (ended by a
                // cancel later, at the latest before the final phase).
                let open: Vec<RequestId> = {
                    let ended = self.outcomes(r);
                    self.issued[r]
                        .keys()
                        .filter(|id| !ended.contains_key(id))
                        .copied()
                        .collect()
                };
                if !open.is_empty() && self.rng.chance(1, 2) {
                    let id = open[self.rng.pick(open.len())];
                    let was_open = self.sim.with(node, |e, _| e.cancel(id));
                    assert!(was_open, "an open request can be cancelled");
                } else {
                    let start = self.rng.below(len + 1);
                    let id = self
                        .sim
                        .with(node, |e, _| e.download(core, start, None, None))
                        .unwrap();
                    self.request(r, Kind::Download, id);
                    self.live.push((r, id));
                }
            }
            60..=67 => {
                let deadline = now + millis(self.rng.range(100, 10_000));
                let id = self
                    .sim
                    .with(node, |e, _| e.update(core, Some(deadline)))
                    .unwrap();
                self.request(r, Kind::Update, id);
            }
            68..=73 => {
                let link = self.rng.pick(self.sim.link_count());
                if self.sim.is_up(link) {
                    let graceful = self.rng.chance(1, 2);
                    self.sim.disconnect(link, graceful);
                }
            }
            74..=79 => {
                let link = self.rng.pick(self.sim.link_count());
                if !self.sim.is_up(link) {
                    self.sim.reconnect(link);
                }
            }
            80..=97 => {
                let d = millis(self.rng.range(0, 3000));
                self.sim.advance(d);
            }
            _ => self.sim.advance(secs(25)),
        }
        let d = millis(self.rng.range(0, 200));
        self.sim.advance(d);
    }

    /// The terminal event of every request of reader `r`: id → (time, event).
    fn outcomes(&self, r: usize) -> BTreeMap<RequestId, Vec<Event>> {
        let mut out: BTreeMap<RequestId, Vec<Event>> = BTreeMap::new();
        for (_, e) in self.sim.events(self.readers[r].0) {
            let id = match e {
                Event::Get { request, .. }
                | Event::Download { request, .. }
                | Event::Update { request, .. } => *request,
                _ => continue,
            };
            out.entry(id).or_default().push(e.clone());
        }
        out
    }

    /// Every `Get` that returned a value returned the writer's block of the fork the reader
    /// was on at that moment.
    fn check_gets(&self) {
        for (r, &(node, _)) in self.readers.iter().enumerate() {
            let mut fork = 0;
            let mut length = 0;
            for (t, e) in self.sim.events(node) {
                match e {
                    Event::Append {
                        length: l, fork: f, ..
                    }
                    | Event::Truncate {
                        length: l, fork: f, ..
                    } => {
                        fork = *f;
                        length = *l;
                    }
                    Event::Get {
                        index,
                        result: Ok(value),
                        request,
                        ..
                    } => {
                        let content = self.model.forks.get(&fork).unwrap_or_else(|| {
                            panic!("reader {r} on fork {fork}, which the writer never had")
                        });
                        assert!(
                            *index < length,
                            "reader {r}: get {index} answered at length {length}"
                        );
                        let expected = content.get(*index as usize).unwrap_or_else(|| {
                            panic!(
                                "reader {r} at {t:?}: get {index} ({request:?}) on fork {fork}, \
                                 which the writer never had that long"
                            )
                        });
                        assert_eq!(
                            &value[..],
                            &expected[..],
                            "reader {r} at {t:?}: get {index} ({request:?}) on fork {fork}"
                        );
                        assert_eq!(
                            self.issued[r].get(request),
                            Some(&Kind::Get(*index)),
                            "a get event for a get request"
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    /// No session between these honest peers ends with an error.
    fn check_no_errors(&self) {
        for node in 0..self.sim.node_count() {
            for (t, e) in self.sim.events(node) {
                // A peer's orderly end (a graceful disconnect seen from the other side) is
                // reported as `RemoteEnded`; anything else is a failure.
                if let Event::Closed {
                    error: Some(error), ..
                } = e
                {
                    if error.is_orderly() {
                        continue;
                    }
                    panic!(
                        "node {node} at {t:?}: an honest session closed with {error:?} ({error})"
                    );
                }
                if let Event::StorageFailed { .. } = e {
                    panic!("node {node} at {t:?}: {e:?}");
                }
            }
        }
    }

    /// The final phase: every link up, a last append, readers update and download all.
    fn converge(&mut self) {
        for (r, id) in std::mem::take(&mut self.live) {
            let node = self.readers[r].0;
            self.sim.with(node, |e, _| e.cancel(id));
        }
        for link in 0..self.sim.link_count() {
            if !self.sim.is_up(link) {
                self.sim.reconnect(link);
            }
        }
        let k = self.rng.range(1, 3);
        self.append(k);
        for r in 0..self.readers.len() {
            let (node, core) = self.readers[r];
            let u = self.sim.with(node, |e, _| e.update(core, None)).unwrap();
            self.request(r, Kind::Update, u);
        }
        let mut downloads = Vec::new();
        if self.strict {
            // Download at once: a reader may still be on an old fork (a download that
            // completes there is right at that moment: downloaded again below, once caught
            // up), or adopt the new fork while the download is pending (it must then fetch
            // what the reorg dropped). A relay without eager upgrades may not upgrade for
            // its downstream until it is asked to `update` (in `catch_up`).
            downloads = self.issue_downloads();
            self.catch_up(false);
        } else {
            // Readers reach the writer's fork and length first; a slow reader is nudged by
            // an append now and then.
            self.catch_up(true);
        }
        downloads.extend(self.issue_downloads());
        self.await_downloads(&downloads);
        // Past every deadline of the random phase: every request has ended.
        self.sim.advance(secs(60));
        self.sim.settle(secs(10));
    }

    /// Runs until every reader is on the writer's fork and length, repeating `update`
    /// (readers without eager upgrades learn a relay's newer length only by asking again);
    /// with `nudge`, the writer appends a block every fourth round.
    fn catch_up(&mut self, nudge: bool) {
        let fork = self.model.fork;
        let readers = self.readers.clone();
        let caught_up = |fork: u64, len: u64| {
            let readers = readers.clone();
            move |sim: &Sim| {
                readers.iter().all(|&(node, core)| {
                    let log = sim.endpoint(node).log(core).unwrap();
                    (log.fork(), log.length()) == (fork, len)
                })
            }
        };
        for round in 0..120 {
            if self
                .sim
                .run_until(secs(5), caught_up(fork, self.writer_length()))
            {
                return;
            }
            if nudge && round % 4 == 3 {
                self.append(1);
            }
            for r in 0..self.readers.len() {
                let (node, core) = self.readers[r];
                let deadline = self.sim.now() + secs(5);
                let u = self
                    .sim
                    .with(node, |e, _| e.update(core, Some(deadline)))
                    .unwrap();
                self.request(r, Kind::Update, u);
            }
        }
        self.dump();
        panic!(
            "readers did not reach the writer's fork and length in 600 s: {}",
            self.describe()
        );
    }

    /// Every reader downloads `0..length`.
    fn issue_downloads(&mut self) -> Vec<(usize, RequestId)> {
        let len = self.writer_length();
        let mut finals = Vec::new();
        for r in 0..self.readers.len() {
            let (node, core) = self.readers[r];
            let d = self
                .sim
                .with(node, |e, _| e.download(core, 0, Some(len), None))
                .unwrap();
            self.request(r, Kind::Download, d);
            finals.push((r, d));
        }
        finals
    }

    /// Runs until these downloads ended; all must succeed.
    fn await_downloads(&mut self, finals: &[(usize, RequestId)]) {
        let readers = self.readers.clone();
        let done = |sim: &Sim| {
            finals.iter().all(|&(r, d)| {
                sim.events(readers[r].0)
                    .iter()
                    .any(|(_, e)| matches!(e, Event::Download { request, .. } if *request == d))
            })
        };
        let converged = self.sim.run_until(secs(600), done);
        if !converged || std::env::var_os("FERROCORE_SIM_TRACE").is_some() {
            self.dump();
        }
        assert!(
            converged,
            "readers did not converge in 600 s of simulated time: {}",
            self.describe()
        );
        for &(r, d) in finals {
            let o = self.outcomes(r);
            assert!(
                matches!(o[&d][..], [Event::Download { result: Ok(()), .. }]),
                "reader {r}: final download {:?}",
                o[&d]
            );
        }
    }

    /// Prints every node's events (on failure, or with `FERROCORE_SIM_TRACE`).
    fn dump(&self) {
        for node in 0..self.sim.node_count() {
            for (t, e) in self.sim.events(node) {
                eprintln!("node {node} {t:?}: {e:?}");
            }
        }
    }

    fn describe(&self) -> String {
        let w = self.sim.endpoint(self.writer).log(self.wcore).unwrap();
        let mut s = format!(
            "seed {} writer fork {} length {}; ",
            self.seed,
            w.fork(),
            w.length()
        );
        for (r, &(node, core)) in self.readers.iter().enumerate() {
            let log = self.sim.endpoint(node).log(core).unwrap();
            s += &format!(
                "reader {r} (node {node}): fork {} length {} contiguous {}; ",
                log.fork(),
                log.length(),
                log.contiguous_length()
            );
        }
        for link in 0..self.sim.link_count() {
            s += &format!(
                "link {link} {:?} up {}; ",
                self.sim.link_nodes(link),
                self.sim.is_up(link)
            );
        }
        s
    }

    fn check_final(&self) {
        let w = self.sim.endpoint(self.writer).log(self.wcore).unwrap();
        assert_eq!(w.fork(), self.model.fork);
        assert_eq!(w.length(), self.model.content().len() as u64);
        for (i, v) in self.model.content().iter().enumerate() {
            assert_eq!(
                w.get(i as u64).unwrap().as_deref(),
                Some(&v[..]),
                "writer block {i}"
            );
        }
        for (r, &(node, core)) in self.readers.iter().enumerate() {
            let log = self.sim.endpoint(node).log(core).unwrap();
            assert_eq!(
                (log.fork(), log.length()),
                (w.fork(), w.length()),
                "reader {r}: {}",
                self.describe()
            );
            for (i, v) in self.model.content().iter().enumerate() {
                assert_eq!(
                    log.get(i as u64).unwrap().as_deref(),
                    Some(&v[..]),
                    "reader {r} block {i}"
                );
            }
            // Every request ended exactly once, with an event of its kind.
            let outcomes = self.outcomes(r);
            for (id, kind) in &self.issued[r] {
                let evs = outcomes.get(id).map_or(&[][..], |v| &v[..]);
                assert_eq!(
                    evs.len(),
                    1,
                    "reader {r} request {id:?} ({kind:?}): {evs:?}"
                );
                let ok = match (kind, &evs[0]) {
                    (Kind::Get(i), Event::Get { index, .. }) => i == index,
                    (Kind::Download, Event::Download { .. }) => true,
                    (Kind::Update, Event::Update { .. }) => true,
                    _ => false,
                };
                assert!(
                    ok,
                    "reader {r} request {id:?} ({kind:?}) ended with {:?}",
                    evs[0]
                );
            }
            let unknown: BTreeSet<_> = outcomes
                .keys()
                .filter(|id| !self.issued[r].contains_key(id))
                .collect();
            assert!(
                unknown.is_empty(),
                "events for requests never made: {unknown:?}"
            );
        }
    }
}

/// Runs one seed; returns the transcript hash and some statistics.
fn run_case(seed: u64, strict: bool) -> ([u8; 32], u64) {
    let mut w = World::new(seed, strict);
    let ops = w.rng.range(10, 40);
    for _ in 0..ops {
        w.random_op();
        w.check_gets();
    }
    w.converge();
    w.check_gets();
    w.check_no_errors();
    w.check_final();
    (w.sim.transcript(), w.sim.delivered_bytes)
}

fn run_reporting(seed: u64) -> ([u8; 32], u64) {
    run_reporting_with(seed, false)
}

fn run_reporting_with(seed: u64, strict: bool) -> ([u8; 32], u64) {
    match std::panic::catch_unwind(|| run_case(seed, strict)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simulation failed for seed {seed}; rerun with FERROCORE_SIM_SEED={seed}");
            std::panic::resume_unwind(e)
        }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?}: {e}"))
    })
}

fn run_seeds(strict: bool) {
    let seeds: Vec<u64> = match env_u64("FERROCORE_SIM_SEED") {
        Some(s) => vec![s],
        None => (0..env_u64("FERROCORE_SIM_CASES").unwrap_or(DEFAULT_CASES)).collect(),
    };
    let start = Instant::now();
    let mut bytes = 0;
    for &seed in &seeds {
        bytes += run_reporting_with(seed, strict).1;
    }
    println!(
        "simulation{}: {} seeds, {} bytes delivered, {:?}",
        if strict { " (strict)" } else { "" },
        seeds.len(),
        bytes,
        start.elapsed()
    );
}

#[test]
fn random_schedules_match_the_model() {
    run_seeds(false);
}

/// The same with short request timeouts (300 ms, 2 s), the final downloads issued at
/// once, and no append to nudge a stuck reader. Before the endpoint fixes it failed on a
/// late answer to a cancelled request taken for a new request with the reused id
/// (`late_answer_to_a_cancelled_request_does_not_close_an_honest_session`; seeds 6, 11,
/// 73, 122, 140, 143), blocks refused on an old fork never asked again
/// (`blocks_refused_on_an_old_fork_are_asked_again_on_the_new_one`), and a download cursor
/// kept across a reorg (`download_pending_across_a_reorg_fetches_the_new_blocks`; seed
/// 65), and a reader behind a relay that reorged staying behind for good
/// (`reader_behind_a_relay_that_reorged_gets_the_new_length`; seed 1636: no `range { drop }`
/// on truncation, a peer's old-fork announcements kept across its fork change, and a
/// `noData` to an upgrade with a block taken as a refused upgrade). Seeds 0..3000 pass.
///
/// (Seed 53 once ended with a reader missing a block after a successful final download:
/// the download had completed on the old fork, before the reader adopted the new one,
/// which is right; the model now downloads again once the readers caught up.)
#[test]
fn random_schedules_match_the_model_strict() {
    run_seeds(true);
}

#[test]
fn same_seed_same_transcript() {
    for seed in [1_000_001, 1_000_002, 1_000_003] {
        let a = run_reporting(seed);
        let b = run_reporting(seed);
        assert_eq!(a, b, "seed {seed} is not deterministic");
    }
    assert_ne!(run_reporting(1_000_001).0, run_reporting(1_000_002).0);
}

/// The simulator's own guarantees on a fixed scenario: a relay chain (writer → A → B)
/// converges, and chunking and delays do not change what is delivered.
#[test]
fn relay_chain_converges() {
    for seed in 0..4 {
        let mut sim = Sim::new(seed);
        let w = sim.add_node(EndpointConfig::default());
        let a = sim.add_node(EndpointConfig::default());
        let b = sim.add_node(EndpointConfig::default());
        let options = LogOptions {
            key_pair: Some(KeyPair::from_seed(&[9; 32])),
            ..LogOptions::default()
        };
        let mut log = Log::open(MemoryStorage::new(), options).unwrap();
        let blocks: Vec<Vec<u8>> = (0..50u32)
            .map(|i| format!("block {i}").into_bytes())
            .collect();
        log.append_batch(&blocks).unwrap();
        let key = *log.key();
        sim.with(w, |e, _| e.add_core(log));
        let ca = sim.with(a, |e, _| e.add_core(memory_reader(key)));
        let cb = sim.with(b, |e, _| e.add_core(memory_reader(key)));
        sim.connect(w, a, LinkConfig::default());
        sim.connect(a, b, LinkConfig::default());
        let da = sim
            .with(a, |e, _| e.download(ca, 0, Some(50), None))
            .unwrap();
        let db = sim
            .with(b, |e, _| e.download(cb, 0, Some(50), None))
            .unwrap();
        let ended = |sim: &Sim, node, id| {
            sim.events(node)
                .iter()
                .any(|(_, e)| matches!(e, Event::Download { request, result: Ok(()), .. } if *request == id))
        };
        assert!(sim.run_until(secs(60), |s| ended(s, a, da) && ended(s, b, db)));
        for (node, core) in [(a, ca), (b, cb)] {
            let log = sim.endpoint(node).log(core).unwrap();
            assert_eq!(log.length(), 50);
            for (i, v) in blocks.iter().enumerate() {
                assert_eq!(log.get(i as u64).unwrap().as_deref(), Some(&v[..]));
            }
        }
    }
}

/// A writer and one reader over a link with a fixed delay and no chunking.
struct Pair {
    sim: Sim,
    writer: NodeId,
    wcore: CoreId,
    reader: NodeId,
    rcore: CoreId,
    link: usize,
}

fn pair(seed: u64, delay: Duration, reader_config: EndpointConfig) -> Pair {
    let mut sim = Sim::new(seed);
    let writer = sim.add_node(EndpointConfig::default());
    let reader = sim.add_node(reader_config);
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[3; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    let wcore = sim.with(writer, |e, _| e.add_core(log));
    let rlog = memory_reader(key);
    let rcore = sim.with(reader, |e, _| e.add_core(rlog));
    let link = sim.connect(
        writer,
        reader,
        LinkConfig {
            min_delay: delay,
            max_delay: delay,
            chunking: false,
        },
    );
    Pair {
        sim,
        writer,
        wcore,
        reader,
        rcore,
        link,
    }
}

impl Pair {
    fn append(&mut self, values: &[Vec<u8>]) {
        let c = self.wcore;
        self.sim.with(self.writer, |e, _| {
            e.log_mut(c).unwrap().append_batch(values).unwrap()
        });
    }

    fn truncate(&mut self, length: u64) {
        let c = self.wcore;
        self.sim.with(self.writer, |e, _| {
            e.log_mut(c).unwrap().truncate(length, None).unwrap()
        });
    }

    fn ended(&self, id: RequestId) -> Option<Event> {
        self.sim
            .events(self.reader)
            .iter()
            .find_map(|(_, e)| match e {
                Event::Download { request, .. } | Event::Update { request, .. }
                    if *request == id =>
                {
                    Some(e.clone())
                }
                _ => None,
            })
    }
}

fn values(tag: &str, range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(|i| format!("{tag}{i}").into_bytes()).collect()
}

/// A download issued while the reader still holds an old fork must fetch the blocks the
/// reorg then drops below its cursor (found by the simulation, seed 65; fixed in core by
/// "downloads rewind on truncation").
#[test]
fn download_pending_across_a_reorg_fetches_the_new_blocks() {
    let mut p = pair(1, millis(10), EndpointConfig::default());
    p.append(&values("old", 0..4));
    let (reader, rcore) = (p.reader, p.rcore);
    let first = p
        .sim
        .with(reader, |e, _| e.download(rcore, 0, Some(4), None))
        .unwrap();
    assert!(p.sim.run_until(secs(10), |_| false) || p.ended(first).is_some());
    assert!(matches!(
        p.ended(first),
        Some(Event::Download { result: Ok(()), .. })
    ));
    // Offline, the writer rewrites history: fork 1 keeps 2 blocks and grows to 6.
    p.sim.disconnect(p.link, false);
    p.truncate(2);
    p.append(&values("new", 2..6));
    // The reader wants 0..6 while it still holds fork 0 (its cursor moves to 4).
    let all = p
        .sim
        .with(reader, |e, _| e.download(rcore, 0, Some(6), None))
        .unwrap();
    p.sim.reconnect(p.link);
    let done = p.sim.run_until(secs(60), |s| {
        s.events(reader)
            .iter()
            .any(|(_, e)| matches!(e, Event::Download { request, .. } if *request == all))
    });
    assert!(done, "the download ended");
    let log = p.sim.endpoint(reader).log(rcore).unwrap();
    assert_eq!((log.fork(), log.length()), (1, 6));
    let expected: Vec<Vec<u8>> = values("old", 0..2)
        .into_iter()
        .chain(values("new", 2..6))
        .collect();
    for (i, v) in expected.iter().enumerate() {
        assert_eq!(
            log.get(i as u64).unwrap().as_deref(),
            Some(&v[..]),
            "block {i} after a successful download(0..6)"
        );
    }
}

/// The writer moves to a new fork while the reader's reorg request for the previous new
/// fork is in flight. The writer answers `noData` (not its fork any more) after its `sync`
/// for the newest fork. The refusal concerns the fork that was asked, not the newest one:
/// the reader must still adopt the newest fork (it once recorded the refusal against the
/// peer's latest `sync` and stayed on the old fork until the writer appended again; found
/// by the simulation, seed 142).
#[test]
fn reorg_refused_for_an_outdated_fork_is_asked_again_for_the_new_one() {
    let mut p = pair(2, millis(100), EndpointConfig::default());
    p.append(&values("a", 0..10));
    p.sim.settle(secs(5));
    assert_eq!(p.sim.endpoint(p.reader).log(p.rcore).unwrap().length(), 10);
    // Fork 1; 150 ms later (the reader's reorg request for fork 1 is on its way) fork 2.
    p.truncate(5);
    p.sim.advance(millis(150));
    p.truncate(3);
    p.append(&values("c", 3..4));
    p.sim.settle(secs(5));
    let (reader, rcore) = (p.reader, p.rcore);
    let update = p.sim.with(reader, |e, _| e.update(rcore, None)).unwrap();
    p.sim.run_until(secs(60), |_| false);
    let log = p.sim.endpoint(reader).log(rcore).unwrap();
    assert_eq!(
        (log.fork(), log.length()),
        (2, 4),
        "the reader adopted the writer's fork; update said {:?}",
        p.ended(update)
    );
}

/// Block requests on the old fork are in flight when the writer truncates: it announces its
/// new fork (sync, range) and then answers them with `noData` (not its fork). Those
/// refusals concern the old fork: on the new fork the reader must ask for the blocks again
/// (it once kept them refused and its download never ended; found by the simulation,
/// seed 53).
#[test]
fn blocks_refused_on_an_old_fork_are_asked_again_on_the_new_one() {
    let mut p = pair(3, millis(100), EndpointConfig::default());
    p.append(&values("a", 0..10));
    p.sim.settle(secs(5));
    let (reader, rcore) = (p.reader, p.rcore);
    assert_eq!(p.sim.endpoint(reader).log(rcore).unwrap().length(), 10);
    let d = p
        .sim
        .with(reader, |e, _| e.download(rcore, 0, Some(10), None))
        .unwrap();
    // The block requests are on their way; the writer rewrites its last two blocks.
    p.sim.advance(millis(50));
    p.truncate(8);
    p.append(&values("b", 8..10));
    let done = p.sim.run_until(secs(120), |s| {
        s.events(reader)
            .iter()
            .any(|(_, e)| matches!(e, Event::Download { request, .. } if *request == d))
    });
    let log = p.sim.endpoint(reader).log(rcore).unwrap();
    assert!(
        done,
        "the download never ended: reader fork {} length {} contiguous {}",
        log.fork(),
        log.length(),
        log.contiguous_length()
    );
    let expected: Vec<Vec<u8>> = values("a", 0..8)
        .into_iter()
        .chain(values("b", 8..10))
        .collect();
    assert_eq!((log.fork(), log.length()), (1, 10));
    for (i, v) in expected.iter().enumerate() {
        assert_eq!(
            log.get(i as u64).unwrap().as_deref(),
            Some(&v[..]),
            "block {i}"
        );
    }
}

/// A relay that truncated (here: adopted the writer's new fork) must stop claiming the
/// blocks past the cut: the reference announces `range { drop: true }` on every truncation.
/// Without it, a downstream reader still believes the relay holds its old-fork blocks,
/// asks for the newest one together with the next upgrade, gets `noData` for the whole
/// request (the relay lacks the block) and takes that as a refused upgrade: it stays on
/// the old length, and its download never ends, even once the relay has every block.
/// Found by the strict simulation (seed 1636).
#[test]
fn reader_behind_a_relay_that_reorged_gets_the_new_length() {
    let mut sim = Sim::new(4);
    let link = LinkConfig {
        min_delay: millis(20),
        max_delay: millis(20),
        chunking: false,
    };
    let w = sim.add_node(EndpointConfig::default());
    let a = sim.add_node(EndpointConfig::default());
    let b = sim.add_node(EndpointConfig::default());
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[5; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    let wc = sim.with(w, |e, _| e.add_core(log));
    let ac = sim.with(a, |e, _| e.add_core(memory_reader(key)));
    let bc = sim.with(b, |e, _| e.add_core(memory_reader(key)));
    sim.connect(w, a, link);
    sim.connect(a, b, link);
    let ended = |sim: &Sim, node: NodeId, id: RequestId| {
        sim.events(node)
            .iter()
            .any(|(_, e)| matches!(e, Event::Download { request, .. } if *request == id))
    };
    // A holds fork 0 whole and tells B so.
    sim.with(w, |e, _| {
        e.log_mut(wc)
            .unwrap()
            .append_batch(values("a", 0..10))
            .unwrap()
    });
    let d = sim
        .with(a, |e, _| e.download(ac, 0, Some(10), None))
        .unwrap();
    assert!(sim.run_until(secs(30), |s| ended(s, a, d)));
    sim.settle(secs(5));
    // Fork 1: 5 blocks kept, 2 new. A and B adopt it (A fetches no block of it).
    sim.with(w, |e, _| {
        let log = e.log_mut(wc).unwrap();
        log.truncate(5, None).unwrap();
        log.append_batch(values("b", 5..7)).unwrap();
    });
    sim.settle(secs(5));
    for (node, core) in [(a, ac), (b, bc)] {
        let log = sim.endpoint(node).log(core).unwrap();
        assert_eq!((log.fork(), log.length()), (1, 7));
    }
    // B wants the next block; the writer appends it; A learns the length (eager upgrade).
    let all = sim
        .with(b, |e, _| e.download(bc, 0, Some(8), None))
        .unwrap();
    sim.with(w, |e, _| {
        e.log_mut(wc)
            .unwrap()
            .append_batch(values("b", 7..8))
            .unwrap()
    });
    sim.settle(secs(5));
    // A downloads everything: B can now get every block from it.
    let da = sim
        .with(a, |e, _| e.download(ac, 0, Some(8), None))
        .unwrap();
    assert!(sim.run_until(secs(30), |s| ended(s, a, da)));
    let done = sim.run_until(secs(120), |s| ended(s, b, all));
    let log = sim.endpoint(b).log(bc).unwrap();
    assert!(
        done,
        "B's download never ended: B at fork {} length {}, A at length {}",
        log.fork(),
        log.length(),
        sim.endpoint(a).log(ac).unwrap().length()
    );
    let expected: Vec<Vec<u8>> = values("a", 0..5)
        .into_iter()
        .chain(values("b", 5..8))
        .collect();
    assert_eq!((log.fork(), log.length()), (1, 8));
    for (i, v) in expected.iter().enumerate() {
        assert_eq!(
            log.get(i as u64).unwrap().as_deref(),
            Some(&v[..]),
            "block {i}"
        );
    }
}
