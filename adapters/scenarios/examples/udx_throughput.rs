//! Loopback throughput of one UDX stream on each runtime:
//!
//! ```text
//! cargo run --release -p ferrocore-scenarios --example udx-throughput -- \
//!     [tokio|smol|blocking] [--plain] [MiB]
//! ```
//!
//! sends MiB (default 256) from one socket to another on 127.0.0.1 and prints MB/s.
//! `--plain` moves one datagram per system call instead of GSO/GRO and `recvmmsg`
//! batches. A figure to compare, not a benchmark: both ends share the machine's cores.

use std::time::Instant;

use ferrocore_udp::{Config, UdxSocket, UdxStream};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 256 * 1024;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = args
        .iter()
        .find(|a| ["tokio", "smol", "blocking"].contains(&a.as_str()))
        .map_or("tokio", String::as_str);
    let config = Config {
        batching: !args.iter().any(|a| a == "--plain"),
        ..Config::default()
    };
    let mib: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(256);
    let len = mib << 20;
    let start = Instant::now();
    let (a, b) = match runtime {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(async {
                let a = ferrocore_tokio::udx::UdxSocket::bind_with("127.0.0.1:0", config.clone());
                let a = a.await?;
                let b = ferrocore_tokio::udx::UdxSocket::bind_with("127.0.0.1:0", config).await?;
                let (sa, sb) = streams(&a, &b)?;
                let sending = tokio::spawn(send_async(sa, len));
                receive_async(sb, len).await?;
                sending.await.expect("sender")?;
                Ok::<_, std::io::Error>((UdxSocket::clone(&a), UdxSocket::clone(&b)))
            })?,
        "smol" => smol::block_on(async {
            let bind = |config| {
                let addr = "127.0.0.1:0".parse().expect("an address");
                let (socket, driver) =
                    ferrocore_futures::udx::UdxSocket::bind_with(addr, smol::Timer::after, config)?;
                smol::spawn(driver).detach();
                Ok::<_, std::io::Error>(socket)
            };
            let (a, b) = (bind(config.clone())?, bind(config)?);
            let (sa, sb) = streams(&a, &b)?;
            let sending = smol::spawn(send_async(sa, len));
            receive_async(sb, len).await?;
            sending.await?;
            Ok::<_, std::io::Error>((UdxSocket::clone(&a), UdxSocket::clone(&b)))
        })?,
        _ => {
            let a = ferrocore_blocking::udx::UdxSocket::bind_with("127.0.0.1:0", config.clone())?;
            let b = ferrocore_blocking::udx::UdxSocket::bind_with("127.0.0.1:0", config)?;
            let (mut sa, mut sb) = streams(&a, &b)?;
            let sending = std::thread::spawn(move || {
                let chunk = vec![0x5a; CHUNK];
                let mut sent = 0;
                while sent < len {
                    let n = CHUNK.min(len - sent);
                    std::io::Write::write_all(&mut sa, &chunk[..n])?;
                    sent += n;
                }
                sa.end()
            });
            let mut buf = vec![0u8; CHUNK];
            let mut got = 0;
            while let n @ 1.. = std::io::Read::read(&mut sb, &mut buf)? {
                got += n;
            }
            assert_eq!(got, len);
            sending.join().expect("sender")?;
            (UdxSocket::clone(&a), UdxSocket::clone(&b))
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{runtime}: {mib} MiB over one UDX stream ({}): {:.0} MB/s",
        if a.is_batched() {
            format!(
                "batched: GSO {} segments/send, GRO, recvmmsg",
                a.max_segments()
            )
        } else {
            "one datagram per syscall".to_string()
        },
        len as f64 / secs / 1e6
    );
    drop(b);
    Ok(())
}

/// A stream on each socket, connected to each other.
fn streams(a: &UdxSocket, b: &UdxSocket) -> std::io::Result<(UdxStream, UdxStream)> {
    let (sa, sb) = (a.create_stream()?, b.create_stream()?);
    a.connect(&sa, sb.id(), b.local_addr()?)?;
    b.connect(&sb, sa.id(), a.local_addr()?)?;
    Ok((sa, sb))
}

async fn send_async(mut s: UdxStream, len: usize) -> std::io::Result<()> {
    let chunk = vec![0x5a; CHUNK];
    let mut sent = 0;
    while sent < len {
        let n = CHUNK.min(len - sent);
        s.write_all(&chunk[..n]).await?;
        sent += n;
    }
    s.close().await
}

async fn receive_async(mut s: UdxStream, len: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0;
    while let n @ 1.. = s.read(&mut buf).await? {
        got += n;
    }
    assert_eq!(got, len);
    Ok(())
}
