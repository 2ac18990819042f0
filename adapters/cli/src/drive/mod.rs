//! `ferrocore drive`: the Hyperdrive of a store (JS `hyperdrive@13.3.4`'s cores, block for
//! block): its db core (the store's core named `db`, a Hyperbee of entries) and its blobs
//! core (the contents), opened through the blocking adapter's drive
//! ([`ferrocore_blocking::drive`]) on a node of this process. Reads use the blocks the
//! store holds: a block a sparse clone lacks is exit 3, never a wait.
//!
//! Which drive: `--drive KEY`, else the store's core named `db` (what `drive create` makes),
//! else the store's default core (a clone of a drive). Paths are normalised as JS does
//! ([`ferrocore_hyperdrive::path`]); a path naming the root or climbing above it is a usage
//! error (exit 2).
//!
//! `drive import` and `drive export` mirror a local folder into the drive and back
//! ([`ferrocore_mirror`]: JS localdrive and mirror-drive's rules).

pub mod args;
mod fetch;
mod mirror;
mod open;

use std::io::{Read, Write};

use ferrocore_blocking::drive::{DriveNode, ListOptions, ReadOptions, WriteStreamOptions, Writer};
use ferrocore_hyperdrive::path::{self, PathError};
use ferrocore_storage::CoreStorage;
use ferrocore_wire::json::{self, Value};

use crate::Error;
use args::SymlinkArgs;
use args::{DiffArgs, DriveArgs, DriveCommand, GetArgs, InfoArgs, LsArgs, PathArgs, PutArgs};
pub(crate) use fetch::{clone_blobs, download_paths};
use open::Opened;

/// Runs a `drive` subcommand.
pub(crate) fn run(args: &DriveArgs, out: &mut dyn Write) -> Result<(), Error> {
    match &args.command {
        DriveCommand::Create(a) => open::create(a, out),
        DriveCommand::Put(a) => put(a),
        DriveCommand::Get(a) => get(a, out),
        DriveCommand::Ls(a) => ls(a, out),
        DriveCommand::Rm(a) => rm(a),
        DriveCommand::Symlink(a) => symlink(a),
        DriveCommand::Info(a) => info(a, out),
        DriveCommand::Diff(a) => diff(a, out),
        DriveCommand::Import(a) => mirror::import(a, out),
        DriveCommand::Export(a) => mirror::export(a, out),
    }
}

/// `path` as JS normalises it, or a usage error saying why it names no file.
fn file_path(path: &str) -> Result<String, Error> {
    path::normalize(path).map_err(|e| {
        let why = match e {
            PathError::Root => "it names the drive's root, not a file".to_owned(),
            e => e.to_string(),
        };
        Error::Usage(format!("bad path {path:?}: {why}"))
    })
}

/// The prefix of everything under the folder `path` (`/` for the root).
fn folder_prefix(path: &str) -> Result<String, Error> {
    match path::normalize(path) {
        Ok(p) => Ok(format!("{p}/")),
        Err(PathError::Root) => Ok("/".to_owned()),
        Err(e) => Err(Error::Usage(format!("bad path {path:?}: {e}"))),
    }
}

/// `--metadata JSON`, parsed (`null` when absent).
fn metadata(text: Option<&str>) -> Result<Value, Error> {
    text.map_or(Ok(Value::Null), |t| {
        json::parse(t.as_bytes()).map_err(|e| Error::Usage(format!("--metadata is not JSON: {e}")))
    })
}

/// Copies `input` into the drive's write stream in 64 KiB chunks (never the whole input
/// in memory).
fn stream_into(
    o: &Opened,
    input: &mut dyn Read,
    mut w: Writer<CoreStorage>,
    what: &str,
) -> Result<(), Error> {
    let mut buf = vec![0u8; Writer::<CoreStorage>::CHUNK];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Failed(format!("cannot read {what}: {e}"))),
            }
        }
        if filled == 0 {
            break;
        }
        w.write_all(&buf[..filled])
            .map_err(|e| Error::Failed(format!("writing to the drive failed: {e}")))?;
        if filled < buf.len() {
            break;
        }
    }
    w.finish().map_err(o.fail())?;
    Ok(())
}

fn put(a: &PutArgs) -> Result<(), Error> {
    let p = file_path(&a.path)?;
    let metadata = metadata(a.metadata.as_deref())?;
    let mut input: Box<dyn Read> = match &a.file {
        Some(f) => Box::new(
            std::fs::File::open(f)
                .map_err(|e| Error::Failed(format!("cannot open {}: {e}", f.display())))?,
        ),
        None => Box::new(std::io::stdin().lock()),
    };
    let what = a
        .file
        .as_ref()
        .map_or_else(|| "stdin".to_owned(), |f| f.display().to_string());
    let o = Opened::new(&a.select, true)?;
    let options = WriteStreamOptions {
        executable: a.executable,
        metadata,
        ..WriteStreamOptions::default()
    };
    let w = o.drive.writer(&p, options).map_err(o.fail())?;
    stream_into(&o, &mut input, w, &what)?;
    o.close()
}

fn get(a: &GetArgs, out: &mut dyn Write) -> Result<(), Error> {
    let p = file_path(&a.path)?;
    let o = Opened::new(&a.select, false)?;
    let drive = a
        .checkout
        .map_or_else(|| o.drive.clone(), |v| o.drive.checkout(v));
    let d = o.dir.display();
    let Some(node) = drive.entry(&p, false).map_err(o.fail())? else {
        return Err(Error::NotFound(format!("no file {p} in the drive in {d}")));
    };
    if let Some(target) = node.entry.linkname.as_deref().filter(|t| !t.is_empty()) {
        return Err(Error::NotFound(format!(
            "{p} is a symlink to {target} (`drive get` does not follow symlinks, as JS \
             drive.get; get the target)"
        )));
    }
    if node.entry.blob.is_none() {
        return Err(Error::NotFound(format!(
            "{p} in the drive in {d} has no contents (an entry without blob)"
        )));
    }
    if !drive.has(&p).map_err(o.fail())? {
        return Err(Error::NotFound(format!(
            "the contents of {p} are not stored locally (a sparse clone); download them with \
             `ferrocore clone {d} <KEY> --connect HOST:PORT --paths {p}`"
        )));
    }
    for chunk in drive.read_stream(&p, ReadOptions::default()) {
        out.write_all(&chunk.map_err(o.fail())?)?;
    }
    o.close()
}

/// An entry's size: its blob's byteLength (0 without blob).
fn size(o: &Opened, node: &DriveNode) -> Result<u64, Error> {
    let id = node.entry.blob_id().map_err(|e| {
        Error::NotABee(format!(
            "the drive in {} is damaged: block {}: {e}",
            o.dir.display(),
            node.seq
        ))
    })?;
    Ok(id.map_or(0, |id| id.byte_length))
}

/// One `ls` line: `KIND SIZE PATH` or the JSON object.
fn ls_line(o: &Opened, node: &DriveNode, json: bool, out: &mut dyn Write) -> Result<(), Error> {
    let size = size(o, node)?;
    let e = &node.entry;
    if json {
        let v = Value::Object(vec![
            ("path".into(), Value::String(node.path.clone())),
            ("size".into(), Value::Number(size as f64)),
            ("executable".into(), Value::Bool(e.executable)),
            (
                "linkname".into(),
                e.linkname.clone().map_or(Value::Null, Value::String),
            ),
            ("blob".into(), e.blob.clone().unwrap_or(Value::Null)),
            ("metadata".into(), e.metadata.clone()),
        ]);
        writeln!(out, "{}", json::stringify(&v))?;
        return Ok(());
    }
    let kind = match (e.is_symlink(), e.executable) {
        (true, _) => 'l',
        (false, true) => 'x',
        (false, false) => 'f',
    };
    match e.linkname.as_deref().filter(|_| e.is_symlink()) {
        Some(target) => writeln!(out, "{kind} {size:>12} {} -> {target}", node.path)?,
        None => writeln!(out, "{kind} {size:>12} {}", node.path)?,
    }
    Ok(())
}

/// A folder's `ls` line (without --recursive).
fn ls_folder(folder: &str, json: bool, out: &mut dyn Write) -> Result<(), Error> {
    if json {
        let v = Value::Object(vec![
            ("path".into(), Value::String(folder.to_owned())),
            ("size".into(), Value::Number(0.0)),
            ("executable".into(), Value::Bool(false)),
            ("linkname".into(), Value::Null),
            ("blob".into(), Value::Null),
            ("metadata".into(), Value::Null),
        ]);
        writeln!(out, "{}", json::stringify(&v))?;
    } else {
        writeln!(out, "d {:>12} {folder}", '-')?;
    }
    Ok(())
}

fn ls(a: &LsArgs, out: &mut dyn Write) -> Result<(), Error> {
    let folder = a.path.as_deref().unwrap_or("/");
    let prefix = folder_prefix(folder)?;
    let o = Opened::new(&a.select, false)?;
    let drive = a
        .checkout
        .map_or_else(|| o.drive.clone(), |v| o.drive.checkout(v));
    if prefix != "/" && !folder.ends_with(['/', '\\']) {
        // A file's path lists that file.
        let file = &prefix[..prefix.len() - 1];
        if let Some(node) = drive.entry(file, false).map_err(o.fail())? {
            ls_line(&o, &node, a.json, out)?;
            return o.close();
        }
    }
    let options = ListOptions {
        recursive: a.recursive,
        ignore: None,
    };
    for node in drive.list(&prefix, options) {
        let node = node.map_err(o.fail())?;
        let rest = node.path.strip_prefix(&prefix).unwrap_or(&node.path);
        match rest.split_once('/') {
            Some((child, _)) if !a.recursive => {
                ls_folder(&format!("{prefix}{child}/"), a.json, out)?;
            }
            _ => ls_line(&o, &node, a.json, out)?,
        }
    }
    o.close()
}

fn rm(a: &PathArgs) -> Result<(), Error> {
    let p = file_path(&a.path)?;
    let o = Opened::new(&a.select, true)?;
    if o.drive.entry(&p, false).map_err(o.fail())?.is_none() {
        return Err(Error::NotFound(format!(
            "no file or symlink {p} in the drive in {}",
            o.dir.display()
        )));
    }
    o.drive.del(&p).map_err(o.fail())?;
    o.close()
}

fn symlink(a: &SymlinkArgs) -> Result<(), Error> {
    let p = file_path(&a.path)?;
    let metadata = metadata(a.metadata.as_deref())?;
    let o = Opened::new(&a.select, true)?;
    o.drive.symlink(&p, &a.target, metadata).map_err(o.fail())?;
    o.close()
}

fn info(a: &InfoArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::new(&a.select, false)?;
    let fail = crate::net::node_failed;
    let db = o.node.info(o.drive.db()).map_err(fail)?;
    let blobs = o.node.info(o.drive.blobs()).map_err(fail)?;
    let core = o.drive.blobs();
    let length = blobs.length;
    let held = o
        .node
        .with_endpoint(move |ep| {
            ep.log(core)
                .map_or(0, |log| log.bitfield().count(0, length))
        })
        .map_err(fail)?;
    let (key, content_key) = (o.key, o.content_key);
    let dk = ferrocore::hash::discovery_key;
    if a.json {
        let v = serde_json::json!({
            "key": hex::encode(key),
            "discoveryKey": hex::encode(dk(&key)),
            "contentKey": hex::encode(content_key),
            "contentDiscoveryKey": hex::encode(dk(&content_key)),
            "id": ferrocore::id::core_id(&key),
            "version": o.drive.version(),
            "writable": o.drive.writable(),
            "dbLength": db.length,
            "dbByteLength": db.byte_length,
            "blobsLength": blobs.length,
            "blobsByteLength": blobs.byte_length,
            "blobsHeld": held,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "key               {}", hex::encode(key))?;
        writeln!(out, "discovery key     {}", hex::encode(dk(&key)))?;
        writeln!(out, "content key       {}", hex::encode(content_key))?;
        writeln!(out, "id                {}", ferrocore::id::core_id(&key))?;
        writeln!(out, "version           {}", o.drive.version())?;
        writeln!(out, "writable          {}", o.drive.writable())?;
        writeln!(
            out,
            "db                {} blocks, {} bytes",
            db.length, db.byte_length
        )?;
        writeln!(
            out,
            "blobs             {} blocks ({held} stored locally), {} bytes",
            blobs.length, blobs.byte_length
        )?;
    }
    o.close()
}

/// A diff side as JS's diff stream gives it: `{seq, key, value}` or null.
fn diff_side(node: Option<&DriveNode>) -> Value {
    node.map_or(Value::Null, |n| {
        Value::Object(vec![
            ("seq".into(), Value::Number(n.seq as f64)),
            ("key".into(), Value::String(n.path.clone())),
            ("value".into(), n.entry.to_json()),
        ])
    })
}

fn diff(a: &DiffArgs, out: &mut dyn Write) -> Result<(), Error> {
    let o = Opened::new(&a.select, false)?;
    let to = a
        .versions
        .to
        .map_or_else(|| o.drive.clone(), |v| o.drive.checkout(v));
    for d in to.diff(a.versions.from, "/") {
        let d = d.map_err(o.fail())?;
        let Some(path) = d.left.as_ref().or(d.right.as_ref()).map(|n| &n.path) else {
            continue;
        };
        if a.json {
            let v = Value::Object(vec![
                ("path".into(), Value::String(path.clone())),
                ("left".into(), diff_side(d.left.as_ref())),
                ("right".into(), diff_side(d.right.as_ref())),
            ]);
            writeln!(out, "{}", json::stringify(&v))?;
        } else if d.left.is_some() {
            writeln!(out, "put\t{path}")?;
        } else {
            writeln!(out, "del\t{path}")?;
        }
    }
    o.close()
}
