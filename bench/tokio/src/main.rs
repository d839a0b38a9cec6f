//! Channel ping-pong and mutex contention on tokio, the same workloads as
//! bench/sync_bench.c (see there).  Prints one line:
//!   tokio-wW WORKLOAD n=OPS ns=TOTAL ns_per_op=X
//! usage: tokio-sync-bench pingpong|mutex WORKERS [N | K M]
//! WORKERS 0 is the current-thread runtime.
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex};

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

async fn pingpong(n: u64) -> u64 {
    let (tx_a, mut rx_a) = mpsc::channel::<u64>(1);
    let (tx_b, mut rx_b) = mpsc::channel::<u64>(1);
    let pong = tokio::spawn(async move {
        while let Some(v) = rx_a.recv().await {
            if tx_b.send(v).await.is_err() {
                break;
            }
        }
    });
    let ping = tokio::spawn(async move {
        let mut i = 0;
        while i < n {
            tx_a.send(i).await.unwrap();
            let got = rx_b.recv().await.unwrap();
            assert_eq!(got, i);
            i += 1;
        }
        i // tx_a dropped here: pong ends
    });
    let r = ping.await.unwrap();
    pong.await.unwrap();
    r
}

async fn contend(k: u64, m: u64) -> u64 {
    let counter = Arc::new(Mutex::new(0u64));
    let mut handles = Vec::with_capacity(k as usize);
    for _ in 0..k {
        let c = counter.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..m {
                *c.lock().await += 1;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let v = *counter.lock().await;
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: tokio-sync-bench pingpong|mutex WORKERS [N | K M]");
        std::process::exit(2);
    }
    let workers = arg(&args, 2, 2) as usize;
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread().build().unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap()
    };
    let (what, ops, ns) = match args[1].as_str() {
        "pingpong" => {
            let n = arg(&args, 3, 200000);
            let t0 = Instant::now();
            let r = rt.block_on(pingpong(n));
            let ns = t0.elapsed().as_nanos();
            assert_eq!(r, n);
            ("pingpong", n, ns)
        }
        "mutex" => {
            let k = arg(&args, 3, 16);
            let m = arg(&args, 4, 20000);
            let t0 = Instant::now();
            let r = rt.block_on(contend(k, m));
            let ns = t0.elapsed().as_nanos();
            assert_eq!(r, k * m);
            ("mutex", k * m, ns)
        }
        _ => {
            eprintln!("usage: tokio-sync-bench pingpong|mutex WORKERS [N | K M]");
            std::process::exit(2);
        }
    };
    println!(
        "tokio-w{} {} n={} ns={} ns_per_op={:.1}",
        workers,
        what,
        ops,
        ns,
        ns as f64 / ops as f64
    );
}
