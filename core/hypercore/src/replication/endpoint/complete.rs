//! Completing the application's gets, downloads and updates.

use super::*;

impl<S: Storage> Endpoint<S> {
    /// Ends the gets, downloads and updates the log now satisfies.
    pub(super) fn complete_requests(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        upgraded: bool,
        requests: &mut BTreeMap<RequestId, CoreId>,
        events: &mut EventQueue,
    ) {
        let log = &slot.log;
        let ready: Vec<u64> = slot
            .wants
            .gets
            .keys()
            .copied()
            .filter(|&i| log.has_block(i))
            .collect();
        for index in ready {
            let ids = slot.wants.gets.remove(&index).unwrap_or_default();
            let result = match log.get(index) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(RequestError::Failed(Error::MissingBlock(index))),
                Err(Error::Storage(e)) => Err(RequestError::Storage(e)),
                Err(e) => Err(RequestError::Failed(e)),
            };
            for id in ids {
                requests.remove(&id);
                slot.wants.clear_deadline(id);
                events.push_back(Event::Get {
                    request: id,
                    core,
                    index,
                    result: result.clone(),
                });
            }
        }
        let mut done = Vec::new();
        for (&id, d) in &mut slot.wants.downloads {
            match &mut d.span {
                Span::Range { end } => {
                    d.cursor = log.next_missing(d.cursor);
                    if end.is_some_and(|e| d.cursor >= e && log.length() >= e) {
                        done.push(id);
                    }
                }
                Span::List(set) => {
                    set.retain(|&i| !log.has_block(i));
                    if set.is_empty() {
                        done.push(id);
                    }
                }
            }
        }
        for id in done {
            slot.wants.downloads.remove(&id);
            requests.remove(&id);
            slot.wants.clear_deadline(id);
            events.push_back(Event::Download {
                request: id,
                core,
                result: Ok(()),
            });
        }
        if upgraded {
            Self::end_updates(slot, core, requests, events);
        }
    }

    /// Ends every pending update with the current length.
    pub(super) fn end_updates(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        requests: &mut BTreeMap<RequestId, CoreId>,
        events: &mut EventQueue,
    ) {
        let length = slot.log.length();
        for id in core::mem::take(&mut slot.wants.updates) {
            requests.remove(&id);
            slot.wants.clear_deadline(id);
            events.push_back(Event::Update {
                request: id,
                core,
                result: Ok(length),
            });
        }
    }
}
