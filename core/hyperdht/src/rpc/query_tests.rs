use super::*;
use crate::rpc::table::Node as TableNode;
use alloc::collections::BTreeSet;

const TARGET: [u8; 32] = [0xa5; 32];
const OUR_ID: [u8; 32] = [0x11; 32];

fn addr(i: u16) -> Ipv4Address {
    Ipv4Address::new([10, 1, (i >> 8) as u8, i as u8], 5000 + i)
}

/// A network of `n` nodes, each with a full Kademlia table of the others.
struct Net {
    tables: BTreeMap<Ipv4Address, Table>,
    dead: BTreeSet<Ipv4Address>,
}

impl Net {
    fn new(n: u16) -> Self {
        let addrs: Vec<Ipv4Address> = (0..n).map(addr).collect();
        let tables = addrs
            .iter()
            .map(|a| {
                let mut t = Table::new(node_id(a));
                for b in &addrs {
                    t.add(TableNode::new(node_id(b), *b, 0), 0, false);
                }
                (*a, t)
            })
            .collect();
        Self {
            tables,
            dead: BTreeSet::new(),
        }
    }

    fn reply(&self, to: Ipv4Address) -> QueryReply {
        let closer = self.tables[&to]
            .closest(&TARGET, 20)
            .iter()
            .map(|n| n.addr)
            .collect();
        QueryReply {
            from: to,
            from_id: Some(node_id(&to)),
            response: Response {
                closer_nodes: closer,
                token: Some([7; 32]),
                ..Response::default()
            },
        }
    }

    /// Runs `q` to its end; returns every action and the number of visits.
    fn run(
        &self,
        q: &mut Query,
        own: &Table,
        bootstrap: &[Ipv4Address],
    ) -> (Vec<QueryAction>, usize) {
        q.open(own, bootstrap);
        let mut all = Vec::new();
        let mut visits = 0;
        for _ in 0..100_000 {
            let Some(a) = q.poll_action() else { break };
            if let QueryAction::Visit(p) = &a {
                visits += 1;
                if self.dead.contains(&p.addr) {
                    q.on_cycle(own, p.addr);
                    q.on_error(own, p.addr, true);
                } else {
                    q.on_response(own, p.addr, self.reply(p.addr));
                }
            }
            all.push(a);
        }
        (all, visits)
    }
}

fn true_closest(n: u16, k: usize, skip: &BTreeSet<Ipv4Address>) -> Vec<Ipv4Address> {
    let mut v: Vec<Ipv4Address> = (0..n).map(addr).filter(|a| !skip.contains(a)).collect();
    v.sort_by_key(|a| {
        let id = node_id(a);
        let mut d = [0u8; 32];
        for i in 0..32 {
            d[i] = id[i] ^ TARGET[i];
        }
        d
    });
    v.truncate(k);
    v
}

#[test]
fn a_query_from_a_bootstrap_node_converges_on_the_closest_nodes() {
    let net = Net::new(400);
    let own = Table::new(OUR_ID);
    let mut q = Query::new(TARGET, OUR_ID, QueryConfig::default(), &[]);
    let (actions, visits) = net.run(&mut q, &own, &[addr(3)]);
    assert_eq!(actions.last(), Some(&QueryAction::Done));
    let got: Vec<Ipv4Address> = q.closest_replies().map(|r| r.from).collect();
    assert_eq!(got, true_closest(400, 20, &BTreeSet::new()));
    assert!(visits < 200, "{visits} visits for 400 nodes");
    assert!(!actions
        .iter()
        .any(|a| matches!(a, QueryAction::DownHint { .. })));
}

#[test]
fn dead_nodes_get_down_hints_and_are_left_out() {
    let mut net = Net::new(300);
    let best = true_closest(300, 5, &BTreeSet::new());
    net.dead.extend(best.iter().copied());
    let own = Table::new(OUR_ID);
    let mut q = Query::new(TARGET, OUR_ID, QueryConfig::default(), &[]);
    let (actions, _) = net.run(&mut q, &own, &[addr(1)]);
    let got: Vec<Ipv4Address> = q.closest_replies().map(|r| r.from).collect();
    let want = true_closest(300, 20, &net.dead);
    // Kademlia's walk is approximate: the nearest are exact, the tail may miss one.
    assert_eq!(got.len(), 20);
    assert_eq!(got[..15], want[..15]);
    assert!(got.iter().filter(|a| want.contains(a)).count() >= 18);
    assert!(got.iter().all(|a| !net.dead.contains(a)));
    let hinted: BTreeSet<Ipv4Address> = actions
        .iter()
        .filter_map(|a| match a {
            QueryAction::DownHint { to, down } => {
                assert!(!net.dead.contains(to), "hints go to live referrers");
                Some(*down)
            }
            _ => None,
        })
        .collect();
    assert_eq!(hinted, net.dead);
}

#[test]
fn commit_hands_out_the_closest_replies_or_fails_without_any() {
    let net = Net::new(100);
    let own = Table::new(OUR_ID);
    let cfg = QueryConfig {
        commit: true,
        ..QueryConfig::default()
    };
    let mut q = Query::new(TARGET, OUR_ID, cfg.clone(), &[]);
    let (actions, _) = net.run(&mut q, &own, &[addr(0)]);
    let commits: Vec<Ipv4Address> = actions
        .iter()
        .filter_map(|a| match a {
            QueryAction::Commit(r) => Some(r.from),
            _ => None,
        })
        .collect();
    assert_eq!(commits, true_closest(100, 20, &BTreeSet::new()));
    assert_eq!(actions.last(), Some(&QueryAction::Done));

    let mut dead = Net::new(1);
    dead.dead.insert(addr(0));
    let mut q = Query::new(TARGET, OUR_ID, cfg, &[]);
    let (actions, visits) = dead.run(&mut q, &own, &[addr(0)]);
    assert_eq!(visits, 1);
    assert_eq!(
        &actions[actions.len() - 2..],
        [QueryAction::TooFewNodes, QueryAction::Done]
    );
}

#[test]
fn concurrency_bounds_visits_in_flight() {
    let own = {
        let mut t = Table::new(OUR_ID);
        for i in 0..50 {
            t.add(TableNode::new(node_id(&addr(i)), addr(i), 0), 0, false);
        }
        t
    };
    let mut q = Query::new(TARGET, OUR_ID, QueryConfig::default(), &[]);
    q.open(&own, &[]);
    let visits: Vec<QueryPeer> = core::iter::from_fn(|| q.poll_action())
        .filter_map(|a| match a {
            QueryAction::Visit(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(visits.len(), CONCURRENCY);
    // one goes slow: one more visit may start
    q.on_cycle(&own, visits[0].addr);
    assert!(matches!(q.poll_action(), Some(QueryAction::Visit(_))));
    assert_eq!(q.poll_action(), None);
    // a second cycle of the same visit changes nothing
    q.on_cycle(&own, visits[0].addr);
    assert_eq!(q.poll_action(), None);
}
