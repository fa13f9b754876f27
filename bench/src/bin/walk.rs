//! A small HTTP load generator for the serving benchmark: walks a fixed list of paths with N keep-alive
//! connections, either once (each path exactly once, for cold caches) or round and round for a duration,
//! and prints one JSON object with the request count, elapsed seconds, latency percentiles and errors.
//! wrk cannot do "each path once" (its run always lasts the full duration), hence this tool.
//!
//! Usage: walk BASE_URL PATHS_FILE once|loop SECONDS CONNECTIONS

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: walk BASE_URL PATHS_FILE once|loop SECONDS CONNECTIONS");
        std::process::exit(2);
    }
    let base = args[1].trim_end_matches('/').to_string();
    let paths: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(&args[2])
            .expect("paths file")
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| format!("{base}{l}"))
            .collect(),
    );
    let once = args[3] == "once";
    let seconds: u64 = args[4].parse().expect("seconds");
    let connections: usize = args[5].parse().expect("connections");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (paths, next) = (Arc::clone(&paths), Arc::clone(&next));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut bytes, mut non2xx, mut errors) = (Vec::new(), 0u64, 0u64, 0u64);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if (once && i >= paths.len()) || Instant::now() >= deadline {
                    break;
                }
                let url = &paths[i % paths.len()];
                let sent = Instant::now();
                match client.get(url).send().await {
                    Ok(response) => {
                        let ok =
                            response.status().is_success() || response.status().as_u16() == 304;
                        match response.bytes().await {
                            Ok(body) => bytes += body.len() as u64,
                            Err(_) => errors += 1,
                        }
                        if !ok {
                            non2xx += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            (latencies, bytes, non2xx, errors)
        }));
    }
    let (mut all, mut bytes, mut non2xx, mut errors) = (Vec::new(), 0, 0, 0);
    for task in tasks {
        let (l, b, n, e) = task.await.expect("connection task");
        all.extend(l);
        bytes += b;
        non2xx += n;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\": {}, \"seconds\": {elapsed:.4}, \"p50_us\": {}, \"p99_us\": {}, \"max_us\": {}, \"non2xx\": {non2xx}, \"errors\": {errors}, \"bytes\": {bytes}}}",
        all.len(),
        pct(0.50),
        pct(0.99),
        all.last().copied().unwrap_or(0)
    );
}
