//! Int8 against f32 dense layers at an encoder's shapes on this CPU: GOP/s of the int8 kernels
//! (each one the CPU has) beside candle's f32 matmul (the `gemm` crate) on the same products.
//!
//! ```text
//! cargo run --release -p finelab-train --example bench_int8 [ROWS] [HIDDEN] [FFN] [REPEATS]
//! ```
//! Defaults: 1,024 rows (16 texts × 64 tokens), MiniLM's 384 / 1,536.

use std::time::Instant;

use candle_core::{Device, Tensor};
use finelab_train::rng::SplitMix64;
use finelab_train::transformer::int8::{Int8Linear, Kernel};
use finelab_train::transformer::nn::normal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (rows, hidden, ffn, repeats) = (arg(1, 1024), arg(2, 384), arg(3, 1536), arg(4, 20));
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    println!("cpu: {cpu}; threads: {}", rayon::current_num_threads());
    let mut rng = SplitMix64::new(1);
    for (n, k) in [(hidden, hidden), (ffn, hidden), (hidden, ffn)] {
        let x = normal(&mut rng, rows * k, 1.0);
        let w = normal(&mut rng, n * k, 0.05);
        let ops = 2.0 * (rows * n * k) as f64 * repeats as f64;
        let xt = Tensor::from_vec(x.clone(), (rows, k), &Device::Cpu)?;
        let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu)?.t()?;
        xt.matmul(&wt)?;
        let started = Instant::now();
        for _ in 0..repeats {
            std::hint::black_box(xt.matmul(&wt)?);
        }
        let f32_secs = started.elapsed().as_secs_f64();
        print!("{rows}×{k} · {k}×{n}: f32 {:.1} GFLOP/s", ops / f32_secs / 1e9);
        for kernel in Kernel::available() {
            let layer = Int8Linear::from_f32(&w, n, k, None, kernel);
            layer.forward_slice(&x);
            let started = Instant::now();
            for _ in 0..repeats {
                std::hint::black_box(layer.forward_slice(&x));
            }
            let secs = started.elapsed().as_secs_f64();
            print!("; int8 {} {:.1} GOP/s ({:.2}×)", kernel.name(), ops / secs / 1e9, f32_secs / secs);
        }
        println!();
    }
    Ok(())
}
