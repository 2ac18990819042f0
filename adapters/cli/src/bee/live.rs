//! The live `bee` commands (`watch`, `history --live`), which print until SIGTERM or
//! SIGINT, and `clear-unlinked`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrocore_blocking::bee::{Check, ClearOptions, HistoryOptions, KeyRange, Live, WatchOptions};
use serde_json::json;

use super::args::{ClearArgs, WatchArgs};
use super::{print_history, Opened};
use crate::net::on_signals;
use crate::Error;

/// How often a live command looks at the stop flag while no change comes.
const POLL: Duration = Duration::from_millis(200);

/// Prints what `live` yields (with `print`) until a signal or the node's end, then closes
/// the bee.
fn run_live<C: Check>(
    o: Opened<'_>,
    mut live: Live<C>,
    what: &str,
    out: &mut dyn Write,
    mut print: impl FnMut(&Opened<'_>, C::Item, &mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    on_signals(move |_| flag.store(true, Ordering::Release))?;
    eprintln!(
        "{what} the bee in {} from version {}; stop with Ctrl-C",
        o.common.dir.display(),
        o.bee.version()
    );
    while !stop.load(Ordering::Acquire) && !live.closed() {
        let Some(item) = live.next_timeout(Some(POLL)) else {
            continue;
        };
        print(&o, item.map_err(o.fail())?, out)?;
        out.flush()?;
    }
    drop(live);
    o.close()
}

/// `bee watch`.
pub(crate) fn watch(a: &WatchArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::with_remote(&a.common, false, a.remote.connect.as_deref())?;
    let r = o.bounds(&a.bounds)?;
    let range = KeyRange {
        gt: r.gt,
        gte: r.gte,
        lt: r.lt,
        lte: r.lte,
    };
    let options = WatchOptions {
        eager: a.eager,
        ..WatchOptions::default()
    };
    let live = o.bee.watch_with(range, options).map_err(o.fail())?;
    let json = a.json;
    run_live(o, live, "watching", out, |_, c, out| {
        if json {
            let v = json!({"current": c.current, "previous": c.previous, "truncated": c.truncated});
            writeln!(out, "{v}")?;
        } else if c.truncated {
            writeln!(out, "{}\t{}\ttruncated", c.current, c.previous)?;
        } else {
            writeln!(out, "{}\t{}", c.current, c.previous)?;
        }
        Ok(())
    })
}

/// `bee history --live`.
pub(crate) fn history(
    o: Opened<'_>,
    options: HistoryOptions,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let live = o.bee.history_live(options);
    run_live(o, live, "following the history of", out, |o, h, out| {
        print_history(o, &h, json, out)
    })
}

/// `bee clear-unlinked`.
pub(crate) fn clear_unlinked(a: &ClearArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::open_bee(&a.common, false, true, None)?;
    let cleared = o
        .bee
        .clear_unlinked(ClearOptions {
            gte: a.seqs.gte,
            lt: a.seqs.lt,
            ..ClearOptions::default()
        })
        .map_err(o.fail())?;
    writeln!(
        out,
        "cleared {} blocks below {}",
        cleared.blocks, cleared.lt
    )?;
    o.close()
}
