//! An in-memory transport standing for a socket, for every library.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a read returns, like a socket read into a 64 KiB buffer.
pub const READ_SIZE: usize = 64 << 10;

/// Reads that returned data, by every [`MemIo`] (the sweep reports reads per message).
pub static READS: AtomicUsize = AtomicUsize::new(0);

/// Reads replay `wire` `repeat` times, at most [`READ_SIZE`] bytes per read. Writes are
/// copied into `sink` (the copy a socket write makes); only the last write is kept unless
/// `keep` is set (verification runs keep everything).
pub struct MemIo<'a> {
    wire: &'a [u8],
    pos: usize,
    passes_left: usize,
    pub sink: Vec<u8>,
    keep: bool,
    pub written: usize,
}

impl<'a> MemIo<'a> {
    pub fn new(wire: &'a [u8], repeat: usize, keep: bool) -> Self {
        MemIo {
            wire,
            pos: 0,
            passes_left: repeat.saturating_sub(1),
            sink: Vec::new(),
            keep,
            written: 0,
        }
    }

    /// Copies the next input bytes into `dst`; 0 once all passes are read.
    pub fn read_into(&mut self, dst: &mut [u8]) -> usize {
        let src = self.next_chunk(dst.len());
        dst[..src.len()].copy_from_slice(src);
        src.len()
    }

    /// The next input bytes, at most `max` of them, consumed.
    fn next_chunk(&mut self, max: usize) -> &'a [u8] {
        if self.pos == self.wire.len() && self.passes_left > 0 {
            self.pos = 0;
            self.passes_left -= 1;
        }
        let n = max.min(READ_SIZE).min(self.wire.len() - self.pos);
        if n > 0 {
            READS.fetch_add(1, Ordering::Relaxed);
        }
        self.pos += n;
        &self.wire[self.pos - n..self.pos]
    }

    /// Copies the buffers into the sink; returns the count (all of it).
    pub fn write_from<'b>(&mut self, bufs: impl IntoIterator<Item = &'b [u8]>) -> usize {
        if !self.keep {
            self.sink.clear();
        }
        let before = self.sink.len();
        bufs.into_iter()
            .for_each(|b| self.sink.extend_from_slice(b));
        let n = self.sink.len() - before;
        self.written += n;
        n
    }
}

impl io::Read for MemIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl io::Write for MemIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.write_from([buf]))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemIo<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // `put_slice` writes into uninitialised spare room without zeroing it first, as a
        // socket read does.
        let chunk = self.get_mut().next_chunk(buf.remaining());
        buf.put_slice(chunk);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemIo<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().write_from([buf])))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(self.get_mut().write_from(bufs.iter().map(|b| &**b))))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
