//! `drive import` and `drive export`: a local folder mirrored into the drive and back
//! ([`ferrocore_mirror`]: JS localdrive 2.2.1 and mirror-drive 1.14.2's rules), with a
//! progress line on a terminal and mirror-drive's counts as the summary.

use std::error::Error as StdError;
use std::io::{IsTerminal, Write};

use ferrocore_blocking::drive::Error as DriveErr;
use ferrocore_mirror::{Diff, LocalDrive, Mirror, MirrorError, MirrorSource, MirrorTarget, Op};

use super::args::MirrorArgs;
use super::open::Opened;
use crate::Error;

/// `drive import`: FOLDER → the drive.
pub(crate) fn import(args: &MirrorArgs, out: &mut dyn Write) -> Result<(), Error> {
    if !args.folder.is_dir() {
        return Err(Error::Failed(format!(
            "{} is not a folder",
            args.folder.display()
        )));
    }
    let local = LocalDrive::new(&args.folder).map_err(|e| Error::Failed(e.to_string()))?;
    // Many appends: committed in groups, durable when the command ends.
    let mut opened = if args.dry_run {
        Opened::new(&args.select, false)?
    } else {
        Opened::bulk(&args.select)?
    };
    let result = run(args, &local, &mut opened.drive, out);
    opened.close()?;
    result
}

/// `drive export`: the drive → FOLDER (created if missing).
pub(crate) fn export(args: &MirrorArgs, out: &mut dyn Write) -> Result<(), Error> {
    if !args.dry_run {
        std::fs::create_dir_all(&args.folder)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", args.folder.display())))?;
    }
    let mut local = LocalDrive::new(&args.folder).map_err(|e| Error::Failed(e.to_string()))?;
    let opened = Opened::new(&args.select, false)?;
    let result = run(args, &opened.drive, &mut local, out);
    opened.close()?;
    result
}

/// Mirrors `src` into `dst` as `args` say: a line per change on `out` with `--dry-run`,
/// progress on a terminal, the summary on stderr.
fn run<S, T>(args: &MirrorArgs, src: &S, dst: &mut T, out: &mut dyn Write) -> Result<(), Error>
where
    S: MirrorSource + ?Sized,
    T: MirrorTarget + ?Sized,
{
    let progress = std::io::stderr().is_terminal();
    let mut mirror = Mirror::new(src, dst)
        .prune(args.prune)
        .dry_run(args.dry_run);
    if !args.paths.is_empty() {
        mirror = mirror.prefixes(args.paths.iter().cloned());
    }
    let mut shown = false;
    while let Some(diff) = mirror.next() {
        let diff = diff.map_err(mirror_error)?;
        if args.dry_run {
            writeln!(out, "{}", line(&diff))?;
        }
        if progress {
            let s = mirror.summary();
            eprint!(
                "\r{} files: added {} changed {} removed {} ({} bytes)\x1b[K",
                s.count.files, s.count.add, s.count.change, s.count.remove, s.bytes_added
            );
            shown = true;
        }
    }
    let s = mirror.summary();
    if shown {
        eprintln!();
    }
    eprintln!(
        "added {} changed {} removed {} bytes {}{}",
        s.count.add,
        s.count.change,
        s.count.remove,
        s.bytes_added,
        if args.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    Ok(())
}

/// A change as `--dry-run` lists it.
fn line(d: &Diff) -> String {
    let (op, bytes) = match d.op {
        Op::Add => ("add", d.bytes_added),
        Op::Change => ("change", d.bytes_added),
        Op::Remove => ("remove", d.bytes_removed),
        Op::Equal => ("equal", 0),
    };
    format!("{op}\t{}\t{bytes}", d.key)
}

/// True if the drive lacked a block somewhere in `e`'s chain (a sparse clone).
fn not_local(e: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(DriveErr::NotLocal(..)) = e.downcast_ref::<DriveErr>() {
            return true;
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

fn mirror_error(e: MirrorError) -> Error {
    match &e {
        MirrorError::Prefix { .. } => Error::Usage(e.to_string()),
        MirrorError::Source { error, .. } | MirrorError::Target { error, .. }
            if not_local(error.as_ref()) =>
        {
            Error::NotFound(format!(
                "{e} (a sparse clone: fetch the files first with `ferrocore clone DIR KEY \
                 --connect HOST:PORT --paths ...`)"
            ))
        }
        _ => Error::Failed(e.to_string()),
    }
}
