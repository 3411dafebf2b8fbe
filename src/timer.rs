//! Deadlines without a clock: the driver passes "now" in, the connection says when it next
//! needs to be woken (as quinn-proto does). Times are [`Timestamp`]s; the connection is
//! created with one, so every timer has a base from the start.

use core::time::Duration;

use crate::time::Timestamp;

/// The connection's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The opening handshake must finish by then.
    Handshake,
    /// After our Close (or a failure): the peer's Close, the output drain, or the server's
    /// end of stream must come by then.
    Close,
    /// Keepalive: send a Ping by then (no input since), or, with a Ping outstanding, the
    /// peer must have answered by then.
    Keepalive,
    /// No input or output since: give back buffer memory.
    Idle,
}

const TIMERS: usize = 4;

/// The last known time and one deadline per [`Timer`].
#[derive(Clone, Debug)]
pub(crate) struct Timers {
    now: Timestamp,
    deadlines: [Option<Timestamp>; TIMERS],
}

impl Timers {
    /// No timer armed; the time is `now`.
    pub(crate) fn new(now: Timestamp) -> Self {
        Timers {
            now,
            deadlines: [None; TIMERS],
        }
    }

    /// Sets `timer` to fire `after` from now (replacing an earlier setting).
    pub(crate) fn arm(&mut self, timer: Timer, after: Duration) {
        self.deadlines[timer as usize] = Some(self.now + after);
    }

    /// Sets `timer` from an optional timeout: `None` disarms it.
    pub(crate) fn set(&mut self, timer: Timer, after: Option<Duration>) {
        match after {
            Some(after) => self.arm(timer, after),
            None => self.stop(timer),
        }
    }

    /// Disarms `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// Records the current time (never moving backwards).
    pub(crate) fn set_now(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    /// Disarms and returns `timer` if it has expired.
    pub(crate) fn take_expired(&mut self, timer: Timer) -> bool {
        match self.deadlines[timer as usize] {
            Some(at) if at <= self.now => {
                self.deadlines[timer as usize] = None;
                true
            }
            _ => false,
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Timestamp> {
        self.deadlines.iter().flatten().copied().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn at(secs: u32) -> Timestamp {
        Timestamp::from_duration(secs * S)
    }

    #[test]
    fn timers_count_from_the_creation_time() {
        let mut t = Timers::new(at(1000));
        t.arm(Timer::Handshake, 10 * S);
        assert_eq!(t.next(), Some(at(1010)));
        t.set_now(at(1009));
        assert!(!t.take_expired(Timer::Handshake));
        t.set_now(at(1010));
        assert!(t.take_expired(Timer::Handshake));
        assert!(!t.take_expired(Timer::Handshake));
        assert_eq!(t.next(), None);
    }

    #[test]
    fn earliest_deadline_wins_and_time_never_goes_back() {
        let mut t = Timers::new(at(5));
        t.arm(Timer::Close, 3 * S);
        t.arm(Timer::Keepalive, 2 * S);
        assert_eq!(t.next(), Some(at(7)));
        t.set_now(at(1)); // ignored: earlier than before
        assert!(!t.take_expired(Timer::Keepalive));
        t.set_now(at(7));
        assert!(t.take_expired(Timer::Keepalive));
        assert!(!t.take_expired(Timer::Close));
        assert_eq!(t.next(), Some(at(8)));
        t.set(Timer::Close, None);
        assert_eq!(t.next(), None);
    }
}
