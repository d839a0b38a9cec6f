//! Channel ping-pong and mutex contention on tokio, the same workloads as
//! bench/sync_bench.c (see there).  Prints one line:
//!   tokio-wW WORKLOAD n=OPS ns=TOTAL ns_per_op=X
//! usage: tokio-sync-bench pingpong|mutex WORKERS [N | K M]
//!        tokio-sync-bench spawnjoin WORKERS [ROUNDS [BATCH]] | burst WORKERS [N]
//!        tokio-sync-bench mem WORKERS [N]
//! WORKERS 0 is the current-thread runtime.  The spawn workloads are those
//! of bench/bench_runtime.c (spawn-join, burst, mem: see there); mem prints
//!   tokio-wW mem n=N rss_before_kb=A rss_after_kb=B bytes_per_task=X
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex, Notify};

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

async fn spawnjoin(rounds: u64, batch: u64) -> u64 {
    let mut sum = 0;
    let mut handles = Vec::with_capacity(batch as usize);
    for _ in 0..rounds {
        for i in 0..batch {
            handles.push(tokio::spawn(async move { i }));
        }
        for h in handles.drain(..) {
            sum += h.await.unwrap();
        }
    }
    sum
}

async fn burst(n: u64) -> u64 {
    let mut handles = Vec::with_capacity(n as usize);
    for i in 0..n {
        handles.push(tokio::spawn(async move { i }));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    sum
}

// mem: the 3-frame chain of bench_runtime's mem workload (outer -> middle
// -> the Notify's Notified future), parked on a Notify nobody signals.
static PARKED: AtomicU64 = AtomicU64::new(0);

async fn middle(n: &'static Notify) -> u64 {
    PARKED.fetch_add(1, Ordering::Relaxed);
    n.notified().await;
    1
}

async fn outer(n: &'static Notify) -> u64 {
    middle(n).await + 1
}

fn rss_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
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
        "spawnjoin" => {
            let rounds = arg(&args, 3, 200);
            let batch = arg(&args, 4, 1000);
            let t0 = Instant::now();
            // On a worker, as tasktrace's block_on runs its root task.
            let r = rt.block_on(async { tokio::spawn(spawnjoin(rounds, batch)).await.unwrap() });
            let ns = t0.elapsed().as_nanos();
            assert_eq!(r, rounds * batch * (batch - 1) / 2);
            ("spawnjoin", rounds * batch, ns)
        }
        "burst" => {
            let n = arg(&args, 3, 100000);
            let t0 = Instant::now();
            let r = rt.block_on(async { tokio::spawn(burst(n)).await.unwrap() });
            let ns = t0.elapsed().as_nanos();
            assert_eq!(r, n * (n - 1) / 2);
            ("burst", n, ns)
        }
        "mem" => {
            let n = arg(&args, 3, 1000000);
            let notify: &'static Notify = Box::leak(Box::new(Notify::new()));
            let before = rss_kb();
            rt.block_on(async {
                for _ in 0..n {
                    drop(tokio::spawn(outer(notify)));
                }
            });
            while PARKED.load(Ordering::Relaxed) < n {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let after = rss_kb();
            println!(
                "tokio-w{} mem n={} rss_before_kb={} rss_after_kb={} bytes_per_task={:.1}",
                workers,
                n,
                before,
                after,
                (after - before) as f64 * 1024.0 / n as f64
            );
            // The tasks stay pending: exit without tearing them down.
            std::process::exit(0);
        }
        _ => {
            eprintln!("usage: tokio-sync-bench pingpong|mutex|spawnjoin|burst|mem WORKERS [...]");
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
