//! Devices: which back ends this build has, which device a request gets, and its recorded name.
//! A leaf module, so that validating a config does not pull in a model family.

use candle_core::Device;

use crate::error::{Error, Result};

/// Checks that this build can use `requested` (`auto`, `cpu`, `cuda`, `metal`) without touching
/// the hardware: a GPU back end left out of the build is refused here, before any run starts.
pub fn check_device(requested: &str) -> Result<()> {
    let unavailable =
        |reason: &str| Err(Error::DeviceUnavailable { requested: requested.into(), reason: reason.into() });
    match requested {
        "auto" | "cpu" => Ok(()),
        "cuda" if cfg!(feature = "cuda") => Ok(()),
        "cuda" => unavailable(
            "this Finelab was built without CUDA support (rebuild with `--features cuda`); use --device auto or cpu",
        ),
        "metal" if cfg!(feature = "metal") => Ok(()),
        "metal" => unavailable(
            "this Finelab was built without Metal support (rebuild with `--features metal`); use --device auto or cpu",
        ),
        _ => unavailable("expected auto, cpu, cuda or metal"),
    }
}

/// The device for `requested`: `auto` takes CUDA or Metal when built in and present, else the CPU.
pub fn select_device(requested: &str) -> Result<Device> {
    check_device(requested)?;
    // The first line: candle appends a backtrace when RUST_BACKTRACE is set.
    let fail = |e: candle_core::Error| Error::DeviceUnavailable {
        requested: requested.into(),
        reason: e.to_string().lines().next().unwrap_or_default().to_string(),
    };
    match requested {
        "cpu" => Ok(Device::Cpu),
        "cuda" => new_cuda().map_err(fail),
        "metal" => Device::new_metal(0).map_err(fail),
        _ => {
            if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
                if let Ok(d) = new_cuda() {
                    return Ok(d);
                }
            }
            if cfg!(feature = "metal") && candle_core::utils::metal_is_available() {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok(d);
                }
            }
            Ok(Device::Cpu)
        }
    }
}

/// The first CUDA GPU. Finelab runs everything on the device's one stream, so cudarc's
/// cross-stream bookkeeping (an event recorded for every buffer a kernel touches) is switched off:
/// it cost as much as the small kernels themselves.
fn new_cuda() -> candle_core::Result<Device> {
    let device = Device::new_cuda(0)?;
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = &device {
        // SAFETY: one stream per device (candle's), so no buffer is used on another stream.
        unsafe { d.disable_event_tracking() };
    }
    Ok(device)
}

/// A device's name as runs record it.
pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => "cuda".into(),
        Device::Metal(_) => "metal".into(),
    }
}
