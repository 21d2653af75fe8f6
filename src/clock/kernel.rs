//! The kernel's own view of the wall clock: `adjtimex(2)` with `modes = 0`, which only reads
//! (no privilege needed). The same source as node_exporter's timex collector and
//! `timedatectl`'s "System clock synchronized".
//!
//! These figures are what the NTP daemon last told the kernel, not a measurement: `maxerror`
//! sits at 16 s when nothing disciplines the clock, and a daemon that stopped leaves the last
//! values to age. The exporter puts them next to its own measured offset.

use std::io;

/// What `adjtimex` says of the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelClock {
    /// False when the call returns `TIME_ERROR` or the status has `STA_UNSYNC` set.
    pub synchronized: bool,
    /// The kernel's maximum error, seconds.
    pub maxerror: f64,
    /// The kernel's estimated error, seconds.
    pub esterror: f64,
}

/// Reads the kernel's clock state. Errors where `adjtimex` fails or does not exist.
pub fn read() -> io::Result<KernelClock> {
    imp::read()
}

/// Interprets one `adjtimex` answer: its return value (the clock state), `status` bits and
/// the two error fields in microseconds.
pub fn interpret(state: i32, status: i32, maxerror_us: i64, esterror_us: i64) -> KernelClock {
    const TIME_ERROR: i32 = 5;
    const STA_UNSYNC: i32 = 0x0040;
    KernelClock {
        synchronized: state != TIME_ERROR && status & STA_UNSYNC == 0,
        maxerror: maxerror_us.max(0) as f64 / 1e6,
        esterror: esterror_us.max(0) as f64 / 1e6,
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::{interpret, KernelClock};

    #[allow(clippy::useless_conversion, reason = "c_long is i32 on 32-bit targets")]
    pub fn read() -> std::io::Result<KernelClock> {
        // SAFETY: timex is a plain C struct for which all-zero bytes are a valid value; with
        // `modes = 0` adjtimex only writes the current state into it.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        tx.modes = 0;
        // SAFETY: `tx` is a valid, writable timex for the duration of the call.
        let state = unsafe { libc::adjtimex(&mut tx) };
        if state < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(interpret(
            state,
            tx.status,
            i64::from(tx.maxerror),
            i64::from(tx.esterror),
        ))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn read() -> std::io::Result<super::KernelClock> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "adjtimex exists on Linux only",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpret_states_and_flags() {
        // TIME_OK, no flags: synchronised.
        let k = interpret(0, 0, 16_000, 250);
        assert!(k.synchronized);
        assert_eq!(k.maxerror, 0.016);
        assert_eq!(k.esterror, 0.00025);
        // STA_UNSYNC set (the state an undisciplined clock boots with), as with
        // STA_PLL | STA_UNSYNC.
        assert!(!interpret(0, 0x0041, 16_000_000, 16_000_000).synchronized);
        // TIME_ERROR whatever the status.
        assert!(!interpret(5, 0, 0, 0).synchronized);
        // TIME_INS / TIME_DEL / TIME_OOP / TIME_WAIT are leap states of a synchronised clock.
        for state in 1..=4 {
            assert!(interpret(state, 0x0001, 1, 1).synchronized, "state {state}");
        }
        // Never negative.
        assert_eq!(interpret(0, 0, -3, -3).maxerror, 0.0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_kernel() {
        let k = read().expect("adjtimex(modes = 0) needs no privilege");
        assert!(k.maxerror >= 0.0 && k.maxerror.is_finite());
        assert!(k.esterror >= 0.0 && k.esterror.is_finite());
    }
}
