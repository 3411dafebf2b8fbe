//! The source of masking keys and handshake nonces.
//!
//! RFC 6455 §5.3 and §10.3 require client masking keys to be unpredictable, so the
//! default source draws on the operating system's CSPRNG. Tests and fuzzers plug in a
//! deterministic source through [`Connection::upgraded_with_rng`](crate::Connection::upgraded_with_rng).

/// Fills buffers with random bytes. Implement it to control masking keys and handshake
/// keys (deterministic tests, fuzzing, an embedded hardware RNG).
pub trait Rng: Send {
    /// Fills `dest` entirely with random bytes.
    fn fill(&mut self, dest: &mut [u8]);

    /// A 4-byte masking key: by default [`fill`](Self::fill) on 4 bytes. A source that
    /// buffers can hand them out more cheaply ([`OsRng`] does); the bytes must be the same
    /// ones `fill` would give.
    fn mask_key(&mut self) -> [u8; 4] {
        let mut key = [0; 4];
        self.fill(&mut key);
        key
    }
}

impl<R: Rng + ?Sized> Rng for alloc::boxed::Box<R> {
    fn fill(&mut self, dest: &mut [u8]) {
        (**self).fill(dest)
    }

    fn mask_key(&mut self) -> [u8; 4] {
        (**self).mask_key()
    }
}

/// The operating system's CSPRNG (via `getrandom`), read 256 bytes at a time so that a
/// masking key costs a copy rather than a system call.
#[cfg(feature = "std")]
pub struct OsRng {
    buf: [u8; 256],
    pos: usize,
}

#[cfg(feature = "std")]
impl OsRng {
    /// A new source; the first draw reads from the OS.
    pub fn new() -> Self {
        OsRng {
            buf: [0; 256],
            pos: 256,
        }
    }
}

#[cfg(feature = "std")]
impl Default for OsRng {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl core::fmt::Debug for OsRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("OsRng")
    }
}

#[cfg(feature = "std")]
impl Rng for OsRng {
    #[inline]
    fn mask_key(&mut self) -> [u8; 4] {
        // The next 4 buffered bytes when there are (no loop, no slicing); else `fill`,
        // which refills. `pos` only moves forward: no byte is handed out twice.
        match self.buf.get(self.pos..self.pos + 4) {
            Some(&[a, b, c, d]) => {
                self.pos += 4;
                [a, b, c, d]
            }
            _ => {
                let mut key = [0; 4];
                self.fill(&mut key);
                key
            }
        }
    }

    fn fill(&mut self, dest: &mut [u8]) {
        let mut written = 0;
        while written < dest.len() {
            if self.pos == self.buf.len() {
                // Without entropy there is no safe masking key: this is the one place the
                // crate gives up. getrandom fails only when the OS has no random source.
                getrandom::fill(&mut self.buf).expect("the OS random source failed");
                self.pos = 0;
            }
            let n = (dest.len() - written).min(self.buf.len() - self.pos);
            // `pos` only moves forward, so no byte is handed out twice.
            dest[written..written + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            written += n;
        }
    }
}
