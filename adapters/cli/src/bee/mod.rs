//! `ferrocore bee`: the Hyperbee on a core of the store (JS `hyperbee@2.27.3`'s blocks),
//! through the blocking adapter's bee ([`ferrocore_blocking::bee`]): the core is added to a
//! node of this process and the bee's operations read its local blocks (a block a sparse
//! clone lacks is an error, exit 3, never a wait) and append to it.

pub mod args;
mod live;

use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;
use ferrocore::replication::EndpointConfig;
use ferrocore_blocking::bee::codec::{CodecError, Encoding};
use ferrocore_blocking::bee::{
    Bee, BeeOptions, Entry, Error as BeeError, HistoryOptions, KeyRange, Op, RangeOptions,
};
use ferrocore_storage::CoreStorage;
use serde_json::{json, Value};

use crate::dir::core_error;
use crate::local::{open, require_writable};
use crate::net::{node_failed, CliNode};
use crate::Error;
use args::{BatchArgs, BeeArgs, BeeCommand, BeeCommon, DiffArgs, GetArgs, HistoryArgs};
use args::{KeyArgs, KeyBounds, ListArgs, PutArgs};

/// Runs a `bee` subcommand.
pub(crate) fn run(args: &BeeArgs, out: &mut dyn Write) -> Result<(), Error> {
    match &args.command {
        BeeCommand::Put(a) => put(a),
        BeeCommand::Get(a) => get(a, out),
        BeeCommand::Del(a) => del(a),
        BeeCommand::List(a) => list(a, out),
        BeeCommand::Batch(a) => batch(a),
        BeeCommand::History(a) => history(a, out),
        BeeCommand::Diff(a) => diff(a, out),
        BeeCommand::Watch(a) => live::watch(a, out),
        BeeCommand::ClearUnlinked(a) => live::clear_unlinked(a, out),
    }
}

/// The bee of the picked core, on a node of this process.
struct Opened<'a> {
    bee: Bee<CoreStorage>,
    node: CliNode,
    common: &'a BeeCommon,
}

impl<'a> Opened<'a> {
    fn new(common: &'a BeeCommon, write: bool) -> Result<Self, Error> {
        Self::with_remote(common, write, None)
    }

    /// The bee, replicating from the peer at `connect` if given (its store opened for
    /// writing then: fetched blocks are stored; reads fetch what they lack).
    fn with_remote(
        common: &'a BeeCommon,
        write: bool,
        connect: Option<&str>,
    ) -> Result<Self, Error> {
        Self::open_bee(common, write, write || connect.is_some(), connect)
    }

    /// The bee: `write` to write to it, `store` to change the store at all (a clone's
    /// fetched or cleared blocks), replicating from `connect`.
    fn open_bee(
        common: &'a BeeCommon,
        write: bool,
        store: bool,
        connect: Option<&str>,
    ) -> Result<Self, Error> {
        let opened = open(&common.dir, &common.select, None, true, !store)?;
        if write {
            require_writable(&opened.core_dir, &opened.log, "write to its bee")?;
        }
        let node = CliNode::new(EndpointConfig::default()).map_err(node_failed)?;
        let core = node.add_core(opened.log).map_err(node_failed)?;
        if let Some(addr) = connect {
            node.connect(addr)
                .map_err(|e| Error::Network(format!("cannot connect to {addr}: {e}")))?;
        }
        let options = BeeOptions {
            fetch: connect.is_some(),
            ..BeeOptions::default()
        };
        let bee = Bee::open(&node, core, options).map_err(|e| bee_error(&common.dir, e))?;
        if connect.is_some() {
            bee.update().map_err(|e| bee_error(&common.dir, e))?;
        }
        Ok(Opened { bee, node, common })
    }

    /// The key bounds as a range.
    fn bounds(&self, b: &KeyBounds) -> Result<RangeOptions, Error> {
        let bound = |k: &Option<String>| k.as_deref().map(|k| self.key(k)).transpose();
        Ok(RangeOptions {
            gt: bound(&b.gt)?,
            gte: bound(&b.gte)?,
            lt: bound(&b.lt)?,
            lte: bound(&b.lte)?,
            ..RangeOptions::default()
        })
    }

    fn fail(&self) -> impl Fn(BeeError) -> Error + '_ {
        |e| bee_error(&self.common.dir, e)
    }

    fn key(&self, text: &str) -> Result<Bytes, Error> {
        let enc = self.common.key_encoding.encoding();
        enc.from_text(text)
            .map_err(|e| Error::Usage(format!("KEY {text:?} is not {}: {e}", enc.name())))
    }

    /// How keys (`value` false) or values are shown, and the flag that picks it.
    fn shown(&self, value: bool) -> (Encoding, &'static str, &'static str) {
        if value {
            let enc = self.common.value_encoding.encoding();
            (enc, "value", "--value-encoding")
        } else {
            (self.common.key_encoding.encoding(), "key", "--key-encoding")
        }
    }

    /// `convert` applied to a key or value, its failure explained.
    fn shown_as<T>(
        &self,
        value: bool,
        bytes: &[u8],
        convert: fn(Encoding, &[u8]) -> Result<T, CodecError>,
    ) -> Result<T, Error> {
        let (enc, what, flag) = self.shown(value);
        convert(enc, bytes).map_err(|e| {
            Error::Failed(format!(
                "a {what} is not {} ({e}); pick another {flag} (hex shows any bytes)",
                enc.name()
            ))
        })
    }

    fn show_key(&self, key: &[u8]) -> Result<String, Error> {
        self.shown_as(false, key, Encoding::to_text)
    }

    /// A value as text (a null value as nothing).
    fn show_value(&self, value: Option<&[u8]>) -> Result<String, Error> {
        value.map_or(Ok(String::new()), |v| {
            self.shown_as(true, v, Encoding::to_text)
        })
    }

    fn json_key(&self, key: &[u8]) -> Result<Value, Error> {
        self.shown_as(false, key, Encoding::to_json)
    }

    fn json_value(&self, value: Option<&[u8]>) -> Result<Value, Error> {
        value.map_or(Ok(Value::Null), |v| {
            self.shown_as(true, v, Encoding::to_json)
        })
    }

    /// Ends the node in order (the core's last writes are durable already).
    fn close(self) -> Result<(), Error> {
        drop(self.bee);
        self.node.shutdown().map(drop).map_err(node_failed)
    }
}

/// A bee failure as the CLI reports it.
fn bee_error(dir: &Path, e: BeeError) -> Error {
    let d = dir.display();
    match e {
        BeeError::NotABee(why) => Error::NotABee(format!(
            "the core in {d} is not a hyperbee: {why}; pick the bee's core with --core or --name"
        )),
        BeeError::Bee(e @ ferrocore_blocking::bee::BeeError::BadHistoryBound(_)) => {
            Error::Usage(format!("the bee in {d}: {e}"))
        }
        BeeError::Bee(e) => Error::NotABee(format!("the bee in {d} is damaged: {e}")),
        BeeError::NotLocal(seq) => Error::NotFound(format!(
            "block {seq} of the bee in {d} is not stored locally; download it with `ferrocore \
             clone {d} <KEY> --connect HOST:PORT` (all blocks, or --blocks {seq})"
        )),
        BeeError::ReadOnly(why) => Error::Failed(format!("the bee in {d} is read-only: {why}")),
        BeeError::Node(ferrocore_blocking::Error::Core(e)) => core_error(dir, e),
        e => Error::Failed(format!("the bee in {d}: {e}")),
    }
}

fn put(a: &PutArgs) -> Result<(), Error> {
    let o = Opened::new(&a.common, true)?;
    let key = o.key(&a.key)?;
    let enc = a.common.value_encoding.encoding();
    let value = enc
        .from_text(&a.value)
        .map_err(|e| Error::Usage(format!("VALUE is not {}: {e}", enc.name())))?;
    o.bee.put(key, value).map_err(o.fail())?;
    o.close()
}

fn del(a: &KeyArgs) -> Result<(), Error> {
    let o = Opened::new(&a.common, true)?;
    let key = o.key(&a.key)?;
    o.bee.del(key).map_err(o.fail())?;
    o.close()
}

fn get(a: &GetArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::new(&a.common, false)?;
    let key = o.key(&a.key)?;
    let bee = a
        .checkout
        .map_or_else(|| o.bee.clone(), |v| o.bee.checkout(v));
    let Some(entry) = bee.get(key).map_err(o.fail())? else {
        return Err(Error::NotFound(format!(
            "no key {:?} in the bee in {}",
            a.key,
            a.common.dir.display()
        )));
    };
    if let Some(v) = &entry.value {
        if a.common.value_encoding == args::Enc::Hex {
            out.write_all(hex::encode(v).as_bytes())?;
        } else {
            out.write_all(v)?;
        }
    }
    o.close()
}

fn list(a: &ListArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::new(&a.common, false)?;
    let options = RangeOptions {
        reverse: a.walk.reverse,
        limit: a.walk.limit,
        ..o.bounds(&a.bounds)?
    };
    let bee = a
        .checkout
        .map_or_else(|| o.bee.clone(), |v| o.bee.checkout(v));
    for entry in bee.range(options) {
        let Entry { seq, key, value } = entry.map_err(o.fail())?;
        if a.walk.json {
            let v = json!({
                "seq": seq,
                "key": o.json_key(&key)?,
                "value": o.json_value(value.as_deref())?,
            });
            writeln!(out, "{v}")?;
        } else {
            let (k, v) = (o.show_key(&key)?, o.show_value(value.as_deref())?);
            writeln!(out, "{k}\t{v}")?;
        }
    }
    o.close()
}

/// One line of `bee batch`'s input as an operation.
fn batch_op(o: &Opened<'_>, n: usize, line: &str) -> Result<Op, Error> {
    let bad = |why: String| Error::Usage(format!("stdin line {n}: {why}"));
    let v: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
    let key_enc = o.common.key_encoding.encoding();
    let value_enc = o.common.value_encoding.encoding();
    let key = |k: &Value| {
        key_enc
            .from_json(k)
            .map_err(|e| bad(format!("the key: {e}")))
    };
    match v.as_object().map(|m| (m.len(), m.get("put"), m.get("del"))) {
        Some((1, Some(Value::Array(kv)), None)) if kv.len() == 2 => {
            let value = match &kv[1] {
                Value::Null if value_enc != Encoding::Json => None,
                v => Some(
                    value_enc
                        .from_json(v)
                        .map_err(|e| bad(format!("the value: {e}")))?,
                ),
            };
            Ok(Op::put(key(&kv[0])?, value))
        }
        Some((1, None, Some(k))) => Ok(Op::del(key(k)?)),
        _ => Err(bad(format!(
            "expected {{\"put\":[KEY,VALUE]}} or {{\"del\":KEY}}, not {line}"
        ))),
    }
}

fn batch(a: &BatchArgs) -> Result<(), Error> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let o = Opened::new(&a.common, true)?;
    let mut ops = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if !line.trim().is_empty() {
            ops.push(batch_op(&o, i + 1, line)?);
        }
    }
    if !ops.is_empty() {
        o.bee.batch(ops).map_err(o.fail())?;
    }
    o.close()
}

fn history(a: &HistoryArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::with_remote(&a.common, false, a.remote.connect.as_deref())?;
    // A negative bound past the first block means "from the first block" (JS would read
    // a negative seq).
    let first = 1 - i64::try_from(o.bee.version()).unwrap_or(i64::MAX);
    let options = HistoryOptions {
        gte: a.seqs.gte.map(|g| if g < 0 { g.max(first) } else { g }),
        lt: a.seqs.lt,
        reverse: a.walk.reverse,
        limit: a.walk.limit,
        ..HistoryOptions::default()
    };
    if a.live {
        return live::history(o, options, a.walk.json, out);
    }
    for h in o.bee.history(options) {
        let h = h.map_err(o.fail())?;
        print_history(&o, &h, a.walk.json, out)?;
    }
    o.close()
}

/// One line of `bee history`.
fn print_history(
    o: &Opened<'_>,
    h: &ferrocore_blocking::bee::HistoryEntry,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (seq, key, value) = (h.entry.seq, &h.entry.key, h.entry.value.as_deref());
    let kind = if h.deletion { "del" } else { "put" };
    if json {
        let v = json!({
            "seq": seq,
            "type": kind,
            "key": o.json_key(key)?,
            "value": o.json_value(value)?,
        });
        writeln!(out, "{v}")?;
    } else if h.deletion {
        writeln!(out, "{seq}\tdel\t{}", o.show_key(key)?)?;
    } else {
        writeln!(
            out,
            "{seq}\tput\t{}\t{}",
            o.show_key(key)?,
            o.show_value(value)?
        )?;
    }
    Ok(())
}

fn diff(a: &DiffArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::new(&a.common, false)?;
    let to = a
        .versions
        .to
        .map_or_else(|| o.bee.clone(), |v| o.bee.checkout(v));
    let side = |e: &Option<Entry>| -> Result<Value, Error> {
        e.as_ref().map_or(Ok(Value::Null), |e| {
            Ok(json!({"seq": e.seq, "value": o.json_value(e.value.as_deref())?}))
        })
    };
    for d in to.diff(a.versions.from, KeyRange::default()) {
        let d = d.map_err(o.fail())?;
        let Some(key) = d.left.as_ref().or(d.right.as_ref()).map(|e| &e.key) else {
            continue;
        };
        if a.json {
            let v = json!({
                "key": o.json_key(key)?,
                "left": side(&d.left)?,
                "right": side(&d.right)?,
            });
            writeln!(out, "{v}")?;
        } else if let Some(left) = &d.left {
            let value = o.show_value(left.value.as_deref())?;
            writeln!(out, "put\t{}\t{value}", o.show_key(key)?)?;
        } else {
            writeln!(out, "del\t{}", o.show_key(key)?)?;
        }
    }
    o.close()
}
