//! Scheduling: which blocks, upgrades and reorgs to ask each peer for.

use super::*;

impl<S: Storage> Endpoint<S> {
    /// Sends the requests a peer can take for a core: an upgrade (or reorg) when it is
    /// ahead, then wanted blocks it has, up to the in-flight limit.
    pub(super) fn schedule(&mut self, sid: SessionId, core: CoreId) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(&ch) = s.by_core.get(&core) else {
            return;
        };
        let Session {
            conn, replicators, ..
        } = s;
        let Some(r) = replicators.get_mut(&ch) else {
            return;
        };
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        let Some(rem) = r.remote.filter(|_| r.paired && r.downloading) else {
            return;
        };
        let deadline = None;
        let ask = (rem.fork, rem.length);
        let refused = r.upgrade_refused_at == Some((rem.fork, rem.length));
        let (fork, length) = (slot.log.fork(), slot.log.length());
        if slot.upgrading.is_none() && !refused && r.inflight.len() < self.config.max_inflight {
            let manifest = slot.log.manifest().is_none() && rem.has_manifest;
            let ahead = rem.fork == fork
                && rem.length > length
                && rem.can_upgrade
                && (self.config.eager_upgrade || slot.wants.wants_past(length));
            let forked = rem.fork > fork && rem.length > 0 && !slot.log.writable();
            if ahead || forked {
                let id = r.allocate_id();
                // Live tail: the newest block rides along with the upgrade (one round trip,
                // as the reference does), when it is wanted and the peer has it.
                let last = rem.length - 1;
                let block = if !forked && r.has(last) && slot.wants.wants(last) {
                    slot.log
                        .missing_nodes(2 * last)
                        .ok()
                        .map(|nodes| RequestBlock { index: last, nodes })
                } else {
                    None
                };
                let (start, asked) = if forked {
                    (0, Asked::Reorg)
                } else {
                    let block = block.as_ref().map(|b| b.index);
                    (length, Asked::Upgrade { block })
                };
                let req = Request {
                    id,
                    fork: rem.fork,
                    block,
                    upgrade: Some(RequestUpgrade {
                        start,
                        length: rem.length - start,
                    }),
                    manifest,
                    ..Request::default()
                };
                send(conn, ch, &Message::Request(req));
                r.inflight.insert(
                    id,
                    Inflight {
                        asked,
                        deadline,
                        fork: ask.0,
                        length: ask.1,
                    },
                );
                slot.upgrading = Some(sid);
            }
        }
        if rem.fork != fork {
            return;
        }
        // Nothing is stored while requests are made: the paths of nearby blocks are
        // walked once.
        let mut missing = MissingNodes::default();
        while r.inflight.len() < self.config.max_inflight {
            let Some(index) = Self::pick(slot, r) else {
                break;
            };
            let nodes = match slot.log.missing_nodes_with(2 * index, &mut missing) {
                Ok(n) => n,
                Err(error) => {
                    self.events.push_back(Event::StorageFailed { core, error });
                    break;
                }
            };
            let id = r.allocate_id();
            let req = Request {
                id,
                fork,
                block: Some(RequestBlock { index, nodes }),
                ..Request::default()
            };
            send(conn, ch, &Message::Request(req));
            r.inflight.insert(
                id,
                Inflight {
                    asked: Asked::Block(index),
                    deadline,
                    fork: ask.0,
                    length: ask.1,
                },
            );
            slot.inflight.insert(index, sid);
        }
        // Ask a peer that is not contiguous what it has where we want blocks.
        if r.inflight.len() < self.config.max_inflight && r.wanted_segments.len() < 64 {
            if let Some(i) = Self::first_wanted(slot, r.remote_contiguous, rem.length) {
                let segment = i / SEGMENT;
                if r.wanted_segments.insert(segment) {
                    send(
                        conn,
                        ch,
                        &Message::Want(Want {
                            start: segment * SEGMENT,
                            length: SEGMENT,
                            any: false,
                        }),
                    );
                }
            }
        }
    }

    /// The next block to request from peer `r`: wanted, missing, not in flight, and
    /// announced by the peer. Gets come first, then downloads in request order.
    pub(super) fn pick(slot: &CoreSlot<S>, r: &Replicator) -> Option<u64> {
        let log = &slot.log;
        let length = log.length();
        let takes = |i: u64| !log.has_block(i) && !slot.inflight.contains(i) && r.has(i);
        if let Some(&i) = slot
            .wants
            .gets
            .range(..length)
            .map(|(i, _)| i)
            .take(SCAN_LIMIT)
            .find(|&&i| takes(i))
        {
            return Some(i);
        }
        for d in slot.wants.downloads.values() {
            match &d.span {
                Span::List(set) => {
                    if let Some(&i) = set.range(..length).take(SCAN_LIMIT).find(|&&i| takes(i)) {
                        return Some(i);
                    }
                }
                Span::Range { end } => {
                    let end = end.unwrap_or(u64::MAX).min(length);
                    let mut i = log.next_missing(d.cursor);
                    let mut steps = 0;
                    while i < end && steps < SCAN_LIMIT {
                        steps += 1;
                        // Step over the run of in-flight blocks at `i` (a pipelined
                        // window) a bitmap word at a time.
                        let run_end = slot.inflight.run_end(i);
                        let next = if run_end > i {
                            run_end
                        } else if r.has(i) {
                            return Some(i);
                        } else {
                            r.next_available(i + 1)
                        };
                        if next >= end {
                            break;
                        }
                        i = log.next_missing(next);
                    }
                }
            }
        }
        None
    }

    /// The first wanted, missing block at or past `from` and below `limit` (for `want`).
    pub(super) fn first_wanted(slot: &CoreSlot<S>, from: u64, limit: u64) -> Option<u64> {
        let log = &slot.log;
        let limit = limit.min(log.length());
        if from >= limit {
            return None;
        }
        let gets = slot
            .wants
            .gets
            .range(from..limit)
            .map(|(i, _)| *i)
            .find(|&i| !log.has_block(i));
        let downloads = slot.wants.downloads.values().filter_map(|d| match &d.span {
            Span::Range { end } => {
                let i = log.next_missing(d.cursor.max(from));
                (i < end.unwrap_or(u64::MAX).min(limit)).then_some(i)
            }
            Span::List(set) => set.range(from..limit).copied().find(|&i| !log.has_block(i)),
        });
        gets.into_iter().chain(downloads).min()
    }
}
