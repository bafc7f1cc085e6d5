//! Types shared by the dieuhanh server and the video wall.
//!
//! - [`period`]: reporting periods (tháng, quý, 6 tháng, năm, lũy kế) and civil dates, their ids,
//!   Vietnamese labels and the many ways reports write them.
//! - [`number`]: the vi-VN number format (1.234.567,8): formatting for the wall and strict parsing
//!   of uploaded figures, with errors that say how to write the number instead.
//! - [`compare`]: comparing a total still missing some units with last year, like for like.
//! - [`live`]: the WebSocket messages between the server and walls (views, snapshots, deltas,
//!   room control).
//! - [`paths`]: where the checkout's folders (assets) are.

pub mod compare;
pub mod live;
pub mod number;
pub mod paths;
pub mod period;
