//! Loopback throughput of one UDX stream: `cargo run --release -p ferrocore-tokio
//! --example tokio-udx-throughput -- [--plain] [MiB]` sends MiB (default 256) from one
//! socket to another on 127.0.0.1 and prints MB/s. `--plain` sends and receives one
//! datagram per system call instead of GSO/GRO and `recvmmsg` batches.

use std::time::Instant;

use ferrocore_tokio::udx::{Config, UdxSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let plain = args.iter().any(|a| a == "--plain");
    let mib: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(256);
    let config = Config {
        batching: !plain,
        ..Config::default()
    };
    let a = UdxSocket::bind_with("127.0.0.1:0", config.clone()).await?;
    let b = UdxSocket::bind_with("127.0.0.1:0", config).await?;
    let mut sa = a.create_stream()?;
    let mut sb = b.create_stream()?;
    a.connect(&sa, sb.id(), b.local_addr()?)?;
    b.connect(&sb, sa.id(), a.local_addr()?)?;

    let len = mib << 20;
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        let chunk = vec![0x5au8; 256 * 1024];
        let mut sent = 0;
        while sent < len {
            let n = chunk.len().min(len - sent);
            sa.write_all(&chunk[..n]).await?;
            sent += n;
        }
        sa.shutdown().await?;
        Ok::<_, std::io::Error>(sa)
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0;
    loop {
        let n = sb.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    let sa = sender.await.expect("sender")?;
    assert_eq!(got, len);
    println!(
        "{} MiB over one UDX stream ({}): {:.0} MB/s",
        mib,
        if a.is_batched() {
            "batched: GSO/GRO, recvmmsg"
        } else {
            "one datagram per syscall"
        },
        len as f64 / secs / 1e6
    );
    println!("segments per send now: {}", a.max_segments());
    if let Some(stats) = a.stats(&sa) {
        println!("sender: {stats:?}");
    }
    Ok(())
}
