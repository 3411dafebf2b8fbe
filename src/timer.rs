//! Deadlines without a clock: the driver passes "now" in, the connection says when it next
//! needs to be woken (as quinn-proto does).
//!
//! Time is a `Duration` since an epoch the driver picks. A timer armed before the driver
//! has ever said what time it is waits for the first reading and counts from there, so a
//! connection created long after the epoch does not time out at once.

use core::time::Duration;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    Off,
    /// Armed before the first clock reading: fires this long after it.
    Waiting(Duration),
    At(Duration),
}

/// The last known time and one deadline per [`Timer`].
#[derive(Clone, Debug)]
pub(crate) struct Timers {
    now: Option<Duration>,
    deadlines: [Deadline; TIMERS],
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            now: None,
            deadlines: [Deadline::Off; TIMERS],
        }
    }
}

impl Timers {
    /// Sets `timer` to fire `after` from now (replacing an earlier setting).
    pub(crate) fn arm(&mut self, timer: Timer, after: Duration) {
        self.deadlines[timer as usize] = match self.now {
            Some(now) => Deadline::At(now.saturating_add(after)),
            None => Deadline::Waiting(after),
        };
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
        self.deadlines[timer as usize] = Deadline::Off;
    }

    /// Records the current time (never moving backwards) and starts timers that were
    /// waiting for a first reading.
    pub(crate) fn set_now(&mut self, now: Duration) {
        let now = self.now.map_or(now, |old| old.max(now));
        self.now = Some(now);
        for deadline in &mut self.deadlines {
            if let Deadline::Waiting(after) = *deadline {
                *deadline = Deadline::At(now.saturating_add(after));
            }
        }
    }

    /// Disarms and returns `timer` if it has expired.
    pub(crate) fn take_expired(&mut self, timer: Timer) -> bool {
        match (self.deadlines[timer as usize], self.now) {
            (Deadline::At(at), Some(now)) if at <= now => {
                self.deadlines[timer as usize] = Deadline::Off;
                true
            }
            _ => false,
        }
    }

    /// The earliest deadline. A timer still waiting for a first reading asks to be woken
    /// at once (`Duration::ZERO`), so the driver tells the time.
    pub(crate) fn next(&self) -> Option<Duration> {
        self.deadlines
            .iter()
            .filter_map(|d| match *d {
                Deadline::Off => None,
                Deadline::Waiting(_) => Some(Duration::ZERO),
                Deadline::At(at) => Some(at),
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn timers_armed_before_the_clock_count_from_the_first_reading() {
        let mut t = Timers::default();
        t.arm(Timer::Handshake, 10 * S);
        assert_eq!(t.next(), Some(Duration::ZERO));
        t.set_now(1000 * S);
        assert_eq!(t.next(), Some(1010 * S));
        assert!(!t.take_expired(Timer::Handshake));
        t.set_now(1010 * S);
        assert!(t.take_expired(Timer::Handshake));
        assert!(!t.take_expired(Timer::Handshake));
        assert_eq!(t.next(), None);
    }

    #[test]
    fn earliest_deadline_wins_and_time_never_goes_back() {
        let mut t = Timers::default();
        t.set_now(5 * S);
        t.arm(Timer::Close, 3 * S);
        t.arm(Timer::Keepalive, 2 * S);
        assert_eq!(t.next(), Some(7 * S));
        t.set_now(S); // ignored: earlier than before
        assert!(!t.take_expired(Timer::Keepalive));
        t.set_now(7 * S);
        assert!(t.take_expired(Timer::Keepalive));
        assert!(!t.take_expired(Timer::Close));
        assert_eq!(t.next(), Some(8 * S));
        t.set(Timer::Close, None);
        assert_eq!(t.next(), None);
    }
}
