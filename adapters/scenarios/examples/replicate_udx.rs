//! A hypercore replicated over loopback, over TCP and over a UDX stream, on Tokio:
//!
//! ```text
//! cargo run --release -p ferrocore-scenarios --example replicate-udx -- [MiB]
//! ```
//!
//! appends MiB (default 64) in 64 KiB blocks to a writer, then times a reader's download of
//! the whole core over each transport (Noise XX and the secret stream in band on both)
//! and prints MB/s. A figure to compare, not a benchmark.

use std::time::Instant;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::Role;
use ferrocore::{Log, LogOptions};
use ferrocore_tokio::udx::UdxSocket;
use ferrocore_tokio::{Error, Node};

const BLOCK: usize = 64 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(64);
    let blocks = (mib << 20) / BLOCK;
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options)?;
    let key = *log.key();
    let writer = Node::new(EndpointConfig::default())?;
    let core = writer.add_core(log).await?;
    let data: Vec<Bytes> = (0..blocks)
        .map(|i| Bytes::from(vec![i as u8; BLOCK]))
        .collect();
    for batch in data.chunks(64) {
        writer.append(core, batch.to_vec()).await?;
    }
    for transport in ["tcp", "udx"] {
        let reader = Node::new(EndpointConfig::default())?;
        let options = LogOptions {
            key: Some(key),
            ..LogOptions::default()
        };
        let rcore = reader
            .add_core(Log::open(MemoryStorage::new(), options)?)
            .await?;
        let start = Instant::now();
        // Kept alive for the download.
        let _sockets;
        if transport == "tcp" {
            let addr = writer.listen("127.0.0.1:0").await?;
            reader.connect(addr).await?;
        } else {
            let (a, b) = (
                UdxSocket::bind("127.0.0.1:0").await?,
                UdxSocket::bind("127.0.0.1:0").await?,
            );
            let (sa, sb) = (a.create_stream()?, b.create_stream()?);
            a.connect(&sa, sb.id(), b.local_addr()?)?;
            b.connect(&sb, sa.id(), a.local_addr()?)?;
            writer.add_udx_stream(sb, Role::Responder).await?;
            reader.add_udx_stream(sa, Role::Initiator).await?;
            _sockets = (a, b);
        }
        reader
            .download(rcore, 0, Some(blocks as u64))
            .await?
            .await?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{transport}: {mib} MiB of hypercore blocks replicated in {secs:.2} s: {:.0} MB/s",
            (blocks * BLOCK) as f64 / secs / 1e6
        );
        assert_eq!(
            reader.get(rcore, blocks as u64 - 1, None).await?,
            data[blocks - 1]
        );
    }
    Ok(())
}
