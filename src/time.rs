//! Time as an input: [`Timestamp`], the one type every call that needs the time takes.
//!
//! The connection reads no clock. The driver passes "now" in (at creation and to
//! [`Connection::handle_timeout`](crate::Connection::handle_timeout)) and asks
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout) when to do so next.

use core::ops::Add;
use core::time::Duration;

/// A point in time: the time elapsed since an origin the driver picks.
///
/// Without `std`, build it from a monotonic counter with [`Timestamp::from_duration`]
/// (milliseconds since boot, ticks of a hardware timer...). With `std`, a
/// [`std::time::Instant`] converts to and from it: `Timestamp::from(Instant::now())`, and
/// `Instant::from(timestamp)` to sleep until a deadline. Use one kind per connection:
/// durations from your own origin, or `Instant`s.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ws_proto::Timestamp;
///
/// let start = Instant::now();
/// let t = Timestamp::from(start);
/// let later = t + Duration::from_secs(5);
/// assert_eq!(Instant::from(later), start + Duration::from_secs(5));
/// assert_eq!(later.saturating_duration_since(t), Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The origin.
    pub const ZERO: Timestamp = Timestamp(Duration::ZERO);

    /// The time `since_origin` after the driver's origin.
    pub const fn from_duration(since_origin: Duration) -> Self {
        Timestamp(since_origin)
    }

    /// The time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturates instead of overflowing.
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs))
    }
}

impl From<Duration> for Timestamp {
    fn from(since_origin: Duration) -> Self {
        Timestamp(since_origin)
    }
}

/// The origin of `Instant` conversions: the first `Instant` ever converted in this
/// process. Instants from before it convert to [`Timestamp::ZERO`].
#[cfg(feature = "std")]
static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

#[cfg(feature = "std")]
impl From<std::time::Instant> for Timestamp {
    fn from(instant: std::time::Instant) -> Self {
        let origin = *ORIGIN.get_or_init(|| instant);
        Timestamp(instant.saturating_duration_since(origin))
    }
}

#[cfg(feature = "std")]
impl From<Timestamp> for std::time::Instant {
    /// The `Instant` a timestamp made from `Instant`s stands for.
    fn from(t: Timestamp) -> Self {
        // Whatever instant comes first is the origin; from then on conversions agree.
        let origin = *ORIGIN.get_or_init(std::time::Instant::now);
        origin + t.0
    }
}
