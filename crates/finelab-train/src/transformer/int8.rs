//! Int8 dense layers for CPU inference: weights quantized once per output channel (symmetric,
//! `w ≈ q · s`, `q` in −127..=127), activations quantized per row as they arrive (dynamic
//! quantization, as PyTorch's `quantize_dynamic` does for `nn.Linear`), the products summed in
//! 32-bit integers and scaled back to f32 with the bias added:
//!
//! ```text
//! y[m][n] = (Σ_k qx[m][k] · qw[n][k]) · (sw[n] · sx[m]) + b[n]
//! ```
//!
//! Three kernels compute the integer sums, chosen once by what the CPU has:
//! - AVX-512 VNNI (`vpdpbusd`, 64 products an instruction): `vpdpbusd` multiplies unsigned by
//!   signed bytes, so activations are offset by 128 and `128 · Σ_k qw[n][k]` is taken off after;
//! - AVX2: bytes widened to 16 bits and multiplied pairwise (`vpmaddwd`, 16 products an
//!   instruction, exact: no saturating byte products);
//! - portable Rust elsewhere.
//!
//! All three give the same integer sums and scale them with the same two roundings, so their
//! outputs are equal bit for bit (`tests` below).

use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// The integer kernels, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 with VNNI byte dot products.
    Avx512Vnni,
    /// AVX2 16-bit pairwise products.
    Avx2,
    /// Portable Rust.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    pub fn best() -> Kernel {
        Kernel::available()[0]
    }

    /// The kernels this CPU runs, fastest first.
    pub fn available() -> Vec<Kernel> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512vnni")
            {
                out.push(Kernel::Avx512Vnni);
            }
            if is_x86_feature_detected!("avx2") {
                out.push(Kernel::Avx2);
            }
        }
        out.push(Kernel::Portable);
        out
    }

    /// Its name, as benchmarks print it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512Vnni => "avx512-vnni",
            Kernel::Avx2 => "avx2",
            Kernel::Portable => "portable",
        }
    }

    /// Columns per packed panel.
    fn panel(self) -> usize {
        match self {
            Kernel::Avx512Vnni => 16,
            Kernel::Avx2 => 8,
            Kernel::Portable => 1,
        }
    }

    /// K is padded to a multiple of this (bytes per dot-product group).
    fn k_group(self) -> usize {
        match self {
            Kernel::Avx512Vnni => 4,
            Kernel::Avx2 => 2,
            Kernel::Portable => 1,
        }
    }
}

/// Quantizes each row of `values` (`rows × cols`, row-major) symmetrically to −127..=127: returns
/// the integers and one scale a row (`value ≈ q · scale`; an all-zero row gets scale 1).
pub fn quantize_rows(values: &[f32], cols: usize) -> (Vec<i8>, Vec<f32>) {
    let rows = values.len().checked_div(cols).unwrap_or(0);
    let mut q = vec![0i8; rows * cols];
    let mut scales = Vec::with_capacity(rows);
    for (row, out) in values.chunks_exact(cols.max(1)).zip(q.chunks_exact_mut(cols.max(1))) {
        let (scale, inv) = row_scale(row);
        for (o, v) in out.iter_mut().zip(row) {
            *o = quantize(*v, inv);
        }
        scales.push(scale);
    }
    (q, scales)
}

/// A row's scale (`max |v| / 127`) and its inverse.
fn row_scale(row: &[f32]) -> (f32, f32) {
    row_scale_from(row.iter().fold(0f32, |m, v| m.max(v.abs())))
}

/// The scale and its inverse for a row whose largest magnitude is `amax`.
fn row_scale_from(amax: f32) -> (f32, f32) {
    if amax > 0.0 && amax.is_finite() {
        (amax / 127.0, 127.0 / amax)
    } else {
        (1.0, 0.0)
    }
}

/// Quantizes `row` into `dst` (as `store` converts each value); returns the row's scale.
#[inline]
fn quantize_row<T>(row: &[f32], dst: &mut [T], store: impl Fn(i8) -> T) -> f32 {
    let (scale, inv) = row_scale(row);
    for (d, v) in dst.iter_mut().zip(row) {
        *d = store(quantize(*v, inv));
    }
    scale
}

#[inline(always)]
fn quantize(v: f32, inv: f32) -> i8 {
    (v * inv).round_ties_even().clamp(-127.0, 127.0) as i8
}

/// A dense layer `y = x Wᵀ + b` with int8 weights, packed for one kernel.
pub struct Int8Linear {
    /// Output features.
    n: usize,
    /// Input features.
    k: usize,
    /// The weights, `n × k` row-major (what a model folder stores).
    q: Vec<i8>,
    /// One scale per output feature.
    scales: Vec<f32>,
    bias: Vec<f32>,
    kernel: Kernel,
    /// K padded to the kernel's group.
    kp: usize,
    /// The weights in the kernel's panel layout (empty for the portable kernel).
    packed: Packed,
    /// `scales`, `bias` and (VNNI) the offset corrections padded to whole panels.
    scales_p: Vec<f32>,
    bias_p: Vec<f32>,
    corr_p: Vec<i32>,
}

enum Packed {
    None,
    /// `[panel][k / 4][16 columns][4 bytes]`.
    Bytes(Vec<i8>),
    /// `[panel][k / 2][8 columns][2 values]`.
    Words(Vec<i16>),
}

impl std::fmt::Debug for Int8Linear {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Int8Linear").field("n", &self.n).field("k", &self.k).field("kernel", &self.kernel).finish()
    }
}

impl Int8Linear {
    /// Quantizes an f32 weight (`n × k`, PyTorch's layout) and bias for `kernel`.
    pub fn from_f32(weight: &[f32], n: usize, k: usize, bias: Option<&[f32]>, kernel: Kernel) -> Int8Linear {
        assert_eq!(weight.len(), n * k, "weight is n × k");
        let (q, scales) = quantize_rows(weight, k);
        Self::from_quantized(q, scales, n, k, bias, kernel)
    }

    /// Packs weights already quantized (`q` `n × k`, one scale per row) for `kernel`.
    pub fn from_quantized(
        q: Vec<i8>,
        scales: Vec<f32>,
        n: usize,
        k: usize,
        bias: Option<&[f32]>,
        kernel: Kernel,
    ) -> Int8Linear {
        assert_eq!(q.len(), n * k, "weight is n × k");
        assert_eq!(scales.len(), n, "one scale per output");
        let bias = bias.map_or_else(|| vec![0.0; n], <[f32]>::to_vec);
        let (panel, group) = (kernel.panel(), kernel.k_group());
        let kp = k.div_ceil(group) * group;
        let panels = n.div_ceil(panel);
        let np = panels * panel;
        let at = |col: usize, kk: usize| if col < n && kk < k { q[col * k + kk] } else { 0 };
        let packed = match kernel {
            Kernel::Portable => Packed::None,
            Kernel::Avx512Vnni => {
                let mut data = Vec::with_capacity(np * kp);
                for p in 0..panels {
                    for g in 0..kp / 4 {
                        for j in 0..16 {
                            for t in 0..4 {
                                data.push(at(p * 16 + j, g * 4 + t));
                            }
                        }
                    }
                }
                Packed::Bytes(data)
            }
            Kernel::Avx2 => {
                let mut data = Vec::with_capacity(np * kp);
                for p in 0..panels {
                    for g in 0..kp / 2 {
                        for j in 0..8 {
                            for t in 0..2 {
                                data.push(i16::from(at(p * 8 + j, g * 2 + t)));
                            }
                        }
                    }
                }
                Packed::Words(data)
            }
        };
        let pad = |v: &[f32]| {
            let mut p = v.to_vec();
            p.resize(np, 0.0);
            p
        };
        let corr_p =
            (0..np)
                .map(|col| {
                    if col < n {
                        128 * q[col * k..(col + 1) * k].iter().map(|&v| i32::from(v)).sum::<i32>()
                    } else {
                        0
                    }
                })
                .collect();
        Int8Linear { scales_p: pad(&scales), bias_p: pad(&bias), corr_p, n, k, q, scales, bias, kernel, kp, packed }
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.n
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        self.k
    }

    /// The quantized weights (`n × k`) and their per-row scales.
    pub fn weights(&self) -> (&[i8], &[f32]) {
        (&self.q, &self.scales)
    }

    /// The kernel it is packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// `x Wᵀ + b` for `x` of `m × k` (row-major), `m × n` out.
    pub fn forward_slice(&self, x: &[f32]) -> Vec<f32> {
        let (n, k, kp) = (self.n, self.k, self.kp);
        let m = x.len().checked_div(k).unwrap_or(0);
        let mut out = vec![0f32; m * n];
        if m == 0 || n == 0 {
            return out;
        }
        // Each row's activations quantized, in the kernel's element type, K padded.
        let mut sx = vec![0f32; m];
        let mut bytes: Vec<u8> = Vec::new();
        let mut words: Vec<i16> = Vec::new();
        const QUANT_ROWS: usize = 16;
        match self.kernel {
            Kernel::Avx512Vnni => {
                bytes = vec![128u8; m * kp];
                let chunks = x.par_chunks(k * QUANT_ROWS).zip(bytes.par_chunks_mut(kp * QUANT_ROWS));
                chunks.zip(sx.par_chunks_mut(QUANT_ROWS)).for_each(|((x, dst), sx)| {
                    for ((row, dst), s) in x.chunks_exact(k).zip(dst.chunks_exact_mut(kp)).zip(sx) {
                        #[cfg(target_arch = "x86_64")]
                        {
                            // SAFETY: this kernel is chosen only where the CPU has AVX-512.
                            *s = unsafe { x86::quantize_row_offset(row, &mut dst[..k]) };
                        }
                        #[cfg(not(target_arch = "x86_64"))]
                        {
                            *s = quantize_row(row, &mut dst[..k], |q| (q as u8) ^ 0x80);
                        }
                    }
                });
            }
            Kernel::Avx2 | Kernel::Portable => {
                words = vec![0i16; m * kp];
                let chunks = x.par_chunks(k * QUANT_ROWS).zip(words.par_chunks_mut(kp * QUANT_ROWS));
                chunks.zip(sx.par_chunks_mut(QUANT_ROWS)).for_each(|((x, dst), sx)| {
                    for ((row, dst), s) in x.chunks_exact(k).zip(dst.chunks_exact_mut(kp)).zip(sx) {
                        #[cfg(target_arch = "x86_64")]
                        if self.kernel == Kernel::Avx2 {
                            // SAFETY: this kernel is chosen only where the CPU has AVX2.
                            *s = unsafe { x86::quantize_row_words(row, &mut dst[..k]) };
                            continue;
                        }
                        *s = quantize_row(row, &mut dst[..k], i16::from);
                    }
                });
            }
        }
        // Work split into blocks of rows × panels, spread over the threads.
        let panel = self.kernel.panel().max(8);
        let col_blocks = n.div_ceil(panel * 4);
        let threads = rayon::current_num_threads().max(1);
        let row_block = (m.div_ceil(threads * 4)).clamp(6, 48).div_ceil(6) * 6;
        let row_blocks = m.div_ceil(row_block);
        let col_block = if row_blocks >= threads * 2 { n } else { panel * 4 };
        let col_blocks = if col_block == n { 1 } else { col_blocks };
        let out_ptr = SendPtr(out.as_mut_ptr());
        (0..row_blocks * col_blocks).into_par_iter().for_each(|task| {
            let (rb, cb) = (task / col_blocks, task % col_blocks);
            let rows = rb * row_block..((rb + 1) * row_block).min(m);
            let cols = cb * col_block..((cb + 1) * col_block).min(n);
            let out_ptr = &out_ptr;
            // SAFETY: tasks write disjoint (row, column) blocks of `out`, which outlives them.
            unsafe { self.block(&bytes, &words, &sx, rows, cols, out_ptr.0) };
        });
        out
    }

    /// Computes `out[rows][cols]`; `cols.start` is a multiple of the panel width.
    ///
    /// # Safety
    /// `out` points to `m × n` f32 and no other thread writes this block.
    unsafe fn block(
        &self,
        bytes: &[u8],
        words: &[i16],
        sx: &[f32],
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        out: *mut f32,
    ) {
        unsafe {
            match (&self.packed, self.kernel) {
                #[cfg(target_arch = "x86_64")]
                (Packed::Bytes(w), Kernel::Avx512Vnni) => x86::vnni_block(self, w, bytes, sx, rows, cols, out),
                #[cfg(target_arch = "x86_64")]
                (Packed::Words(w), Kernel::Avx2) => x86::avx2_block(self, w, words, sx, rows, cols, out),
                _ => {
                    let _ = bytes;
                    for r in rows {
                        let xr = &words[r * self.kp..r * self.kp + self.k];
                        for c in cols.clone() {
                            let wr = &self.q[c * self.k..(c + 1) * self.k];
                            let acc: i32 = xr.iter().zip(wr).map(|(&a, &b)| i32::from(a) * i32::from(b)).sum();
                            *out.add(r * self.n + c) = self.finish(acc, c, sx[r]);
                        }
                    }
                }
            }
        }
    }

    /// The output from an exact integer sum: the same two roundings in every kernel.
    #[inline(always)]
    fn finish(&self, acc: i32, col: usize, sx: f32) -> f32 {
        acc as f32 * (self.scales[col] * sx) + self.bias[col]
    }

    /// Applies the layer to a CPU f32 tensor of shape `(..., in_features)`.
    pub fn forward(self: &Arc<Self>, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(&Int8Op(self.clone()))
    }
}

struct SendPtr(*mut f32);
// SAFETY: used only to hand disjoint blocks of one output buffer to rayon's threads.
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

struct Int8Op(Arc<Int8Linear>);

impl CustomOp1 for Int8Op {
    fn name(&self) -> &'static str {
        "finelab-int8-linear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = s else { candle_core::bail!("int8 linear: f32 input expected") };
        let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("int8 linear: contiguous input expected") };
        let mut dims = l.shape().dims().to_vec();
        match dims.last_mut() {
            Some(last) if *last == self.0.k => *last = self.0.n,
            _ => candle_core::bail!("int8 linear: input of width {} expected, got {:?}", self.0.k, l.shape()),
        }
        Ok((CpuStorage::F32(self.0.forward_slice(&data[a..b])), Shape::from(dims)))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Int8Linear;
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// Rows a micro-tile computes at once.
    const MR: usize = 6;

    /// Walks `rows × cols` in tiles of `mr` rows (single rows at the end) by two panels of
    /// `panel` columns (one at the end): `tile(row, col, whole rows, two panels)`.
    fn for_each_tile(
        rows: Range<usize>,
        cols: Range<usize>,
        panel: usize,
        mr: usize,
        mut tile: impl FnMut(usize, usize, bool, bool),
    ) {
        let mut c = cols.start;
        while c < cols.end {
            let two = cols.end - c > panel;
            let mut r = rows.start;
            while r < rows.end {
                let full = rows.end - r >= mr;
                tile(r, c, full, two);
                r += if full { mr } else { 1 };
            }
            c += if two { 2 * panel } else { panel };
        }
    }

    /// [`super::quantize_row`] into offset bytes (`q + 128`), 16 values at a time: the same
    /// scale, rounding (to nearest, ties to even) and clamp, so the same bytes.
    ///
    /// # Safety
    /// The CPU has AVX-512 F/BW/VL.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    pub(super) unsafe fn quantize_row_offset(row: &[f32], dst: &mut [u8]) -> f32 {
        unsafe {
            let (scale, inv) = super::row_scale_from(amax16(row));
            let inv = _mm512_set1_ps(inv);
            let (lo, hi) = (_mm512_set1_epi32(-127), _mm512_set1_epi32(127));
            let flip = _mm_set1_epi8(-128);
            for (i, chunk) in row.chunks(16).enumerate() {
                let mask: __mmask16 = if chunk.len() == 16 { 0xFFFF } else { (1u16 << chunk.len()) - 1 };
                let v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, chunk.as_ptr()), inv);
                let r = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
                let q = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(r), lo), hi);
                let b = _mm_xor_si128(_mm512_cvtepi32_epi8(q), flip);
                _mm_mask_storeu_epi8(dst.as_mut_ptr().add(i * 16) as *mut i8, mask, b);
            }
            scale
        }
    }

    /// [`super::quantize_row`] into 16-bit values, 8 at a time (same values).
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize_row_words(row: &[f32], dst: &mut [i16]) -> f32 {
        unsafe {
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let (scale, inv_s) = super::row_scale_from(amax);
            let inv = _mm256_set1_ps(inv_s);
            let (lo, hi) = (_mm256_set1_epi32(-127), _mm256_set1_epi32(127));
            let whole = row.len() / 8 * 8;
            for i in (0..whole).step_by(8) {
                let v = _mm256_mul_ps(_mm256_loadu_ps(row.as_ptr().add(i)), inv);
                let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v);
                let q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(r), lo), hi);
                let packed = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
                _mm_storeu_si128(dst.as_mut_ptr().add(i) as *mut __m128i, packed);
            }
            for i in whole..row.len() {
                dst[i] = i16::from(super::quantize(row[i], inv_s));
            }
            scale
        }
    }

    /// `max |v|` over `row`.
    #[target_feature(enable = "avx512f")]
    unsafe fn amax16(row: &[f32]) -> f32 {
        unsafe {
            let mut m = _mm512_setzero_ps();
            for chunk in row.chunks(16) {
                let mask: __mmask16 = if chunk.len() == 16 { 0xFFFF } else { (1u16 << chunk.len()) - 1 };
                m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, chunk.as_ptr())));
            }
            _mm512_reduce_max_ps(m)
        }
    }

    /// # Safety
    /// The CPU has AVX-512 F/BW/VNNI; see [`Int8Linear::block`].
    pub(super) unsafe fn vnni_block(
        l: &Int8Linear,
        w: &[i8],
        x: &[u8],
        sx: &[f32],
        rows: Range<usize>,
        cols: Range<usize>,
        out: *mut f32,
    ) {
        let panel_bytes = l.kp * 16;
        for_each_tile(rows, cols.clone(), 16, MR, |r, c, full, two| unsafe {
            let (wp, xp) = (w.as_ptr().add((c / 16) * panel_bytes), x.as_ptr().add(r * l.kp));
            match (full, two) {
                (true, true) => vnni_tile::<MR, 2>(l, wp, panel_bytes, xp, sx, r, c, cols.end, out),
                (true, false) => vnni_tile::<MR, 1>(l, wp, panel_bytes, xp, sx, r, c, cols.end, out),
                (false, true) => vnni_tile::<1, 2>(l, wp, panel_bytes, xp, sx, r, c, cols.end, out),
                (false, false) => vnni_tile::<1, 1>(l, wp, panel_bytes, xp, sx, r, c, cols.end, out),
            }
        });
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn vnni_tile<const R: usize, const P: usize>(
        l: &Int8Linear,
        w: *const i8,
        panel_bytes: usize,
        x: *const u8,
        sx: &[f32],
        row: usize,
        col: usize,
        col_end: usize,
        out: *mut f32,
    ) {
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); P]; R];
            for g in 0..l.kp / 4 {
                let mut b = [_mm512_setzero_si512(); P];
                for (p, bp) in b.iter_mut().enumerate() {
                    *bp = _mm512_loadu_si512(w.add(p * panel_bytes + g * 64) as *const _);
                }
                for (r, accr) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_epi32((x.add(r * l.kp + g * 4) as *const i32).read_unaligned());
                    for p in 0..P {
                        accr[p] = _mm512_dpbusd_epi32(accr[p], a, b[p]);
                    }
                }
            }
            for (r, accr) in acc.iter().enumerate() {
                let s = _mm512_set1_ps(sx[row + r]);
                for (p, a) in accr.iter().enumerate() {
                    let c = col + p * 16;
                    let corr = _mm512_loadu_si512(l.corr_p.as_ptr().add(c) as *const _);
                    let scale = _mm512_mul_ps(_mm512_loadu_ps(l.scales_p.as_ptr().add(c)), s);
                    let v = _mm512_cvtepi32_ps(_mm512_sub_epi32(*a, corr));
                    let y = _mm512_add_ps(_mm512_mul_ps(v, scale), _mm512_loadu_ps(l.bias_p.as_ptr().add(c)));
                    let valid = col_end.saturating_sub(c).min(16);
                    let mask: __mmask16 = if valid == 16 { 0xFFFF } else { (1u16 << valid) - 1 };
                    _mm512_mask_storeu_ps(out.add((row + r) * l.n + c), mask, y);
                }
            }
        }
    }

    /// # Safety
    /// The CPU has AVX2; see [`Int8Linear::block`].
    pub(super) unsafe fn avx2_block(
        l: &Int8Linear,
        w: &[i16],
        x: &[i16],
        sx: &[f32],
        rows: Range<usize>,
        cols: Range<usize>,
        out: *mut f32,
    ) {
        const MR2: usize = 4;
        let panel_words = l.kp * 8;
        for_each_tile(rows, cols.clone(), 8, MR2, |r, c, full, two| unsafe {
            let (wp, xp) = (w.as_ptr().add((c / 8) * panel_words), x.as_ptr().add(r * l.kp));
            match (full, two) {
                (true, true) => avx2_tile::<MR2, 2>(l, wp, panel_words, xp, sx, r, c, cols.end, out),
                (true, false) => avx2_tile::<MR2, 1>(l, wp, panel_words, xp, sx, r, c, cols.end, out),
                (false, true) => avx2_tile::<1, 2>(l, wp, panel_words, xp, sx, r, c, cols.end, out),
                (false, false) => avx2_tile::<1, 1>(l, wp, panel_words, xp, sx, r, c, cols.end, out),
            }
        });
    }

    #[target_feature(enable = "avx2")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn avx2_tile<const R: usize, const P: usize>(
        l: &Int8Linear,
        w: *const i16,
        panel_words: usize,
        x: *const i16,
        sx: &[f32],
        row: usize,
        col: usize,
        col_end: usize,
        out: *mut f32,
    ) {
        unsafe {
            let mut acc = [[_mm256_setzero_si256(); P]; R];
            for g in 0..l.kp / 2 {
                let mut b = [_mm256_setzero_si256(); P];
                for (p, bp) in b.iter_mut().enumerate() {
                    *bp = _mm256_loadu_si256(w.add(p * panel_words + g * 16) as *const _);
                }
                for (r, accr) in acc.iter_mut().enumerate() {
                    let a = _mm256_set1_epi32((x.add(r * l.kp + g * 2) as *const i32).read_unaligned());
                    for p in 0..P {
                        accr[p] = _mm256_add_epi32(accr[p], _mm256_madd_epi16(a, b[p]));
                    }
                }
            }
            let mut sums = [0i32; 8];
            for (r, accr) in acc.iter().enumerate() {
                for (p, a) in accr.iter().enumerate() {
                    _mm256_storeu_si256(sums.as_mut_ptr() as *mut _, *a);
                    let c = col + p * 8;
                    for (j, &sum) in sums.iter().enumerate().take(col_end.saturating_sub(c).min(8)) {
                        *out.add((row + r) * l.n + c + j) = l.finish(sum, c + j, sx[row + r]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use crate::transformer::nn::normal;

    fn reference(x: &[f32], w: &[f32], bias: &[f32], n: usize, k: usize) -> Vec<f32> {
        let m = x.len() / k;
        let mut out = vec![0f32; m * n];
        for r in 0..m {
            for c in 0..n {
                let dot: f64 = (0..k).map(|i| f64::from(x[r * k + i]) * f64::from(w[c * k + i])).sum();
                out[r * n + c] = dot as f32 + bias[c];
            }
        }
        out
    }

    #[test]
    fn every_kernel_gives_the_portable_result_bit_for_bit_and_close_to_f32() {
        let mut rng = SplitMix64::new(7);
        // Shapes off every panel, group and tile boundary, and a BERT-sized one.
        for &(m, n, k) in &[(1, 1, 1), (5, 17, 7), (13, 33, 30), (7, 40, 65), (64, 384, 384), (37, 96, 1536)] {
            let x = normal(&mut rng, m * k, 1.0);
            let w = normal(&mut rng, n * k, 0.05);
            let bias = normal(&mut rng, n, 0.1);
            let portable = Int8Linear::from_f32(&w, n, k, Some(&bias), Kernel::Portable).forward_slice(&x);
            for kernel in Kernel::available() {
                let y = Int8Linear::from_f32(&w, n, k, Some(&bias), kernel).forward_slice(&x);
                assert_eq!(y.len(), m * n);
                let same = y.iter().zip(&portable).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{} differs from the portable kernel at {m}×{n}×{k}", kernel.name());
            }
            // Against f32: the error of 8-bit rounding on both sides, relative to the scale of
            // the outputs.
            let exact = reference(&x, &w, &bias, n, k);
            let rms = (exact.iter().map(|v| v * v).sum::<f32>() / exact.len() as f32).sqrt();
            let worst = portable.iter().zip(&exact).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let rms_err =
                (portable.iter().zip(&exact).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / exact.len() as f32).sqrt();
            assert!(rms_err <= 0.02 * rms + 1e-6, "{m}×{n}×{k}: rms error {rms_err} against rms {rms}");
            assert!(worst <= 0.08 * rms + 1e-6, "{m}×{n}×{k}: worst error {worst} against rms {rms}");
        }
    }

    #[test]
    fn rows_quantize_to_the_nearest_step_of_their_scale() {
        let (q, s) = quantize_rows(&[0.5, -1.0, 0.25, 0.0, 0.0, 0.0], 3);
        assert_eq!(q, vec![64, -127, 32, 0, 0, 0]);
        assert_eq!(s, vec![1.0 / 127.0, 1.0]);
        // A weight quantized, dequantized and quantized again comes back the same.
        let mut rng = SplitMix64::new(3);
        let w = normal(&mut rng, 64 * 48, 0.3);
        let (q, s) = quantize_rows(&w, 48);
        let back: Vec<f32> = q.iter().enumerate().map(|(i, &v)| f32::from(v) * s[i / 48]).collect();
        assert_eq!(quantize_rows(&back, 48).0, q);
    }

    #[test]
    fn the_op_keeps_leading_dimensions() {
        let mut rng = SplitMix64::new(5);
        let (n, k) = (12, 20);
        let w = normal(&mut rng, n * k, 0.1);
        let layer = Arc::new(Int8Linear::from_f32(&w, n, k, None, Kernel::best()));
        let x = Tensor::from_vec(normal(&mut rng, 2 * 3 * k, 1.0), (2, 3, k), &candle_core::Device::Cpu).unwrap();
        let y = layer.forward(&x).unwrap();
        assert_eq!(y.dims(), &[2, 3, n]);
        let flat: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(flat, layer.forward_slice(&x.flatten_all().unwrap().to_vec1::<f32>().unwrap()));
        assert!(layer
            .forward(&Tensor::zeros((2, 5), candle_core::DType::F32, &candle_core::Device::Cpu).unwrap())
            .is_err());
    }
}
