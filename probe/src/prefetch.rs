//! Software prefetch: the one place in the probe that uses `unsafe`.
//!
//! The per-packet path looks up rows in tables far larger than the CPU caches; a lookup is a
//! DRAM miss (~100 ns) that nothing else can hide. Frames are therefore decoded a few packets
//! ahead of their accounting and their rows prefetched, so several misses overlap.

/// Hints the CPU to bring the first `lines` cache lines of `*p` into the caches.
#[inline(always)]
pub fn prefetch<T>(p: &T, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let base = (p as *const T).cast::<i8>();
        for i in 0..lines {
            // SAFETY: PREFETCHT0 is a hint: it never faults, never changes memory and has no
            // effect the program can observe other than timing, whatever address it is given.
            // `wrapping_add` keeps the address computation itself free of UB.
            #[allow(unsafe_code)]
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(base.wrapping_add(64 * i));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (p, lines);
    }
}
