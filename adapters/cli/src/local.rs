//! The commands that work on the local core only: create, append, info, get, cat,
//! truncate.

use std::io::{BufRead, Write};

use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::storage::Storage;
use ferrocore::{hash, id};
use serde_json::json;

use crate::args::{
    AppendArgs, CatArgs, CoreSelect, CoresArgs, CreateArgs, GetArgs, InfoArgs, TruncateArgs,
};
use crate::dir::{self, CoreDir, Marker, DB_FILE};
use crate::pick::pick;
use crate::Error;
use ferrocore_corestore::PrimaryKey;

/// `ferrocore create`.
pub(crate) fn create(args: &CreateArgs, out: &mut dyn Write) -> Result<(), Error> {
    let d = &args.dir;
    let created_dir = dir::make_dir(d)?;
    let marker = dir::read_marker(d)?;
    if args.name.is_none() {
        if let Some(existing) = &marker {
            return Err(Error::Failed(format!(
                "{} already holds a core ({}); choose another directory, or add a named core \
                 to its store with `ferrocore create {} --name NAME`",
                d.display(),
                id::core_id(&existing.key),
                d.display()
            )));
        }
    }
    if marker.is_none() && d.join(DB_FILE).exists() {
        // `read_marker` reports a database without a marker; this is only a race.
        return Err(Error::Failed(format!(
            "{} already holds a database",
            d.display()
        )));
    }
    let store = dir::open_store(d, ferrocore_storage::Durability::Immediate)?;
    let made = add_core(args, &store);
    drop(store);
    // The store's first core is its default core.
    let key = dir::finish_new_core(d, marker.is_none(), created_dir, made, |key| {
        Marker::new(*key, args.encryption_key.as_ref())
    })?;
    if args.json {
        let v = json!({
            "key": hex::encode(key),
            "discoveryKey": hex::encode(hash::discovery_key(&key)),
            "id": id::core_id(&key),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "key {}", hex::encode(key))?;
    }
    Ok(())
}

/// Adds the core `args` describe to `store`; returns its key.
fn add_core(args: &CreateArgs, store: &ferrocore_storage::Store) -> Result<[u8; 32], Error> {
    let d = &args.dir;
    let primary = store_primary_key(d, store, args.primary_key)?;
    let (key_pair, alias) = match &args.name {
        Some(name) => {
            let ns = crate::pick::namespace(&args.namespace);
            let taken = store
                .alias(&ns.0, name.as_bytes())
                .map_err(|e| dir::core_error(d, e.into()))?;
            if taken.is_some() {
                return Err(Error::Failed(format!(
                    "the store in {} already has a core named {name:?}{}; pick it with --name",
                    d.display(),
                    if args.namespace.is_empty() {
                        String::new()
                    } else {
                        format!(" in namespace {}", args.namespace.join("/"))
                    }
                )));
            }
            (primary.key_pair(&ns, name), Some((ns, name)))
        }
        None => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| {
                Error::Failed(format!("the OS random number generator failed: {e}"))
            })?;
            (KeyPair::from_seed(&seed), None)
        }
    };
    let key = core_key(&default_manifest(&key_pair.public_key), args.compat)
        .map_err(|e| dir::core_error(d, e))?;
    let discovery_key = hash::discovery_key(&key);
    let options = LogOptions {
        key_pair: Some(key_pair),
        key: Some(key),
        compat: args.compat,
        encryption_key: args.encryption_key,
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&discovery_key), options).map_err(|e| dir::core_error(d, e))?;
    debug_assert_eq!(*log.key(), key);
    drop(log);
    if let Some(k) = &args.encryption_key {
        ferrocore_store::remember_encryption_key(store, &discovery_key, k)
            .map_err(|e| dir::core_error(d, e.into()))?;
    }
    if let Some((ns, name)) = alias {
        store
            .insert_alias(&ns.0, name.as_bytes(), &discovery_key)
            .map_err(|e| dir::core_error(d, e.into()))?;
    }
    Ok(key)
}

/// The store's primary key: the one it holds, or (a new store) `given` or fresh random
/// bytes. `given` must match the one an existing store holds.
pub(crate) fn store_primary_key(
    d: &std::path::Path,
    store: &ferrocore_storage::Store,
    given: Option<[u8; 32]>,
) -> Result<PrimaryKey, Error> {
    let fresh = match given {
        Some(k) => k,
        None => {
            let mut k = [0u8; 32];
            getrandom::getrandom(&mut k).map_err(|e| {
                Error::Failed(format!("the OS random number generator failed: {e}"))
            })?;
            k
        }
    };
    let held = store
        .primary_key_or_insert(fresh)
        .map_err(|e| dir::core_error(d, e.into()))?;
    if given.is_some_and(|g| g != held) {
        return Err(Error::Failed(format!(
            "the store in {} has another primary key; --primary-key only names the key of a \
             new store",
            d.display()
        )));
    }
    Ok(PrimaryKey::from_bytes(held))
}

/// Opens the core `select` picks in an existing directory.
pub(crate) fn open(
    dir: &std::path::Path,
    select: &CoreSelect,
    encryption_key: Option<[u8; 32]>,
    key_required: bool,
    read_only: bool,
) -> Result<Opened, Error> {
    let core_dir = CoreDir::existing(dir)?;
    let store = if read_only {
        core_dir.open_store_read_only()?
    } else {
        core_dir.open_store()?
    };
    let picked = pick(&store, &core_dir, select)?;
    let encryption_key = core_dir.encryption_of(&store, &picked, encryption_key, key_required)?;
    // Encrypted: a key is known for it (given, or remembered), or it is a default core
    // whose marker says so and whose key was not passed.
    let encrypted = encryption_key.is_some() || (picked.default && core_dir.encrypted());
    let log = core_dir.open_picked(&store, &picked, encryption_key)?;
    Ok(Opened {
        core_dir,
        log,
        encrypted,
    })
}

/// A core opened for a local command.
pub(crate) struct Opened {
    pub(crate) core_dir: CoreDir,
    pub(crate) log: Log<ferrocore_storage::CoreStorage>,
    /// The core is encrypted (whether or not it was opened with its key).
    encrypted: bool,
}

/// An error unless the log can append.
pub(crate) fn require_writable<S: Storage>(
    core_dir: &CoreDir,
    log: &Log<S>,
    what: &str,
) -> Result<(), Error> {
    if log.writable() {
        return Ok(());
    }
    Err(Error::Failed(format!(
        "the core in {} is read-only (a clone of {}): only its writer can {what}",
        core_dir.path.display(),
        id::core_id(log.key())
    )))
}

/// Strips a trailing `\n` or `\r\n`.
fn chomp(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// Calls `f` with every line of stdin (without its line ending) until stdin ends.
pub(crate) fn each_stdin_line(mut f: impl FnMut(&[u8]) -> Result<(), Error>) -> Result<(), Error> {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        chomp(&mut line);
        f(&line)?;
    }
}

/// `ferrocore append`.
pub(crate) fn append(args: &AppendArgs, out: &mut dyn Write) -> Result<(), Error> {
    let Opened {
        core_dir, mut log, ..
    } = open(&args.dir, &args.select, args.encryption_key, true, false)?;
    require_writable(&core_dir, &log, "append")?;
    let fail = |e| dir::core_error(&core_dir.path, e);
    if !args.texts.is_empty() {
        let outcome = log
            .append_batch(args.texts.iter().map(String::as_bytes))
            .map_err(fail)?;
        writeln!(out, "length {}", outcome.length)?;
        return Ok(());
    }
    each_stdin_line(|line| {
        // Durable when it returns: the store writes with `Durability::Immediate`.
        let outcome = log.append(line).map_err(fail)?;
        writeln!(out, "length {}", outcome.length)?;
        out.flush()?;
        Ok(())
    })
}

/// `ferrocore info`.
pub(crate) fn info(args: &InfoArgs, out: &mut dyn Write) -> Result<(), Error> {
    let Opened { log, encrypted, .. } =
        open(&args.dir, &args.select, args.encryption_key, false, true)?;
    let key = *log.key();
    let mut byte_length = log.byte_length();
    if encrypted && log.padding() == 0 {
        // Opened without the key: the log counts each block's encryption padding.
        byte_length =
            byte_length.saturating_sub(ferrocore::encryption::PADDING as u64 * log.length());
    }
    if args.json {
        let v = json!({
            "key": hex::encode(key),
            "discoveryKey": hex::encode(log.discovery_key()),
            "id": log.id(),
            "length": log.length(),
            "contiguousLength": log.contiguous_length(),
            "byteLength": byte_length,
            "fork": log.fork(),
            "writable": log.writable(),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "key               {}", hex::encode(key))?;
        writeln!(
            out,
            "discovery key     {}",
            hex::encode(log.discovery_key())
        )?;
        writeln!(out, "id                {}", log.id())?;
        writeln!(out, "length            {}", log.length())?;
        writeln!(out, "contiguous length {}", log.contiguous_length())?;
        writeln!(out, "byte length       {byte_length}")?;
        writeln!(out, "fork              {}", log.fork())?;
        writeln!(out, "writable          {}", log.writable())?;
        writeln!(out, "encrypted         {encrypted}")?;
        writeln!(out, "compat            {}", log.compat())?;
    }
    Ok(())
}

/// `ferrocore get`.
pub(crate) fn get(args: &GetArgs, out: &mut dyn Write) -> Result<(), Error> {
    let Opened { core_dir, log, .. } =
        open(&args.dir, &args.select, args.encryption_key, true, true)?;
    let (i, length) = (args.index, log.length());
    if i >= length {
        return Err(Error::NotFound(format!(
            "block {i} does not exist: the core in {} has length {length}",
            core_dir.path.display()
        )));
    }
    match log.get(i).map_err(|e| dir::core_error(&core_dir.path, e))? {
        Some(block) => {
            out.write_all(&block)?;
            Ok(())
        }
        None => Err(Error::NotFound(format!(
            "block {i} is not stored locally (the core has length {length}); download it with \
             `ferrocore clone {d} {key} --connect HOST:PORT --blocks {i}`",
            d = core_dir.path.display(),
            key = hex::encode(log.key())
        ))),
    }
}

/// `ferrocore cat`.
pub(crate) fn cat(args: &CatArgs, out: &mut dyn Write) -> Result<(), Error> {
    let Opened { core_dir, log, .. } =
        open(&args.dir, &args.select, args.encryption_key, true, true)?;
    let end = args.end.unwrap_or(u64::MAX).min(log.length());
    if args.end.is_some_and(|e| e < args.start) {
        return Err(Error::Usage(format!(
            "--start {} is after --end {}",
            args.start,
            args.end.unwrap_or_default()
        )));
    }
    let mut skipped = Ranges::default();
    for i in args.start..end {
        match log.get(i).map_err(|e| dir::core_error(&core_dir.path, e))? {
            Some(block) => {
                if args.index {
                    write!(out, "{i}\t")?;
                }
                out.write_all(&block)?;
                out.write_all(b"\n")?;
            }
            None => skipped.push(i),
        }
    }
    if skipped.count > 0 {
        out.flush()?;
        eprintln!(
            "ferrocore: skipped {} not stored locally: {skipped}",
            plural(skipped.count, "block")
        );
    }
    Ok(())
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Increasing indices, shown as ranges: `0, 2, 4-9`.
#[derive(Debug, Default)]
struct Ranges {
    ranges: Vec<(u64, u64)>,
    count: u64,
}

impl Ranges {
    /// Ranges listed before the rest are summed up.
    const SHOWN: usize = 10;

    fn push(&mut self, i: u64) {
        self.count += 1;
        match self.ranges.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => self.ranges.push((i, i)),
        }
    }
}

impl std::fmt::Display for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, (first, last)) in self.ranges.iter().take(Self::SHOWN).enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            if first == last {
                write!(f, "{sep}{first}")?;
            } else {
                write!(f, "{sep}{first}-{last}")?;
            }
        }
        if self.ranges.len() > Self::SHOWN {
            write!(f, ", ... ({} more ranges)", self.ranges.len() - Self::SHOWN)?;
        }
        Ok(())
    }
}

/// `ferrocore truncate`.
pub(crate) fn truncate(args: &TruncateArgs, out: &mut dyn Write) -> Result<(), Error> {
    let Opened {
        core_dir, mut log, ..
    } = open(&args.dir, &args.select, args.encryption_key, false, false)?;
    require_writable(&core_dir, &log, "truncate")?;
    if args.length > log.length() {
        return Err(Error::Failed(format!(
            "cannot truncate to {}: the core in {} has only {} blocks",
            args.length,
            core_dir.path.display(),
            log.length()
        )));
    }
    log.truncate(args.length, None)
        .map_err(|e| dir::core_error(&core_dir.path, e))?;
    writeln!(out, "length {}", log.length())?;
    writeln!(out, "fork {}", log.fork())?;
    Ok(())
}

/// `ferrocore cores`.
pub(crate) fn cores(args: &CoresArgs, out: &mut dyn Write) -> Result<(), Error> {
    let core_dir = CoreDir::existing(&args.dir)?;
    let d = &core_dir.path;
    let store = core_dir.open_store_read_only()?;
    let default = hash::discovery_key(&core_dir.marker.key);
    let cores = store
        .cores_with_aliases()
        .map_err(|e| dir::core_error(d, e.into()))?;
    for core in cores {
        let dk = core.discovery_key;
        let options = LogOptions {
            create_if_missing: false,
            ..LogOptions::default()
        };
        let log = Log::open(store.core(&dk), options).map_err(|e| dir::core_error(d, e))?;
        let name = core
            .alias
            .map(|a| String::from_utf8_lossy(&a.name).into_owned());
        if args.json {
            let v = json!({
                "name": name,
                "key": hex::encode(log.key()),
                "discoveryKey": hex::encode(dk),
                "length": log.length(),
                "contiguousLength": log.contiguous_length(),
                "writable": log.writable(),
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{} {:>10} {:>10} {:<9} {}{}",
                hex::encode(log.key()),
                log.length(),
                log.contiguous_length(),
                if log.writable() {
                    "writable"
                } else {
                    "read-only"
                },
                name.as_deref().unwrap_or("-"),
                if dk == default { " (default)" } else { "" }
            )?;
        }
    }
    Ok(())
}
