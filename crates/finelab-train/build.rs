//! With the `cuda` feature, compiles `src/transformer/kernels.cu` (the CUDA versions of the fused
//! layer norm, softmax, GELU and AdamW kernels) to PTX with `nvcc`, which that feature needs anyway
//! (candle's own kernels are built the same way). Without it, does nothing.
//!
//! nvcc is taken from `NVCC`, else `CUDA_HOME/bin/nvcc`, else `PATH`. `CUDA_COMPUTE_CAP` (e.g. `90`)
//! picks the PTX target, as for candle's kernels; without it nvcc's default target is used, which
//! the driver compiles for newer GPUs when the module loads.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/transformer/kernels.cu");
    for var in ["NVCC", "CUDA_HOME", "CUDA_COMPUTE_CAP"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let nvcc = std::env::var_os("NVCC")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CUDA_HOME").map(|h| PathBuf::from(h).join("bin").join("nvcc")).filter(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("nvcc"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("finelab_kernels.ptx");
    let mut cmd = Command::new(&nvcc);
    cmd.args(["--ptx", "-O3", "-std=c++17", "src/transformer/kernels.cu", "-o"]).arg(&out);
    if let Ok(cap) = std::env::var("CUDA_COMPUTE_CAP") {
        let cap: String = cap.chars().filter(|c| c.is_ascii_digit()).collect();
        cmd.arg(format!("-arch=compute_{cap}"));
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("the cuda feature needs nvcc ({}): {e}", nvcc.display()));
    assert!(status.success(), "nvcc failed on src/transformer/kernels.cu");
}
