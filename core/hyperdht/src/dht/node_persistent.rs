//! [`Persistent`] (`lib/persistent.js`) as the [`Dht`](super::Dht)'s [`RecordHandler`]:
//! its answers go back to the requester, its forwards live in the `Dht`'s router.

use super::persistent::Persistent;
use super::router::Outcome;
use super::{Answer, RecordContext, RecordHandler};
use crate::rpc::io::Incoming;
use core::time::Duration;

impl RecordHandler for Persistent {
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer> {
        let (table, now) = cx.router.table_mut();
        let now = now.max(cx.now);
        match self.handle_request(now, table, &cx.id, req.from, &req.request) {
            // the persistent handlers always answer the requester
            Outcome::Reply(r) => Some(Answer {
                error: r.error,
                value: r.value,
                token: r.token,
                closer_nodes: r.closer_nodes,
            }),
            // no plugins are registered: JS drops the request
            Outcome::Plugin(_) | Outcome::Drop | Outcome::Relay { .. } | Outcome::Server(_) => None,
        }
    }

    fn unannounce(&mut self, cx: RecordContext<'_>, target: &[u8; 32], public_key: &[u8; 32]) {
        let (table, now) = cx.router.table_mut();
        Persistent::unannounce(self, now.max(cx.now), table, target, public_key);
    }

    fn handle_timeout(&mut self, now: Duration) {
        Persistent::handle_timeout(self, now);
    }
}
